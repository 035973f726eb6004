import type { FastifyInstance } from 'fastify';

/**
 * One line per request, at debug. Fastify's default is two info lines per
 * request, written synchronously: at the default level that cost a third of
 * the throughput of a cheap route (SPEC section 8 measures at the default
 * level). Access logs are usually kept by the proxy in front; set
 * LOG_LEVEL=debug to have them here. What operators need at info stays at
 * info: auth failures with their reason, rejected requests, streams opened
 * and closed, key events, and every 5xx.
 */
export function installAccessLog(app: FastifyInstance): void {
  // The level is fixed at start (LOG_LEVEL): decide once, not per request.
  if (app.log.level !== 'debug' && app.log.level !== 'trace') return;
  app.addHook('onResponse', (request, reply, done) => {
    request.log.debug(
      { method: request.method, route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
      'request completed',
    );
    done();
  });
}
