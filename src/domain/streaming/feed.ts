import { sessionEtag } from '../sessions/session-service.js';
import type { ChannelMember, EndReason, SessionUpdate } from './update.js';
import type { FrameSink } from './viewer.js';

/**
 * The data feed (SPEC section 4): text/event-stream, an `update` event per
 * write with what a client editing the session needs, `end` when it is gone.
 * No charset parameter: an event stream is always UTF-8.
 */
export const FEED_CONTENT_TYPE = 'text/event-stream';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * An `update` event. JSON.stringify escapes every line break, so the data is
 * always one `data:` line, whatever the args hold.
 */
export function encodeFeedUpdate(state: {
  updatedAt: number;
  expiresAt: number | null;
  revision: string;
  args: Record<string, unknown>;
}): Buffer {
  const data = {
    updated_at: iso(state.updatedAt),
    expires_at: state.expiresAt === null ? null : iso(state.expiresAt),
    etag: sessionEtag(state),
    args: state.args,
  };
  return Buffer.from(`event: update\ndata: ${JSON.stringify(data)}\n\n`);
}

/** EventSource dispatches no event without data, so `end` carries its reason. */
function encodeEnd(reason: EndReason): Buffer {
  return Buffer.from(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
}

const KEEP_ALIVE = Buffer.from(': keep-alive\n\n');

export interface FeedOptions {
  keepAliveMs: number;
}

/**
 * One open data feed. Like a Viewer it writes whole events only and, while
 * the socket is backed up, remembers just the newest update: each one carries
 * the whole state, so a slow client skips to it and misses nothing it needs.
 * Unlike a stream it sends each version once.
 */
export class FeedSubscriber implements ChannelMember {
  readonly kind = 'feed';
  private shownVersion = -Infinity;
  private pending: SessionUpdate | null = null;
  private waitingForDrain = false;
  private ended = false;
  private readonly keepAlive: NodeJS.Timeout;

  constructor(
    private readonly sink: FrameSink,
    options: FeedOptions,
  ) {
    // A comment line: proxies and browsers see traffic, EventSource dispatches nothing.
    this.keepAlive = setInterval(() => {
      if (this.isOpen && !this.waitingForDrain) this.write(KEEP_ALIVE);
    }, options.keepAliveMs);
    this.keepAlive.unref();
  }

  get isOpen(): boolean {
    return !this.ended && !this.sink.destroyed && !this.sink.writableEnded;
  }

  receive(update: SessionUpdate): void {
    if (!this.isOpen || update.version <= this.shownVersion || update.feedEvent === null) return;
    if (this.waitingForDrain) {
      if (!this.pending || this.pending.version < update.version) this.pending = update;
      return;
    }
    this.shownVersion = update.version;
    this.write(update.feedEvent);
  }

  private write(chunk: Buffer): void {
    if (this.sink.write(chunk)) return;
    this.waitingForDrain = true;
    this.sink.once('drain', () => {
      this.waitingForDrain = false;
      const next = this.pending;
      this.pending = null;
      if (next) this.receive(next);
    });
  }

  close(reason?: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.keepAlive);
    if (this.sink.destroyed || this.sink.writableEnded) return;
    // An update still waiting goes first, so `end` never hides the last write.
    const last = this.pending?.feedEvent;
    const chunks = [last, reason === undefined ? undefined : encodeEnd(reason)].filter(
      (chunk): chunk is Buffer => chunk !== undefined && chunk !== null,
    );
    this.sink.end(chunks.length > 0 ? Buffer.concat(chunks) : undefined);
  }

  /** The client went away: stop timers, write nothing more. */
  detach(): void {
    this.ended = true;
    clearInterval(this.keepAlive);
  }
}
