/**
 * npm run keys:rotate — makes a new current signing key in the store named by
 * REDIS_URL. The previous public key stays in the JWKS until every token it
 * could have signed has expired; running instances pick the new key up within
 * a minute, or at once when they meet a token signed with it.
 */
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { rotateSigningKey } from '../src/domain/auth/keys.js';
import { MAX_TOKEN_TTL_SECONDS } from '../src/domain/auth/tokens.js';
import { RedisStore } from '../src/store/redis-store.js';

const config = loadConfig();
if (!config.REDIS_URL) {
  console.error('keys:rotate needs REDIS_URL: the embedded store lives inside one running process and cannot be reached from here.');
  process.exit(1);
}
const client = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: true });
const subscriber = client.duplicate({ lazyConnect: true });
const store = new RedisStore(client, subscriber);
try {
  const { kid, retired } = await rotateSigningKey(store, MAX_TOKEN_TTL_SECONDS);
  console.log(JSON.stringify({ rotated: true, kid, retired: retired ?? null }));
} catch (err) {
  console.error(`keys:rotate failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  client.disconnect();
  subscriber.disconnect();
}
