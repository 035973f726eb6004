import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';
import { startApp, type RunningApp } from '../helpers/app.js';
import { bearer } from '../helpers/auth.js';
import { bodyOf, expectResponse, type ApiResponse } from '../helpers/contract.js';
import { StreamReader } from '../helpers/multipart.js';
import { startCluster, type ThrowawayCluster } from '../helpers/redis-cluster.js';
import { redisAvailable } from '../helpers/redis-server.js';

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg"><text>{{ n }}</text></svg>';
const run = promisify(execFile);

const showsN = (n: number) => (reader: StreamReader) => reader.parsed.parts.at(-1)?.body.includes(`>${n}<`) ?? false;

describe.runIf(redisAvailable())('on a Redis Cluster (3 masters, 3 replicas), two instances', () => {
  let cluster: ThrowawayCluster;
  let a: RunningApp;
  let b: RunningApp;
  const readers: StreamReader[] = [];

  beforeAll(async () => {
    cluster = await startCluster();
    a = await startApp({ config: { REDIS_CLUSTER_NODES: cluster.nodes } });
    b = await startApp({ config: { REDIS_CLUSTER_NODES: cluster.nodes } });
  }, 60_000);
  afterAll(async () => {
    for (const reader of readers) reader.close();
    await a?.close();
    await b?.close();
    await cluster?.stop();
  });

  function watch(running: RunningApp, path: string): StreamReader {
    const reader = new StreamReader(`${running.baseUrl}/stream/${path}?double_frame=false`);
    readers.push(reader);
    return reader;
  }

  /** Public session ids, at least `perMaster` of them on every master, with where each lives. */
  async function sessionsOnEveryMaster(prefix: string, perMaster: number): Promise<Map<string, number>> {
    const masters = (await cluster.masters()).map((m) => m.port);
    expect(masters).toHaveLength(3);
    const placed = new Map<string, number>();
    const count = new Map<number, number>(masters.map((port) => [port, 0]));
    for (let i = 0; [...count.values()].some((n) => n < perMaster); i++) {
      const id = `${prefix}-${i}`;
      const port = await cluster.masterOf(`session:${id}`);
      if ((count.get(port) ?? 0) >= perMaster) continue;
      count.set(port, (count.get(port) ?? 0) + 1);
      placed.set(id, port);
    }
    return placed;
  }

  it('When sessions on every shard are updated on one instance, then viewers on the other receive each update, over one sharded subscriber connection per master per instance', async () => {
    const placed = await sessionsOnEveryMaster('spread', 2);
    expect(new Set(placed.values()).size).toBe(3);
    for (const id of placed.keys()) {
      expect((await a.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { n: 0 } } })).status).toBe(201);
    }
    const viewers = new Map([...placed.keys()].map((id) => [id, [watch(b, id), watch(b, id), watch(a, id)]]));
    await Promise.all([...viewers.values()].flat().map((viewer) => viewer.until(showsN(0))));

    for (const [i, id] of [...placed.keys()].entries()) {
      expect((await a.api('PUT', `/api/session/${id}`, { json: { args: { n: i + 1 } } })).status).toBe(200);
    }
    for (const [i, id] of [...placed.keys()].entries()) {
      await Promise.all((viewers.get(id) ?? []).map((viewer) => viewer.until(showsN(i + 1))));
    }

    // Each channel is a shard channel on the master holding its key, with one subscriber per instance.
    for (const [id, port] of placed) {
      const server = cluster.servers.find((s) => s.port === port);
      const [, subscribers] = (await server?.client.call('PUBSUB', 'SHARDNUMSUB', `session:${id}`)) as [string, number];
      expect(subscribers, `session:${id} on ${port}`).toBe(2);
    }
    // Two instances, so two sharded subscriber connections on each master: not one per viewer or per channel.
    for (const { port } of await cluster.masters()) {
      const server = cluster.servers.find((s) => s.port === port);
      const clients = String(await server?.client.call('CLIENT', 'LIST'));
      const subscribers = clients.split('\n').filter((line) => /name=\S*ssubscriber/.test(line));
      expect(subscribers, `${port}:\n${clients}`).toHaveLength(2);
    }
  });

  it('When a token is issued by one instance, then the other accepts it, and both publish the same keys', async () => {
    const token = await a.api('POST', '/api/auth/token', { json: { user_id: 'crossing', password: 'a long passphrase' } });
    expectResponse(token, 'issueToken', 200);
    const auth = bearer(token.body.token);
    expect(
      (
        await b.api('POST', '/api/user/crossing/session', {
          json: { session_id: 'one', template: TEMPLATE, args: { n: 1 } },
          headers: auth,
        })
      ).status,
    ).toBe(201);
    expect((await a.api('PUT', '/api/user/crossing/session/one', { json: { args: { n: 2 } }, headers: auth })).status).toBe(204);
    expect((await a.api('GET', '/.well-known/jwks.json')).body).toEqual((await b.api('GET', '/.well-known/jwks.json')).body);
  });

  it('When a claimed user_id logs in on either instance, then the right password gets a token, wrong ones 401 until the per-user limit, then 429', async () => {
    const login = (running: RunningApp, password: string) =>
      running.api('POST', '/api/auth/token', { json: { user_id: 'returning', password } });
    expect((await login(a, 'a long passphrase')).status).toBe(200);
    // The account and the two failure counters live on different shards: read and reserved step by step.
    expect((await login(b, 'a long passphrase')).status).toBe(200);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await login(i % 2 === 0 ? a : b, 'not the passphrase')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('When keys are rotated with npm run keys:rotate on the cluster, then the new key is stored and an instance started afterwards signs with it', async () => {
    const env = { ...process.env, REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.nodes };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/rotate-keys.ts', '--now'], { cwd: projectRoot, env });
    const rotation = JSON.parse(stdout) as { rotated: boolean; kid: string };
    expect(rotation.rotated).toBe(true);
    const later = await startApp({ config: { REDIS_CLUSTER_NODES: cluster.nodes } });
    try {
      const token = await later.api('POST', '/api/auth/token', { json: { user_id: 'rotated', password: 'a long passphrase' } });
      const header = JSON.parse(Buffer.from(bodyOf(token, 'issueToken', 200).token.split('.')[0] ?? '', 'base64url').toString()) as {
        kid: string;
      };
      expect(header.kid).toBe(rotation.kid);
    } finally {
      await later.close();
    }
    // A TypeScript process for the script and a new instance on the cluster: past 20 s on a loaded machine.
  }, 90_000);

  it('When a user holds 150 sessions spread over the shards, then they are listed page by page, each once', async () => {
    const token = await a.api('POST', '/api/auth/token', { json: { user_id: 'many', password: 'a long passphrase' } });
    const auth = bearer(bodyOf(token, 'issueToken', 200).token);
    const ids = Array.from({ length: 150 }, (_, i) => `s${String(i).padStart(3, '0')}`);
    for (const [i, id] of ids.entries()) {
      const instance = i % 2 === 0 ? a : b;
      expect(
        (
          await instance.api('POST', '/api/user/many/session', {
            json: { session_id: id, template: TEMPLATE, args: { n: i } },
            headers: auth,
          })
        ).status,
      ).toBe(201);
    }
    const shards = new Set(await Promise.all(ids.map((id) => cluster.masterOf(`user:many:session:${id}`))));
    expect(shards.size).toBe(3);

    const listed: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const instance = pages % 2 === 0 ? b : a;
      const query: string = cursor ? `limit=40&cursor=${encodeURIComponent(cursor)}` : 'limit=40';
      const page: ApiResponse = await instance.api('GET', `/api/user/many/sessions?${query}`, { headers: auth });
      expectResponse(page, 'listUserSessions', 200);
      listed.push(...page.body.sessions.map((s) => s.session_id));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(4);
    expect([...listed].sort()).toEqual(ids);
  });

  it('When a master is killed (kill -9) while a viewer is open, then writes get 503 (never 500) until a replica takes over, then succeed; the viewer gets the next frame and no acknowledged write is lost', async () => {
    const placed = await sessionsOnEveryMaster('failover', 1);
    const [id, port] = [...placed].find(() => true) ?? [];
    if (id === undefined || port === undefined) throw new Error('no session placed');
    expect((await a.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { n: 1 } } })).status).toBe(201);
    const viewer = watch(b, id);
    await viewer.until(showsN(1));

    await cluster.kill(port);
    let acknowledged = 1;
    const statuses = new Map<number, number>();
    const deadline = Date.now() + 45_000;
    for (let n = 2; ; n++) {
      const res = await a.api('PUT', `/api/session/${id}`, { json: { args: { n } } });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect([200, 503], `PUT n=${n}: ${res.text}`).toContain(res.status);
      if (res.status === 503) expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      if (res.status === 200) acknowledged = n;
      // Done once writes succeed again after the failover: a replica answers for the shard.
      if (res.status === 200 && (statuses.get(503) ?? 0) > 0) break;
      if (Date.now() > deadline) throw new Error(`no failover within 45 s: ${JSON.stringify([...statuses])}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(statuses.get(503)).toBeGreaterThan(0);
    expect(await cluster.masterOf(`session:${id}`)).not.toBe(port);

    await viewer.until(showsN(acknowledged), 20_000);
    expect(viewer.ended).toBe(false);
    // Nothing acknowledged is lost: the last write that got a 200 is what both instances read.
    for (const instance of [a, b]) {
      const session = await instance.api('GET', `/api/session/${id}`);
      expectResponse(session, 'getPublicSession', 200);
      expect(session.body.args).toEqual({ n: acknowledged });
    }
    // And the stream keeps going: the next update arrives as usual.
    expect((await a.api('PUT', `/api/session/${id}`, { json: { args: { n: acknowledged + 1 } } })).status).toBe(200);
    await viewer.until(showsN(acknowledged + 1), 10_000);
    await expect.poll(async () => (await b.api('GET', '/readyz')).status, { timeout: 10_000 }).toBe(200);
  }, 90_000);
});
