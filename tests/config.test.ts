import { describe, expect, it, vi } from 'vitest';
import { loadConfig, parseClusterNodes, parseTrustProxy } from '../src/config.js';

const load = (env: Record<string, string>) => loadConfig(env, false);

describe('TRUST_PROXY', () => {
  it('When it is unset, empty, "false" or "0", then no proxy is trusted', () => {
    expect(load({}).TRUST_PROXY).toBe(false);
    for (const raw of ['', 'false', '0', ' false ']) expect(load({ TRUST_PROXY: raw }).TRUST_PROXY, raw).toBe(false);
  });

  it('When it is "true", then it is refused with a message saying why and what to give instead', () => {
    expect(() => load({ TRUST_PROXY: 'true' })).toThrow(/TRUST_PROXY.*"true".*every hop.*hop count/);
    expect(() => parseTrustProxy(' true ')).toThrow(/TRUST_PROXY/);
  });

  it('When it is a hop count, then that many hops are trusted', () => {
    expect(load({ TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(load({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
  });

  it('When it lists proxy addresses and CIDRs, then exactly those are trusted', () => {
    expect(load({ TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).TRUST_PROXY).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(load({ TRUST_PROXY: ' 10.0.0.0/8 , ::1, fd00::/8 ' }).TRUST_PROXY).toEqual(['10.0.0.0/8', '::1', 'fd00::/8']);
  });

  it.each([
    'yes',
    'TRUE',
    '*',
    'loopback',
    '10.0.0.0/33',
    '10.0.0.0/8/1',
    '300.1.1.1',
    '1.2.3.4,nope',
    '::1/129',
    '10.0.0.0/x',
    '33',
    '-1',
  ])('When it is "%s", then the configuration is refused with TRUST_PROXY named', (raw) => {
    expect(() => load({ TRUST_PROXY: raw })).toThrow(/TRUST_PROXY/);
  });
});

describe('slow-client timeouts', () => {
  it('When nothing is set, then headers have 10 s and a request 30 s (SPEC section 9)', () => {
    const config = load({});
    expect(config.HEADERS_TIMEOUT_MS).toBe(10_000);
    expect(config.REQUEST_TIMEOUT_MS).toBe(30_000);
    expect(config.KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(0);
  });

  it('When a timeout is not a positive number of milliseconds, then it is refused', () => {
    expect(() => load({ HEADERS_TIMEOUT_MS: '0' })).toThrow();
    expect(() => load({ REQUEST_TIMEOUT_MS: 'soon' })).toThrow();
  });
});

describe('STORE_TIMEOUT_MS', () => {
  it('When nothing is set, then a store command may take 1 s (SPEC section 6)', () => {
    expect(load({}).STORE_TIMEOUT_MS).toBe(1000);
    expect(load({ STORE_TIMEOUT_MS: '250' }).STORE_TIMEOUT_MS).toBe(250);
  });

  it('When it is not a positive number of milliseconds, then the configuration is refused naming it', () => {
    for (const raw of ['0', '-5', 'soon', '1.5']) expect(() => load({ STORE_TIMEOUT_MS: raw }), raw).toThrow(/STORE_TIMEOUT_MS/);
  });
});

describe('REDIS_CLUSTER_NODES', () => {
  it('When it lists host:port pairs, then they are taken as the cluster nodes', () => {
    expect(load({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001' }).REDIS_CLUSTER_NODES).toBe('10.0.0.1:7000,redis-b:7001');
    expect(parseClusterNodes('10.0.0.1:7000,redis-b:7001')).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b', port: 7001 },
    ]);
  });

  it.each(['redis://a:7000', 'a', 'a:', ':7000', 'a:7000,', 'a:70000', 'a:0'])(
    'When it is "%s", then the configuration is refused naming it',
    (raw) => {
      expect(() => load({ REDIS_CLUSTER_NODES: raw })).toThrow(/REDIS_CLUSTER_NODES/);
    },
  );

  it('When REDIS_URL is set too, then the configuration is refused: one Redis or a cluster', () => {
    expect(() => load({ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'a:7000' })).toThrow(/REDIS_URL and REDIS_CLUSTER_NODES/);
  });
});

describe('empty values in the environment', () => {
  it('When REDIS_URL or REDIS_CLUSTER_NODES is set but empty in the process environment, then it counts as unset', () => {
    vi.stubEnv('REDIS_URL', '');
    vi.stubEnv('REDIS_CLUSTER_NODES', '');
    try {
      const config = loadConfig(process.env, false);
      expect(config.REDIS_URL).toBeUndefined();
      expect(config.REDIS_CLUSTER_NODES).toBeUndefined();
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
