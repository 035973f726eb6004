import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { expectResponse } from '../helpers/contract.js';
import { apiFrom } from '../helpers/from-address.js';
import { describeEachStore } from '../helpers/stores.js';

const NS = 'xmlns="http://www.w3.org/2000/svg"';
const TEMPLATE = `<svg ${NS} width="80" height="20"><text>{{ status }}</text></svg>`;
const SVG_DOCUMENT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

describeEachStore('preview (POST /api/render)', (variant) => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ config: { ...variant.config(), RATE_LIMIT_ANON_WRITES_PER_MINUTE: 3, BODY_LIMIT_BYTES: 4096 } });
  });
  afterAll(async () => running?.close());

  it('When a template and args are sent, then the rendered SVG comes back with the frame headers and nothing is stored', async () => {
    const api = apiFrom(running.baseUrl, '127.0.1.1');
    const keysBefore = new Set(await variant.redis()?.client.keys('*'));
    const res = await api('POST', '/api/render', { json: { template: TEMPLATE, args: { status: 'a < b' } } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(res.text).toBe(`<svg ${NS} width="80" height="20"><text>a &lt; b</text></svg>`);
    expect(res.headers.get('content-security-policy')).toBe(SVG_DOCUMENT_POLICY);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    // Args are optional, as when creating a session; unknown fields are ignored.
    const bare = await api('POST', '/api/render', { json: { template: TEMPLATE, extra: true } });
    expect(bare.status).toBe(200);
    expect(bare.text).toContain('<text></text>');
    const keysAfter = (await variant.redis()?.client.keys('*')) ?? [];
    // Nothing but this address's rate-limit counter may have appeared.
    expect(keysAfter.filter((key) => !keysBefore.has(key) && !key.startsWith('ratelimit:'))).toEqual([]);
  });

  it("When the template cannot render, then 400 template_invalid carries the engine's message with line and column", async () => {
    const api = apiFrom(running.baseUrl, '127.0.1.2');
    const broken = await api('POST', '/api/render', {
      json: { template: `<svg ${NS}>\n<text>{{ status | nosuchfilter }}</text></svg>` },
    });
    expectResponse(broken, 'renderPreview', 400);
    expect(broken.body.code).toBe('template_invalid');
    expect(broken.body.error).toMatch(/nosuchfilter/);
    expect(broken.body.error).toMatch(/line:?\s*2/);
    const notSvg = await api('POST', '/api/render', { json: { template: '<html>{{ x }}</html>' } });
    expectResponse(notSvg, 'renderPreview', 400);
    expect(notSvg.body.code).toBe('template_invalid');
  });

  it('When the body is wrong, too large or not JSON, then 400, 413 and 415 as for any write', async () => {
    const api = apiFrom(running.baseUrl, '127.0.1.3');
    expect((await api('POST', '/api/render', { json: { args: {} } })).status).toBe(400);
    expect((await api('POST', '/api/render', { json: { template: 'x'.repeat(5000) } })).status).toBe(413);
    const text = await api('POST', '/api/render', { headers: { 'content-type': 'text/plain' }, json: 'hello' });
    expect(text.status).toBe(415);
  });

  it('When one address previews more than the anonymous write limit, then it gets 429 with Retry-After, shared with its writes', async () => {
    const api = apiFrom(running.baseUrl, '127.0.1.4');
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await api('POST', '/api/render', { json: { template: TEMPLATE } })).status);
    expect(statuses).toEqual([200, 200, 200]);
    const refused = await api('POST', '/api/render', { json: { template: TEMPLATE } });
    expectResponse(refused, 'renderPreview', 429);
    expect(refused.body.code).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await api('POST', '/api/session', { json: { session_id: `pv-${process.pid}`, template: TEMPLATE } })).status).toBe(429);
    expect((await apiFrom(running.baseUrl, '127.0.1.5')('POST', '/api/render', { json: { template: TEMPLATE } })).status).toBe(200);
  });
});
