import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compiledSchemasModule, loadCompiledSchemas, schemaCompilers } from '../../src/http/schema-compilers.js';
import { projectRoot } from '../../src/paths.js';

const query = {
  type: 'object',
  properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 }, cursor: { type: 'string', pattern: '^[a-z]+$' } },
};
const body = {
  type: 'object',
  required: ['session_id'],
  additionalProperties: false,
  properties: { session_id: { type: 'string', minLength: 1 }, ttl: { type: 'integer' }, at: { type: 'string', format: 'date-time' } },
};
const answer = {
  type: 'object',
  properties: { token: { type: 'string' }, expires_in: { type: 'integer' }, note: { anyOf: [{ type: 'string' }, { type: 'null' }] } },
};
const queryRoute = { schema: query, method: 'GET', url: '/api/user/:user_id/sessions', httpPart: 'querystring' };
const bodyRoute = { schema: body, method: 'POST', url: '/api/session', httpPart: 'body', contentType: 'application/json' };
const answerRoute = { schema: answer, method: 'POST', url: '/api/auth/token', httpStatus: '200', contentType: 'application/json' };

/** What a validator does to a copy of the input: its verdict and the input as validation leaves it. */
function run(validate: (data: unknown) => unknown, input: unknown): { valid: unknown; data: unknown } {
  const data = structuredClone(input);
  return { valid: validate(data), data };
}

let scratch = '';
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Compiles the routes above with recording on and writes the module a build would write. */
function buildTable(): string {
  const record = new Map<string, string>();
  const recording = schemaCompilers({ record });
  recording.validatorCompiler(queryRoute);
  recording.validatorCompiler(bodyRoute);
  recording.serializerCompiler(answerRoute);
  expect(record.size).toBe(3);
  // Inside the project, as dist/ is: the compiled code requires Ajv's runtime from node_modules.
  const cache = path.join(projectRoot, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  scratch = mkdtempSync(path.join(cache, 'schemas-'));
  const file = path.join(scratch, 'compiled-schemas.cjs');
  writeFileSync(file, compiledSchemasModule(record));
  return file;
}

describe('schemas compiled at build time', () => {
  const table = loadCompiledSchemas(buildTable());
  const precompiled = schemaCompilers({ precompiled: table });
  const fresh = schemaCompilers({});
  const entries = new Set(Object.values(table));
  /** The built table with every function wrapped to count the calls that reach it. */
  const countingTable = () => {
    let calls = 0;
    const counted = Object.fromEntries(
      Object.entries(table).map(([key, built]) => [
        key,
        (value: unknown) => {
          calls++;
          return (built as (value: unknown) => string)(value);
        },
      ]),
    );
    return { table: counted, calls: () => calls };
  };

  it('When a start finds a schema in the build, then it uses that function, which validates exactly as one compiled at start', () => {
    const fromBuild = precompiled.validatorCompiler(queryRoute);
    expect(entries.has(fromBuild)).toBe(true);
    const atStart = fresh.validatorCompiler(queryRoute);
    expect(entries.has(atStart)).toBe(false);
    for (const input of [{}, { limit: '5' }, { limit: '500' }, { limit: 'x' }, { cursor: 'abc' }, { cursor: 'A1' }, { limit: ['7'] }]) {
      expect(run(fromBuild, input)).toEqual(run(atStart, input));
    }
    // Query strings are coerced and defaulted: the restored function kept the compile options.
    expect(run(fromBuild, {})).toEqual({ valid: true, data: { limit: 20 } });
    expect(run(fromBuild, { limit: '5' })).toEqual({ valid: true, data: { limit: 5 } });
  });

  it('When a body is validated by the built function, then it is not coerced, unknown members go, and formats are checked', () => {
    const fromBuild = precompiled.validatorCompiler(bodyRoute);
    expect(entries.has(fromBuild)).toBe(true);
    const atStart = fresh.validatorCompiler(bodyRoute);
    const inputs = [
      { session_id: 'a' },
      { session_id: 'a', ttl: '5' },
      { session_id: 'a', extra: 1 },
      { session_id: '' },
      { session_id: 'a', at: '2026-11-30T04:00:00Z' },
      { session_id: 'a', at: 'yesterday' },
    ];
    for (const input of inputs) expect(run(fromBuild, input)).toEqual(run(atStart, input));
    expect(run(fromBuild, { session_id: 'a', ttl: '5' }).valid).toBe(false);
    expect(run(fromBuild, { session_id: 'a', extra: 1 })).toEqual({ valid: true, data: { session_id: 'a' } });
    expect(run(fromBuild, { session_id: 'a', at: 'yesterday' }).valid).toBe(false);
  });

  it('When a response is serialised by the built function, then the bytes are those of one compiled at start', () => {
    // Serializers come wrapped (a frozen value is serialised once): count the calls that reach the built ones.
    const counting = countingTable();
    const fromBuild = schemaCompilers({ precompiled: counting.table }).serializerCompiler(answerRoute);
    const atStart = fresh.serializerCompiler(answerRoute);
    const values = [{ token: 't', expires_in: 60 }, { token: 'a"b', expires_in: 1, note: null, other: 'dropped' }, { note: 'n' }];
    for (const value of values) expect(fromBuild(value)).toBe(atStart(value));
    expect(counting.calls()).toBe(values.length);
  });

  it('When the same frozen value is serialised again, then the first result is reused; a value that is not frozen is serialised each time', () => {
    const counting = countingTable();
    const serialize = schemaCompilers({ precompiled: counting.table }).serializerCompiler(answerRoute);
    const frozen = Object.freeze({ token: 'k', expires_in: 5 });
    expect(serialize(frozen)).toBe(serialize(frozen));
    expect(counting.calls()).toBe(1);
    const open = { token: 'k', expires_in: 5 };
    serialize(open);
    open.expires_in = 6;
    expect(serialize(open)).toContain('"expires_in":6');
    expect(counting.calls()).toBe(3);
  });

  it('When a schema changed after the build, then its stale function is not used and the new schema is compiled', () => {
    const changed = { ...queryRoute, schema: { ...query, properties: { ...query.properties, limit: { type: 'integer', maximum: 10 } } } };
    const validate = precompiled.validatorCompiler(changed);
    expect(entries.has(validate)).toBe(false);
    expect(run(validate, { limit: '50' }).valid).toBe(false);
    // The same schema on another route is another function too.
    expect(entries.has(precompiled.validatorCompiler({ ...queryRoute, url: '/elsewhere' }))).toBe(false);
  });
});
