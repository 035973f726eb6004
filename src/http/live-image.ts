import type { ServerResponse } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HIJACKED, type Hijacked, type ResultOf, type RouteOf } from '../../generated/handlers.js';
import { sessionKey, sessionPath, type SessionRef } from '../domain/ids.js';
import type { SessionSnapshot } from '../domain/sessions/session-service.js';
import { STREAM_CONTENT_TYPE } from '../domain/streaming/multipart.js';
import { SessionUpdate, type ChannelMember } from '../domain/streaming/update.js';
import { Viewer, type FrameSink } from '../domain/streaming/viewer.js';
import type { AppContext } from './context.js';
import { ANY_ORIGIN_HEADERS } from './public-reads.js';

/** Served with every SVG that a browser may open as a document: no script may run on our origin. */
export const SVG_DOCUMENT_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
  'x-content-type-options': 'nosniff',
} as const;

/** The query of both stream operations as validation leaves it: the contract's defaults filled in. */
export type StreamQuery = RouteOf<'streamPublicSession'>['Querystring'];

function isNavigation(request: FastifyRequest): boolean {
  const mode = request.headers['sec-fetch-mode'];
  const accept = request.headers.accept ?? '';
  return mode === 'navigate' || accept.includes('text/html');
}

// The public and user operations share these responses (common.yaml), so one type serves both.
type Redirect = Extract<ResultOf<'streamPublicSession'>, { status: 307 }>;
type StreamHead = Extract<ResultOf<'streamPublicSession'>, { status: 200 }>['headers'];

/**
 * What reply.raw is at run time. Handlers are typed for Fastify's default
 * HTTP/1.1 server, but with TLS configured (src/app.ts) a request that came
 * over HTTP/2 has an Http2ServerResponse.
 */
type RawResponse = ServerResponse | Http2ServerResponse;

export function rawResponse(reply: FastifyReply): RawResponse {
  return reply.raw;
}

/** A long-lived response under way: bytes for a Viewer, and its end. */
export interface OpenResponse extends FrameSink {
  onClose(listener: () => void): void;
}

/**
 * Sends a long-lived response's head. Over HTTP/1.1 it says `connection:
 * keep-alive` (the original's byte-exact head); HTTP/2 forbids
 * connection-specific headers (RFC 9113 section 8.2.2) and needs none.
 */
export function openResponse(res: RawResponse, headers: Readonly<Record<string, string | undefined>>): OpenResponse {
  if (res instanceof Http2ServerResponse) {
    res.writeHead(200, headers);
    const stream = res.stream;
    return {
      write: (chunk) => res.write(chunk),
      end: (chunk) => (chunk ? res.end(chunk) : res.end()),
      once: (event, listener) => res.once(event, listener),
      // Node's types omit these on Http2ServerResponse; its stream holds the same state.
      get writableEnded() {
        return stream.writableEnded;
      },
      get destroyed() {
        return stream.destroyed;
      },
      onClose: (listener) => void res.on('close', listener),
    };
  }
  res.writeHead(200, { ...headers, connection: 'keep-alive' });
  return directWrites(res);
}

const CRLF = Buffer.from('\r\n');
/** Chunks in HTTP/1.1 chunked framing, built once per chunk however many responses send it. */
const framedChunks = new WeakMap<Buffer, Buffer>();

function framed(chunk: Buffer): Buffer {
  let bytes = framedChunks.get(chunk);
  if (!bytes) {
    bytes = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, CRLF]);
    framedChunks.set(chunk, bytes);
  }
  return bytes;
}

/**
 * An HTTP/1.1 live response whose chunks after the first go straight to the
 * socket, framed as Node frames them (the same bytes on the wire). Every
 * viewer of a session gets the same chunk, so one framed copy serves them
 * all; Node's own res.write makes four writes and a cork per response per
 * chunk (in a bare broadcaster to 10,000 sockets here, going straight to the
 * socket took an update's arrival at all of them from 192–273 ms to 163–228
 * ms). The first chunk goes through Node, which sends the head with it.
 */
