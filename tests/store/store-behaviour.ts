import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Store } from '../../src/store/store.js';

export interface StoreFixture {
  store: Store;
  close(): Promise<void>;
}

/** The one behavioural suite both stores must pass. */
export function storeBehaviour(name: string, open: () => Promise<StoreFixture>): void {
  describe(`${name} store behaviour`, () => {
    let fixture: StoreFixture;
    let store: Store;
    let seq = 0;
    const key = () => `session:behaviour-${process.pid}-${++seq}`;

    beforeEach(async () => {
      fixture = await open();
      store = fixture.store;
    });
    afterEach(async () => fixture.close());

    it('When a key is created, then it can be read back with its expiry', async () => {
      const k = key();
      const expiresAt = Date.now() + 60_000;
      expect(await store.create(k, 'v1', expiresAt)).toBe(true);
      // Exactly the instant asked for: every reader sees the same expiry.
      expect(await store.get(k)).toEqual({ value: 'v1', expiresAt });
    });

    it('When a key already exists, then create refuses and keeps the first value', async () => {
      const k = key();
      expect(await store.create(k, 'first', Date.now() + 60_000)).toBe(true);
      expect(await store.create(k, 'second', Date.now() + 60_000)).toBe(false);
      expect((await store.get(k))?.value).toBe('first');
    });

    it('When created without a TTL, then the key never expires', async () => {
      const k = key();
      await store.create(k, 'forever', null);
      expect(await store.get(k)).toEqual({ value: 'forever', expiresAt: null });
    });

    it('When the TTL passes, then the key is gone and can be created again', async () => {
      const k = key();
      await store.create(k, 'short', Date.now() + 30);
      await vi.waitFor(async () => expect(await store.get(k)).toBeNull(), { timeout: 3000, interval: 10 });
      expect(await store.create(k, 'again', Date.now() + 60_000)).toBe(true);
    });

    it('When replaced without a TTL, then the remaining TTL is kept', async () => {
      const k = key();
      await store.create(k, 'v1', Date.now() + 60_000);
      const before = (await store.get(k))!.expiresAt!;
      const replaced = await store.replace(k, 'v2');
      expect(replaced?.value).toBe('v2');
      expect(Math.abs(replaced!.expiresAt! - before)).toBeLessThan(1000);
      expect((await store.get(k))?.value).toBe('v2');
    });

    it('When replaced with a TTL, then the new TTL applies', async () => {
      const k = key();
      await store.create(k, 'v1', Date.now() + 60_000);
      const replaced = await store.replace(k, 'v2', Date.now() + 3_600_000);
      expect(replaced!.expiresAt!).toBeGreaterThan(Date.now() + 3_500_000);
    });

    it('When the key is missing, then replace writes nothing', async () => {
      const k = key();
      expect(await store.replace(k, 'v', Date.now() + 1000)).toBeNull();
      expect(await store.get(k)).toBeNull();
    });

    it('When deleted, then the key is gone and delete reports whether it existed', async () => {
      const k = key();
      await store.create(k, 'v', Date.now() + 60_000);
      expect(await store.delete(k)).toBe(true);
      expect(await store.delete(k)).toBe(false);
      expect(await store.get(k)).toBeNull();
    });

    it('When subscribed, then published messages arrive, only for subscribed channels, until unsubscribed', async () => {
      const received: Array<[string, string]> = [];
      store.onMessage((channel, message) => received.push([channel, message]));
      const a = key();
      const b = key();
      await store.subscribe(a);
      await store.publish(b, 'not for us');
      await store.publish(a, 'hello');
      await vi.waitFor(() => expect(received).toEqual([[a, 'hello']]), { timeout: 3000, interval: 5 });
      await store.unsubscribe(a);
      await store.publish(a, 'after');
      // A round trip after the publish: anything delivered would have arrived by now.
      await store.subscribe(b);
      await store.publish(b, 'marker');
      await vi.waitFor(() => expect(received.at(-1)).toEqual([b, 'marker']), { timeout: 3000, interval: 5 });
      expect(received.map(([, m]) => m)).toEqual(['hello', 'marker']);
    });

    it('When put, then the value is stored without expiry, replacing any earlier one', async () => {
      const k = key();
      await store.create(k, 'old', Date.now() + 1000);
      await store.put(k, 'new');
      expect(await store.get(k)).toEqual({ value: 'new', expiresAt: null });
    });

    it('When several keys are read at once, then missing ones are null, in order', async () => {
      const [a, b, c] = [key(), key(), key()];
      await store.create(a, 'A', Date.now() + 60_000);
      await store.create(c, 'C', null);
      const got = await store.getMany([a, b, c]);
      expect(got.map((e) => e?.value ?? null)).toEqual(['A', null, 'C']);
      expect(got[2]!.expiresAt).toBeNull();
      expect(await store.getMany([])).toEqual([]);
    });

    it('When a counter is incremented, then the window starts at the first increment and ends with it', async () => {
      const k = key();
      const first = await store.increment(k, 60_000);
      const second = await store.increment(k, 60_000);
      expect([first.count, second.count]).toEqual([1, 2]);
      expect(Math.abs(second.expiresAt - first.expiresAt)).toBeLessThan(1000);
      const short = key();
      await store.increment(short, 30);
      await vi.waitFor(async () => expect((await store.increment(short, 60_000)).count).toBe(1), { timeout: 3000, interval: 20 });
    });

    it('When a counter is decremented, then it keeps its window, stops at zero and is never created', async () => {
      const k = key();
      const first = await store.increment(k, 60_000);
      await store.increment(k, 60_000);
      expect(await store.decrement(k)).toBe(1);
      expect(await store.decrement(k)).toBe(0);
      expect(await store.decrement(k)).toBe(0);
      const after = await store.increment(k, 60_000);
      expect(after.count).toBe(1);
      expect(Math.abs(after.expiresAt - first.expiresAt)).toBeLessThan(1000);
      // A window that ended (or a counter that was reset) has nothing left to give back.
      const absent = key();
      expect(await store.decrement(absent)).toBe(0);
      expect(await store.get(absent)).toBeNull();
    });

    it('When many increments and decrements race, then none is lost', async () => {
      const k = key();
      await Promise.all(Array.from({ length: 100 }, () => store.increment(k, 60_000)));
      await Promise.all(Array.from({ length: 40 }, () => store.decrement(k)));
      expect((await store.get(k))?.value).toBe('60');
    });

    it('When reading and reserving, then a missing key reserves nothing, and an existing one is read and takes one from each budget', async () => {
      const [account, first, second] = [key(), key(), key()];
      const budgets = [
        { key: first, limit: 5 },
        { key: second, limit: 20 },
      ];
      expect(await store.readAndReserve(account, budgets, 60_000)).toEqual({ entry: null });
      expect(await store.getMany([first, second])).toEqual([null, null]);

      await store.create(account, 'A', null);
      const reserved = await store.readAndReserve(account, budgets, 60_000);
      expect(reserved).toEqual({ entry: { value: 'A', expiresAt: null }, refused: null });
      const [a, b] = await store.getMany([first, second]);
      expect([a?.value, b?.value]).toEqual(['1', '1']);
      // The same fixed window as increment: it started at this first increment.
      const counted = await store.increment(first, 60_000);
      expect(counted.count).toBe(2);
      expect(Math.abs(counted.expiresAt - (Date.now() + 60_000))).toBeLessThan(2000);
      const expiring = key();
      await store.create(expiring, 'E', Date.now() + 60_000);
      const read = await store.readAndReserve(expiring, [{ key: key(), limit: 1 }], 60_000);
      expect(read.entry?.value).toBe('E');
      expect(Math.abs((read.entry?.expiresAt ?? 0) - (Date.now() + 60_000))).toBeLessThan(2000);
    });

    it('When a budget is full, then the reservation is refused with its window end, keeps only that increment, gives back the ones before and skips the ones after', async () => {
      const account = key();
      await store.create(account, 'A', null);
      const [roomy, full, untouched] = [key(), key(), key()];
      const fullWindow = await store.increment(full, 60_000);
      const refused = await store.readAndReserve(
        account,
        [
          { key: roomy, limit: 10 },
          { key: full, limit: 1 },
          { key: untouched, limit: 10 },
        ],
        60_000,
      );
      expect(refused).toEqual({ entry: { value: 'A', expiresAt: null }, refused: { index: 1, expiresAt: fullWindow.expiresAt } });
      const [r, f, u] = await store.getMany([roomy, full, untouched]);
      expect([r?.value, f?.value, u]).toEqual(['0', '2', null]);
      // Refused at the first budget: nothing else is touched.
      const other = key();
      const first = await store.readAndReserve(
        account,
        [
          { key: full, limit: 1 },
          { key: other, limit: 10 },
        ],
        60_000,
      );
      expect(first).toMatchObject({ refused: { index: 0 } });
      expect(await store.get(other)).toBeNull();
    });

    it('When many reservations race, then exactly the limit are granted and a refusal never holds a place in a budget it did not exceed', async () => {
      const account = key();
      await store.create(account, 'A', null);
      const [user, client] = [key(), key()];
      const budgets = [
        { key: user, limit: 20 },
        { key: client, limit: 5 },
      ];
      const outcomes = await Promise.all(Array.from({ length: 50 }, () => store.readAndReserve(account, budgets, 60_000)));
      expect(outcomes.filter((o) => o.entry && o.refused === null)).toHaveLength(5);
      // Every refusal was the client's: each gave its place on the user's budget back.
      const [u, c] = await store.getMany([user, client]);
      expect([u?.value, c?.value]).toEqual(['5', '50']);
    });

    it('When an index is paged, then members come newest first, ties by member, with no gaps or repeats', async () => {
      const k = key();
      const scores: Array<[string, number]> = [
        ['a', 1],
        ['b', 5],
        ['c', 5],
        ['d', 5],
        ['e', 3],
        ['f', 9],
      ];
      for (const [member, score] of scores) await store.indexAdd(k, member, score);
      const seen: string[] = [];
      let after: { member: string; score: number } | undefined;
      for (;;) {
        const page = await store.indexPage(k, 2, after);
        if (page.length === 0) break;
        seen.push(...page.map((e) => e.member));
        after = page.at(-1);
      }
      expect(seen).toEqual(['f', 'd', 'c', 'b', 'e', 'a']);
      await store.indexRemove(k, ['d', 'f']);
      expect((await store.indexPage(k, 10)).map((e) => e.member)).toEqual(['c', 'b', 'e', 'a']);
      expect(await store.indexPage(key(), 10)).toEqual([]);
    });

    it('When a member is added again, then it is re-scored in place, never listed twice', async () => {
      const k = key();
      for (const [member, score] of [
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ] as const)
        await store.indexAdd(k, member, score);
      await store.indexAdd(k, 'a', 10);
      await store.indexAdd(k, 'c', 3);
      await store.indexAdd(k, 'b', -2.5);
      expect(await store.indexPage(k, 10)).toEqual([
        { member: 'a', score: 10 },
        { member: 'c', score: 3 },
        { member: 'b', score: -2.5 },
      ]);
    });

    it('When paging after an entry that is no longer in the index, then the page starts strictly after its position', async () => {
      const k = key();
      for (const [member, score] of [
        ['a', 1],
        ['b', 5],
        ['c', 5],
        ['e', 5],
        ['f', 9],
      ] as const)
        await store.indexAdd(k, member, score);
      await store.indexRemove(k, ['c']);
      // A cursor may name an entry pruned since it was issued.
      expect((await store.indexPage(k, 10, { member: 'c', score: 5 })).map((e) => e.member)).toEqual(['b', 'a']);
      // Or a position that never held a member: between ties, between scores, past either end.
      expect((await store.indexPage(k, 10, { member: 'd', score: 5 })).map((e) => e.member)).toEqual(['b', 'a']);
      expect((await store.indexPage(k, 2, { member: 'zz', score: 7 })).map((e) => e.member)).toEqual(['e', 'b']);
      expect((await store.indexPage(k, 10, { member: 'a', score: 100 })).map((e) => e.member)).toEqual(['f', 'e', 'b', 'a']);
      expect(await store.indexPage(k, 10, { member: 'a', score: 1 })).toEqual([]);
      expect(await store.indexPage(k, 10, { member: 'a', score: -100 })).toEqual([]);
    });

    it('When members are removed, then absent ones are ignored and an emptied index can be filled again', async () => {
      const k = key();
      await store.indexRemove(k, ['nothing-here']);
      await store.indexRemove(k, []);
      await store.indexAdd(k, 'x', 1);
      await store.indexAdd(k, 'y', 2);
      await store.indexRemove(k, ['x', 'missing', 'y', 'x']);
      expect(await store.indexPage(k, 10)).toEqual([]);
      await store.indexAdd(k, 'x', 3);
      expect(await store.indexPage(k, 10)).toEqual([{ member: 'x', score: 3 }]);
    });

    it('When many members are added, re-scored and removed in any order, then paging matches the ZREVRANGE order', async () => {
      const k = key();
      // A fixed pseudo-random sequence, so a failure reproduces.
      let state = 42;
      const next = (n: number) => ((state = (state * 1103515245 + 12345) % 2 ** 31), state % n);
      const expected = new Map<string, number>();
      const adds: Array<Promise<number>> = [];
      for (let i = 0; i < 600; i++) {
        // Few distinct scores, so ties are common.
        const member = `m${next(400)}`;
        const score = next(40) - 10;
        expected.set(member, score);
        adds.push(store.indexAdd(k, member, score));
      }
      await Promise.all(adds);
      const removed = [...expected.keys()].filter(() => next(3) === 0);
      await store.indexRemove(k, removed);
      for (const member of removed) expected.delete(member);
      const order = [...expected]
        .map(([member, score]) => ({ member, score }))
        .sort((a, b) => b.score - a.score || (a.member < b.member ? 1 : a.member > b.member ? -1 : 0));
      const paged: Array<{ member: string; score: number }> = [];
      let after: { member: string; score: number } | undefined;
      for (;;) {
        const page = await store.indexPage(k, 7, after);
        if (page.length === 0) break;
        paged.push(...page);
        after = page.at(-1);
      }
      expect(paged).toEqual(order);
      expect(await store.indexPage(k, order.length + 5)).toEqual(order);
    });

    it('When replaced only if unchanged, then the value as read is replaced (keeping or setting the TTL), any other writes nothing, a missing key is told apart', async () => {
      const k = key();
      const expiresAt = Date.now() + 60_000;
      await store.create(k, 'v1', expiresAt);
      expect(await store.replaceIfUnchanged(k, 'v1', 'v2')).toEqual({ outcome: 'replaced', entry: { value: 'v2', expiresAt } });
      expect(await store.replaceIfUnchanged(k, 'v1', 'v3', Date.now() + 1000)).toEqual({ outcome: 'changed' });
      expect(await store.get(k)).toEqual({ value: 'v2', expiresAt });
      const later = Date.now() + 3_600_000;
      expect(await store.replaceIfUnchanged(k, 'v2', 'v4', later)).toEqual({
        outcome: 'replaced',
        entry: { value: 'v4', expiresAt: later },
      });
      expect(await store.get(k)).toEqual({ value: 'v4', expiresAt: later });
      const missing = key();
      expect(await store.replaceIfUnchanged(missing, 'v1', 'v2')).toEqual({ outcome: 'missing' });
      expect(await store.get(missing)).toBeNull();
    });

    it('When deleted only if unchanged, then the value as read is deleted, any other stays, a missing key is told apart', async () => {
      const k = key();
      await store.create(k, 'v1', Date.now() + 60_000);
      expect(await store.deleteIfUnchanged(k, 'v0')).toBe('changed');
      expect((await store.get(k))?.value).toBe('v1');
      expect(await store.deleteIfUnchanged(k, 'v1')).toBe('deleted');
      expect(await store.get(k)).toBeNull();
      expect(await store.deleteIfUnchanged(k, 'v1')).toBe('missing');
    });

    it('When conditional writers race from the same read, then exactly one of them wins', async () => {
      const k = key();
      await store.create(k, 'read', Date.now() + 60_000);
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => store.replaceIfUnchanged(k, 'read', `writer ${i}`)));
      const winners = outcomes.flatMap((o, i) => (o.outcome === 'replaced' ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(outcomes.filter((o) => o.outcome === 'changed')).toHaveLength(19);
      expect((await store.get(k))?.value).toBe(`writer ${winners[0]}`);
    });

    it('When pinged, then it answers', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
