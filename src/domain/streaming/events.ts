/** What travels on a session's pub/sub channel: a rendered frame, or the end of the session. */
export type StreamEvent =
  | { type: 'frame'; svg: string; etag: string; version: number; expiresAt: number | null }
  | { type: 'end' };

export function encodeStreamEvent(event: StreamEvent): string {
  return JSON.stringify(event);
}

export function decodeStreamEvent(message: string): StreamEvent | null {
  try {
    // Parsed as unknown: the channel may carry anything another publisher sent.
    const event = JSON.parse(message) as Partial<Record<keyof StreamEvent | 'svg', unknown>>;
    if (event.type === 'end') return { type: 'end' };
    if (event.type === 'frame' && typeof event.svg === 'string') return event as StreamEvent;
  } catch {
    // A foreign publisher on our channel is ignored, not fatal.
  }
  return null;
}
