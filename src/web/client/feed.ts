import type { components } from '../../../generated/types.js';

export type FeedUpdate = components['schemas']['SessionUpdateEvent'];
export type FeedEnd = components['schemas']['SessionEndEvent'];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The data of an `update` event, checked field by field: a proxy or an older server may send anything. */
export function parseUpdate(text: string): FeedUpdate | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(value) || !isRecord(value.args) || typeof value.etag !== 'string' || typeof value.updated_at !== 'string') return null;
  const expiresAt = typeof value.expires_at === 'string' ? value.expires_at : null;
  return { args: value.args, etag: value.etag, updated_at: value.updated_at, expires_at: expiresAt };
}

export function parseEnd(text: string): FeedEnd['reason'] | null {
  try {
    const value: unknown = JSON.parse(text);
    if (isRecord(value) && (value.reason === 'deleted' || value.reason === 'expired' || value.reason === 'gone')) return value.reason;
  } catch {
    // Not JSON: still an end, of an unknown kind.
  }
  return null;
}

export interface FeedHandlers {
  update(update: FeedUpdate): void;
  end(reason: FeedEnd['reason'] | null): void;
  /** The feed could not be opened at all (no event ever arrived): the page falls back to what needs no feed. */
  unavailable(): void;
}

/**
 * The session's data feed (`GET /events/...`): every write, by anyone, as it
 * happens. EventSource reconnects by itself (after a restart of the service,
 * a dropped connection); the feed ends for good only with an `end` event.
 */
export function followSession(path: string, handlers: FeedHandlers): { close(): void } {
  const source = new EventSource(`/events/${path}`);
  let heard = false;
  source.addEventListener('update', (event) => {
    heard = true;
    const update = parseUpdate(String(event.data));
    if (update) handlers.update(update);
  });
  source.addEventListener('end', (event) => {
    heard = true;
    source.close();
    handlers.end(parseEnd(String(event.data)));
  });
  source.addEventListener('error', () => {
    if (heard || source.readyState !== EventSource.CLOSED) return;
    handlers.unavailable();
  });
  return { close: () => source.close() };
}
