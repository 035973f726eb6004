/**
 * npm run keys:rotate [-- --now] — makes a new signing key in the store named
 * by REDIS_URL (or REDIS_CLUSTER_NODES). The new key is published at once and signs only from
 * PUBLISH_AHEAD_MS later (JWKS max-age plus the instances' refresh interval),
 * so every verifier can have fetched it first; running instances switch to
 * it at that instant by themselves. --now (a compromised key) makes it sign
 * as soon as each instance loads it: within a refresh interval, or at once
 * when an instance meets a token signed with it. The key it replaces stays in
 * the JWKS until every token it could have signed has expired.
 */
import { loadConfig } from '../src/config.js';
import { rotateSigningKey } from '../src/domain/auth/keys.js';
import { MAX_TOKEN_TTL_SECONDS } from '../src/domain/auth/tokens.js';
import { connectStore } from '../src/store/connect.js';

const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== '--now');
if (unknown.length > 0) {
  // A mistyped --now must not quietly become a rotation that waits.
  console.error(`keys:rotate: unknown argument ${unknown.join(' ')}. Usage: npm run keys:rotate [-- --now]`);
  process.exit(2);
}
const immediate = args.includes('--now');

const config = loadConfig();
if (!config.REDIS_URL && !config.REDIS_CLUSTER_NODES) {
  console.error(
    'keys:rotate needs REDIS_URL or REDIS_CLUSTER_NODES: the embedded store lives inside one running process and cannot be reached from here.',
  );
  process.exit(1);
}
// stdout carries only the result; connection trouble goes to stderr.
const log = { info: () => {}, warn: (obj: object, msg: string) => console.error(`keys:rotate: ${msg} ${JSON.stringify(obj)}`) };
const store = await connectStore(config.REDIS_URL, log, {
  embeddedMaxBytes: 0,
  timeoutMs: config.STORE_TIMEOUT_MS,
  clusterNodes: config.REDIS_CLUSTER_NODES,
});
try {
  const { kid, retired, activateAt } = await rotateSigningKey(store, { maxTokenTtlSeconds: MAX_TOKEN_TTL_SECONDS, immediate });
  console.log(JSON.stringify({ rotated: true, kid, retired: retired ?? null, signsFrom: new Date(activateAt).toISOString(), immediate }));
} catch (err) {
  console.error(`keys:rotate failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await store.close();
}
