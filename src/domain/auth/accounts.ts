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

/**
 * The first successful request for a user_id claims it with a password;
 * later ones must present the same password.
 */
export class AccountService {
  constructor(
    private readonly store: Store,
    private readonly throttle: FailureThrottle,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolves when the credentials are good (claiming the user_id if unclaimed); otherwise a 401 or 429 error. */
  async authenticate(userId: string, password: string, client: string): Promise<{ claimed: boolean }> {
    const { userHasFailures } = await this.throttle.assertAllowed(userId, client);
    const key = accountKey(userId);
    let stored = await this.store.get(key);
    if (!stored) {
      const account: Account = { passwordHash: await hash(password, ARGON2ID), createdAt: this.now() };
      if (await this.store.create(key, JSON.stringify(account), null)) return { claimed: true };
      // Another request claimed it first: its password decides.
      stored = await this.store.get(key);
      if (!stored) throw new DomainError('unavailable', 'account could not be read back');
    }
    const account = JSON.parse(stored.value) as Account;
    if (!(await verify(account.passwordHash, password))) {
      await this.throttle.recordFailure(userId, client);
      throw new DomainError('invalid_credentials', CREDENTIALS_REJECTED);
    }
    if (userHasFailures) await this.throttle.recordSuccess(userId);
    return { claimed: false };
  }
}
