/**
 * Every status an operation can produce, returned or thrown, is one its
 * contract declares, with the headers that status declares. Each operation is
 * driven into each of its failure modes through app.inject (bad input, no or
 * someone else's token, missing and existing sessions, a stale If-Match, rate
 * limits, a busy renderer, and a store that is unreachable, full or broken),
 * and every answer is checked against the contract.
 *
 * src/http/errors.ts answers 500 instead of a status the operation does not
 * declare, so a new throw of an undeclared status fails here as a 500 where
 * the test expects its own status. At the end every declared status must have
 * been seen, or be listed in NOT_DRIVEN with the reason it cannot be: a
 * declaration the service can never produce is noticed too.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredStatuses, operationIds, operationOfRoute, type OperationId } from '../../generated/handlers.js';
import { buildApp, type App } from '../../src/app.js';
import { testConfig, type Config } from '../../src/config.js';
import { declaredAnswer } from '../../src/http/errors.js';
import { resolvedContractPath } from '../../src/paths.js';
import { EmbeddedStore } from '../../src/store/embedded-store.js';
import { StoreFullError, StoreUnavailableError } from '../../src/store/errors.js';
import type { Store } from '../../src/store/store.js';
import { expectComponentSchema } from '../helpers/contract.js';
import { parseJson } from '../helpers/json.js';

const NS = 'xmlns="http://www.w3.org/2000/svg"';
const TEMPLATE = `<svg ${NS}><text>{{ v }}</text></svg>`;
const PASSWORD = 'declared-statuses-password';

/** Declared statuses no request can produce, and why each is declared anyway. */
const NOT_DRIVEN: Partial<Record<OperationId, Partial<Record<number, string>>>> = {};
const UNFORESEEN = 'the 500 every operation declares for an unforeseen failure; this operation has no dependency a test can fail';
for (const op of [
  'getHealth',
  'getMetrics',
  'getOpenApiDocument',
  'getApiReference',
  'getJwks',
  'getJwksAlias',
  'renderPreview',
] as const) {
  NOT_DRIVEN[op] = { 500: UNFORESEEN };
}

/** Headers of the transport, not of an operation: never declared in OpenAPI. */
const TRANSPORT_HEADERS = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive', 'transfer-encoding']);

type HeaderSpec = { required?: boolean };
type Resolved = {
  paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, { headers?: Record<string, HeaderSpec> }> }>>;
};
const resolved = JSON.parse(readFileSync(resolvedContractPath, 'utf8')) as Resolved;
const declaredHeaders = new Map<string, Map<string, HeaderSpec>>();
for (const item of Object.values(resolved.paths)) {
  for (const op of Object.values(item)) {
    if (typeof op.operationId !== 'string') continue;
    for (const [status, response] of Object.entries(op.responses ?? {})) {
      const headers = new Map(Object.entries(response.headers ?? {}).map(([name, spec]) => [name.toLowerCase(), spec]));
      declaredHeaders.set(`${op.operationId} ${status}`, headers);
    }
  }
}

/** `full-everywhere` is no real store's failure: it makes a read fail with a status reads do not declare. */
type Fault = 'unavailable' | 'full' | 'full-everywhere' | 'broken' | undefined;
/** Writes that can meet a full memory budget (the embedded store's StoreFullError). */
const WRITES = new Set(['create', 'replace', 'replaceIfUnchanged', 'put']);
/** Wiring, not commands: they never fail. */
const WIRING = new Set(['kind', 'close', 'onReconnect', 'onMessage']);

/** An embedded store that fails on demand the way a real one fails. */
function faultyStore(): { store: Store; fail(fault: Fault): void } {
  const inner = new EmbeddedStore();
  let fault: Fault;
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof name !== 'string' || WIRING.has(name) || typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        if (fault === 'unavailable') return Promise.reject(new StoreUnavailableError('test fault'));
        if (fault === 'broken') return Promise.reject(new Error('test fault: the store broke'));
        if (fault === 'full-everywhere' || (fault === 'full' && WRITES.has(name))) return Promise.reject(new StoreFullError(1_048_576));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, fail: (next) => void (fault = next) };
}

