import type { FastifyError, FastifyInstance } from 'fastify';
import type { components } from '../../generated/types.js';
import { DomainError, type ErrorCode } from '../domain/errors.js';

export type ErrorBody = components['schemas']['Error'];

// Compile-time check that the domain's codes are exactly the contract's.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const codesMatchContract: Same<ErrorCode, ErrorBody['code']> = true;
void codesMatchContract;

export const STATUS_OF_CODE: Record<ErrorCode, number> = {
  validation_failed: 400,
  template_invalid: 400,
  token_missing: 401,
  token_expired: 401,
  token_invalid: 401,
  invalid_credentials: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  unavailable: 503,
};

/** Fastify's own 4xx errors, by status, in the contract's vocabulary. */
const CODE_OF_STATUS: Record<number, ErrorCode> = {
  401: 'token_missing',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/** fastify-openapi-glue wraps what a security handler threw; the first cause is ours. */
function unwrapSecurityError(err: FastifyError | DomainError): FastifyError | DomainError {
  const causes = (err as { errors?: unknown[] }).errors;
  return err.name === 'Unauthorized' && Array.isArray(causes) && causes[0] instanceof DomainError ? causes[0] : err;
}

function classify(thrown: FastifyError | DomainError): { status: number; body: ErrorBody; retryAfter?: number } {
  const err = unwrapSecurityError(thrown);
  if (err instanceof DomainError) {
    return {
      status: STATUS_OF_CODE[err.code],
      body: { error: err.message, code: err.code },
      retryAfter: err.details.retryAfterSeconds,
    };
  }
  if (err.validation) {
    return { status: 400, body: { error: err.message, code: 'validation_failed' } };
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const code = CODE_OF_STATUS[status] ?? 'validation_failed';
    return { status: STATUS_OF_CODE[code], body: { error: err.message, code } };
  }
  return { status: 500, body: { error: 'internal error', code: 'internal_error' } };
}

/** One place that turns every failure into the contract's Error shape; 5xx details stay in the log. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | DomainError, request, reply) => {
    const { status, body, retryAfter } = classify(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: body.code, reason: err.message }, 'request rejected');
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
    return reply.code(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = { error: `no route for ${request.method} ${request.url.split('?')[0]}`, code: 'not_found' };
    return reply.code(404).type('application/json; charset=utf-8').send(body);
  });
}
