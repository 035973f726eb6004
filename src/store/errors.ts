/** Failures of the storage layer itself, mapped to HTTP at the edge (src/http/errors.ts). */

/** The embedded store has reached its memory budget: the write was not made. */
export class StoreFullError extends Error {
  constructor(readonly budgetBytes: number) {
    super(`the store has reached its memory budget of ${Math.round(budgetBytes / 1_048_576)} MB; nothing was stored`);
    this.name = 'StoreFullError';
  }
}
