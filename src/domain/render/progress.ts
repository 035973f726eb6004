/**
 * Layout of the array the render workers share with the pool: PROGRESS_FIELDS
 * Int32s per worker, at threadId % PROGRESS_SLOTS (see render-worker.ts).
 */
export const PROGRESS_SLOTS = 256;
export const PROGRESS_FIELDS = 3;
