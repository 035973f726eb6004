import type { Frame } from './multipart.js';
import type { ChannelMember, SessionUpdate } from './update.js';

/** Where a viewer's bytes go: any writable byte stream (an HTTP response in practice). */
export interface FrameSink {
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer): unknown;
  once(event: 'drain', listener: () => void): unknown;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
}

export interface ViewerOptions {
  doubleFrame: boolean;
  keepAliveMs: number;
}

/**
 * One open stream. Writes whole parts only; while the socket is backed up it
 * remembers just the newest frame, so a slow viewer skips frames instead of
 * buffering them without bound.
 */
export class Viewer implements ChannelMember {
  readonly kind = 'stream';
  private shown: Frame | null = null;
  private pending: Frame | null = null;
  private waitingForDrain = false;
  private readonly keepAlive: NodeJS.Timeout;
  private ended = false;
  /** Whether the first write (preamble, opening boundary, first frame) has gone out. */
  private opened = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly options: ViewerOptions,
  ) {
    // Nothing is written before the first frame: it goes out in one write with the opening boundary.
    this.keepAlive = setInterval(() => this.shown && this.send(this.shown), options.keepAliveMs);
    this.keepAlive.unref();
  }

  get isOpen(): boolean {
    return !this.ended && !this.sink.destroyed && !this.sink.writableEnded;
  }

  receive(update: SessionUpdate): void {
    this.offer(update.frame);
  }

  /** Shows a frame unless a newer one has already been shown. */
  offer(frame: Frame): void {
    if (this.shown && frame.version < this.shown.version) return;
    this.send(frame);
  }

  private send(frame: Frame): void {
    if (!this.isOpen) return;
    if (this.waitingForDrain) {
      this.pending = frame;
      return;
    }
    this.shown = frame;
    const double = this.options.doubleFrame;
    const chunk = this.opened ? (double ? frame.doublePart() : frame.part()) : frame.opening(double);
    this.opened = true;
    const flushed = this.sink.write(chunk);
    if (!flushed) {
      this.waitingForDrain = true;
      this.sink.once('drain', () => {
        this.waitingForDrain = false;
        const next = this.pending;
        this.pending = null;
        if (next) this.send(next);
      });
    }
  }

  /** Ends the stream with a closing boundary (session deleted or expired, or shutdown). */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.keepAlive);
    if (this.sink.destroyed || this.sink.writableEnded) return;
    const last = this.pending ?? this.shown;
    this.sink.end(last ? last.closingPart() : undefined);
  }

  /** The client went away: stop timers, write nothing more. */
  detach(): void {
    this.ended = true;
    clearInterval(this.keepAlive);
  }
}
