import type { MessageListener, Store, StoredEntry } from './store.js';

/**
 * In-process store for a zero-configuration start: one instance, lost on
 * restart. Expired keys are dropped when read and by a periodic sweep.
 */
export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  private readonly entries = new Map<string, StoredEntry>();
  private readonly channels = new Set<string>();
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

  async create(key: string, value: string, ttlMs: number | null): Promise<boolean> {
    if (this.live(key)) return false;
    this.entries.set(key, { value, expiresAt: ttlMs === null ? null : this.now() + ttlMs });
    return true;
  }

  async replace(key: string, value: string, ttlMs?: number): Promise<StoredEntry | null> {
    const current = this.live(key);
    if (!current) return null;
    const next = { value, expiresAt: ttlMs === undefined ? current.expiresAt : this.now() + ttlMs };
    this.entries.set(key, next);
    return { ...next };
  }

  async delete(key: string): Promise<boolean> {
    const existed = this.live(key) !== null;
    this.entries.delete(key);
    return existed;
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
