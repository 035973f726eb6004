import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { _, Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import standalone from 'ajv/dist/standalone/index.js';
import type { FastifySchemaCompiler } from 'fastify';
import fastJson from 'fast-json-stringify';
import { compiledSchemasPath } from '../paths.js';

/**
 * Request validation, chosen deliberately:
 * - bodies are never coerced ("5" is not a number) so wrong-typed fields are a 400;
 *   path and query strings are coerced, since they only arrive as text;
 * - unknown body fields are removed (schemas say additionalProperties: false) so
 *   old clients may send them but they are never stored;
 * - defaults from the contract are applied; strict mode is on, with the
 *   OpenAPI-only annotation keywords declared. The schemas are not checked
 *   against the JSON Schema meta-schema here: codegen has validated the
 *   contract, and compiling the meta-schema is a tenth of a start-up.
 */
const BASE: Options = { removeAdditional: true, useDefaults: true, allErrors: false, strict: true, validateSchema: false };
const BODY: Options = { ...BASE, coerceTypes: false };
const TEXT: Options = { ...BASE, coerceTypes: 'array' };

type Serialize = (data: unknown) => string;
type FastifyValidationResult = ReturnType<FastifySchemaCompiler<object>>;

interface ValidatorRequest {
  schema: object;
  method?: string;
  url?: string;
  httpPart?: string;
  contentType?: string;
}

interface SerializerRequest {
  schema: object;
  method?: string;
  url?: string;
  httpStatus?: string;
  contentType?: string;
}

const require = createRequire(import.meta.url);
/** Compiled code is only valid for the compilers that wrote it. */
const FINGERPRINT = JSON.stringify([
  BODY,
  TEXT,
  (require('ajv/package.json') as { version: string }).version,
  (require('fast-json-stringify/package.json') as { version: string }).version,
]);

/** Names one compiled function: what it is for and a digest of its schema, so a stale build is never used for a changed schema. */
function keyOf(kind: string, where: string, schema: object): string {
  return createHash('sha256').update(FINGERPRINT).update(kind).update(where).update(JSON.stringify(schema)).digest('base64url');
}

function newAjv(options: Options, recording: boolean): Ajv {
  const ajv = new Ajv(
    recording ? { ...options, code: { source: true, formats: _`require("ajv-formats/dist/formats").fullFormats` } } : options,
  );
  ajv.addVocabulary(['example', 'xml', 'externalDocs', 'discriminator']);
  addFormats.default(ajv);
  // OpenAPI's own formats: documentation hints, nothing to check.
  ajv.addFormat('password', true).addFormat('binary', true);
  return ajv;
}

/** The functions `npm run build` compiled (scripts/compile-schemas.ts), by key; none before a build. */
export function loadCompiledSchemas(file = compiledSchemasPath): Record<string, unknown> {
  return existsSync(file) ? (require(file) as Record<string, unknown>) : {};
}

/**
 * Fastify's validator and serializer compilers. Compiling every route's
 * schemas (Ajv for requests, fast-json-stringify for responses) was a fifth
 * of the start-up, so `npm run build` compiles them once into
 * dist/compiled-schemas.cjs, and a start takes the functions from there
 * (`precompiled`). A schema not found there (no build yet, or a schema that
 * changed since) is compiled as it always was; with `record`, each
 * function's source is also put there, for the build to write.
 */
export function schemaCompilers(options: { precompiled?: Record<string, unknown>; record?: Map<string, string> }) {
  const { record } = options;
  const compiled = options.precompiled ?? {};
  let ajvs: { body: Ajv; text: Ajv } | undefined;

  const validatorCompiler = ({ schema, method, url, httpPart, contentType }: ValidatorRequest): FastifyValidationResult => {
    const key = keyOf('validate', `${method ?? ''} ${url ?? ''} ${httpPart ?? ''} ${contentType ?? ''}`, schema);
    const ready = compiled[key];
    if (typeof ready === 'function') return ready as FastifyValidationResult;
    ajvs ??= { body: newAjv(BODY, record !== undefined), text: newAjv(TEXT, record !== undefined) };
    const ajv = httpPart === 'body' ? ajvs.body : ajvs.text;
    const validate = ajv.compile(schema) as FastifyValidationResult & Parameters<typeof standalone.default>[1];
    record?.set(key, standalone.default(ajv, validate));
    return validate;
  };

  const serializerCompiler = ({ schema, method, url, httpStatus, contentType }: SerializerRequest): Serialize => {
    const key = keyOf('serialize', `${method ?? ''} ${url ?? ''} ${httpStatus ?? ''} ${contentType ?? ''}`, schema);
    const ready = compiled[key];
    if (typeof ready === 'function') return onceWhenFrozen(ready as Serialize);
    if (record) record.set(key, fastJson(schema, { mode: 'standalone' }));
    return onceWhenFrozen(fastJson(schema));
  };

  return { validatorCompiler, serializerCompiler };
}

/**
 * A frozen answer is serialised once: the domain hands out a deep-frozen value
 * that stays the same object until it changes (the JWKS, an eighth of whose
 * instructions per request went to serialising the same 462 bytes again).
 */
function onceWhenFrozen(serialize: Serialize): Serialize {
  const done = new WeakMap<object, string>();
  return (data) => {
    if (typeof data !== 'object' || data === null || !Object.isFrozen(data)) return serialize(data);
    let json = done.get(data);
    if (json === undefined) {
      json = serialize(data);
      done.set(data, json);
    }
    return json;
  };
}

/** One CommonJS module holding every recorded function under its key. */
export function compiledSchemasModule(record: Map<string, string>): string {
  const entries = [...record].map(
    ([key, source]) =>
      `compiled[${JSON.stringify(key)}] = (function () {\n  const module = { exports: {} };\n${source}\n  return module.exports;\n})();`,
  );
  return [
    "'use strict';",
    '// Written by scripts/compile-schemas.ts at build time.',
    'const compiled = {};',
    ...entries,
    'module.exports = compiled;',
    '',
  ].join('\n');
}
