import type { FastifyReply, FastifyRequest } from 'fastify';
import { HIJACKED, type Hijacked, type ResultOf, type RouteOf } from '../../generated/handlers.js';
import type { SessionRef } from '../domain/ids.js';
import { FEED_CONTENT_TYPE, FeedSubscriber } from '../domain/streaming/feed.js';
import type { AppContext } from './context.js';
import { followSession, openResponse, rawResponse } from './live-image.js';
import { ANY_ORIGIN_HEADERS } from './public-reads.js';

/**
 * GET /events/...: the data feed (SPEC section 4). It joins the session's
 * channel of the stream hub like a live image does, so it costs no store
 * connection of its own: this instance's one subscriber feeds it.
 */
export async function openFeed(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  ref: SessionRef,
  query: RouteOf<'getPublicSessionEvents'>['Querystring'],
): Promise<Hijacked> {
  // Before the head is sent, so a missing session is still a 404 JSON error.
  const session = await ctx.sessions.get(ref);
  reply.hijack();
  // The public and user feeds share this response (common.yaml), so one type serves both.
  const head: Extract<ResultOf<'getPublicSessionEvents'>, { status: 200 }>['headers'] = {
    'content-type': FEED_CONTENT_TYPE,
    'cache-control': 'no-cache, no-store',
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
    ...ANY_ORIGIN_HEADERS,
  };
  const res = openResponse(rawResponse(reply), head);
  if (request.method === 'HEAD') {
    res.end();
    return HIJACKED;
  }
  const feed = new FeedSubscriber(res, { keepAliveMs: query.keep_alive });
  await followSession(ctx, request, res, ref, session, feed);
  return HIJACKED;
}
