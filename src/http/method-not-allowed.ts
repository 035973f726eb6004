import { METHODS } from 'node:http';
import FindMyWay from 'find-my-way';
import type { FastifyInstance } from 'fastify';

/**
 * Router options shared by fastify's router and the method index below, so
 * both match exactly the same paths.
 */
export const ROUTER_OPTIONS = {
  // find-my-way answers 414 itself past this length (default 100), before the
  // contract sees the id. Node refuses request lines over its 16 KiB header
  // limit anyway, so this only hands every id to validation: 400, never 414.
  maxParamLength: 65_536,
} as const;

type Method = FindMyWay.HTTPMethod;

/** The order Allow lists methods in; any other method follows, alphabetically. */
const ALLOW_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const rank = (method: string) => {
  const index = ALLOW_ORDER.indexOf(method);
  return index < 0 ? ALLOW_ORDER.length : index;
};
const byAllowOrder = (a: string, b: string) => rank(a) - rank(b) || a.localeCompare(b);

function isRouterMethod(method: string): method is Method {
  return METHODS.includes(method);
}

/**
 * Which methods each registered path answers. Fastify's router only says "no
 * route" for a path known under other methods, so a wrong method would be a
 * 404; this second router, fed with the same routes, tells the two apart.
 */
export class RouteMethods {
  private readonly router = FindMyWay({ ...ROUTER_OPTIONS });
  private readonly methods = new Set<Method>();

  record(method: string | string[], url: string): void {
    for (const name of Array.isArray(method) ? method : [method]) {
      const upper = name.toUpperCase();
      // A method find-my-way does not know (fastify.addHttpMethod) cannot be indexed; it only loses its Allow entry.
      if (!isRouterMethod(upper)) continue;
      // Routes that differ only by constraints (host, version) share a method and path.
      if (this.router.hasRoute(upper, url)) continue;
      this.router.on(upper, url, () => undefined);
      this.methods.add(upper);
    }
  }

  /** The methods registered for this path (query ignored), in Allow order; empty if the path is unknown. */
  allowed(url: string): string[] {
    const path = url.split('?', 1)[0] ?? url;
    return [...this.methods].filter((method) => this.router.find(method, path) !== null).sort(byAllowOrder);
  }
}

/**
 * Indexes every route registered after this call. Call it before any route or
 * plugin is registered: an onRoute hook sees only the routes added after it.
 */
export function trackRouteMethods(app: FastifyInstance): RouteMethods {
  const index = new RouteMethods();
  app.addHook('onRoute', (route) => index.record(route.method, route.url));
  return index;
}
