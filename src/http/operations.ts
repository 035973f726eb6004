import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { HIJACKED, type OperationHandlers } from '../../generated/handlers.js';
import { contractRoutes } from '../../generated/routes.js';

type AnyResult = { status: number; body: unknown; headers?: Record<string, string> } | typeof HIJACKED;
type AnyHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<AnyResult>;

/**
 * One route per contract operation, from the table codegen wrote
 * (generated/routes.ts), so no boot parses or validates the contract: its
 * schemas validate the request and serialise the answer. The typed handler
 * returns {status, body, headers}; this sends it. Operations that require
 * BearerAuth check the token when the request arrives, before the body is
 * read or validated, so a write without a valid token costs no body parsing.
 */
export function registerOperations(app: FastifyInstance, handlers: OperationHandlers, bearerAuth: onRequestAsyncHookHandler): void {
  for (const route of contractRoutes) {
    const handler = handlers[route.operationId] as unknown as AnyHandler;
    app.route({
      method: route.method,
      url: route.url,
      // Fastify rewrites parts of a schema while compiling it: each app gets its own copy.
      schema: structuredClone(route.schema),
      ...(route.bearerAuth ? { onRequest: [bearerAuth] } : {}),
      async handler(request, reply) {
        const result = await handler(request, reply);
        if (result === HIJACKED) return reply;
        if (result.headers) reply.headers(result.headers);
        return reply.code(result.status).send(result.body);
      },
    });
  }
}
