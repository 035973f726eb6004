import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { DomainError } from '../errors.js';
import { RENDER_LIMITS } from './limits.js';
import type { RenderOutcome, RenderStarted, RenderTask } from './render-worker.js';

export interface RenderedFrame {
  svg: string;
  /** Strong ETag of the SVG bytes. */
  etag: string;
}

export interface Renderer {
  /**
   * Renders an untrusted template. A bad or too costly template is a
   * template_invalid error; a full queue or a failure of the renderer itself
   * is `unavailable`, never blamed on the template.
   */
  render(template: string, args: Record<string, unknown>): Promise<RenderedFrame>;
  close(): Promise<void>;
}

export interface RendererLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export function etagOf(svg: string): string {
  return `"${createHash('sha256').update(svg).digest('base64url').slice(0, 27)}"`;
}

export interface WorkerRendererOptions {
  threads: number;
  /** Hard limit on a render's own running time; its worker is terminated past it. Time spent queued never counts. */
  timeoutMs: number;
  /** Renders waiting for a worker; one more is refused at once with `unavailable`. */
  queueMax: number;
  /** liquidjs's own (cooperative) render-time budget; defaults to RENDER_LIMITS.renderMs. */
  cooperativeLimitMs?: number;
  log: RendererLogger;
}

interface Running {
  controller: AbortController;
  timer?: NodeJS.Timeout;
}

/** Seconds a client is asked to wait when every worker is busy and the queue is full. */
const BUSY_RETRY_AFTER_SECONDS = 1;

function isRenderStarted(message: unknown): message is RenderStarted {
  return typeof message === 'object' && message !== null && typeof (message as RenderStarted).renderStarted === 'number';
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Renders in a worker pool so no template can stall the event loop or end the process. */
export class WorkerRenderer implements Renderer {
  private readonly pool: Piscina<RenderTask, RenderOutcome>;
  private readonly running = new Map<number, Running>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly options: WorkerRendererOptions) {
    const here = fileURLToPath(import.meta.url);
    const extension = path.extname(here);
    this.pool = new Piscina({
      // Under tsx/vitest the worker is TypeScript too and needs the same loader.
      filename: path.join(path.dirname(here), `render-worker${extension}`),
      // A fixed pool: piscina's default idleTimeout of 0 would end the extra threads
      // whenever the queue empties and pay a worker start-up (loading liquidjs) on the next burst.
      minThreads: options.threads,
      maxThreads: options.threads,
      execArgv: extension === '.ts' ? ['--import', 'tsx'] : [],
      resourceLimits: { maxOldGenerationSizeMb: RENDER_LIMITS.workerHeapMb },
      workerData: { renderLimitMs: options.cooperativeLimitMs ?? RENDER_LIMITS.renderMs },
    });
    // The clock starts when a worker picks the render up, not when it was queued:
    // a render never pays for the renders ahead of it.
    this.pool.on('message', (message: unknown) => {
      if (!isRenderStarted(message)) return;
      const task = this.running.get(message.renderStarted);
      if (task && !task.timer) task.timer = setTimeout(() => task.controller.abort(), options.timeoutMs);
    });
    // A worker can fail after its task was settled, e.g. running out of heap while
    // the timeout terminates it. Piscina reports that on the pool; unheard, the
    // 'error' event would end the process.
    this.pool.on('error', (err: unknown) => options.log.warn({ err }, 'render worker failed outside a task; it is replaced'));
  }

  /** Renders waiting for a worker (for metrics). */
  get queued(): number {
    return Math.max(0, this.running.size - this.options.threads);
  }

  async render(template: string, args: Record<string, unknown>): Promise<RenderedFrame> {
    if (this.closed) throw this.failure(new Error('the render pool is closed'), false);
    // Admission is counted here, not by piscina's maxQueue: piscina parks tasks
    // that carry an AbortSignal in a side queue its limit does not count.
    if (this.running.size >= this.options.threads + this.options.queueMax) {
      throw new DomainError('unavailable', 'every renderer is busy; try again shortly', { retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS });
    }
    const id = ++this.nextId;
    const task: Running = { controller: new AbortController() };
    this.running.set(id, task);
    let outcome: RenderOutcome;
    try {
      outcome = await this.pool.run({ id, template, args }, { signal: task.controller.signal });
    } catch (err) {
      throw this.failure(err, task.controller.signal.aborted);
    } finally {
      clearTimeout(task.timer);
      this.running.delete(id);
    }
    if (!outcome.ok) throw new DomainError('template_invalid', `template could not be rendered: ${outcome.message}`);
    return { svg: outcome.svg, etag: etagOf(outcome.svg) };
  }

  /** Tells the template's fault (too slow, too hungry) from the renderer's own. */
  private failure(err: unknown, timedOut: boolean): DomainError {
    if (timedOut) {
      return new DomainError('template_invalid', `template could not be rendered: rendering took longer than ${this.options.timeoutMs} ms`);
    }
    if (errorCode(err) === 'ERR_WORKER_OUT_OF_MEMORY') {
      return new DomainError('template_invalid', 'template could not be rendered: rendering exhausted its memory');
    }
    this.options.log.error({ err }, 'renderer failed');
    return new DomainError('unavailable', 'the renderer failed; try again shortly', { retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS }, err);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.running.values()) clearTimeout(task.timer);
    await this.pool.destroy();
  }
}
