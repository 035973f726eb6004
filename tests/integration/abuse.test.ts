import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, bearer, tokenFor } from '../helpers/auth.js';
import { startApp, type RunningApp } from '../helpers/app.js';
import { bodyOf, expectResponse, type ApiResponse } from '../helpers/contract.js';
import { apiFrom } from '../helpers/from-address.js';
import { describeEachStore } from '../helpers/stores.js';

const NS = 'xmlns="http://www.w3.org/2000/svg"';
const TEMPLATE = `<svg ${NS}><text>{{ v }}</text></svg>`;
let unique = 0;
const newId = (prefix: string) => `${prefix}-${process.pid}-${++unique}`;

describeEachStore('anonymous write limits', (variant) => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ config: { ...variant.config(), RATE_LIMIT_ANON_WRITES_PER_MINUTE: 5 } });
  });
  afterAll(async () => running?.close());

  it('When one client address sends more anonymous writes than the limit, then it gets 429 with Retry-After and other addresses are untouched', async () => {
    const flooder = apiFrom(running.baseUrl, '127.0.0.2');
    const id = newId('flood');
    const statuses: number[] = [];
    statuses.push((await flooder('POST', '/api/session', { json: { session_id: id, template: TEMPLATE } })).status);
    for (let i = 0; i < 4; i++) statuses.push((await flooder('PUT', `/api/session/${id}`, { json: { args: { v: i } } })).status);
    expect(statuses).toEqual([201, 200, 200, 200, 200]);

    const refused = await flooder('PUT', `/api/session/${id}`, { json: { args: { v: 'one too many' } } });
    expectResponse(refused, 'updatePublicSession', 429);
    expect(refused.body.code).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Creating counts against the same budget as updating.
    expect((await flooder('POST', '/api/session', { json: { session_id: newId('more'), template: TEMPLATE } })).status).toBe(429);
    // Nothing was written by the refused request.
    expect(bodyOf(await flooder('GET', `/api/session/${id}`), 'getPublicSession', 200).args).toEqual({ v: 3 });

    const neighbour = apiFrom(running.baseUrl, '127.0.0.3');
    expect((await neighbour('PUT', `/api/session/${id}`, { json: { args: { v: 'neighbour' } } })).status).toBe(200);
  });

  it('When a client is over the limit, then reads stay open to it', async () => {
    const reader = apiFrom(running.baseUrl, '127.0.0.4');
    const id = newId('read');
    await reader('POST', '/api/session', { json: { session_id: id, template: TEMPLATE } });
    for (let i = 0; i < 6; i++) await reader('PUT', `/api/session/${id}`, { json: { args: { v: i } } });
    expect((await reader('GET', `/api/session/${id}`)).status).toBe(200);
    expect((await reader('GET', `/frame/${id}`)).status).toBe(200);
  });
});

describe('anonymous write limits across instances', () => {
  it('When two instances share a store, then one client address has one budget across both', async () => {
    const { EmbeddedStore } = await import('../../src/store/embedded-store.js');
    // The embedded store is per process; two apps sharing one instance stand in for two instances on one store.
    const store = new EmbeddedStore();
    const a = await startApp({ store, config: { RATE_LIMIT_ANON_WRITES_PER_MINUTE: 4 } });
    const b = await startApp({ store, config: { RATE_LIMIT_ANON_WRITES_PER_MINUTE: 4 } });
    try {
      const id = newId('shared');
      const viaA = apiFrom(a.baseUrl, '127.0.0.5');
      const viaB = apiFrom(b.baseUrl, '127.0.0.5');
      expect((await viaA('POST', '/api/session', { json: { session_id: id, template: TEMPLATE } })).status).toBe(201);
      expect((await viaB('PUT', `/api/session/${id}`, { json: { args: { v: 1 } } })).status).toBe(200);
      expect((await viaA('PUT', `/api/session/${id}`, { json: { args: { v: 2 } } })).status).toBe(200);
      expect((await viaB('PUT', `/api/session/${id}`, { json: { args: { v: 3 } } })).status).toBe(200);
      expect((await viaA('PUT', `/api/session/${id}`, { json: { args: { v: 4 } } })).status).toBe(429);
      expect((await viaB('PUT', `/api/session/${id}`, { json: { args: { v: 5 } } })).status).toBe(429);
    } finally {
      await a.close();
      await b.close();
      await store.close();
    }
  });
});

