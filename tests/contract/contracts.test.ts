import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { operationIds } from '../../generated/handlers.js';
import { contractPath, projectRoot } from '../../src/paths.js';

const openapiDir = path.join(projectRoot, 'openapi');
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
interface OperationDoc {
  operationId: string;
  description?: string;
  security?: unknown[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, { $ref?: string; content?: unknown }>;
}
const bundled = JSON.parse(readFileSync(contractPath, 'utf8')) as {
  paths: Record<string, Record<string, OperationDoc> & { parameters?: unknown[] }>;
};

const operationsOf = (item: (typeof bundled.paths)[string]): OperationDoc[] =>
  Object.entries(item)
    .filter(([m]) => METHODS.includes(m))
    .map(([, op]) => op as OperationDoc);

describe('contracts', () => {
  it.each(readdirSync(openapiDir).filter((f) => f.endsWith('.yaml')))(
    'When %s is validated on its own, then it is a valid OpenAPI document',
    async (file) => {
      await expect(SwaggerParser.validate(path.join(openapiDir, file))).resolves.toBeTruthy();
    },
  );

  it('When the bundled contract is validated, then it is valid and its operationIds are the handler table', async () => {
    await expect(SwaggerParser.validate(structuredClone(bundled) as never)).resolves.toBeTruthy();
    const ids = Object.values(bundled.paths)
      .flatMap((item) => operationsOf(item).map((op) => op.operationId))
      .sort();
    expect(ids).toEqual([...operationIds].sort());
  });

  it('When an operation declares a 4xx or 5xx, then its body is the shared Error schema', () => {
    for (const item of Object.values(bundled.paths)) {
      for (const op of operationsOf(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue;
          expect(response.$ref, `${op.operationId} ${status}`).toMatch(/^#\/components\/responses\//);
        }
      }
    }
  });

  it('When a tool reads openapi/openapi.yaml as a root document, then its paths reference every path of every area file', async () => {
    // What redocly bundle, Swagger UI and SDK generators see: the root alone, references resolved.
    const root = (await SwaggerParser.bundle(path.join(openapiDir, 'openapi.yaml'))) as unknown as { paths: Record<string, unknown> };
    expect(Object.keys(root.paths).sort()).toEqual(Object.keys(bundled.paths).sort());
  });

  it('When an operation is public, then it says security: [] rather than leaving it unstated', () => {
    for (const item of Object.values(bundled.paths)) {
      for (const op of operationsOf(item)) expect(op.security, op.operationId).toBeDefined();
    }
  });

  it('When an operation takes input (parameters or a body), then it declares a 400, and every operation declares a 500', () => {
    for (const item of Object.values(bundled.paths)) {
      for (const op of operationsOf(item)) {
        const takesInput = (op.parameters?.length ?? 0) > 0 || (item.parameters?.length ?? 0) > 0 || op.requestBody !== undefined;
        if (takesInput) expect(Object.keys(op.responses), op.operationId).toContain('400');
        expect(Object.keys(op.responses), op.operationId).toContain('500');
      }
    }
  });
});
