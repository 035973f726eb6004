import { accessSync, constants, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { envSchema } from 'env-schema';

/**
 * TRUST_PROXY as Fastify takes it: false, a hop count, or the proxies' own
 * addresses/CIDRs. Never `true`: trusting every hop lets a client pick its own
 * address with X-Forwarded-For.
 */
export type TrustProxy = false | number | string[];

export interface Config {
  PORT: number;
  HOST: string;
  REDIS_URL?: string;
  /** A Redis Cluster instead of one Redis: some of its nodes, `host:port,host:port,…` (the client discovers the rest). */
  REDIS_CLUSTER_NODES?: string;
  STORE_TIMEOUT_MS: number;
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  JWT_ISSUER: string;
  BODY_LIMIT_BYTES: number;
  RENDER_THREADS: number;
  RENDER_TIMEOUT_MS: number;
  RENDER_QUEUE_MAX: number;
  SHUTDOWN_GRACE_MS: number;
  AUTH_MAX_FAILURES_PER_USER: number;
  AUTH_MAX_FAILURES_PER_CLIENT: number;
  AUTH_FAILURE_WINDOW_SECONDS: number;
  RATE_LIMIT_ANON_WRITES_PER_MINUTE: number;
  RATE_LIMIT_USER_WRITES_PER_MINUTE: number;
  MAX_SESSIONS_PER_USER: number;
  EMBEDDED_STORE_MAX_MB: number;
  HEADERS_TIMEOUT_MS: number;
  REQUEST_TIMEOUT_MS: number;
  KEEP_ALIVE_TIMEOUT_MS: number;
  /** Connections the kernel holds for accept(); Linux caps it at net.core.somaxconn. */
  LISTEN_BACKLOG: number;
  TRUST_PROXY: TrustProxy;
  /** PEM certificate chain and private key: both set means HTTPS with HTTP/2 (and HTTP/1.1 for older clients). */
  TLS_CERT_FILE?: string;
  TLS_KEY_FILE?: string;
}

type RawConfig = Omit<Config, 'TRUST_PROXY'> & { TRUST_PROXY: string };

const schema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 3000 },
    HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    REDIS_URL: { type: 'string', pattern: '^rediss?://' },
    REDIS_CLUSTER_NODES: { type: 'string', pattern: '^[^,:]+:[0-9]{1,5}(,[^,:]+:[0-9]{1,5})*$' },
    STORE_TIMEOUT_MS: { type: 'integer', minimum: 10, maximum: 60_000, default: 1000 },
    LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    JWT_ISSUER: { type: 'string', minLength: 1, default: 'realtime-svg' },
    BODY_LIMIT_BYTES: { type: 'integer', minimum: 1024, maximum: 16_777_216, default: 262_144 },
    RENDER_THREADS: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
    RENDER_TIMEOUT_MS: { type: 'integer', minimum: 50, maximum: 60_000, default: 1000 },
    RENDER_QUEUE_MAX: { type: 'integer', minimum: 1, maximum: 100_000, default: 64 },
    SHUTDOWN_GRACE_MS: { type: 'integer', minimum: 100, maximum: 60_000, default: 4000 },
    AUTH_MAX_FAILURES_PER_USER: { type: 'integer', minimum: 1, maximum: 10_000, default: 5 },
    AUTH_MAX_FAILURES_PER_CLIENT: { type: 'integer', minimum: 1, maximum: 10_000, default: 20 },
    AUTH_FAILURE_WINDOW_SECONDS: { type: 'integer', minimum: 1, maximum: 86_400, default: 900 },
    RATE_LIMIT_ANON_WRITES_PER_MINUTE: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 60 },
    RATE_LIMIT_USER_WRITES_PER_MINUTE: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 6000 },
    MAX_SESSIONS_PER_USER: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 10_000 },
    EMBEDDED_STORE_MAX_MB: { type: 'integer', minimum: 0, maximum: 1_048_576, default: 512 },
    HEADERS_TIMEOUT_MS: { type: 'integer', minimum: 100, maximum: 600_000, default: 10_000 },
    REQUEST_TIMEOUT_MS: { type: 'integer', minimum: 100, maximum: 600_000, default: 30_000 },
    KEEP_ALIVE_TIMEOUT_MS: { type: 'integer', minimum: 100, maximum: 600_000, default: 5_000 },
    LISTEN_BACKLOG: { type: 'integer', minimum: 1, maximum: 65_535, default: 4096 },
    TRUST_PROXY: { type: 'string', default: 'false' },
    TLS_CERT_FILE: { type: 'string', minLength: 1 },
    TLS_KEY_FILE: { type: 'string', minLength: 1 },
  },
} as const;

