/**
 * Builds sdk/ (the @realtime-svg/client package) with its own tsconfig. Its
 * types (sdk/src/types.ts) are written by npm run codegen, like generated/.
 */
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sdk = path.join(root, 'sdk');

export async function buildSdk(): Promise<string> {
  await rm(path.join(sdk, 'dist'), { recursive: true, force: true });
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(sdk, 'tsconfig.json')], {
    stdio: 'inherit',
  });
  return sdk;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await buildSdk();
  console.log('built sdk/dist');
}
