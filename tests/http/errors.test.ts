import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError, type ErrorCode } from '../../src/domain/errors.js';
import { installErrorHandling, STATUS_OF_CODE } from '../../src/http/errors.js';
import { ResponseCounter } from '../../src/http/metrics.js';
import { StoreFullError, StoreUnavailableError } from '../../src/store/errors.js';

const EXPECTED_STATUS: Record<ErrorCode, number> = {
  validation_failed: 400,
  template_invalid: 400,
  token_missing: 401,
  token_expired: 401,
  token_invalid: 401,
  invalid_credentials: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  quota_exceeded: 403,
  internal_error: 500,
  unavailable: 503,
};

const CODES = Object.keys(EXPECTED_STATUS) as ErrorCode[];
const SECRET = 'redis://admin:hunter2@10.0.0.7:6379';

describe('HTTP error mapping', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = Fastify({ logger: false });
    installErrorHandling(app, new ResponseCounter());
    app.get<{ Params: { code: ErrorCode } }>('/domain/:code', async (request) => {
      const { code } = request.params;
      throw new DomainError(code, `domain says ${code}`, code === 'rate_limited' || code === 'unavailable' ? { retryAfterSeconds: 7 } : {});
    });
    app.get('/unknown', async () => {
      throw new Error(`connection to ${SECRET} failed`);
    });
    app.get('/store-full', async () => {
      throw new StoreFullError(512 * 1_048_576);
    });
    app.get('/store-unavailable', async () => {
      throw new StoreUnavailableError('timeout', { cause: new Error(SECRET) });
    });
    await app.ready();
  });

  afterAll(async () => {
    await app.close();
  });

  it('When the table of statuses is read, then it is the one the contract specifies', () => {
    expect(STATUS_OF_CODE).toEqual(EXPECTED_STATUS);
  });

  it.each(CODES)('When a DomainError %s is thrown, then it is answered with its status and {error, code}', async (code) => {
    const response = await app.inject({ method: 'GET', url: `/domain/${code}` });
    expect(response.statusCode).toBe(EXPECTED_STATUS[code]);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.json()).toEqual({ error: `domain says ${code}`, code });
    if (EXPECTED_STATUS[code] === 401) {
      expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="realtime-svg"/);
    } else {
      expect(response.headers['www-authenticate']).toBeUndefined();
    }
  });

  it('When rate_limited is thrown, then the answer carries Retry-After', async () => {
    const response = await app.inject({ method: 'GET', url: '/domain/rate_limited' });
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('7');
  });

  it('When a code without a retry time is thrown, then there is no Retry-After', async () => {
    const response = await app.inject({ method: 'GET', url: '/domain/conflict' });
    expect(response.headers['retry-after']).toBeUndefined();
  });

  it('When a 401 follows a presented but bad token, then the challenge says invalid_token; without a token it is bare', async () => {
    const bare = await app.inject({ method: 'GET', url: '/domain/token_missing' });
    expect(bare.headers['www-authenticate']).toBe('Bearer realm="realtime-svg"');
    const expired = await app.inject({ method: 'GET', url: '/domain/token_expired', headers: { authorization: 'Bearer x.y.z' } });
    expect(expired.headers['www-authenticate']).toBe(
      'Bearer realm="realtime-svg", error="invalid_token", error_description="the token has expired"',
    );
    const invalid = await app.inject({ method: 'GET', url: '/domain/token_invalid', headers: { authorization: 'Bearer x.y.z' } });
    expect(invalid.headers['www-authenticate']).toContain('error="invalid_token"');
    const garbled = await app.inject({ method: 'GET', url: '/domain/token_missing', headers: { authorization: 'Bearer !!!' } });
    expect(garbled.headers['www-authenticate']).toContain('error_description="the token is malformed"');
  });

  it('When an unknown Error is thrown, then it is a 500 internal_error whose body says nothing of the cause', async () => {
    const response = await app.inject({ method: 'GET', url: '/unknown' });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: 'internal error', code: 'internal_error' });
    expect(response.body).not.toContain('hunter2');
    expect(response.body).not.toContain('10.0.0.7');
    expect(response.body).not.toContain('connection');
  });

  it('When the store is full, then it is a 507 quota_exceeded', async () => {
    const response = await app.inject({ method: 'GET', url: '/store-full' });
    expect(response.statusCode).toBe(507);
    expect(response.json()).toMatchObject({ code: 'quota_exceeded' });
    expect(response.headers['retry-after']).toBeUndefined();
  });

  it('When the store is unavailable, then it is a 503 unavailable with Retry-After and no word of the cause', async () => {
    const response = await app.inject({ method: 'GET', url: '/store-unavailable' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ code: 'unavailable' });
    expect(response.headers['retry-after']).toBe('1');
    expect(response.body).not.toContain('hunter2');
  });

  it('When no route matches, then it is a 404 not_found; a known path with another method is a 405 with Allow', async () => {
    const missing = await app.inject({ method: 'GET', url: '/nowhere' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'not_found' });
    const wrongMethod = await app.inject({ method: 'DELETE', url: '/unknown' });
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toContain('GET');
    expect(wrongMethod.json()).toMatchObject({ code: 'method_not_allowed' });
  });

  it('When the body is not valid JSON, then fastify’s own error is a 400 in the contract’s shape', async () => {
    const local = Fastify({ logger: false });
    installErrorHandling(local, new ResponseCounter());
    local.post('/echo', async (request) => request.body);
    const response = await local.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{nope',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'validation_failed' });
    await local.close();
  });
});
