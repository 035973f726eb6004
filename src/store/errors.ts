/** Failures of the storage layer itself, mapped to HTTP at the edge (src/http/errors.ts). */

/** The embedded store has reached its memory budget: the write was not made. */
export class StoreFullError extends Error {
  constructor(readonly budgetBytes: number) {
    super(`the store has reached its memory budget of ${Math.round(budgetBytes / 1_048_576)} MB; nothing was stored`);
    this.name = 'StoreFullError';
  }
}

/**
 * The store did not answer (connection down, or no reply within the command
 * timeout). Nothing is known about whether a write was applied; the client
 * may retry after retryAfterSeconds.
 */
export class StoreUnavailableError extends Error {
  readonly retryAfterSeconds = 1;

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`the store is unavailable (${reason}), try again shortly`, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * The store could not be reached while the service started. `where` names the
 * address only, never the credentials a URL may carry.
 */
export class StoreUnreachableError extends Error {
  constructor(where: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot reach the store at ${where}: ${reason}`, options);
    this.name = 'StoreUnreachableError';
  }
}
