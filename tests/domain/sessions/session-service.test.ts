import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DomainError } from '../../../src/domain/errors.js';
import { publicRef, sessionKey, userRef } from '../../../src/domain/ids.js';
import { etagOf, type RenderedFrame, type Renderer } from '../../../src/domain/render/renderer.js';
import { SessionService, sessionEtag, userIndexKey } from '../../../src/domain/sessions/session-service.js';
import { EmbeddedStore } from '../../../src/store/embedded-store.js';

/** Renders deterministically from its inputs; can be told to fail with a DomainError. */
class FakeRenderer implements Renderer {
  calls = 0;
  failWith: DomainError | null = null;

  async render(template: string, args: Record<string, unknown>): Promise<RenderedFrame> {
    this.calls++;
    if (this.failWith) throw this.failWith;
    const svg = `<svg xmlns="http://www.w3.org/2000/svg"><!--${template}-->${JSON.stringify(args)}</svg>`;
    return { svg, etag: etagOf(svg) };
  }

  async close(): Promise<void> {}
}

async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (err) {
    if (err instanceof DomainError) return err.code;
    throw err;
  }
  throw new Error('expected a DomainError, but the call succeeded');
}

const T0 = 1_700_000_000_000;

describe('SessionService', () => {
  let time: number;
  const now = () => time;
  let store: EmbeddedStore;
  let renderer: FakeRenderer;
  let service: SessionService;

  beforeEach(() => {
    time = T0;
    store = new EmbeddedStore(now);
    renderer = new FakeRenderer();
    service = new SessionService(store, renderer, { now, maxSessionsPerUser: 2 });
  });

  afterEach(async () => {
    await store.close();
  });

  describe('create', () => {
    it('When a public session is created, then it is stored with its rendered frame and absolute expiry', async () => {
      const created = await service.create(publicRef('demo'), { template: 't', args: { n: 1 }, ttlSeconds: 60 });
      expect(created.expiresAt).toBe(T0 + 60_000);
      expect(created.createdAt).toBe(T0);
      expect(created.updatedAt).toBe(T0);
      const read = await service.get(publicRef('demo'));
      expect(read.svg).toBe(created.svg);
      expect(read.etag).toBe(etagOf(created.svg));
      expect(sessionEtag(read)).toBe(sessionEtag(created));
      expect(read.expiresAt).toBe(T0 + 60_000);
    });

    it('When the id already exists, then create is a conflict and the stored session is unchanged', async () => {
      const first = await service.create(publicRef('demo'), { template: 'a', args: { n: 1 }, ttlSeconds: 60 });
      time += 1000;
      expect(await codeOf(service.create(publicRef('demo'), { template: 'b', args: { n: 2 }, ttlSeconds: 600 }))).toBe('conflict');
      const read = await service.get(publicRef('demo'));
      expect(read.template).toBe('a');
      expect(read.args).toEqual({ n: 1 });
      expect(read.expiresAt).toBe(first.expiresAt);
      expect(sessionEtag(read)).toBe(sessionEtag(first));
    });

    it("When a user session is created, then it goes into the user's index scored by creation time", async () => {
      await service.create(userRef('alice', 's1'), { template: 't', args: {}, ttlSeconds: 60 });
      expect(await store.indexPage(userIndexKey('alice'), 10)).toEqual([{ member: 's1', score: T0 }]);
      expect(await store.indexPage(userIndexKey('bob'), 10)).toEqual([]);
    });

    it('When a user already holds the maximum of 2 live sessions, then a third is quota_exceeded and leaves nothing behind', async () => {
      await service.create(userRef('alice', 's1'), { template: 't', args: {}, ttlSeconds: 60 });
      time += 1;
      await service.create(userRef('alice', 's2'), { template: 't', args: {}, ttlSeconds: 60 });
      time += 1;
      expect(await codeOf(service.create(userRef('alice', 's3'), { template: 't', args: {}, ttlSeconds: 60 }))).toBe('quota_exceeded');
      expect(await store.get(sessionKey(userRef('alice', 's3')))).toBeNull();
      expect(await service.find(userRef('alice', 's3'))).toBeNull();
      const members = (await store.indexPage(userIndexKey('alice'), 10)).map((e) => e.member);
      expect(members.sort()).toEqual(['s1', 's2']);
      // Another user's quota is their own.
      await service.create(userRef('bob', 's3'), { template: 't', args: {}, ttlSeconds: 60 });
    });

    it('When one of the user’s sessions has expired, then the quota counts only live ones and a new one is admitted', async () => {
      await service.create(userRef('alice', 's1'), { template: 't', args: {}, ttlSeconds: 1 });
      await service.create(userRef('alice', 's2'), { template: 't', args: {}, ttlSeconds: 60 });
      time += 2000;
      await service.create(userRef('alice', 's3'), { template: 't', args: {}, ttlSeconds: 60 });
      const members = (await store.indexPage(userIndexKey('alice'), 10)).map((e) => e.member);
      expect(members.sort()).toEqual(['s2', 's3']);
    });
  });

  describe('update', () => {
    it('When no ttlSeconds is given, then the session keeps its expiry', async () => {
      await service.create(publicRef('demo'), { template: 't', args: { n: 1 }, ttlSeconds: 60 });
      time += 10_000;
      const updated = await service.update(publicRef('demo'), { args: { n: 2 } });
      expect(updated.expiresAt).toBe(T0 + 60_000);
      expect((await service.get(publicRef('demo'))).expiresAt).toBe(T0 + 60_000);
    });

    it('When ttlSeconds is given, then the expiry is reset from the time of the write', async () => {
      await service.create(publicRef('demo'), { template: 't', args: { n: 1 }, ttlSeconds: 60 });
      time += 10_000;
      const updated = await service.update(publicRef('demo'), { args: { n: 2 }, ttlSeconds: 120 });
      expect(updated.expiresAt).toBe(T0 + 10_000 + 120_000);
      expect((await service.get(publicRef('demo'))).expiresAt).toBe(T0 + 130_000);
    });

    it('When the clock stands still, then updatedAt still strictly increases with each write and the revision changes', async () => {
      const created = await service.create(publicRef('demo'), { template: 't', args: { n: 0 }, ttlSeconds: 60 });
      const a = await service.update(publicRef('demo'), { args: { n: 1 } });
      const b = await service.update(publicRef('demo'), { args: { n: 1 } });
      expect(a.updatedAt).toBeGreaterThan(created.updatedAt);
      expect(b.updatedAt).toBeGreaterThan(a.updatedAt);
      expect(sessionEtag(b)).not.toBe(sessionEtag(a));
      expect(b.createdAt).toBe(created.createdAt);
    });

    it('When writes of one session overlap and the clock stands still, then each gets its own updatedAt, in the order they are stored, and the last stored is the newest', async () => {
      await service.create(publicRef('demo'), { template: 't', args: { n: 0 }, ttlSeconds: 60 });
      const written = await Promise.all([1, 2, 3, 4].map((n) => service.update(publicRef('demo'), { args: { n } })));
      const versions = written.map((snapshot) => snapshot.updatedAt);
      expect(new Set(versions).size).toBe(4);
      const stored = await service.get(publicRef('demo'));
      expect(stored.updatedAt).toBe(Math.max(...versions));
    });

    it('When the clock goes backwards, then updatedAt still strictly increases', async () => {
      const created = await service.create(publicRef('demo'), { template: 't', args: {}, ttlSeconds: 60 });
      time -= 5_000;
      const updated = await service.update(publicRef('demo'), { args: { n: 1 } });
      expect(updated.updatedAt).toBeGreaterThan(created.updatedAt);
    });

    it('When a new template is given, then it replaces the stored one; without one, the stored template is kept', async () => {
      await service.create(publicRef('demo'), { template: 'first', args: {}, ttlSeconds: 60 });
      expect((await service.update(publicRef('demo'), { args: { n: 1 } })).template).toBe('first');
      expect((await service.update(publicRef('demo'), { args: { n: 2 }, template: 'second' })).template).toBe('second');
      expect((await service.get(publicRef('demo'))).svg).toContain('second');
    });

    it('When the render fails, then the error is passed on and nothing changes', async () => {
      await service.create(publicRef('demo'), { template: 't', args: { n: 1 }, ttlSeconds: 60 });
      const before = await service.get(publicRef('demo'));
      renderer.failWith = new DomainError('template_invalid', 'bad template');
      time += 1000;
      expect(await codeOf(service.update(publicRef('demo'), { args: { n: 2 }, ttlSeconds: 600 }))).toBe('template_invalid');
      expect(await service.get(publicRef('demo'))).toEqual(before);
    });

    it('When If-Match names a stale ETag, then the update is precondition_failed, nothing is rendered and nothing changes', async () => {
      const created = await service.create(publicRef('demo'), { template: 't', args: { n: 1 }, ttlSeconds: 60 });
      const stale = sessionEtag(created);
      const second = await service.update(publicRef('demo'), { args: { n: 2 } }, { ifMatch: [stale] });
      const renders = renderer.calls;
      time += 1000;
      expect(await codeOf(service.update(publicRef('demo'), { args: { n: 3 }, ttlSeconds: 600 }, { ifMatch: [stale] }))).toBe(
        'precondition_failed',
      );
      expect(renderer.calls).toBe(renders);
      const read = await service.get(publicRef('demo'));
      expect(read.args).toEqual({ n: 2 });
      expect(sessionEtag(read)).toBe(sessionEtag(second));
      expect(read.expiresAt).toBe(T0 + 60_000);
    });

    it('When If-Match names the current ETag among others, then the update goes through', async () => {
      const created = await service.create(publicRef('demo'), { template: 't', args: { n: 1 }, ttlSeconds: 60 });
      const updated = await service.update(publicRef('demo'), { args: { n: 2 } }, { ifMatch: ['"nope"', sessionEtag(created)] });
      expect(updated.args).toEqual({ n: 2 });
    });

    it('When another write lands while this one renders, then the If-Match update is precondition_failed and the other write stays', async () => {
      await service.create(publicRef('demo'), { template: 't', args: { n: 1 }, ttlSeconds: 60 });
      const current = sessionEtag(await service.get(publicRef('demo')));
      const racing = new SessionService(store, renderer, { now });
      const original = renderer.render.bind(renderer);
      let raced = false;
      renderer.render = async (template, args) => {
        if (!raced) {
          raced = true;
          await racing.update(publicRef('demo'), { args: { n: 'other' } });
        }
        return original(template, args);
      };
      expect(await codeOf(service.update(publicRef('demo'), { args: { n: 'mine' } }, { ifMatch: [current] }))).toBe('precondition_failed');
      expect((await service.get(publicRef('demo'))).args).toEqual({ n: 'other' });
    });

    it('When the session does not exist, then update is not_found', async () => {
      expect(await codeOf(service.update(publicRef('missing'), { args: {} }))).toBe('not_found');
    });

    it('When this instance wrote the session last, then the next update goes to the store without reading it first', async () => {
      await service.create(publicRef('demo'), { template: 't', args: { n: 1 }, ttlSeconds: 60 });
      let reads = 0;
      const get = store.get.bind(store);
      store.get = (key) => {
        reads++;
        return get(key);
      };
      await service.update(publicRef('demo'), { args: { n: 2 } });
      await service.update(publicRef('demo'), { args: { n: 3 } });
      expect(reads).toBe(0);
      store.get = get;
      const read = await service.get(publicRef('demo'));
      expect(read.args).toEqual({ n: 3 });
      expect(read.expiresAt).toBe(T0 + 60_000);
    });

    it('When several updates to one session run at once on one instance, then each renders once and the last stored is one of them', async () => {
      await service.create(publicRef('demo'), { template: 't', args: { n: 0 }, ttlSeconds: 60 });
      const before = renderer.calls;
      const results = await Promise.all([1, 2, 3, 4, 5].map((n) => service.update(publicRef('demo'), { args: { n } })));
      expect(renderer.calls - before).toBe(5);
      const stored = await service.get(publicRef('demo'));
      expect(results.map((r) => r.revision)).toContain(stored.revision);
    });

    it('When another instance changed the template since this one last saw the session, then the update renders the current template', async () => {
      const user = userRef('alice', 'board');
      await service.create(user, { template: 'old', args: { n: 1 }, ttlSeconds: 60 });
      const other = new SessionService(store, renderer, { now });
      await other.update(user, { template: 'new', args: { n: 2 } });
      const updated = await service.update(user, { args: { n: 3 } });
      expect(updated.template).toBe('new');
      expect(updated.svg).toContain('<!--new-->');
      expect((await service.get(user)).svg).toBe(updated.svg);
    });

    it('When another instance deleted the session since this one last saw it, then the update is not_found and nothing is stored', async () => {
      await service.create(publicRef('demo'), { template: 't', args: { n: 1 }, ttlSeconds: 60 });
      await new SessionService(store, renderer, { now }).delete(publicRef('demo'));
      expect(await codeOf(service.update(publicRef('demo'), { args: { n: 2 } }))).toBe('not_found');
      expect(await service.find(publicRef('demo'))).toBeNull();
    });

    it('When the remembered template no longer renders but the current one does, then the update goes through with the current one', async () => {
      const user = userRef('alice', 'board');
      await service.create(user, { template: 'broken-later', args: { n: 1 }, ttlSeconds: 60 });
      await new SessionService(store, renderer, { now }).update(user, { template: 'fine', args: { n: 2 } });
      const original = renderer.render.bind(renderer);
      renderer.render = async (template, args) => {
        if (template === 'broken-later') throw new DomainError('template_invalid', 'bad template');
        return original(template, args);
      };
      expect((await service.update(user, { args: { n: 3 } })).template).toBe('fine');
    });
  });

  describe('delete', () => {
    it('When the session does not exist, then delete is not_found', async () => {
      expect(await codeOf(service.delete(publicRef('missing')))).toBe('not_found');
      expect(await codeOf(service.delete(userRef('alice', 'missing')))).toBe('not_found');
    });

    it("When a user session is deleted, then it is gone and removed from the user's index", async () => {
      await service.create(userRef('alice', 's1'), { template: 't', args: {}, ttlSeconds: 60 });
      await service.create(userRef('alice', 's2'), { template: 't', args: {}, ttlSeconds: 60 });
      await service.delete(userRef('alice', 's1'));
      expect(await service.find(userRef('alice', 's1'))).toBeNull();
      expect((await store.indexPage(userIndexKey('alice'), 10)).map((e) => e.member)).toEqual(['s2']);
      // The freed place counts for the quota again.
      await service.create(userRef('alice', 's3'), { template: 't', args: {}, ttlSeconds: 60 });
    });

    it('When If-Match names a stale ETag, then delete is precondition_failed and the session stays', async () => {
      const created = await service.create(publicRef('demo'), { template: 't', args: { n: 1 }, ttlSeconds: 60 });
      await service.update(publicRef('demo'), { args: { n: 2 } });
      expect(await codeOf(service.delete(publicRef('demo'), { ifMatch: [sessionEtag(created)] }))).toBe('precondition_failed');
      expect((await service.get(publicRef('demo'))).args).toEqual({ n: 2 });
    });
  });

  describe('list', () => {
    async function createAt(at: number, sessionId: string): Promise<void> {
      time = at;
      await service.create(userRef('carol', sessionId), { template: 't', args: { id: sessionId }, ttlSeconds: 3600 });
    }

    it('When a user has sessions, then they are listed newest first and paged by cursor without repeats or gaps', async () => {
      const unlimited = new SessionService(store, renderer, { now });
      service = unlimited;
      const ids = ['a', 'b', 'c', 'd', 'e'];
      for (const [i, id] of ids.entries()) await createAt(T0 + i * 1000, id);
      const first = await unlimited.list('carol', 2);
      expect(first.sessions.map((s) => s.ref.sessionId)).toEqual(['e', 'd']);
      expect(first.nextCursor).not.toBeNull();
      const second = await unlimited.list('carol', 2, first.nextCursor ?? undefined);
      expect(second.sessions.map((s) => s.ref.sessionId)).toEqual(['c', 'b']);
      const third = await unlimited.list('carol', 2, second.nextCursor ?? undefined);
      expect(third.sessions.map((s) => s.ref.sessionId)).toEqual(['a']);
      expect(third.nextCursor).toBeNull();
    });

    it('When the page holds exactly the remaining sessions, then there is no next cursor', async () => {
      await createAt(T0, 'a');
      await createAt(T0 + 1, 'b');
      const page = await service.list('carol', 2);
      expect(page.sessions.map((s) => s.ref.sessionId)).toEqual(['b', 'a']);
      expect(page.nextCursor).toBeNull();
    });

    it('When sessions were created in the same millisecond, then paging still returns each exactly once', async () => {
      const unlimited = new SessionService(store, renderer, { now });
      service = unlimited;
      for (const id of ['p', 'q', 'r']) await createAt(T0, id);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 5; i++) {
        const page = await unlimited.list('carol', 1, cursor);
        seen.push(...page.sessions.map((s) => s.ref.sessionId));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect(seen).toEqual(['r', 'q', 'p']);
    });

    it('When some sessions have expired, then they are skipped and pruned from the index', async () => {
      await createAt(T0, 'old');
      time = T0 + 1;
      await service.create(userRef('carol', 'brief'), { template: 't', args: {}, ttlSeconds: 1 });
      time = T0 + 5000;
      const page = await service.list('carol', 10);
      expect(page.sessions.map((s) => s.ref.sessionId)).toEqual(['old']);
      expect((await store.indexPage(userIndexKey('carol'), 10)).map((e) => e.member)).toEqual(['old']);
    });

    it('When the cursor is not one the service issued, then listing is validation_failed', async () => {
      expect(await codeOf(service.list('carol', 2, 'garbage'))).toBe('validation_failed');
    });
  });
});
