import { execFile } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  JWKS_MAX_AGE_SECONDS,
  KeyRing,
  PRIVATE_KEY,
  PUBLIC_KEYS,
  PUBLISH_AHEAD_MS,
  REFRESH_INTERVAL_MS,
  RELOAD_INTERVAL_MS,
  rotateSigningKey,
} from '../../src/domain/auth/keys.js';
import { MAX_TOKEN_TTL_SECONDS, TokenService } from '../../src/domain/auth/tokens.js';
import { projectRoot } from '../../src/paths.js';
import { EmbeddedStore } from '../../src/store/embedded-store.js';
import { RedisStore } from '../../src/store/redis-store.js';
import type { Store } from '../../src/store/store.js';
import { kidOf, parseRotateOutput } from '../helpers/auth.js';
import { isRecord, parseJson } from '../helpers/json.js';
import { redisAvailable, startRedis, type ThrowawayRedis } from '../helpers/redis-server.js';

const run = promisify(execFile);
const TTL = MAX_TOKEN_TTL_SECONDS;

function recordingLogger() {
  const lines: Array<{ level: string; msg: string }> = [];
  return {
    lines,
    info: (_: object, msg: string) => lines.push({ level: 'info', msg }),
    error: (_: object, msg: string) => lines.push({ level: 'error', msg }),
  };
}

/** The store seen through a counter of every call, to prove a path issues no store command. */
function counted(store: Store): { store: Store; calls: () => number; reset(): void } {
  let calls = 0;
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls++;
        const result: unknown = Reflect.apply(value, target, args);
        return result;
      };
    },
  });
  return { store: proxy, calls: () => calls, reset: () => (calls = 0) };
}

const kids = (ring: KeyRing) =>
  ring
    .jwks()
    .keys.map((k) => k.kid)
    .sort();