const seen = new Map<OperationId, Set<number>>();

/** The operation Fastify routed an injected request to. */
const urlOf = (request: InjectOptions): string => (typeof request.url === 'string' ? request.url : '');

function operationOfRequest(request: InjectOptions): OperationId {
  const method = String(request.method ?? 'GET');
  const path = urlOf(request).split('?', 1)[0] ?? '';
  for (const [route, op] of Object.entries(operationOfRoute)) {
    const [routeMethod = '', url = ''] = route.split(' ');
    const pattern = new RegExp('^' + url.replace(/:[^/]+/g, '[^/]+') + '$');
    if ((routeMethod === method || (method === 'HEAD' && routeMethod === 'GET')) && pattern.test(path)) return op;
  }
  throw new Error(`no operation for ${method} ${path}`);
}

/** Sends the request and fails unless it answers `status`, a status its operation declares, with the headers that status declares. */
async function expectAnswer(app: App, status: number, request: InjectOptions): Promise<LightMyRequestResponse> {
  return checkAnswer(request, await app.inject(request), status);
}

type Answer = Pick<LightMyRequestResponse, 'statusCode' | 'headers' | 'body'>;

function checkAnswer<R extends Answer>(request: InjectOptions, res: R, status: number): R {
  const op = operationOfRequest(request);
  const what = `${String(request.method ?? 'GET')} ${urlOf(request)} (${op})`;
  expect(res.statusCode, `${what}: ${res.body.slice(0, 300)}`).toBe(status);
  expect(declaredStatuses[op] as readonly number[], `${what} answered ${status}, which ${op} does not declare`).toContain(status);
  const declared = declaredHeaders.get(`${op} ${status}`) ?? new Map<string, HeaderSpec>();
  for (const name of Object.keys(res.headers)) {
    if (!TRANSPORT_HEADERS.has(name))
      expect(declared.has(name), `${what} ${status} sends ${name}, which the contract does not declare`).toBe(true);
  }
  for (const [name, spec] of declared) {
    if (spec.required) expect(res.headers[name], `${what} ${status} lacks the required header ${name}`).toBeDefined();
  }
  if (status >= 400) expectComponentSchema('Error', parseJson(res.body), `${what}: Error shape`);
  let statuses = seen.get(op);
  if (!statuses) seen.set(op, (statuses = new Set()));
  statuses.add(status);
  return res;
}

const json = (method: 'POST' | 'PUT' | 'DELETE', url: string, payload: unknown, headers: Record<string, string> = {}): InjectOptions => ({
  method,
  url,
  payload: JSON.stringify(payload),
  headers: { 'content-type': 'application/json', ...headers },
});
const get = (url: string, headers: Record<string, string> = {}): InjectOptions => ({ method: 'GET', url, headers });
const huge = { session_id: 'huge', template: TEMPLATE, args: { pad: 'x'.repeat(300_000) } };
const text = (method: 'POST' | 'PUT', url: string): InjectOptions => ({
  method,
  url,
  payload: 'plain text',
  headers: { 'content-type': 'text/plain' },
});

async function tokenFor(app: App, user: string): Promise<Record<string, string>> {
  const res = await app.inject(json('POST', '/api/auth/token', { user_id: user, password: PASSWORD }));
  expect(res.statusCode, res.body).toBe(200);
  return { authorization: `Bearer ${(JSON.parse(res.body) as { token: string }).token}` };
}

async function build(config: Partial<Config>, store: Store): Promise<App> {
  return buildApp(testConfig(config), { store });
}

