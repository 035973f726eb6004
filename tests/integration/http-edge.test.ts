import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded-store.js';
import { startApp, type RunningApp } from '../helpers/app.js';
import { bearer, TokenForge, tokenFor } from '../helpers/auth.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { expectResponse, expectStatus } from '../helpers/contract.js';

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="20"><text y="15">{{ v }}</text></svg>';

/** Every error body is exactly {error, code}: no framework fields, no echo of a long URL. */
async function expectErrorBody(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['code', 'error']);
  expect(body.code).toBe(code);
  expect(String(body.error)).not.toMatch(/FST_|x{65}/);
}

describe('HTTP edges', () => {
  let running: RunningApp;
  let store: EmbeddedStore;
  let token: string;
  const fetchPath = (path: string, init: RequestInit = {}) => fetch(running.baseUrl + path, { redirect: 'manual', ...init });

  beforeAll(async () => {
    store = new EmbeddedStore();
    running = await startApp({ store });
    token = await tokenFor(running.api, 'edge');
    expect((await running.api('POST', '/api/session', { json: { session_id: 'edge', template: TEMPLATE, args: { v: 'a' } } })).status).toBe(
      201,
    );
    expect(
      (await running.api('POST', '/api/user/edge/session', { json: { session_id: 'edge', template: TEMPLATE }, headers: bearer(token) }))
        .status,
    ).toBe(201);
  });
  afterAll(async () => {
    await running?.close();
    await store?.close();
  });

  describe('identifiers of any length', () => {
    it.each([65, 101, 1000, 5000])(
      'When an id is %i characters long, then every route answers 400 validation_failed, never 414',
      async (length) => {
        const long = 'x'.repeat(length);
        const requests: Array<[string, string, unknown?]> = [
          ['GET', `/api/session/${long}`],
          ['PUT', `/api/session/${long}`, { args: {} }],
          ['GET', `/frame/${long}`],
          ['GET', `/stream/${long}`],
          ['GET', `/api/user/${long}/session/edge`],
          ['GET', `/api/user/edge/session/${long}`],
          ['GET', `/frame/edge/${long}`],
          ['GET', `/stream/${long}/${long}`],
        ];
        for (const [method, path, json] of requests) {
          const res = await running.api(method, path, { json });
          expectStatus(res, 400, `${method} ${path.slice(0, 40)}…`);
          expect(res.body.code).toBe('validation_failed');
          expect(res.text).not.toContain(long);
        }
      },
    );

    it('When an id is not valid percent-encoding, then it is 400 validation_failed, not a framework error', async () => {
      for (const path of ['/api/session/%zz', '/frame/%E0%A4%A', '/api/user/%/session/x']) {
        await expectErrorBody(await fetchPath(path), 400, 'validation_failed');
      }
    });

    it('When a page URL has a 5000-character id, then it is a 404 page, not a 414', async () => {
      const res = await fetchPath(`/session/${'x'.repeat(5000)}`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).not.toContain('x'.repeat(5000));
    });
  });

  describe('wrong method', () => {
    it('When DELETE is sent to a public session, then it is 405 method_not_allowed with Allow listing GET, HEAD and PUT', async () => {
      const res = await fetchPath('/api/session/x', { method: 'DELETE' });
      expect(res.headers.get('allow')).toBe('GET, HEAD, PUT');
      await expectErrorBody(res, 405, 'method_not_allowed');
    });

    it.each([
      ['POST', '/healthz', 'GET, HEAD'],
      ['GET', '/api/session', 'POST'],
      ['PATCH', '/api/user/edge/session/edge', 'GET, HEAD, PUT, DELETE'],
      ['PUT', '/session/edge', 'GET, HEAD'],
      ['DELETE', '/.well-known/jwks.json', 'GET, HEAD'],
    ])('When %s %s is sent, then it is 405 with Allow: %s', async (method, path, allow) => {
      const res = await fetchPath(path, { method });
      expect(res.headers.get('allow')).toBe(allow);
      await expectErrorBody(res, 405, 'method_not_allowed');
    });

    it('When a path exists under no method, then it is 404 not_found without Allow', async () => {
      for (const method of ['GET', 'DELETE', 'POST']) {
        const res = await fetchPath('/nope/nothing', { method });
        expect(res.headers.get('allow')).toBeNull();
        await expectErrorBody(res, 404, 'not_found');
      }
    });

    it('When a route answers 404 for a missing resource, then it stays 404, not 405', async () => {
      await expectErrorBody(await fetchPath('/api/session/missing-session'), 404, 'not_found');
    });
  });

  describe('WWW-Authenticate on 401', () => {
    const write = (headers: Record<string, string>) =>
      running.api('PUT', '/api/user/edge/session/edge', { json: { args: { v: 'b' } }, headers });

    it('When no token is sent, then the 401 challenges with Bearer and the realm only', async () => {
      for (const headers of [{}, { authorization: 'Basic ZWRnZTpwdw==' }] as Array<Record<string, string>>) {
        const res = await write(headers);
        expectResponse(res, 'updateUserSession', 401);
        expect(res.body.code).toBe('token_missing');
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="realtime-svg"');
      }
    });

    it('When the token is garbled, invalid or expired, then the challenge says invalid_token with a description', async () => {
      const forge = await TokenForge.fromStore(store);
      const expiredToken = forge.rs256(forge.header(), forge.claims('edge', { exp: Math.floor(Date.now() / 1000) - 3600 }));
      const cases: Array<[string, string]> = [
        ['not-a-jwt', 'token_missing'],
        [forge.rs256(forge.header(), forge.claims('edge'), TokenForge.otherKey()), 'token_invalid'],
        [expiredToken, 'token_expired'],
      ];
      for (const [badToken, code] of cases) {
        const res = await write(bearer(badToken));
        expectResponse(res, 'updateUserSession', 401, code);
        expect(res.body.code).toBe(code);
        const challenge = res.headers.get('www-authenticate') ?? '';
        expect(challenge).toMatch(
          /^Bearer realm="realtime-svg", error="invalid_token", error_description="[\x20\x21\x23-\x5B\x5D-\x7E]+"$/,
        );
      }
      const expired = await write(bearer(expiredToken));
      expect(expired.headers.get('www-authenticate')).toContain('expired');
    });

    it('When a password is wrong, then the 401 still carries a challenge (every 401 must), without a token error', async () => {
      const res = await running.api('POST', '/api/auth/token', { json: { user_id: 'edge', password: 'not the password' } });
      expectResponse(res, 'issueToken', 401);
      expect(res.body.code).toBe('invalid_credentials');
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="realtime-svg"');
    });

    it('When a request is not a 401, then there is no challenge', async () => {
      const forbidden = await running.api('PUT', '/api/user/other/session/edge', { json: { args: {} }, headers: bearer(token) });
      expect(forbidden.status).toBe(403);
      expect(forbidden.headers.get('www-authenticate')).toBeNull();
      expect(
        (await running.api('PUT', '/api/user/edge/session/edge', { json: { args: {} }, headers: bearer(token) })).headers.get(
          'www-authenticate',
        ),
      ).toBeNull();
    });
  });

  describe('page headers', () => {
    const pages = ['/', '/session/edge', '/session/edge/edge', '/session/missing', '/docs'];

    it.each(pages)(
      'When %s is loaded, then it carries CSP with script-src self and frame-ancestors none, X-Frame-Options and Referrer-Policy',
      async (path) => {
        const res = await fetchPath(path);
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        const csp = res.headers.get('content-security-policy') ?? '';
        const directives = new Map(
          csp
            .split(';')
            .map((d) => d.trim().split(/\s+/))
            .map(([name, ...values]) => [name, values]),
        );
        expect(directives.get('script-src')).toEqual(["'self'"]);
        expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
        expect(directives.get('default-src')).toEqual(["'self'"]);
        expect(directives.get('object-src')).toEqual(["'none'"]);
        expect(res.headers.get('x-frame-options')).toBe('DENY');
        expect(res.headers.get('referrer-policy')).toBe('no-referrer');
        expect(await res.text()).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      },
    );

    it('When the API, a frame or a stream is asked, then they do not get the page headers', async () => {
      for (const path of ['/api/session/edge', '/healthz', '/openapi.json']) {
        const res = await fetchPath(path);
        expect(res.headers.get('x-frame-options'), path).toBeNull();
        expect(res.headers.get('content-security-policy'), path).toBeNull();
        await res.arrayBuffer();
      }
      const frame = await fetchPath('/frame/edge');
      expect(frame.headers.get('content-security-policy')).toContain('sandbox');
      expect(frame.headers.get('x-frame-options')).toBeNull();
      await frame.arrayBuffer();
    });
  });

  describe.runIf(chromiumAvailable())('pages under their CSP in Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => browser?.close());

    /** Opens the page, waits until `ready` (a JS expression) holds, and returns the CSP violations Chromium reported. */
    async function visit(path: string, ready: string): Promise<string[]> {
      const page = await browser.newPage();
      const violations: string[] = [];
      page.on('console', (msg) => {
        if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
      });
      try {
        await page.goto(running.baseUrl + path);
        // Not waitForFunction: it evaluates a string predicate with eval, which the page's own CSP refuses while it polls.
        await expect.poll(() => page.evaluate(ready), { timeout: 15_000 }).toBe(true);
        return violations;
      } finally {
        await page.close();
      }
    }

    it('When /docs is opened, then Swagger UI renders the contract with no CSP violation', async () => {
      expect(await visit('/docs', "document.querySelectorAll('.opblock').length > 0")).toEqual([]);
    });

    it('When the home and session pages are opened, then their script runs with no CSP violation', async () => {
      // Both values are written by the page's script, so they prove it ran.
      expect(await visit('/', "document.querySelector('#who').textContent !== ''")).toEqual([]);
      expect(await visit('/session/edge', "document.querySelector('#args').value.includes('\"v\"')")).toEqual([]);
    });
  });
});
