/**
 * Runs inside a piscina worker thread. liquidjs interprets templates without
 * eval, reads no files (`templates: {}` replaces the file system) and sees only
 * own properties of the arguments.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Liquid, type Template } from 'liquidjs';
import { RENDER_LIMITS } from './limits.js';
import { checkSvgOutput } from './svg-output.js';

const engine = new Liquid({
  templates: {},
  ownPropertyOnly: true,
  outputEscape: 'escape',
  strictFilters: true,
  jsTruthy: false,
  parseLimit: RENDER_LIMITS.parseChars,
  renderLimit: (workerData as { renderLimitMs?: number } | null)?.renderLimitMs ?? RENDER_LIMITS.renderMs,
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

export interface RenderTask {
  /** Announced to the main thread when the render starts, so its hard timeout counts running time only. */
  id: number;
  template: string;
  args: Record<string, unknown>;
}

/** What the worker tells the main thread (piscina forwards it as the pool's 'message' event). */
export interface RenderStarted {
  renderStarted: number;
}

export type RenderOutcome = { ok: true; svg: string } | { ok: false; message: string };

export default function render(task: RenderTask): RenderOutcome {
  parentPort?.postMessage({ renderStarted: task.id } satisfies RenderStarted);
  try {
    const svg = engine.renderSync(parse(task.template), task.args) as string;
    if (Buffer.byteLength(svg) > RENDER_LIMITS.outputBytes) {
      return { ok: false, message: `rendered output exceeds ${RENDER_LIMITS.outputBytes} bytes` };
    }
    const check = checkSvgOutput(svg);
    return check.ok ? { ok: true, svg } : check;
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}
