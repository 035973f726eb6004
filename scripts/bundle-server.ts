/**
 * Bundles the server (dist/src/server.js and everything it imports) into
 * dist/server.mjs, which `npm start` runs: one file to read and compile
 * instead of some 800 modules to find, read and link, about a sixth of a
 * start-up. Left outside: native bindings (@node-rs/argon2), and packages
 * that find their own files next to them at run time (piscina's worker,
 * swagger-ui-dist's assets, pino's transports). The render worker is never
 * bundled (src/paths.ts finds it). Run by `npm run build` after tsc.
 */
import path from 'node:path';
import { build } from 'esbuild';
import { projectRoot } from '../src/paths.js';

await build({
  entryPoints: [path.join(projectRoot, 'dist/src/server.js')],
  outfile: path.join(projectRoot, 'dist/server.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['@node-rs/argon2', 'piscina', 'swagger-ui-dist', 'pino', 'thread-stream'],
  // Bundled CommonJS packages call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as bundleRequire } from 'node:module';\nconst require = bundleRequire(import.meta.url);" },
  logLevel: 'warning',
});
