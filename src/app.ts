import { readFile } from 'node:fs/promises';
import { Eta } from 'eta';
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { OperationHandlers } from '../generated/handlers.js';
import type { Config, TrustProxy } from './config.js';
import { AccountService } from './domain/auth/accounts.js';
import { KeyRing } from './domain/auth/keys.js';
import { FailureThrottle } from './domain/auth/throttle.js';
import { TokenService } from './domain/auth/tokens.js';
import { WorkerRenderer, type Renderer } from './domain/render/renderer.js';
import { SessionService } from './domain/sessions/session-service.js';
import { StreamHub } from './domain/streaming/hub.js';
import type { AppContext } from './http/context.js';
import { answerClientError, answerFrameworkError, installErrorHandling } from './http/errors.js';
import { limitSecureServer, readTlsFiles } from './http/http2.js';
import { ROUTER_OPTIONS } from './http/method-not-allowed.js';
import { authHandlers } from './http/handlers/auth.js';
import { opsHandlers } from './http/handlers/ops.js';
import { publicSessionHandlers } from './http/handlers/public-sessions.js';
import { userSessionHandlers } from './http/handlers/user-sessions.js';
import { bearerAuth } from './http/security.js';
import { installAccessLog } from './http/access-log.js';
import { createMetrics, ResponseCounter } from './http/metrics.js';
import { registerOperations } from './http/operations.js';
import { registerPages } from './http/pages.js';
import { loadCompiledSchemas, schemaCompilers } from './http/schema-compilers.js';
import { allowAnyOriginOnPublicReads } from './http/public-reads.js';
import { installRouteGuards } from './http/route-guards.js';
import { contractPath, viewsDir } from './paths.js';
import { connectStore } from './store/connect.js';
import type { Store } from './store/store.js';

/**
 * Behind a reverse proxy the client address (per-client limits) comes from
 * X-Forwarded-For, trusting only the configured hops. Fastify's types omit the
 * hop count it accepts at run time, so the count becomes the same predicate.
 */
function trustProxyOption(trust: TrustProxy): false | string[] | ((address: string, hop: number) => boolean) {
  return typeof trust === 'number' ? (_address, hop) => hop < trust : trust;
}

export interface BuildOptions {
  /** Use this store instead of the one REDIS_URL selects (tests share one across apps). */
  store?: Store;
  /** Compile every schema and put its source here (the build's scripts/compile-schemas.ts). */
  recordSchemas?: Map<string, string>;
}

/** The service: plain HTTP/1.1, or with TLS_CERT_FILE/TLS_KEY_FILE, HTTPS speaking HTTP/2 and HTTP/1.1 (SPEC section 4). */
export type App = FastifyInstance | FastifyInstance<Http2SecureServer, Http2ServerRequest, Http2ServerResponse>;

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<App> {
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = Math.min(config.HEADERS_TIMEOUT_MS, config.REQUEST_TIMEOUT_MS);
  const http1Deadlines = {
    headersTimeout,
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    // Node enforces both deadlines only at this interval (30 s by default), which
    // would let a trickling client hold its socket three times as long as allowed.
    // Each check walks only connections with an unfinished request, not streams.
    connectionsCheckingInterval: Math.min(1_000, Math.ceil(config.HEADERS_TIMEOUT_MS / 4)),
  };
  const serverOptions = {
    logger: { level: config.LOG_LEVEL, redact: ['req.headers.authorization', 'req.headers.cookie'] },
    // src/http/access-log.ts writes one line per request instead, at debug.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Requests that arrive while closing get the contract's 503 instead (src/http/route-guards.ts).
    return503OnClosing: false,
    forceCloseConnections: 'idle' as const,
    trustProxy: trustProxyOption(config.TRUST_PROXY),
    // Slow clients (SPEC section 9): headers and body each have a deadline, idle
    // keep-alive connections close. Node's requestTimeout covers receiving the
    // request only, so a stream, whose request is complete, is never cut by it.
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
    routerOptions: ROUTER_OPTIONS,
    // Fastify's own answers for these (414 with the URL echoed, FST_ codes,
    // bodies without `code`) would break the contract's Error shape.
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
  };
  // Fastify types a plugin's instance apart from the server under it, so the
  // routes, hooks and handlers are one piece of code for both servers; only the
  // stream code touches the raw response (src/http/live-image.ts handles both).
  const service = fastifyPlugin(async (app: FastifyInstance) => assemble(app, config, options));

  const tls = await readTlsFiles(config.TLS_CERT_FILE, config.TLS_KEY_FILE);
  if (tls) {
    const app = Fastify({
      ...serverOptions,
      http2: true,
      https: { allowHTTP1: true, cert: tls.cert, key: tls.key },
      // Fastify's session timeout would close a connection carrying a quiet live image; limitSecureServer closes idle ones instead.
      http2SessionTimeout: 0,
    });
    const sessions = limitSecureServer(app.server, {
      http1: { ...http1Deadlines, keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS },
      requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
      idleSessionMs: config.KEEP_ALIVE_TIMEOUT_MS,
    });
    await app.register(service);
    // Registered after the service's own preClose, which ends the streams first.
    app.addHook('preClose', async () => sessions.closeSessions());
    return app;
  }
  const app = Fastify({ ...serverOptions, http: http1Deadlines });
  await app.register(service);
  return app;
}

