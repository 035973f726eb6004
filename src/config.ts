import { envSchema } from 'env-schema';

export interface Config {
  PORT: number;
  HOST: string;
  REDIS_URL?: string;
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  JWT_ISSUER: string;
  BODY_LIMIT_BYTES: number;
  RENDER_THREADS: number;
  RENDER_TIMEOUT_MS: number;
  SHUTDOWN_GRACE_MS: number;
  AUTH_MAX_FAILURES_PER_USER: number;
  AUTH_MAX_FAILURES_PER_CLIENT: number;
  AUTH_FAILURE_WINDOW_SECONDS: number;
  TRUST_PROXY: boolean;
}

const schema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 3000 },
    HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    REDIS_URL: { type: 'string', pattern: '^rediss?://' },
    LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    JWT_ISSUER: { type: 'string', minLength: 1, default: 'realtime-svg' },
    BODY_LIMIT_BYTES: { type: 'integer', minimum: 1024, maximum: 16_777_216, default: 262_144 },
    RENDER_THREADS: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
    RENDER_TIMEOUT_MS: { type: 'integer', minimum: 50, maximum: 60_000, default: 1000 },
    SHUTDOWN_GRACE_MS: { type: 'integer', minimum: 100, maximum: 60_000, default: 4000 },
    AUTH_MAX_FAILURES_PER_USER: { type: 'integer', minimum: 1, maximum: 10_000, default: 5 },
    AUTH_MAX_FAILURES_PER_CLIENT: { type: 'integer', minimum: 1, maximum: 10_000, default: 20 },
    AUTH_FAILURE_WINDOW_SECONDS: { type: 'integer', minimum: 1, maximum: 86_400, default: 900 },
    TRUST_PROXY: { type: 'boolean', default: false },
  },
} as const;

/** Reads and validates the environment (and .env); throws a readable error on a bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, dotenv = true): Config {
  const data = { ...env };
  // An empty REDIS_URL means "not set", the usual shell idiom.
  if (data.REDIS_URL === '') delete data.REDIS_URL;
  return envSchema<Config>({ schema, data, dotenv });
}

/** Defaults for tests and embedding, overridable field by field. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}, false), LOG_LEVEL: 'silent', PORT: 0, ...overrides };
}