describeEachStore('authenticated write limits', (variant) => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ config: { ...variant.config(), RATE_LIMIT_USER_WRITES_PER_MINUTE: 3 } });
  });
  afterAll(async () => running?.close());

  it('When a user writes more than the limit, then the user gets 429; another user and requests without a token do not spend it', async () => {
    const alice = newId('alice');
    const bob = newId('bob');
    const aliceToken = await tokenFor(running.api, alice);
    const bobToken = await tokenFor(running.api, bob);
    // Strangers hammering alice's paths without a valid token are turned away before they count.
    for (let i = 0; i < 5; i++) {
      const stranger = await running.api('POST', `/api/user/${alice}/session`, { json: { session_id: 's', template: TEMPLATE } });
      expect(stranger.status).toBe(401);
      expect((await running.api('PUT', `/api/user/${alice}/session/s`, { json: { args: {} }, headers: bearer(bobToken) })).status).toBe(
        403,
      );
    }
    const writes = [
      await running.api('POST', `/api/user/${alice}/session`, {
        json: { session_id: 's', template: TEMPLATE },
        headers: bearer(aliceToken),
      }),
      await running.api('PUT', `/api/user/${alice}/session/s`, { json: { args: { v: 1 } }, headers: bearer(aliceToken) }),
      await running.api('PUT', `/api/user/${alice}/session/s`, { json: { args: { v: 2 } }, headers: bearer(aliceToken) }),
    ];
    expect(writes.map((w) => w.status)).toEqual([201, 204, 204]);
    const refused = await running.api('DELETE', `/api/user/${alice}/session/s`, { headers: bearer(aliceToken) });
    expectResponse(refused, 'deleteUserSession', 429);
    expect(refused.body.code).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(
      (await running.api('POST', `/api/user/${bob}/session`, { json: { session_id: 's', template: TEMPLATE }, headers: bearer(bobToken) }))
        .status,
    ).toBe(201);
    // Reads and the owner's listing are not writes.
    expect((await running.api('GET', `/api/user/${alice}/session/s`)).status).toBe(200);
    expect((await running.api('GET', `/api/user/${alice}/sessions`, { headers: bearer(aliceToken) })).status).toBe(200);
  });
});

describeEachStore('token before body', (variant) => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ config: variant.config() });
  });
  afterAll(async () => running?.close());

  it('When a write has no token, then it is 401 whatever its body: invalid, malformed JSON, wrong media type or too large', async () => {
    const user = newId('nobody');
    const bodies: Array<{ body: string; type: string }> = [
      { body: '{}', type: 'application/json' },
      { body: '{"session_id": 5}', type: 'application/json' },
      { body: '{not json', type: 'application/json' },
      { body: 'plain', type: 'text/plain' },
      { body: JSON.stringify({ session_id: 's', template: 'x'.repeat(400_000) }), type: 'application/json' },
    ];
    for (const { body, type } of bodies) {
      for (const [method, path] of [
        ['POST', `/api/user/${user}/session`],
        ['PUT', `/api/user/${user}/session/s`],
      ] as const) {
        const res = await running.api(method, path, { body, headers: { 'content-type': type } });
        expectResponse(res, method === 'POST' ? 'createUserSession' : 'updateUserSession', 401, `${method} ${type} ${body.slice(0, 20)}`);
        expect(res.body.code).toBe('token_missing');
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      }
    }
  });
});

