import { encodeFeedUpdate } from './feed.js';
import { Frame } from './multipart.js';

/** A session as the hub hands it out: what streams and data feeds show of it. */
export interface SessionState {
  svg: string;
  updatedAt: number;
  expiresAt: number | null;
  /** Absent when an older instance published the write (see UpdateEvent). */
  revision?: string;
  args?: Record<string, unknown>;
}

/**
 * One state of a session, shared by every member of its channel: each
 * encoding (the multipart part, the server-sent event) is made at most once
 * per process, on first use, however many viewers and feeds there are.
 */
export class SessionUpdate {
  private frameCache?: Frame;
  private feedCache?: Buffer | null;

  constructor(readonly state: SessionState) {}

  /** Orders updates: the session's updatedAt, strictly increasing per write. */
  get version(): number {
    return this.state.updatedAt;
  }

  get frame(): Frame {
    this.frameCache ??= new Frame(this.state.svg, this.state.updatedAt);
    return this.frameCache;
  }

  /** The data feed's `update` event; null when the state lacks what it shows. */
  get feedEvent(): Buffer | null {
    if (this.feedCache === undefined) {
      const { revision, args } = this.state;
      this.feedCache = revision === undefined || args === undefined ? null : encodeFeedUpdate({ ...this.state, revision, args });
    }
    return this.feedCache;
  }
}

/** Why a session's channel ended: deleted, expired, or found gone when the store came back. */
export type EndReason = 'deleted' | 'expired' | 'gone';

/** What joins a channel of the hub: a live image (stream) or a data feed. */
export interface ChannelMember {
  readonly kind: 'stream' | 'feed';
  /** Shows this state unless a newer one has been shown. */
  receive(update: SessionUpdate): void;
  /** Ends the response: with a reason when the session ended, without one at shutdown. */
  close(reason?: EndReason): void;
}