describe('every status an operation produces is declared, with its declared headers', () => {
  const main = faultyStore();
  let app: App;
  let alice: Record<string, string>;
  let bob: Record<string, string>;

  beforeAll(async () => {
    app = await build({ MAX_SESSIONS_PER_USER: 2 }, main.store);
    alice = await tokenFor(app, 'alice');
    bob = await tokenFor(app, 'bob');
    await expectAnswer(app, 201, json('POST', '/api/session', { session_id: 'pub', template: TEMPLATE }));
    await expectAnswer(app, 201, json('POST', '/api/user/alice/session', { session_id: 's', template: TEMPLATE }, alice));
  });
  afterAll(async () => app?.close());

  it('public sessions: success, bad input, missing, existing, stale If-Match, wrong media type, too large', async () => {
    await expectAnswer(app, 400, json('POST', '/api/session', { session_id: '-bad', template: TEMPLATE }));
    await expectAnswer(app, 400, json('POST', '/api/session', { session_id: 'bad-template', template: '{% for %}' }));
    await expectAnswer(app, 409, json('POST', '/api/session', { session_id: 'pub', template: TEMPLATE }));
    await expectAnswer(app, 413, json('POST', '/api/session', huge));
    await expectAnswer(app, 415, text('POST', '/api/session'));

    const read = await expectAnswer(app, 200, get('/api/session/pub'));
    await expectAnswer(app, 400, get('/api/session/-bad'));
    await expectAnswer(app, 404, get('/api/session/missing'));

    await expectAnswer(app, 200, json('PUT', '/api/session/pub', { args: { v: 1 } }, { 'if-match': String(read.headers.etag) }));
    await expectAnswer(app, 412, json('PUT', '/api/session/pub', { args: { v: 2 } }, { 'if-match': String(read.headers.etag) }));
    await expectAnswer(app, 400, json('PUT', '/api/session/pub', { args: 'not an object' }));
    await expectAnswer(app, 404, json('PUT', '/api/session/missing', { args: {} }));
    await expectAnswer(app, 413, json('PUT', '/api/session/pub', { args: huge.args }));
    await expectAnswer(app, 415, text('PUT', '/api/session/pub'));
  });

  it('public reads: frame, 304, stream and feed heads, redirect, bad query, missing', async () => {
    for (const prefix of ['', 'alice/'] as const) {
      const id = prefix ? `${prefix}s` : 'pub';
      const frame = await expectAnswer(app, 200, get(`/frame/${id}`));
      await expectAnswer(app, 304, get(`/frame/${id}`, { 'if-none-match': String(frame.headers.etag) }));
      await expectAnswer(app, 400, get(`/frame/${prefix}-bad`));
      await expectAnswer(app, 404, get(`/frame/${prefix}missing`));
      // HEAD answers the stream's and the feed's head and ends: the 200 of an endless response.
      await expectAnswer(app, 200, { method: 'HEAD', url: `/stream/${id}` });
      await expectAnswer(app, 307, get(`/stream/${id}`, { accept: 'text/html' }));
      await expectAnswer(app, 400, get(`/stream/${id}?keep_alive=5`));
      await expectAnswer(app, 404, get(`/stream/${prefix}missing`));
      await expectAnswer(app, 200, { method: 'HEAD', url: `/events/${id}` });
      await expectAnswer(app, 400, get(`/events/${id}?keep_alive=5`));
      await expectAnswer(app, 404, get(`/events/${prefix}missing`));
    }
  });

  it('preview: success, bad template, wrong media type, too large', async () => {
    await expectAnswer(app, 200, json('POST', '/api/render', { template: TEMPLATE, args: { v: 1 } }));
    await expectAnswer(app, 400, json('POST', '/api/render', { template: '{% if %}' }));
    await expectAnswer(app, 413, json('POST', '/api/render', huge));
    await expectAnswer(app, 415, text('POST', '/api/render'));
  });

  it('auth: token, bad input, wrong password, wrong media type, too large, keys', async () => {
    await expectAnswer(app, 200, json('POST', '/api/auth/token', { user_id: 'alice', password: PASSWORD }));
    await expectAnswer(app, 400, json('POST', '/api/auth/token', { user_id: 'alice', password: 'short' }));
    await expectAnswer(app, 401, json('POST', '/api/auth/token', { user_id: 'alice', password: 'not the password' }));
    await expectAnswer(app, 413, json('POST', '/api/auth/token', { user_id: 'alice', password: PASSWORD, pad: 'x'.repeat(300_000) }));
    await expectAnswer(app, 415, text('POST', '/api/auth/token'));
    await expectAnswer(app, 200, get('/.well-known/jwks.json'));
    await expectAnswer(app, 200, get('/api/auth/jwks'));
  });

  it('user sessions: owner, no token, another user, quota, missing, existing, stale If-Match', async () => {
    const base = '/api/user/alice/session';
    await expectAnswer(app, 400, json('POST', base, { session_id: '-bad', template: TEMPLATE }, alice));
    await expectAnswer(app, 401, json('POST', base, { session_id: 'x', template: TEMPLATE }));
    await expectAnswer(app, 403, json('POST', base, { session_id: 'x', template: TEMPLATE }, bob));
    await expectAnswer(app, 409, json('POST', base, { session_id: 's', template: TEMPLATE }, alice));
    await expectAnswer(app, 413, json('POST', base, huge, alice));
    await expectAnswer(app, 415, { ...text('POST', base), headers: { 'content-type': 'text/plain', ...alice } });

    const read = await expectAnswer(app, 200, get(`${base}/s`));
    await expectAnswer(app, 400, get(`${base}/-bad`));
    await expectAnswer(app, 404, get(`${base}/missing`));

    const etag = String(read.headers.etag);
    await expectAnswer(app, 204, json('PUT', `${base}/s`, { args: { v: 1 } }, { ...alice, 'if-match': etag }));
    await expectAnswer(app, 412, json('PUT', `${base}/s`, { args: { v: 2 } }, { ...alice, 'if-match': etag }));
    await expectAnswer(app, 400, json('PUT', `${base}/s`, { args: [] }, alice));
    await expectAnswer(app, 401, json('PUT', `${base}/s`, { args: {} }));
    await expectAnswer(app, 403, json('PUT', `${base}/s`, { args: {} }, bob));
    await expectAnswer(app, 404, json('PUT', `${base}/missing`, { args: {} }, alice));
    await expectAnswer(app, 413, json('PUT', `${base}/s`, { args: huge.args }, alice));
    await expectAnswer(app, 415, { ...text('PUT', `${base}/s`), headers: { 'content-type': 'text/plain', ...alice } });

    await expectAnswer(app, 200, get('/api/user/alice/sessions?limit=1', alice));
    await expectAnswer(app, 400, get('/api/user/alice/sessions?limit=0', alice));
    await expectAnswer(app, 401, get('/api/user/alice/sessions'));
    await expectAnswer(app, 403, get('/api/user/alice/sessions', bob));

    // The quota (2 here): one more session than alice's second is refused.
    await expectAnswer(app, 201, json('POST', base, { session_id: 'second', template: TEMPLATE }, alice));
    await expectAnswer(app, 403, json('POST', base, { session_id: 'third', template: TEMPLATE }, alice));

    await expectAnswer(app, 412, { method: 'DELETE', url: `${base}/second`, headers: { ...alice, 'if-match': '"stale"' } });
    await expectAnswer(app, 400, { method: 'DELETE', url: `${base}/-bad`, headers: alice });
    await expectAnswer(app, 401, { method: 'DELETE', url: `${base}/second` });
    await expectAnswer(app, 403, { method: 'DELETE', url: `${base}/second`, headers: bob });
    await expectAnswer(app, 204, { method: 'DELETE', url: `${base}/second`, headers: alice });
    await expectAnswer(app, 404, { method: 'DELETE', url: `${base}/second`, headers: alice });
  });

  it('ops: health, readiness, metrics, the contract, the docs page', async () => {
    await expectAnswer(app, 200, get('/healthz'));
    await expectAnswer(app, 200, get('/readyz'));
    await expectAnswer(app, 200, get('/metrics'));
    await expectAnswer(app, 200, get('/openapi.json'));
    await expectAnswer(app, 200, get('/docs'));
  });

  /** Every request that reaches the store, for the fault cases. */
  const storeRequests = (): Array<[number[], InjectOptions]> => {
    const any = [503, 500];
    const writes = [503, 507, 500];
    return [
      [writes, json('POST', '/api/session', { session_id: 'during-fault', template: TEMPLATE })],
      [any, get('/api/session/pub')],
      [writes, json('PUT', '/api/session/pub', { args: { v: 'fault' } })],
      [any, get('/frame/pub')],
      [any, get('/stream/pub')],
      [any, get('/events/pub')],
      [writes, json('POST', '/api/auth/token', { user_id: 'carol', password: PASSWORD })],
      [writes, json('POST', '/api/user/alice/session', { session_id: 'during-fault', template: TEMPLATE }, alice)],
      [any, get('/api/user/alice/session/s')],
      [writes, json('PUT', '/api/user/alice/session/s', { args: { v: 'fault' } }, alice)],
      [any, { method: 'DELETE', url: '/api/user/alice/session/s', headers: alice }],
      [any, get('/api/user/alice/sessions', alice)],
      [any, get('/frame/alice/s')],
      [any, get('/stream/alice/s')],
      [any, get('/events/alice/s')],
      [any, get('/readyz')],
    ];
  };

  it('a store that cannot be reached: 503 with Retry-After; a full one: 507 on writes; a broken one: 500', async () => {
    try {
      for (const [fault, status] of [
        ['unavailable', 503],
        ['full', 507],
        ['broken', 500],
      ] as const) {
        main.fail(fault);
        for (const [statuses, request] of storeRequests()) {
          if (statuses.includes(status)) await expectAnswer(app, status, request);
        }
      }
    } finally {
      main.fail(undefined);
    }
  });

  it('a failure whose status the operation does not declare is answered 500, not that status', async () => {
    // getPublicSession reads and never writes, so it declares no 507: a store that says "full" on a read is a bug.
    const onRead = faultyStore();
    const strict = await build({}, onRead.store);
    try {
      expect((await strict.inject(json('POST', '/api/session', { session_id: 'p', template: TEMPLATE }))).statusCode).toBe(201);
      expect(declaredStatuses.getPublicSession as readonly number[]).not.toContain(507);
      onRead.fail('full-everywhere');
      const res = await strict.inject(get('/api/session/p'));
      expect(res.statusCode, res.body).toBe(500);
      expect(JSON.parse(res.body)).toEqual({ error: 'internal error', code: 'internal_error' });
      // The same decision, as a unit: a declared status passes, an undeclared one becomes 500.
      expect(declaredAnswer('getPublicSession', { status: 507, body: { error: 'full', code: 'quota_exceeded' } })).toEqual({
        status: 500,
        body: { error: 'internal error', code: 'internal_error' },
        undeclared: 507,
      });
      expect(declaredAnswer('getPublicSession', { status: 404, body: { error: 'gone', code: 'not_found' } }).status).toBe(404);
    } finally {
      onRead.fail(undefined);
      await strict.close();
    }
  });
});

