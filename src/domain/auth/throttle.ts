import { DomainError } from '../errors.js';
import type { Store } from '../../store/store.js';

export interface ThrottleOptions {
  /** Failures allowed per window before further attempts are refused. */
  maxFailuresPerUser: number;
  /** Higher than per user: many people may share one address. */
  maxFailuresPerClient: number;
  windowMs: number;
}

/**
 * Counts credential failures per user_id and per client address in the store,
 * so the limit holds across instances. Attempts are refused while either
 * counter is at its limit.
 */
export class FailureThrottle {
  constructor(
    private readonly store: Store,
    private readonly options: ThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {}

  private keys(userId: string, client: string): string[] {
    return [`throttle:auth:user:${userId}`, `throttle:auth:client:${client}`];
  }

  /** Refuses while either counter is at its limit; tells whether this user has failures on record. */
  async assertAllowed(userId: string, client: string): Promise<{ userHasFailures: boolean }> {
    const counters = await this.store.getMany(this.keys(userId, client));
    const limits = [this.options.maxFailuresPerUser, this.options.maxFailuresPerClient];
    let until = 0;
    for (const [i, counter] of counters.entries()) {
      if (counter && Number(counter.value) >= limits[i]!) until = Math.max(until, counter.expiresAt ?? 0);
    }
    if (until > 0) {
      const retryAfterSeconds = Math.max(1, Math.ceil((until - this.now()) / 1000));
      throw new DomainError('rate_limited', 'too many failed attempts; try again later', { retryAfterSeconds });
    }
    return { userHasFailures: counters[0] !== null };
  }

  async recordFailure(userId: string, client: string): Promise<void> {
    await Promise.all(this.keys(userId, client).map((key) => this.store.increment(key, this.options.windowMs)));
  }

  async recordSuccess(userId: string): Promise<void> {
    await this.store.delete(this.keys(userId, '')[0]!);
  }
}
