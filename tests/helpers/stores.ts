import { afterAll, beforeAll, describe } from 'vitest';
import type { Config } from '../../src/config.js';
import { redisAvailable, startRedis, type ThrowawayRedis } from './redis-server.js';

export interface StoreVariant {
  name: 'embedded' | 'redis';
  /** Config for an app on this store (REDIS_URL for redis, nothing for embedded). */
  config(): Partial<Config>;
  redis(): ThrowawayRedis | undefined;
}

/** Runs the same suite against the embedded store and a throwaway real Redis. */
export function describeEachStore(title: string, suite: (variant: StoreVariant) => void): void {
  describe(`${title} [embedded store]`, () => {
    suite({ name: 'embedded', config: () => ({}), redis: () => undefined });
  });
  describe.runIf(redisAvailable())(`${title} [redis store]`, () => {
    let redis: ThrowawayRedis;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => redis?.stop());
    suite({ name: 'redis', config: () => ({ REDIS_URL: redis.url }), redis: () => redis });
  });
}
