import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import fastifyStatic from '@fastify/static';
import { Eta } from 'eta';
import type { FastifyInstance, FastifyReply, FastifyRequest, RawServerBase, RouteGenericInterface } from 'fastify';
import { isIdentifier, publicRef, sessionPath, userRef, type SessionRef } from '../domain/ids.js';
import { publicDir, viewsDir, webBundleDir } from '../paths.js';
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
export const PAGE_HEADERS = {
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
} as const;

// Generic over the server: the 404 page is also sent from frameworkErrors, an option of the root instance (src/app.ts).
function sendPage<S extends RawServerBase>(
  reply: FastifyReply<RouteGenericInterface, S>,
  status: number,
  html: string,
): FastifyReply<RouteGenericInterface, S> {
  return reply.code(status).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(html);
}

/** How a session URL that is not valid is named on its 404 page: recognisable, never a huge echo. */
function shownPath(segments: string[]): string {
  const joined = segments.join('/');
  return joined.length > 80 ? `${joined.slice(0, 80)}…` : joined;
}

// Its own instance, so the 404 page can be sent before any AppContext exists (a URL the router cannot even decode).
const notFoundViews = new Eta({ views: viewsDir, cache: true });

/** True for the web UI's session pages, /session and everything under it: people open these, so errors there are pages. */
export function isSessionPageUrl(url: string): boolean {
  return /^\/session(?:[/?#]|$)/.test(url);
}

/**
 * The HTML 404 for any bad session URL (SPEC section 7): a missing or expired
 * session, an id that breaks the identifier rule, too many path segments, or
 * bytes that are not valid percent-encoding. Never the API's JSON.
 */
export function sendSessionNotFound<S extends RawServerBase>(
  reply: FastifyReply<RouteGenericInterface, S>,
  path: string,
  invalid: boolean,
): FastifyReply<RouteGenericInterface, S> {
  return sendPage(reply, 404, notFoundViews.render('notfound', { path, invalid }));
}

/** The origin people reach this service at, for absolute embed URLs; behind a proxy, with TRUST_PROXY, the forwarded one. */
function originOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

const FAVICONS: Record<string, { type: string; body: Buffer }> = {
  '/favicon.ico': { type: 'image/x-icon', body: readFileSync(path.join(publicDir, 'favicon.ico')) },
  '/favicon.svg': { type: 'image/svg+xml', body: readFileSync(path.join(publicDir, 'favicon.svg')) },
};

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

  for (const [url, icon] of Object.entries(FAVICONS)) {
    app.get(url, async (_request, reply) => reply.type(icon.type).header('cache-control', 'public, max-age=86400').send(icon.body));
  }

  const viewer = async (ref: SessionRef, request: FastifyRequest, reply: FastifyReply) => {
    const path = sessionPath(ref);
    const session = await ctx.sessions.find(ref);
    if (!session) return sendSessionNotFound(reply, path, false);
    const origin = originOf(request);
    const streamUrl = `${origin}/stream/${path}`;
    const html = ctx.views.render('viewer', {
      path,
      sessionId: ref.sessionId,
      userId: ref.kind === 'user' ? ref.userId : '',
      streamUrl,
      frameUrl: `${origin}/frame/${path}`,
      embedHtml: `<img src="${streamUrl}" alt="${ref.sessionId}">`,
      embedMarkdown: `![${ref.sessionId}](${streamUrl})`,
    });
    return sendPage(reply, 200, html);
  };

  // A session URL whose ids break the identifier rule names no session: the same HTML 404 as a missing one (SPEC section 7).
  const invalid = (segments: string[], reply: FastifyReply) => sendSessionNotFound(reply, shownPath(segments), true);

  app.get<{ Params: { session_id: string } }>('/session/:session_id', async (request, reply) => {
    const { session_id } = request.params;
    if (!isIdentifier(session_id)) return invalid([session_id], reply);
    return viewer(publicRef(session_id), request, reply);
  });

  app.get<{ Params: { user_id: string; session_id: string } }>('/session/:user_id/:session_id', async (request, reply) => {
    const { user_id, session_id } = request.params;
    if (!isIdentifier(user_id) || !isIdentifier(session_id)) return invalid([user_id, session_id], reply);
    return viewer(userRef(user_id, session_id), request, reply);
  });

  // No session page has more segments, or none: still a page URL, so still the HTML 404.
  app.get<{ Params: { '*': string } }>('/session/*', async (request, reply) => invalid(request.params['*'].split('/'), reply));
  app.get('/session', async (_request, reply) => invalid([], reply));
}
