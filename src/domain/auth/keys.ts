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
/** How long anyone may cache /.well-known/jwks.json: the Cache-Control max-age it is served with. */
export const JWKS_MAX_AGE_SECONDS = 300;
/**
 * A rotated key is published this long before it signs. By then every
 * instance has refreshed and serves it (REFRESH_INTERVAL_MS), and every JWKS
 * cached before that has expired (JWKS_MAX_AGE_SECONDS), so no verifier meets
 * a kid it has not had the chance to fetch.
 */
export const PUBLISH_AHEAD_MS = JWKS_MAX_AGE_SECONDS * 1000 + REFRESH_INTERVAL_MS;

/** RFC 7517 public members only: what /.well-known/jwks.json publishes. */
export interface PublicJwk {
  kty: 'RSA';
  n: string;
  e: string;
  alg: 'RS256';
  use: 'sig';
  kid: string;
}

/** A private RSA JWK as generated and stored: n and e are always there (checked when read). */
export type PrivateJwk = JsonWebKey & { kid: string; n: string; e: string };

/**
 * jwk:private in the store. Its top level is the key that signs until
 * `next.activateAt`: a plain JWK, exactly what was stored before rotation
 * learned to wait, so stores written then load unchanged and older readers
 * still find a key that may sign. `next` (an extra JWK member, which RFC 7517
 * readers ignore) is the key published ahead of signing; once its activateAt
 * has passed it is the signing key, and the next rotation moves it to the top.
 */
interface StoredPrivateKeys {
  current: PrivateJwk;
  next?: PendingJwk;
}

type PendingJwk = PrivateJwk & { activateAt: number };

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
  return createHash('sha256')
    .update(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n }))
    .digest('base64url');
}

function publicMembers(jwk: PrivateJwk): PublicJwk {
  return { kty: 'RSA', n: jwk.n, e: jwk.e, alg: 'RS256', use: 'sig', kid: jwk.kid };
}