function directWrites(res: ServerResponse): OpenResponse {
  let headSent = false;
  let backedUp: { once(event: 'drain', listener: () => void): unknown } = res;
  return {
    write(chunk) {
      const socket = res.socket;
      if (!headSent || !socket) {
        headSent = true;
        backedUp = res;
        return res.write(chunk);
      }
      backedUp = socket;
      return socket.write(res.chunkedEncoding ? framed(chunk) : chunk);
    },
    end: (chunk) => (chunk ? res.end(chunk) : res.end()),
    once: (event, listener) => backedUp.once(event, listener),
    get writableEnded() {
      return res.writableEnded;
    },
    get destroyed() {
      return res.destroyed;
    },
    onClose: (listener) => void res.on('close', listener),
  };
}

/** GET /stream/...: the live multipart image (SPEC section 4). */
export async function openStream(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  ref: SessionRef,
  query: StreamQuery,
): Promise<Redirect | Hijacked> {
  const session = await ctx.sessions.get(ref);
  if (isNavigation(request) && !query.as_bot) {
    return { status: 307, body: undefined, headers: { location: `/session/${sessionPath(ref)}`, ...ANY_ORIGIN_HEADERS } };
  }
  reply.hijack();
  const head: StreamHead = {
    'content-type': STREAM_CONTENT_TYPE,
    'cache-control': 'no-cache, no-store',
    'x-accel-buffering': 'no',
    ...SVG_DOCUMENT_HEADERS,
    ...ANY_ORIGIN_HEADERS,
  };
  const res = openResponse(rawResponse(reply), head);
  // HEAD (fastify answers it with the GET route): the headers, and no stream to hold open.
  if (request.method === 'HEAD') {
    res.end();
    return HIJACKED;
  }
  const viewer = new Viewer(res, { doubleFrame: query.double_frame, keepAliveMs: query.keep_alive });
  await followSession(ctx, request, res, ref, session, viewer);
  return HIJACKED;
}

/**
 * Joins a live response (a stream's viewer or a data feed) to its session's
 * channel of the stream hub, and leaves when the client goes: the one way
 * both kinds follow a session.
 */
export async function followSession(
  ctx: AppContext,
  request: FastifyRequest,
  res: OpenResponse,
  ref: SessionRef,
  session: SessionSnapshot,
  member: ChannelMember & { detach(): void },
): Promise<void> {
  const channel = sessionKey(ref);
  // No child logger per stream: at 10,000 streams its bindings would cost memory for nothing.
  const log = request.log;
  log.info({ channel }, `${member.kind} opened`);
  res.onClose(() => {
    member.detach();
    ctx.hub.leave(channel, member);
    log.info({ channel }, `${member.kind} closed`);
  });
  try {
    await ctx.hub.join(channel, member, session.expiresAt);
    // Read again once subscribed, so a write racing the first read is not lost.
    const current = await ctx.sessions.find(ref);
    if (current) ctx.hub.showCurrent(channel, member, current);
    else member.close('gone');
  } catch (err) {
    log.warn({ err, channel }, `${member.kind} could not subscribe`);
    // What was read, then the end without a reason: the session lives on (an EventSource reconnects).
    member.receive(new SessionUpdate(session));
    member.close();
  }
}

type FrameResult = Extract<ResultOf<'getPublicSessionFrame'>, { status: 200 | 304 }>;

/** GET /frame/...: the current SVG once, with a strong ETag. */
export async function currentFrame(ctx: AppContext, ref: SessionRef, ifNoneMatch: string | undefined): Promise<FrameResult> {
  const session = await ctx.sessions.get(ref);
  const headers = { etag: session.etag, 'cache-control': 'no-cache', ...SVG_DOCUMENT_HEADERS, ...ANY_ORIGIN_HEADERS } as const;
  const matches = ifNoneMatch?.split(',').some((tag) => tag.trim() === session.etag || tag.trim() === '*');
  if (matches) return { status: 304, body: undefined, headers };
  return { status: 200, body: session.svg, headers: { ...headers, 'content-type': 'image/svg+xml' } };
}
