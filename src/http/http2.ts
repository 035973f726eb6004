import { readFile } from 'node:fs/promises';
import { constants, type Http2SecureServer, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import type { ErrorBody } from './errors.js';

/**
 * HTTPS with HTTP/2 (SPEC section 4). Browsers open at most 6 HTTP/1.1
 * connections per host and every live image holds one, so a page with more
 * live images starves; over HTTP/2 they all share one connection. Browsers
 * speak HTTP/2 only over TLS, hence the certificate.
 */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

export async function readTlsFiles(certFile: string | undefined, keyFile: string | undefined): Promise<TlsFiles | null> {
  if (certFile === undefined || keyFile === undefined) return null;
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  return { cert, key };
}

/** Node's HTTP/1.1 connection deadlines, which an HTTP/2 server applies to the HTTP/1.1 clients it accepts (allowHTTP1). */
export interface Http1Deadlines {
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
  keepAliveTimeout: number;
}

export interface SecureServerLimits {
  http1: Http1Deadlines;
  /** An HTTP/2 request's body must have arrived within this, as REQUEST_TIMEOUT_MS does for HTTP/1.1. */
  requestTimeoutMs: number;
  /** A connection with no open request is closed after this, as KEEP_ALIVE_TIMEOUT_MS does for HTTP/1.1. */
  idleSessionMs: number;
}

const TIMED_OUT: ErrorBody = { error: 'the request headers or body did not arrive in time', code: 'validation_failed' };

/**
 * The slow-client limits (SPEC section 9) on an HTTPS server that speaks both
 * protocols, and a graceful close of its HTTP/2 connections on shutdown.
 *
 * - HTTP/1.1 clients are served by Node's HTTP/1.1 connection code, which reads
 *   its deadlines from the server object: Node's types do not declare them on
 *   an HTTP/2 server, but it sets and uses them (allowHTTP1), so they are set
 *   here like `http: {...}` sets them on a plain server. They must be set
 *   before listen: the periodic check starts then.
 * - HTTP/2 has no such deadlines in Node. A request whose body has not ended
 *   within requestTimeoutMs gets the same 408 as over HTTP/1.1, and the stream
 *   is reset with NO_ERROR (RFC 9113 section 8.1: the answer came first).
 * - Fastify's own HTTP/2 session timeout closes a session after some idle time
 *   even while a quiet live image is open on it (keep_alive may be an hour), so
 *   it is turned off by the caller and this closes only sessions without an
 *   open stream.
 */
export function limitSecureServer(server: Http2SecureServer, limits: SecureServerLimits): { closeSessions(): void } {
  Object.assign(server, limits.http1);
  const sessions = new Set<Http2Session>();

  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    let open = 0;
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      idle = setTimeout(() => session.close(), limits.idleSessionMs);
      idle.unref();
    };
    armIdle();
    session.on('stream', (stream: ServerHttp2Stream) => {
      open += 1;
      clearTimeout(idle);
      stream.once('close', () => {
        open -= 1;
        if (open === 0 && !session.closed && !session.destroyed) armIdle();
      });
    });
    session.once('close', () => {
      clearTimeout(idle);
      sessions.delete(session);
    });
  });

  server.on('stream', (stream: ServerHttp2Stream) => {
    // A request without a body (GET, a stream) is complete with its headers.
    if (stream.endAfterHeaders) return;
    const deadline = setTimeout(() => {
      if (stream.readableEnded || stream.destroyed) return;
      if (!stream.headersSent) {
        const json = JSON.stringify(TIMED_OUT);
        stream.respond({ ':status': 408, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
        stream.end(json);
      }
      stream.close(constants.NGHTTP2_NO_ERROR);
    }, limits.requestTimeoutMs);
    deadline.unref();
    stream.once('end', () => clearTimeout(deadline));
    stream.once('close', () => clearTimeout(deadline));
  });

  return {
    // GOAWAY: requests under way finish, new ones go to a new connection. Streams have
    // already been ended by then (preClose), so every session can close at once.
    closeSessions: () => {
      for (const session of sessions) if (!session.closed) session.close();
    },
  };
}
