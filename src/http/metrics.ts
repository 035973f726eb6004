import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { StreamHub } from '../domain/streaming/hub.js';

/** A registry per app instance, so several apps in one test process don't collide. */
export function createMetrics(hub: StreamHub): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'realtime_svg_' });
  new Gauge({
    name: 'realtime_svg_open_streams',
    help: 'Open /stream connections on this instance',
    registers: [registry],
    collect() {
      this.set(hub.viewerCount);
    },
  });
  new Gauge({
    name: 'realtime_svg_open_feeds',
    help: 'Open /events connections (data feeds) on this instance',
    registers: [registry],
    collect() {
      this.set(hub.feedCount);
    },
  });
  new Gauge({
    name: 'realtime_svg_subscribed_channels',
    help: 'Session channels this instance is subscribed to',
    registers: [registry],
    collect() {
      this.set(hub.channelCount);
    },
  });
  return registry;
}

export function countResponses(app: FastifyInstance, registry: Registry): void {
  const responses = new Counter({
    name: 'realtime_svg_http_responses_total',
    help: 'HTTP responses by route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  // prom-client hashes the label object on every inc(); a route and status
  // seen before reuses its bound child instead. Few combinations exist: routes
  // come from the contract, statuses from its responses.
  const bound = new Map<string, { inc(): void }>();
  // A callback hook: an async one costs a promise per request on every route.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${String(reply.statusCode)} ${route}`;
    let child = bound.get(key);
    if (!child) {
      child = responses.labels({ method: request.method, route, status: reply.statusCode });
      bound.set(key, child);
    }
    child.inc();
    done();
  });
}
