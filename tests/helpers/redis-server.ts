import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

/**
 * True when redis-server is on PATH. Its absence fails the run, unless
 * SKIP_REDIS=1 says to skip the Redis-backed suites (and the run says so).
 */
export function redisAvailable(): boolean {
  if (spawnSync('redis-server', ['--version']).status === 0) return true;
  if (process.env.SKIP_REDIS === '1') {
    console.warn('SKIPPED: Redis-backed suites (redis-server is not installed and SKIP_REDIS=1)');
    return false;
  }
  throw new Error('redis-server is not installed: install it (make test does) or set SKIP_REDIS=1 to skip the Redis-backed tests');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface ThrowawayRedis {
  url: string;
  port: number;
  /** A connection for the test itself (inspection only). */
  client: Redis;
  stop(): Promise<void>;
  /** SIGSTOP: the server keeps its sockets open and answers nothing, like a stalled host, until resume(). */
  pause(): void;
  resume(): void;
  /** SIGKILL, as a crash; restart() brings it back. */
  kill(): Promise<void>;
  /**
   * Kills the server if it runs and starts a new one on the same port and
   * directory: with appendOnly it comes back holding every write it
   * acknowledged, without it empty.
   */
  restart(): Promise<void>;
}

export interface RedisOptions {
  /** Persist every write before acknowledging it (appendfsync always), so a restart keeps the data. */
  appendOnly?: boolean;
  /** Extra redis-server arguments (e.g. cluster mode). */
  args?: string[];
  port?: number;
}

/** Starts redis-server with these arguments; resolves once it accepts connections. */
export async function launchRedisServer(args: string[]): Promise<ChildProcess> {
  const child: ChildProcess = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // Never leave a redis-server behind, even if this process dies mid-run.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    // stdio 'pipe' gives both streams (hence the assertions); both are read, so a full pipe never blocks the server.
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
  });
  return child;
}

async function killed(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

/** Starts a private redis-server on a free port; never touches any other Redis. */
export async function startRedis(options: RedisOptions = {}): Promise<ThrowawayRedis> {
  const port = options.port ?? (await freePort());
  // Its own directory: a SAVE, an append-only file or a cluster config never lands in the project.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'realtime-svg-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--protected-mode',
    'yes',
    '--dir',
    dir,
    ...(options.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(options.args ?? []),
  ];
  let child = await launchRedisServer(args);
  let paused = false;
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { connectionName: 'test-inspector' });
  // The inspector reconnects by itself after a restart; until then its errors are expected.
  client.on('error', () => {});
  const resume = () => {
    if (paused) child.kill('SIGCONT');
    paused = false;
  };
  return {
    url,
    port,
    client,
    async stop() {
      client.disconnect();
      resume();
      await killed(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    pause() {
      child.kill('SIGSTOP');
      paused = true;
    },
    resume,
    async kill() {
      resume();
      await killed(child, 'SIGKILL');
    },
    async restart() {
      resume();
      await killed(child, 'SIGKILL');
      child = await launchRedisServer(args);
    },
  };
}
