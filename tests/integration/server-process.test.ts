import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';
import { apiClient, bodyOf } from '../helpers/contract.js';
import { StreamReader } from '../helpers/multipart.js';
import { freePort } from '../helpers/redis-server.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** The server from source under tsx, or, with `bundled`, what `npm start` runs: the build's dist/server.mjs. */
function startServer(env: Record<string, string>, bundled = false) {
  const child = spawn(process.execPath, bundled ? ['dist/server.mjs'] : ['--import', 'tsx', 'src/server.ts'], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => stdout.includes('Server listening') && resolve());
    void exited.then((code) => reject(new Error(`server exited with ${code}: ${stderr}${stdout}`)));
  });
  // Only some tests wait for listening; the others expect the exit.
  listening.catch(() => {});
  return { child, exited, listening, output: () => stdout + stderr };
}

/** The accept backlog of the socket listening on `port`, as the kernel reports it (Send-Q of a listening socket, iproute2's ss). */
async function listenBacklog(port: number): Promise<number> {
  const { stdout } = await promisify(execFile)('ss', ['-ltnH', `sport = :${port}`]);
  const [state, , sendQ] = stdout.trim().split(/\s+/);
  if (state !== 'LISTEN') throw new Error(`ss found no listening socket on port ${port}: ${stdout}`);
  return Number(sendQ);
}

