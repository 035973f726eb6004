/**
 * What travels on a session's pub/sub channel: the session as a write left it
 * (its rendered frame, and what the data feed shows), or its end.
 */
export interface UpdateEvent {
  type: 'frame';
  svg: string;
  /** Strong ETag of the SVG bytes. */
  etag: string;
  /** The session's updatedAt: orders updates, so nobody goes back to an older one. */
  version: number;
  expiresAt: number | null;
  /**
   * The session's revision (its ETag, quoted) and args, for the data feed.
   * Absent from instances older than the feed during a rolling upgrade: their
   * frames still reach streams, and feeds wait for the next write.
   */
  revision?: string;
  args?: Record<string, unknown>;
}

export type StreamEvent = UpdateEvent | { type: 'end' };

export function encodeStreamEvent(event: StreamEvent): string {
  return JSON.stringify(event);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks every field it returns: the channel may carry anything another publisher sent. */
export function decodeStreamEvent(message: string): StreamEvent | null {
  let event: unknown;
  try {
    event = JSON.parse(message);
  } catch {
    // A foreign publisher on our channel is ignored, not fatal.
    return null;
  }
  if (!isObject(event)) return null;
  if (event.type === 'end') return { type: 'end' };
  if (event.type !== 'frame' || typeof event.svg !== 'string' || typeof event.version !== 'number') return null;
  const update: UpdateEvent = {
    type: 'frame',
    svg: event.svg,
    etag: typeof event.etag === 'string' ? event.etag : '',
    version: event.version,
    expiresAt: typeof event.expiresAt === 'number' ? event.expiresAt : null,
  };
  if (typeof event.revision === 'string' && isObject(event.args)) {
    update.revision = event.revision;
    update.args = event.args;
  }
  return update;
}
