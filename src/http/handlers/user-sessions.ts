import type { OperationHandlers } from '../../../generated/handlers.js';
import { sessionPath, userRef } from '../../domain/ids.js';
import { boundedTtl } from '../../domain/sessions/duration.js';
import { sessionEtag, type SessionSnapshot } from '../../domain/sessions/session-service.js';
import type { AppContext } from '../context.js';
import { openFeed } from '../data-feed.js';
import { currentFrame, openStream } from '../live-image.js';
import { ifMatchTags } from '../preconditions.js';

type UserSessionHandlers = Pick<
  OperationHandlers,
  | 'createUserSession'
  | 'getUserSession'
  | 'updateUserSession'
  | 'deleteUserSession'
  | 'listUserSessions'
  | 'streamUserSession'
  | 'getUserSessionFrame'
  | 'getUserSessionEvents'
>;

const iso = (ms: number) => new Date(ms).toISOString();

/** Sessions always expire; a missing expiry would mean the store lost the TTL. */
function lifetime(session: SessionSnapshot, now: number) {
  const expiresAt = session.expiresAt ?? now;
  return { expires_at: iso(expiresAt), ttl: Math.max(0, Math.ceil((expiresAt - now) / 1000)) };
}

function summary(session: SessionSnapshot, now: number) {
  return {
    session_id: session.ref.sessionId,
    created_at: iso(session.createdAt),
    updated_at: iso(session.updatedAt),
    ...lifetime(session, now),
  };
}

export function userSessionHandlers(ctx: AppContext): UserSessionHandlers {
  return {
    async createUserSession(request) {
      const { user_id } = request.params;
      const { session_id, template, args = {}, expire_seconds } = request.body;
      const ref = userRef(user_id, session_id);
      const session = await ctx.sessions.create(ref, { template, args, ttlSeconds: boundedTtl(expire_seconds, 'expire_seconds') });
      return {
        status: 201,
        body: { user_id, session_id, stream_url: `/stream/${sessionPath(ref)}`, expires_at: iso(session.expiresAt ?? Date.now()) },
      };
    },

    async getUserSession(request) {
      const { user_id, session_id } = request.params;
      const session = await ctx.sessions.get(userRef(user_id, session_id));
      return {
        status: 200,
        body: { user_id, template: session.template, args: session.args, ...summary(session, Date.now()) },
        headers: { etag: sessionEtag(session) },
      };
    },

    async updateUserSession(request) {
      const { user_id, session_id } = request.params;
      const { args, template, expire_seconds } = request.body;
      const ifMatch = ifMatchTags(request.headers['if-match']);
      const session = await ctx.sessions.update(userRef(user_id, session_id), { args, template, ttlSeconds: expire_seconds }, { ifMatch });
      return { status: 204, body: undefined, headers: { etag: sessionEtag(session) } };
    },

    async deleteUserSession(request) {
      const { user_id, session_id } = request.params;
      await ctx.sessions.delete(userRef(user_id, session_id), { ifMatch: ifMatchTags(request.headers['if-match']) });
      return { status: 204, body: undefined };
    },

    async listUserSessions(request) {
      const { limit, cursor } = request.query;
      const page = await ctx.sessions.list(request.params.user_id, limit, cursor);
      const now = Date.now();
      return { status: 200, body: { sessions: page.sessions.map((s) => summary(s, now)), next_cursor: page.nextCursor } };
    },

    async streamUserSession(request, reply) {
      const { user_id, session_id } = request.params;
      return openStream(ctx, request, reply, userRef(user_id, session_id), request.query);
    },

    async getUserSessionFrame(request) {
      const { user_id, session_id } = request.params;
      return currentFrame(ctx, userRef(user_id, session_id), request.headers['if-none-match']);
    },

    async getUserSessionEvents(request, reply) {
      const { user_id, session_id } = request.params;
      return openFeed(ctx, request, reply, userRef(user_id, session_id), request.query);
    },
  };
}
