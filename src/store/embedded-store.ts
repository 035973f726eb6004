import { StoreFullError } from './errors.js';
import type { Budget, ConditionalReplace, IndexEntry, MessageListener, Reservation, Store, StoredEntry } from './store.js';

/**
 * In-process store for a zero-configuration start: one instance, lost on
 * restart. Expired keys are dropped when read and by a periodic sweep.
 */
export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  private readonly entries = new Map<string, StoredEntry>();
  private readonly channels = new Set<string>();
  private readonly indexes = new Map<string, SortedIndex>();
  private listener: MessageListener = () => {};
  private readonly sweeper: NodeJS.Timeout;
  /** Approximate bytes held by keys and values, checked against the budget. */
  private bytes = 0;

  /**
   * @param maxBytes memory budget for keys and values (0 = none): past it,
   * creating or growing a value throws StoreFullError instead of the process
   * growing without bound. Counters and admin writes are never refused, so
   * rate limits and keys keep working when the store is full.
   */
  constructor(
    private readonly now: () => number = Date.now,
    sweepIntervalMs = 1000,
    private readonly maxBytes = 0,
  ) {
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  /** Bytes of keys and values held now (for tests and metrics). */
  get usedBytes(): number {
    return this.bytes;
  }

  private setEntry(key: string, entry: StoredEntry): void {
    const previous = this.entries.get(key);
    this.bytes += entrySize(key, entry) - (previous ? entrySize(key, previous) : 0);
    this.entries.set(key, entry);
  }

  private dropEntry(key: string): void {
    const previous = this.entries.get(key);
    if (previous) this.bytes -= entrySize(key, previous);
    this.entries.delete(key);
  }

  /** Refuses a write that would take the store past its budget. */
  private admit(key: string, value: string): void {
    if (this.maxBytes <= 0) return;
    const previous = this.entries.get(key);
    const growth = entrySize(key, { value, expiresAt: null }) - (previous ? entrySize(key, previous) : 0);
    if (growth > 0 && this.bytes + growth > this.maxBytes) throw new StoreFullError(this.maxBytes);
  }

  private live(key: string): StoredEntry | null {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt !== null && entry.expiresAt <= this.now()) {
      this.dropEntry(key);
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
    this.admit(key, value);
    this.setEntry(key, { value, expiresAt });
    return true;
  }

  async replace(key: string, value: string, expiresAt?: number, announce?: string): Promise<StoredEntry | null> {
    const current = this.live(key);
    if (!current) return null;
    this.admit(key, value);
    const next = { value, expiresAt: expiresAt === undefined ? current.expiresAt : expiresAt };
    this.setEntry(key, next);
    if (announce !== undefined) await this.publish(key, announce);
    return { ...next };
  }

  // Synchronous from the comparison to the write: nothing else can run in between.
  async replaceIfUnchanged(
    key: string,
    expected: string,
    value: string,
    expiresAt?: number,
    announce?: string,
  ): Promise<ConditionalReplace> {
    const current = this.live(key);
    if (!current) return { outcome: 'missing' };
    if (current.value !== expected) return { outcome: 'changed' };
    this.admit(key, value);
    const entry = { value, expiresAt: expiresAt === undefined ? current.expiresAt : expiresAt };
    this.setEntry(key, entry);
    if (announce !== undefined) await this.publish(key, announce);
    return { outcome: 'replaced', entry: { ...entry } };
  }

  async deleteIfUnchanged(key: string, expected: string): Promise<'deleted' | 'changed' | 'missing'> {
    const current = this.live(key);
    if (!current) return 'missing';
    if (current.value !== expected) return 'changed';
    this.dropEntry(key);
    return 'deleted';
  }

  async delete(key: string): Promise<boolean> {
    const existed = this.live(key) !== null;
    this.dropEntry(key);
    return existed;
  }

  async put(key: string, value: string): Promise<void> {
    this.setEntry(key, { value, expiresAt: null });
  }

  async getMany(keys: string[]): Promise<Array<StoredEntry | null>> {
    return Promise.all(keys.map((key) => this.get(key)));
  }

  async increment(key: string, windowMs: number): Promise<{ count: number; expiresAt: number }> {
    return this.incrementNow(key, windowMs);
  }

  async decrement(key: string): Promise<number> {
    return this.decrementNow(key);
  }

  // Synchronous from the read to the last counter: nothing else can run in between.
  async readAndReserve(key: string, budgets: Budget[], windowMs: number): Promise<Reservation> {
    const current = this.live(key);
    if (!current) return { entry: null };
    const entry = { ...current };
    for (const [index, budget] of budgets.entries()) {
      const { count, expiresAt } = this.incrementNow(budget.key, windowMs);
      if (count > budget.limit) {
        for (const earlier of budgets.slice(0, index)) this.decrementNow(earlier.key);
        return { entry, refused: { index, expiresAt } };
      }
    }
    return { entry, refused: null };
  }

  private incrementNow(key: string, windowMs: number): { count: number; expiresAt: number } {
    const current = this.live(key);
    const count = current ? Number(current.value) + 1 : 1;
    const expiresAt = current?.expiresAt ?? this.now() + windowMs;
    this.setEntry(key, { value: String(count), expiresAt });
    return { count, expiresAt };
  }

  private decrementNow(key: string): number {
    const current = this.live(key);
    if (!current) return 0;
    const count = Math.max(0, Number(current.value) - 1);
    this.setEntry(key, { value: String(count), expiresAt: current.expiresAt });
    return count;
  }

  async indexAdd(key: string, member: string, score: number): Promise<number> {
    let index = this.indexes.get(key);
    if (!index) this.indexes.set(key, (index = new SortedIndex()));
    index.add(member, score);
    return index.size;
  }

  async indexOldest(key: string, limit: number): Promise<IndexEntry[]> {
    return this.indexes.get(key)?.oldest(limit) ?? [];
  }

  async indexRemove(key: string, members: string[]): Promise<void> {
    const index = this.indexes.get(key);
    if (!index) return;
    index.remove(members);
    if (index.size === 0) this.indexes.delete(key);
  }

  async indexPage(key: string, limit: number, after?: IndexEntry): Promise<IndexEntry[]> {
    return this.indexes.get(key)?.page(limit, after) ?? [];
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

  /** In-process: there is no connection to lose, so nothing is ever missed. */
  onReconnect(_listener: () => void): void {}

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

/**
 * One sorted-set index kept in ZREVRANGE order at all times, so that a page
 * costs a binary search plus the page (O(log n + limit)) instead of a sort of
 * the whole index: listing runs on the event loop, and a user's index can hold
 * thousands of expired members. Writes cost at most one O(n) memmove.
 */
class SortedIndex {
  private readonly scores = new Map<string, number>();
  /** Every member of `scores`, ordered by byScoreThenMemberDesc. */
  private readonly order: IndexEntry[] = [];

  get size(): number {
    return this.order.length;
  }

  add(member: string, score: number): void {
    const previous = this.scores.get(member);
    if (previous === score) return;
    if (previous !== undefined) this.order.splice(this.position({ member, score: previous }), 1);
    this.scores.set(member, score);
    this.order.splice(this.firstAfter({ member, score }), 0, { member, score });
  }

  remove(members: string[]): void {
    const doomed = new Set<string>();
    let first = this.order.length;
    for (const member of members) {
      const score = this.scores.get(member);
      if (score === undefined) continue;
      this.scores.delete(member);
      doomed.add(member);
      first = Math.min(first, this.position({ member, score }));
    }
    // One compacting pass for the whole batch: a splice per member would be O(n) each.
    let write = first;
    for (let read = first; read < this.order.length; read++) {
      const entry = this.order[read];
      if (entry && !doomed.has(entry.member)) this.order[write++] = entry;
    }
    this.order.length = write;
  }

  oldest(limit: number): IndexEntry[] {
    return this.order
      .slice(Math.max(0, this.order.length - limit))
      .reverse()
      .map((entry) => ({ ...entry }));
  }

  page(limit: number, after?: IndexEntry): IndexEntry[] {
    const start = after ? this.firstAfter(after) : 0;
    // Copies: callers must not be able to reorder the index through what they get.
    return this.order.slice(start, start + limit).map((entry) => ({ ...entry }));
  }

  /** Where a present entry sits. */
  private position(entry: IndexEntry): number {
    const at = this.firstAfter(entry) - 1;
    const found = this.order[at];
    if (!found || found.member !== entry.member) throw new Error(`embedded index lost track of member ${entry.member}`);
    return at;
  }

  /** The first position whose entry comes strictly after `probe` in the order (which `probe` need not be in). */
  private firstAfter(probe: IndexEntry): number {
    let low = 0;
    let high = this.order.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const entry = this.order[mid];
      if (entry && byScoreThenMemberDesc(entry, probe) > 0) high = mid;
      else low = mid + 1;
    }
    return low;
  }
}

/** Per-entry cost: UTF-16 worst case for key and value, plus the Map slot and entry object. */
const ENTRY_OVERHEAD_BYTES = 96;
function entrySize(key: string, entry: StoredEntry): number {
  return 2 * (key.length + entry.value.length) + ENTRY_OVERHEAD_BYTES;
}
