import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { DomainError } from '../errors.js';
import { RENDER_LIMITS } from './limits.js';
import type { RenderOutcome, RenderTask } from './render-worker.js';

export interface RenderedFrame {
  svg: string;
  /** Strong ETag of the SVG bytes. */
  etag: string;
}

export interface Renderer {
  /** Renders an untrusted template; a bad or too costly one is a template_invalid error. */
  render(template: string, args: Record<string, unknown>): Promise<RenderedFrame>;
  close(): Promise<void>;
}

export function etagOf(svg: string): string {
  return `"${createHash('sha256').update(svg).digest('base64url').slice(0, 27)}"`;
}

export interface WorkerRendererOptions {
  threads: number;
  /** Hard wall-clock limit; the worker is terminated when it is exceeded. */
  timeoutMs: number;
  /** liquidjs's own (cooperative) render-time budget; defaults to RENDER_LIMITS.renderMs. */
  cooperativeLimitMs?: number;
}

/** Renders in a worker pool so no template can stall the event loop. */
export class WorkerRenderer implements Renderer {
  private readonly pool: Piscina<RenderTask, RenderOutcome>;

  constructor(private readonly options: WorkerRendererOptions) {
    const here = fileURLToPath(import.meta.url);
    const extension = path.extname(here);
    // Under tsx/vitest the worker is TypeScript too and needs the same loader.
    this.pool = new Piscina({
      filename: path.join(path.dirname(here), `render-worker${extension}`),
      // A fixed pool: piscina's default idleTimeout of 0 would end the extra threads
      // whenever the queue empties and pay a worker start-up (loading liquidjs) on the next burst.
      minThreads: options.threads,
      maxThreads: options.threads,
      execArgv: extension === '.ts' ? ['--import', 'tsx'] : [],
      resourceLimits: { maxOldGenerationSizeMb: RENDER_LIMITS.workerHeapMb },
      workerData: { renderLimitMs: options.cooperativeLimitMs ?? RENDER_LIMITS.renderMs },
    });
  }

  async render(template: string, args: Record<string, unknown>): Promise<RenderedFrame> {
    let outcome: RenderOutcome;
    try {
      outcome = await this.pool.run({ template, args }, { signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (err) {
      const reason =
        err instanceof Error && err.name === 'AbortError'
          ? `rendering took longer than ${this.options.timeoutMs} ms`
          : 'rendering exhausted its resources';
      throw new DomainError('template_invalid', `template could not be rendered: ${reason}`);
    }
    if (!outcome.ok) throw new DomainError('template_invalid', `template could not be rendered: ${outcome.message}`);
    return { svg: outcome.svg, etag: etagOf(outcome.svg) };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
