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

  /** Resolves when the credentials are good (claiming the user_id if unclaimed); otherwise a 401 or 429 error. */
  async authenticate(userId: string, password: string, client: string): Promise<{ claimed: boolean }> {
    const key = accountKey(userId);
    // The account and this attempt's reservation in one round trip; an unclaimed user_id reserves nothing.
    let stored = await this.throttle.readAndReserve(key, userId, client);
    if (!stored) {
      // A claim checks no password, so it reserves nothing and cannot count as a
      // failure; a user_id or client already at its limit is still refused.
      await this.throttle.assertAllowed(userId, client);
      const account: Account = { passwordHash: await this.passwords.hash(password), createdAt: this.now() };
      if (await this.store.create(key, JSON.stringify(account), null)) return { claimed: true };
      // Another request claimed it first: its password decides, checked like any other login.
      stored = await this.throttle.readAndReserve(key, userId, client);
      if (!stored) throw new DomainError('unavailable', 'account could not be read back');
    }
    let matches: boolean;
    try {
      const account = JSON.parse(stored.value) as Account;
      matches = await this.passwords.verify(account.passwordHash, password);
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
    return { claimed: false };
  }
}