describeEachStore('render storms', (variant) => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ config: { ...variant.config(), RENDER_QUEUE_MAX: 64 } });
  });
  afterAll(async () => running?.close());

  it("When 16 clients from distinct addresses send costly templates, then a victim's valid renders all succeed or get 503, never template_invalid", async () => {
    const bombs = [
      '{% for i in (1..1000000000) %}{{ i }}{% endfor %}',
      '{% assign s = "x" %}{% for i in (1..21) %}{% assign s = s | append: s %}{% endfor %}{% assign a = s | split: "" %}{% assign b = a | sort_natural: "x" %}{{ b | size }}',
    ];
    let storming = true;
    const bombers = Array.from({ length: 16 }, async (_, i) => {
      const client = apiFrom(running.baseUrl, `127.0.1.${i + 1}`);
      const seen: number[] = [];
      while (storming) {
        const res = await client('POST', '/api/session', { json: { session_id: newId('bomb'), template: bombs[i % bombs.length] } });
        seen.push(res.status);
      }
      return seen;
    });
    const victim = apiFrom(running.baseUrl, '127.0.2.1');
    const id = newId('victim');
    // Created before the storm so the session exists; its updates then race the bombs.
    const create = await victim('POST', '/api/session', { json: { session_id: id, template: TEMPLATE } });
    expect(create.status).toBe(201);
    const victimStatuses = await Promise.all(
      Array.from({ length: 12 }, async (_, n) => {
        const res = await victim('PUT', `/api/session/${id}`, { json: { args: { v: n } } });
        if (res.status !== 200) {
          expectResponse(res, 'updatePublicSession', 503, JSON.stringify(res.body));
          expect(res.body.code, JSON.stringify(res.body)).toBe('unavailable');
        }
        return res.status;
      }),
    );
    storming = false;
    const bomberStatuses = (await Promise.all(bombers)).flat();
    expect(victimStatuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(victimStatuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    // The bombs themselves cost their senders a 400 (or a 503 when the queue is full), never a 5xx of another kind.
    expect(bomberStatuses.every((s) => s === 400 || s === 503)).toBe(true);
    expect((await running.api('GET', '/healthz')).status).toBe(200);
  }, 180_000);
});

// The renderer does not depend on the store: one run covers both.
describe('worker out of memory', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp();
  });
  afterAll(async () => running?.close());

  it('When templates run the worker out of heap 20 times, then the process keeps serving', async () => {
    const bomb =
      '{% assign s = "x" %}{% for i in (1..21) %}{% assign s = s | append: s %}{% endfor %}{% assign a = s | split: "" %}{% assign b = a | sort_natural: "x" %}{{ b | size }}';
    for (let attempt = 0; attempt < 20; attempt++) {
      const res = await running.api('POST', '/api/session', {
        json: { session_id: newId('oom'), template: bomb.repeat(2 + (attempt % 6)) },
      });
      expect([400, 503]).toContain(res.status);
    }
    expect((await running.api('GET', '/healthz')).status).toBe(200);
    expect((await running.api('POST', '/api/session', { json: { session_id: newId('after'), template: TEMPLATE } })).status).toBe(201);
  }, 180_000);
});

describeEachStore('storage amplification', (variant) => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ config: variant.config() });
  });
  afterAll(async () => running?.close());

  it('When a tiny request would render a megabyte of characters XML forbids, then it is 400 and nothing is stored', async () => {
    const id = newId('amp');
    const template = `<svg ${NS}>{% for i in (1..1000) %}{{ c }}{% endfor %}</svg>`;
    const res = await running.api('POST', '/api/session', {
      json: { session_id: id, template, args: { c: '\u0001'.repeat(1000) } },
    });
    expectResponse(res, 'createPublicSession', 400);
    // The message names the bad character's position (tests/domain/renderer.test.ts checks it);
    // on a loaded machine the render may hit its time limit first, which is still the template's 400.
    expect(res.body.code).toBe('template_invalid');
    expect((await running.api('GET', `/api/session/${id}`)).status).toBe(404);
  });

  it('When output is not an SVG document, then it is refused as template_invalid naming the cause', async () => {
    const res = await running.api('POST', '/api/session', {
      json: { session_id: newId('text'), template: 'hello {{ n }}', args: { n: 1 } },
    });
    expectResponse(res, 'createPublicSession', 400);
    expect(res.body.code).toBe('template_invalid');
    expect(res.body.error).toMatch(/not a valid SVG document/);
  });
});

