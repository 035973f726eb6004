import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { HIJACKED, operationIds, type OperationHandlers } from '../../generated/handlers.js';

type AnyResult = { status: number; body: unknown; headers?: Record<string, string> } | typeof HIJACKED;
type AnyHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<AnyResult>;

/**
 * Adapts the typed handlers to fastify-openapi-glue's service object: the
 * handler returns {status, body, headers}; this sends it.
 */
export function toServiceHandlers(handlers: OperationHandlers): Record<string, RouteHandlerMethod> {
  const service: Record<string, RouteHandlerMethod> = {};
  for (const id of operationIds) {
    const handler = handlers[id] as unknown as AnyHandler;
    service[id] = async function (request, reply) {
      const result = await handler(request, reply);
      if (result === HIJACKED) return reply;
      if (result.headers) reply.headers(result.headers);
      return reply.code(result.status).send(result.body);
    };
  }
  return service;
}
