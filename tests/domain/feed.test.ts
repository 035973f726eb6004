import { describe, expect, it } from 'vitest';
import { FakeSink } from '../helpers/fake-sink.js';
import { FeedSubscriber } from '../../src/domain/streaming/feed.js';
import { SessionUpdate } from '../../src/domain/streaming/update.js';
import { parseEventStream } from '../helpers/sse.js';

/** The shared fake sink, read back as this module's output. */
class FeedSink extends FakeSink {
  get events() {
    return parseEventStream(Buffer.concat(this.chunks)).events;
  }
  get argsSeen(): unknown[] {
    return this.events.filter((e) => e.event === 'update').map((e) => (JSON.parse(e.data) as { args: unknown }).args);
  }
}

const update = (n: number, extra: Partial<ConstructorParameters<typeof SessionUpdate>[0]> = {}) =>
  new SessionUpdate({ svg: `<svg n="${n}"/>`, updatedAt: 1_000 + n, expiresAt: 90_000, revision: `r${n}`, args: { n }, ...extra });

describe('data feed subscriber', () => {
  it('When updates arrive, then each version is sent once as an update event with the ETag, times and args', () => {
    const sink = new FeedSink();
    const feed = new FeedSubscriber(sink, { keepAliveMs: 60_000 });
    feed.receive(update(1));
    feed.receive(update(1));
    feed.receive(update(2));
    feed.receive(update(1));
    expect(sink.events).toHaveLength(2);
    expect(JSON.parse(sink.events[1]?.data ?? '')).toEqual({
      updated_at: new Date(1_002).toISOString(),
      expires_at: new Date(90_000).toISOString(),
      etag: '"r2"',
      args: { n: 2 },
    });
    feed.detach();
  });

  it('When the socket is backed up, then only the newest update is sent on drain', () => {
    const sink = new FeedSink();
    const feed = new FeedSubscriber(sink, { keepAliveMs: 60_000 });
    sink.full = true;
    for (const n of [1, 2, 3, 4]) feed.receive(update(n));
    expect(sink.chunks).toHaveLength(1);
    sink.drain();
    expect(sink.argsSeen).toEqual([{ n: 1 }, { n: 4 }]);
    feed.detach();
  });

  it('When the session ends while an update waits for the socket, then the update goes first, then end with the reason', () => {
    const sink = new FeedSink();
    const feed = new FeedSubscriber(sink, { keepAliveMs: 60_000 });
    sink.full = true;
    feed.receive(update(1));
    feed.receive(update(2));
    feed.close('deleted');
    expect(sink.writableEnded).toBe(true);
    expect(sink.events.map((e) => [e.event, e.data])).toEqual([
      ['update', expect.stringContaining('"n":1') as unknown],
      ['update', expect.stringContaining('"n":2') as unknown],
      ['end', '{"reason":"deleted"}'],
    ]);
  });

  it('When closed without a reason (shutdown), then the response ends with no end event, so EventSource reconnects', () => {
    const sink = new FeedSink();
    const feed = new FeedSubscriber(sink, { keepAliveMs: 60_000 });
    feed.receive(update(1));
    feed.close();
    expect(sink.writableEnded).toBe(true);
    expect(sink.events.map((e) => e.event)).toEqual(['update']);
  });

  it('When an update lacks the args and revision (published by an older instance), then the feed skips it and takes the next one', () => {
    const sink = new FeedSink();
    const feed = new FeedSubscriber(sink, { keepAliveMs: 60_000 });
    feed.receive(update(1, { revision: undefined, args: undefined }));
    feed.receive(update(2));
    expect(sink.argsSeen).toEqual([{ n: 2 }]);
    feed.detach();
  });
});
