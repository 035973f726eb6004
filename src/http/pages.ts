import path from 'node:path';
import { createRequire } from 'node:module';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { isIdentifier, publicRef, sessionPath, userRef, type SessionRef } from '../domain/ids.js';
import { publicDir, webBundleDir } from '../paths.js';
import type { AppContext } from './context.js';

const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** HTML pages and static assets of the web UI: not API operations, so not in the contract. */
export async function registerPages(app: FastifyInstance, ctx: AppContext): Promise<void> {
  await app.register(fastifyStatic, { root: [publicDir, webBundleDir], prefix: '/assets/', decorateReply: false });
  await app.register(fastifyStatic, {
    root: swaggerUiDir,
    prefix: '/docs/assets/',
    decorateReply: false,
    allowedPath: (pathName) => /^\/swagger-ui(-bundle|-standalone-preset)?\.(js|css)$/.test(pathName),
  });

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(ctx.views.render('home', {})));

  const viewer = async (ref: SessionRef, reply: import('fastify').FastifyReply) => {
    const session = await ctx.sessions.find(ref);
    const html = ctx.views.render('viewer', {
      path: sessionPath(ref),
      sessionId: ref.sessionId,
      userId: ref.kind === 'user' ? ref.userId : '',
      exists: session !== null,
    });
    return reply.code(session ? 200 : 404).type('text/html; charset=utf-8').send(html);
  };

  app.get<{ Params: { session_id: string } }>('/session/:session_id', async (request, reply) => {
    const { session_id } = request.params;
    if (!isIdentifier(session_id)) return reply.callNotFound();
    return viewer(publicRef(session_id), reply);
  });

  app.get<{ Params: { user_id: string; session_id: string } }>('/session/:user_id/:session_id', async (request, reply) => {
    const { user_id, session_id } = request.params;
    if (!isIdentifier(user_id) || !isIdentifier(session_id)) return reply.callNotFound();
    return viewer(userRef(user_id, session_id), reply);
  });
}
