import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { bodyOf, expectResponse, expectStatus } from '../helpers/contract.js';
import { isRecord, parseJson } from '../helpers/json.js';
import { describeEachStore } from '../helpers/stores.js';

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30"><text x="4" y="20">{{ status }}</text></svg>';
let seq = 0;
const newId = () => `pub-${Date.now().toString(36)}-${++seq}`;

describeEachStore('public session API', (variant) => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ config: variant.config() });
  });
  afterAll(async () => running?.close());

  it('When a session is created, then it reads back with its template and args', async () => {
    const id = newId();
    const created = await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { status: 'ok' } } });
    expectResponse(created, 'createPublicSession', 201);
    expect(created.body).toEqual({ session_id: id });
    const read = await running.api('GET', `/api/session/${id}`);
    expectResponse(read, 'getPublicSession', 200);
    expect(read.body).toEqual({ session_id: id, template: TEMPLATE, args: { status: 'ok' } });
  });

  it('When args are omitted, then the session has empty args', async () => {
    const id = newId();
    await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE } });
    expect(bodyOf(await running.api('GET', `/api/session/${id}`), 'getPublicSession', 200).args).toEqual({});
  });

  it('When the id is taken, then create answers 409 conflict and keeps the first session', async () => {
    const id = newId();
    await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { status: 'first' } } });
    const again = await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { status: 'second' } } });
    expectResponse(again, 'createPublicSession', 409);
    expect(again.body.code).toBe('conflict');
    expect(bodyOf(await running.api('GET', `/api/session/${id}`), 'getPublicSession', 200).args).toEqual({ status: 'first' });
  });

  it('When updated, then args are replaced, the frame re-rendered and the TTL kept', async () => {
    const id = newId();
    await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { status: 'old' }, expire: '30m' } });
    const updated = await running.api('PUT', `/api/session/${id}`, { json: { args: { status: 'new' } } });
    expectResponse(updated, 'updatePublicSession', 200);
    expect(updated.body).toEqual({ session_id: id });
    expect(bodyOf(await running.api('GET', `/api/session/${id}`), 'getPublicSession', 200).args).toEqual({ status: 'new' });
    const frame = await running.api('GET', `/frame/${id}`);
    expect(frame.text).toContain('>new</text>');
    const session = await running.app.inject({ method: 'GET', url: `/api/session/${id}` });
    expect(session.statusCode).toBe(200);
    // The TTL is still about 30 minutes, not reset to a default.
    const ttl = variant.redis() ? await variant.redis()!.client.ttl(`session:${id}`) : undefined;
    if (ttl !== undefined) expect(ttl).toBeGreaterThan(1700);
    if (ttl !== undefined) expect(ttl).toBeLessThanOrEqual(1800);
  });

  it('When the session does not exist, then GET, PUT, frame and stream answer 404 not_found', async () => {
    const id = newId();
    for (const [method, path, json] of [
      ['GET', `/api/session/${id}`, undefined],
      ['PUT', `/api/session/${id}`, { args: {} }],
      ['GET', `/frame/${id}`, undefined],
      ['GET', `/stream/${id}`, undefined],
    ] as const) {
      const res = await running.api(method, path, { json });
      expectStatus(res, 404, `${method} ${path}`);
      expect(res.body.code).toBe('not_found');
    }
  });

  it('When expire is a duration string, then it sets the TTL; a bad one is 400', async () => {
    for (const [expire, seconds] of [
      ['30s', 30],
      ['30m', 1800],
      ['1d', 86400],
      ['1h30m', 5400],
      ['90', 90],
    ] as const) {
      const id = newId();
      const res = await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, expire } });
      expect(res.status, expire).toBe(201);
      if (variant.redis()) {
        const ttl = await variant.redis()!.client.ttl(`session:${id}`);
        expect(ttl, expire).toBeGreaterThan(seconds - 3);
        expect(ttl, expire).toBeLessThanOrEqual(seconds);
      }
    }
    for (const expire of ['', '1y', '-5m', '0s', '5 m', '400d', 'soon']) {
      const res = await running.api('POST', '/api/session', { json: { session_id: newId(), template: TEMPLATE, expire } });
      expectResponse(res, 'createPublicSession', 400, JSON.stringify(expire));
      expect(res.body.code).toBe('validation_failed');
    }
  });

  it('When expire_seconds is given, then it is used; out of range is 400', async () => {
    const id = newId();
    expect((await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, expire_seconds: 120 } })).status).toBe(
      201,
    );
    if (variant.redis()) expect(await variant.redis()!.client.ttl(`session:${id}`)).toBeGreaterThan(115);
    for (const expire_seconds of [0, 31_536_001, 1.5, '60']) {
      const res = await running.api('POST', '/api/session', { json: { session_id: newId(), template: TEMPLATE, expire_seconds } });
      expect(res.status, String(expire_seconds)).toBe(400);
    }
  });

  it('When unknown fields are sent, then they are accepted and never stored', async () => {
    const id = newId();
    const res = await running.api('POST', '/api/session', {
      json: { session_id: id, template: TEMPLATE, args: { a: 1 }, owner: 'x', __proto__x: 1 },
    });
    expect(res.status).toBe(201);
    const put = await running.api('PUT', `/api/session/${id}`, {
      json: { args: { a: 2 }, template: '<svg xmlns="http://www.w3.org/2000/svg"/>', extra: true },
    });
    expect(put.status).toBe(200);
    const read = await running.api('GET', `/api/session/${id}`);
    expect(read.body).toEqual({ session_id: id, template: TEMPLATE, args: { a: 2 } });
    if (variant.redis()) {
      const stored = parseJson((await variant.redis()!.client.get(`session:${id}`))!);
      if (!isRecord(stored)) throw new Error(`session:${id} does not hold a JSON object`);
      expect(Object.keys(stored).sort()).toEqual(['args', 'createdAt', 'etag', 'revision', 'svg', 'template', 'updatedAt']);
    }
  });

  it('When ids break the identifier rule, then every endpoint answers 400 and nothing is written', async () => {
    const bad = ['a:b', 'a%2Fb', 'with%20space', 'x'.repeat(65), '.dot', '-dash', '%3A', 'a%00b'];
    for (const id of bad) {
      for (const [method, path, json] of [
        ['GET', `/api/session/${id}`, undefined],
        ['PUT', `/api/session/${id}`, { args: {} }],
        ['GET', `/frame/${id}`, undefined],
        ['GET', `/stream/${id}`, undefined],
      ] as const) {
        const res = await running.api(method, path, { json });
        expectStatus(res, 400, `${method} ${path}`);
        expect(res.body.code).toBe('validation_failed');
      }
      const decoded = decodeURIComponent(id);
      const res = await running.api('POST', '/api/session', { json: { session_id: decoded, template: TEMPLATE } });
      expect(res.status, `POST ${JSON.stringify(decoded)}`).toBe(400);
    }
    if (variant.redis()) {
      const keys = await variant.redis()!.client.keys('*');
      const wellFormed = /^(session:[A-Za-z0-9][A-Za-z0-9._-]{0,63}|jwk:(private|public))$/;
      expect(keys.filter((k) => !wellFormed.test(k))).toEqual([]);
    }
  });

  it('When the body is malformed, of the wrong type or too large, then it is a 4xx Error and nothing is written', async () => {
    const id = newId();
    const cases: Array<{ body: string; headers?: Record<string, string>; status: 400 | 413 | 415; code: string }> = [
      { body: '{"session_id":', status: 400, code: 'validation_failed' },
      { body: '', status: 400, code: 'validation_failed' },
      { body: '[]', status: 400, code: 'validation_failed' },
      { body: JSON.stringify({ session_id: id }), status: 400, code: 'validation_failed' },
      { body: JSON.stringify({ session_id: id, template: 42 }), status: 400, code: 'validation_failed' },
      { body: JSON.stringify({ session_id: 42, template: TEMPLATE }), status: 400, code: 'validation_failed' },
      { body: JSON.stringify({ session_id: id, template: TEMPLATE, args: 'x' }), status: 400, code: 'validation_failed' },
      { body: JSON.stringify({ session_id: id, template: TEMPLATE, args: [1] }), status: 400, code: 'validation_failed' },
      { body: JSON.stringify({ session_id: id, template: '' }), status: 400, code: 'validation_failed' },
      { body: JSON.stringify({ session_id: id, template: 'x'.repeat(65_537) }), status: 400, code: 'validation_failed' },
      {
        body: 'session_id=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        status: 415,
        code: 'unsupported_media_type',
      },
      { body: 'hello', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
      {
        body: JSON.stringify({ session_id: id, template: TEMPLATE }),
        headers: { 'content-type': 'text/plain' },
        status: 415,
        code: 'unsupported_media_type',
      },
      { body: '<x/>', headers: { 'content-type': 'application/xml' }, status: 415, code: 'unsupported_media_type' },
      {
        body: JSON.stringify({ session_id: id, template: TEMPLATE, args: { big: 'x'.repeat(300_000) } }),
        status: 413,
        code: 'payload_too_large',
      },
    ];
    for (const c of cases) {
      const res = await running.api('POST', '/api/session', {
        body: c.body,
        headers: { 'content-type': 'application/json', ...c.headers },
      });
      expectResponse(res, 'createPublicSession', c.status, c.body.slice(0, 60));
      expect(res.body.code, c.body.slice(0, 60)).toBe(c.code);
    }
    expect((await running.api('GET', `/api/session/${id}`)).status).toBe(404);
  });

  it('When an update body is invalid, then the session is unchanged', async () => {
    const id = newId();
    await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { status: 'kept' } } });
    for (const json of [{}, { args: 'x' }, { args: null }, { args: [] }]) {
      const res = await running.api('PUT', `/api/session/${id}`, { json });
      expect(res.status).toBe(400);
    }
    expect(bodyOf(await running.api('GET', `/api/session/${id}`), 'getPublicSession', 200).args).toEqual({ status: 'kept' });
  });

  it('When the template is invalid or hostile, then create is 400 template_invalid and nothing is stored', async () => {
    for (const template of [
      '<svg xmlns="http://www.w3.org/2000/svg">{% if %}</svg>',
      '<svg xmlns="http://www.w3.org/2000/svg">{{ x | no_such_filter }}</svg>',
      "{% include '/etc/passwd' %}",
      '{% for i in (1..100000000) %}{{ i }}{% endfor %}',
    ]) {
      const id = newId();
      const res = await running.api('POST', '/api/session', { json: { session_id: id, template } });
      expectResponse(res, 'createPublicSession', 400, template);
      expect(res.body.code).toBe('template_invalid');
      expect((await running.api('GET', `/api/session/${id}`)).status).toBe(404);
    }
  });

  it('When the frame is requested, then it has a strong ETag, SVG headers, and If-None-Match gives 304', async () => {
    const id = newId();
    await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { status: 'a < b & c' } } });
    const frame = await running.api('GET', `/frame/${id}`);
    expect(frame.status).toBe(200);
    expect(frame.headers.get('content-type')).toBe('image/svg+xml');
    expect(frame.text).toBe(TEMPLATE.replace('{{ status }}', 'a &lt; b &amp; c'));
    expect(frame.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox");
    expect(frame.headers.get('x-content-type-options')).toBe('nosniff');
    const etag = frame.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await running.api('GET', `/frame/${id}`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    await running.api('PUT', `/api/session/${id}`, { json: { args: { status: 'changed' } } });
    const changed = await running.api('GET', `/frame/${id}`, { headers: { 'if-none-match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('When ops endpoints are asked, then they answer per contract', async () => {
    expect(bodyOf(await running.api('GET', '/healthz'), 'getHealth', 200)).toEqual({ status: 'ok' });
    expect(bodyOf(await running.api('GET', '/readyz'), 'getReadiness', 200)).toEqual({ status: 'ready', store: variant.name });
    const doc = await running.api('GET', '/openapi.json');
    expectResponse(doc, 'getOpenApiDocument', 200);
    expect(doc.body.paths).toHaveProperty(['/api/session']);
    const metrics = await running.api('GET', '/metrics');
    expect(metrics.text).toContain('realtime_svg_open_streams');
    const docs = await running.api('GET', '/docs');
    expect(docs.text).toContain('/openapi.json');
    const asset = await fetch(`${running.baseUrl}/docs/assets/swagger-ui-bundle.js`);
    expect(asset.status).toBe(200);
    await asset.arrayBuffer();
  });

  it('When a route does not exist, then the answer is a 404 Error body', async () => {
    const res = await fetch(`${running.baseUrl}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'not_found' });
  });

  it('When the viewer page is opened, then it embeds the live stream', async () => {
    const id = newId();
    await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE } });
    const page = await fetch(`${running.baseUrl}/session/${id}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`src="/stream/${id}"`);
    expect((await fetch(`${running.baseUrl}/session/missing-${id}`)).status).toBe(404);
  });
});
