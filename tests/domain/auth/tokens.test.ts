import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { KeyRing, type KeyLogger } from '../../../src/domain/auth/keys.js';
import { TokenRejected, TokenService } from '../../../src/domain/auth/tokens.js';
import { EmbeddedStore } from '../../../src/store/embedded-store.js';

const ISSUER = 'realtime-svg';
const silent: KeyLogger = { info: () => {}, error: () => {} };

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function rejection(work: Promise<unknown>): Promise<TokenRejected> {
  try {
    await work;
  } catch (err) {
    if (err instanceof TokenRejected) return err;
    throw err;
  }
  throw new Error('expected the token to be rejected');
}

describe('TokenService', () => {
  // The clock starts at the real time: fast-jwt checks exp against the wall clock (see the expiry case).
  let time = Date.now();
  const now = () => time;
  let store: EmbeddedStore;
  let ring: KeyRing;
  let tokens: TokenService;

  beforeAll(async () => {
    store = new EmbeddedStore(now);
    ring = await KeyRing.open(store, silent, { refresh: false, now });
  });

  afterAll(async () => {
    ring.close();
    await store.close();
  });

  beforeEach(() => {
    time = Date.now();
    tokens = new TokenService(ring, ISSUER, now);
    vi.restoreAllMocks();
  });

  it('When a token is issued, then it verifies to the same claims', async () => {
    const { token, claims } = tokens.issue('alice', 3600);
    expect(claims).toMatchObject({ sub: 'alice', iss: ISSUER, iat: Math.floor(time / 1000), exp: Math.floor(time / 1000) + 3600 });
    expect(await tokens.verify(token)).toEqual(claims);
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(header).toMatchObject({ alg: 'RS256', kid: ring.currentKid });
  });

  it('When a token has expired, then it is token_expired', async () => {
    // Issued two hours ago (injected clock) for one hour, verified now.
    time = Date.now() - 2 * 3600_000;
    const { token } = tokens.issue('alice', 3600);
    time = Date.now();
    const err = await rejection(tokens.verify(token));
    expect(err.code).toBe('token_expired');
  });

  it('When a token was issued for another issuer, then it is token_invalid', async () => {
    const { token } = new TokenService(ring, 'someone-else', now).issue('alice', 3600);
    expect((await rejection(tokens.verify(token))).code).toBe('token_invalid');
  });

  it('When the payload is tampered with, then it is token_invalid', async () => {
    const { token, claims } = tokens.issue('alice', 3600);
    const [header, , signature] = token.split('.');
    const forged = `${header!}.${b64({ ...claims, sub: 'mallory' })}.${signature!}`;
    expect((await rejection(tokens.verify(forged))).code).toBe('token_invalid');
  });

  it('When the signature is tampered with, then it is token_invalid', async () => {
    const { token } = tokens.issue('alice', 3600);
    const [header, payload, signature] = token.split('.');
    const flipped = signature!.startsWith('A') ? `B${signature!.slice(1)}` : `A${signature!.slice(1)}`;
    expect((await rejection(tokens.verify(`${header!}.${payload!}.${flipped}`))).code).toBe('token_invalid');
  });

  it('When a token is oversized or malformed, then it is token_missing before any key is looked up', async () => {
    const lookup = vi.spyOn(ring, 'verificationKey');
    const reload = vi.spyOn(ring, 'reloadFor');
    const { token } = tokens.issue('alice', 3600);
    const oversized = `${token}${'A'.repeat(5000)}`;
    for (const bad of [oversized, 'not-a-token', 'a.b', 'a.b.c.d', 'a.b.c!', '', `${token} `]) {
      expect((await rejection(tokens.verify(bad))).code).toBe('token_missing');
    }
    expect(lookup).not.toHaveBeenCalled();
    expect(reload).not.toHaveBeenCalled();
  });

  it('When the header names an unknown kid, then it is token_invalid', async () => {
    const { token } = tokens.issue('alice', 3600);
    const [, payload, signature] = token.split('.');
    const unknown = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'no-such-kid' })}.${payload!}.${signature!}`;
    expect((await rejection(tokens.verify(unknown))).code).toBe('token_invalid');
  });

  it('When the header asks for another algorithm or picks its own key, then it is token_invalid without a key lookup', async () => {
    const lookup = vi.spyOn(ring, 'verificationKey');
    const { token } = tokens.issue('alice', 3600);
    const [, payload, signature] = token.split('.');
    for (const header of [
      { alg: 'none', typ: 'JWT', kid: ring.currentKid },
      { alg: 'HS256', typ: 'JWT', kid: ring.currentKid },
      { alg: 'RS256', typ: 'JWT', kid: ring.currentKid, jku: 'https://evil.example/jwks' },
      { alg: 'RS256', typ: 'JWT' },
    ]) {
      expect((await rejection(tokens.verify(`${b64(header)}.${payload!}.${signature!}`))).code).toBe('token_invalid');
    }
    expect(lookup).not.toHaveBeenCalled();
  });

  it('When the token was issued in the future beyond the allowed skew, then it is token_invalid', async () => {
    time = Date.now() + 120_000;
    const { token } = tokens.issue('alice', 3600);
    time = Date.now();
    expect((await rejection(tokens.verify(token))).code).toBe('token_invalid');
  });

  describe('once a token has been verified (the verified-token cache)', () => {
    it('When it expires, then it is token_expired: the cache never outlives exp', async () => {
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
      try {
        time = Date.now();
        const { token, claims } = tokens.issue('alice', 60);
        expect(await tokens.verify(token)).toEqual(claims);
        expect(await tokens.verify(token)).toEqual(claims);
        vi.setSystemTime(Date.now() + 61_000);
        time = Date.now();
        expect((await rejection(tokens.verify(token))).code).toBe('token_expired');
      } finally {
        vi.useRealTimers();
      }
    });

    it('When its key is no longer trusted, then it is token_invalid', async () => {
      const { token } = tokens.issue('alice', 3600);
      await tokens.verify(token);
      vi.spyOn(ring, 'verificationKey').mockReturnValue(undefined);
      vi.spyOn(ring, 'reloadFor').mockResolvedValue(undefined);
      expect((await rejection(tokens.verify(token))).code).toBe('token_invalid');
    });

    it('When a caller tries to change the claims it was given, then it cannot: the next verification answers the same', async () => {
      const { token } = tokens.issue('alice', 3600);
      const claims = await tokens.verify(token);
      expect(() => {
        (claims as { sub: string }).sub = 'mallory';
      }).toThrow(TypeError);
      expect((await tokens.verify(token)).sub).toBe('alice');
    });

    it('When its kid names another key than the one that checked it, then it is checked again and token_invalid', async () => {
      const { token } = tokens.issue('alice', 3600);
      await tokens.verify(token);
      const otherStore = new EmbeddedStore(now);
      const other = await KeyRing.open(otherStore, silent, { refresh: false, now });
      try {
        vi.spyOn(ring, 'verificationKey').mockReturnValue(other.verificationKey(other.currentKid));
        expect((await rejection(tokens.verify(token))).code).toBe('token_invalid');
      } finally {
        other.close();
        await otherStore.close();
      }
    });

    it('When ten minutes have passed since its check, then its signature is checked again', async () => {
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
      try {
        time = Date.now();
        const { token } = tokens.issue('alice', 3600);
        await tokens.verify(token);
        const entry = (tokens as unknown as { verifiers: Map<string, { verify: (token: string) => unknown }> }).verifiers.get(
          ring.currentKid,
        );
        if (!entry) throw new Error('expected a verifier for the current key');
        const checks = vi.spyOn(entry, 'verify');
        vi.setSystemTime(Date.now() + 9 * 60_000);
        time = Date.now();
        await tokens.verify(token);
        expect(checks).not.toHaveBeenCalled();
        vi.setSystemTime(Date.now() + 2 * 60_000);
        time = Date.now();
        expect((await tokens.verify(token)).sub).toBe('alice');
        expect(checks).toHaveBeenCalledTimes(1);
      } finally {
        vi.useRealTimers();
      }
    });

    it('When a key is no longer held, then its verifier is dropped once another key is used', async () => {
      const otherStore = new EmbeddedStore(now);
      const other = await KeyRing.open(otherStore, silent, { refresh: false, now });
      try {
        const first = tokens.issue('alice', 3600).token;
        await tokens.verify(first);
        const verifiers = (tokens as unknown as { verifiers: Map<string, unknown> }).verifiers;
        expect([...verifiers.keys()]).toEqual([ring.currentKid]);
        // The ring now holds only the other key: the first is retired.
        const otherPem = other.verificationKey(other.currentKid);
        vi.spyOn(ring, 'verificationKey').mockImplementation((kid) => (kid === other.currentKid ? otherPem : undefined));
        const second = new TokenService(other, ISSUER, now).issue('alice', 3600).token;
        expect((await tokens.verify(second)).sub).toBe('alice');
        expect([...verifiers.keys()]).toEqual([other.currentKid]);
      } finally {
        other.close();
        await otherStore.close();
      }
    });

    it('When its signature is reused with another payload or header, then that token is token_invalid', async () => {
      const { token, claims } = tokens.issue('alice', 3600);
      await tokens.verify(token);
      const [header, payload, signature] = token.split('.');
      const otherPayload = `${header!}.${b64({ ...claims, sub: 'mallory' })}.${signature!}`;
      const otherHeader = `${b64({ alg: 'RS256', typ: 'JWT', kid: ring.currentKid, extra: 1 })}.${payload!}.${signature!}`;
      for (const forged of [otherPayload, otherHeader]) expect((await rejection(tokens.verify(forged))).code).toBe('token_invalid');
      expect(await tokens.verify(token)).toEqual(claims);
    });
  });

  it('When the Authorization header is absent or not a Bearer token, then it is token_missing', () => {
    expect(tokens.tokenFromHeader('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    for (const header of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b']) {
      expect(() => tokens.tokenFromHeader(header)).toThrow(TokenRejected);
    }
  });
});
