/**
 * Compiles every route's request validators and response serializers once,
 * at build time, into dist/compiled-schemas.cjs, which a start loads instead
 * of compiling them (src/http/schema-compilers.ts). Run by `npm run build`.
 * It builds the app as a start would, on a throwaway embedded store, so the
 * schemas compiled are exactly the ones Fastify hands the compilers.
 */
import { rename, writeFile } from 'node:fs/promises';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { compiledSchemasModule } from '../src/http/schema-compilers.js';
import { compiledSchemasPath } from '../src/paths.js';
import { EmbeddedStore } from '../src/store/embedded-store.js';

const record = new Map<string, string>();
const store = new EmbeddedStore();
const app = await buildApp({ ...loadConfig({}, false), LOG_LEVEL: 'warn', RENDER_THREADS: 1 }, { store, recordSchemas: record });
await app.ready();
await app.close();
await store.close();
// Renamed into place: a build running while a service starts (the key-rotation tests build) must not hand it half a file.
const partial = `${compiledSchemasPath}.${process.pid}.tmp`;
await writeFile(partial, compiledSchemasModule(record));
await rename(partial, compiledSchemasPath);
console.log(`compiled ${record.size} schemas into ${compiledSchemasPath}`);
