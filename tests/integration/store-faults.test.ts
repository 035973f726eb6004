import { afterEach, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { expectResponse, expectStatus, type ApiResponse } from '../helpers/contract.js';
import { StreamReader } from '../helpers/multipart.js';
import { redisAvailable, startRedis, type ThrowawayRedis } from '../helpers/redis-server.js';

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg"><text>{{ n }}</text></svg>';
// Short, so the first request into a stall does not wait long; the behaviour is the same at the default.
const STORE_TIMEOUT_MS = 300;
/**
 * How long a request may take before the test calls it hung. Far above the
 * store timeout: this only tells "answered" from "hung for the whole stall"
 * (a bare `await` would hang until the test's own timeout with no message).
 */
const HUNG_MS = 10_000;

async function answered<T>(request: Promise<ApiResponse<T>>): Promise<ApiResponse<T>> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${HUNG_MS} ms: the request hangs on the stalled store`)), HUNG_MS);
  });
  try {
    return await Promise.race([request, hung]);
  } finally {
    clearTimeout(timer);
  }
}

function expectUnavailable(res: ApiResponse, what: string): void {
  expectStatus(res, 503, what);
  expect(res.body.code, what).toBe('unavailable');
  expect(Number(res.headers.get('retry-after')), `${what}: Retry-After`).toBeGreaterThanOrEqual(1);
}

describe.runIf(redisAvailable())('store faults: a stalled, stopped and restarted Redis', () => {
  let redis: ThrowawayRedis | undefined;
  let app: RunningApp | undefined;
  const readers: StreamReader[] = [];

  afterEach(async () => {
    for (const reader of readers.splice(0)) reader.close();
    await app?.close();
    await redis?.stop();
    app = undefined;
    redis = undefined;
  });

  async function start(
    options: { appendOnly?: boolean; storeTimeoutMs?: number } = {},
  ): Promise<{ redis: ThrowawayRedis; app: RunningApp }> {
    redis = await startRedis({ appendOnly: options.appendOnly });
    app = await startApp({ config: { REDIS_URL: redis.url, STORE_TIMEOUT_MS: options.storeTimeoutMs ?? STORE_TIMEOUT_MS } });
    return { redis, app };
  }

  function watch(running: RunningApp, path: string): StreamReader {
    const reader = new StreamReader(`${running.baseUrl}/stream/${path}?double_frame=false`);
    readers.push(reader);
    return reader;
  }

  const showsN = (n: number) => (reader: StreamReader) => reader.parsed.parts.at(-1)?.body.includes(`>${n}<`) ?? false;

  it('When Redis is paused (SIGSTOP), then PUT, /frame and /readyz answer 503 with Retry-After instead of hanging; after SIGCONT everything works again and open streams get the next update', async () => {
    const { redis, app } = await start();
    expect((await app.api('POST', '/api/session', { json: { session_id: 'stall', template: TEMPLATE, args: { n: 1 } } })).status).toBe(201);
    const viewer = watch(app, 'stall');
    await viewer.until(showsN(1));

    redis.pause();
    // Twice each: the first request meets the timeout, later ones find the store known to be stalled.
    for (let round = 1; round <= 2; round++) {
      expectUnavailable(await answered(app.api('PUT', '/api/session/stall', { json: { args: { n: 2 } } })), `PUT, round ${round}`);
      expectUnavailable(await answered(app.api('GET', '/frame/stall')), `GET /frame, round ${round}`);
      expectUnavailable(await answered(app.api('GET', '/readyz')), `GET /readyz, round ${round}`);
    }
    expect((await answered(app.api('GET', '/healthz'))).status).toBe(200);
    expect(viewer.ended).toBe(false);

    redis.resume();
    await expect.poll(async () => (await app.api('GET', '/readyz')).status, { timeout: 5000 }).toBe(200);
    expect((await app.api('PUT', '/api/session/stall', { json: { args: { n: 3 } } })).status).toBe(200);
    await viewer.until(showsN(3));
    const frame = await app.api('GET', '/frame/stall');
    expect(frame.status).toBe(200);
    expect(frame.text).toContain('>3<');
  });

  it('When Redis restarts without its data, then open streams of the vanished sessions end with a closing boundary, and /frame says 404', async () => {
    const { redis, app } = await start();
    for (const id of ['gone-1', 'gone-2']) {
      expect((await app.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { n: 1 } } })).status).toBe(201);
    }
    const viewers = [watch(app, 'gone-1'), watch(app, 'gone-1'), watch(app, 'gone-2')];
    await Promise.all(viewers.map((viewer) => viewer.until(showsN(1))));

    await redis.restart();
    for (const viewer of viewers) {
      await viewer.untilEnded(10_000);
      expect(viewer.parsed.closed, viewer.raw.toString()).toBe(true);
    }
    // 503 until the service has reconnected, then the truth: there is no such session.
    await expect.poll(async () => (await app.api('GET', '/frame/gone-1')).status, { timeout: 10_000 }).toBe(404);
    expect((await app.api('GET', '/readyz')).status).toBe(200);
  });

  it('When Redis restarts with its data, then open streams keep going and get the next update, and no acknowledged write is lost', async () => {
    // Not a timeout case: a Redis that fsyncs every write can stall past 300 ms on
    // a busy disk (the clean-clone CI run timed out the app's first command here).
    const { redis, app } = await start({ appendOnly: true, storeTimeoutMs: 5000 });
    expect((await app.api('POST', '/api/session', { json: { session_id: 'kept', template: TEMPLATE, args: { n: 1 } } })).status).toBe(201);
    const viewer = watch(app, 'kept');
    await viewer.until(showsN(1));
    expect((await app.api('PUT', '/api/session/kept', { json: { args: { n: 2 } } })).status).toBe(200);
    await viewer.until(showsN(2));

    await redis.restart();
    // Every answer while it is away is a 503, never a 500 (the contract check of api() fails anything undeclared).
    let put: ApiResponse;
    for (;;) {
      put = await app.api('PUT', '/api/session/kept', { json: { args: { n: 3 } } });
      if (put.status !== 503) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(put.status).toBe(200);
    await viewer.until(showsN(3), 10_000);
    expect(viewer.ended).toBe(false);
    expect(viewer.parsed.closed).toBe(false);
    const session = await app.api('GET', '/api/session/kept');
    expectResponse(session, 'getPublicSession', 200);
    expect(session.body.args).toEqual({ n: 3 });
  });

  it('When the subscriber connection drops, then it subscribes again and each open stream is shown its session as stored (an update it missed meanwhile)', async () => {
    const { redis, app } = await start();
    expect((await app.api('POST', '/api/session', { json: { session_id: 'missed', template: TEMPLATE, args: { n: 1 } } })).status).toBe(
      201,
    );
    const viewer = watch(app, 'missed');
    await viewer.until(showsN(1));
    // A write no message announces, as if published while the subscriber was away: only reading again finds it.
    const stored = JSON.parse((await redis.client.get('session:missed')) ?? 'null') as { svg: string; updatedAt: number };
    const changed = { ...stored, svg: stored.svg.replace('>1<', '>7<'), updatedAt: stored.updatedAt + 1 };
    expect(await redis.client.call('SET', 'session:missed', JSON.stringify(changed), 'XX', 'KEEPTTL')).toBe('OK');
    expect(await redis.client.call('CLIENT', 'KILL', 'TYPE', 'pubsub')).toBe(1);
    await viewer.until(showsN(7), 10_000);
    // Subscribed again: the next update arrives as usual.
    expect((await app.api('PUT', '/api/session/missed', { json: { args: { n: 8 } } })).status).toBe(200);
    await viewer.until(showsN(8));
    expect(viewer.ended).toBe(false);
  });
});
