import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { AccountService, type PasswordHashing } from '../../../src/domain/auth/accounts.js';
import { FailureThrottle } from '../../../src/domain/auth/throttle.js';
import { DomainError } from '../../../src/domain/errors.js';
import { EmbeddedStore } from '../../../src/store/embedded-store.js';
import { RedisStore } from '../../../src/store/redis-store.js';
import type { Store } from '../../../src/store/store.js';
import { describeEachStore } from '../../helpers/stores.js';

const PER_USER = 5;
const PER_CLIENT = 20;
const WINDOW_MS = 60_000;

/**
 * Password hashing whose verifications are counted and held until the test
 * opens the gate, so "all at once" really is all at once, on any machine.
 */
class GatedPasswords implements PasswordHashing {
  verifications = 0;
  private opened = false;
  private readonly waiting: Array<() => void> = [];

  async hash(password: string): Promise<string> {
    return `plain:${password}`;
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    this.verifications++;
    if (!this.opened) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (passwordHash === 'broken') throw new Error('malformed hash');
    return passwordHash === `plain:${password}`;
  }

  open(): void {
    this.opened = true;
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  close(): void {
    this.opened = false;
  }
}

/** The error code an authentication ended with, or 'ok'. */
async function outcome(attempt: Promise<unknown>): Promise<string> {
  try {
    await attempt;
    return 'ok';
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
}

const tally = (outcomes: string[]) => outcomes.reduce<Record<string, number>>((acc, o) => ({ ...acc, [o]: (acc[o] ?? 0) + 1 }), {});

describeEachStore('password guessing under concurrency', (variant) => {
  let store: Store;
  let throttle: FailureThrottle;
  let passwords: GatedPasswords;
  let accounts: AccountService;
  let seq = 0;
  const newUser = () => `guess-${process.pid}-${++seq}`;
  const newClient = () => `203.0.113.${++seq}`;

  beforeEach(async () => {
    if (variant.name === 'embedded') {
      store = new EmbeddedStore();
    } else {
      const redis = variant.redis();
      if (!redis) throw new Error('the redis variant runs with its throwaway redis-server started');
      const client = new Redis(redis.url);
      store = new RedisStore(client, client.duplicate());
    }
    throttle = new FailureThrottle(store, { maxFailuresPerUser: PER_USER, maxFailuresPerClient: PER_CLIENT, windowMs: WINDOW_MS });
    passwords = new GatedPasswords();
    accounts = new AccountService(store, throttle, Date.now, passwords);
  });
  afterEach(async () => store.close());

  /** Claims user_ids (claims verify nothing, so the gate stays shut) and resets the count. */
  const claim = async (users: string[], client: string) => {
    for (const user of users) expect(await accounts.authenticate(user, 'right password', client)).toEqual({ claimed: true });
    expect(passwords.verifications).toBe(0);
  };
  /** Claims a user_id, then spends its whole failure budget on wrong passwords (each one verified and refused). */
  const useUpBudget = async (user: string, client: string) => {
    await claim([user], client);
    passwords.open();
    for (let i = 0; i < PER_USER; i++)
      expect(await outcome(accounts.authenticate(user, 'wrong password', client))).toBe('invalid_credentials');
  };
  /** Starts attempts, waits until each is either refused or held in verification, then lets the verifications finish. */
  const burst = async (attempts: Array<() => Promise<unknown>>) => {
    const outcomes: Array<string | undefined> = attempts.map(() => undefined);
    const running = attempts.map((start, i) => outcome(start()).then((o) => (outcomes[i] = o)));
    await vi.waitFor(() =>
      expect(outcomes.filter((o) => o !== undefined).length + passwords.verifications).toBeGreaterThanOrEqual(attempts.length),
    );
    passwords.open();
    await Promise.all(running);
    passwords.close();
    return outcomes.map((o) => o ?? 'unsettled');
  };

  it('When 50 wrong passwords for one user_id arrive at once, then only the per-user limit are verified', async () => {
    const user = newUser();
    const client = newClient();
    await claim([user], client);
    const outcomes = await burst(Array.from({ length: 50 }, () => () => accounts.authenticate(user, 'wrong password', client)));
    expect(passwords.verifications).toBe(PER_USER);
    expect(tally(outcomes)).toEqual({ invalid_credentials: PER_USER, rate_limited: 50 - PER_USER });
  });

  it('When one client guesses across 50 user_ids at once, then only the per-client limit are verified', async () => {
    const client = newClient();
    const users = Array.from({ length: 50 }, () => newUser());
    // More claims than the client may fail: claims are not failures.
    await claim(users, client);
    const outcomes = await burst(users.map((user) => () => accounts.authenticate(user, 'wrong password', client)));
    expect(passwords.verifications).toBe(PER_CLIENT);
    expect(tally(outcomes)).toEqual({ invalid_credentials: PER_CLIENT, rate_limited: 50 - PER_CLIENT });
  });

  it('When refused, then the answer carries how long until the window ends', async () => {
    const user = newUser();
    const client = newClient();
    await useUpBudget(user, client);
    const refused = await accounts.authenticate(user, 'right password', client).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DomainError);
    expect((refused as DomainError).code).toBe('rate_limited');
    const retryAfter = (refused as DomainError).details.retryAfterSeconds ?? 0;
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_MS / 1000);
    // Refused attempts were not verified.
    expect(passwords.verifications).toBe(PER_USER);
  });

  it('When a client is refused, then the user_id it aimed at keeps its own budget, and the reverse', async () => {
    const client = newClient();
    const users = Array.from({ length: PER_CLIENT }, () => newUser());
    const target = newUser();
    await claim([...users, target], client);
    passwords.open();
    for (const user of users) expect(await outcome(accounts.authenticate(user, 'wrong password', client))).toBe('invalid_credentials');
    for (let i = 0; i < 10; i++) expect(await outcome(accounts.authenticate(target, 'wrong password', client))).toBe('rate_limited');
    // From elsewhere the target still has every one of its failures to spend.
    const elsewhere = newClient();
    for (let i = 0; i < PER_USER; i++)
      expect(await outcome(accounts.authenticate(target, 'wrong password', elsewhere))).toBe('invalid_credentials');
    expect(await outcome(accounts.authenticate(target, 'wrong password', elsewhere))).toBe('rate_limited');
    // Refusals on the user's limit cost the client nothing: a fresh user_id from the same second client still verifies.
    const fresh = newUser();
    await accounts.authenticate(fresh, 'right password', newClient());
    for (let i = 0; i < 30; i++) expect(await outcome(accounts.authenticate(target, 'wrong password', elsewhere))).toBe('rate_limited');
    expect(await outcome(accounts.authenticate(fresh, 'wrong password', elsewhere))).toBe('invalid_credentials');
  });

  it('When correct logins come and go, then they never use up either budget', async () => {
    const client = newClient();
    const user = newUser();
    const users = [user, newUser(), newUser()];
    await claim(users, client);
    passwords.open();
    for (let round = 0; round < 10; round++) {
      const outcomes = await Promise.all(users.map((user) => outcome(accounts.authenticate(user, 'right password', client))));
      expect(outcomes).toEqual(['ok', 'ok', 'ok']);
    }
    // Failures before a success are forgiven for that user_id; the client's stay counted.
    for (let i = 0; i < PER_USER - 1; i++)
      expect(await outcome(accounts.authenticate(user, 'wrong password', client))).toBe('invalid_credentials');
    expect(await outcome(accounts.authenticate(user, 'right password', client))).toBe('ok');
    for (let i = 0; i < PER_USER; i++)
      expect(await outcome(accounts.authenticate(user, 'wrong password', client))).toBe('invalid_credentials');
    expect(await outcome(accounts.authenticate(user, 'wrong password', client))).toBe('rate_limited');
    expect(passwords.verifications).toBe(30 + (PER_USER - 1) + 1 + PER_USER);
  });

  it('When the correct password arrives while guesses hold the whole budget, then it is refused, never called wrong', async () => {
    const user = newUser();
    const client = newClient();
    await claim([user], client);
    const attempts = [
      ...Array.from({ length: PER_USER }, () => () => accounts.authenticate(user, 'wrong password', client)),
      () => accounts.authenticate(user, 'right password', client),
    ];
    const outcomes = await burst(attempts);
    expect(outcomes).toEqual([...Array<string>(PER_USER).fill('invalid_credentials'), 'rate_limited']);
  });

  it('When the correct password holds a slot among concurrent guesses, then it succeeds, the guesses fail, and attempts are allowed afterwards', async () => {
    const user = newUser();
    const client = newClient();
    await claim([user], client);
    const attempts = [
      () => accounts.authenticate(user, 'right password', client),
      ...Array.from({ length: 30 }, () => () => accounts.authenticate(user, 'wrong password', client)),
    ];
    const outcomes = await burst(attempts);
    expect(outcomes[0]).toBe('ok');
    expect(tally(outcomes.slice(1))).toEqual({ invalid_credentials: PER_USER - 1, rate_limited: 30 - (PER_USER - 1) });
    expect(passwords.verifications).toBe(PER_USER);
    passwords.open();
    expect(await outcome(accounts.authenticate(user, 'right password', client))).toBe('ok');
    expect(await outcome(accounts.authenticate(user, 'wrong password', client))).toBe('invalid_credentials');
  });

  it('When a user_id is claimed or logged in to, then no reservation is left behind, and the next command already sees the success', async () => {
    const user = newUser();
    const client = newClient();
    const counters = () => store.getMany([`throttle:auth:user:${user}`, `throttle:auth:client:${client}`]);
    // A claim verifies nothing, so it reserves nothing.
    await claim([user], client);
    expect(await counters()).toEqual([null, null]);
    passwords.open();
    expect(await outcome(accounts.authenticate(user, 'wrong password', client))).toBe('invalid_credentials');
    expect((await counters()).map((c) => c?.value)).toEqual(['1', '1']);
    // The answer does not wait for the reset, but the reset is sent first: whatever comes next sees it.
    expect(await outcome(accounts.authenticate(user, 'right password', client))).toBe('ok');
    expect((await counters()).map((c) => c?.value ?? null)).toEqual([null, '1']);
  });

  it('When verification itself fails, then the error surfaces and the attempt is not counted as a failure', async () => {
    const user = newUser();
    const client = newClient();
    await store.put(`user:${user}:account`, JSON.stringify({ passwordHash: 'broken', createdAt: Date.now() }));
    passwords.open();
    for (let i = 0; i < PER_USER + 3; i++)
      await expect(accounts.authenticate(user, 'any password', client)).rejects.toThrow('malformed hash');
    // Had those counted, the user_id would now be refused instead of verified.
    await store.put(`user:${user}:account`, JSON.stringify({ passwordHash: 'plain:right password', createdAt: Date.now() }));
    expect(await outcome(accounts.authenticate(user, 'wrong password', client))).toBe('invalid_credentials');
  });

  it('When a client is at its limit, then it cannot claim a user_id either, and claims that race still verify the loser', async () => {
    const client = newClient();
    const users = Array.from({ length: PER_CLIENT }, () => newUser());
    await claim(users, client);
    passwords.open();
    for (const user of users) expect(await outcome(accounts.authenticate(user, 'wrong password', client))).toBe('invalid_credentials');
    expect(await outcome(accounts.authenticate(newUser(), 'right password', client))).toBe('rate_limited');
    // Two first requests at once: one claims, the other is checked against the winner's password.
    const contested = newUser();
    const elsewhere = newClient();
    const both = await Promise.all([
      outcome(accounts.authenticate(contested, 'first password', elsewhere)),
      outcome(accounts.authenticate(contested, 'second password', elsewhere)),
    ]);
    expect(both.sort()).toEqual(['invalid_credentials', 'ok']);
  });

  it("When a login is checked, then the caller's preparation runs during the check and is handed back only with the right password", async () => {
    const user = newUser();
    const client = newClient();
    await claim([user], client);
    let prepared = 0;
    const prepare = () => `token ${++prepared}`;
    const right = accounts.authenticate(user, 'right password', client, prepare);
    // The verification is held: the preparation has already run all the same.
    await vi.waitFor(() => expect(passwords.verifications).toBe(1));
    await vi.waitFor(() => expect(prepared).toBe(1));
    passwords.open();
    expect(await right).toEqual({ claimed: false, prepared: 'token 1' });
    const wrong = accounts.authenticate(user, 'wrong password', client, prepare);
    await expect(wrong).rejects.toMatchObject({ code: 'invalid_credentials' });
    expect(prepared).toBe(2);
    // A claim prepares too, alongside hashing the password.
    expect(await accounts.authenticate(newUser(), 'right password', client, prepare)).toEqual({ claimed: true, prepared: 'token 3' });
  });

  it('When an attempt is refused by the throttle, then the preparation never runs', async () => {
    const user = newUser();
    const client = newClient();
    await useUpBudget(user, client);
    const prepare = vi.fn(() => 'token');
    expect(await outcome(accounts.authenticate(user, 'right password', client, prepare))).toBe('rate_limited');
    expect(prepare).not.toHaveBeenCalled();
  });

  it('When the preparation fails, then its error surfaces and the attempt counts for neither budget', async () => {
    const user = newUser();
    const client = newClient();
    await claim([user], client);
    passwords.open();
    const counters = () => store.getMany([`throttle:auth:user:${user}`, `throttle:auth:client:${client}`]);
    const failing = () => {
      throw new Error('no signing key');
    };
    for (let i = 0; i < PER_USER + 2; i++)
      await expect(accounts.authenticate(user, 'right password', client, failing)).rejects.toThrow('no signing key');
    expect((await counters()).map((c) => (c === null ? null : Number(c.value)))).toEqual([
      expect.toSatisfy((v: number | null) => v === null || v === 0),
      expect.toSatisfy((v: number | null) => v === null || v === 0),
    ]);
    expect(await outcome(accounts.authenticate(user, 'right password', client))).toBe('ok');
  });
});
