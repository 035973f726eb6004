import { hash, randomUUID } from 'node:crypto';
import { createSigner, createVerifier, TokenError } from 'fast-jwt';
import { LRUCache } from 'lru-cache';
import { contractLimits } from '../../../generated/limits.js';
import { DomainError } from '../errors.js';
import { isIdentifier } from '../ids.js';
import type { KeyRing } from './keys.js';

/** The contract's upper bound on ttl_seconds: how long a retired key must stay published. */
export const MAX_TOKEN_TTL_SECONDS = contractLimits.schemas.TokenRequest.properties.ttl_seconds.maximum;
const MAX_TOKEN_BYTES = 4096;
const SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Header members that would let a token pick its own key or semantics: refused outright. */
const FORBIDDEN_HEADER_MEMBERS = ['crit', 'jku', 'x5u', 'jwk', 'x5c'];
/** Tolerated clock difference for iat between issuing and verifying instances. */
const CLOCK_SKEW_SECONDS = 30;
/**
 * Tokens whose signature this instance has checked, keyed by the token's
 * SHA-256. A client sends the same token with every write, and the RS256
 * check was most of what authentication cost a write. An entry is answered
 * only while the token's exp and 10 minutes since its check have not passed,
 * and only if the kid's key is still the one that checked it; failures are
 * never stored. fast-jwt has a cache of its own, but it hashes the token
 * twice on a miss (about 9 µs here), and a key builder of our own makes it
 * print a security warning on every start.
 */
const VERIFIED_TOKENS = 10_000;
const VERIFIED_TOKEN_TTL_MS = 600_000;

interface Verified {
  /** The key that checked the signature. */
  readonly pem: string;
  readonly claims: Claims;
  readonly validUntilMs: number;
}

export interface Claims {
  readonly sub: string;
  readonly iat: number;
  readonly exp: number;
  readonly iss: string;
  readonly jti: string;
}

/** Why a token was refused: the precise code for the client, the reason for the log. */
export class TokenRejected extends DomainError {
  constructor(
    code: 'token_missing' | 'token_invalid' | 'token_expired',
    readonly reason: string,
  ) {
    super(
      code,
      code === 'token_expired'
        ? 'the token has expired'
        : code === 'token_missing'
          ? 'a Bearer token is required'
          : 'the token is not valid',
    );
  }
}

function decodeSegment(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

type Verify = (token: string) => Record<string, unknown>;

/**
 * RS256 JWTs through fast-jwt (pinned), behind a gate that runs before any
 * crypto: size and shape, alg exactly RS256, no key-choosing header members,
 * a kid we hold. Keys live in memory (KeyRing): verification issues no store
 * command unless an unknown kid triggers the throttled reload.
 */
export class TokenService {
  private signer?: { kid: string; sign: (claims: Record<string, unknown>) => string };
  private readonly verifiers = new Map<string, { pem: string; verify: Verify }>();
  private readonly verified = new LRUCache<string, Verified>({ max: VERIFIED_TOKENS });

  constructor(
    private readonly keys: KeyRing,
    private readonly issuer: string,
    private readonly now: () => number = Date.now,
  ) {}

  issue(subject: string, ttlSeconds: number): { token: string; claims: Claims } {
    const kid = this.keys.currentKid;
    if (this.signer?.kid !== kid) {
      this.signer = { kid, sign: createSigner({ key: this.keys.signingKey, algorithm: 'RS256', kid }) };
    }
    const iat = Math.floor(this.now() / 1000);
    const claims: Claims = { sub: subject, iat, exp: iat + ttlSeconds, iss: this.issuer, jti: randomUUID() };
    return { token: this.signer.sign({ ...claims }), claims };
  }

  /** Reads `Authorization: Bearer <jwt>`; anything else is token_missing. */
  tokenFromHeader(header: string | undefined): string {
    if (!header) throw new TokenRejected('token_missing', 'no Authorization header');
    const match = /^Bearer +(\S+) *$/i.exec(header);
    const token = match?.[1];
    if (token === undefined) throw new TokenRejected('token_missing', 'Authorization is not a Bearer token');
    return token;
  }

  async verify(token: string): Promise<Claims> {
    if (token.length > MAX_TOKEN_BYTES || !SHAPE.test(token)) throw new TokenRejected('token_missing', 'malformed token');
    const header = decodeSegment(token.slice(0, token.indexOf('.')));
    if (!header) throw new TokenRejected('token_invalid', 'malformed header');
    if (header.alg !== 'RS256') throw new TokenRejected('token_invalid', `algorithm ${String(header.alg)} not accepted`);
    const forbidden = FORBIDDEN_HEADER_MEMBERS.find((name) => name in header);
    if (forbidden) throw new TokenRejected('token_invalid', `header member ${forbidden} not accepted`);
    if (typeof header.kid !== 'string') throw new TokenRejected('token_invalid', 'no kid');

    // Only an unknown kid waits (for the throttled reload); a held key is looked up without a turn of the event loop.
    const held = this.keys.verificationKey(header.kid);
    const { pem, verify } = this.verifierFor(header.kid, held ?? (await this.keys.reloadFor(header.kid)));
    const digest = hash('sha256', token, 'base64');
    const known = this.verified.get(digest);
    if (known?.pem === pem && this.now() < known.validUntilMs) return known.claims;

    let payload: Record<string, unknown>;
    try {
      payload = verify(token);
    } catch (err) {
      const code = err instanceof TokenError ? err.code : 'unknown';
      throw new TokenRejected(code === TokenError.codes.expired ? 'token_expired' : 'token_invalid', code);
    }
    if (typeof payload.iat === 'number' && payload.iat > this.now() / 1000 + CLOCK_SKEW_SECONDS) {
      throw new TokenRejected('token_invalid', 'issued in the future');
    }
    // The sub names a store key: it must obey the identifier rule like any path id.
    if (typeof payload.sub !== 'string' || !isIdentifier(payload.sub)) throw new TokenRejected('token_invalid', 'missing or invalid sub');
    // A cached token's claims are the same object on every call: frozen, so no caller can change them for the next.
    const claims = Object.freeze(payload) as unknown as Claims;
    // fast-jwt has checked that exp is a number in the future (a required claim).
    this.verified.set(digest, { pem, claims, validUntilMs: Math.min(claims.exp * 1000, this.now() + VERIFIED_TOKEN_TTL_MS) });
    return claims;
  }

  private verifierFor(kid: string, pem: string | undefined): { pem: string; verify: Verify } {
    if (!pem) throw new TokenRejected('token_invalid', 'unknown kid');
    let entry = this.verifiers.get(kid);
    if (entry?.pem !== pem) {
      entry = {
        pem,
        verify: createVerifier({
          key: pem,
          algorithms: ['RS256'],
          allowedIss: this.issuer,
          requiredClaims: ['exp', 'sub', 'iss'],
          checkTyp: 'jwt',
        }) as Verify,
      };
      // A key no longer held takes its verifier with it; its cached tokens are never answered again (their pem differs).
      for (const held of this.verifiers.keys()) {
        if (held !== kid && this.keys.verificationKey(held) === undefined) this.verifiers.delete(held);
      }
      this.verifiers.set(kid, entry);
    }
    return entry;
  }
}
