/** What travels on a session's pub/sub channel: a rendered frame, or the end of the session. */
export type StreamEvent =
  | { type: 'frame'; svg: string; etag: string; version: number; expiresAt: number | null }
  | { type: 'end' };

export function encodeStreamEvent(event: StreamEvent): string {
  return JSON.stringify(event);
}

export function decodeStreamEvent(message: string): StreamEvent | null {
  try {
    const event = JSON.parse(message) as StreamEvent;
    if (event.type === 'end') return event;
    if (event.type === 'frame' && typeof event.svg === 'string') return event;
  } catch {
    // A foreign publisher on our channel is ignored, not fatal.
  }
  return null;
}