describe('limits: rate limits and a busy renderer', () => {
  let app: App;
  beforeAll(async () => {
    app = await build(
      {
        RATE_LIMIT_ANON_WRITES_PER_MINUTE: 1,
        RATE_LIMIT_USER_WRITES_PER_MINUTE: 1,
        AUTH_MAX_FAILURES_PER_USER: 1,
        RENDER_THREADS: 1,
        RENDER_QUEUE_MAX: 1,
      },
      faultyStore().store,
    );
  });
  afterAll(async () => app?.close());

  it('429 with Retry-After on each rate-limited operation', async () => {
    const from = (address: string, request: InjectOptions): InjectOptions => ({ ...request, remoteAddress: address });
    await expectAnswer(app, 201, from('10.0.0.1', json('POST', '/api/session', { session_id: 'limited', template: TEMPLATE })));
    await expectAnswer(app, 429, from('10.0.0.1', json('POST', '/api/session', { session_id: 'limited-2', template: TEMPLATE })));
    await expectAnswer(app, 200, from('10.0.0.2', json('PUT', '/api/session/limited', { args: { v: 1 } })));
    await expectAnswer(app, 429, from('10.0.0.2', json('PUT', '/api/session/limited', { args: { v: 2 } })));
    await expectAnswer(app, 200, from('10.0.0.3', json('POST', '/api/render', { template: TEMPLATE })));
    await expectAnswer(app, 429, from('10.0.0.3', json('POST', '/api/render', { template: TEMPLATE })));

    const dave = await tokenFor(app, 'dave');
    await expectAnswer(app, 401, json('POST', '/api/auth/token', { user_id: 'dave', password: 'not the password' }));
    await expectAnswer(app, 429, json('POST', '/api/auth/token', { user_id: 'dave', password: 'not the password' }));

    const base = '/api/user/dave/session';
    await expectAnswer(app, 201, json('POST', base, { session_id: 'one', template: TEMPLATE }, dave));
    await expectAnswer(app, 429, json('POST', base, { session_id: 'two', template: TEMPLATE }, dave));
    await expectAnswer(app, 429, json('PUT', `${base}/one`, { args: {} }, dave));
    await expectAnswer(app, 429, { method: 'DELETE', url: `${base}/one`, headers: dave });
  });

  it('503 with Retry-After from a preview when every renderer is busy', async () => {
    // One thread and a queue of one: of several costly renders at once, some are refused.
    const slow = '{% for i in (1..200000) %}{{ i }}{% endfor %}';
    const requests = Array.from({ length: 6 }, (_, i) => ({
      ...json('POST', '/api/render', { template: `<svg ${NS}><text>${slow}</text></svg>` }),
      remoteAddress: `10.0.1.${i + 1}`,
    }));
    const answers = await Promise.all(requests.map((request) => app.inject(request)));
    const statuses = answers.map((res) => res.statusCode);
    expect(statuses).toContain(503);
    // Each answer, refused or not, is checked like every other: declared, with its declared headers.
    answers.forEach((res, i) => checkAnswer(requests[i] ?? requests[0]!, res, res.statusCode));
  });
});

