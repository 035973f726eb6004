import { spawn } from 'node:child_process';
import net from 'node:net';
import { Cluster } from 'ioredis';
import { startRedis, type ThrowawayRedis } from './redis-server.js';

/** A Redis Cluster of throwaway redis-servers on free ports; never touches any other Redis. */
export interface ThrowawayCluster {
  /** REDIS_CLUSTER_NODES for the service: every node, host:port, comma-separated. */
  nodes: string;
  servers: ThrowawayRedis[];
  /** A cluster client for the test itself (inspection, and finding where a key lives). */
  client: Cluster;
  /** Ports of the masters now, each with how many slots it serves. */
  masters(): Promise<Array<{ port: number; slots: number }>>;
  /** The port of the master serving a key. */
  masterOf(key: string): Promise<number>;
  /** Kills one node with SIGKILL, as a crash. */
  kill(port: number): Promise<void>;
  stop(): Promise<void>;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await isFree(port)) && (await isFree(port + 10_000))) {
      taken.add(port);
      taken.add(port + 10_000);
      return port;
    }
  }
  throw new Error('no free port pair for a cluster node');
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}: ${output}`))));
  });
}

interface NodeLine {
  port: number;
  flags: string[];
  slots: number;
}

/** CLUSTER NODES as seen by one node: each node's port, flags and slot count. */
function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const fields = line.split(' ');
      const port = Number((fields[1] ?? '').split('@')[0]?.split(':')[1]);
      const flags = (fields[2] ?? '').split(',');
      let slots = 0;
      for (const range of fields.slice(8)) {
        if (range.startsWith('[')) continue;
        const [from, to] = range.split('-').map(Number);
        if (from !== undefined) slots += (to ?? from) - from + 1;
      }
      return { port, flags, slots };
    });
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts six redis-servers with --cluster-enabled yes and joins them with
 * `redis-cli --cluster create … --cluster-replicas 1`: three masters holding
 * all 16,384 slots, one replica each. A short node timeout makes a failover
 * take seconds instead of the default fifteen.
 */
export async function startCluster(options: { nodeTimeoutMs?: number } = {}): Promise<ThrowawayCluster> {
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < 6; i++) ports.push(await freeClusterPort(taken));
  const args = [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    String(options.nodeTimeoutMs ?? 1000),
    // A replica first syncs in full; by default the master waits 5 s before it starts sending.
    '--repl-diskless-sync-delay',
    '0',
  ];
  const servers = await Promise.all(ports.map((port) => startRedis({ port, args })));
  const stopAll = () => Promise.all(servers.map((server) => server.stop()));
  try {
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
    // Every node must agree the cluster is whole before a client can rely on its slot map.
    await until(
      async () =>
        (await Promise.all(servers.map(async (server) => String(await server.client.call('CLUSTER', 'INFO'))))).every((info) =>
          info.includes('cluster_state:ok'),
        ),
      'every node reports cluster_state:ok',
    );
    // A replica that never synced with its master refuses to take over from it.
    await until(async () => {
      const roles = await Promise.all(servers.map(async (server) => String(await server.client.call('INFO', 'replication'))));
      const replicas = roles.filter((info) => info.includes('role:slave'));
      return replicas.length === 3 && replicas.every((info) => info.includes('master_link_status:up'));
    }, 'every replica has synced with its master');
  } catch (err) {
    await stopAll();
    throw err;
  }
  const client = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })));
  client.on('error', () => {});
  const byPort = new Map(servers.map((server) => [server.port, server]));
  const live = () => servers.find((server) => server.client.status === 'ready') ?? servers[0];
  const masters = async () => {
    const viewer = live();
    if (!viewer) throw new Error('no cluster node left');
    const lines = parseNodes(String(await viewer.client.call('CLUSTER', 'NODES')));
    return lines
      .filter((line) => line.flags.includes('master') && !line.flags.includes('fail'))
      .map(({ port, slots }) => ({ port, slots }));
  };
  return {
    nodes: ports.map((port) => `127.0.0.1:${port}`).join(','),
    servers,
    client,
    masters,
    async masterOf(key: string) {
      const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
      const viewer = live();
      if (!viewer) throw new Error('no cluster node left');
      const shards = (await viewer.client.call('CLUSTER', 'SLOTS')) as Array<
        [number, number, [string, number, ...unknown[]], ...unknown[]]
      >;
      const shard = shards.find(([from, to]) => slot >= from && slot <= to);
      if (!shard) throw new Error(`no shard serves slot ${slot}`);
      return shard[2][1];
    },
    async kill(port: number) {
      const server = byPort.get(port);
      if (!server) throw new Error(`no cluster node on port ${port}`);
      await server.kill();
    },
    async stop() {
      client.disconnect();
      await stopAll();
    },
  };
}
