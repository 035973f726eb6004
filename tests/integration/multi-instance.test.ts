import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';
import { startApp, type RunningApp } from '../helpers/app.js';
import { bearer, kidOf, parseRotateOutput, TokenForge, tokenFor } from '../helpers/auth.js';
import { bodyOf } from '../helpers/contract.js';
import { StreamReader } from '../helpers/multipart.js';
import { redisAvailable, startRedis, type ThrowawayRedis } from '../helpers/redis-server.js';

const run = promisify(execFile);
const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg"><text>{{ v }}</text></svg>';

describe.runIf(redisAvailable())('several instances on one Redis', () => {
  let redis: ThrowawayRedis;
  let apps: RunningApp[];
  const readers: StreamReader[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    // Started at the same moment on an empty Redis: they must converge on one key.
    apps = await Promise.all([0, 1, 2].map(() => startApp({ config: { REDIS_URL: redis.url } })));
  });
  afterAll(async () => {
    for (const r of readers) r.close();
    await Promise.all((apps ?? []).map((a) => a.close()));
    await redis?.stop();
  });

  /** Commands Redis has executed, by name, excluding the INFO used to read them. */
  async function commandCounts(): Promise<Record<string, number>> {
    const info = await redis.client.info('commandstats');
    const counts: Record<string, number> = {};
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts[match[1]!] = Number(match[2]);
    delete counts.info;
    return counts;
  }
  const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

  it('When instances start together, then they publish one and the same key', async () => {
    const sets = await Promise.all(apps.map(async (a) => bodyOf(await a.api('GET', '/.well-known/jwks.json'), 'getJwks', 200)));
    expect(sets[0]?.keys).toHaveLength(1);
    expect(sets[1]).toEqual(sets[0]);
    expect(sets[2]).toEqual(sets[0]);
  });

  it('When a token from one instance writes on another, then it works, and the update reaches a viewer on a third', async () => {
    const [a, b, c] = apps as [RunningApp, RunningApp, RunningApp];
    const token = await tokenFor(a.api, 'carol');
    expect(
      (
        await b.api('POST', '/api/user/carol/session', {
          json: { session_id: 'x', template: TEMPLATE, args: { v: 0 } },
          headers: bearer(token),
        })
      ).status,
    ).toBe(201);
    const viewer = new StreamReader(`${c.baseUrl}/stream/carol/x?double_frame=false`);
    readers.push(viewer);
    await viewer.until((r) => r.parsed.parts.length === 1);
    expect((await b.api('PUT', '/api/user/carol/session/x', { json: { args: { v: 1 } }, headers: bearer(token) })).status).toBe(204);
    await viewer.until((r) => r.parsed.parts.at(-1)?.body.includes('>1<') ?? false);
  });

  it('When credential failures are spread over instances, then the limit holds across them', async () => {
    const [a, b, c] = apps as [RunningApp, RunningApp, RunningApp];
    await tokenFor(a.api, 'gina');
    const wrong = (app: RunningApp) => app.api('POST', '/api/auth/token', { json: { user_id: 'gina', password: 'not her password' } });
    // Default limit: 5 failures per user_id per window.
    for (const app of [a, b, c, a, b]) expect((await wrong(app)).status).toBe(401);
    const limited = await c.api('POST', '/api/auth/token', { json: { user_id: 'gina', password: 'correct horse battery' } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('When many authenticated requests are verified, then Redis sees zero commands for it', async () => {
    const [a] = apps as [RunningApp];
    const dave = await tokenFor(a.api, 'dave');
    await tokenFor(a.api, 'erin');
    // Verified, then refused for ownership: the request never reaches a handler or the store.
    const before = await commandCounts();
    for (let i = 0; i < 100; i++) {
      expect((await a.api('PUT', '/api/user/erin/session/x', { json: { args: {} }, headers: bearer(dave) })).status).toBe(403);
    }
    expect(total(await commandCounts()) - total(before)).toBe(0);

    // An authenticated write costs exactly what a public one does: verification adds nothing.
    await a.api('POST', '/api/session', { json: { session_id: 'pub-cost', template: TEMPLATE } });
    await a.api('POST', '/api/user/dave/session', { json: { session_id: 'cost', template: TEMPLATE }, headers: bearer(dave) });
    const p0 = total(await commandCounts());
    for (let i = 0; i < 20; i++) await a.api('PUT', '/api/session/pub-cost', { json: { args: { v: i } } });
    const p1 = total(await commandCounts());
    for (let i = 0; i < 20; i++) await a.api('PUT', '/api/user/dave/session/cost', { json: { args: { v: i } }, headers: bearer(dave) });
    const p2 = total(await commandCounts());
    expect(p2 - p1).toBe(p1 - p0);
  });

  it('When keys are rotated with npm run keys:rotate -- --now, then old tokens keep working and new instances sign with the new key', async () => {
    const [a] = apps as [RunningApp];
    const oldToken = await tokenFor(a.api, 'frank');
    const oldKid = bodyOf(await a.api('GET', '/.well-known/jwks.json'), 'getJwks', 200).keys[0]?.kid;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/rotate-keys.ts', '--now'], {
      cwd: projectRoot,
      env: { ...process.env, REDIS_URL: redis.url },
    });
    const rotated = parseRotateOutput(stdout);
    expect(rotated).toMatchObject({ rotated: true, retired: oldKid });
    const d = await startApp({ config: { REDIS_URL: redis.url } });
    apps.push(d);
    const jwks = bodyOf(await d.api('GET', '/api/auth/jwks'), 'getJwksAlias', 200)
      .keys.map((k) => k.kid)
      .sort();
    expect(jwks).toEqual([oldKid, rotated.kid].sort());
    const newToken = await tokenFor(d.api, 'frank');
    expect(kidOf(newToken)).toBe(rotated.kid);
    // a has not seen the rotation yet: the new kid makes it reload once.
    for (const token of [oldToken, newToken]) {
      const res = await a.api('POST', '/api/user/frank/session', {
        json: { session_id: `k-${token.length}-${Math.random().toString(36).slice(2)}`, template: TEMPLATE },
        headers: bearer(token),
      });
      expect(res.status).toBe(201);
    }
    const forged = await TokenForge.fromStore({ get: async (k) => ({ value: (await redis.client.get(k))!, expiresAt: null }) });
    expect(forged.kid).toBe(rotated.kid);
    // Starts a TypeScript process and a fourth instance and hashes two passwords:
    // on a loaded 2-core machine that alone took past the default 20 s.
  }, 90_000);
});
