import type { IndexEntry, MessageListener, Store, StoredEntry } from './store.js';

/**
 * In-process store for a zero-configuration start: one instance, lost on
 * restart. Expired keys are dropped when read and by a periodic sweep.
 */
export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  private readonly entries = new Map<string, StoredEntry>();
  private readonly channels = new Set<string>();
  private readonly indexes = new Map<string, Map<string, number>>();
  private listener: MessageListener = () => {};
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now, sweepIntervalMs = 1000) {
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  private live(key: string): StoredEntry | null {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt !== null && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return null;
    }
    return entry;
  }

  private sweep(): void {
    for (const key of this.entries.keys()) this.live(key);
  }

  async get(key: string): Promise<StoredEntry | null> {
    const entry = this.live(key);
    return entry ? { ...entry } : null;
  }

  async create(key: string, value: string, expiresAt: number | null): Promise<boolean> {
    if (this.live(key)) return false;
    this.entries.set(key, { value, expiresAt });
    return true;
  }

  async replace(key: string, value: string, expiresAt?: number): Promise<StoredEntry | null> {
    const current = this.live(key);
    if (!current) return null;
    const next = { value, expiresAt: expiresAt === undefined ? current.expiresAt : expiresAt };
    this.entries.set(key, next);
    return { ...next };
  }

  async delete(key: string): Promise<boolean> {
    const existed = this.live(key) !== null;
    this.entries.delete(key);
    return existed;
  }

  async put(key: string, value: string): Promise<void> {
    this.entries.set(key, { value, expiresAt: null });
  }

  async getMany(keys: string[]): Promise<Array<StoredEntry | null>> {
    return Promise.all(keys.map((key) => this.get(key)));
  }

  async increment(key: string, windowMs: number): Promise<{ count: number; expiresAt: number }> {
    const current = this.live(key);
    const count = current ? Number(current.value) + 1 : 1;
    const expiresAt = current?.expiresAt ?? this.now() + windowMs;
    this.entries.set(key, { value: String(count), expiresAt });
    return { count, expiresAt };
  }

  async decrement(key: string): Promise<number> {
    const current = this.live(key);
    if (!current) return 0;
    const count = Math.max(0, Number(current.value) - 1);
    this.entries.set(key, { value: String(count), expiresAt: current.expiresAt });
    return count;
  }

  async indexAdd(key: string, member: string, score: number): Promise<void> {
    let index = this.indexes.get(key);
    if (!index) this.indexes.set(key, (index = new Map()));
    index.set(member, score);
  }

  async indexRemove(key: string, members: string[]): Promise<void> {
    const index = this.indexes.get(key);
    if (!index) return;
    for (const member of members) index.delete(member);
    if (index.size === 0) this.indexes.delete(key);
  }

  async indexPage(key: string, limit: number, after?: IndexEntry): Promise<IndexEntry[]> {
    const index = this.indexes.get(key);
    if (!index) return [];
    const entries = [...index].map(([member, score]) => ({ member, score })).sort(byScoreThenMemberDesc);
    const start = after ? entries.findIndex((e) => byScoreThenMemberDesc(e, after) > 0) : 0;
    return start < 0 ? [] : entries.slice(start, start + limit);
  }

  async publish(channel: string, message: string): Promise<void> {
    // Delivered on a later tick, like a message coming back from Redis.
    if (this.channels.has(channel)) setImmediate(() => this.channels.has(channel) && this.listener(channel, message));
  }

  async subscribe(channel: string): Promise<void> {
    this.channels.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.channels.delete(channel);
  }

  onMessage(listener: MessageListener): void {
    this.listener = listener;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.channels.clear();
  }
}

/** Redis's ZREVRANGE order: score descending, ties by member descending. */
function byScoreThenMemberDesc(a: IndexEntry, b: IndexEntry): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.member < b.member ? 1 : a.member > b.member ? -1 : 0;
}
