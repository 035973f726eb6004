/** Bounds on what one untrusted template may cost. */
export const RENDER_LIMITS = {
  /** Characters liquidjs may parse per template (the contract caps templates at 64 KiB). */
  parseChars: 65_536,
  /** Cooperative render-time budget inside liquidjs, in milliseconds. */
  renderMs: 250,
  /** liquidjs allocation budget (its own units, roughly characters and array slots). */
  memoryUnits: 20_000_000,
  /** Largest SVG a render may produce. */
  outputBytes: 1_048_576,
  /** Heap of one render worker; a template that exhausts it kills only that worker. */
  workerHeapMb: 96,
} as const;