describe('the server process', () => {
  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ LISTEN_BACKLOG: '0' }, 'LISTEN_BACKLOG'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ REDIS_URL: 'http://example' }, 'REDIS_URL'],
  ])('When the configuration is invalid (%j), then it exits non-zero naming the variable', async (env, name) => {
    const server = startServer(env);
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain('invalid configuration');
    expect(server.output()).toContain(name);
  });

  it.each([
    ['REDIS_URL', (port: number) => ({ REDIS_URL: `redis://127.0.0.1:${port}` })],
    ['REDIS_CLUSTER_NODES', (port: number) => ({ REDIS_CLUSTER_NODES: `127.0.0.1:${port}` })],
  ])(
    'When the store (%s) cannot be reached at start, then it exits non-zero with one clear line, not a stack trace',
    async (_name, env) => {
      // A port nothing listens on: freePort() hands out a port that was free a moment ago.
      const server = startServer({ PORT: String(await freePort()), ...env(await freePort()) });
      expect(await server.exited).toBe(1);
      const output = server.output();
      expect(output).toContain('realtime-svg: cannot reach the store');
      expect(output).toContain('127.0.0.1');
      expect(output).not.toMatch(/^\s+at /m);
    },
  );

  it('When started without configuration, then it serves with the embedded store, and SIGTERM closes streams and exits', async () => {
    const port = await freePort();
    const server = startServer({ PORT: String(port) });
    await server.listening;
    expect(server.output()).toContain('embedded in-process store');
    const api = apiClient(`http://127.0.0.1:${port}`);
    expect((await api('GET', '/healthz')).status).toBe(200);
    await api('POST', '/api/session', {
      json: { session_id: 'bye', template: '<svg xmlns="http://www.w3.org/2000/svg">{{ n }}</svg>', args: { n: 1 } },
    });
    const reader = new StreamReader(`http://127.0.0.1:${port}/stream/bye?double_frame=false`);
    await reader.until((r) => r.parsed.parts.length === 1);
    const started = Date.now();
    server.child.kill('SIGTERM');
    await reader.untilEnded(5000);
    expect(reader.parsed.closed).toBe(true);
    expect(await server.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(server.output()).toContain('stream closed');
  });

  it("When started, then it listens with the backlog LISTEN_BACKLOG sets, 4096 by default, not Node's 511", async () => {
    // The kernel caps a backlog at somaxconn; below 777 this test could not tell ours from Node's default.
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    expect(somaxconn).toBeGreaterThanOrEqual(777);
    for (const [env, expected] of [
      [{}, Math.min(4096, somaxconn)],
      [{ LISTEN_BACKLOG: '777' }, 777],
    ] as const) {
      const port = await freePort();
      const server = startServer({ PORT: String(port), ...env });
      await server.listening;
      expect(await listenBacklog(port)).toBe(expected);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });

  it('When the bundle npm start runs is started, then it renders in its worker, serves the docs and the token, and exits on SIGTERM', async () => {
    if (!existsSync(path.join(projectRoot, 'dist', 'server.mjs')))
      throw new Error('dist/server.mjs is missing: run npm run build (npm ci does)');
    const port = await freePort();
    const server = startServer({ PORT: String(port) }, true);
    await server.listening;
    const base = `http://127.0.0.1:${port}`;
    const api = apiClient(base);
    const template = '<svg xmlns="http://www.w3.org/2000/svg"><text>{{ n }}</text></svg>';
    expect((await api('POST', '/api/session', { json: { session_id: 'packed', template, args: { n: 7 } } })).status).toBe(201);
    const frame = await api('GET', '/frame/packed');
    expect(frame.status).toBe(200);
    expect(frame.text).toContain('<text>7</text>');
    expect((await api('POST', '/api/auth/token', { json: { user_id: 'packed', password: 'a long password' } })).status).toBe(200);
    // Swagger UI's files come from swagger-ui-dist, which stays outside the bundle.
    const asset = await fetch(`${base}/docs/assets/swagger-ui-bundle.js`);
    expect(asset.status).toBe(200);
    // Read to the end: an unread response keeps its connection busy, and the shutdown would wait for it.
    expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('When a write carries a bad token, then the log says why and never contains the token', async () => {
    const port = await freePort();
    const server = startServer({ PORT: String(port) });
    await server.listening;
    const api = apiClient(`http://127.0.0.1:${port}`);
    const login = await api('POST', '/api/auth/token', { json: { user_id: 'logged', password: 'a long password' } });
    const token = bodyOf(login, 'issueToken', 200).token;
    expect(
      (
        await api('POST', '/api/user/logged/session', {
          json: { session_id: 's', template: '<svg xmlns="http://www.w3.org/2000/svg"/>' },
          headers: { authorization: `Bearer ${token}` },
        })
      ).status,
    ).toBe(201);
    const tampered = `${token.slice(0, -4)}AAAA`;
    expect(
      (await api('PUT', '/api/user/logged/session/s', { json: { args: {} }, headers: { authorization: `Bearer ${tampered}` } })).status,
    ).toBe(401);
    expect(
      (await api('PUT', '/api/user/other/session/s', { json: { args: {} }, headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(403);
    server.child.kill('SIGTERM');
    await server.exited;
    const log = server.output();
    expect(log).toMatch(/"authFailure":"FAST_JWT_INVALID_SIGNATURE"/);
    expect(log).toMatch(/"authFailure":"forbidden"/);
    expect(log).toContain('"msg":"token issued"');
    for (const secret of [token, tampered, token.split('.')[2]!, 'a long password']) expect(log).not.toContain(secret);
    // Each line about a request names it, as Fastify's request logger did: the
    // auth failure and the rejection it caused share one reqId, other requests have their own.
    const lines = log
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg?: string; reqId?: unknown; authFailure?: string });
    const issued = lines.find((line) => line.msg === 'token issued');
    const badSignature = lines.find((line) => line.authFailure === 'FAST_JWT_INVALID_SIGNATURE');
    const forbidden = lines.find((line) => line.authFailure === 'forbidden');
    const rejected = lines.filter((line) => line.msg === 'request rejected');
    expect(issued?.reqId).toEqual(expect.any(String));
    expect(badSignature?.reqId).toEqual(expect.any(String));
    expect(forbidden?.reqId).toEqual(expect.any(String));
    expect(new Set([issued?.reqId, badSignature?.reqId, forbidden?.reqId]).size).toBe(3);
    expect(rejected.map((line) => line.reqId).sort()).toEqual([badSignature?.reqId, forbidden?.reqId].sort());
  });
});
