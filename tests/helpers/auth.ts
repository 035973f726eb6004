import { createPrivateKey, createHmac, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Store } from '../../src/store/store.js';
import { expectResponse, type ApiResponse } from './contract.js';
import { isRecord, parseJson } from './json.js';

export const PASSWORD = 'correct horse battery';

/** Logs in (claiming the user on first use) and returns the token. */
export async function tokenFor(
  api: (m: string, p: string, o?: object) => Promise<ApiResponse>,
  userId: string,
  password = PASSWORD,
): Promise<string> {
  const res = await api('POST', '/api/auth/token', { json: { user_id: userId, password } });
  if (res.status !== 200) throw new Error(`token for ${userId}: ${res.status} ${res.text}`);
  expectResponse(res, 'issueToken', 200);
  return res.body.token;
}

/**
 * A token for `userId` and one session of theirs, `sessionId`, created with
 * `template` and args {v: 'start'}; fails the test unless the create is a 201.
 */
export async function userWithSession(
  api: (m: string, p: string, o?: object) => Promise<ApiResponse>,
  userId: string,
  template: string,
  sessionId = 's',
): Promise<{ auth: { authorization: string } }> {
  const auth = bearer(await tokenFor(api, userId));
  const res = await api('POST', `/api/user/${userId}/session`, {
    json: { session_id: sessionId, template, args: { v: 'start' } },
    headers: auth,
  });
  expectResponse(res, 'createUserSession', 201);
  return { auth };
}

/** The `kid` of a token's protected header, or undefined when the header has none. */
export function kidOf(token: string): unknown {
  const header = parseJson(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
  return isRecord(header) ? header.kid : undefined;
}

/** What `npm run keys:rotate` (scripts/rotate-keys.ts) prints on stdout. */
export interface RotateOutput {
  rotated: true;
  kid: string;
  retired: string | null;
  signsFrom: string;
  immediate: boolean;
}

/** Parses the script's stdout, failing unless it has the shape RotateOutput says. */
export function parseRotateOutput(stdout: string): RotateOutput {
  const value = parseJson(stdout);
  if (
    !isRecord(value) ||
    value.rotated !== true ||
    typeof value.kid !== 'string' ||
    (value.retired !== null && typeof value.retired !== 'string') ||
    typeof value.signsFrom !== 'string' ||
    typeof value.immediate !== 'boolean'
  )
    throw new Error(`keys:rotate printed something else than its result: ${stdout}`);
  return { rotated: true, kid: value.kid, retired: value.retired, signsFrom: value.signsFrom, immediate: value.immediate };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Builds and signs tokens the way an attacker could, with full control of every part. */
export class TokenForge {
  constructor(
    readonly key: KeyObject,
    readonly kid: string,
    readonly issuer = 'realtime-svg',
  ) {}

  static async fromStore(store: Pick<Store, 'get'>): Promise<TokenForge> {
    const jwk = JSON.parse((await store.get('jwk:private'))!.value) as JsonWebKey & { kid: string };
    return new TokenForge(createPrivateKey({ key: jwk, format: 'jwk' }), jwk.kid);
  }

  claims(sub: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    return { sub, iat: now, exp: now + 600, iss: this.issuer, jti: 'forged', ...overrides };
  }

  header(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return { alg: 'RS256', typ: 'JWT', kid: this.kid, ...overrides };
  }

  /** RS256-signed with the given key (the service's own unless told otherwise). */
  rs256(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject = this.key): string {
    const input = `${b64(header)}.${b64(claims)}`;
    return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
  }

  hs256(header: Record<string, unknown>, claims: Record<string, unknown>, secret: string | Buffer): string {
    const input = `${b64(header)}.${b64(claims)}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  }

  unsigned(header: Record<string, unknown>, claims: Record<string, unknown>, signature = ''): string {
    return `${b64(header)}.${b64(claims)}.${signature}`;
  }

  static otherKey(): KeyObject {
    return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  }
}
