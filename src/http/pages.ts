import path from 'node:path';
import { createRequire } from 'node:module';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { isIdentifier, publicRef, sessionPath, userRef, type SessionRef } from '../domain/ids.js';
import { publicDir, webBundleDir } from '../paths.js';
import type { AppContext } from './context.js';

const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/**
 * Headers of every HTML page (SPEC section 7). The login token sits in
 * localStorage, so no script but our own files may run (no inline script, no
 * eval) and no other site may frame a page to click through it. Images may be
 * data:/blob: URLs (Swagger UI's icons, previews of a rendered SVG). Styles come
 * from files only: Swagger UI sets its inline styles through the CSSOM, which
 * style-src does not govern, so no page needs 'unsafe-inline'
 * (tests/integration/http-edge.test.ts watches Chromium for violations).
 * API responses, streams and frames do not get these: they are not pages, and
 * SVG responses carry their own, stricter policy.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

function sendPage(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.code(status).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(html);
}

/** How a session URL that is not valid is named on its 404 page: recognisable, never a huge echo. */
function shownPath(segments: string[]): string {
  const joined = segments.join('/');
  return joined.length > 80 ? `${joined.slice(0, 80)}…` : joined;
}

/** HTML pages and static assets of the web UI: not API operations, so not in the contract. */
export async function registerPages(app: FastifyInstance, ctx: AppContext): Promise<void> {
  await app.register(fastifyStatic, { root: [publicDir, webBundleDir], prefix: '/assets/', decorateReply: false });
  await app.register(fastifyStatic, {
    root: swaggerUiDir,
    prefix: '/docs/assets/',
    decorateReply: false,
    allowedPath: (pathName) => /^\/swagger-ui(-bundle|-standalone-preset)?\.(js|css)$/.test(pathName),
  });

  app.get('/', async (_request, reply) => sendPage(reply, 200, ctx.views.render('home', {})));

  const viewer = async (ref: SessionRef, reply: FastifyReply) => {
    const session = await ctx.sessions.find(ref);
    const html = ctx.views.render('viewer', {
      path: sessionPath(ref),
      sessionId: ref.sessionId,
      userId: ref.kind === 'user' ? ref.userId : '',
      exists: session !== null,
    });
    return sendPage(reply, session ? 200 : 404, html);
  };

  // A session URL whose ids break the identifier rule names no session: the same HTML 404 as a missing one (SPEC section 7).
  const invalid = (segments: string[], reply: FastifyReply) =>
    sendPage(reply, 404, ctx.views.render('viewer', { path: shownPath(segments), sessionId: '', userId: '', exists: false }));

  app.get<{ Params: { session_id: string } }>('/session/:session_id', async (request, reply) => {
    const { session_id } = request.params;
    if (!isIdentifier(session_id)) return invalid([session_id], reply);
    return viewer(publicRef(session_id), reply);
  });

  app.get<{ Params: { user_id: string; session_id: string } }>('/session/:user_id/:session_id', async (request, reply) => {
    const { user_id, session_id } = request.params;
    if (!isIdentifier(user_id) || !isIdentifier(session_id)) return invalid([user_id, session_id], reply);
    return viewer(userRef(user_id, session_id), reply);
  });
}
