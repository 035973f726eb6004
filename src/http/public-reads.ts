import type { FastifyInstance, onRequestHookHandler, RouteOptions } from 'fastify';
import { hookList } from './route-hooks.js';

/**
 * Live images, frames and the data feed are public reads (SPEC section 4):
 * any origin may use them, also in CORS mode (`<img crossorigin>`, canvas,
 * fetch, EventSource). A wildcard without credentials, so no Vary: Origin.
 */
export const ANY_ORIGIN_HEADERS = { 'access-control-allow-origin': '*' } as const;

const PUBLIC_READ_PREFIXES = ['/stream/', '/frame/', '/events/'];

const allowAnyOrigin: onRequestHookHandler = (_request, reply, done) => {
  reply.headers(ANY_ORIGIN_HEADERS);
  done();
};

/**
 * Every answer of a public read allows any origin, its errors too, so a
 * script on another site can tell a 404 from a network failure. Set when the
 * request arrives, before validation can fail it; a stream that takes over
 * the connection writes the header itself. Call before the routes are added.
 */
export function allowAnyOriginOnPublicReads(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (!PUBLIC_READ_PREFIXES.some((prefix) => route.url.startsWith(prefix))) return;
    route.onRequest = [allowAnyOrigin, ...hookList(route.onRequest)] as RouteOptions['onRequest'];
  });
}
