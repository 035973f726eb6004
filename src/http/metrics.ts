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
  // A callback hook: an async one costs a promise per request on every route.
  app.addHook('onResponse', (request, reply, done) => {
    responses.inc({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode });
    done();
  });
}
