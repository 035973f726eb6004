/**
 * Runs inside a piscina worker thread. liquidjs interprets templates without
 * eval, reads no files (`templates: {}` replaces the file system) and sees only
 * own properties of the arguments.
 *
 * A task is a batch of renders (see WorkerRenderer). Before each render the
 * worker writes which one it is on and when it started into the pool's shared
 * progress array, so the main thread can time each render on its own and, when
 * it stops the worker, knows which template was running.
 */
import { threadId, workerData } from 'node:worker_threads';
import { Liquid, type Template } from 'liquidjs';
import { etagOf } from './etag.js';
import { RENDER_LIMITS } from './limits.js';
import { PROGRESS_FIELDS, PROGRESS_SLOTS } from './progress.js';
import { checkSvgOutput } from './svg-output.js';

/** What the pool gives every worker at start. */
export interface RenderWorkerData {
  renderLimitMs: number;
  /**
   * PROGRESS_FIELDS Int32s per worker (at threadId % PROGRESS_SLOTS): the
   * batch it is on, the 1-based index of the render running, and when that
   * render started (ms since `epochMs`, wrapping). One writer per entry: a
   * worker being terminated may still write a moment longer, but only to its
   * own entry and for its own batch.
   */
  progress: SharedArrayBuffer;
  epochMs: number;
}

export interface RenderItem {
  template: string;
  args: Record<string, unknown>;
}

export interface RenderBatch {
  /** Names the batch in the progress array. */
  id: number;
  items: RenderItem[];
}

export type RenderOutcome = { ok: true; svg: string; etag: string } | { ok: false; message: string };

const data = workerData as RenderWorkerData;
const progress = new Int32Array(data.progress);

const engine = new Liquid({
  templates: {},
  ownPropertyOnly: true,
  outputEscape: 'escape',
  strictFilters: true,
  jsTruthy: false,
  parseLimit: RENDER_LIMITS.parseChars,
  renderLimit: data.renderLimitMs,
  memoryLimit: RENDER_LIMITS.memoryUnits,
});

// Writers re-render the same template on every update: keep parsed trees.
const parsed = new Map<string, Template[]>();
const PARSED_CACHE_SIZE = 256;

function parse(source: string): Template[] {
  let tree = parsed.get(source);
  if (tree) {
    parsed.delete(source);
  } else {
    tree = engine.parse(source);
    if (parsed.size >= PARSED_CACHE_SIZE) parsed.delete(parsed.keys().next().value as string);
  }
  parsed.set(source, tree);
  return tree;
}

function renderOne(item: RenderItem): RenderOutcome {
  try {
    const svg = engine.renderSync(parse(item.template), item.args) as string;
    if (Buffer.byteLength(svg) > RENDER_LIMITS.outputBytes) {
      return { ok: false, message: `rendered output exceeds ${RENDER_LIMITS.outputBytes} bytes` };
    }
    const check = checkSvgOutput(svg);
    return check.ok ? { ok: true, svg, etag: etagOf(svg) } : check;
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

export default function renderBatch(batch: RenderBatch): RenderOutcome[] {
  const outcomes: RenderOutcome[] = [];
  const at = (threadId % PROGRESS_SLOTS) * PROGRESS_FIELDS;
  // No render yet, then the batch: a reader that sees this batch sees no index of the one before.
  Atomics.store(progress, at + 1, 0);
  Atomics.store(progress, at, batch.id);
  for (const [i, item] of batch.items.entries()) {
    // The start first, then the index: a reader that sees the new index sees its start too.
    Atomics.store(progress, at + 2, (Date.now() - data.epochMs) | 0);
    Atomics.store(progress, at + 1, i + 1);
    outcomes.push(renderOne(item));
  }
  return outcomes;
}