function keyRingSuite(name: string, open: () => Promise<{ store: Store; close(): Promise<void> }>) {
  describe(`key ring on the ${name} store`, () => {
    let store: Store;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, close } = await open());
    });
    afterAll(async () => close());
    // Each test starts from an empty key store, as a new deployment does.
    beforeEach(async () => {
      await store.delete(PRIVATE_KEY);
      await store.delete(PUBLIC_KEYS);
    });

    /** An instance on the shared store with its own injected clock, no refresh timer, and a token service. */
    async function instance(clock: () => number, on: Store = store) {
      const ring = await KeyRing.open(on, recordingLogger(), { refresh: false, now: clock });
      return { ring, tokens: new TokenService(ring, 'realtime-svg', clock) };
    }

    it('When several instances start at once on an empty store, then they converge on one key', async () => {
      const rings = await Promise.all(Array.from({ length: 5 }, () => KeyRing.open(store, recordingLogger(), { refresh: false })));
      expect(new Set(rings.map((r) => r.currentKid)).size).toBe(1);
      expect(rings[0]!.jwks().keys).toHaveLength(1);
      for (const ring of rings) ring.close();
    });

    it('When a key is rotated without --now, then the JWKS lists the new kid at once while tokens are still signed with the old kid', async () => {
      let now = Date.now();
      const a = await instance(() => now);
      const oldKid = a.ring.currentKid;
      const rotation = await rotateSigningKey(store, { maxTokenTtlSeconds: TTL, now });
      expect(rotation.retired).toBe(oldKid);
      // SPEC §5: published for a JWKS max-age plus the refresh interval before it signs.
      expect(PUBLISH_AHEAD_MS).toBe(JWKS_MAX_AGE_SECONDS * 1000 + REFRESH_INTERVAL_MS);
      expect(rotation.activateAt).toBe(now + PUBLISH_AHEAD_MS);

      await a.ring.refresh();
      const b = await instance(() => now); // started after the rotation
      for (const { ring, tokens } of [a, b]) {
        expect(kids(ring)).toEqual([oldKid, rotation.kid].sort());
        expect(kidOf(tokens.issue('alice', 3600).token)).toBe(oldKid);
      }
      now = rotation.activateAt - 1;
      expect(kidOf(a.tokens.issue('alice', 3600).token)).toBe(oldKid);
      expect(kidOf(b.tokens.issue('alice', 3600).token)).toBe(oldKid);
      a.ring.close();
      b.ring.close();
    });

    it('When the activation instant passes, then tokens are signed with the new kid without a store command, and old tokens still verify', async () => {
      let now = Date.now();
      const watched = counted(store);
      const a = await instance(() => now, watched.store);
      const before = a.tokens.issue('alice', 3600).token;
      const rotation = await rotateSigningKey(store, { maxTokenTtlSeconds: TTL, now });
      await a.ring.refresh();
      const pendingSigned = await instance(() => now); // knows the new key as pending only

      watched.reset();
      now = rotation.activateAt;
      const after = a.tokens.issue('bob', 3600).token;
      expect(kidOf(after)).toBe(rotation.kid);
      expect(a.ring.currentKid).toBe(rotation.kid);
      await expect(a.tokens.verify(before)).resolves.toMatchObject({ sub: 'alice' });
      await expect(a.tokens.verify(after)).resolves.toMatchObject({ sub: 'bob' });
      expect(watched.calls()).toBe(0);
      await expect(pendingSigned.tokens.verify(after)).resolves.toMatchObject({ sub: 'bob' });
      await expect(pendingSigned.tokens.verify(before)).resolves.toMatchObject({ sub: 'alice' });
      expect(kidOf(pendingSigned.tokens.issue('carol', 3600).token)).toBe(rotation.kid);

      // A later refresh agrees with the switch the ring made by itself.
      await a.ring.refresh();
      expect(a.ring.currentKid).toBe(rotation.kid);
      expect(kids(a.ring)).toEqual([rotation.retired, rotation.kid].sort());
      a.ring.close();
      pendingSigned.ring.close();
    });

    it('When a key is rotated with --now, then the new key signs at once and old tokens still verify', async () => {
      const now = Date.now();
      const a = await instance(() => now);
      const before = a.tokens.issue('alice', 3600).token;
      const rotation = await rotateSigningKey(store, { maxTokenTtlSeconds: TTL, now, immediate: true });
      expect(rotation.activateAt).toBe(now);

      await a.ring.refresh();
      const b = await instance(() => now);
      for (const { ring, tokens } of [a, b]) {
        expect(ring.currentKid).toBe(rotation.kid);
        expect(kidOf(tokens.issue('bob', 3600).token)).toBe(rotation.kid);
        expect(kids(ring)).toEqual([rotation.retired, rotation.kid].sort());
        await expect(tokens.verify(before)).resolves.toMatchObject({ sub: 'alice' });
      }
      a.ring.close();
      b.ring.close();
    });

    it('When a second instance shares the store, then it picks the pending key up on refresh and switches at the same instant', async () => {
      let now = Date.now();
      const a = await instance(() => now);
      const b = await instance(() => now);
      const oldKid = a.ring.currentKid;
      const rotation = await rotateSigningKey(store, { maxTokenTtlSeconds: TTL, now });
      expect(kids(b.ring)).toEqual([oldKid]); // not refreshed yet

      await b.ring.refresh();
      expect(kids(b.ring)).toEqual([oldKid, rotation.kid].sort());
      expect(b.ring.currentKid).toBe(oldKid);

      now = rotation.activateAt;
      await a.ring.refresh();
      const fromA = a.tokens.issue('alice', 3600).token;
      const fromB = b.tokens.issue('bob', 3600).token;
      expect([kidOf(fromA), kidOf(fromB)]).toEqual([rotation.kid, rotation.kid]);
      await expect(b.tokens.verify(fromA)).resolves.toMatchObject({ sub: 'alice' });
      await expect(a.tokens.verify(fromB)).resolves.toMatchObject({ sub: 'bob' });
      a.ring.close();
      b.ring.close();
    });

    it('When a pending key is replaced by another rotation, then an instance that switched to it before refreshing still issues tokens that verify', async () => {
      let now = Date.now();
      const stale = await instance(() => now);
      const first = await rotateSigningKey(store, { maxTokenTtlSeconds: TTL, now });
      await stale.ring.refresh();
      now = first.activateAt - 1000;
      const second = await rotateSigningKey(store, { maxTokenTtlSeconds: TTL, now });
      expect(second.retired).toBe(first.retired); // the first pending key never took over in the store

      now = first.activateAt; // stale has not refreshed since the second rotation
      const token = stale.tokens.issue('alice', 3600).token;
      expect(kidOf(token)).toBe(first.kid);
      const fresh = await instance(() => now);
      expect(fresh.ring.currentKid).toBe(first.retired);
      await expect(fresh.tokens.verify(token)).resolves.toMatchObject({ sub: 'alice' });
      expect(kids(fresh.ring)).toEqual([first.retired, first.kid, second.kid].sort());
      stale.ring.close();
      fresh.ring.close();
    });

    it('When every token an old key signed has expired, then the next rotation drops it from the JWKS', async () => {
      let now = Date.now();
      const a = await instance(() => now);
      const rotation = await rotateSigningKey(store, { maxTokenTtlSeconds: TTL, now });
      now = rotation.activateAt + REFRESH_INTERVAL_MS + TTL * 1000 - 1;
      await a.ring.refresh();
      expect(kids(a.ring)).toContain(rotation.retired);

      now += 1;
      await a.ring.refresh();
      expect(kids(a.ring)).not.toContain(rotation.retired);
      const next = await rotateSigningKey(store, { maxTokenTtlSeconds: TTL, now });
      const later = await instance(() => now);
      expect(kids(later.ring)).toEqual([rotation.kid, next.kid].sort());
      a.ring.close();
      later.ring.close();
    });

    it('When a rotation is pending, then jwk:private still holds the signing key as a plain JWK at its top, as earlier versions read it', async () => {
      const now = Date.now();
      const a = await instance(() => now);
      const rotation = await rotateSigningKey(store, { maxTokenTtlSeconds: TTL, now });
      const stored = await store.get(PRIVATE_KEY);
      expect(stored).not.toBeNull();
      const top = parseJson(stored?.value ?? 'null');
      if (!isRecord(top)) throw new Error(`${PRIVATE_KEY} does not hold a JSON object: ${stored?.value ?? 'nothing'}`);
      expect(top.kid).toBe(rotation.retired);
      expect(createPrivateKey({ key: top, format: 'jwk' }).type).toBe('private');
      expect(top.next).toMatchObject({ kid: rotation.kid, activateAt: rotation.activateAt });
      a.ring.close();
    });

    it('When unknown kids arrive in a burst, then the store is read at most once per interval', async () => {
      let now = Date.now();
      const ring = await KeyRing.open(store, recordingLogger(), { refresh: false, now: () => now });
      let reads = 0;
      const countedGet: Store['get'] = (key) => (reads++, store.get(key));
      const counting = new Proxy(store, {
        get(target, property, receiver) {
          if (property === 'get') return countedGet;
          const value: unknown = Reflect.get(target, property, receiver);
          return value;
        },
      });
      const watched = await KeyRing.open(counting, recordingLogger(), { refresh: false, now: () => now });
      reads = 0;
      for (let i = 0; i < 50; i++) expect(await watched.reloadFor(`unknown-${i}`)).toBeUndefined();
      expect(reads).toBe(2); // one reload: private key and public set
      now += RELOAD_INTERVAL_MS;
      await watched.reloadFor('unknown-again');
      expect(reads).toBe(4);
      ring.close();
      watched.close();
    });

    it('When the store has lost the keys, then a new pair is made, old tokens fail, and it is logged as an error', async () => {
      let now = Date.now();
      const log = recordingLogger();
      const ring = await KeyRing.open(store, log, { refresh: false, now: () => now });
      const tokens = new TokenService(ring, 'realtime-svg', () => now);
      const before = tokens.issue('alice', 3600).token;
      const oldKid = ring.currentKid;
      await store.delete(PRIVATE_KEY);
      await store.delete(PUBLIC_KEYS);
      now += RELOAD_INTERVAL_MS;
      await ring.reloadFor('anything');
      expect(ring.currentKid).not.toBe(oldKid);
      expect(log.lines.some((l) => l.level === 'error' && /missing from the store/.test(l.msg))).toBe(true);
      await expect(tokens.verify(before)).rejects.toMatchObject({ code: 'token_invalid' });
      ring.close();
    });
  });
}

