import fastifyRateLimit, { normalizeIP, type FastifyRateLimitStore } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import type { Config } from '../config.js';
import { DomainError } from '../domain/errors.js';
import type { Store } from '../store/store.js';
import { hookList } from './route-hooks.js';

const MINUTE_MS = 60_000;

/** Writes anyone may send (SPEC section 9), limited per client address. */
const ANONYMOUS_WRITES = new Set(['POST /api/session', 'PUT /api/session/:session_id', 'POST /api/render']);

/** Writes that need the owner's token, limited per user_id once the token has proven who writes. */
const USER_WRITES = new Set([
  'POST /api/user/:user_id/session',
  'PUT /api/user/:user_id/session/:session_id',
  'DELETE /api/user/:user_id/session/:session_id',
]);

/**
 * A route's onRequest hooks with more appended. Fastify types each hook name's
 * handlers separately; every entry here is a (request, reply) hook, which is
 * what onRequest runs, so the list is typed once at the end.
 */
function withOnRequest(existing: unknown, ...added: unknown[]): RouteOptions['onRequest'] {
  return [...hookList(existing), ...added] as RouteOptions['onRequest'];
}

/**
 * Rate-limit counters kept in the service's own store (Redis or embedded), so a
 * limit holds across every instance that shares it. One store command per check.
 */
function countersIn(store: Store): new () => FastifyRateLimitStore {
  return class StoreCounters implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      store.increment(`ratelimit:${key}`, timeWindow).then(
        ({ count, expiresAt }) => callback(null, { current: count, ttl: Math.max(0, expiresAt - Date.now()) }),
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
    }

    child(): FastifyRateLimitStore {
      return this;
    }
  };
}

function routeKey(route: RouteOptions): string[] {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  return methods.map((method) => `${method} ${route.url}`);
}

/**
 * Route-level guards wired from the route table, before the contract's routes
 * are registered:
 * - the Bearer check (src/http/operations.ts) stays where the route put it,
 *   when the request arrives, after the closing check;
 * - anonymous writes are counted per client address before the body is read;
 * - authenticated writes are counted per user_id after the token is verified,
 *   so nobody can spend another user's budget.
 * - once the instance is closing, every request is refused with the contract's
 *   503 and Retry-After (Fastify's own return503OnClosing answer, which
 *   src/app.ts turns off, has a body of its own shape), before its token or
 *   body is looked at.
 * A limit of 0 turns that limit off.
 */
export async function installRouteGuards(app: FastifyInstance, store: Store, config: Config): Promise<void> {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  const refuseWhileClosing: onRequestHookHandler = (_request, _reply, done) => {
    done(closing ? new DomainError('unavailable', 'this instance is shutting down; try again', { retryAfterSeconds: 1 }) : undefined);
  };
  await app.register(fastifyRateLimit, {
    global: false,
    store: countersIn(store),
    // A store outage fails the write itself with 503; the limiter need not fail it first.
    skipOnError: true,
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    addHeaders: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false, 'retry-after': true },
    errorResponseBuilder: (_request, context) =>
      new DomainError('rate_limited', `too many writes; limit is ${context.max} per minute, try again in ${context.after}`, {
        retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
      }),
  });
  const anonymousLimit =
    config.RATE_LIMIT_ANON_WRITES_PER_MINUTE > 0
      ? app.rateLimit({
          max: config.RATE_LIMIT_ANON_WRITES_PER_MINUTE,
          timeWindow: MINUTE_MS,
          keyGenerator: (request: FastifyRequest) => `anon:${normalizeIP(request.ip)}`,
        })
      : undefined;
  const userLimit =
    config.RATE_LIMIT_USER_WRITES_PER_MINUTE > 0
      ? app.rateLimit({
          max: config.RATE_LIMIT_USER_WRITES_PER_MINUTE,
          timeWindow: MINUTE_MS,
          keyGenerator: (request: FastifyRequest) => `user:${(request.params as { user_id?: string }).user_id ?? ''}`,
        })
      : undefined;

  app.addHook('onRoute', (route) => {
    const keys = routeKey(route);
    // Closing is checked first, then the route's own (the Bearer check), then the limits.
    route.onRequest = withOnRequest(undefined, refuseWhileClosing, ...hookList(route.onRequest));
    if (anonymousLimit && keys.some((key) => ANONYMOUS_WRITES.has(key))) {
      route.onRequest = withOnRequest(route.onRequest, anonymousLimit);
    }
    if (userLimit && keys.some((key) => USER_WRITES.has(key))) {
      route.onRequest = withOnRequest(route.onRequest, userLimit);
    }
  });
}
