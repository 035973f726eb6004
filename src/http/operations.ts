import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { HIJACKED, type OperationHandlers } from '../../generated/handlers.js';
import { contractRoutes } from '../../generated/routes.js';
import type { ResponseCounter } from './metrics.js';

type AnyResult = { status: number; body: unknown; headers?: Record<string, string> } | typeof HIJACKED;
type AnyHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<AnyResult>;

/**
 * One route per contract operation, from the table codegen wrote
 * (generated/routes.ts), so no boot parses or validates the contract: its
 * schemas validate the request and serialise the answer. The typed handler
 * returns {status, body, headers}; this sends it. Operations that require
 * BearerAuth check the token when the request arrives, before the body is
 * read or validated, so a write without a valid token costs no body parsing.
 * Each answer is counted here; failures are counted by the error handler.
 */
export function registerOperations(
  app: FastifyInstance,
  handlers: OperationHandlers,
  bearerAuth: onRequestAsyncHookHandler,
  responses: ResponseCounter,
): void {
  for (const route of contractRoutes) {
    const handler = handlers[route.operationId] as unknown as AnyHandler;
    const counted = responses.forRoute(route.method, route.url);
    // Fastify answers HEAD with the GET route.
    const countedHead = route.method === 'GET' ? responses.forRoute('HEAD', route.url) : counted;
    app.route({
      method: route.method,
      url: route.url,
      // Fastify rewrites parts of a schema while compiling it: each app gets its own copy.
      schema: structuredClone(route.schema),
      ...(route.bearerAuth ? { onRequest: [bearerAuth] } : {}),
      async handler(request, reply) {
        const result = await handler(request, reply);
        const count = request.method === 'HEAD' ? countedHead : counted;
        if (result === HIJACKED) {
          // A live image or feed is counted when it ends, with the status it was opened with.
          reply.raw.once('close', () => count(reply.raw.statusCode));
          return reply;
        }
        if (result.headers) reply.headers(result.headers);
        count(result.status);
        return reply.code(result.status).send(result.body);
      },
    });
  }
}
