import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { operations } from '../../generated/types.js';
import { startApp, type RunningApp } from '../helpers/app.js';
import { bodyOf, expectResponse, expectStatus, type ApiResponse } from '../helpers/contract.js';

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg"><text>{{ v }}</text></svg>';
let seq = 0;
const newId = () => `typed-${process.pid}-${++seq}`;

type Json<Op extends keyof operations, S extends keyof operations[Op]['responses']> = operations[Op]['responses'][S] extends {
  content: { 'application/json': infer J };
}
  ? J
  : never;

// The test clients' bodies are typed only by the helpers that check them against the contract.
describe('typed responses (tests/helpers/contract.ts)', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp();
  });
  afterAll(async () => running?.close());

  it('When a response has not been checked for an operation and status, then its body is unknown', async () => {
    const res = await running.api('GET', '/healthz');
    expectTypeOf(res.body).toBeUnknown();
    expectTypeOf<ApiResponse['body']>().toBeUnknown();
  });

  it('When expectResponse passes, then the body has the generated type of that operation and status', async () => {
    const id = newId();
    const created = await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { v: 'a' } } });
    expectResponse(created, 'createPublicSession', 201);
    expectTypeOf(created.body).toEqualTypeOf<Json<'createPublicSession', 201>>();
    expect(created.body.session_id).toBe(id);

    const read = await running.api('GET', `/api/session/${id}`);
    expectResponse(read, 'getPublicSession', 200);
    expectTypeOf(read.body).toEqualTypeOf<Json<'getPublicSession', 200>>();
    expectTypeOf(read.status).toEqualTypeOf<200>();
    expect(read.body.args).toEqual({ v: 'a' });

    const frame = await running.api('GET', `/frame/${id}`);
    expectResponse(frame, 'getPublicSessionFrame', 200);
    expectTypeOf(frame.body).toEqualTypeOf<string>();
    expect(frame.body).toBe(frame.text);
    const unchanged = await running.api('GET', `/frame/${id}`, { headers: { 'if-none-match': frame.headers.get('etag') ?? '' } });
    expectTypeOf(bodyOf(unchanged, 'getPublicSessionFrame', 304)).toEqualTypeOf<undefined | null>();
  });

  it('When expectStatus passes, then the body has the type every operation gives that status', async () => {
    for (const path of [`/api/session/${newId()}`, `/frame/${newId()}`]) {
      const res = await running.api('GET', path);
      expectStatus(res, 404, path);
      expectTypeOf(res.body).toEqualTypeOf<Json<'getPublicSession', 404>>();
      expect(res.body.code).toBe('not_found');
    }
  });

  it('When the operation, the status or the body is not what the test names, then the check fails rather than type the body', async () => {
    const id = newId();
    await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE } });
    const read = await running.api('GET', `/api/session/${id}`);
    expect(() => expectResponse(read, 'getUserSession', 200)).toThrow(/operation/);
    expect(() => expectResponse(read, 'getPublicSession', 404)).toThrow();
    expect(() => expectStatus(read, 404)).toThrow();
    // A body that no longer matches the schema is refused even though the status and operation agree.
    const tampered: ApiResponse = { ...read, body: { session_id: id } };
    expect(() => expectResponse(tampered, 'getPublicSession', 200)).toThrow(/getPublicSession|session/);
    expect(() => bodyOf(tampered, 'getPublicSession', 200)).toThrow();
  });
});