export async function generateSigningJwk(): Promise<PrivateJwk> {
  const { privateKey } = await generateRsa('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const jwk = privateKey.export({ format: 'jwk' });
  const { n, e } = jwk;
  if (typeof n !== 'string' || typeof e !== 'string') throw new Error('an RSA JWK without n or e');
  return { ...jwk, n, e, kid: thumbprint({ n, e }), alg: 'RS256', use: 'sig' };
}

function toPem(key: KeyObject): string {
  return key.type === 'private'
    ? (key.export({ type: 'pkcs8', format: 'pem' }) as string)
    : (key.export({ type: 'spki', format: 'pem' }) as string);
}

/** The JWK without our own members (next, activateAt): what the key import and older readers expect. */
function bare(jwk: PrivateJwk): PrivateJwk {
  const { next: _next, activateAt: _activateAt, ...key } = jwk;
  return key;
}

function privatePem(jwk: PrivateJwk): string {
  return toPem(createPrivateKey({ key: bare(jwk), format: 'jwk' }));
}

function isPrivateJwk(value: unknown): value is PrivateJwk {
  if (value === null || typeof value !== 'object') return false;
  const jwk = value as Record<string, unknown>;
  return typeof jwk.kid === 'string' && typeof jwk.n === 'string' && typeof jwk.e === 'string' && typeof jwk.d === 'string';
}

function parsePrivateKeys(value: string): StoredPrivateKeys {
  const parsed: unknown = JSON.parse(value);
  if (!isPrivateJwk(parsed)) throw new Error(`${PRIVATE_KEY} does not hold an RSA private JWK`);
  const { next, ...current } = parsed;
  if (next === undefined) return { current };
  if (!isPrivateJwk(next) || typeof next.activateAt !== 'number') throw new Error(`${PRIVATE_KEY} holds a malformed next key`);
  return { current, next: next as PendingJwk };
}

function serializePrivateKeys({ current, next }: StoredPrivateKeys): string {
  return JSON.stringify(next ? { ...bare(current), next } : bare(current));
}

/** Freezes a JSON value all the way down; typed as it was, since nothing may tell it apart but a write. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

function sameKeys(a: readonly PublicJwk[], b: readonly PublicJwk[]): boolean {
  return a.length === b.length && a.every((key, i) => JSON.stringify(key) === JSON.stringify(b[i]));
}

/** Which stored key signs at `now`, and which one is published but waits. */
function signingAt({ current, next }: StoredPrivateKeys, now: number): { signs: PrivateJwk; waiting?: PendingJwk } {
  if (!next) return { signs: current };
  return next.activateAt <= now ? { signs: next } : { signs: current, waiting: next };
}

function parsePublicKeys(value: string | undefined): StoredPublicKeys {
  if (!value) return { keys: [], retireAt: {} };
  const parsed = JSON.parse(value) as Partial<StoredPublicKeys>;
  return { keys: parsed.keys ?? [], retireAt: parsed.retireAt ?? {} };
}

/**
 * The signing key and every key tokens may still be verified with, held in
 * memory: verifying a token never touches the store. A rotated key waits
 * here, published and trusted, until its activation instant; the first
 * signature asked for after that instant uses it, without asking the store.
 */
export class KeyRing {
  // Assigned by load(), which open() awaits before handing the ring out.
  /** Unset only until the first load, which open() awaits before handing the ring out. */
  private signing?: { kid: string; pem: string };
  private pending?: { kid: string; pem: string; activateAt: number };
  private verifying = new Map<string, string>();
  /** Frozen, and the same object until the keys change: the HTTP layer serialises it once per change. */
  private published: { keys: PublicJwk[] } = deepFreeze({ keys: [] });
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
      ring.refresher = setInterval(
        () => void ring.refresh().catch((err: unknown) => log.error({ err }, 'key refresh failed')),
        REFRESH_INTERVAL_MS,
      );
      ring.refresher.unref();
    }
    return ring;
  }

  private loaded(): { kid: string; pem: string } {
    if (!this.signing) throw new Error('KeyRing used before its keys were loaded');
    return this.signing;
  }

  /**
   * The kid to sign with now. Read it before signingKey: this is where a
   * waiting key takes over once its instant has passed, so the two always
   * name the same key.
   */
  get currentKid(): string {
    const pending = this.pending;
    if (pending && this.now() >= pending.activateAt) {
      this.signing = { kid: pending.kid, pem: pending.pem };
      this.pending = undefined;
      this.log.info({ kid: pending.kid }, 'published key now signs');
    }
    return this.loaded().kid;
  }

  /** PKCS#8 PEM of the key currentKid named. */
  get signingKey(): string {
    return this.loaded().pem;
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

  /** What the periodic refresh does: picks up keys rotated elsewhere, published or signing. */
  async refresh(): Promise<void> {
    await this.load(true);
  }

  jwks(): { keys: PublicJwk[] } {
    return this.published;
  }

  close(): void {
    clearInterval(this.refresher);
  }

  private async load(hadKeys: boolean): Promise<void> {
    let stored = await this.store.get(PRIVATE_KEY);
    if (!stored) {
      const fresh = await generateSigningJwk();
      if (await this.store.create(PRIVATE_KEY, serializePrivateKeys({ current: fresh }), null)) {
        if (hadKeys || this.signing) {
          this.log.error(
            { kid: fresh.kid },
            'signing key was missing from the store: generated a new pair; tokens signed before are now invalid',
          );
        } else {
          this.log.info({ kid: fresh.kid }, 'no signing key in the store: created one');
        }
      }
      // Whoever won the SET NX, everyone uses what is stored now.
      stored = await this.store.get(PRIVATE_KEY);
      if (!stored) throw new Error('signing key vanished right after it was created');
    }
    const privateKeys = parsePrivateKeys(stored.value);
    const publicKeys = parsePublicKeys((await this.store.get(PUBLIC_KEYS))?.value);
    const now = this.now();
    const { signs, waiting } = signingAt(privateKeys, now);
    // Not the top-level key once next took over: republished without its retireAt, it would be trusted for good.
    const unpublished = (waiting ? [signs, waiting] : [signs]).filter((jwk) => !publicKeys.keys.some((k) => k.kid === jwk.kid));
    if (unpublished.length > 0) {
      publicKeys.keys.push(...unpublished.map(publicMembers));
      await this.store.put(PUBLIC_KEYS, JSON.stringify(publicKeys));
    }
    // The top-level key stays held after `next` took over, but only its retireAt keeps it trusted.
    const live = publicKeys.keys.filter(
      (k) => k.kid === signs.kid || k.kid === waiting?.kid || (publicKeys.retireAt[k.kid] ?? Infinity) > now,
    );
    const changed = this.signing?.kid !== signs.kid;
    const newlyWaiting = waiting && this.pending?.kid !== waiting.kid;
    if (changed) this.signing = { kid: signs.kid, pem: privatePem(signs) };
    if (!waiting) this.pending = undefined;
    else if (newlyWaiting) this.pending = { kid: waiting.kid, pem: privatePem(waiting), activateAt: waiting.activateAt };
    this.verifying = new Map(
      live.map((k) => [k.kid, this.verifying.get(k.kid) ?? toPem(createPublicKey({ key: { ...k }, format: 'jwk' }))]),
    );
    if (!sameKeys(this.published.keys, live)) this.published = deepFreeze({ keys: live });
    if (changed) this.log.info({ kid: signs.kid, verificationKeys: live.length }, 'signing key loaded');
    if (newlyWaiting)
      this.log.info(
        { kid: waiting.kid, activateAt: new Date(waiting.activateAt).toISOString() },
        'key published; it signs from activateAt',
      );
  }
}

