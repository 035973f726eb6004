import { Piscina } from 'piscina';
import { renderWorkerPath } from '../../paths.js';
import { DomainError } from '../errors.js';
import { RENDER_LIMITS } from './limits.js';
import { PROGRESS_FIELDS, PROGRESS_SLOTS } from './progress.js';
import type { RenderBatch, RenderItem, RenderOutcome, RenderWorkerData } from './render-worker.js';

export { etagOf } from './etag.js';

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

/** Seconds a client is asked to wait when every worker is busy and the queue is full. */
const BUSY_RETRY_AFTER_SECONDS = 1;
/** Renders sent to a worker in one message at most. */
const MAX_BATCH = 32;
/** A render whose worker died before reaching it is sent again at most this often. */
const MAX_ATTEMPTS = 3;

interface Waiting extends RenderItem {
  resolve(frame: RenderedFrame): void;
  reject(err: DomainError): void;
  attempts: number;
  /**
   * Set once it was in a batch whose worker was stopped: its result, if it had
   * one, went with the worker. It goes again in a batch of its own, so another
   * costly template cannot cost it its result twice.
   */
  alone: boolean;
}

interface InFlight {
  id: number;
  items: Waiting[];
  controller: AbortController;
  /** Index of the render that outlived the timeout, once the batch was stopped for it. */
  overran?: number;
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Renders in a pool of worker threads so no template can stall the event loop
 * or end the process.
 *
 * Renders that wait are sent to a free worker together, up to MAX_BATCH in one
 * message: handing a task to another thread costs more than rendering a small
 * template, so under load the batches grow and that cost is shared, while a
 * render that arrives at an idle pool goes alone at once. Each render keeps
 * its own hard timeout, counted from when its worker starts it (each worker
 * writes into a shared array which render of which batch it runs and since
 * when). A render
 * past its timeout stops its worker; only that render fails, and the others of
 * its batch are sent again, each on its own.
 */
export class WorkerRenderer implements Renderer {
  private readonly pool: Piscina<RenderBatch, RenderOutcome[]>;
  private readonly progress: Int32Array;
  private readonly epochMs = Date.now();
  private readonly waiting: Waiting[] = [];
  private readonly inFlight = new Map<number, InFlight>();
  private nextBatchId = 0;
  private flushScheduled = false;
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: WorkerRendererOptions) {
    const shared = new SharedArrayBuffer(PROGRESS_SLOTS * PROGRESS_FIELDS * Int32Array.BYTES_PER_ELEMENT);
    this.progress = new Int32Array(shared);
    this.pool = new Piscina({
      // Under tsx/vitest the worker is TypeScript too and needs the same loader.
      filename: renderWorkerPath,
      // A fixed pool: piscina's default idleTimeout of 0 would end the extra threads
      // whenever the queue empties and pay a worker start-up (loading liquidjs) on the next burst.
      minThreads: options.threads,
      maxThreads: options.threads,
      execArgv: renderWorkerPath.endsWith('.ts') ? ['--import', 'tsx'] : [],
      resourceLimits: { maxOldGenerationSizeMb: RENDER_LIMITS.workerHeapMb },
      workerData: {
        renderLimitMs: options.cooperativeLimitMs ?? RENDER_LIMITS.renderMs,
        progress: shared,
        epochMs: this.epochMs,
      } satisfies RenderWorkerData,
    });
    // A worker can fail after its task was settled, e.g. running out of heap while
    // the timeout terminates it. Piscina reports that on the pool; unheard, the
    // 'error' event would end the process.
    this.pool.on('error', (err: unknown) => options.log.warn({ err }, 'render worker failed outside a task; it is replaced'));
  }

