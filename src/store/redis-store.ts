import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { coalesceWrites } from './coalesce-writes.js';
import { StoreUnavailableError } from './errors.js';
import type { Budget, ConditionalReplace, IndexEntry, MessageListener, Reservation, Store, StoredEntry } from './store.js';

/** ioredis rejects a command with exactly this when `commandTimeout` passes without a reply. */
function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Command timed out';
}

/**
 * A pipeline resolves with one [error, reply] pair per command and never
 * rejects: a command that failed (or timed out) must not read as a missing key.
 */
function repliesOf(results: Array<[Error | null, unknown]> | null): unknown[] {
  if (!results) throw new Error('the pipeline was discarded');
  return results.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}

/** SUBSCRIBE takes any number of channels; a reconnect re-subscribes in commands this large. */
const RESUBSCRIBE_BATCH = 1000;
/** Cluster: every channel is its own SSUBSCRIBE (channels of one command must share a slot); this many in flight. */
const SHARDED_RESUBSCRIBE_BATCH = 200;

/** Rejects like ioredis's commandTimeout when the work takes longer; the work itself is left to finish or fail unheard. */
function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('Command timed out')), ms);
  });
  work.catch(() => {});
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function isCluster(client: Redis | Cluster): client is Cluster {
  return client.isCluster;
}
/** A Lua script and its SHA-1, so calls send the digest (EVALSHA) instead of the whole text (EVAL). */
interface Script {
  lua: string;
  sha: string;
}

function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * EVALSHA first: Redis hashes an EVAL's whole text on every call, and the text
 * travels every time; only a node that has not seen the script yet (a restart,
 * a new cluster node) answers NOSCRIPT, and gets the text once.
 */
async function runScript(client: Redis | Cluster, code: Script, key: string, ...args: string[]): Promise<unknown> {
  return runScriptOn(client, code, [key], args);
}

/** runScript over several keys: only on one Redis, or keys a cluster keeps in one slot. */
async function runScriptOn(client: Redis | Cluster, code: Script, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await client.evalsha(code.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return client.eval(code.lua, keys.length, ...keys, ...args);
    throw err;
  }
}

/** A session read: its value and absolute expiry, atomically, as one command. */
const GET_WITH_EXPIRY = script(`
local value = redis.call('GET', KEYS[1])
if not value then return false end
return {value, redis.call('PEXPIRETIME', KEYS[1])}
`);

/** While the store is stalled, how soon a probe that failed without timing out is repeated. */
const PROBE_RETRY_MS = 100;

export interface RedisStoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
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
const DECREMENT_IF_POSITIVE = script(`
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count <= 0 then return 0 end
return redis.call('DECR', KEYS[1])
`);

/**
 * readAndReserve on one Redis. KEYS[1] is read; KEYS[2..] are the budgets'
 * counters, ARGV[1] the window, ARGV[2..] their limits. Incremented like
 * increment (PEXPIRE NX starts the window); a budget past its limit keeps its
 * increment and the ones before it, incremented by this very script and so
 * still there, are given back. Returns false for a missing key, else
 * {value, PEXPIRETIME} plus, when refused, {budget index, its PEXPIRETIME}.
 */
const READ_AND_RESERVE = script(`
local value = redis.call('GET', KEYS[1])
if not value then return false end
local expiry = redis.call('PEXPIRETIME', KEYS[1])
for i = 2, #KEYS do
  local count = redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[1], 'NX')
  if count > tonumber(ARGV[i]) then
    for j = 2, i - 1 do redis.call('DECR', KEYS[j]) end
    return {value, expiry, i - 2, redis.call('PEXPIRETIME', KEYS[i])}
  end
end
return {value, expiry}
`);

/**
 * Optimistic concurrency: compare with the value as the caller read it and
 * write in one script, which Redis runs with no other command in between,
 * whichever instance sent it. Full values are compared, not a version field,
 * so the store stays ignorant of what it holds.
 */
const REPLACE_IF_UNCHANGED = script(`
local current = redis.call('GET', KEYS[1])
if not current then return {'missing'} end
if current ~= ARGV[1] then return {'changed'} end
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
end
if ARGV[5] ~= '' then redis.call(ARGV[5], KEYS[1], ARGV[4]) end
return {'replaced', redis.call('PEXPIRETIME', KEYS[1])}
`);

/**
 * A write and its broadcast in one round trip: SET XX, then, only if the key
 * was there, PUBLISH (or SPUBLISH on a cluster: the channel is the key's own
 * name, so the same slot) of the message. Returns the new PEXPIRETIME, or
 * false when the key was missing.
 */
