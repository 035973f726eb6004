import { Redis } from 'ioredis';
import { EmbeddedStore } from './embedded-store.js';
import { RedisStore } from './redis-store.js';
import type { Store } from './store.js';

export interface StoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The store REDIS_URL selects: Redis (a command connection and this process's
 * one subscriber connection, both connected before returning) or, unset, the
 * embedded in-process store.
 */
export async function connectStore(
  redisUrl: string | undefined,
  log: StoreLogger,
  options: { embeddedMaxBytes: number; timeoutMs?: number },
): Promise<{ store: Store; redis?: Redis }> {
  if (!redisUrl) {
    log.info(
      { store: 'embedded', budgetBytes: options.embeddedMaxBytes },
      'REDIS_URL not set: using the embedded in-process store (one instance, data lost on restart)',
    );
    return { store: new EmbeddedStore(Date.now, 1000, options.embeddedMaxBytes) };
  }
  // No offline queue: while Redis is away requests fail at once with 503 instead of
  // piling up; the client keeps reconnecting in the background. commandTimeout
  // bounds every command, each one of a MULTI or pipeline included, and the
  // subscriber's (a stalled Redis answers nothing but keeps the socket open).
  // RedisStore re-subscribes itself after a reconnect, so it knows when that is
  // done; and a command that already failed its request is never sent again.
  const settings = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.timeoutMs ?? 1000,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
  } as const;
  const client = new Redis(redisUrl, { ...settings, connectionName: 'realtime-svg' });
  const subscriber = new Redis(redisUrl, { ...settings, connectionName: 'realtime-svg:subscriber' });
  for (const [name, connection] of [['commands', client], ['subscriber', subscriber]] as const) {
    connection.on('error', (err: Error) => log.warn({ connection: name, err: err.message }, 'store connection error'));
  }
  await Promise.all([client.connect(), subscriber.connect()]);
  log.info({ store: 'redis' }, 'using Redis store');
  return { store: new RedisStore(client, subscriber, log), redis: client };
}
