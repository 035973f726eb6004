import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded-store.js';
import type { Store } from '../../src/store/store.js';
import { startApp, type RunningApp } from '../helpers/app.js';
import { bearer, TokenForge, tokenFor } from '../helpers/auth.js';
import { bodyOf, expectResponse } from '../helpers/contract.js';
import { describeEachStore } from '../helpers/stores.js';

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg"><text>{{ v }}</text></svg>';

describeEachStore('hostile tokens', (variant) => {
  let running: RunningApp;
  let forge: TokenForge;
  let goodToken: string;
  let otherToken: string;
  const owner = 'victim';
  const path = `/api/user/${owner}/session/target`;

  beforeAll(async () => {
    const embedded = variant.name === 'embedded' ? new EmbeddedStore() : undefined;
    running = await startApp({ config: variant.config(), store: embedded });
    const reader: Pick<Store, 'get'> = embedded ?? {
      get: async (key) => ({ value: (await variant.redis()!.client.get(key))!, expiresAt: null }),
    };
    forge = await TokenForge.fromStore(reader);
    goodToken = await tokenFor(running.api, owner);
    otherToken = await tokenFor(running.api, 'mallory');
    const created = await running.api('POST', `/api/user/${owner}/session`, {
      json: { session_id: 'target', template: TEMPLATE, args: { v: 'original' } },
      headers: bearer(goodToken),
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => running?.close());

  /** Everything a write could change: the session as read (minus the ticking ttl), its frame, and for Redis the stored bytes. */
  async function snapshot(): Promise<string> {
    const { ttl: _ttl, ...session } = bodyOf(await running.api('GET', path), 'getUserSession', 200);
    const frame = (await running.api('GET', `/frame/${owner}/target`)).text;
    const stored = variant.redis() ? await variant.redis()!.client.get(`user:${owner}:session:target`) : '';
    return JSON.stringify([session, frame, stored]);
  }

  function corpus(): Array<[string, Record<string, string>, string]> {
    const f = forge;
    const claims = f.claims(owner);
    const [goodHeader, goodPayload, goodSignature] = goodToken.split('.') as [string, string, string];
    const publicPem = createPublicKey(f.key).export({ type: 'spki', format: 'pem' }) as string;
    const publicJwk = createPublicKey(f.key).export({ format: 'jwk' });
    const otherKey = TokenForge.otherKey();
    const withAuth = (token: string) => ({ authorization: `Bearer ${token}` });
    const tamperedPayload = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(goodPayload, 'base64url').toString()), sub: owner, exp: 9_999_999_999 }),
    ).toString('base64url');
    return [
      ['no Authorization header', {}, 'token_missing'],
      ['empty Authorization', { authorization: '' }, 'token_missing'],
      ['Bearer with no token', { authorization: 'Bearer' }, 'token_missing'],
      ['Basic scheme', { authorization: `Basic ${Buffer.from('victim:pw').toString('base64')}` }, 'token_missing'],
      ['token without scheme', { authorization: goodToken }, 'token_missing'],
      ['two tokens', { authorization: `Bearer ${goodToken} ${goodToken}` }, 'token_missing'],
      ['garbage', withAuth('not-a-jwt'), 'token_missing'],
      ['two segments', withAuth(`${goodHeader}.${goodPayload}`), 'token_missing'],
      ['stripped signature', withAuth(`${goodHeader}.${goodPayload}.`), 'token_missing'],
      ['oversized token', withAuth(f.rs256(f.header({ pad: 'x'.repeat(5000) }), claims)), 'token_missing'],
      ['non-base64url characters', withAuth(`${goodHeader}.${goodPayload}.${goodSignature.slice(0, -2)}+/`), 'token_missing'],
      ['alg none', withAuth(f.unsigned(f.header({ alg: 'none' }), claims, 'AA')), 'token_invalid'],
      ['alg None', withAuth(f.unsigned(f.header({ alg: 'None' }), claims, 'AA')), 'token_invalid'],
      ['alg NONE', withAuth(f.unsigned(f.header({ alg: 'NONE' }), claims, 'AA')), 'token_invalid'],
      ['alg nOnE', withAuth(f.unsigned(f.header({ alg: 'nOnE' }), claims, 'AA')), 'token_invalid'],
      ['alg missing', withAuth(f.rs256({ typ: 'JWT', kid: f.kid }, claims)), 'token_invalid'],
      ['HS256 with the public PEM as secret', withAuth(f.hs256(f.header({ alg: 'HS256' }), claims, publicPem)), 'token_invalid'],
      ['HS256 with the JWK modulus as secret', withAuth(f.hs256(f.header({ alg: 'HS256' }), claims, publicJwk.n!)), 'token_invalid'],
      ['RS384 label on an RS256 signature', withAuth(f.rs256(f.header({ alg: 'RS384' }), claims)), 'token_invalid'],
      ['PS256 label', withAuth(f.rs256(f.header({ alg: 'PS256' }), claims)), 'token_invalid'],
      ['ES256 label', withAuth(f.rs256(f.header({ alg: 'ES256' }), claims)), 'token_invalid'],
      ['altered payload, original signature', withAuth(`${goodHeader}.${tamperedPayload}.${goodSignature}`), 'token_invalid'],
      ['signature swapped from another token', withAuth(`${goodHeader}.${goodPayload}.${otherToken.split('.')[2]}`), 'token_invalid'],
      ['signed by another key, same kid', withAuth(f.rs256(f.header(), claims, otherKey)), 'token_invalid'],
      ['unknown kid', withAuth(f.rs256(f.header({ kid: 'no-such-key' }), claims, otherKey)), 'token_invalid'],
      ['missing kid', withAuth(f.rs256({ alg: 'RS256', typ: 'JWT' }, claims)), 'token_invalid'],
      ['jku header', withAuth(f.rs256(f.header({ jku: 'http://127.0.0.1:1/jwks.json' }), claims)), 'token_invalid'],
      ['x5u header', withAuth(f.rs256(f.header({ x5u: 'http://127.0.0.1:1/cert.pem' }), claims)), 'token_invalid'],
      [
        'embedded jwk header',
        withAuth(f.rs256(f.header({ jwk: createPublicKey(otherKey).export({ format: 'jwk' }) }), claims, otherKey)),
        'token_invalid',
      ],
      ['crit header', withAuth(f.rs256(f.header({ crit: ['exp'] }), claims)), 'token_invalid'],
      ['typ other than JWT', withAuth(f.rs256(f.header({ typ: 'at+jwt' }), claims)), 'token_invalid'],
      ['expired', withAuth(f.rs256(f.header(), f.claims(owner, { exp: Math.floor(Date.now() / 1000) - 5 }))), 'token_expired'],
      ['nbf in the future', withAuth(f.rs256(f.header(), f.claims(owner, { nbf: Math.floor(Date.now() / 1000) + 3600 }))), 'token_invalid'],
      ['iat in the future', withAuth(f.rs256(f.header(), f.claims(owner, { iat: Math.floor(Date.now() / 1000) + 3600 }))), 'token_invalid'],
      ['wrong iss', withAuth(f.rs256(f.header(), f.claims(owner, { iss: 'someone-else' }))), 'token_invalid'],
      ['missing iss', withAuth(f.rs256(f.header(), f.claims(owner, { iss: undefined }))), 'token_invalid'],
      ['missing exp', withAuth(f.rs256(f.header(), f.claims(owner, { exp: undefined }))), 'token_invalid'],
      ['exp as a string', withAuth(f.rs256(f.header(), f.claims(owner, { exp: '9999999999' }))), 'token_invalid'],
      ['missing sub', withAuth(f.rs256(f.header(), f.claims(owner, { sub: undefined }))), 'token_invalid'],
      ['empty sub', withAuth(f.rs256(f.header(), f.claims(owner, { sub: '' }))), 'token_invalid'],
      ['sub escaping its key', withAuth(f.rs256(f.header(), f.claims('victim:session:x'))), 'token_invalid'],
      ['payload that is not an object', withAuth(f.rs256(f.header(), ['victim'] as never)), 'token_invalid'],
    ];
  }

  it('When any crafted token writes, then it is 401 with the precise code and the session is unchanged byte for byte', async () => {
    const before = await snapshot();
    const cases = corpus();
    expect(cases.length).toBeGreaterThanOrEqual(25);
    for (const [name, headers, code] of cases) {
      const put = await running.api('PUT', path, { json: { args: { v: `pwned by ${name}` } }, headers });
      expectResponse(put, 'updateUserSession', 401, name);
      expect(put.body.code, name).toBe(code);
      const del = await running.api('DELETE', path, { headers });
      expect(del.status, name).toBe(401);
    }
    expect(await snapshot()).toBe(before);
  });

  it('When a valid token of another user writes, then it is 403 and nothing changes', async () => {
    const before = await snapshot();
    const put = await running.api('PUT', path, { json: { args: { v: 'mallory was here' } }, headers: bearer(otherToken) });
    expectResponse(put, 'updateUserSession', 403);
    expect(put.body.code).toBe('forbidden');
    expect((await running.api('DELETE', path, { headers: bearer(otherToken) })).status).toBe(403);
    expect(
      (
        await running.api('POST', `/api/user/${owner}/session`, {
          json: { session_id: 'planted', template: TEMPLATE },
          headers: bearer(otherToken),
        })
      ).status,
    ).toBe(403);
    expect((await running.api('GET', `/api/user/${owner}/sessions`, { headers: bearer(otherToken) })).status).toBe(403);
    expect(await snapshot()).toBe(before);
    expect((await running.api('GET', `/api/user/${owner}/session/planted`)).status).toBe(404);
  });

  it('When the forged token is well made, then it works: the corpus fails for its flaw, not by accident', async () => {
    const put = await running.api('PUT', path, {
      json: { args: { v: 'legit' } },
      headers: bearer(forge.rs256(forge.header(), forge.claims(owner))),
    });
    expect(put.status).toBe(204);
    expect(bodyOf(await running.api('GET', path), 'getUserSession', 200).args).toEqual({ v: 'legit' });
  });
});