  async render(template: string, args: Record<string, unknown>): Promise<RenderedFrame> {
    if (this.closed) throw this.failure(new Error('the render pool is closed'));
    // Admission is counted here: renders running plus renders waiting.
    let admitted = this.waiting.length;
    for (const batch of this.inFlight.values()) admitted += batch.items.length;
    if (admitted >= this.options.threads + this.options.queueMax) {
      throw new DomainError('unavailable', 'every renderer is busy; try again shortly', { retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS });
    }
    return new Promise<RenderedFrame>((resolve, reject) => {
      this.waiting.push({ template, args, resolve, reject, attempts: 0, alone: false });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // Renders asked for in the same turn of the event loop travel together.
        queueMicrotask(() => {
          this.flushScheduled = false;
          this.dispatch();
        });
      }
    });
  }

  /** Sends waiting renders to free workers, one batch per worker. */
  private dispatch(): void {
    while (this.waiting.length > 0 && !this.closed) {
      const free = this.options.threads - this.inFlight.size;
      if (free <= 0) return;
      // Shares the waiting renders evenly among the free workers rather than giving the first one all.
      let size = Math.min(MAX_BATCH, Math.ceil(this.waiting.length / free));
      const alone = this.waiting.findIndex((item) => item.alone);
      if (alone === 0) size = 1;
      else if (alone > 0) size = Math.min(size, alone);
      const items = this.waiting.splice(0, size);
      for (const item of items) item.attempts++;
      // Never 0, which no worker has written yet; wraps long before it could meet a batch still running.
      this.nextBatchId = (this.nextBatchId % 0x7fffffff) + 1;
      const batch: InFlight = { id: this.nextBatchId, items, controller: new AbortController() };
      this.inFlight.set(batch.id, batch);
      this.pool
        .run({ id: batch.id, items: items.map(({ template, args }) => ({ template, args })) }, { signal: batch.controller.signal })
        .then(
          (outcomes) => this.settle(batch, outcomes),
          (err: unknown) => this.fail(batch, err),
        );
      this.watchdog ??= setInterval(() => this.enforceTimeouts(), Math.max(5, Math.min(100, this.options.timeoutMs / 10)));
    }
  }

  private release(batch: InFlight): void {
    this.inFlight.delete(batch.id);
    if (this.inFlight.size === 0) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
    }
    this.dispatch();
  }

  private settle(batch: InFlight, outcomes: RenderOutcome[]): void {
    for (const [i, item] of batch.items.entries()) {
      const outcome = outcomes[i];
      if (outcome?.ok) item.resolve({ svg: outcome.svg, etag: outcome.etag });
      else item.reject(new DomainError('template_invalid', `template could not be rendered: ${outcome?.message ?? 'no result'}`));
    }
    this.release(batch);
  }

  /**
   * The worker was stopped or died. The render it was on is blamed when the
   * cause was the template (too slow, too hungry); the others of the batch are
   * sent again, to the front of the queue.
   */
  private fail(batch: InFlight, err: unknown): void {
    const running = batch.overran ?? (this.runningIn(batch)?.index ?? 0) - 1;
    const outOfMemory = errorCode(err) === 'ERR_WORKER_OUT_OF_MEMORY';
    const again: Waiting[] = [];
    for (const [i, item] of batch.items.entries()) {
      if (batch.overran === i) {
        item.reject(
          new DomainError('template_invalid', `template could not be rendered: rendering took longer than ${this.options.timeoutMs} ms`),
        );
      } else if (outOfMemory && i === running) {
        item.reject(new DomainError('template_invalid', 'template could not be rendered: rendering exhausted its memory'));
      } else if ((batch.overran !== undefined || outOfMemory) && item.attempts < MAX_ATTEMPTS && !this.closed) {
        item.alone = true;
        again.push(item);
      } else {
        item.reject(this.failure(err));
      }
    }
    this.waiting.unshift(...again);
    this.release(batch);
  }

  /**
   * Which render of the batch its worker is on (1-based) and since when, or
   * undefined before a worker has taken it up. Read from the worker's own
   * progress entry, checked to name this batch before and after the read.
   */
  private runningIn(batch: InFlight): { index: number; startedAt: number } | undefined {
    for (let at = 0; at < this.progress.length; at += PROGRESS_FIELDS) {
      if (Atomics.load(this.progress, at) !== batch.id) continue;
      const index = Atomics.load(this.progress, at + 1);
      const startedAt = Atomics.load(this.progress, at + 2);
      // It moved on between the reads: the next sweep will see where it is.
      if (index !== Atomics.load(this.progress, at + 1) || Atomics.load(this.progress, at) !== batch.id) return undefined;
      return index === 0 ? undefined : { index, startedAt };
    }
    return undefined;
  }

  /** Stops the worker of any render that has run longer than the timeout. */
  private enforceTimeouts(): void {
    const now = (Date.now() - this.epochMs) | 0;
    for (const batch of this.inFlight.values()) {
      if (batch.overran !== undefined) continue;
      const running = this.runningIn(batch);
      // `| 0` keeps the difference right across the 32-bit wrap (every 24.8 days).
      if (running && ((now - running.startedAt) | 0) > this.options.timeoutMs) {
        batch.overran = running.index - 1;
        batch.controller.abort();
      }
    }
  }

  /** A failure of the renderer itself: unavailable, logged with its cause. */
  private failure(err: unknown): DomainError {
    this.options.log.error({ err }, 'renderer failed');
    return new DomainError('unavailable', 'the renderer failed; try again shortly', { retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS }, err);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    const unavailable = new DomainError('unavailable', 'the renderer is shutting down', { retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS });
    for (const item of this.waiting.splice(0)) item.reject(unavailable);
    await this.pool.destroy();
  }
}
