import type { OperationHandlers } from '../../../generated/handlers.js';
import { JWKS_MAX_AGE_SECONDS } from '../../domain/auth/keys.js';
import type { AppContext } from '../context.js';

type AuthHandlers = Pick<OperationHandlers, 'issueToken' | 'getJwks' | 'getJwksAlias'>;

/** Rotation waits this max-age (plus the instances' refresh) before a published key signs. */
const JWKS_HEADERS = { 'cache-control': `public, max-age=${JWKS_MAX_AGE_SECONDS}` };

export function authHandlers(ctx: AppContext): AuthHandlers {
  const jwks = async () => ({ status: 200 as const, body: ctx.keys.jwks(), headers: JWKS_HEADERS });
  return {
    async issueToken(request) {
      const { user_id, password, ttl_seconds } = request.body;
      // Signed while argon2 checks the password; a wrong password discards it unseen.
      const {
        claimed,
        prepared: { token, claims },
      } = await ctx.accounts.authenticate(user_id, password, request.ip, () => ctx.tokens.issue(user_id, ttl_seconds));
      request.log.info({ user_id, claimed, jti: claims.jti, exp: claims.exp }, 'token issued');
      return {
        status: 200,
        body: { token, token_type: 'Bearer', expires_in: ttl_seconds, expires_at: new Date(claims.exp * 1000).toISOString() },
        headers: { 'cache-control': 'no-store' },
      };
    },
    getJwks: jwks,
    getJwksAlias: jwks,
  };
}
