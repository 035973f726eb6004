import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { expect } from 'vitest';
import { contractPath } from '../../src/paths.js';

type Schema = Record<string, unknown>;
interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}

const bundled = JSON.parse(readFileSync(contractPath, 'utf8')) as Schema;
const dereferenced = (await SwaggerParser.dereference(structuredClone(bundled) as never)) as unknown as {
  paths: Record<string, Record<string, unknown>>;
};

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);
const operations: Operation[] = [];
for (const [template, item] of Object.entries(dereferenced.paths)) {
  for (const [method, op] of Object.entries(item)) {
    if (!['get', 'post', 'put', 'delete', 'patch'].includes(method)) continue;
    const pattern = new RegExp('^' + template.replace(/\{[^}]+\}/g, '[^/]+') + '$');
    operations.push({
      method: method.toUpperCase(),
      template,
      pattern,
      responses: (op as { responses: Operation['responses'] }).responses,
    });
  }
}
const validators = new Map<Schema, ValidateFunction>();

export function findOperation(method: string, path: string): Operation {
  const pathname = path.split('?')[0]!;
  const op = operations.find((o) => o.method === method && o.pattern.test(pathname));
  if (!op) throw new Error(`no operation in the contract for ${method} ${pathname}`);
  return op;
}

/**
 * Fails the test unless the status is declared for the operation, the content
 * type is one it declares, and a JSON body matches that status's schema.
 */
export function expectContract(method: string, path: string, status: number, contentType: string | null, body: unknown): void {
  const op = findOperation(method, path);
  const declared = op.responses[String(status)];
  expect(declared, `${method} ${op.template} does not declare status ${status}`).toBeDefined();
  const content = declared!.content;
  if (!content) {
    expect(body === undefined || body === '' || body === null, `${status} of ${op.template} declares no body`).toBe(true);
    return;
  }
  const mediaType = (contentType ?? '').split(';')[0]!.trim();
  expect(Object.keys(content), `${method} ${op.template} ${status} content type`).toContain(mediaType);
  const schema = content[mediaType]!.schema;
  if (!schema || mediaType !== 'application/json') return;
  let validate = validators.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    validators.set(schema, validate);
  }
  expect(validate(body), `${method} ${op.template} ${status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`).toBe(true);
}

/**
 * Fails the test unless the value matches a named schema of the contract's
 * components: for what a streaming response carries inside its body (the data
 * of a server-sent event), which no response schema can describe.
 */
export function expectComponentSchema(name: string, value: unknown): void {
  const schema = (dereferenced as unknown as { components: { schemas: Record<string, Schema | undefined> } }).components.schemas[name];
  if (!schema) throw new Error(`the contract has no schema ${name}`);
  let validate = validators.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    validators.set(schema, validate);
  }
  expect(validate(value), `${name}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`).toBe(true);
}

// Bodies have just been validated against the operation's schema; tests read them freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** fetch against a running app; every response is checked against the contract. */
export function apiClient(baseUrl: string) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see ApiResponse
  return async function call<T = any>(
    method: string,
    path: string,
    options: { json?: unknown; body?: string; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(baseUrl + path, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    const contentType = res.headers.get('content-type');
    const parsed = contentType?.startsWith('application/json') ? JSON.parse(text) : text === '' ? undefined : text;
    expectContract(method, path, res.status, text === '' ? null : contentType, parsed);
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  };
}