function isAddressOrCidr(value: string): boolean {
  const [address, bits, ...rest] = value.split('/');
  if (rest.length > 0 || address === undefined) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  const max = family === 4 ? 32 : 128;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
}

/** Parses TRUST_PROXY: "false"/"" (off), a hop count, or a comma list of proxy addresses/CIDRs. */
export function parseTrustProxy(raw: string): TrustProxy {
  const value = raw.trim();
  if (value === '' || value === 'false' || value === '0') return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 32) throw new Error('TRUST_PROXY: a hop count must be at most 32');
    return hops;
  }
  if (value === 'true') {
    throw new Error(
      'TRUST_PROXY: "true" would trust every hop (any client could pick its address); give a hop count or the proxies\' addresses',
    );
  }
  const list = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const bad = list.filter((item) => !isAddressOrCidr(item));
  if (bad.length > 0) throw new Error(`TRUST_PROXY: not an IP address or CIDR: ${bad.join(', ')}`);
  return list;
}

/** REDIS_CLUSTER_NODES as the cluster client takes it; throws naming the variable on a bad port. */
export function parseClusterNodes(raw: string): Array<{ host: string; port: number }> {
  return raw.split(',').map((item) => {
    const colon = item.lastIndexOf(':');
    const host = item.slice(0, colon);
    const port = Number(item.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new Error(`REDIS_CLUSTER_NODES: "${item}" is not host:port`);
    }
    return { host, port };
  });
}

/** Reads and validates the environment (and .env); throws a readable error on a bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, dotenv = true): Config {
  const data = { ...env };
  // An empty REDIS_URL means "not set", the usual shell idiom.
  if (data.REDIS_URL === '') delete data.REDIS_URL;
  if (data.REDIS_CLUSTER_NODES !== undefined) data.REDIS_CLUSTER_NODES = data.REDIS_CLUSTER_NODES.replace(/\s+/g, '');
  if (data.REDIS_CLUSTER_NODES === '') delete data.REDIS_CLUSTER_NODES;
  // Empty means unset here too, so `TLS_CERT_FILE= TLS_KEY_FILE=` is plain HTTP.
  if (data.TLS_CERT_FILE === '') delete data.TLS_CERT_FILE;
  if (data.TLS_KEY_FILE === '') delete data.TLS_KEY_FILE;
  // env: false, because `data` already is the environment: env-schema would merge
  // process.env over it again, bringing back the empty values removed above.
  const raw = envSchema<RawConfig>({ schema, data, dotenv, env: false });
  if (raw.REDIS_CLUSTER_NODES !== undefined) {
    if (raw.REDIS_URL !== undefined)
      throw new Error('REDIS_URL and REDIS_CLUSTER_NODES: set one of them (one Redis, or a cluster), not both');
    parseClusterNodes(raw.REDIS_CLUSTER_NODES);
  }
  checkTls(raw.TLS_CERT_FILE, raw.TLS_KEY_FILE);
  return { ...raw, TRUST_PROXY: parseTrustProxy(raw.TRUST_PROXY) };
}

/**
 * TLS_CERT_FILE and TLS_KEY_FILE come as a pair. Checked at start, so a typo
 * or a key that does not match its certificate stops the process with the
 * variable named, instead of a service that starts and fails every handshake.
 */
function checkTls(certFile: string | undefined, keyFile: string | undefined): void {
  if (certFile === undefined && keyFile === undefined) return;
  if (certFile === undefined || keyFile === undefined) {
    throw new Error('TLS_CERT_FILE and TLS_KEY_FILE must be set together (both for HTTPS with HTTP/2, neither for plain HTTP)');
  }
  const files = { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile };
  for (const [name, file] of Object.entries(files)) {
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      throw new Error(`${name}: cannot read ${file} (${err instanceof Error && 'code' in err ? String(err.code) : 'unreadable'})`);
    }
  }
  try {
    createSecureContext({ cert: readFileSync(certFile), key: readFileSync(keyFile) });
  } catch (err) {
    throw new Error(
      `TLS_CERT_FILE / TLS_KEY_FILE: not a usable PEM certificate and matching private key (${err instanceof Error ? err.message : String(err)})`,
    );
  }
}

/**
 * Defaults for tests and embedding, overridable field by field. Rate limits
 * are off here so suites may write freely; the abuse tests turn them on.
 */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    ...loadConfig({}, false),
    LOG_LEVEL: 'silent',
    PORT: 0,
    RATE_LIMIT_ANON_WRITES_PER_MINUTE: 0,
    RATE_LIMIT_USER_WRITES_PER_MINUTE: 0,
    ...overrides,
  };
}