keyRingSuite('embedded', async () => {
  const store = new EmbeddedStore();
  return { store, close: () => store.close() };
});

describe.runIf(redisAvailable())('redis', () => {
  let redis: ThrowawayRedis;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });
  keyRingSuite('redis', async () => {
    await client.flushall(); // our own throwaway server
    const store = new RedisStore(client, client.duplicate());
    return { store, close: () => store.close() };
  });

  // Each case starts the script as its own TypeScript process: seconds apiece, many more on a loaded machine.
  describe('npm run keys:rotate', { timeout: 90_000 }, () => {
    let own: Redis;
    let store: RedisStore;
    beforeAll(async () => {
      // The key ring suite's store has closed the shared client.
      own = new Redis(redis.url);
      await own.flushall(); // our own throwaway server
      store = new RedisStore(own, own.duplicate());
    });
    afterAll(async () => store?.close());

    const rotate = async (...args: string[]) => {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/rotate-keys.ts', ...args], {
        cwd: projectRoot,
        env: { ...process.env, REDIS_URL: redis.url },
      });
      return parseRotateOutput(stdout);
    };

    it('When it runs without --now, then it publishes a key that signs only after the JWKS max-age plus the refresh interval', async () => {
      const ring = await KeyRing.open(store, recordingLogger(), { refresh: false });
      const oldKid = ring.currentKid;
      const started = Date.now();
      const rotated = await rotate();
      const ended = Date.now();
      expect(rotated).toMatchObject({ retired: oldKid, immediate: false });
      // Bounds from both sides of the run, so the test does not depend on how long the script took.
      const signsFrom = Date.parse(rotated.signsFrom);
      expect(signsFrom).toBeGreaterThanOrEqual(started + PUBLISH_AHEAD_MS);
      expect(signsFrom).toBeLessThanOrEqual(ended + PUBLISH_AHEAD_MS);
      await ring.refresh();
      expect(ring.currentKid).toBe(oldKid);
      expect(kids(ring)).toContain(rotated.kid);
      ring.close();
    });

    it('When it runs with --now, then the new key signs at once', async () => {
      const rotated = await rotate('--now');
      expect(rotated.immediate).toBe(true);
      const ring = await KeyRing.open(store, recordingLogger(), { refresh: false });
      expect(ring.currentKid).toBe(rotated.kid);
      ring.close();
    });

    it('When it is given an argument it does not know, then it refuses without rotating', async () => {
      const before = await own.get(PRIVATE_KEY);
      await expect(rotate('--nwo')).rejects.toMatchObject({ code: 2 });
      expect(await own.get(PRIVATE_KEY)).toBe(before);
    });
  });
});
