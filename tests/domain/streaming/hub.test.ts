import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeStreamEvent } from '../../../src/domain/streaming/events.js';
import { StreamHub, type HubLogger } from '../../../src/domain/streaming/hub.js';
import type { ChannelMember, EndReason, SessionUpdate } from '../../../src/domain/streaming/update.js';
import { EmbeddedStore } from '../../../src/store/embedded-store.js';

/** The embedded store, counting subscribe and unsubscribe calls per channel. */
class CountingStore extends EmbeddedStore {
  subscribes = new Map<string, number>();
  unsubscribes = new Map<string, number>();

  override async subscribe(channel: string): Promise<void> {
    this.subscribes.set(channel, (this.subscribes.get(channel) ?? 0) + 1);
    await super.subscribe(channel);
  }

  override async unsubscribe(channel: string): Promise<void> {
    this.unsubscribes.set(channel, (this.unsubscribes.get(channel) ?? 0) + 1);
    await super.unsubscribe(channel);
  }
}

/** A member that records what the hub hands it. */
class FakeMember implements ChannelMember {
  readonly received: SessionUpdate[] = [];
  readonly closes: Array<EndReason | undefined> = [];
  constructor(readonly kind: 'stream' | 'feed' = 'stream') {}
  receive(update: SessionUpdate): void {
    this.received.push(update);
  }
  close(reason?: EndReason): void {
    this.closes.push(reason);
  }
  get svgs(): string[] {
    return this.received.map((u) => u.state.svg);
  }
}

const silent: HubLogger = { info: () => {}, warn: () => {} };

