import { Cluster, Redis } from 'ioredis';
import { parseClusterNodes } from '../config.js';
import { EmbeddedStore } from './embedded-store.js';
import { StoreUnreachableError } from './errors.js';
import { RedisStore } from './redis-store.js';
import type { Store } from './store.js';

export interface StoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The store REDIS_URL selects: Redis (a command connection and this process's
 * one subscriber connection, both connected before returning); or with
 * clusterNodes (REDIS_CLUSTER_NODES) a Redis Cluster; or, neither set, the
 * embedded in-process store.
 */
export async function connectStore(
  redisUrl: string | undefined,
  log: StoreLogger,
  options: { embeddedMaxBytes: number; timeoutMs?: number; clusterNodes?: string },
): Promise<Store> {
  if (!redisUrl && options.clusterNodes) return connectCluster(options.clusterNodes, log, options.timeoutMs ?? 1000);
  if (!redisUrl) {
    log.info(
      { store: 'embedded', budgetBytes: options.embeddedMaxBytes },
      'REDIS_URL not set: using the embedded in-process store (one instance, data lost on restart)',
    );
    return new EmbeddedStore(Date.now, 1000, options.embeddedMaxBytes);
  }
  // No offline queue: while Redis is away requests fail at once with 503 instead of
  // piling up; the client keeps reconnecting in the background. commandTimeout
  // bounds every command, each one of a MULTI or pipeline included, and the
  // subscriber's (a stalled Redis answers nothing but keeps the socket open).
  // RedisStore re-subscribes itself after a reconnect, so it knows when that is
  // done; and a command that already failed its request is never sent again.
  // No auto-pipelining: ioredis runs one auto-pipeline at a time, so a command
  // issued while one is out waits a whole round trip before it leaves. RedisStore
  // coalesces the command connection's socket writes instead (coalesce-writes.ts).
  const settings = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.timeoutMs ?? 1000,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    enableAutoPipelining: false,
  } as const;
  const client = new Redis(redisUrl, { ...settings, connectionName: 'realtime-svg' });
  const subscriber = new Redis(redisUrl, { ...settings, connectionName: 'realtime-svg:subscriber' });
  // ioredis rejects connect() with "Connection is closed"; the error event said why.
  let lastError: string | undefined;
  for (const [name, connection] of [
    ['commands', client],
    ['subscriber', subscriber],
  ] as const) {
    connection.on('error', (err: Error) => {
      lastError = err.message;
      log.warn({ connection: name, err: err.message }, 'store connection error');
    });
  }
  try {
    await Promise.all([client.connect(), subscriber.connect()]);
  } catch (err) {
    client.disconnect();
    subscriber.disconnect();
    const { host, port } = new URL(redisUrl);
    throw new StoreUnreachableError(`${host || 'localhost'}${port ? '' : ':6379'}`, lastError ?? String(err), { cause: err });
  }
  log.info({ store: 'redis' }, 'using Redis store');
  return new RedisStore(client, subscriber, log);
}

/**
 * One ioredis Cluster client serves commands and sharded pub/sub: it holds a
 * connection per node for commands and, with shardedSubscribers, one
 * subscriber connection per master, started when a channel on that master is
 * first subscribed to.
 */
async function connectCluster(nodes: string, log: StoreLogger, timeoutMs: number): Promise<Store> {
  const cluster = new Cluster(parseClusterNodes(nodes), {
    lazyConnect: true,
    // As with one Redis: while the cluster is unreachable, fail at once (503) rather than queue.
    enableOfflineQueue: false,
    shardedSubscribers: true,
    scaleReads: 'master',
    // One write per node per event-loop turn: the listing's reads here are one
    // GET per key (no cross-slot command), which this batches. ioredis keeps
    // SUBSCRIBE out of its auto-pipelines but not the sharded forms, which would
    // then go out on a command connection instead of the shard's subscriber one.
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: ['ssubscribe', 'sunsubscribe'],
    redisOptions: {
      connectionName: 'realtime-svg',
      // Bounds every command on every node, the subscriber connections' too; a
      // command's timer starts at its first attempt, so redirections and the
      // retries of a failover all fit in it.
      commandTimeout: timeoutMs,
      autoResendUnfulfilledCommands: false,
    },
  });
  let lastError: string | undefined;
  cluster.on('error', (err: Error) => {
    lastError = err.message;
    log.warn({ connection: 'cluster', err: err.message }, 'store connection error');
  });
  cluster.on('node error', (err: Error, node: string) => log.warn({ connection: 'cluster', node, err: err.message }, 'store node error'));
  try {
    await cluster.connect();
  } catch (err) {
    cluster.disconnect();
    const where = parseClusterNodes(nodes)
      .map(({ host, port }) => `${host}:${port}`)
      .join(', ');
    throw new StoreUnreachableError(where, lastError ?? (err instanceof Error ? err.message : String(err)), { cause: err });
  }
  log.info({ store: 'redis-cluster', masters: cluster.nodes('master').length }, 'using a Redis Cluster store (sharded pub/sub)');
  return new RedisStore(cluster, cluster, log, timeoutMs);
}
