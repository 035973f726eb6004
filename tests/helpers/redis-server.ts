import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
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
}

/** Starts a private redis-server on a free port; never touches any other Redis. */
export async function startRedis(): Promise<ThrowawayRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
  });
  // Never leave a redis-server behind, even if this process dies mid-run.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { connectionName: 'test-inspector' });
  return {
    url,
    port,
    client,
    async stop() {
      client.disconnect();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      process.off('exit', reap);
    },
  };
}