/** The embedded store delivers published messages on a later tick (setImmediate), like Redis would. */
function delivered(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function frameMessage(svg: string, version: number, expiresAt: number | null = null): string {
  return encodeStreamEvent({ type: 'frame', svg, etag: '"e"', version, expiresAt, revision: `r${version}`, args: { v: version } });
}

const T0 = 1_700_000_000_000;
const CHANNEL = 'session:demo';

describe('StreamHub', () => {
  let time: number;
  const now = () => time;
  let store: CountingStore;
  let hub: StreamHub;

  beforeEach(() => {
    time = T0;
    store = new CountingStore(now);
    hub = new StreamHub(store, silent, now);
  });

  afterEach(async () => {
    hub.closeAll();
    vi.useRealTimers();
    await store.close();
  });

  it('When many members join one channel, then the store is subscribed once', async () => {
    const members = [new FakeMember(), new FakeMember('feed'), new FakeMember()];
    await Promise.all(members.map((m) => hub.join(CHANNEL, m, null)));
    expect(store.subscribes.get(CHANNEL)).toBe(1);
    expect(hub.channelCount).toBe(1);
    expect(hub.viewerCount).toBe(2);
    expect(hub.feedCount).toBe(1);
  });

  it('When the last member leaves, then the channel is unsubscribed, and not before', async () => {
    const a = new FakeMember();
    const b = new FakeMember();
    await hub.join(CHANNEL, a, null);
    await hub.join(CHANNEL, b, null);
    hub.leave(CHANNEL, a);
    expect(store.unsubscribes.get(CHANNEL)).toBeUndefined();
    hub.leave(CHANNEL, a);
    expect(store.unsubscribes.get(CHANNEL)).toBeUndefined();
    hub.leave(CHANNEL, b);
    expect(store.unsubscribes.get(CHANNEL)).toBe(1);
    expect(hub.channelCount).toBe(0);
    // Joining again subscribes again.
    await hub.join(CHANNEL, a, null);
    expect(store.subscribes.get(CHANNEL)).toBe(2);
  });

  it('When a frame is published, then every member of that channel receives the same update, and other channels none', async () => {
    const members = [new FakeMember(), new FakeMember('feed')];
    const other = new FakeMember();
    for (const m of members) await hub.join(CHANNEL, m, null);
    await hub.join('session:other', other, null);
    await store.publish(CHANNEL, frameMessage('<svg id="1"/>', T0 + 1));
    await delivered();
    for (const m of members) expect(m.svgs).toEqual(['<svg id="1"/>']);
    expect(members[0]!.received[0]).toBe(members[1]!.received[0]);
    expect(members[0]!.received[0]!.state).toMatchObject({ updatedAt: T0 + 1, revision: `r${T0 + 1}`, args: { v: T0 + 1 } });
    expect(other.received).toEqual([]);
  });

  it('When a message on the channel is not a stream event, then it is ignored', async () => {
    const member = new FakeMember();
    await hub.join(CHANNEL, member, null);
    await store.publish(CHANNEL, 'not json');
    await store.publish(CHANNEL, '{"type":"frame"}');
    await delivered();
    expect(member.received).toEqual([]);
    expect(member.closes).toEqual([]);
  });

  it('When an end message arrives, then every member is closed as deleted and the channel is released', async () => {
    const members = [new FakeMember(), new FakeMember('feed'), new FakeMember()];
    for (const m of members) await hub.join(CHANNEL, m, null);
    await store.publish(CHANNEL, encodeStreamEvent({ type: 'end' }));
    await delivered();
    for (const m of members) expect(m.closes).toEqual(['deleted']);
    expect(hub.channelCount).toBe(0);
    expect(store.unsubscribes.get(CHANNEL)).toBe(1);
  });

  it('When a newly joined member is shown the current state, then an older state than the channel has seen is not shown instead', async () => {
    const first = new FakeMember();
    await hub.join(CHANNEL, first, null);
    await store.publish(CHANNEL, frameMessage('<svg id="new"/>', T0 + 10));
    await delivered();
    const late = new FakeMember();
    await hub.join(CHANNEL, late, null);
    hub.showCurrent(CHANNEL, late, { svg: '<svg id="old"/>', updatedAt: T0 + 5, expiresAt: null });
    expect(late.svgs).toEqual(['<svg id="new"/>']);
  });

  it('When the session expires in the store, then the expiry timer ends every member as expired', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const expiresAt = T0 + 5_000;
    await store.create(CHANNEL, JSON.stringify({ svg: '<svg/>', updatedAt: T0, args: {}, revision: 'r0' }), expiresAt);
    const members = [new FakeMember(), new FakeMember('feed')];
    for (const m of members) await hub.join(CHANNEL, m, expiresAt);
    time = T0 + 4_999;
    await vi.advanceTimersByTimeAsync(4_999);
    for (const m of members) expect(m.closes).toEqual([]);
    time = expiresAt;
    await vi.advanceTimersByTimeAsync(1);
    for (const m of members) expect(m.closes).toEqual(['expired']);
    expect(hub.channelCount).toBe(0);
    expect(store.unsubscribes.get(CHANNEL)).toBe(1);
  });

  it('When the expiry timer fires but the store says the session lives on (extended elsewhere), then members stay and see its newer state', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const expiresAt = T0 + 5_000;
    await store.create(CHANNEL, JSON.stringify({ svg: '<svg id="0"/>', updatedAt: T0, args: {}, revision: 'r0' }), expiresAt);
    const member = new FakeMember();
    await hub.join(CHANNEL, member, expiresAt);
    // Extended by a write whose message this instance never saw.
    await store.replace(CHANNEL, JSON.stringify({ svg: '<svg id="1"/>', updatedAt: T0 + 1, args: {}, revision: 'r1' }), T0 + 60_000);
    time = expiresAt;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(member.closes).toEqual([]);
    expect(member.svgs).toEqual(['<svg id="1"/>']);
    expect(hub.channelCount).toBe(1);
  });

  it('When a published frame moves the expiry later, then members are not ended at the old expiry', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const member = new FakeMember();
    const later = T0 + 60_000;
    await store.create(CHANNEL, JSON.stringify({ svg: '<svg/>', updatedAt: T0, args: {}, revision: 'r0' }), T0 + 5_000);
    await hub.join(CHANNEL, member, T0 + 5_000);
    await store.replace(
      CHANNEL,
      JSON.stringify({ svg: '<svg id="1"/>', updatedAt: T0 + 1, args: {}, revision: 'r1' }),
      later,
      frameMessage('<svg id="1"/>', T0 + 1, later),
    );
    await delivered();
    time = T0 + 5_000;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(member.closes).toEqual([]);
    time = later;
    await vi.advanceTimersByTimeAsync(55_000);
    expect(member.closes).toEqual(['expired']);
  });

  it('When closeAll is called, then every member of every channel is closed without a reason and no channel remains', async () => {
    const a = new FakeMember();
    const b = new FakeMember('feed');
    const c = new FakeMember();
    await hub.join(CHANNEL, a, null);
    await hub.join(CHANNEL, b, null);
    await hub.join('session:other', c, T0 + 60_000);
    hub.closeAll();
    for (const m of [a, b, c]) expect(m.closes).toEqual([undefined]);
    expect(hub.channelCount).toBe(0);
    expect(hub.viewerCount).toBe(0);
  });

  it('When the subscription fails, then join rejects and the member is not left in the channel', async () => {
    store.subscribe = () => Promise.reject(new Error('store down'));
    const member = new FakeMember();
    await expect(hub.join(CHANNEL, member, null)).rejects.toThrow('store down');
    expect(hub.channelCount).toBe(0);
  });
});
