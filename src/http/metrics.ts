import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { FastifyInstance, onResponseHookHandler, RouteOptions } from 'fastify';
import { operationOfRoute } from '../../generated/handlers.js';
import { hookList } from './route-hooks.js';
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

type CountStatus = (status: number) => void;

interface Series {
  method: string;
  route: string;
  status: number;
  value: number;
}

/**
 * HTTP responses by route and status, counted where each is sent: an
 * operation's handler wrapper (src/http/operations.ts), the error and
 * not-found handlers (src/http/errors.ts), and an onResponse hook on the
 * routes that are not operations (pages, static files). A hook on every
 * route cost the JWKS about 6% of its instructions per request. The counts
 * are plain numbers, handed to prom-client when /metrics is scraped.
 */
export class ResponseCounter {
  private readonly routes = new Map<string, CountStatus>();
  private readonly series: Series[] = [];

  /** The counter of one route, to keep: its statuses are found without building a key per response. */
  forRoute(method: string, route: string): CountStatus {
    const name = `${method} ${route}`;
    let count = this.routes.get(name);
    if (!count) {
      const byStatus = new Map<number, Series>();
      count = (status) => {
        let entry = byStatus.get(status);
        if (!entry) {
          entry = { method, route, status, value: 0 };
          byStatus.set(status, entry);
          this.series.push(entry);
        }
        entry.value++;
      };
      this.routes.set(name, count);
    }
    return count;
  }

  count(method: string, route: string, status: number): void {
    this.forRoute(method, route)(status);
  }

  /** Publishes the counts in `registry` as realtime_svg_http_responses_total. */
  register(registry: Registry): void {
    const series = this.series;
    new Counter({
      name: 'realtime_svg_http_responses_total',
      help: 'HTTP responses by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { method, route, status, value } of series) this.inc({ method, route, status }, value);
      },
    });
  }

  /** Counts every response of the routes registered from now on that are not contract operations. */
  countOtherRoutes(app: FastifyInstance): void {
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      // Fastify's HEAD twin of a GET operation runs the operation's handler, which counts it.
      const operation = (method: string) => operationOfRoute[`${method === 'HEAD' ? 'GET' : method} ${route.url}`];
      if (methods.every((method) => operation(method) !== undefined)) return;
      const hook: onResponseHookHandler = (request, reply, done) => {
        this.count(request.method, route.url, reply.statusCode);
        done();
      };
      route.onResponse = [...hookList(route.onResponse), hook] as RouteOptions['onResponse'];
    });
  }
}