const REPLACE_AND_ANNOUNCE = script(`
local written
if ARGV[2] == '' then
  written = redis.call('SET', KEYS[1], ARGV[1], 'XX', 'KEEPTTL')
else
  written = redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2], 'XX')
end
if not written then return false end
if ARGV[4] ~= '' then redis.call(ARGV[4], KEYS[1], ARGV[3]) end
return redis.call('PEXPIRETIME', KEYS[1])
`);

const DELETE_IF_UNCHANGED = script(`
local current = redis.call('GET', KEYS[1])
if not current then return 'missing' end
if current ~= ARGV[1] then return 'changed' end
redis.call('DEL', KEYS[1])
return 'deleted'
`);

/**
 * Redis-backed store. `client` serves commands; `subscriber` is this process's
 * single subscriber connection, shared by every viewer through the stream hub.
 *
 * On a Redis Cluster both are the one ioredis Cluster client, made with
 * `shardedSubscribers: true`: channels use sharded pub/sub (SSUBSCRIBE,
 * SPUBLISH), so a session's channel lives on the shard that holds its key
 * (same name, same slot) and the client keeps one subscriber connection per
 * master, moving subscriptions after a failover or resharding. On a cluster
 * every command here touches one key, so none can span slots: getMany reads
 * key by key, readAndReserve takes its keys one step at a time (on one Redis
 * both are one round trip).
 *
 * Faults: give both connections ioredis's `commandTimeout` (connect.ts does)
 * and every command, MULTI and pipeline here fails with StoreUnavailableError
 * once it passes. After one command timed out the store counts as stalled:
 * commands fail at once, without being sent, until a PING answers again; so a
 * stalled Redis costs each request a 503 at once instead of a timeout each,
 * and commands do not pile up in the socket for the whole stall.
 *
 * On one Redis the command connection sends what one event-loop turn issued
 * in one socket write, at the end of the turn (coalesce-writes.ts). Requests
 * that read the same key in one turn therefore share one read: until the
 * turn ends none of them has left, so a read of its own would have been sent
 * next to the shared one and answered alike. A command that changes the key
 * ends the sharing for the rest of the turn, so a read issued after it still
 * sees what it wrote.
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private listener: MessageListener = () => {};
  private readonly reconnectListeners: Array<() => void> = [];
  /** What this process is subscribed to, so a new connection can subscribe to it again. */
  private readonly subscriptions = new Set<string>();
  private stalled = false;
  private probing = false;
  private closed = false;
  /** The subscriber is subscribed again after a reconnect; tell listeners once commands can be sent too. */
  private reconnectPending = false;

  private readonly sharded: boolean;
  /** On one Redis: the reads issued in this event-loop turn, by key (see the class comment). */
  private readonly readsThisTurn = new Map<string, Promise<StoredEntry | null>>();
  private readsEndScheduled = false;

  /** How a script announces on a session's channel: sharded pub/sub on a cluster. */
  private get publishCommand(): 'SPUBLISH' | 'PUBLISH' {
    return this.sharded ? 'SPUBLISH' : 'PUBLISH';
  }

  constructor(
    private readonly client: Redis | Cluster,
    private readonly subscriber: Redis | Cluster,
    private readonly log?: RedisStoreLogger,
    /**
     * Cluster only: the most a call may take. A command's own commandTimeout
     * does not cover what the cluster client does before sending it (during a
     * failover it retries a node it cannot reach, 16 times 100 ms by default).
     */
    private readonly clusterTimeoutMs?: number,
  ) {
    this.sharded = isCluster(subscriber);
    if (this.sharded) {
      this.subscriber.on('smessage', (channel: string, message: string) => this.listener(channel, message));
      // Emitted once the subscriber connections match the cluster's current masters again
      // (at start, and after a failover or resharding moved slots).
      this.subscriber.on('subscribersReady', () => void this.resubscribe());
    } else {
      this.subscriber.on('message', (channel: string, message: string) => this.listener(channel, message));
      // A connection made before this store existed was ready already; any later 'ready' is a reconnect.
      let subscriberConnected = subscriber.status === 'ready';
      this.subscriber.on('ready', () => {
        if (subscriberConnected) void this.resubscribe();
        subscriberConnected = true;
      });
    }
    if (!isCluster(client)) {
      // Each reconnect brings a new socket; 'connect' names the moment it is there.
      if (client.status === 'ready') coalesceWrites(client.stream);
      client.on('connect', () => coalesceWrites(client.stream));
    }
    this.client.on('ready', () => {
      // A new connection has no backlog of unanswered commands behind it.
      this.stalled = false;
      this.announceReconnect();
    });
  }

  /**
   * Maps every failure to StoreUnavailableError (a 503 for the client, never a
   * 500) and fails at once while the store is stalled.
   */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    if (this.stalled) {
      this.probe();
      throw new StoreUnavailableError('no answer within the store timeout');
    }
    try {
      return await (this.sharded && this.clusterTimeoutMs !== undefined ? withDeadline(work(), this.clusterTimeoutMs) : work());
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      if (isTimeout(err)) {
        // On a cluster one stalled shard must not fail the others, and a probe would reach any node: no breaker there.
        if (!this.sharded) {
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- another command may have set it while this one waited
          if (!this.stalled)
            this.log?.warn(
              { err: (err as Error).message },
              'store command timed out: failing store commands at once until it answers again',
            );
          this.stalled = true;
          this.probe();
        }
        throw new StoreUnavailableError('no answer within the store timeout', { cause: err });
      }
      // The cause (which may name the store's address) goes to the log with the 503, not to the client.
      throw new StoreUnavailableError('the command failed or the connection is down', { cause: err });
    }
  }

  /** One PING at a time until one answers: the replies to everything sent before it have then arrived. */
  private probe(): void {
    if (this.probing || this.closed) return;
    this.probing = true;
    this.client.ping().then(
      () => {
        this.probing = false;
        if (this.stalled) this.log?.info({}, 'store answers again');
        this.stalled = false;
      },
      (err: unknown) => {
        this.probing = false;
        if (!this.stalled || this.closed) return;
        // A timeout already waited; a refusal (connection down) comes at once, so wait a little.
        if (isTimeout(err)) this.probe();
        else setTimeout(() => this.probe(), PROBE_RETRY_MS).unref();
      },
    );
  }

  /**
   * A new subscriber connection has no subscriptions. Subscribe it to every
   * channel again (ioredis's autoResubscribe would too, but gives no moment
   * when it is done), then let listeners read what they may have missed.
   */
  private async resubscribe(): Promise<void> {
    const channels = [...this.subscriptions];
    try {
      if (this.sharded) {
        // ioredis re-subscribes the moved channels itself but does not wait for the
        // replies; the same SSUBSCRIBE again (harmless to Redis) queues behind its
        // own on the same connection, so once ours are answered, theirs are live.
        for (let i = 0; i < channels.length; i += SHARDED_RESUBSCRIBE_BATCH) {
          await Promise.all(channels.slice(i, i + SHARDED_RESUBSCRIBE_BATCH).map((channel) => this.subscriber.ssubscribe(channel)));
        }
      } else {
        for (let i = 0; i < channels.length; i += RESUBSCRIBE_BATCH) {
          await this.subscriber.subscribe(...channels.slice(i, i + RESUBSCRIBE_BATCH));
        }
      }
    } catch (err) {
      // The connection went again; its next 'ready' starts over.
      this.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'resubscribing after a reconnect failed');
      return;
    }
    this.log?.info({ channels: channels.length }, 'store reconnected: subscriptions restored');
    this.reconnectPending = true;
    this.announceReconnect();
  }

  private announceReconnect(): void {
    if (!this.reconnectPending || this.client.status !== 'ready') return;
    this.reconnectPending = false;
    for (const listener of this.reconnectListeners) listener();
  }

  get(key: string): Promise<StoredEntry | null> {
    if (this.sharded) return this.read(key);
    let read = this.readsThisTurn.get(key);
    if (!read) {
      read = this.read(key);
      this.readsThisTurn.set(key, read);
      if (!this.readsEndScheduled) {
        this.readsEndScheduled = true;
        setImmediate(() => {
          this.readsEndScheduled = false;
          this.readsThisTurn.clear();
        });
      }
    }
    // Each caller gets an entry of its own.
    return read.then((entry) => entry && { ...entry });
  }

  /** From here on in this turn, a read of `key` is sent after this command, not shared with one sent before it. */
  private changing(key: string): void {
    this.readsThisTurn.delete(key);
  }

  private read(key: string): Promise<StoredEntry | null> {
    return this.guard(async () => {
      // One command, and an error (say WRONGTYPE) rejects instead of reading as a missing key.
      const reply = await runScript(this.client, GET_WITH_EXPIRY, key);
      if (reply === null) return null;
      const [value, pexpiretime] = reply as [string, number];
      return { value, expiresAt: expiresAtFrom(pexpiretime) };
    });
  }

  create(key: string, value: string, expiresAt: number | null): Promise<boolean> {
    this.changing(key);
    return this.guard(async () => {
      const ok = expiresAt === null ? await this.client.set(key, value, 'NX') : await this.client.set(key, value, 'PXAT', expiresAt, 'NX');
      return ok === 'OK';
    });
  }

  replace(key: string, value: string, expiresAt?: number, announce?: string): Promise<StoredEntry | null> {
    this.changing(key);
    if (announce !== undefined) {
      return this.guard(async () => {
        const reply = await runScript(
          this.client,
          REPLACE_AND_ANNOUNCE,
          key,
          value,
          expiresAt === undefined ? '' : String(expiresAt),
          announce,
          this.publishCommand,
        );
        return reply === null ? null : { value, expiresAt: expiresAtFrom(Number(reply)) };
      });
    }
    return this.guard(async () => {
      const tx = this.client.multi();
      if (expiresAt === undefined) tx.call('SET', key, value, 'XX', 'KEEPTTL');
      else tx.set(key, value, 'PXAT', expiresAt, 'XX');
      const result = await tx.call('PEXPIRETIME', key).exec();
      if (result?.[0]?.[1] !== 'OK') return null;
      return { value, expiresAt: expiresAtFrom(result[1]?.[1] as number) };
    });
  }

  replaceIfUnchanged(key: string, expected: string, value: string, expiresAt?: number, announce?: string): Promise<ConditionalReplace> {
    this.changing(key);
    return this.guard(async () => {
      const reply = await runScript(
        this.client,
        REPLACE_IF_UNCHANGED,
        key,
        expected,
        value,
        expiresAt === undefined ? '' : String(expiresAt),
        announce ?? '',
        announce === undefined ? '' : this.publishCommand,
      );
      const [outcome, pexpiretime] = Array.isArray(reply) ? (reply as unknown[]) : [];
      if (outcome === 'replaced') return { outcome, entry: { value, expiresAt: expiresAtFrom(Number(pexpiretime)) } };
      if (outcome === 'changed' || outcome === 'missing') return { outcome };
      throw new Error(`unexpected reply to the conditional replace: ${JSON.stringify(reply)}`);
    });
  }

  deleteIfUnchanged(key: string, expected: string): Promise<'deleted' | 'changed' | 'missing'> {
    this.changing(key);
    return this.guard(async () => {
      const reply = await runScript(this.client, DELETE_IF_UNCHANGED, key, expected);
      if (reply === 'deleted' || reply === 'changed' || reply === 'missing') return reply;
      throw new Error(`unexpected reply to the conditional delete: ${JSON.stringify(reply)}`);
    });
  }

  delete(key: string): Promise<boolean> {
    this.changing(key);
    return this.guard(async () => (await this.client.del(key)) > 0);
  }

  put(key: string, value: string): Promise<void> {
    this.changing(key);
    return this.guard(async () => {
      await this.client.set(key, value);
    });
  }

  getMany(keys: string[]): Promise<Array<StoredEntry | null>> {
    // A cluster pipeline must stay on one node, and a user's session keys are spread over all of them.
    if (this.sharded) return Promise.all(keys.map((key) => this.get(key)));
    return this.guard(async () => {
      if (keys.length === 0) return [];
      const pipeline = this.client.pipeline();
      for (const key of keys) pipeline.get(key).call('PEXPIRETIME', key);
      const replies = repliesOf(await pipeline.exec());
      return keys.map((_, i) => {
        const value = replies[2 * i] as string | null | undefined;
        return value === null || value === undefined ? null : { value, expiresAt: expiresAtFrom(replies[2 * i + 1] as number) };
      });
    });
  }

  increment(key: string, windowMs: number): Promise<{ count: number; expiresAt: number }> {
    this.changing(key);
    return this.guard(async () => {
      // PEXPIRE NX starts the window on the first increment only (Redis 7).
      const result = await this.client.multi().incr(key).call('PEXPIRE', key, windowMs, 'NX').call('PEXPIRETIME', key).exec();
      return { count: result?.[0]?.[1] as number, expiresAt: result?.[2]?.[1] as number };
    });
  }

  decrement(key: string): Promise<number> {
    this.changing(key);
    return this.guard(async () => Number(await runScript(this.client, DECREMENT_IF_POSITIVE, key)));
  }

  readAndReserve(key: string, budgets: Budget[], windowMs: number): Promise<Reservation> {
    for (const budget of budgets) this.changing(budget.key);
    if (this.sharded) return this.readAndReserveInSteps(key, budgets, windowMs);
    return this.guard(async () => {
      const reply = await runScriptOn(
        this.client,
        READ_AND_RESERVE,
        [key, ...budgets.map((budget) => budget.key)],
        [String(windowMs), ...budgets.map((budget) => String(budget.limit))],
      );
      if (reply === null) return { entry: null };
      const [value, pexpiretime, index, windowEnd] = reply as [string, number, number?, number?];
      const entry = { value, expiresAt: expiresAtFrom(pexpiretime) };
      return index === undefined ? { entry, refused: null } : { entry, refused: { index, expiresAt: Number(windowEnd) } };
    });
  }

  /**
   * A cluster keeps the key and the counters on different shards, which no
   * script can span: the read, then each budget, one after another; a failed
   * increment gives back the budgets taken before it.
   */
  private async readAndReserveInSteps(key: string, budgets: Budget[], windowMs: number): Promise<Reservation> {
    const entry = await this.get(key);
    if (!entry) return { entry: null };
    const giveBack = (taken: Budget[]) => Promise.all(taken.map((budget) => this.decrement(budget.key).catch(() => 0)));
    for (const [index, budget] of budgets.entries()) {
      let counted: { count: number; expiresAt: number };
      try {
        counted = await this.increment(budget.key, windowMs);
      } catch (err) {
        await giveBack(budgets.slice(0, index));
        throw err;
      }
      if (counted.count > budget.limit) {
        await giveBack(budgets.slice(0, index));
        return { entry, refused: { index, expiresAt: counted.expiresAt } };
      }
    }
    return { entry, refused: null };
  }

  indexAdd(key: string, member: string, score: number): Promise<number> {
    return this.guard(async () => {
      const result = await this.client.multi().zadd(key, score, member).zcard(key).exec();
      return Number(result?.[1]?.[1] ?? 0);
    });
  }

  indexOldest(key: string, limit: number): Promise<IndexEntry[]> {
    return this.guard(async () => {
      const raw = await this.client.zrange(key, '0', String(limit - 1), 'WITHSCORES');
      const entries: IndexEntry[] = [];
      for (let i = 0; i + 1 < raw.length; i += 2) entries.push({ member: String(raw[i]), score: Number(raw[i + 1]) });
      return entries;
    });
  }

  indexRemove(key: string, members: string[]): Promise<void> {
    return this.guard(async () => {
      if (members.length) await this.client.zrem(key, ...members);
    });
  }

  indexPage(key: string, limit: number, after?: IndexEntry): Promise<IndexEntry[]> {
    return this.guard(async () => {
      const page: IndexEntry[] = [];
      // Members sharing the cursor's score are filtered here; fetch past them in batches.
      let offset = 0;
      const max = after ? String(after.score) : '+inf';
      while (page.length < limit) {
        const batch = limit + 1;
        const raw = await this.client.zrevrangebyscore(key, max, '-inf', 'WITHSCORES', 'LIMIT', offset, batch);
        for (let i = 0; i < raw.length && page.length < limit; i += 2) {
          const entry = { member: raw[i] ?? '', score: Number(raw[i + 1]) };
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
    return this.guard(async () => {
      if (this.sharded) await this.client.spublish(channel, message);
      else await this.client.publish(channel, message);
    });
  }

  subscribe(channel: string): Promise<void> {
    // Recorded first: if the connection drops before the reply, the reconnect subscribes it.
    this.subscriptions.add(channel);
    return this.guard(async () => {
      if (this.sharded) await this.subscriber.ssubscribe(channel);
      else await this.subscriber.subscribe(channel);
    });
  }

  unsubscribe(channel: string): Promise<void> {
    this.subscriptions.delete(channel);
    return this.guard(async () => {
      if (this.sharded) await this.subscriber.sunsubscribe(channel);
      else await this.subscriber.unsubscribe(channel);
    });
  }

  onMessage(listener: MessageListener): void {
    this.listener = listener;
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  ping(): Promise<void> {
    return this.guard(async () => {
      // A cluster answers only if every shard does: each master in turn, at once.
      const masters = isCluster(this.client) ? this.client.nodes('master') : [];
      if (masters.length > 0) await Promise.all(masters.map((master) => master.ping()));
      else await this.client.ping();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscriber.disconnect();
    this.client.disconnect();
  }
}
