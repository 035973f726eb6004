import { contractLimits } from '../../../generated/limits.js';

/** Bounds on what one untrusted template may cost. */
export const RENDER_LIMITS = {
  /** Characters liquidjs may parse per template: as many as the contract lets a template hold. */
  parseChars: contractLimits.schemas.Template.maxLength,
  /** Cooperative render-time budget inside liquidjs, in milliseconds. */
  renderMs: 250,
  /** liquidjs allocation budget (its own units, roughly characters and array slots). */
  memoryUnits: 20_000_000,
  /** Largest SVG a render may produce. */
  outputBytes: 1_048_576,
  /** Heap of one render worker; a template that exhausts it kills only that worker. */
  workerHeapMb: 96,
} as const;