describe('while the instance shuts down', () => {
  it("every request gets the contract's 503 with Retry-After (and a public read its CORS header), not Fastify's own answer", async () => {
    const app = await build({}, faultyStore().store);
    const requests: InjectOptions[] = [
      get('/healthz'),
      get('/metrics'),
      get('/openapi.json'),
      get('/docs'),
      get('/.well-known/jwks.json'),
      get('/api/auth/jwks'),
      get('/frame/pub'),
      json('POST', '/api/session', { session_id: 'late', template: TEMPLATE }),
      json('POST', '/api/user/alice/session', { session_id: 'late', template: TEMPLATE }),
    ];
    const answers: Answer[] = [];
    // Runs after the service's own preClose hooks: the instance is closing but still listening.
    // Without TLS the app is the plain HTTP/1.1 instance; the App union's overloads hide addHook's preClose.
    (app as FastifyInstance).addHook('preClose', async () => {
      const { port } = app.server.address() as AddressInfo;
      for (const request of requests) {
        const res = await fetch(`http://127.0.0.1:${port}${urlOf(request)}`, {
          method: String(request.method ?? 'GET'),
          headers: request.headers as Record<string, string> | undefined,
          body: typeof request.payload === 'string' ? request.payload : undefined,
        });
        answers.push({ statusCode: res.status, headers: Object.fromEntries(res.headers), body: await res.text() });
      }
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    await app.close();
    expect(answers).toHaveLength(requests.length);
    answers.forEach((res, i) => {
      checkAnswer(requests[i] ?? get('/'), res, 503);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'unavailable' });
    });
  });
});

describe('coverage of the declarations', () => {
  it('every declared status of every operation was produced above, or is listed with the reason it cannot be', () => {
    const missing: string[] = [];
    for (const op of operationIds) {
      for (const status of declaredStatuses[op]) {
        if (seen.get(op)?.has(status)) continue;
        if (NOT_DRIVEN[op]?.[status]) continue;
        missing.push(`${op} ${status}`);
      }
    }
    expect(missing, 'declared but never produced: drive it above, or list it in NOT_DRIVEN with why it cannot happen').toEqual([]);
  });
});
