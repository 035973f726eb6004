import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { expect } from 'vitest';
import type { components, operations } from '../../generated/types.js';
import { contractPath } from '../../src/paths.js';

type Schema = Record<string, unknown>;
interface Operation {
  operationId: string;
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
const contractOperations: Operation[] = [];
for (const [template, item] of Object.entries(dereferenced.paths)) {
  for (const [method, op] of Object.entries(item)) {
    if (!['get', 'post', 'put', 'delete', 'patch'].includes(method)) continue;
    const pattern = new RegExp('^' + template.replace(/\{[^}]+\}/g, '[^/]+') + '$');
    contractOperations.push({
      operationId: (op as { operationId: string }).operationId,
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
  const op = contractOperations.find((o) => o.method === method && o.pattern.test(pathname));
  if (!op) throw new Error(`no operation in the contract for ${method} ${pathname}`);
  return op;
}

function operationById(operationId: string): Operation {
  const op = contractOperations.find((o) => o.operationId === operationId);
  if (!op) throw new Error(`the contract has no operation ${operationId}`);
  return op;
}

/** The operations of the contract, by operationId, as openapi-typescript generated them. */
export type OperationId = keyof operations;
type ResponsesOf<Op extends OperationId> = operations[Op]['responses'];
/** The statuses an operation declares. */
export type StatusOf<Op extends OperationId> = keyof ResponsesOf<Op> & number;
/** Every status some operation declares. */
export type DeclaredStatus = { [Op in OperationId]: StatusOf<Op> }[OperationId];

/**
 * What the test clients hold in `body` for one declared response: the parsed
 * JSON for application/json, the text for any other declared media type, and
 * where the response declares no content, nothing (undefined; null is what an
 * empty JSON body parses to, which the check lets through).
 */
type BodyOfResponse<R> = R extends { content: infer C }
  ? (C extends { 'application/json': infer J } ? J : never) | (Exclude<keyof C, 'application/json'> extends never ? never : string)
  : undefined | null;

/** The body of `operationId`'s `status` response, as the contract types it. */
export type ResponseBody<Op extends OperationId, S extends StatusOf<Op>> = BodyOfResponse<ResponsesOf<Op>[S]>;

/** The body any operation may answer with `status` (for checks that span operations, such as error bodies). */
export type AnyResponseBody<S extends DeclaredStatus> = {
  [Op in OperationId]: S extends StatusOf<Op> ? ResponseBody<Op, S> : never;
}[OperationId];

/** A response whose status and body have been checked against one declared response of the contract. */
export type OperationResponse<Op extends OperationId, S extends StatusOf<Op>> = ApiResponse<ResponseBody<Op, S>> & {
  status: S;
  operationId: Op;
};

/** A response whose body has been checked against the `status` response of whichever operation it answers. */
export type StatusResponse<S extends DeclaredStatus> = ApiResponse<AnyResponseBody<S>> & { status: S };

function validatorFor(schema: Schema): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    validators.set(schema, validate);
  }
  return validate;
}

/** Fails the test unless `op` declares the status, the content type and (for JSON) a schema the body matches. */
function expectDeclared(op: Operation, method: string, status: number, contentType: string | null, body: unknown): void {
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
  const validate = validatorFor(schema);
  expect(validate(body), `${method} ${op.template} ${status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`).toBe(true);
}

/**
 * Fails the test unless the status is declared for the operation, the content
 * type is one it declares, and a JSON body matches that status's schema.
 * Returns the operationId of the operation the request reached.
 */
export function expectContract(method: string, path: string, status: number, contentType: string | null, body: unknown): string {
  const op = findOperation(method, path);
  expectDeclared(op, method, status, contentType, body);
  return op.operationId;
}

/**
 * Fails the test unless the value matches a named schema of the contract's
 * components: for JSON the checked test clients never see, such as what a
 * streaming response carries inside its body (the data of a server-sent
 * event), which no response schema can describe, or a body read off a raw
 * socket or HTTP/2 stream. Afterwards the value has that schema's generated
 * type. `context` (what the value answered) leads the failure message.
 */
export function expectComponentSchema<N extends keyof components['schemas']>(
  name: N,
  value: unknown,
  context?: string,
): asserts value is components['schemas'][N] {
  const schema = (dereferenced as unknown as { components: { schemas: Record<string, Schema | undefined> } }).components.schemas[name];
  if (!schema) throw new Error(`the contract has no schema ${name}`);
  const validate = validatorFor(schema);
  const where = context === undefined ? '' : `${context}: `;
  expect(validate(value), `${where}${name}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`).toBe(true);
}

/**
 * A response from one of the test clients. The body has been checked against
 * the contract but is `unknown` until a test says which response it expects
 * (expectResponse, expectStatus, bodyOf), which checks again and types it.
 */
export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
  /** The request, and the operation of the contract it reached. */
  method: string;
  path: string;
  operationId: string;
}

function contentTypeOf(res: ApiResponse): string | null {
  return res.text === '' ? null : res.headers.get('content-type');
}

/**
 * Fails the test unless the request reached `operationId`, the answer is
 * `status`, and its content type and body are what the contract declares for
 * that response; afterwards `res.body` has the generated type of that body.
 */
export function expectResponse<Op extends OperationId, S extends StatusOf<Op>>(
  res: ApiResponse,
  operationId: Op,
  status: S,
  message?: string,
): asserts res is OperationResponse<Op, S> {
  const where = message ?? `${res.method} ${res.path}`;
  expect(res.operationId, `${where}: operation`).toBe(operationId);
  expect(res.status, where).toBe(status);
  expectDeclared(operationById(operationId), res.method, res.status, contentTypeOf(res), res.body);
}

/**
 * Fails the test unless the answer is `status` and its content type and body
 * are what the contract declares for that status of the operation the request
 * reached; afterwards `res.body` has the type of any operation's `status` body
 * (for checks that span operations, such as an error body's code).
 */
export function expectStatus<S extends DeclaredStatus>(res: ApiResponse, status: S, message?: string): asserts res is StatusResponse<S> {
  const where = message ?? `${res.method} ${res.path}`;
  expect(res.status, where).toBe(status);
  expectDeclared(operationById(res.operationId), res.method, res.status, contentTypeOf(res), res.body);
}

/** expectResponse, returning the typed body: for a read whose answer is used once. */
export function bodyOf<Op extends OperationId, S extends StatusOf<Op>>(
  res: ApiResponse,
  operationId: Op,
  status: S,
  message?: string,
): ResponseBody<Op, S> {
  expectResponse(res, operationId, status, message);
  return res.body;
}

/** fetch against a running app; every response is checked against the contract. */
export function apiClient(baseUrl: string) {
  return async function call(
    method: string,
    path: string,
    options: { json?: unknown; body?: string; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...options.headers };
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(baseUrl + path, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    const contentType = res.headers.get('content-type');
    const parsed: unknown = contentType?.startsWith('application/json') ? JSON.parse(text) : text === '' ? undefined : text;
    const operationId = expectContract(method, path, res.status, text === '' ? null : contentType, parsed);
    return { status: res.status, headers: res.headers, body: parsed, text, method, path, operationId };
  };
}
