import type { Store } from '../../store/store.js';
import { stateOfStored } from '../sessions/session-service.js';
import { decodeStreamEvent } from './events.js';
import { SessionUpdate, type ChannelMember, type EndReason, type SessionState } from './update.js';

export interface HubLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

interface Channel {
  /** Its live images and data feeds. */
  members: Set<ChannelMember>;
  /** The newest state seen here, shared by every member that joins (encoded once, not per member). */
  latest?: SessionUpdate;
  subscribed: Promise<void>;
  expiryTimer?: NodeJS.Timeout;
}

// setTimeout overflows past 2^31-1 ms; longer expiries are re-armed in steps.
const MAX_TIMER_MS = 2_147_483_647;
// Clocks of store and process differ by a little: look again shortly rather than spin.
const RECHECK_MS = 100;
// A read that failed is tried again this much later: the store is away, and every channel retries.
const RETRY_AFTER_ERROR_MS = 1000;
// After a reconnect, sessions are read again this many at a time: no burst of one read per open channel.
const RESYNC_BATCH = 200;

/**
 * Fans writes out in-process: one store subscription per channel however many
 * live images and data feeds it has (reference-counted), one subscriber
 * connection per process. Ends a channel's members when its session is
 * deleted or expires, and, after the store reconnected, when it no longer
 * exists (a restart without its data).
 */
export class StreamHub {
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly store: Store,
    private readonly log: HubLogger,
    private readonly now: () => number = Date.now,
  ) {
    store.onMessage((channel, message) => this.dispatch(channel, message));
    store.onReconnect(() => void this.resync());
  }

  /** Open live images (streams). */
  get viewerCount(): number {
    return this.count('stream');
  }

  /** Open data feeds. */
  get feedCount(): number {
    return this.count('feed');
  }

  private count(kind: ChannelMember['kind']): number {
    let count = 0;
    for (const channel of this.channels.values()) for (const member of channel.members) if (member.kind === kind) count++;
    return count;
  }

  get channelCount(): number {
    return this.channels.size;
  }

  /** Adds a member; resolves once the channel's subscription is live, so no later update is missed. */
  async join(channelName: string, member: ChannelMember, expiresAt: number | null): Promise<void> {
    let channel = this.channels.get(channelName);
    if (!channel) {
      channel = { members: new Set(), subscribed: this.store.subscribe(channelName) };
      this.channels.set(channelName, channel);
      this.watchExpiry(channelName, channel, expiresAt);
    }
    channel.members.add(member);
    try {
      await channel.subscribed;
    } catch (err) {
      this.leave(channelName, member);
      throw err;
    }
  }

  /**
   * Shows a newly joined member the session as just read from the store,
   * reusing the channel's update object when it is at least as new.
   */
  showCurrent(channelName: string, member: ChannelMember, current: SessionState): void {
    const channel = this.channels.get(channelName);
    let update = channel?.latest;
    if (!update || update.version < current.updatedAt) {
      update = new SessionUpdate(current);
      if (channel) channel.latest = update;
    }
    member.receive(update);
  }

  leave(channelName: string, member: ChannelMember): void {
    const channel = this.channels.get(channelName);
    if (!channel || !channel.members.delete(member) || channel.members.size > 0) return;
    this.channels.delete(channelName);
    clearTimeout(channel.expiryTimer);
    this.store.unsubscribe(channelName).catch((err: unknown) => this.log.warn({ err, channel: channelName }, 'unsubscribe failed'));
  }

  /** Ends every open stream with a closing boundary and every feed (graceful shutdown: no `end`, sessions live on). */
  closeAll(): void {
    for (const [name, channel] of this.channels) {
      for (const member of channel.members) member.close();
      clearTimeout(channel.expiryTimer);
      this.channels.delete(name);
    }
  }

  private dispatch(channelName: string, message: string): void {
    const channel = this.channels.get(channelName);
    if (!channel) return;
    const event = decodeStreamEvent(message);
    if (!event) return;
    if (event.type === 'end') {
      this.endChannel(channelName, 'deleted');
      return;
    }
    const { svg, version: updatedAt, expiresAt, revision, args } = event;
    const update = new SessionUpdate({ svg, updatedAt, expiresAt, revision, args });
    if (!channel.latest || channel.latest.version <= update.version) channel.latest = update;
    for (const member of channel.members) member.receive(update);
    this.watchExpiry(channelName, channel, event.expiresAt);
  }

  private endChannel(channelName: string, reason: EndReason): void {
    const channel = this.channels.get(channelName);
    if (!channel) return;
    this.log.info({ channel: channelName, members: channel.members.size, reason }, 'session ended, closing its streams and feeds');
    for (const member of [...channel.members]) member.close(reason);
    // Members leave through their close handlers; make sure the channel goes even if none fire.
    for (const member of [...channel.members]) this.leave(channelName, member);
  }

  private watchExpiry(channelName: string, channel: Channel, expiresAt: number | null, minDelayMs = 0): void {
    clearTimeout(channel.expiryTimer);
    if (expiresAt === null) return;
    const delay = Math.min(Math.max(expiresAt - this.now(), minDelayMs), MAX_TIMER_MS);
    channel.expiryTimer = setTimeout(() => void this.refresh(channelName, 'expired'), delay);
    channel.expiryTimer.unref();
  }

  /**
   * The store came back after losing its connection: updates published
   * meanwhile never arrived, and the sessions themselves may be gone. Every
   * open channel's session is read again.
   */
  private async resync(): Promise<void> {
    const names = [...this.channels.keys()];
    this.log.info({ channels: names.length }, "store reconnected: reading every open stream's session again");
    for (let i = 0; i < names.length; i += RESYNC_BATCH) {
      await Promise.all(names.slice(i, i + RESYNC_BATCH).map((name) => this.refresh(name, 'gone')));
    }
  }

  /**
   * Reads a channel's session from the store, which decides whether it is
   * really gone (the expiry timer is only a hint): ends its members if so,
   * else shows them a state newer than theirs, and re-arms the timer.
   */
  private async refresh(channelName: string, goneReason: EndReason): Promise<void> {
    const channel = this.channels.get(channelName);
    if (!channel) return;
    let entry: Awaited<ReturnType<Store['get']>>;
    try {
      entry = await this.store.get(channelName);
    } catch (err) {
      this.log.warn({ err, channel: channelName }, "reading a stream's session failed; retrying");
      clearTimeout(channel.expiryTimer);
      channel.expiryTimer = setTimeout(() => void this.refresh(channelName, goneReason), RETRY_AFTER_ERROR_MS);
      channel.expiryTimer.unref();
      return;
    }
    // Its last viewer may have left while the read was under way.
    if (this.channels.get(channelName) !== channel) return;
    if (!entry) {
      this.endChannel(channelName, goneReason);
      return;
    }
    const current = new SessionUpdate(stateOfStored(entry.value, entry.expiresAt));
    if (!channel.latest || channel.latest.version < current.version) {
      channel.latest = current;
      for (const member of channel.members) member.receive(current);
    }
    this.watchExpiry(channelName, channel, entry.expiresAt, RECHECK_MS);
  }
}
