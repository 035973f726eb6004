import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root, whether running from src/ (tsx, vitest) or dist/src/ (npm start). */
function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

export const projectRoot = findRoot();
/** True under tsx or vitest, which run src/ as TypeScript; false from dist/, bundled or not. */
const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
/** The render pool's worker: never bundled, so found from the project root rather than from the calling module. */
export const renderWorkerPath = fromSource
  ? path.join(projectRoot, 'src', 'domain', 'render', 'render-worker.ts')
  : path.join(projectRoot, 'dist', 'src', 'domain', 'render', 'render-worker.js');
export const contractPath = path.join(projectRoot, 'generated', 'openapi.json');
/** The same contract with every $ref resolved, written by codegen so no boot pays for it. */
export const resolvedContractPath = path.join(projectRoot, 'generated', 'openapi.resolved.json');
export const viewsDir = path.join(projectRoot, 'src', 'web', 'views');
export const publicDir = path.join(projectRoot, 'src', 'web', 'public');
/** Every route's validators and serializers, compiled at build time (scripts/compile-schemas.ts writes it). */
export const compiledSchemasPath = path.join(projectRoot, 'dist', 'compiled-schemas.cjs');
/** The bundled browser client (scripts/build-web.ts writes it). */
export const webBundleDir = path.join(projectRoot, 'dist', 'web');
