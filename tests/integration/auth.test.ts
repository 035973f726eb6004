import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded-store.js';
import { startApp, type RunningApp } from '../helpers/app.js';
import { PASSWORD } from '../helpers/auth.js';
import { expectResponse } from '../helpers/contract.js';
import { isRecord, parseJson } from '../helpers/json.js';
import { describeEachStore } from '../helpers/stores.js';

/** The passwordHash of a stored account record, failing unless the record is an object with a string there. */
function passwordHashOf(record: string): string {
  const account = parseJson(record);
  if (!isRecord(account) || typeof account.passwordHash !== 'string') throw new Error(`the account record has no passwordHash: ${record}`);
  return account.passwordHash;
}

let seq = 0;
const newUser = () => `user-${Date.now().toString(36)}-${++seq}`;

describeEachStore('auth', (variant) => {
  let running: RunningApp;
  let embedded: EmbeddedStore | undefined;
  /** What the store holds under a key, whichever store this is: value and whether it expires. */
  const stored = async (key: string): Promise<{ value: string; expires: boolean } | null> => {
    if (embedded) {
      const entry = await embedded.get(key);
      return entry && { value: entry.value, expires: entry.expiresAt !== null };
    }
    const client = variant.redis()!.client;
    const value = await client.get(key);
    return value === null ? null : { value, expires: (await client.ttl(key)) !== -1 };
  };
  beforeAll(async () => {
    embedded = variant.name === 'embedded' ? new EmbeddedStore() : undefined;
    running = await startApp({
      config: { ...variant.config(), AUTH_MAX_FAILURES_PER_USER: 3, AUTH_MAX_FAILURES_PER_CLIENT: 1000 },
      store: embedded,
    });
  });
  afterAll(async () => running?.close());

  const login = (user_id: string, password = PASSWORD, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    running.api('POST', '/api/auth/token', { json: { user_id, password, ...extra }, headers });

  it('When a user_id is first used, then it is claimed and the token verifies with jose against the served JWKS', async () => {
    const user = newUser();
    const before = Math.floor(Date.now() / 1000);
    const res = await login(user);
    expectResponse(res, 'issueToken', 200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.token_type).toBe('Bearer');
    expect(res.body.expires_in).toBe(86400);
    const header = decodeProtectedHeader(res.body.token);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(typeof header.kid).toBe('string');
    const jwks = createRemoteJWKSet(new URL(`${running.baseUrl}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(res.body.token, jwks, { algorithms: ['RS256'], issuer: 'realtime-svg', subject: user });
    expect(payload.exp! - payload.iat!).toBe(86400);
    expect(payload.iat!).toBeGreaterThanOrEqual(before);
    expect(typeof payload.jti).toBe('string');
    expect(new Date(res.body.expires_at).getTime()).toBe(payload.exp! * 1000);
  });

  it('When the password differs from the claiming one, then it is 401 with the same message every time', async () => {
    const user = newUser();
    expect((await login(user)).status).toBe(200);
    expect((await login(user)).status).toBe(200);
    const wrong = await login(user, 'another password');
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: 'invalid user_id or password', code: 'invalid_credentials' });
  });

  it('When ttl_seconds is given, then it bounds the token; out of range or a short password is 400', async () => {
    const user = newUser();
    const res = await login(user, PASSWORD, { ttl_seconds: 60 });
    expectResponse(res, 'issueToken', 200);
    expect(res.body.expires_in).toBe(60);
    for (const extra of [{ ttl_seconds: 59 }, { ttl_seconds: 2_592_001 }, { ttl_seconds: '600' }]) {
      expect((await login(user, PASSWORD, extra)).status, JSON.stringify(extra)).toBe(400);
    }
    expect((await login(newUser(), 'short')).status).toBe(400);
    expect((await login('bad:user')).status).toBe(400);
    expect((await running.api('POST', '/api/auth/token', { json: { user_id: newUser() } })).status).toBe(400);
  });

  it('When failures repeat for one user_id, then further attempts are 429 with Retry-After, even with the right password', async () => {
    const user = newUser();
    expect((await login(user)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await login(user, 'wrong password')).status).toBe(401);
    const limited = await login(user);
    expectResponse(limited, 'issueToken', 429);
    expect(limited.body.code).toBe('rate_limited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(900);
  });

  it('When the JWKS is fetched, then both paths give only public members with Cache-Control', async () => {
    const a = await running.api('GET', '/.well-known/jwks.json');
    const b = await running.api('GET', '/api/auth/jwks');
    expectResponse(a, 'getJwks', 200);
    expectResponse(b, 'getJwksAlias', 200);
    expect(a.body).toEqual(b.body);
    expect(a.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
    expect(a.body.keys.length).toBeGreaterThanOrEqual(1);
    for (const key of a.body.keys) expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
  });

  it('When an account is claimed, then only an argon2id hash (OWASP minimum, no TTL) is stored', async () => {
    const user = newUser();
    await login(user);
    const account = (await stored(`user:${user}:account`))!;
    expect(account.value).not.toContain(PASSWORD);
    expect(passwordHashOf(account.value)).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$/);
    expect(account.expires).toBe(false);
    const second = newUser();
    await login(second);
    const salts = [account.value, (await stored(`user:${second}:account`))!.value].map((r) => passwordHashOf(r).split('$')[4]);
    expect(salts[0]).not.toBe(salts[1]);
  });
});

describeEachStore('auth failures per client', (variant) => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ config: { ...variant.config(), AUTH_MAX_FAILURES_PER_USER: 1000, AUTH_MAX_FAILURES_PER_CLIENT: 4 } });
  });
  afterAll(async () => running?.close());

  it('When one client fails across many user_ids, then it is limited too', async () => {
    const users = Array.from({ length: 5 }, () => newUser());
    for (const user of users)
      expect((await running.api('POST', '/api/auth/token', { json: { user_id: user, password: PASSWORD } })).status).toBe(200);
    const statuses: number[] = [];
    for (const user of users)
      statuses.push((await running.api('POST', '/api/auth/token', { json: { user_id: user, password: 'not the password' } })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
  });
});

describeEachStore('auth failures behind a proxy', (variant) => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({
      config: { ...variant.config(), TRUST_PROXY: 1, AUTH_MAX_FAILURES_PER_USER: 1000, AUTH_MAX_FAILURES_PER_CLIENT: 2 },
    });
  });
  afterAll(async () => running?.close());

  it('When TRUST_PROXY is set, then failures count per forwarded client address', async () => {
    const user = newUser();
    const attempt = (password: string, client: string) =>
      running.api('POST', '/api/auth/token', { json: { user_id: user, password }, headers: { 'x-forwarded-for': client } });
    expect((await attempt(PASSWORD, '192.0.2.1')).status).toBe(200);
    expect((await attempt('wrong password', '192.0.2.1')).status).toBe(401);
    expect((await attempt('wrong password', '192.0.2.1')).status).toBe(401);
    expect((await attempt('wrong password', '192.0.2.1')).status).toBe(429);
    expect((await attempt('wrong password', '192.0.2.2')).status).toBe(401);
  });
});

describeEachStore('auth failures under concurrency', (variant) => {
  const LIMIT_PER_USER = 5;
  const LIMIT_PER_CLIENT = 20;
  let running: RunningApp;
  let clientSeq = 0;
  // One proxy hop is trusted, so each test can be its own client address and keep its own per-client budget.
  const newClient = () => `198.51.100.${++clientSeq}`;
  beforeAll(async () => {
    running = await startApp({
      config: {
        ...variant.config(),
        TRUST_PROXY: 1,
        AUTH_MAX_FAILURES_PER_USER: LIMIT_PER_USER,
        AUTH_MAX_FAILURES_PER_CLIENT: LIMIT_PER_CLIENT,
      },
    });
  });
  afterAll(async () => running?.close());

  const attempt = (user_id: string, password: string, client: string) =>
    running.api('POST', '/api/auth/token', { json: { user_id, password }, headers: { 'x-forwarded-for': client } });
  const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

  it('When 50 wrong passwords for one user_id arrive at once, then exactly the per-user limit are verified (401) and the rest refused (429)', async () => {
    const user = newUser();
    const client = newClient();
    expect((await attempt(user, PASSWORD, client)).status).toBe(200);
    const answers = await Promise.all(Array.from({ length: 50 }, () => attempt(user, 'wrong password', client)));
    const statuses = answers.map((a) => a.status);
    expect(count(statuses, 401)).toBe(LIMIT_PER_USER);
    expect(count(statuses, 429)).toBe(50 - LIMIT_PER_USER);
    for (const refused of answers.filter((a) => a.status === 429)) {
      expectResponse(refused, 'issueToken', 429);
      expect(refused.body.code).toBe('rate_limited');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // The budget is spent for the window: even the right password is refused, not verified.
    expect((await attempt(user, PASSWORD, client)).status).toBe(429);
  });

  it('When one client sends wrong passwords for many user_ids at once, then exactly the per-client limit are verified', async () => {
    const client = newClient();
    const users = Array.from({ length: 50 }, () => newUser());
    // 50 claims from this one client, more than its failure budget: claims are not failures.
    for (const user of users) expect((await attempt(user, PASSWORD, client)).status).toBe(200);
    const statuses = (await Promise.all(users.map((user) => attempt(user, 'wrong password', client)))).map((a) => a.status);
    expect(count(statuses, 401)).toBe(LIMIT_PER_CLIENT);
    expect(count(statuses, 429)).toBe(50 - LIMIT_PER_CLIENT);
    // Refusals on the client's budget did not use up those users' own budgets.
    const refusedUser = users.find((_, i) => statuses[i] === 429) ?? 'none refused';
    expect((await attempt(refusedUser, PASSWORD, newClient())).status).toBe(200);
  });

  it('When a correct login follows failures, then the user may fail again, and correct logins never use up the client budget', async () => {
    const user = newUser();
    const client = newClient();
    expect((await attempt(user, PASSWORD, client)).status).toBe(200);
    for (let i = 0; i < LIMIT_PER_USER - 1; i++) expect((await attempt(user, 'wrong password', client)).status).toBe(401);
    expect((await attempt(user, PASSWORD, client)).status).toBe(200);
    for (let i = 0; i < LIMIT_PER_USER; i++) expect((await attempt(user, 'wrong password', client)).status).toBe(401);
    expect((await attempt(user, 'wrong password', client)).status).toBe(429);

    const busy = newClient();
    const owner = newUser();
    expect((await attempt(owner, PASSWORD, busy)).status).toBe(200);
    // More correct logins than the client's failure budget, in batches that each fit inside it.
    for (let batch = 0; batch < 3; batch++) {
      const statuses = (await Promise.all(Array.from({ length: LIMIT_PER_USER }, () => attempt(owner, PASSWORD, busy)))).map(
        (a) => a.status,
      );
      expect(statuses).toEqual(Array(LIMIT_PER_USER).fill(200));
    }
    const others = Array.from({ length: LIMIT_PER_CLIENT }, () => newUser());
    for (const other of others) expect((await attempt(other, PASSWORD, newClient())).status).toBe(200);
    const statuses = (await Promise.all(others.map((other) => attempt(other, 'wrong password', busy)))).map((a) => a.status);
    expect(statuses).toEqual(Array(LIMIT_PER_CLIENT).fill(401));
  });

  it('When the correct password arrives among concurrent wrong ones, then it is never called wrong and no wrong one gets a token', async () => {
    const user = newUser();
    const client = newClient();
    expect((await attempt(user, PASSWORD, client)).status).toBe(200);
    const correct = attempt(user, PASSWORD, client);
    const wrong = Array.from({ length: 30 }, () => attempt(user, 'wrong password', client));
    const correctStatus = (await correct).status;
    const wrongStatuses = (await Promise.all(wrong)).map((a) => a.status);
    // 429 is sane too: the budget may already be held by guesses in flight, and an unverified password is not judged.
    expect([200, 429]).toContain(correctStatus);
    expect(wrongStatuses.every((s) => s === 401 || s === 429)).toBe(true);
    // One success resets the user's counter at most once, so at most two budgets' worth were verified.
    expect(count(wrongStatuses, 401)).toBeLessThanOrEqual(correctStatus === 200 ? 2 * LIMIT_PER_USER : LIMIT_PER_USER);
  });
});
