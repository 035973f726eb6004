import type { onRequestAsyncHookHandler } from 'fastify';
import { DomainError } from '../domain/errors.js';
import { TokenRejected } from '../domain/auth/tokens.js';
import type { AppContext } from './context.js';

/**
 * The contract's BearerAuth scheme: a request is admitted only when its token
 * is valid and its sub is the path's user_id. Verification uses in-memory
 * keys: no store command per request.
 */
export function bearerAuth(ctx: AppContext): onRequestAsyncHookHandler {
  return async (request) => {
    try {
      const claims = await ctx.tokens.verify(ctx.tokens.tokenFromHeader(request.headers.authorization));
      const owner = (request.params as { user_id?: string }).user_id;
      if (claims.sub !== owner) {
        request.log.info({ authFailure: 'forbidden', sub: claims.sub, owner }, 'authorization failed');
        throw new DomainError('forbidden', 'this token belongs to another user');
      }
    } catch (err) {
      if (err instanceof TokenRejected) request.log.info({ authFailure: err.reason, code: err.code }, 'authentication failed');
      throw err;
    }
  };
}
