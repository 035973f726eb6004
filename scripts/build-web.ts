/**
 * Bundles the browser client (src/web/client) with esbuild into dist/web/app.js,
 * served at /assets/app.js. Run by `npm run build` (so at install time, by npm's `prepare`) and by the test setup.
 */
import path from 'node:path';
import { build } from 'esbuild';
import { projectRoot } from '../src/paths.js';

export async function buildWebClient(): Promise<void> {
  await build({
    entryPoints: [path.join(projectRoot, 'src/web/client/app.ts')],
    outfile: path.join(projectRoot, 'dist/web/app.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await buildWebClient();
