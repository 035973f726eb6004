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
});
