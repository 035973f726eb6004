import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing, PRIVATE_KEY, PUBLIC_KEYS, RELOAD_INTERVAL_MS, rotateSigningKey } from '../../src/domain/auth/keys.js';
import { TokenService } from '../../src/domain/auth/tokens.js';
import { EmbeddedStore } from '../../src/store/embedded-store.js';
import { RedisStore } from '../../src/store/redis-store.js';
import type { Store } from '../../src/store/store.js';
import { redisAvailable, startRedis, type ThrowawayRedis } from '../helpers/redis-server.js';

function recordingLogger() {
  const lines: Array<{ level: string; msg: string }> = [];
  return {
    lines,
    info: (_: object, msg: string) => lines.push({ level: 'info', msg }),
    error: (_: object, msg: string) => lines.push({ level: 'error', msg }),
  };
}

function keyRingSuite(name: string, open: () => Promise<{ store: Store; close(): Promise<void> }>) {
  describe(`key ring on the ${name} store`, () => {
    let store: Store;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, close } = await open());
    });
    afterAll(async () => close());

    it('When several instances start at once on an empty store, then they converge on one key', async () => {
      const rings = await Promise.all(Array.from({ length: 5 }, () => KeyRing.open(store, recordingLogger(), { refresh: false })));
      expect(new Set(rings.map((r) => r.currentKid)).size).toBe(1);
      expect(rings[0]!.jwks().keys).toHaveLength(1);
      for (const ring of rings) ring.close();
    });

    it('When a key is rotated, then old tokens still verify, new ones use the new kid, and the JWKS holds both', async () => {
      let now = Date.now();
      const ring = await KeyRing.open(store, recordingLogger(), { refresh: false, now: () => now });
      const tokens = new TokenService(ring, 'realtime-svg', () => now);
      const old = tokens.issue('alice', 3600).token;
      const { kid, retired } = await rotateSigningKey(store, 2_592_000, now);
      expect(retired).toBe(ring.currentKid);

      const fresh = await KeyRing.open(store, recordingLogger(), { refresh: false, now: () => now });
      expect(fresh.currentKid).toBe(kid);
      expect(fresh.jwks().keys.map((k) => k.kid).sort()).toEqual([kid, retired].sort());
      const freshTokens = new TokenService(fresh, 'realtime-svg', () => now);
      await expect(freshTokens.verify(old)).resolves.toMatchObject({ sub: 'alice' });
      // The old instance meets the new kid and reloads once.
      now += RELOAD_INTERVAL_MS;
      await expect(tokens.verify(freshTokens.issue('bob', 3600).token)).resolves.toMatchObject({ sub: 'bob' });
      expect(ring.currentKid).toBe(kid);

      // Once every token the old key signed has expired, it leaves the JWKS.
      now += 2_592_000 * 1000 + 1000;
      await rotateSigningKey(store, 2_592_000, now);
      const later = await KeyRing.open(store, recordingLogger(), { refresh: false, now: () => now });
      expect(later.jwks().keys.map((k) => k.kid)).not.toContain(retired);
      for (const r of [ring, fresh, later]) r.close();
    });

    it('When unknown kids arrive in a burst, then the store is read at most once per interval', async () => {
      let now = Date.now();
      const ring = await KeyRing.open(store, recordingLogger(), { refresh: false, now: () => now });
      let reads = 0;
      const counting: Store = Object.create(store, { get: { value: (key: string) => (reads++, store.get(key)) } });
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
});
