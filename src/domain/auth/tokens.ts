import { randomUUID, sign, verify } from 'node:crypto';
import { DomainError } from '../errors.js';
import { isIdentifier } from '../ids.js';
import type { KeyRing } from './keys.js';

export const DEFAULT_TOKEN_TTL_SECONDS = 86_400;
export const MIN_TOKEN_TTL_SECONDS = 60;
export const MAX_TOKEN_TTL_SECONDS = 2_592_000;
const MAX_TOKEN_BYTES = 4096;
const SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Header members that would let a token choose its own key or semantics: never honoured. */
const FORBIDDEN_HEADER_MEMBERS = ['crit', 'jku', 'x5u', 'jwk', 'x5c'];
/** Tolerated clock difference for nbf/iat between issuers and verifiers. */
const CLOCK_SKEW_SECONDS = 30;

export interface Claims {
  sub: string;
  iat: number;
  exp: number;
  iss: string;
  jti: string;
}

/** Why a token was refused: the precise code for the client, the reason for the log. */
export class TokenRejected extends DomainError {
  constructor(
    code: 'token_missing' | 'token_invalid' | 'token_expired',
    readonly reason: string,
  ) {
    super(code, code === 'token_expired' ? 'the token has expired' : code === 'token_missing' ? 'a Bearer token is required' : 'the token is not valid');
  }
}

function encodeSegment(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeSegment(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * RS256 JWTs signed and verified with node:crypto and KeyObjects cached in the
 * KeyRing. Verification does no I/O (unless an unknown kid triggers the
 * throttled reload) and accepts exactly one algorithm; see README for why not
 * fast-jwt or jose here.
 */
export class TokenService {
  constructor(
    private readonly keys: KeyRing,
    private readonly issuer: string,
    private readonly now: () => number = Date.now,
  ) {}

  issue(subject: string, ttlSeconds: number): { token: string; claims: Claims } {
    const iat = Math.floor(this.now() / 1000);
    const claims: Claims = { sub: subject, iat, exp: iat + ttlSeconds, iss: this.issuer, jti: randomUUID() };
    const input = `${encodeSegment({ alg: 'RS256', typ: 'JWT', kid: this.keys.currentKid })}.${encodeSegment(claims)}`;
    const signature = sign('sha256', Buffer.from(input), this.keys.signingKey).toString('base64url');
    return { token: `${input}.${signature}`, claims };
  }

  /** Reads `Authorization: Bearer <jwt>`; anything else is token_missing. */
  tokenFromHeader(header: string | undefined): string {
    if (!header) throw new TokenRejected('token_missing', 'no Authorization header');
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match) throw new TokenRejected('token_missing', 'Authorization is not a Bearer token');
    return match[1]!;
  }

  async verify(token: string): Promise<Claims> {
    if (token.length > MAX_TOKEN_BYTES || !SHAPE.test(token)) throw new TokenRejected('token_missing', 'malformed token');
    const [headerPart, payloadPart, signaturePart] = token.split('.') as [string, string, string];
    const header = decodeSegment(headerPart);
    if (!header) throw new TokenRejected('token_invalid', 'malformed header');
    if (header.alg !== 'RS256') throw new TokenRejected('token_invalid', `algorithm ${String(header.alg)} not accepted`);
    if (header.typ !== undefined && header.typ !== 'JWT') throw new TokenRejected('token_invalid', 'unexpected typ');
    const forbidden = FORBIDDEN_HEADER_MEMBERS.find((name) => name in header);
    if (forbidden) throw new TokenRejected('token_invalid', `header member ${forbidden} not accepted`);
    if (typeof header.kid !== 'string') throw new TokenRejected('token_invalid', 'no kid');

    const key = this.keys.verificationKey(header.kid) ?? (await this.keys.reloadFor(header.kid));
    if (!key) throw new TokenRejected('token_invalid', 'unknown kid');
    const signature = Buffer.from(signaturePart, 'base64url');
    // The canonical encoding must round-trip: no trailing bits smuggled into the signature.
    if (signature.toString('base64url') !== signaturePart || !verify('sha256', Buffer.from(`${headerPart}.${payloadPart}`), key, signature)) {
      throw new TokenRejected('token_invalid', 'bad signature');
    }

    const claims = decodeSegment(payloadPart);
    if (!claims) throw new TokenRejected('token_invalid', 'malformed payload');
    const nowSeconds = this.now() / 1000;
    if (claims.iss !== this.issuer) throw new TokenRejected('token_invalid', 'wrong issuer');
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) throw new TokenRejected('token_invalid', 'no exp');
    if (claims.exp <= nowSeconds) throw new TokenRejected('token_expired', 'expired');
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > nowSeconds + CLOCK_SKEW_SECONDS)) {
      throw new TokenRejected('token_invalid', 'not yet valid');
    }
    if (claims.iat !== undefined && (typeof claims.iat !== 'number' || claims.iat > nowSeconds + CLOCK_SKEW_SECONDS)) {
      throw new TokenRejected('token_invalid', 'issued in the future');
    }
    if (typeof claims.sub !== 'string' || !isIdentifier(claims.sub)) throw new TokenRejected('token_invalid', 'missing or invalid sub');
    return claims as unknown as Claims;
  }
}
