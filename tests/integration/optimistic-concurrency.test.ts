import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { userWithSession } from '../helpers/auth.js';
import { bodyOf, expectResponse, type ApiResponse } from '../helpers/contract.js';
import { describeEachStore } from '../helpers/stores.js';

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg"><text>{{ v }}</text></svg>';
let seq = 0;
const newId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++seq}`;
const STRONG_ETAG = /^"[\x21\x23-\x7e]+"$/;

describeEachStore('optimistic concurrency (ETag, If-Match)', (variant) => {
  let running: RunningApp;
  /** A second instance: on Redis it shares the store, so racing writers come from two processes' worth of code. */
  let other: RunningApp;
  beforeAll(async () => {
    running = await startApp({ config: variant.config() });
    other = variant.name === 'redis' ? await startApp({ config: variant.config() }) : running;
  });
  afterAll(async () => {
    if (other !== running) await other?.close();
    await running?.close();
  });

  /** One session of each kind, with what it takes to read and write it. */
  async function sessions() {
    const publicId = newId('occ-pub');
    expect(
      (await running.api('POST', '/api/session', { json: { session_id: publicId, template: TEMPLATE, args: { v: 'start' } } })).status,
    ).toBe(201);
    const user = newId('occ-user');
    const { auth } = await userWithSession(running.api, user, TEMPLATE);
    return [
      {
        kind: 'public',
        path: `/api/session/${publicId}`,
        frame: `/frame/${publicId}`,
        auth: {} as Record<string, string>,
        ok: 200,
        read: 'getPublicSession',
        write: 'updatePublicSession',
      },
      {
        kind: 'user',
        path: `/api/user/${user}/session/s`,
        frame: `/frame/${user}/s`,
        auth,
        ok: 204,
        read: 'getUserSession',
        write: 'updateUserSession',
      },
    ] as const;
  }
  const etagOf = (res: ApiResponse) => res.headers.get('etag') ?? '';

  it('When a session is read, then it answers a strong ETag that changes on every write, even one with the same args, and the write answers the new one', async () => {
    for (const s of await sessions()) {
      const first = await running.api('GET', s.path);
      expect(etagOf(first), s.kind).toMatch(STRONG_ETAG);
      expect((await running.api('GET', s.path)).headers.get('etag'), s.kind).toBe(etagOf(first));
      const write = await running.api('PUT', s.path, { json: { args: { v: 'start' } }, headers: s.auth });
      expect(write.status, s.kind).toBe(s.ok);
      const second = await running.api('GET', s.path);
      expect(etagOf(second), s.kind).toMatch(STRONG_ETAG);
      expect(etagOf(second), s.kind).not.toBe(etagOf(first));
      expect(etagOf(write), s.kind).toBe(etagOf(second));
    }
  });

  it('When a PUT carries the current ETag in If-Match, then it succeeds; with a stale one, then 412 precondition_failed and nothing changes', async () => {
    for (const s of await sessions()) {
      const stale = etagOf(await running.api('GET', s.path));
      const current = await running.api('PUT', s.path, { json: { args: { v: 'mine' } }, headers: { ...s.auth, 'if-match': stale } });
      expect(current.status, s.kind).toBe(s.ok);
      const before = await running.api('GET', s.path);
      const frameBefore = (await running.api('GET', s.frame)).text;

      const refused = await running.api('PUT', s.path, { json: { args: { v: 'lost update' } }, headers: { ...s.auth, 'if-match': stale } });
      expectResponse(refused, s.write, 412, s.kind);
      expect(refused.body.code).toBe('precondition_failed');
      const after = await running.api('GET', s.path);
      expect(after.body, s.kind).toEqual(before.body);
      expect(etagOf(after), s.kind).toBe(etagOf(before));
      expect((await running.api('GET', s.frame)).text, s.kind).toBe(frameBefore);
    }
  });

  it('When If-Match is *, or a list holding the current ETag, then the write goes through; a weak or unknown tag never matches', async () => {
    for (const s of await sessions()) {
      const put = (ifMatch: string, v: string) =>
        running.api('PUT', s.path, { json: { args: { v } }, headers: { ...s.auth, 'if-match': ifMatch } });
      expect((await put('*', 'star')).status, s.kind).toBe(s.ok);
      const current = etagOf(await running.api('GET', s.path));
      expect((await put(`"nope", ${current}`, 'listed')).status, s.kind).toBe(s.ok);
      const now = etagOf(await running.api('GET', s.path));
      for (const tag of [`W/${now}`, '"nope"', now.slice(1, -1), '']) {
        const res = await put(tag, 'refused');
        expect(res.status, `${s.kind} If-Match: ${tag}`).toBe(412);
      }
      expect(bodyOf(await running.api('GET', s.path), s.read, 200).args).toEqual({ v: 'listed' });
    }
  });

  it("When If-Match is longer than the contract's 1024 characters, in whatever case its name is sent, then 400 validation_failed and nothing changes", async () => {
    for (const s of await sessions()) {
      const before = await running.api('GET', s.path);
      const tooLong = `"${'a'.repeat(1100)}"`;
      for (const name of ['if-match', 'If-Match']) {
        const res = await running.api('PUT', s.path, { json: { args: { v: 'long tag' } }, headers: { ...s.auth, [name]: tooLong } });
        expectResponse(res, s.write, 400, `${s.kind} ${name}`);
        expect(res.body.code).toBe('validation_failed');
      }
      expect((await running.api('GET', s.path)).body, s.kind).toEqual(before.body);
    }
  });

  it('When writers race with the same If-Match, then exactly one wins and every other gets 412', async () => {
    for (const s of await sessions()) {
      const tag = etagOf(await running.api('GET', s.path));
      const writers = Array.from({ length: 8 }, (_, i) =>
        (i % 2 === 0 ? running : other).api('PUT', s.path, {
          json: { args: { v: `writer ${i}` } },
          headers: { ...s.auth, 'if-match': tag },
        }),
      );
      const answers = await Promise.all(writers);
      const statuses = answers.map((res) => res.status);
      expect(
        statuses.filter((status) => status === s.ok),
        `${s.kind}: ${statuses.join(', ')}`,
      ).toHaveLength(1);
      expect(
        statuses.filter((status) => status === 412),
        s.kind,
      ).toHaveLength(7);
      const winner = answers.findIndex((res) => res.status === s.ok);
      const after = await running.api('GET', s.path);
      expectResponse(after, s.read, 200, s.kind);
      expect(after.body.args, s.kind).toEqual({ v: `writer ${winner}` });
      expect(etagOf(after), s.kind).toBe(answers[winner]?.headers.get('etag'));
    }
  });

  it('When writers race without If-Match, then every write succeeds and the last one wins', async () => {
    for (const s of await sessions()) {
      const answers = await Promise.all(
        [1, 2, 3].map((i) => running.api('PUT', s.path, { json: { args: { v: `w${i}` } }, headers: s.auth })),
      );
      expect(
        answers.map((res) => res.status),
        s.kind,
      ).toEqual([s.ok, s.ok, s.ok]);
      expect(['w1', 'w2', 'w3'], s.kind).toContain(bodyOf(await running.api('GET', s.path), s.read, 200).args.v);
    }
  });

  it('When a DELETE carries a stale If-Match, then 412 and the session stays; with the current one, then it is deleted', async () => {
    const [, s] = await sessions();
    const stale = etagOf(await running.api('GET', s.path));
    expect((await running.api('PUT', s.path, { json: { args: { v: 'newer' } }, headers: s.auth })).status).toBe(204);
    const refused = await running.api('DELETE', s.path, { headers: { ...s.auth, 'if-match': stale } });
    expectResponse(refused, 'deleteUserSession', 412);
    expect(refused.body.code).toBe('precondition_failed');
    const kept = await running.api('GET', s.path);
    expectResponse(kept, s.read, 200);
    expect(kept.body.args).toEqual({ v: 'newer' });
    expect((await running.api('DELETE', s.path, { headers: { ...s.auth, 'if-match': etagOf(kept) } })).status).toBe(204);
    expect((await running.api('GET', s.path)).status).toBe(404);
  });

  it('When If-Match names a session that does not exist, then the answer is 404, not 412', async () => {
    const [pub, user] = await sessions();
    expect((await running.api('PUT', `${pub.path}-gone`, { json: { args: {} }, headers: { 'if-match': '"x"' } })).status).toBe(404);
    expect((await running.api('DELETE', `${user.path}-gone`, { headers: { ...user.auth, 'if-match': '"x"' } })).status).toBe(404);
  });

  it('When a stale If-Match comes with a template that cannot render, then the answer is 412: the precondition is checked before the body is worked on', async () => {
    const [, s] = await sessions();
    const stale = etagOf(await running.api('GET', s.path));
    expect((await running.api('PUT', s.path, { json: { args: { v: 'newer' } }, headers: s.auth })).status).toBe(204);
    const res = await running.api('PUT', s.path, {
      json: { args: {}, template: '<svg>{% if %}' },
      headers: { ...s.auth, 'if-match': stale },
    });
    expect(res.status).toBe(412);
  });
});
