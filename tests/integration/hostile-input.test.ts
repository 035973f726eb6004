import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { bearer, tokenFor } from '../helpers/auth.js';

/** Deterministic pseudo-random source, so a failure reproduces. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

const ODD_STRINGS = [
  '',
  ' ',
  'a:b',
  '../..',
  '%00',
  '\u0000',
  '𝕏',
  '{{ x }}',
  '{% for i in (1..9) %}',
  '<script>',
  '\'"',
  'x'.repeat(70),
  '__proto__',
  'constructor',
];

function randomValue(rand: () => number, depth = 0): unknown {
  const pick = Math.floor(rand() * (depth > 2 ? 6 : 8));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return Math.floor(rand() * 2 ** 40) * (rand() < 0.5 ? -1 : 1);
    case 3:
      return rand() * 1e6;
    case 4:
      return ODD_STRINGS[Math.floor(rand() * ODD_STRINGS.length)];
    case 5:
      return `v${Math.floor(rand() * 1000)}`;
    case 6:
      return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
    default: {
      const keys = [
        'session_id',
        'template',
        'args',
        'expire',
        'expire_seconds',
        'user_id',
        'password',
        'ttl_seconds',
        'extra',
        '__proto__',
      ];
      const obj: Record<string, unknown> = {};
      for (let i = 0; i < Math.floor(rand() * 5); i++) obj[keys[Math.floor(rand() * keys.length)]!] = randomValue(rand, depth + 1);
      return obj;
    }
  }
}

describe('hostile input', () => {
  let running: RunningApp;
  let token: string;
  beforeAll(async () => {
    running = await startApp();
    token = await tokenFor(running.api, 'fuzz');
    await running.api('POST', '/api/session', {
      json: { session_id: 'fuzz', template: '<svg xmlns="http://www.w3.org/2000/svg">{{ a }}</svg>' },
    });
    await running.api('POST', '/api/user/fuzz/session', {
      json: { session_id: 'fuzz', template: '<svg xmlns="http://www.w3.org/2000/svg">{{ a }}</svg>' },
      headers: bearer(token),
    });
  });
  afterAll(async () => running?.close());

  it('When 600 random bodies hit every write endpoint, then every answer is declared by the contract and none is a 5xx', async () => {
    const rand = prng(20261125);
    const targets: Array<[string, string, Record<string, string>]> = [
      ['POST', '/api/session', {}],
      ['PUT', '/api/session/fuzz', {}],
      ['POST', '/api/auth/token', {}],
      ['POST', '/api/user/fuzz/session', bearer(token)],
      ['PUT', '/api/user/fuzz/session/fuzz', bearer(token)],
    ];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 600; i++) {
      const [method, path, headers] = targets[i % targets.length]!;
      const value = randomValue(rand);
      const res = await running.api(method, path, {
        body: JSON.stringify(value),
        headers: { 'content-type': 'application/json', ...headers },
      });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, `${method} ${path} ${JSON.stringify(value)}`).toBeLessThan(500);
    }
    // The run must exercise refusals, not only successes.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);
  });

  it('When args are deeply nested or wide, then the service stays up and answers 2xx or 4xx', async () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 2000; i++) deep = { d: deep };
    const wide = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i]));
    for (const args of [deep, wide, { a: 'x'.repeat(200_000) }]) {
      const res = await running.api('PUT', '/api/session/fuzz', { json: { args } });
      expect(res.status, JSON.stringify(args).slice(0, 40)).toBeLessThan(500);
    }
    expect((await running.api('GET', '/healthz')).status).toBe(200);
  });

  it('When paths carry odd bytes, then the answer is a 4xx Error, never a 5xx', async () => {
    // (fetch itself resolves %2e%2e as a dot segment, so that one cannot be sent this way.)
    for (const id of ['%2F', '%00', '%FF', 'a%0Ab', '%F0%9D%95%8F', '..%2F..%2Fetc', 'a;b', 'a?b', '%25']) {
      for (const path of [`/api/session/${id}`, `/frame/${id}`, `/stream/${id}`, `/api/user/${id}/session/x`, `/frame/${id}/x`]) {
        const res = await fetch(running.baseUrl + path);
        expect(res.status, path).toBeGreaterThanOrEqual(400);
        expect(res.status, path).toBeLessThan(500);
        expect(await res.json()).toHaveProperty('code');
      }
    }
  });
});