describe('embedded store memory budget', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ config: { EMBEDDED_STORE_MAX_MB: 1 } });
  });
  afterAll(async () => running?.close());

  it('When writes would take the embedded store past its budget, then they get 507 quota_exceeded and the service keeps answering', async () => {
    const big = 'y'.repeat(60_000);
    const statuses: number[] = [];
    let refusal: ApiResponse | undefined;
    for (let i = 0; i < 40 && !refusal; i++) {
      const res = await running.api('POST', '/api/session', {
        json: { session_id: newId('fill'), template: `<svg ${NS}><text>{{ b }}</text></svg>`, args: { b: big } },
      });
      statuses.push(res.status);
      if (res.status !== 201) refusal = res;
    }
    expect(refusal?.status).toBe(507);
    if (!refusal) throw new Error(`no write was refused: ${statuses.join(' ')}`);
    expectResponse(refusal, 'createPublicSession', 507);
    expect(refusal.body.code).toBe('quota_exceeded');
    // Budget reached after a handful of sessions, not after growing without bound.
    expect(statuses.filter((s) => s === 201).length).toBeLessThan(20);
    expect((await running.api('GET', '/healthz')).status).toBe(200);
    // Logging in still works: counters and keys are never refused.
    expect((await running.api('POST', '/api/auth/token', { json: { user_id: newId('late'), password: PASSWORD } })).status).toBeOneOf([
      200, 507,
    ]);
  });
});

describeEachStore('forged stream parts', (variant) => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ config: variant.config() });
  });
  afterAll(async () => running?.close());

  it('When templates or arguments try to forge a part (after CRLF, after a bare LF, inline), then they are refused and a stream split on --frame anywhere holds only SVG parts', async () => {
    const { StreamReader } = await import('../helpers/multipart.js');
    const { checkSvgOutput } = await import('../../src/domain/render/svg-output.js');
    const id = newId('forge');
    expect((await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { v: 'start' } } })).status).toBe(
      201,
    );
    const reader = new StreamReader(`${running.baseUrl}/stream/${id}`);
    await reader.opened;
    const fake = `Content-Type: text/html\r\n\r\n<script>alert(1)</script>`;
    const forgeries = [`x\r\n--frame\r\n${fake}`, `x\n--frame\n${fake.replaceAll('\r\n', '\n')}`, `inline--frame${fake}`];
    for (const v of forgeries) {
      const res = await running.api('PUT', `/api/session/${id}`, { json: { args: { v } } });
      expectResponse(res, 'updatePublicSession', 400);
      expect(res.body.code).toBe('template_invalid');
      expect(res.body.error).toContain('--frame');
    }
    for (const template of forgeries.map((f) => `<svg ${NS}><text>${f.replaceAll('<', '&lt;')}</text></svg>`)) {
      const res = await running.api('POST', '/api/session', { json: { session_id: newId('forge-t'), template } });
      expectResponse(res, 'createPublicSession', 400);
      expect(res.body.code).toBe('template_invalid');
    }
    expect((await running.api('PUT', `/api/session/${id}`, { json: { args: { v: 'after' } } })).status).toBe(200);
    await reader.until((r) => r.raw.toString().includes('after'));
    reader.close();

    // Split the way Chromium does: a new part starts at "--frame" wherever it appears.
    const pieces = reader.raw.toString('utf8').split('--frame').slice(1);
    const parts = pieces.filter((piece) => piece.trim() !== '' && piece !== '--\r\n');
    expect(parts.length).toBeGreaterThanOrEqual(2);
    for (const piece of parts) {
      const headerEnd = piece.indexOf('\r\n\r\n');
      expect(headerEnd, JSON.stringify(piece.slice(0, 80))).toBeGreaterThan(0);
      expect(piece.slice(0, headerEnd)).toMatch(/^\r\nContent-Type: image\/svg\+xml\r\nContent-Length: \d+$/);
      const body = piece.slice(headerEnd + 4).replace(/\r\n$/, '');
      expect(checkSvgOutput(body)).toEqual({ ok: true });
    }
  });
});

