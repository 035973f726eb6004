import type { OperationHandlers } from '../../../generated/handlers.js';
import type { AppContext } from '../context.js';
import { PAGE_HEADERS } from '../pages.js';

type OpsHandlers = Pick<OperationHandlers, 'getHealth' | 'getReadiness' | 'getMetrics' | 'getOpenApiDocument' | 'getApiReference'>;

export function opsHandlers(ctx: AppContext): OpsHandlers {
  return {
    async getHealth() {
      return { status: 200, body: { status: 'ok' } };
    },

    async getReadiness() {
      await ctx.store.ping();
      return { status: 200, body: { status: 'ready', store: ctx.store.kind } };
    },

    async getMetrics() {
      return { status: 200, body: await ctx.metrics.metrics(), headers: { 'content-type': ctx.metrics.contentType } };
    },

    async getOpenApiDocument() {
      return { status: 200, body: ctx.contract };
    },

    async getApiReference() {
      const html = ctx.views.render('docs', { title: 'realtime-svg API reference' });
      // A page like the UI's (same origin, same token in localStorage): the same policy. Swagger UI runs from files, no inline script.
      return { status: 200, body: html, headers: { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8' } };
    },
  };
}
