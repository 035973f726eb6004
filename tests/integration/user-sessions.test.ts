import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { bodyOf, expectResponse, type ApiResponse } from '../helpers/contract.js';
import { bearer, tokenFor } from '../helpers/auth.js';
import { StreamReader } from '../helpers/multipart.js';
import { describeEachStore } from '../helpers/stores.js';

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg"><text>{{ v }}</text></svg>';
const svgOf = (v: string) => TEMPLATE.replace('{{ v }}', v);
let seq = 0;
const newUser = () => `owner-${Date.now().toString(36)}-${++seq}`;

describeEachStore('user-owned sessions', (variant) => {
  let running: RunningApp;
  const readers: StreamReader[] = [];
  beforeAll(async () => {
    running = await startApp({ config: variant.config() });
  });
  afterAll(async () => {
    for (const r of readers) r.close();
    await running?.close();
  });

  async function owner() {
    const user = newUser();
    const token = await tokenFor(running.api, user);
    const create = (session_id: string, extra: Record<string, unknown> = {}) =>
      running.api('POST', `/api/user/${user}/session`, {
        json: { session_id, template: TEMPLATE, args: { v: session_id }, ...extra },
        headers: bearer(token),
      });
    return { user, token, create, auth: bearer(token) };
  }

  it('When the owner creates a session, then it is public to read, with times and TTL', async () => {
    const { user, create } = await owner();
    const before = Date.now();
    const created = await create('dash', { expire_seconds: 600 });
    expectResponse(created, 'createUserSession', 201);
    expect(created.body).toMatchObject({ user_id: user, session_id: 'dash', stream_url: `/stream/${user}/dash` });
    const expiresAt = Date.parse(created.body.expires_at);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 600_000);
    const read = await running.api('GET', `/api/user/${user}/session/dash`);
    expectResponse(read, 'getUserSession', 200);
    expect(read.body).toMatchObject({
      user_id: user,
      session_id: 'dash',
      template: TEMPLATE,
      args: { v: 'dash' },
      expires_at: created.body.expires_at,
    });
    expect(read.body.ttl).toBeGreaterThan(590);
    expect(read.body.ttl).toBeLessThanOrEqual(600);
    expect(read.body.created_at).toBe(read.body.updated_at);
    const frame = await running.api('GET', `/frame/${user}/dash`);
    expect(frame.text).toBe(svgOf('dash'));
    expect(frame.headers.get('content-security-policy')).toContain('sandbox');
  });

  it('When expire_seconds is omitted, then the session lives 3600 s; out of range is 400', async () => {
    const { user, create } = await owner();
    await create('default');
    expect(bodyOf(await running.api('GET', `/api/user/${user}/session/default`), 'getUserSession', 200).ttl).toBeGreaterThan(3590);
    for (const expire_seconds of [0, 31_536_001, '60'])
      expect((await create(`bad-${String(expire_seconds)}`, { expire_seconds })).status).toBe(400);
  });

  it('When the owner updates, then args are replaced, the TTL kept unless given, and viewers get the frame', async () => {
    const { user, create, auth } = await owner();
    await create('live', { expire_seconds: 900 });
    const reader = new StreamReader(`${running.baseUrl}/stream/${user}/live?double_frame=false`);
    readers.push(reader);
    await reader.until((r) => r.parsed.parts.length === 1);
    const before = await running.api('GET', `/api/user/${user}/session/live`);
    expectResponse(before, 'getUserSession', 200);
    const put = await running.api('PUT', `/api/user/${user}/session/live`, { json: { args: { v: 'updated' } }, headers: auth });
    expect(put.status).toBe(204);
    expect(put.text).toBe('');
    await reader.until((r) => r.parsed.parts.at(-1)?.body === svgOf('updated'));
    const after = await running.api('GET', `/api/user/${user}/session/live`);
    expectResponse(after, 'getUserSession', 200);
    expect(after.body.args).toEqual({ v: 'updated' });
    expect(after.body.expires_at).toBe(before.body.expires_at);
    expect(Date.parse(after.body.updated_at)).toBeGreaterThan(Date.parse(before.body.updated_at));

    const newTemplate = '<svg xmlns="http://www.w3.org/2000/svg"><b>{{ v | upcase }}</b></svg>';
    await running.api('PUT', `/api/user/${user}/session/live`, {
      json: { args: { v: 'loud' }, template: newTemplate, expire_seconds: 7200 },
      headers: auth,
    });
    const changed = await running.api('GET', `/api/user/${user}/session/live`);
    expectResponse(changed, 'getUserSession', 200);
    expect(changed.body.template).toBe(newTemplate);
    expect(changed.body.ttl).toBeGreaterThan(7100);
    await reader.until((r) => r.parsed.parts.at(-1)?.body === '<svg xmlns="http://www.w3.org/2000/svg"><b>LOUD</b></svg>');
  });

  it('When the owner deletes, then it is gone, open streams end cleanly and a second delete is 404', async () => {
    const { user, create, auth } = await owner();
    await create('doomed');
    const reader = new StreamReader(`${running.baseUrl}/stream/${user}/doomed?double_frame=false`);
    readers.push(reader);
    await reader.until((r) => r.parsed.parts.length === 1);
    expect((await running.api('DELETE', `/api/user/${user}/session/doomed`, { headers: auth })).status).toBe(204);
    await reader.untilEnded();
    expect(reader.parsed.closed).toBe(true);
    expect((await running.api('GET', `/api/user/${user}/session/doomed`)).status).toBe(404);
    expect((await running.api('DELETE', `/api/user/${user}/session/doomed`, { headers: auth })).status).toBe(404);
    expect((await create('doomed')).status).toBe(201);
  });

  it('When a session id is taken, then create is 409', async () => {
    const { create } = await owner();
    expect((await create('twice')).status).toBe(201);
    const again = await create('twice');
    expectResponse(again, 'createUserSession', 409);
    expect(again.body.code).toBe('conflict');
  });

  it('When two users and a public session share a session_id, then all three are independent', async () => {
    const alice = await owner();
    const bob = await owner();
    const shared = `shared-${seq}`;
    await alice.create(shared, { args: { v: 'alice' } });
    await bob.create(shared, { args: { v: 'bob' } });
    await running.api('POST', '/api/session', { json: { session_id: shared, template: TEMPLATE, args: { v: 'public' } } });
    await running.api('PUT', `/api/user/${alice.user}/session/${shared}`, { json: { args: { v: 'alice2' } }, headers: alice.auth });
    expect(bodyOf(await running.api('GET', `/api/user/${alice.user}/session/${shared}`), 'getUserSession', 200).args).toEqual({
      v: 'alice2',
    });
    expect(bodyOf(await running.api('GET', `/api/user/${bob.user}/session/${shared}`), 'getUserSession', 200).args).toEqual({ v: 'bob' });
    expect(bodyOf(await running.api('GET', `/api/session/${shared}`), 'getPublicSession', 200).args).toEqual({ v: 'public' });
    expect((await running.api('GET', `/frame/${shared}`)).text).toBe(svgOf('public'));
  });

  it("When listing, then only the caller's live sessions come back, newest first, across pages", async () => {
    const alice = await owner();
    const bob = await owner();
    const ids = Array.from({ length: 7 }, (_, i) => `s${i}`);
    for (const id of ids) expect((await alice.create(id)).status).toBe(201);
    await bob.create('bobs-own');
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: ApiResponse = await running.api('GET', `/api/user/${alice.user}/sessions?limit=3${cursor ? `&cursor=${cursor}` : ''}`, {
        headers: alice.auth,
      });
      expectResponse(res, 'listUserSessions', 200);
      expect(res.body.sessions.length).toBeLessThanOrEqual(3);
      for (const s of res.body.sessions) expect(s.ttl).toBeGreaterThan(0);
      seen.push(...res.body.sessions.map((s) => s.session_id));
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
    const all = await running.api('GET', `/api/user/${alice.user}/sessions`, { headers: alice.auth });
    expectResponse(all, 'listUserSessions', 200);
    expect(all.body.next_cursor).toBeNull();
    expect(all.body.sessions).toHaveLength(7);
  });

  it("When listing without a token, with another user's token, or a bad cursor, then it is refused", async () => {
    const alice = await owner();
    const bob = await owner();
    expect((await running.api('GET', `/api/user/${alice.user}/sessions`)).status).toBe(401);
    expect((await running.api('GET', `/api/user/${alice.user}/sessions`, { headers: bob.auth })).status).toBe(403);
    expect((await running.api('GET', `/api/user/${alice.user}/sessions?cursor=bm9wZQ`, { headers: alice.auth })).status).toBe(400);
    expect((await running.api('GET', `/api/user/${alice.user}/sessions?limit=0`, { headers: alice.auth })).status).toBe(400);
    expect((await running.api('GET', `/api/user/${alice.user}/sessions?limit=101`, { headers: alice.auth })).status).toBe(400);
  });

  it('When a session expires, then it drops out of the listing and its index entry is pruned', async () => {
    const alice = await owner();
    await alice.create('brief', { expire_seconds: 1 });
    await alice.create('lasting');
    await expect
      .poll(async () => (await running.api('GET', `/api/user/${alice.user}/session/brief`)).status, { timeout: 4000, interval: 100 })
      .toBe(404);
    const list = await running.api('GET', `/api/user/${alice.user}/sessions`, { headers: alice.auth });
    expectResponse(list, 'listUserSessions', 200);
    expect(list.body.sessions.map((s) => s.session_id)).toEqual(['lasting']);
    if (variant.redis()) expect(await variant.redis()!.client.zrange(`user:${alice.user}:sessions`, '0', '-1')).toEqual(['lasting']);
  });

  it('When a user session is opened in a browser, then stream redirects to its viewer page', async () => {
    const alice = await owner();
    await alice.create('page');
    const nav = new StreamReader(`${running.baseUrl}/stream/${alice.user}/page`, { 'sec-fetch-mode': 'navigate' });
    readers.push(nav);
    await nav.opened;
    expect(nav.status).toBe(307);
    expect(nav.headers.location).toBe(`/session/${alice.user}/page`);
    const page = await fetch(`${running.baseUrl}/session/${alice.user}/page`);
    expect(await page.text()).toContain(`src="/stream/${alice.user}/page"`);
  });

  it('When ids in user paths break the rule, then it is 400 before anything else', async () => {
    const alice = await owner();
    for (const path of [
      `/api/user/a:b/session/x`,
      `/api/user/${alice.user}/session/a:b`,
      `/frame/a:b/x`,
      `/stream/${alice.user}/${'x'.repeat(65)}`,
    ]) {
      const res = await running.api('GET', path);
      expect(res.status, path).toBe(400);
    }
  });
});
