import type { FastifyReply, FastifyRequest } from 'fastify';
import { HIJACKED, type Hijacked } from '../../generated/handlers.js';
import { sessionKey, type SessionRef } from '../domain/ids.js';
import { FEED_CONTENT_TYPE, FeedSubscriber } from '../domain/streaming/feed.js';
import { SessionUpdate } from '../domain/streaming/update.js';
import type { AppContext } from './context.js';
import { openResponse, rawResponse } from './live-image.js';
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
  query: { keep_alive?: number },
): Promise<Hijacked> {
  // Before the head is sent, so a missing session is still a 404 JSON error.
  const session = await ctx.sessions.get(ref);
  reply.hijack();
  const res = openResponse(rawResponse(reply), {
    'content-type': FEED_CONTENT_TYPE,
    'cache-control': 'no-cache, no-store',
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
    ...ANY_ORIGIN_HEADERS,
  });
  if (request.method === 'HEAD') {
    res.end();
    return HIJACKED;
  }
  const feed = new FeedSubscriber(res, { keepAliveMs: query.keep_alive ?? 20_000 });
  const channel = sessionKey(ref);
  const log = request.log;
  log.info({ channel }, 'feed opened');
  res.onClose(() => {
    feed.detach();
    ctx.hub.leave(channel, feed);
    log.info({ channel }, 'feed closed');
  });
  try {
    await ctx.hub.join(channel, feed, session.expiresAt);
    // Read again once subscribed, so a write racing the first read is not lost.
    const current = await ctx.sessions.find(ref);
    if (current) ctx.hub.showCurrent(channel, feed, current);
    else feed.close('gone');
  } catch (err) {
    log.warn({ err, channel }, 'feed could not subscribe');
    // What was read, then the end of the response without `end`: the session lives on, EventSource reconnects.
    feed.receive(new SessionUpdate(session));
    feed.close();
  }
  return HIJACKED;
}
