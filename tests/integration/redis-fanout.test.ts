import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { expectStatus } from '../helpers/contract.js';
import { StreamReader } from '../helpers/multipart.js';
import { redisAvailable, startRedis, type ThrowawayRedis } from '../helpers/redis-server.js';

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg"><text>{{ n }}</text></svg>';

describe.runIf(redisAvailable())('Redis fan-out across viewers and instances', () => {
  let redis: ThrowawayRedis;
  let a: RunningApp;
  let b: RunningApp;
  const readers: StreamReader[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    a = await startApp({ config: { REDIS_URL: redis.url } });
    b = await startApp({ config: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    for (const r of readers) r.close();
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  const subscriberConnections = async () =>
    ((await redis.client.client('LIST')) as string).split('\n').filter((line) => /\bname=realtime-svg:subscriber\b/.test(line));

  it('When 50 viewers stream from one instance, then it holds exactly one subscriber connection', async () => {
    const ids = ['fan-1', 'fan-2', 'fan-3', 'fan-4', 'fan-5'];
    for (const id of ids) {
      expect((await a.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { n: 0 } } })).status).toBe(201);
    }
    for (let i = 0; i < 50; i++) readers.push(new StreamReader(`${a.baseUrl}/stream/${ids[i % ids.length]}?double_frame=false`));
    await Promise.all(readers.map((r) => r.until((x) => x.parsed.parts.length >= 1)));

    const lines = await subscriberConnections();
    // One per app instance (a and b), whatever the number of viewers.
    expect(lines).toHaveLength(2);
    const ofA = lines.filter((line) => /\bsub=5\b/.test(line));
    expect(ofA, lines.join('\n')).toHaveLength(1);

    await a.api('PUT', '/api/session/fan-3', { json: { args: { n: 42 } } });
    const watching = readers.filter((_, i) => ids[i % ids.length] === 'fan-3');
    await Promise.all(watching.map((r) => r.until((x) => x.parsed.parts.at(-1)?.body.includes('>42<') ?? false)));
  });

  it('When a session is updated on one instance, then a viewer on the other receives it', async () => {
    expect((await a.api('POST', '/api/session', { json: { session_id: 'cross', template: TEMPLATE, args: { n: 1 } } })).status).toBe(201);
    const viewer = new StreamReader(`${b.baseUrl}/stream/cross?double_frame=false`);
    readers.push(viewer);
    await viewer.until((x) => x.parsed.parts.length === 1);
    expect((await a.api('PUT', '/api/session/cross', { json: { args: { n: 2 } } })).status).toBe(200);
    await viewer.until((x) => x.parsed.parts.at(-1)?.body.includes('>2<') ?? false);
  });

  it('When the last viewer of a channel leaves, then the instance unsubscribes from it', async () => {
    for (const r of readers) r.close();
    await expect
      .poll(async () => (await subscriberConnections()).map((line) => line.match(/\bsub=(\d+)/)![1]).sort(), { timeout: 3000 })
      .toEqual(['0', '0']);
  });
});

describe.runIf(redisAvailable())('when Redis goes away', () => {
  it('When the store is unreachable, then readiness and every store-backed endpoint answer 503 unavailable, never 500', async () => {
    const redis = await startRedis();
    const app = await startApp({ config: { REDIS_URL: redis.url } });
    try {
      expect(
        (await app.api('POST', '/api/session', { json: { session_id: 'before', template: '<svg xmlns="http://www.w3.org/2000/svg"/>' } }))
          .status,
      ).toBe(201);
      await redis.stop();
      expect((await app.api('GET', '/healthz')).status).toBe(200);
      for (const [method, path, json] of [
        ['GET', '/readyz', undefined],
        ['GET', '/api/session/before', undefined],
        ['PUT', '/api/session/before', { args: { a: 1 } }],
        ['POST', '/api/session', { session_id: 'after', template: '<svg xmlns="http://www.w3.org/2000/svg"/>' }],
        ['GET', '/frame/before', undefined],
        ['GET', '/stream/before', undefined],
        ['POST', '/api/auth/token', { user_id: 'someone', password: 'long enough' }],
      ] as const) {
        const res = await app.api(method, path, { json });
        expectStatus(res, 503, `${method} ${path}`);
        expect(res.body.code).toBe('unavailable');
      }
    } finally {
      await app.close();
    }
  });
});
