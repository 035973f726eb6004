import { hash, verify } from '@node-rs/argon2';
import { DomainError } from '../errors.js';
import type { Store } from '../../store/store.js';
import type { FailureThrottle } from './throttle.js';

/** OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane. The salt is random per hash. */
const ARGON2ID = { algorithm: 2 as const, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
const CREDENTIALS_REJECTED = 'invalid user_id or password';

export function accountKey(userId: string): string {
  return `user:${userId}:account`;
}

interface Account {
  passwordHash: string;
  createdAt: number;
}

/** How passwords are hashed and checked; tests substitute one that counts and holds verifications. */
export interface PasswordHashing {
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<boolean>;
}

export const argon2id: PasswordHashing = {
  hash: (password) => hash(password, ARGON2ID),
  verify: (passwordHash, password) => verify(passwordHash, password),
};

/**
 * The first successful request for a user_id claims it with a password;
 * later ones must present the same password.
 */
export class AccountService {
  constructor(
    private readonly store: Store,
    private readonly throttle: FailureThrottle,
    private readonly now: () => number = Date.now,
    private readonly passwords: PasswordHashing = argon2id,
  ) {}

  /**
   * Resolves when the credentials are good (claiming the user_id if unclaimed);
   * otherwise a 401 or 429 error. `prepare` runs while the password is hashed or
   * checked on the thread pool, once this attempt holds its place in the failure
   * budgets, and what it returns is handed back only with a good password: the
   * caller's own work (signing the token) need not wait for argon2.
   */
  async authenticate<T = undefined>(
    userId: string,
    password: string,
    client: string,
    prepare: () => T = () => undefined as T,
  ): Promise<{ claimed: boolean; prepared: T }> {
    const key = accountKey(userId);
    // The account and this attempt's reservation in one round trip; an unclaimed user_id reserves nothing.
    let stored = await this.throttle.readAndReserve(key, userId, client);
    if (!stored) {
      // A claim checks no password, so it reserves nothing and cannot count as a
      // failure; a user_id or client already at its limit is still refused.
      await this.throttle.assertAllowed(userId, client);
      const [passwordHash, prepared] = await Promise.all([this.passwords.hash(password), Promise.resolve().then(prepare)]);
      const account: Account = { passwordHash, createdAt: this.now() };
      if (await this.store.create(key, JSON.stringify(account), null)) return { claimed: true, prepared };
      // Another request claimed it first: its password decides, checked like any other login.
      stored = await this.throttle.readAndReserve(key, userId, client);
      if (!stored) throw new DomainError('unavailable', 'account could not be read back');
    }
    let matches: boolean;
    let prepared: T;
    try {
      const account = JSON.parse(stored.value) as Account;
      [matches, prepared] = await Promise.all([this.passwords.verify(account.passwordHash, password), Promise.resolve().then(prepare)]);
    } catch (error) {
      // No verdict on the password (an unreadable account, a failed check): the attempt counts for neither.
      await this.throttle.release(userId, client);
      throw error;
    }
    // The reservation stays: it is this failure's count for the window.
    if (!matches) throw new DomainError('invalid_credentials', CREDENTIALS_REJECTED);
    // Not awaited: it never rejects, and by now its commands are queued on the
    // store's connection (or done, embedded), ahead of any later request's on
    // these counters; the answer need not wait for their replies.
    void this.throttle.recordSuccess(userId, client);
    return { claimed: false, prepared };
  }
}