export interface RotateOptions {
  /** The longest lifetime a token may have: how long a key that stopped signing stays published. */
  maxTokenTtlSeconds: number;
  /** Sign with the new key at once (a compromised key) instead of publishing it PUBLISH_AHEAD_MS first. */
  immediate?: boolean;
  now?: number;
}

export interface Rotation {
  kid: string;
  /** When the new key starts signing (epoch ms). */
  activateAt: number;
  /** The kid that signs until then, if there was one. */
  retired?: string;
}

/**
 * Makes a new signing key. It is published at once and signs from
 * activateAt: PUBLISH_AHEAD_MS from now, or at once when immediate. The key
 * it replaces keeps signing until then, and stays published until every
 * token it can have signed has expired.
 */
export async function rotateSigningKey(store: Store, options: RotateOptions): Promise<Rotation> {
  const now = options.now ?? Date.now();
  // An instance may go on signing with a key until its next refresh shows it the store's choice.
  const keepFor = REFRESH_INTERVAL_MS + options.maxTokenTtlSeconds * 1000;
  const previous = await store.get(PRIVATE_KEY);
  const fresh = await generateSigningJwk();
  const publicKeys = parsePublicKeys((await store.get(PUBLIC_KEYS))?.value);
  const publish = (jwk: PrivateJwk) => {
    if (!publicKeys.keys.some((k) => k.kid === jwk.kid)) publicKeys.keys.push(publicMembers(jwk));
  };

  let next: StoredPrivateKeys;
  let retired: string | undefined;
  let activateAt = now;
  if (!previous) {
    // Nothing signs yet, so there is nothing to wait for.
    next = { current: fresh };
  } else {
    const stored = parsePrivateKeys(previous.value);
    const { signs, waiting } = signingAt(stored, now);
    retired = signs.kid;
    publish(signs);
    if (stored.next && signs === stored.next) {
      // The old top-level key stopped signing when next took over.
      publicKeys.retireAt[stored.current.kid] = stored.next.activateAt + keepFor;
    }
    if (waiting) {
      // Replaced before its instant: only an instance that has not refreshed since can sign with it.
      publish(waiting);
      publicKeys.retireAt[waiting.kid] = now + keepFor;
    }
    if (!options.immediate) activateAt = now + PUBLISH_AHEAD_MS;
    publicKeys.retireAt[signs.kid] = activateAt + keepFor;
    next = options.immediate ? { current: fresh } : { current: signs, next: { ...fresh, activateAt } };
  }
  // Drop keys whose tokens have all expired.
  publicKeys.keys = publicKeys.keys.filter((k) => (publicKeys.retireAt[k.kid] ?? Infinity) > now);
  publicKeys.retireAt = Object.fromEntries(
    Object.entries(publicKeys.retireAt).filter(([kid]) => publicKeys.keys.some((k) => k.kid === kid)),
  );
  publish(fresh);
  // Public set first: no instance may load a key, to sign or to wait, before it is published.
  await store.put(PUBLIC_KEYS, JSON.stringify(publicKeys));
  await store.put(PRIVATE_KEY, serializePrivateKeys(next));
  return { kid: fresh.kid, activateAt, retired };
}