async function assemble(app: FastifyInstance, config: Config, options: BuildOptions): Promise<void> {
  const compilers = schemaCompilers(options.recordSchemas ? { record: options.recordSchemas } : { precompiled: loadCompiledSchemas() });
  app.setValidatorCompiler(compilers.validatorCompiler);
  app.setSerializerCompiler(compilers.serializerCompiler);
  // Every request body in the contract is JSON. The media types the contract only
  // *returns* get a parser that refuses them (415): a text/plain body would
  // otherwise skip validation.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(
    ['text/plain', 'text/html', 'image/svg+xml', 'multipart/x-mixed-replace', 'text/event-stream'],
    (_request, _body, done) => {
      done(Object.assign(new Error('only application/json request bodies are accepted'), { statusCode: 415 }), undefined);
    },
  );
  const responses = new ResponseCounter();
  installErrorHandling(app, responses);
  responses.countOtherRoutes(app);

  let store = options.store;
  const ownsStore = !store;
  if (!store) {
    store = await connectStore(config.REDIS_URL, app.log, {
      embeddedMaxBytes: config.EMBEDDED_STORE_MAX_MB * 1_048_576,
      timeoutMs: config.STORE_TIMEOUT_MS,
      clusterNodes: config.REDIS_CLUSTER_NODES,
    });
  }
  const closingStore = store;
  const renderer: Renderer = new WorkerRenderer({
    threads: config.RENDER_THREADS,
    timeoutMs: config.RENDER_TIMEOUT_MS,
    queueMax: config.RENDER_QUEUE_MAX,
    log: app.log,
  });
  const hub = new StreamHub(store, app.log);
  const keys = await KeyRing.open(store, app.log);
  // A store that came back may have come back empty: find out now, not at the next periodic refresh.
  store.onReconnect(() => void keys.refresh().catch((err: unknown) => app.log.error({ err }, 'key refresh after reconnect failed')));
  const throttle = new FailureThrottle(store, {
    maxFailuresPerUser: config.AUTH_MAX_FAILURES_PER_USER,
    maxFailuresPerClient: config.AUTH_MAX_FAILURES_PER_CLIENT,
    windowMs: config.AUTH_FAILURE_WINDOW_SECONDS * 1000,
  });
  const contract = JSON.parse(await readFile(contractPath, 'utf8')) as Record<string, unknown>;
  const ctx: AppContext = {
    config,
    store,
    sessions: new SessionService(store, renderer, { maxSessionsPerUser: config.MAX_SESSIONS_PER_USER }),
    keys,
    tokens: new TokenService(keys, config.JWT_ISSUER),
    accounts: new AccountService(store, throttle),
    hub,
    views: new Eta({ views: viewsDir, cache: true }),
    metrics: createMetrics(hub),
    contract,
  };
  responses.register(ctx.metrics);
  installAccessLog(app);
  await installRouteGuards(app, store, config);
  allowAnyOriginOnPublicReads(app);

  const handlers: OperationHandlers = {
    ...publicSessionHandlers(ctx),
    ...userSessionHandlers(ctx),
    ...authHandlers(ctx),
    ...opsHandlers(ctx),
  };
  registerOperations(app, handlers, bearerAuth(ctx), responses);
  await registerPages(app, ctx);

  // Streams end with a closing boundary before the server waits for connections to drain.
  app.addHook('preClose', async () => hub.closeAll());
  app.addHook('onClose', async () => {
    keys.close();
    await renderer.close();
    if (ownsStore) await closingStore.close();
  });
}
