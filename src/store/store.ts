/**
 * What the domain needs from storage: string values with millisecond TTLs,
 * atomic create-if-absent and replace-if-present, and pub/sub. Both the Redis
 * store and the embedded store implement it with the same semantics
 * (tests/store/store-behaviour.ts holds them to it).
 */
export interface StoredEntry {
  value: string;
  /** Epoch milliseconds, or null when the key never expires. */
  expiresAt: number | null;
}

export interface IndexEntry {
  member: string;
  score: number;
}

export type MessageListener = (channel: string, message: string) => void;

/** A counter made by increment, and the most it may reach in its window. */
export interface Budget {
  key: string;
  limit: number;
}

/**
 * What readAndReserve found and did: a missing key reserved nothing; a
 * refusal names the first budget that was full and when its window ends.
 */
export type Reservation =
  { entry: null } | { entry: StoredEntry; refused: null } | { entry: StoredEntry; refused: { index: number; expiresAt: number } };

/** What a conditional replace did: `changed` and `missing` wrote nothing. */
export type ConditionalReplace = { outcome: 'replaced'; entry: StoredEntry } | { outcome: 'changed' } | { outcome: 'missing' };

export interface Store {
  readonly kind: 'redis' | 'embedded';
  get(key: string): Promise<StoredEntry | null>;
  /**
   * Sets the key only if absent (SET NX). expiresAt is absolute (epoch ms), so
   * the caller and every reader agree on the same instant; null means no expiry.
   */
  create(key: string, value: string, expiresAt: number | null): Promise<boolean>;
  /**
   * Sets the key only if present (SET XX); keeps its expiry unless expiresAt
   * is given. Returns the entry as stored, or null when the key did not exist.
   * With `announce`, that message is published on the key's own channel (a
   * session's key and channel share one name) in the same step, only if the
   * write happened: a write and its broadcast cost one round trip.
   */
  replace(key: string, value: string, expiresAt?: number, announce?: string): Promise<StoredEntry | null>;
  /**
   * Like replace, but only while the key still holds `expected` exactly (the
   * value as the caller read it): the comparison and the write are one step
   * that no other writer, in this process or another, can come between.
   * Optimistic concurrency (If-Match) rests on this.
   */
  replaceIfUnchanged(key: string, expected: string, value: string, expiresAt?: number, announce?: string): Promise<ConditionalReplace>;
  /** Deletes the key only while it still holds `expected` exactly, in one step like replaceIfUnchanged. */
  deleteIfUnchanged(key: string, expected: string): Promise<'deleted' | 'changed' | 'missing'>;
  delete(key: string): Promise<boolean>;
  /** Sets the key whether or not it exists, without expiry (admin writes such as key rotation). */
  put(key: string, value: string): Promise<void>;
  /** Reads several keys in one round trip; null where a key is missing. */
  getMany(keys: string[]): Promise<Array<StoredEntry | null>>;
  /**
   * Adds one to a counter that expires windowMs after its first increment
   * (a fixed window). Returns the new count and when the window ends.
   */
  increment(key: string, windowMs: number): Promise<{ count: number; expiresAt: number }>;
  /**
   * Takes one back from a counter made by increment, keeping its window.
   * Never goes below zero and never creates the counter: once the window has
   * ended (or the counter was deleted) there is nothing left to give back, and
   * a new window must not start in credit. Returns the count left (0 if absent).
   */
  decrement(key: string): Promise<number>;
  /**
   * Reserve, then verify (SPEC section 9) in one round trip: reads the key and,
   * only if it exists, takes one from each budget in order, as increment does
   * (a window of windowMs from a counter's first increment). At the first
   * budget that goes past its limit it stops: that counter keeps its increment
   * (it is past its limit for the window anyway), the budgets before it are
   * given back, the ones after it are not touched, so a refused reservation
   * holds nothing in a budget that had room. One step that no other command
   * comes between; on a Redis Cluster, where the keys live on different
   * shards, the read and each budget are one step each, in that order.
   */
  readAndReserve(key: string, budgets: Budget[], windowMs: number): Promise<Reservation>;
  /** Sorted-set index: add or re-score a member. */
  /** Returns how many members the index holds afterwards (ZCARD), so quotas cost no extra round trip. */
  indexAdd(key: string, member: string, score: number): Promise<number>;
  /** The oldest members (lowest scores first), at most `limit`: where pruning for a quota starts. */
  indexOldest(key: string, limit: number): Promise<IndexEntry[]>;
  indexRemove(key: string, members: string[]): Promise<void>;
  /**
   * Members by descending score, then descending member, strictly after
   * `after` in that order when given; at most `limit`.
   */
  indexPage(key: string, limit: number, after?: IndexEntry): Promise<IndexEntry[]>;
  publish(channel: string, message: string): Promise<void>;
  /** Channel subscriptions of this process; callers reference-count them. */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** The one listener that receives every message of every subscribed channel. */
  onMessage(listener: MessageListener): void;
  /**
   * Calls the listener each time the store is back after its connection was
   * lost, once subscriptions are live again: messages may have been missed
   * meanwhile, and data may be gone (a restart without persistence), so
   * whatever was read before is worth reading again. The embedded store never
   * loses its connection, so it never calls it.
   */
  onReconnect(listener: () => void): void;
  ping(): Promise<void>;
  close(): Promise<void>;
}
