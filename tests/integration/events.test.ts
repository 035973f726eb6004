import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { userWithSession } from '../helpers/auth.js';
import { bodyOf, expectComponentSchema, expectContract, expectResponse, type ApiResponse } from '../helpers/contract.js';
import { StreamReader } from '../helpers/multipart.js';
import { parseEventStream, type ServerSentEvent } from '../helpers/sse.js';
import { describeEachStore } from '../helpers/stores.js';

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg"><text>{{ v }}</text></svg>';
let seq = 0;
const newId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++seq}`;

interface UpdateData {
  updated_at: string;
  expires_at: string | null;
  etag: string;
  args: Record<string, unknown>;
}

/** A raw connection to a data feed, parsed the way EventSource reads it. */
class FeedReader extends StreamReader {
  get feed(): { events: ServerSentEvent[]; comments: string[] } {
    return parseEventStream(this.raw);
  }

  get updates(): UpdateData[] {
    return this.feed.events.filter((e) => e.event === 'update').map((e) => JSON.parse(e.data) as UpdateData);
  }

  untilUpdates(count: number): Promise<void> {
    return this.until((r) => r.updates.length >= count);
  }
}

describeEachStore('data feed (/events)', (variant) => {
  let running: RunningApp;
  /** On Redis a second instance sharing the store: writes there reach feeds here through pub/sub. */
  let other: RunningApp;
  const readers: FeedReader[] = [];
  const open = (path: string) => {
    const reader = new FeedReader(running.baseUrl + path, { accept: 'text/event-stream' });
    readers.push(reader);
    return reader;
  };

  beforeAll(async () => {
    running = await startApp({ config: variant.config() });
    other = variant.name === 'redis' ? await startApp({ config: variant.config() }) : running;
  });
  afterAll(async () => {
    for (const reader of readers) reader.close();
    if (other !== running) await other?.close();
    await running?.close();
  });

  async function publicSession(args: Record<string, unknown> = { v: 'start' }, extra: Record<string, unknown> = {}) {
    const id = newId('ev-pub');
    expect((await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args, ...extra } })).status).toBe(201);
    return { id, path: `/api/session/${id}`, feed: `/events/${id}`, read: 'getPublicSession' as const };
  }
  async function userSession() {
    const user = newId('ev-user');
    const { auth } = await userWithSession(running.api, user, TEMPLATE);
    return { user, auth, path: `/api/user/${user}/session/s`, feed: `/events/${user}/s`, read: 'getUserSession' as const };
  }
  const etagOf = (res: ApiResponse) => res.headers.get('etag');

  it('When a feed opens, then it is an event stream any origin may read, and an update with the session as it is arrives at once', async () => {
    for (const s of [await publicSession({ v: 'now', n: [1, 2] }), await userSession()]) {
      const reader = open(s.feed);
      await reader.opened;
      expect(reader.status, s.feed).toBe(200);
      expect(reader.headers['content-type']).toBe('text/event-stream');
      expect(reader.headers['cache-control']).toBe('no-cache, no-store');
      expect(reader.headers['x-accel-buffering']).toBe('no');
      expect(reader.headers['access-control-allow-origin']).toBe('*');
      expectContract('GET', s.feed, reader.status, reader.headers['content-type'] ?? null, undefined);
      await reader.untilUpdates(1);
      const [update] = reader.updates;
      expectComponentSchema('SessionUpdateEvent', update);
      const read = await running.api('GET', s.path);
      expectResponse(read, s.read, 200);
      expect(update?.args).toEqual(read.body.args);
      expect(update?.etag).toBe(etagOf(read));
      if ('user' in s) expect(update?.expires_at).toBe(bodyOf(read, 'getUserSession', 200).expires_at);
      expect(Date.parse(update?.expires_at ?? '')).toBeGreaterThan(Date.now());
      expect(Date.parse(update?.updated_at ?? '')).toBeLessThanOrEqual(Date.now());
    }
  });

  it('When the session is written, here or on another instance, then one update per write follows with its args and the ETag the write answered', async () => {
    const s = await publicSession();
    const reader = open(s.feed);
    await reader.untilUpdates(1);
    const first = await running.api('PUT', s.path, { json: { args: { v: 'one' } } });
    await reader.untilUpdates(2);
    const second = await other.api('PUT', s.path, { json: { args: { v: 'two' } } });
    await reader.untilUpdates(3);
    const updates = reader.updates;
    expect(updates.map((u) => u.args)).toEqual([{ v: 'start' }, { v: 'one' }, { v: 'two' }]);
    expect(updates.slice(1).map((u) => u.etag)).toEqual([etagOf(first), etagOf(second)]);
    for (const update of updates) expectComponentSchema('SessionUpdateEvent', update);
    expect(new Set(updates.map((u) => u.etag)).size).toBe(3);
  });

  it('When a user session is deleted, then the feed gets an end event and closes', async () => {
    const s = await userSession();
    const reader = open(s.feed);
    await reader.untilUpdates(1);
    expect((await other.api('DELETE', s.path, { headers: s.auth })).status).toBe(204);
    await reader.untilEnded();
    const last = reader.feed.events.at(-1);
    expect(last?.event).toBe('end');
    expectComponentSchema('SessionEndEvent', JSON.parse(last?.data ?? 'null'));
    expect(JSON.parse(last?.data ?? 'null')).toEqual({ reason: 'deleted' });
  });

  it('When the session expires, then the feed gets an end event saying so and closes', async () => {
    const s = await publicSession({ v: 'brief' }, { expire_seconds: 1 });
    const reader = open(s.feed);
    await reader.untilUpdates(1);
    await reader.untilEnded();
    expect(reader.feed.events.map((e) => e.event)).toEqual(['update', 'end']);
    expect(JSON.parse(reader.feed.events[1]?.data ?? 'null')).toEqual({ reason: 'expired' });
  });

  it('When keep_alive passes with no write, then a comment line keeps the connection, and no extra update is sent', async () => {
    const s = await publicSession();
    const reader = open(`${s.feed}?keep_alive=1000`);
    await reader.until((r) => r.feed.comments.length >= 1, 5000);
    expect(reader.updates).toHaveLength(1);
  });

  it('When the session does not exist or the id is bad, then the feed answers a JSON error any origin may read', async () => {
    const missing = await running.api('GET', '/events/no-such-session');
    expectResponse(missing, 'getPublicSessionEvents', 404);
    expect(missing.body.code).toBe('not_found');
    expect(missing.headers.get('access-control-allow-origin')).toBe('*');
    expect((await running.api('GET', '/events/someone/no-such-session')).status).toBe(404);
    const bad = await running.api('GET', '/events/bad:id');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('access-control-allow-origin')).toBe('*');
    expect((await running.api('GET', '/events/x?keep_alive=5')).status).toBe(400);
  });

  it('When the feed is asked with HEAD, then the headers come back and the connection is not held', async () => {
    const s = await publicSession();
    const res = await fetch(running.baseUrl + s.feed, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.text()).toBe('');
  });

  it('When the server shuts down, then open feeds end without an end event, so EventSource reconnects to another instance', async () => {
    const closing = await startApp({ config: variant.config() });
    const id = newId('ev-bye');
    expect((await closing.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { v: 'bye' } } })).status).toBe(
      201,
    );
    const reader = new FeedReader(`${closing.baseUrl}/events/${id}`);
    readers.push(reader);
    await reader.untilUpdates(1);
    await closing.close();
    await reader.untilEnded();
    expect(reader.feed.events.map((e) => e.event)).toEqual(['update']);
  });

  it('When several feeds and streams watch one session, then the instance holds one subscription for all of them', async () => {
    const channels = async () => Number(/^realtime_svg_subscribed_channels (\d+)/m.exec((await running.api('GET', '/metrics')).text)?.[1]);
    const s = await publicSession();
    const before = await channels();
    const feeds = [open(s.feed), open(s.feed), open(s.feed)];
    const streams = [
      new StreamReader(`${running.baseUrl}/stream/${s.id}?double_frame=false`),
      new StreamReader(`${running.baseUrl}/stream/${s.id}?double_frame=false`),
    ];
    for (const feed of feeds) await feed.untilUpdates(1);
    for (const stream of streams) await stream.until((r) => r.parsed.parts.length === 1);
    expect(await channels()).toBe(before + 1);
    if (variant.redis()) {
      const numsub = (await variant.redis()?.client.call('PUBSUB', 'NUMSUB', `session:${s.id}`)) as [string, number];
      // One subscriber connection per instance, however many feeds and streams it serves.
      expect(numsub[1]).toBe(1);
    }
    await running.api('PUT', s.path, { json: { args: { v: 'all' } } });
    for (const feed of feeds) await feed.until((r) => r.updates.at(-1)?.args.v === 'all');
    for (const stream of streams) await stream.until((r) => r.parsed.parts.some((p) => p.body.includes('>all<')));
    for (const stream of streams) stream.close();
  });
});
