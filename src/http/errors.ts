import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type {
  ConnectionError,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawServerBase,
  RouteGenericInterface,
} from 'fastify';
import { declaredStatuses, operationOfRoute, type OperationId } from '../../generated/handlers.js';
import type { components } from '../../generated/types.js';
import { DomainError, type ErrorCode } from '../domain/errors.js';
import { StoreFullError, StoreUnavailableError } from '../store/errors.js';
import type { ResponseCounter } from './metrics.js';
import { trackRouteMethods } from './method-not-allowed.js';
import { isSessionPageUrl, sendSessionNotFound } from './pages.js';

export type ErrorBody = components['schemas']['Error'];

// Compile-time check that the domain's codes are exactly the contract's.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const codesMatchContract: Same<ErrorCode, ErrorBody['code']> = true;

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
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  // A user's session quota; the embedded store's memory budget is a StoreFullError, 507.
  quota_exceeded: 403,
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

interface ErrorAnswer {
  status: number;
  body: ErrorBody;
  retryAfter?: number;
}

function classify(err: FastifyError | DomainError | StoreFullError | StoreUnavailableError): ErrorAnswer {
  if (err instanceof StoreFullError) {
    return { status: 507, body: { error: err.message, code: 'quota_exceeded' } };
  }
  if (err instanceof StoreUnavailableError) {
    // Its message is fixed text: the cause, which may name the store's address, is only logged.
    return { status: 503, body: { error: err.message, code: 'unavailable' }, retryAfter: err.retryAfterSeconds };
  }
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

/** The operation a request was routed to; HEAD runs the GET route. Undefined for pages and unrouted requests. */
export function operationOf(request: FastifyRequest): OperationId | undefined {
  const url = request.routeOptions.url;
  if (url === undefined) return undefined;
  return operationOfRoute[`${request.method === 'HEAD' ? 'GET' : request.method} ${url}`];
}

/**
 * The answer the contract allows: a status the operation does not declare is
 * a bug (a new failure nobody added to the YAML), so its client gets the 500
 * every operation declares and the log says which status it would have been.
 * tests/contract/declared-statuses.test.ts drives every operation into its
 * failure modes and fails on such a 500.
 */
export function declaredAnswer(operation: OperationId | undefined, answer: ErrorAnswer): ErrorAnswer & { undeclared?: number } {
  const declared: readonly number[] | undefined = operation === undefined ? undefined : declaredStatuses[operation];
  if (declared === undefined || declared.includes(answer.status)) return answer;
  return { status: 500, body: { error: 'internal error', code: 'internal_error' }, undeclared: answer.status };
}

const REALM = 'realtime-svg';

/**
 * The RFC 6750 challenge every 401 carries (RFC 9110 requires one on any 401).
 * A request that presented no bearer token gets the bare challenge, as RFC 6750
 * section 3.1 asks; one that presented a bad token learns it is invalid_token.
 * The descriptions are fixed text: they must stay within the quoted-string
 * characters RFC 6750 allows, and say nothing about why a signature failed.
 */
function bearerChallenge(code: ErrorCode, authorization: string | undefined): string {
  const bare = `Bearer realm="${REALM}"`;
  const invalid = (description: string) => `${bare}, error="invalid_token", error_description="${description}"`;
  if (code === 'token_expired') return invalid('the token has expired');
  if (code === 'token_invalid') return invalid('the token is not valid');
  // token_missing also covers a garbled token; a Bearer credential was still offered.
  if (code === 'token_missing' && /^Bearer\s+\S/i.test(authorization ?? '')) return invalid('the token is malformed');
  // token_missing without a Bearer credential, and invalid_credentials (a wrong
  // password in the body of POST /api/auth/token, where no token is expected).
  return bare;
}

// Generic over the server: frameworkErrors is an option of the root instance, plain HTTP or HTTP/2 (src/app.ts).
function sendError<S extends RawServerBase>(
  reply: FastifyReply<RouteGenericInterface, S>,
  status: number,
  body: ErrorBody,
): FastifyReply<RouteGenericInterface, S> {
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/**
 * Errors fastify raises before routing (fastify's frameworkErrors option): a
 * URL that is not valid percent-encoding, a parameter over the router's
 * length limit. Both are a bad identifier to the client, so 400
 * validation_failed without echoing the URL back.
 */
export function answerFrameworkError<S extends RawServerBase>(
  err: FastifyError,
  request: FastifyRequest<RouteGenericInterface, S>,
  reply: FastifyReply<RouteGenericInterface, S>,
): void {
  request.log.info({ code: 'validation_failed', reason: err.code }, 'request rejected');
  // People open session pages in a browser: a mangled one gets the HTML 404 page, not the API's JSON.
  if (isSessionPageUrl(request.url)) {
    void sendSessionNotFound(reply, '…', true);
    return;
  }
  void sendError(reply, 400, { error: 'the URL is not valid: a path segment is malformed or too long', code: 'validation_failed' });
}

/**
 * Connection-level errors (fastify's clientErrorHandler): Node's header and
 * request timeouts (408) and unparsable requests. Fastify's default writes a
 * body of its own shape; this writes the contract's, then drops the
 * connection, since the request on it can never complete.
 */
export function answerClientError(this: FastifyInstance, err: ConnectionError, socket: Socket): void {
  // A reset or an already closed socket has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status: number;
  let body: ErrorBody;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // The contract has no timeout code; the request is incomplete, so it is not a valid request.
    status = 408;
    body = { error: 'the request headers or body did not arrive in time', code: 'validation_failed' };
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    body = { error: 'the request headers are too large', code: 'payload_too_large' };
  } else {
    status = 400;
    body = { error: 'the request is not valid HTTP', code: 'validation_failed' };
  }
  this.log.debug({ err, status }, 'client connection error');
  if (socket.writable) {
    const json = JSON.stringify(body);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy(err);
}

/**
 * One place that turns every failure into the contract's Error shape; 5xx
 * details stay in the log. Call it before any route or plugin is registered:
 * the handlers must be inherited by every plugin, and the method index that
 * tells a 405 from a 404 must see every route.
 */
export function installErrorHandling(app: FastifyInstance, responses: ResponseCounter): void {
  const routes = trackRouteMethods(app);
  app.setErrorHandler((err: FastifyError | DomainError, request, reply) => {
    const operation = operationOf(request);
    const { status, body, retryAfter, undeclared } = declaredAnswer(operation, classify(err));
    if (undeclared !== undefined)
      request.log.error({ err, operation, undeclared }, 'answering 500: the contract does not declare this status here');
    else if (status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: body.code, reason: err.message }, 'request rejected');
    // The contract requires Retry-After on every 429 and 503; a failure that names no wait gets the shortest.
    const wait = retryAfter ?? (status === 429 || status === 503 ? 1 : undefined);
    if (wait !== undefined) reply.header('retry-after', String(wait));
    if (status === 401) reply.header('www-authenticate', bearerChallenge(body.code, request.headers.authorization));
    // Other routes (pages, static files) count every answer in their own hook.
    if (operation !== undefined) responses.count(request.method, request.routeOptions.url ?? 'unmatched', status);
    return sendError(reply, status, body);
  });
  app.setNotFoundHandler((request, reply) => {
    const allowed = routes.allowed(request.url);
    // A route that ran and found nothing (reply.callNotFound) answers its own method: still a 404.
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      responses.count(request.method, 'unmatched', 405);
      reply.header('allow', allowed.join(', '));
      return sendError(reply, 405, {
        error: `${request.method} is not allowed here; allowed: ${allowed.join(', ')}`,
        code: 'method_not_allowed',
      });
    }
    // Long enough to recognise the path, short enough not to reflect a huge URL back.
    const path = (request.url.split('?', 1)[0] ?? '').slice(0, 100);
    responses.count(request.method, 'unmatched', 404);
    return sendError(reply, 404, { error: `no route for ${request.method} ${path}`, code: 'not_found' });
  });
}
