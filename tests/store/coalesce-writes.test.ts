import { setImmediate as nextTurn } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coalesceWrites } from '../../src/store/coalesce-writes.js';
import { connectStore } from '../../src/store/connect.js';
import { redisAvailable, startRedis, type ThrowawayRedis } from '../helpers/redis-server.js';

/** A sink that records each write it is handed: one chunk (_write) or several at once (_writev). */
function recordingSink() {
  const writes: string[][] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push([chunk.toString()]);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map(({ chunk }) => (chunk as Buffer).toString()));
      done();
    },
  });
  return { sink, writes };
}

describe('coalesced socket writes', () => {
  it('When three chunks are written in one turn, then they reach the socket as one write, after that turn', async () => {
    const { sink, writes } = recordingSink();
    coalesceWrites(sink);
    sink.write('a');
    sink.write('b');
    sink.write('c');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual([['a', 'b', 'c']]);
  });

  it('When chunks are written in separate turns, then each turn is flushed on its own and nothing is held back', async () => {
    const { sink, writes } = recordingSink();
    coalesceWrites(sink);
    sink.write('first');
    await nextTurn();
    sink.write('second');
    sink.write('third');
    await nextTurn();
    expect(writes).toEqual([['first'], ['second', 'third']]);
  });

  it('When coalescing is installed twice on one socket, then it still flushes once per turn', async () => {
    const { sink, writes } = recordingSink();
    coalesceWrites(sink);
    coalesceWrites(sink);
    sink.write('x');
    sink.write('y');
    await nextTurn();
    expect(writes).toEqual([['x', 'y']]);
  });
});

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
    const store = await connectStore(redis.url, log, { embeddedMaxBytes: 0 });
    try {
      await store.get('warm-up');
      const before = await readsProcessed();
      const entries = await Promise.all(Array.from({ length: 50 }, (_, i) => store.get(`session:missing-${i}`)));
      // The observer's own INFO is one read too.
      const reads = (await readsProcessed()) - before - 1;
      expect(entries).toEqual(Array.from({ length: 50 }, () => null));
      expect(reads).toBeGreaterThanOrEqual(1);
      expect(reads).toBeLessThanOrEqual(5);
    } finally {
      await store.close();
    }
  });
});
