import type { OperationHandlers } from '../../../generated/handlers.js';
import { publicRef } from '../../domain/ids.js';
import { boundedTtl, parseDuration } from '../../domain/sessions/duration.js';
import { sessionEtag } from '../../domain/sessions/session-service.js';
import type { AppContext } from '../context.js';
import { openFeed } from '../data-feed.js';
import { currentFrame, openStream, SVG_DOCUMENT_HEADERS } from '../live-image.js';
import { ifMatchTags } from '../preconditions.js';

type PublicSessionHandlers = Pick<
  OperationHandlers,
  | 'createPublicSession'
  | 'getPublicSession'
  | 'updatePublicSession'
  | 'streamPublicSession'
  | 'getPublicSessionFrame'
  | 'getPublicSessionEvents'
  | 'renderPreview'
>;

export function publicSessionHandlers(ctx: AppContext): PublicSessionHandlers {
  return {
    async createPublicSession(request) {
      const { session_id, template, args = {}, expire, expire_seconds } = request.body;
      // expire_seconds, when given, wins over the duration string (which validation defaults).
      const ttlSeconds = expire_seconds !== undefined ? boundedTtl(expire_seconds, 'expire_seconds') : parseDuration(expire);
      await ctx.sessions.create(publicRef(session_id), { template, args, ttlSeconds });
      return { status: 201, body: { session_id } };
    },

    async getPublicSession(request) {
      const { session_id } = request.params;
      const session = await ctx.sessions.get(publicRef(session_id));
      return { status: 200, body: { session_id, template: session.template, args: session.args }, headers: { etag: sessionEtag(session) } };
    },

    async updatePublicSession(request) {
      const { session_id } = request.params;
      const ifMatch = ifMatchTags(request.headers['if-match']);
      const session = await ctx.sessions.update(publicRef(session_id), { args: request.body.args }, { ifMatch });
      return { status: 200, body: { session_id }, headers: { etag: sessionEtag(session) } };
    },

    async streamPublicSession(request, reply) {
      return openStream(ctx, request, reply, publicRef(request.params.session_id), request.query);
    },

    async getPublicSessionFrame(request) {
      return currentFrame(ctx, publicRef(request.params.session_id), request.headers['if-none-match']);
    },

    async getPublicSessionEvents(request, reply) {
      return openFeed(ctx, request, reply, publicRef(request.params.session_id), request.query);
    },

    // Rate-limited per client address with the anonymous writes (route-guards.ts).
    async renderPreview(request) {
      const { template, args = {} } = request.body;
      const svg = await ctx.sessions.preview(template, args);
      return { status: 200, body: svg, headers: { 'content-type': 'image/svg+xml', ...SVG_DOCUMENT_HEADERS } };
    },
  };
}
