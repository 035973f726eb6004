/**
 * For the tests that generate a client with a third-party tool and run the
 * story with it in a throwaway project of a consumer's own (outside this
 * repository, with nothing installed): run the tool and the compiler, copy the
 * story kit in, and check every response the story saw against the contract.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { expectContract } from './contract.js';

const execFileAsync = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A path inside this repository's node_modules (the tools and the compiler). */
export const nodeModule = (...segments: string[]): string => path.join(root, 'node_modules', ...segments);

/** Runs a command; when it fails, the error carries what it printed (tsc prints its errors on stdout). */
export async function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ stdout: string }> {
  try {
    return await execFileAsync(command, args, options);
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout}\n${stderr}`, { cause: error });
  }
}

/**
 * A consumer project in a temporary directory: an ESM package.json, the
 * tsconfig given (strict, with this repository's Node types so nothing needs
 * installing), and kit.ts (tests/helpers/story-kit.ts).
 */
export async function consumerProject(
  prefix: string,
  compilerOptions: Record<string, unknown>,
  include: string[],
): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2023', 'DOM', 'DOM.Iterable'],
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
      typeRoots: [nodeModule('@types')],
      types: ['node'],
      ...compilerOptions,
    },
    include: ['kit.ts', ...include],
  };
  await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  await copyFile(path.join(root, 'tests', 'helpers', 'story-kit.ts'), path.join(dir, 'kit.ts'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Compiles the project with this repository's TypeScript (its tsconfig decides whether it emits). */
export async function compile(dir: string): Promise<void> {
  await run(process.execPath, [nodeModule('typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir });
}

interface ContractRecord {
  method: string;
  path: string;
  status: number;
  contentType: string | null;
  body: unknown;
}

/**
 * Checks each CONTRACT line the story printed (story-kit's recordingFetch)
 * against the contract, and returns the statuses in order.
 */
export function expectRecordedResponses(stdout: string): number[] {
  const records = stdout
    .split('\n')
    .filter((line) => line.startsWith('CONTRACT '))
    .map((line) => JSON.parse(line.slice('CONTRACT '.length)) as ContractRecord);
  expect(records.length, 'the story recorded its responses').toBeGreaterThan(0);
  for (const record of records) expectContract(record.method, record.path, record.status, record.contentType, record.body ?? undefined);
  return records.map((record) => record.status);
}

/** The value of the first `<label> {json}` line the story printed. */
export function printed(stdout: string, label: string): unknown {
  const line = stdout.split('\n').find((l) => l.startsWith(`${label} `));
  expect(line, `the story printed ${label}`).toBeDefined();
  return JSON.parse((line ?? '').slice(label.length + 1)) as unknown;
}
