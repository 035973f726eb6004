import type { AddressInfo } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { buildApp, type App } from '../../src/app.js';
import { testConfig, type Config } from '../../src/config.js';
import type { Store } from '../../src/store/store.js';
import { apiClient } from './contract.js';

export interface RunningApp {
  app: App;
  baseUrl: string;
  port: number;
  api: ReturnType<typeof apiClient>;
  close(): Promise<void>;
}

/** Builds the app like server.ts does and listens on a free loopback port. */
export async function startApp(options: { store?: Store; config?: Partial<Config> } = {}): Promise<RunningApp> {
  const app = await buildApp(testConfig(options.config), { store: options.store });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const scheme = app.server instanceof TlsServer ? 'https' : 'http';
  const baseUrl = `${scheme}://127.0.0.1:${port}`;
  return { app, baseUrl, port, api: apiClient(baseUrl), close: () => app.close() };
}
