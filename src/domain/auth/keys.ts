import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type JsonWebKey, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { Store } from '../../store/store.js';

const generateRsa = promisify(generateKeyPair);

export const PRIVATE_KEY = 'jwk:private';
export const PUBLIC_KEYS = 'jwk:public';
/** An unknown kid may reload keys from the store at most this often. */
export const RELOAD_INTERVAL_MS = 5000;
/** Instances pick up a key rotated elsewhere within this time. */
export const REFRESH_INTERVAL_MS = 60_000;

/** RFC 7517 public members only: what /.well-known/jwks.json publishes. */
export interface PublicJwk {
  kty: 'RSA';
  n: string;
  e: string;
  alg: 'RS256';
  use: 'sig';
  kid: string;
}

/** jwk:public in the store: the published keys plus when each retired one may be dropped. */
interface StoredPublicKeys {
  keys: PublicJwk[];
  retireAt: Record<string, number>;
}

export interface KeyLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** RFC 7638 thumbprint: a kid that is stable for the key and computable by anyone. */
function thumbprint(jwk: { e: string; n: string }): string {
  return createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n })).digest('base64url');
}

function publicMembers(jwk: JsonWebKey & { kid: string }): PublicJwk {
  return { kty: 'RSA', n: jwk.n!, e: jwk.e!, alg: 'RS256', use: 'sig', kid: jwk.kid };
}

export async function generateSigningJwk(): Promise<JsonWebKey & { kid: string }> {
  const { privateKey } = await generateRsa('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: thumbprint(jwk as { e: string; n: string }), alg: 'RS256', use: 'sig' };
}

function toPem(key: KeyObject): string {
  return key.type === 'private'
    ? (key.export({ type: 'pkcs8', format: 'pem' }) as string)
    : (key.export({ type: 'spki', format: 'pem' }) as string);
}

function parsePublicKeys(value: string | undefined): StoredPublicKeys {
  if (!value) return { keys: [], retireAt: {} };
  const parsed = JSON.parse(value) as Partial<StoredPublicKeys>;
  return { keys: parsed.keys ?? [], retireAt: parsed.retireAt ?? {} };
}

/**
 * The signing key and every key tokens may still be verified with, held in
 * memory: verifying a token never touches the store.
 */
export class KeyRing {
  private signing!: { kid: string; pem: string };
  private verifying = new Map<string, string>();
  private published: PublicJwk[] = [];
  private lastReload = 0;
  private refresher?: NodeJS.Timeout;

  private constructor(
    private readonly store: Store,
    private readonly log: KeyLogger,
    private readonly now: () => number,
  ) {}

  /** Loads the keys, creating the first pair (SET NX, so concurrent instances converge) when there is none. */
  static async open(store: Store, log: KeyLogger, options: { refresh?: boolean; now?: () => number } = {}): Promise<KeyRing> {
    const ring = new KeyRing(store, log, options.now ?? Date.now);
    await ring.load(false);
    if (options.refresh !== false) {
      ring.refresher = setInterval(() => void ring.load(true).catch((err: unknown) => log.error({ err }, 'key refresh failed')), REFRESH_INTERVAL_MS);
      ring.refresher.unref();
    }
    return ring;
  }

  get currentKid(): string {
    return this.signing.kid;
  }

  /** PKCS#8 PEM of the current signing key. */
  get signingKey(): string {
    return this.signing.pem;
  }

  /** SPKI PEM of a key tokens may be verified with, by kid. */
  verificationKey(kid: string): string | undefined {
    return this.verifying.get(kid);
  }

  /** For a kid we don't know: maybe another instance rotated. Reloads at most once per RELOAD_INTERVAL_MS. */
  async reloadFor(kid: string): Promise<string | undefined> {
    if (this.now() - this.lastReload >= RELOAD_INTERVAL_MS) {
      this.lastReload = this.now();
      await this.load(true);
    }
    return this.verifying.get(kid);
  }

  jwks(): { keys: PublicJwk[] } {
    return { keys: this.published };
  }

  close(): void {
    clearInterval(this.refresher);
  }

  private async load(hadKeys: boolean): Promise<void> {
    let stored = await this.store.get(PRIVATE_KEY);
    if (!stored) {
      const fresh = await generateSigningJwk();
      if (await this.store.create(PRIVATE_KEY, JSON.stringify(fresh), null)) {
        if (hadKeys || this.signing) {
          this.log.error({ kid: fresh.kid }, 'signing key was missing from the store: generated a new pair; tokens signed before are now invalid');
        } else {
          this.log.info({ kid: fresh.kid }, 'no signing key in the store: created one');
        }
      }
      // Whoever won the SET NX, everyone uses what is stored now.
      stored = await this.store.get(PRIVATE_KEY);
      if (!stored) throw new Error('signing key vanished right after it was created');
    }
    const privateJwk = JSON.parse(stored.value) as JsonWebKey & { kid: string };
    const publicKeys = parsePublicKeys((await this.store.get(PUBLIC_KEYS))?.value);
    const current = publicMembers(privateJwk);
    if (!publicKeys.keys.some((k) => k.kid === current.kid)) {
      publicKeys.keys.push(current);
      await this.store.put(PUBLIC_KEYS, JSON.stringify(publicKeys));
    }
    const live = publicKeys.keys.filter((k) => k.kid === current.kid || (publicKeys.retireAt[k.kid] ?? Infinity) > this.now());
    const changed = this.signing?.kid !== current.kid;
    this.signing = { kid: current.kid, pem: toPem(createPrivateKey({ key: privateJwk, format: 'jwk' })) };
    this.verifying = new Map(live.map((k) => [k.kid, this.verifying.get(k.kid) ?? toPem(createPublicKey({ key: { ...k } as JsonWebKey, format: 'jwk' }))]));
    this.published = live;
    if (changed) this.log.info({ kid: current.kid, verificationKeys: live.length }, 'signing key loaded');
  }
}

/**
 * Makes a new current signing key. The previous public key stays published
 * until every token it signed has expired (maxTokenTtlSeconds from now).
 */
export async function rotateSigningKey(store: Store, maxTokenTtlSeconds: number, now = Date.now()): Promise<{ kid: string; retired?: string }> {
  const previous = await store.get(PRIVATE_KEY);
  const fresh = await generateSigningJwk();
  const publicKeys = parsePublicKeys((await store.get(PUBLIC_KEYS))?.value);
  let retired: string | undefined;
  if (previous) {
    const old = publicMembers(JSON.parse(previous.value) as JsonWebKey & { kid: string });
    retired = old.kid;
    if (!publicKeys.keys.some((k) => k.kid === old.kid)) publicKeys.keys.push(old);
    publicKeys.retireAt[old.kid] = now + maxTokenTtlSeconds * 1000;
  }
  // Drop keys whose tokens have all expired.
  publicKeys.keys = publicKeys.keys.filter((k) => (publicKeys.retireAt[k.kid] ?? Infinity) > now);
  for (const kid of Object.keys(publicKeys.retireAt)) {
    if (!publicKeys.keys.some((k) => k.kid === kid)) delete publicKeys.retireAt[kid];
  }
  publicKeys.keys.push(publicMembers(fresh));
  // Public set first: a token signed with the new key must never meet a JWKS without it.
  await store.put(PUBLIC_KEYS, JSON.stringify(publicKeys));
  await store.put(PRIVATE_KEY, JSON.stringify(fresh));
  return { kid: fresh.kid, retired };
}
