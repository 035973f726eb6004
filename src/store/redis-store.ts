import type { Redis } from 'ioredis';
import { DomainError } from '../domain/errors.js';
import type { IndexEntry, MessageListener, Store, StoredEntry } from './store.js';

/** Turns a connection failure into a 503 for the client instead of a 500. */
async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof DomainError) throw err;
    throw new DomainError('unavailable', 'the store is unavailable, try again shortly', {}, err);
  }
}

/** PEXPIRETIME (Redis 7+) gives the absolute expiry, so every reader sees the same instant. */
function expiresAtFrom(pexpiretime: number): number | null {
  return pexpiretime >= 0 ? pexpiretime : null;
}

/**
 * A plain DECR would create a missing counter at -1 with no expiry: a window
 * that ended would hand its next window a free attempt that never runs out.
 * A script reads and decrements in one step; DECR keeps the key's TTL.
 */
const DECREMENT_IF_POSITIVE = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count <= 0 then return 0 end
return redis.call('DECR', KEYS[1])
`;

/**
 * Redis-backed store. `client` serves commands; `subscriber` is this process's
 * single subscriber connection, shared by every viewer through the stream hub.
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private listener: MessageListener = () => {};

  constructor(
    private readonly client: Redis,
    private readonly subscriber: Redis,
  ) {
    this.subscriber.on('message', (channel: string, message: string) => this.listener(channel, message));
  }

  get(key: string): Promise<StoredEntry | null> {
    return guard(async () => {
      const result = await this.client.multi().get(key).call('PEXPIRETIME', key).exec();
      const value = result?.[0]?.[1] as string | null;
      if (value === null || value === undefined) return null;
      return { value, expiresAt: expiresAtFrom(result?.[1]?.[1] as number) };
    });
  }

  create(key: string, value: string, expiresAt: number | null): Promise<boolean> {
    return guard(async () => {
      const ok = expiresAt === null ? await this.client.set(key, value, 'NX') : await this.client.set(key, value, 'PXAT', expiresAt, 'NX');
      return ok === 'OK';
    });
  }

  replace(key: string, value: string, expiresAt?: number): Promise<StoredEntry | null> {
    return guard(async () => {
      const tx = this.client.multi();
      if (expiresAt === undefined) tx.call('SET', key, value, 'XX', 'KEEPTTL');
      else tx.set(key, value, 'PXAT', expiresAt, 'XX');
      const result = await tx.call('PEXPIRETIME', key).exec();
      if (result?.[0]?.[1] !== 'OK') return null;
      return { value, expiresAt: expiresAtFrom(result[1]?.[1] as number) };
    });
  }

  delete(key: string): Promise<boolean> {
    return guard(async () => (await this.client.del(key)) > 0);
  }

  put(key: string, value: string): Promise<void> {
    return guard(async () => {
      await this.client.set(key, value);
    });
  }

  getMany(keys: string[]): Promise<Array<StoredEntry | null>> {
    return guard(async () => {
      if (keys.length === 0) return [];
      const pipeline = this.client.pipeline();
      for (const key of keys) pipeline.get(key).call('PEXPIRETIME', key);
      const results = (await pipeline.exec()) ?? [];
      return keys.map((_, i) => {
        const value = results[2 * i]?.[1] as string | null;
        return value === null || value === undefined ? null : { value, expiresAt: expiresAtFrom(results[2 * i + 1]?.[1] as number) };
      });
    });
  }

  increment(key: string, windowMs: number): Promise<{ count: number; expiresAt: number }> {
    return guard(async () => {
      // PEXPIRE NX starts the window on the first increment only (Redis 7).
      const result = await this.client.multi().incr(key).call('PEXPIRE', key, windowMs, 'NX').call('PEXPIRETIME', key).exec();
      return { count: result?.[0]?.[1] as number, expiresAt: result?.[2]?.[1] as number };
    });
  }

  decrement(key: string): Promise<number> {
    return guard(async () => Number(await this.client.eval(DECREMENT_IF_POSITIVE, 1, key)));
  }

  indexAdd(key: string, member: string, score: number): Promise<number> {
    return guard(async () => {
      const result = await this.client.multi().zadd(key, score, member).zcard(key).exec();
      return Number(result?.[1]?.[1] ?? 0);
    });
  }

  indexOldest(key: string, limit: number): Promise<IndexEntry[]> {
    return guard(async () => {
      const raw = await this.client.zrange(key, '0', String(limit - 1), 'WITHSCORES');
      const entries: IndexEntry[] = [];
      for (let i = 0; i + 1 < raw.length; i += 2) entries.push({ member: String(raw[i]), score: Number(raw[i + 1]) });
      return entries;
    });
  }

  indexRemove(key: string, members: string[]): Promise<void> {
    return guard(async () => {
      if (members.length) await this.client.zrem(key, ...members);
    });
  }

  indexPage(key: string, limit: number, after?: IndexEntry): Promise<IndexEntry[]> {
    return guard(async () => {
      const page: IndexEntry[] = [];
      // Members sharing the cursor's score are filtered here; fetch past them in batches.
      let offset = 0;
      const max = after ? String(after.score) : '+inf';
      while (page.length < limit) {
        const batch = limit + 1;
        const raw = await this.client.zrevrangebyscore(key, max, '-inf', 'WITHSCORES', 'LIMIT', offset, batch);
        for (let i = 0; i < raw.length && page.length < limit; i += 2) {
          const entry = { member: raw[i]!, score: Number(raw[i + 1]) };
          if (after && entry.score === after.score && entry.member >= after.member) continue;
          page.push(entry);
        }
        if (raw.length < batch * 2) break;
        offset += batch;
      }
      return page;
    });
  }

  publish(channel: string, message: string): Promise<void> {
    return guard(async () => {
      await this.client.publish(channel, message);
    });
  }

  subscribe(channel: string): Promise<void> {
    return guard(async () => {
      await this.subscriber.subscribe(channel);
    });
  }

  unsubscribe(channel: string): Promise<void> {
    return guard(async () => {
      await this.subscriber.unsubscribe(channel);
    });
  }

  onMessage(listener: MessageListener): void {
    this.listener = listener;
  }

  ping(): Promise<void> {
    return guard(async () => {
      await this.client.ping();
    });
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
    this.client.disconnect();
  }
}
