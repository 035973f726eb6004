import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';

/** The value of one sample line of the exposition text, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('response counter in /metrics', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp();
  });
  afterAll(() => running.close());

  it('When requests are answered, then each route and status is counted apart, and again on the next request', async () => {
    for (let i = 0; i < 3; i++) expect((await running.api('GET', '/.well-known/jwks.json')).status).toBe(200);
    expect((await running.api('GET', '/api/session/nobody')).status).toBe(404);
    const first = await running.api('GET', '/metrics');
    expect(first.status).toBe(200);
    const text = String(first.body);
    const jwks = 'realtime_svg_http_responses_total{method="GET",route="/.well-known/jwks.json",status="200"}';
    const missing = 'realtime_svg_http_responses_total{method="GET",route="/api/session/:session_id",status="404"}';
    expect(sample(text, jwks)).toBe(3);
    expect(sample(text, missing)).toBe(1);

    await running.api('GET', '/.well-known/jwks.json');
    expect(sample(String((await running.api('GET', '/metrics')).body), jwks)).toBe(4);
  });

  it('When answers come from the error handler, the not-found handler, a page, a HEAD or a stream, then each is counted once under its route', async () => {
    const series = (method: string, route: string, status: number) =>
      `realtime_svg_http_responses_total{method="${method}",route="${route}",status="${status}"}`;
    const before = String((await running.api('GET', '/metrics')).body);
    const was = (name: string) => sample(before, name) ?? 0;
    const watched = [
      series('POST', '/api/session', 400),
      series('GET', 'unmatched', 404),
      series('DELETE', 'unmatched', 405),
      series('GET', '/', 200),
      series('HEAD', '/.well-known/jwks.json', 200),
      series('POST', '/api/session', 201),
      series('GET', '/stream/:session_id', 200),
    ];
    const counts = watched.map(was);

    expect((await running.api('POST', '/api/session', { json: { session_id: 'bad id!', template: '<svg/>' } })).status).toBe(400);
    expect((await fetch(`${running.baseUrl}/no/such/route`)).status).toBe(404);
    expect((await fetch(`${running.baseUrl}/.well-known/jwks.json`, { method: 'DELETE' })).status).toBe(405);
    expect((await fetch(`${running.baseUrl}/`)).status).toBe(200);
    expect((await fetch(`${running.baseUrl}/.well-known/jwks.json`, { method: 'HEAD' })).status).toBe(200);
    const created = await running.api('POST', '/api/session', {
      json: { session_id: 'counted', template: '<svg xmlns="http://www.w3.org/2000/svg"/>' },
    });
    expect(created.status).toBe(201);
    // A live image is counted when it ends.
    const stream = new AbortController();
    const open = await fetch(`${running.baseUrl}/stream/counted`, { signal: stream.signal });
    expect(open.status).toBe(200);
    stream.abort();
    await open.body?.cancel().catch(() => undefined);

    const expected = counts.map((n) => n + 1);
    // The stream's close reaches the server after the client's abort: read until it is counted.
    let after = '';
    for (let i = 0; i < 200; i++) {
      after = String((await running.api('GET', '/metrics')).body);
      if ((sample(after, series('GET', '/stream/:session_id', 200)) ?? 0) === expected.at(-1)) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(watched.map((name) => sample(after, name) ?? 0)).toEqual(expected);
  });
});
