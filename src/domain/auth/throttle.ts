import { DomainError } from '../errors.js';
import type { Store, StoredEntry } from '../../store/store.js';

export interface ThrottleOptions {
  /** Failures allowed per window before further attempts are refused. */
  maxFailuresPerUser: number;
  /** Higher than per user: many people may share one address. */
  maxFailuresPerClient: number;
  windowMs: number;
}

/**
 * Counts credential failures per user_id and per client address in the store,
 * so the limit holds across instances.
 *
 * Reserve, then verify: an attempt takes its place on both counters *before*
 * the password is checked, with the store's atomic increment, so however many
 * attempts arrive at once no more than the limit are ever checked (checking
 * the counters and counting afterwards let every concurrent guess through).
 * A wrong password keeps its reservation — that is the failure's count; a
 * right one gives it back.
 */
export class FailureThrottle {
  constructor(
    private readonly store: Store,
    private readonly options: ThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {}

  private userKey(userId: string): string {
    return `throttle:auth:user:${userId}`;
  }

  private clientKey(client: string): string {
    return `throttle:auth:client:${client}`;
  }

  private refusal(until: number): DomainError {
    const retryAfterSeconds = Math.max(1, Math.ceil((until - this.now()) / 1000));
    return new DomainError('rate_limited', 'too many failed attempts; try again later', { retryAfterSeconds });
  }

  /**
   * Refuses while either counter is at its limit, reserving nothing: for
   * requests that verify no password (claiming a user_id).
   */
  async assertAllowed(userId: string, client: string): Promise<void> {
    const [byUser, byClient] = await this.store.getMany([this.userKey(userId), this.clientKey(client)]);
    const exceeded = [
      { counter: byUser, limit: this.options.maxFailuresPerUser },
      { counter: byClient, limit: this.options.maxFailuresPerClient },
    ].filter(({ counter, limit }) => counter && Number(counter.value) >= limit);
    if (exceeded.length === 0) return;
    throw this.refusal(Math.max(...exceeded.map(({ counter }) => counter?.expiresAt ?? this.now() + this.options.windowMs)));
  }

  /**
   * Reads the stored key (the account) and, only if it exists, takes one
   * attempt from the user's budget, then from the client's, in the same round
   * trip; throws 429 `rate_limited` when either was full. Resolves with the
   * entry, or null when the key is missing (then nothing was reserved: a claim
   * verifies no password). After it resolves with an entry exactly one of: the
   * attempt fails (nothing to do: the reservation is the failure),
   * recordSuccess, or release.
   */
  async readAndReserve(key: string, userId: string, client: string): Promise<StoredEntry | null> {
    const { windowMs, maxFailuresPerUser, maxFailuresPerClient } = this.options;
    // One counter after the other, not both at once: an attempt refused for the
    // user must not even briefly hold a place in the client's budget, or a burst
    // against one user_id would refuse the same client's other users. A refused
    // attempt leaves its increment on the counter it exceeded: that counter is
    // over its limit for the window anyway, and giving back could race a reset
    // by a successful login and take away someone else's reservation. An attempt
    // refused for the client is never verified, so the store gives the user's
    // place back: it is not this user_id's failure.
    const reservation = await this.store.readAndReserve(
      key,
      [
        { key: this.userKey(userId), limit: maxFailuresPerUser },
        { key: this.clientKey(client), limit: maxFailuresPerClient },
      ],
      windowMs,
    );
    if (reservation.entry && reservation.refused) throw this.refusal(reservation.refused.expiresAt);
    return reservation.entry;
  }

  /**
   * The password was right: the user's failures are forgiven, the client's
   * reservation is given back. Never rejects: like giveBack, a failed reset
   * only leaves the count too high, and the token is still deserved. Both
   * commands are issued before it returns, so the caller need not wait for
   * them: any later command of this process on these counters queues behind.
   */
  async recordSuccess(userId: string, client: string): Promise<void> {
    await Promise.all([this.store.delete(this.userKey(userId)).catch(() => false), this.giveBack(this.clientKey(client))]);
  }

  /** No verdict on the password (an error while checking it): the attempt counts for neither. */
  async release(userId: string, client: string): Promise<void> {
    await Promise.all([this.giveBack(this.userKey(userId)), this.giveBack(this.clientKey(client))]);
  }

  /**
   * Giving back can only ever lower a count. If the store fails here, the count
   * stays too high until its window ends — the safe side — and the answer the
   * caller is about to give (a token, a 429, the original error) matters more.
   */
  private async giveBack(key: string): Promise<void> {
    await this.store.decrement(key).catch(() => 0);
  }
}
