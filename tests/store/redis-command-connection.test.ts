import { setImmediate as nextTurn } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectStore } from '../../src/store/connect.js';
import { RedisStore } from '../../src/store/redis-store.js';
import { redisAvailable, startRedis, type ThrowawayRedis } from '../helpers/redis-server.js';

describe.runIf(redisAvailable())('the Redis command connection', () => {
  let redis: ThrowawayRedis;
  let observer: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    observer = new Redis(redis.url);
  });
  afterAll(async () => {
    observer.disconnect();
    await redis.stop();
  });

  async function readsProcessed(): Promise<number> {
    const stats = await observer.info('stats');
    const match = /total_reads_processed:(\d+)/.exec(stats);
    if (!match?.[1]) throw new Error('INFO stats has no total_reads_processed');
    return Number(match[1]);
  }

  it('When 50 requests read in one turn, then Redis receives their commands in a few reads, not one per command', async () => {
    const log = { info: () => undefined, warn: () => undefined };
    const connected = await connectStore(redis.url, log, { embeddedMaxBytes: 0 });
    try {
      await connected.get('warm-up');
      const before = await readsProcessed();
      const entries = await Promise.all(Array.from({ length: 50 }, (_, i) => connected.get(`session:missing-${i}`)));
      // The observer's own INFO is one read too.
      const reads = (await readsProcessed()) - before - 1;
      expect(entries).toEqual(Array.from({ length: 50 }, () => null));
      expect(reads).toBeGreaterThanOrEqual(1);
      expect(reads).toBeLessThanOrEqual(5);
    } finally {
      await connected.close();
    }
  });

  describe('reads of one key in one event-loop turn', () => {
    let client: Redis;
    let store: RedisStore;
    beforeEach(async () => {
      client = new Redis(redis.url);
      store = new RedisStore(client, client.duplicate());
      await store.ping();
      await observer.flushall();
    });
    afterEach(async () => {
      await store.close();
      client.disconnect();
    });

    /** Script calls Redis has run so far: every read of the store is one EVALSHA. */
    async function scriptCalls(): Promise<number> {
      const stats = await observer.info('commandstats');
      return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    }

    it('When ten requests read one session in one turn, then Redis runs one read and each gets its own copy of the entry', async () => {
      await store.create('session:a', 'v1', Date.now() + 60_000);
      const before = await scriptCalls();
      const entries = await Promise.all(Array.from({ length: 10 }, () => store.get('session:a')));
      expect((await scriptCalls()) - before).toBe(1);
      for (const entry of entries) expect(entry?.value).toBe('v1');
      expect(new Set(entries).size).toBe(10);
    });

    it('When a write of the key is issued between two reads in one turn, then the second read sees the write', async () => {
      await store.create('session:b', 'old', null);
      const first = store.get('session:b');
      const write = store.put('session:b', 'new');
      const second = store.get('session:b');
      expect((await first)?.value).toBe('old');
      await write;
      expect((await second)?.value).toBe('new');
    });

    it('When another client changes the key between two turns, then the read of the later turn sees the change', async () => {
      await store.create('session:c', 'before', null);
      expect((await store.get('session:c'))?.value).toBe('before');
      await observer.set('session:c', 'after');
      await nextTurn();
      expect((await store.get('session:c'))?.value).toBe('after');
    });

    it('When reads of different keys share a turn, then each key is read on its own', async () => {
      await store.create('session:d', 'd', null);
      await store.create('session:e', 'e', null);
      const before = await scriptCalls();
      const [d, e] = await Promise.all([store.get('session:d'), store.get('session:e')]);
      expect([d?.value, e?.value]).toEqual(['d', 'e']);
      expect((await scriptCalls()) - before).toBe(2);
    });
  });
});