describeEachStore('live-session quota', (variant) => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ config: { ...variant.config(), MAX_SESSIONS_PER_USER: 3 } });
  });
  afterAll(async () => running?.close());

  it('When a user holds the maximum of live sessions, then one more is 403 quota_exceeded and nothing of it is stored; deleting one makes room', async () => {
    const user = newId('quota');
    const token = await tokenFor(running.api, user);
    const create = (sessionId: string) =>
      running.api('POST', `/api/user/${user}/session`, {
        json: { session_id: sessionId, template: TEMPLATE },
        headers: bearer(token),
      });
    expect([(await create('a')).status, (await create('b')).status, (await create('c')).status]).toEqual([201, 201, 201]);
    const refused = await create('d');
    expectResponse(refused, 'createUserSession', 403);
    expect(refused.body.code).toBe('quota_exceeded');
    expect((await running.api('GET', `/api/user/${user}/session/d`)).status).toBe(404);
    const listed = await running.api('GET', `/api/user/${user}/sessions`, {
      headers: bearer(token),
    });
    expectResponse(listed, 'listUserSessions', 200);
    expect(listed.body.sessions.map((s) => s.session_id).sort()).toEqual(['a', 'b', 'c']);
    expect((await running.api('DELETE', `/api/user/${user}/session/a`, { headers: bearer(token) })).status).toBe(204);
    expect((await create('d')).status).toBe(201);
  });

  it('When the quota is reached only by expired sessions, then they are pruned and the create succeeds', async () => {
    const user = newId('expiring');
    const token = await tokenFor(running.api, user);
    for (const id of ['x', 'y', 'z']) {
      expect(
        (
          await running.api('POST', `/api/user/${user}/session`, {
            json: { session_id: id, template: TEMPLATE, expire_seconds: 1 },
            headers: bearer(token),
          })
        ).status,
      ).toBe(201);
    }
    // Wait for the store to report them gone (their TTL is one second), not for a fixed time.
    await expect
      .poll(async () => (await running.api('GET', `/api/user/${user}/session/z`)).status, { timeout: 10_000, interval: 200 })
      .toBe(404);
    await expect
      .poll(async () => (await running.api('GET', `/api/user/${user}/session/x`)).status, { timeout: 10_000, interval: 200 })
      .toBe(404);
    expect(
      (
        await running.api('POST', `/api/user/${user}/session`, {
          json: { session_id: 'fresh', template: TEMPLATE },
          headers: bearer(token),
        })
      ).status,
    ).toBe(201);
  });

  it('When many creates race at the quota, then the user never ends up holding more than the quota', async () => {
    const user = newId('race');
    const token = await tokenFor(running.api, user);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        running.api('POST', `/api/user/${user}/session`, { json: { session_id: `r${i}`, template: TEMPLATE }, headers: bearer(token) }),
      ),
    );
    expect(results.every((r) => r.status === 201 || r.status === 403)).toBe(true);
    const listed = await running.api('GET', `/api/user/${user}/sessions`, { headers: bearer(token) });
    expectResponse(listed, 'listUserSessions', 200);
    expect(listed.body.sessions.length).toBeLessThanOrEqual(3);
    expect(listed.body.sessions.length).toBe(results.filter((r) => r.status === 201).length);
  });
});
