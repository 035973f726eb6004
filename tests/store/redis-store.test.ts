import { afterAll, beforeAll, describe } from 'vitest';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/store/redis-store.js';
import { redisAvailable, startRedis, type ThrowawayRedis } from '../helpers/redis-server.js';
import { storeBehaviour } from './store-behaviour.js';

describe.runIf(redisAvailable())('redis', () => {
  let redis: ThrowawayRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => redis.stop());

  storeBehaviour('redis', async () => {
    const client = new Redis(redis.url);
    const store = new RedisStore(client, client.duplicate());
    return {
      store,
      async close() {
        await store.close();
        client.disconnect();
      },
    };
  });
});
