import { randomUUID } from 'node:crypto';
import { createSigner, createVerifier, TokenError } from 'fast-jwt';
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
 * Tokens whose signature this instance has checked, per key (fast-jwt's LRU,
 * keyed by the token's SHA-256). A client sends the same token with every
 * write, and the RS256 check was most of what authentication cost a write.
 * An entry never outlives the token's exp, nor 10 minutes (fast-jwt's
 * cacheTTL); a failure is never answered from it (fast-jwt stores it
 * already expired); a key no longer held is refused before its cache is
 * consulted, and a changed key gets a new one.
 */
const VERIFIED_TOKENS_PER_KEY = 10_000;

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

    const verify = await this.verifierFor(header.kid);
    let claims: Record<string, unknown>;
    try {
      claims = verify(token);
    } catch (err) {
      const code = err instanceof TokenError ? err.code : 'unknown';
      throw new TokenRejected(code === TokenError.codes.expired ? 'token_expired' : 'token_invalid', code);
    }
    if (typeof claims.iat === 'number' && claims.iat > this.now() / 1000 + CLOCK_SKEW_SECONDS) {
      throw new TokenRejected('token_invalid', 'issued in the future');
    }
    // The sub names a store key: it must obey the identifier rule like any path id.
    if (typeof claims.sub !== 'string' || !isIdentifier(claims.sub)) throw new TokenRejected('token_invalid', 'missing or invalid sub');
    // A cached token's claims are the same object on every call: frozen, so no caller can change them for the next.
    return Object.freeze(claims) as unknown as Claims;
  }

  private async verifierFor(kid: string): Promise<Verify> {
    const pem = this.keys.verificationKey(kid) ?? (await this.keys.reloadFor(kid));
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
          cache: VERIFIED_TOKENS_PER_KEY,
        }) as Verify,
      };
      // A key no longer held takes its verifier and cached tokens with it.
      for (const held of this.verifiers.keys()) {
        if (held !== kid && this.keys.verificationKey(held) === undefined) this.verifiers.delete(held);
      }
      this.verifiers.set(kid, entry);
    }
    return entry.verify;
  }
}
