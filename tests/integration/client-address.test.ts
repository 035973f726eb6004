import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrustProxy } from '../../src/config.js';
import { startApp, type RunningApp } from '../helpers/app.js';
import { PASSWORD } from '../helpers/auth.js';

/*
 * The per-client credential-failure limit (AUTH_MAX_FAILURES_PER_CLIENT) is the
 * observable here: if a client could choose its address, each forged address
 * would start a fresh allowance and the 429 would never come.
 */

let seq = 0;
const newUser = () => `addr-${Date.now().toString(36)}-${++seq}`;
const forgedHop = (i: number) => `203.0.113.${(i % 250) + 1}`;

function suite(trust: TrustProxy, title: string, chainFor: (forged: string, realClient: string) => string) {
  describe(title, () => {
    let running: RunningApp;
    let user: string;
    beforeAll(async () => {
      running = await startApp({ config: { TRUST_PROXY: trust, AUTH_MAX_FAILURES_PER_USER: 1000, AUTH_MAX_FAILURES_PER_CLIENT: 2 } });
      user = newUser();
      const claimed = await running.api('POST', '/api/auth/token', {
        json: { user_id: user, password: PASSWORD },
        headers: { 'x-forwarded-for': '192.0.2.200' },
      });
      expect(claimed.status).toBe(200);
    });
    afterAll(async () => running?.close());

    const wrongPassword = (xff: string) =>
      running.api('POST', '/api/auth/token', {
        json: { user_id: user, password: 'not the password' },
        headers: { 'x-forwarded-for': xff },
      });

    it('When a client forges a different X-Forwarded-For chain on every attempt, then its failures still add up to a 429', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await wrongPassword(chainFor(forgedHop(i), '198.51.100.7'))).status);
      expect(statuses).toEqual([401, 401, 429, 429]);
    });
  });
}

// One proxy in front: it appends the address it saw, so only the last hop is trusted.
suite(1, 'TRUST_PROXY=1 (one proxy hop)', (forged, real) => `${forged}, 5.6.7.8, ${real}`);
suite(['127.0.0.1'], 'TRUST_PROXY=127.0.0.1 (the proxy by address)', (forged, real) => `${forged}, ${real}`);

describe('TRUST_PROXY=1, separate clients behind the proxy', () => {
  let running: RunningApp;
  let user: string;
  beforeAll(async () => {
    running = await startApp({ config: { TRUST_PROXY: 1, AUTH_MAX_FAILURES_PER_USER: 1000, AUTH_MAX_FAILURES_PER_CLIENT: 2 } });
    user = newUser();
    expect((await running.api('POST', '/api/auth/token', { json: { user_id: user, password: PASSWORD } })).status).toBe(200);
  });
  afterAll(async () => running?.close());

  it('When the client sends "1.2.3.4, 5.6.7.8", then it is 5.6.7.8 that is limited, and another address is not', async () => {
    const attempt = (xff: string) =>
      running.api('POST', '/api/auth/token', {
        json: { user_id: user, password: 'not the password' },
        headers: { 'x-forwarded-for': xff },
      });
    expect((await attempt('1.2.3.4, 5.6.7.8')).status).toBe(401);
    expect((await attempt('9.9.9.9, 5.6.7.8')).status).toBe(401);
    // The limit belongs to the last hop: naming 5.6.7.8 alone is the same client.
    expect((await attempt('5.6.7.8')).status).toBe(429);
    // The first hop is not the client: naming 1.2.3.4 last is someone else, still allowed.
    expect((await attempt('5.6.7.8, 1.2.3.4')).status).toBe(401);
  });
});

describe('TRUST_PROXY off', () => {
  let running: RunningApp;
  let user: string;
  beforeAll(async () => {
    running = await startApp({ config: { TRUST_PROXY: false, AUTH_MAX_FAILURES_PER_USER: 1000, AUTH_MAX_FAILURES_PER_CLIENT: 2 } });
    user = newUser();
    expect((await running.api('POST', '/api/auth/token', { json: { user_id: user, password: PASSWORD } })).status).toBe(200);
  });
  afterAll(async () => running?.close());

  it('When X-Forwarded-For is sent without a trusted proxy, then it is ignored and the socket address is limited', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await running.api('POST', '/api/auth/token', {
        json: { user_id: user, password: 'not the password' },
        headers: { 'x-forwarded-for': forgedHop(i) },
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 429]);
  });
});
