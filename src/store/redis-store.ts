import type { Redis } from 'ioredis';
import { DomainError } from '../domain/errors.js';
import type { MessageListener, Store, StoredEntry } from './store.js';

/** Turns a connection failure into a 503 for the client instead of a 500. */
async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof DomainError) throw err;
    throw new DomainError('unavailable', 'the store is unavailable, try again shortly', );
  }
}

function expiresAtFrom(pttl: number, now: number): number | null {
  return pttl >= 0 ? now + pttl : null;
}

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
      const result = await this.client.multi().get(key).pttl(key).exec();
      const value = result?.[0]?.[1] as string | null;
      const pttl = result?.[1]?.[1] as number;
      if (value === null || value === undefined) return null;
      return { value, expiresAt: expiresAtFrom(pttl, Date.now()) };
    });
  }

  create(key: string, value: string, ttlMs: number | null): Promise<boolean> {
    return guard(async () => {
      const ok = ttlMs === null ? await this.client.set(key, value, 'NX') : await this.client.set(key, value, 'PX', ttlMs, 'NX');
      return ok === 'OK';
    });
  }

  replace(key: string, value: string, ttlMs?: number): Promise<StoredEntry | null> {
    return guard(async () => {
      const tx = this.client.multi();
      if (ttlMs === undefined) tx.call('SET', key, value, 'XX', 'KEEPTTL');
      else tx.set(key, value, 'PX', ttlMs, 'XX');
      const result = await tx.pttl(key).exec();
      if (result?.[0]?.[1] !== 'OK') return null;
      return { value, expiresAt: expiresAtFrom(result[1]?.[1] as number, Date.now()) };
    });
  }

  delete(key: string): Promise<boolean> {
    return guard(async () => (await this.client.del(key)) > 0);
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
    // The command connection belongs to @fastify/redis, which closes it.
    this.subscriber.disconnect();
  }
}
