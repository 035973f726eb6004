import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { expectComponentSchema, expectContract } from '../helpers/contract.js';

const execFileAsync = promisify(execFile);
/** Runs a command; when it fails, the error carries what it printed (tsc prints its errors on stdout). */
async function run(command: string, args: string[], options: { cwd: string }): Promise<{ stdout: string }> {
  try {
    return await execFileAsync(command, args, options);
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout}\n${stderr}`, { cause: error });
  }
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = (...segments: string[]) => path.join(root, 'node_modules', ...segments);

/**
 * What a consumer who never saw this repository does: generate a client with
 * @hey-api/openapi-ts from the published /openapi.json (its fetch client, the
 * command README.md gives), compile their own code against it with the strict
 * TypeScript compiler, and run the whole story. The only help the generated
 * code needs is the `parseAs` README.md documents: 'text' for a frame (else an
 * image/svg+xml body arrives as a Blob) and 'stream' for the live image (else
 * the client waits for the end of a body that never ends). The data feed goes
 * through the generated server-sent events client as it is.
 *
 * A recording fetch given to the client prints every response it sees as a
 * CONTRACT line, and the first feed event as an EVENT line; the test checks
 * each against the contract (expectContract, expectComponentSchema).
 */
const STORY = `
import {
  createPublicSession, createUserSession, deleteUserSession, getPublicSession, getPublicSessionEvents, getPublicSessionFrame,
  getUserSession, getUserSessionFrame, issueToken, listUserSessions, streamPublicSession,
  updatePublicSession, updateUserSession,
} from './client/index.js';
import { client } from './client/client.gen.js';
import type { SvgDocument, TokenResponse } from './client/index.js';

const base = process.argv[2] ?? '';
const id = 'hey-' + String(process.pid);
const svg = (inner: string): string => '<svg xmlns="http://www.w3.org/2000/svg"><text>' + inner + '</text></svg>';
function check(ok: boolean, what: string): void {
  if (!ok) {
    console.error('FAILED: ' + what);
    process.exit(1);
  }
  console.log('ok ' + what);
}

client.setConfig({ baseUrl: base });
// Every response the client sees (its fetch client and its server-sent events
// client alike) is printed for the test to check against the contract.
client.setConfig({
  fetch: async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const response = await fetch(request);
    const url = new URL(request.url);
    const contentType = response.headers.get('content-type');
    // The live image and the data feed never end: their bodies are the story's to read.
    const endless = ['multipart/x-mixed-replace', 'text/event-stream'].some((type) => contentType?.startsWith(type));
    const text = endless ? null : await response.clone().text();
    const body = text === null || text === '' ? null : contentType?.startsWith('application/json') ? (JSON.parse(text) as unknown) : text;
    const record = { method: request.method, path: url.pathname + url.search, status: response.status, contentType: text === '' ? null : contentType, body };
    console.log('CONTRACT ' + JSON.stringify(record));
    return response;
  },
});

/** Yields the body of each part of a multipart/x-mixed-replace stream (boundary "frame"), read by its Content-Length. */
async function* parts(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = stream.getReader();
  let buffer = new Uint8Array(0);
  const latin1 = new TextDecoder('latin1');
  for (;;) {
    const text = latin1.decode(buffer);
    const start = text.indexOf('--frame\\r\\n');
    const headerEnd = start < 0 ? -1 : text.indexOf('\\r\\n\\r\\n', start);
    if (headerEnd >= 0) {
      const length = Number(/content-length:\\s*(\\d+)/i.exec(text.slice(start, headerEnd))?.[1]);
      const bodyStart = headerEnd + 4;
      if (buffer.length >= bodyStart + length) {
        yield new TextDecoder().decode(buffer.slice(bodyStart, bodyStart + length));
        buffer = buffer.slice(bodyStart + length);
        continue;
      }
    }
    const { done, value } = await reader.read();
    if (done) return;
    const next = new Uint8Array(buffer.length + value.length);
    next.set(buffer);
    next.set(value, buffer.length);
    buffer = next;
  }
}

const created = await createPublicSession({ body: { session_id: id, template: svg('{{ v }}'), args: { v: 'one' } } });
check(created.response.status === 201 && created.data?.session_id === id, 'public create');
const updated = await updatePublicSession({ path: { session_id: id }, body: { args: { v: 'two' } } });
check(updated.response.status === 200, 'public update');
const read = await getPublicSession({ path: { session_id: id } });
check(read.data?.args.v === 'two', 'public read');

const frame = await getPublicSessionFrame({ path: { session_id: id }, parseAs: 'text' });
const svgText: SvgDocument | undefined = frame.data;
const etag = frame.response.headers.get('etag');
check(frame.response.status === 200 && typeof svgText === 'string' && svgText === svg('two') && etag !== null, 'frame as text');
const again = await getPublicSessionFrame({ path: { session_id: id }, headers: { 'If-None-Match': etag ?? '' }, parseAs: 'text' });
check(again.response.status === 304, 'frame 304 with ETag');

const controller = new AbortController();
const stream = await streamPublicSession({ path: { session_id: id }, query: { double_frame: false }, parseAs: 'stream', signal: controller.signal });
check(stream.response.status === 200 && stream.data instanceof ReadableStream, 'stream opens');
// parseAs 'stream' hands over response.body; the generated type says Blob (format: binary).
const frames = parts(stream.data as unknown as ReadableStream<Uint8Array>);
check((await frames.next()).value === svg('two'), 'stream: current frame first');
await updatePublicSession({ path: { session_id: id }, body: { args: { v: 'three' } } });
check((await frames.next()).value === svg('three'), 'stream: the update arrives as the next part');
controller.abort();

// The data feed, through the generated server-sent events client.
const feedController = new AbortController();
const seen: { event: string | undefined; data: unknown }[] = [];
const feed = await getPublicSessionEvents({
  path: { session_id: id },
  signal: feedController.signal,
  sseMaxRetryAttempts: 1,
  onSseEvent: (event) => seen.push({ event: event.event, data: event.data }),
});
await feed.stream.next();
const first = seen[0];
console.log('EVENT ' + JSON.stringify(first));
check(first?.event === 'update' && (first.data as { args?: { v?: unknown } }).args?.v === 'three', 'events: the session as it is, at once');
feedController.abort();

const conflict = await createPublicSession({ body: { session_id: id, template: svg('x') } });
check(conflict.response.status === 409 && conflict.error?.code === 'conflict', 'errors are typed { error, code }');

const user = 'hey-user-' + String(process.pid);
const p = { user_id: user, session_id: 'dash' };
const anonymous = await createUserSession({ path: { user_id: user }, body: { session_id: 'dash', template: svg('x') } });
check(anonymous.response.status === 401 && anonymous.error?.code === 'token_missing', 'user write without a token is 401');
const issued = await issueToken({ body: { user_id: user, password: 'a long passphrase' } });
const token: TokenResponse | undefined = issued.data;
check(issued.response.status === 200 && token?.token_type === 'Bearer', 'token');
client.setConfig({ auth: token?.token });
const userCreated = await createUserSession({ path: { user_id: user }, body: { session_id: 'dash', template: svg('{{ n }}'), args: { n: 1 } } });
check(userCreated.response.status === 201 && userCreated.data?.stream_url === '/stream/' + user + '/dash', 'user create');
const userUpdated = await updateUserSession({ path: p, body: { args: { n: 2 } } });
check(userUpdated.response.status === 204, 'user update');
const userRead = await getUserSession({ path: p });
check(userRead.data?.args.n === 2 && (userRead.data?.ttl ?? 0) > 0, 'user read');
const userFrame = await getUserSessionFrame({ path: p, parseAs: 'text' });
check(userFrame.data === svg('2'), 'user frame as text');
const list = await listUserSessions({ path: { user_id: user }, query: { limit: 10 } });
check(list.data?.sessions.length === 1 && list.data.sessions[0]?.session_id === 'dash', 'list');
const deleted = await deleteUserSession({ path: p });
check(deleted.response.status === 204, 'user delete');
const gone = await getUserSession({ path: p });
check(gone.response.status === 404 && gone.error?.code === 'not_found', 'user session gone');
console.log('STORY DONE');
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2023', 'DOM', 'DOM.Iterable'],
    strict: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: true,
    outDir: 'dist',
    // The consumer's own Node types: this repository's, so the project needs no install.
    typeRoots: [bin('@types')],
    types: ['node'],
  },
  include: ['story.ts', 'client/**/*.ts'],
};

interface ContractRecord {
  method: string;
  path: string;
  status: number;
  contentType: string | null;
  body: unknown;
}

describe('a client generated by @hey-api/openapi-ts', () => {
  let running: RunningApp;
  let project: string;
  beforeAll(async () => {
    running = await startApp();
    project = await mkdtemp(path.join(tmpdir(), 'realtime-svg-hey-api-'));
  });
  afterAll(async () => {
    await running?.close();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('When generated from the published /openapi.json with its fetch client, then it compiles strictly and runs the whole story, every response as the contract says', async () => {
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await writeFile(path.join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    await run(
      process.execPath,
      [
        bin('@hey-api', 'openapi-ts', 'bin', 'run.js'),
        '--input',
        `${running.baseUrl}/openapi.json`,
        '--output',
        'client',
        '--client',
        '@hey-api/client-fetch',
        '--no-log-file',
        '--silent',
      ],
      { cwd: project },
    );
    await writeFile(path.join(project, 'story.ts'), STORY);
    await run(process.execPath, [bin('typescript', 'bin', 'tsc'), '-p', project], { cwd: project });

    const { stdout } = await run(process.execPath, [path.join('dist', 'story.js'), running.baseUrl], { cwd: project });
    expect(stdout).toContain('STORY DONE');

    const records = stdout
      .split('\n')
      .filter((line) => line.startsWith('CONTRACT '))
      .map((line) => JSON.parse(line.slice('CONTRACT '.length)) as ContractRecord);
    // One per call of the story: nothing it saw went unchecked.
    expect(records).toHaveLength(18);
    const event = stdout.split('\n').find((line) => line.startsWith('EVENT '));
    expectComponentSchema('SessionUpdateEvent', (JSON.parse(event!.slice('EVENT '.length)) as { data: unknown }).data);
    for (const record of records) expectContract(record.method, record.path, record.status, record.contentType, record.body ?? undefined);
    expect(records.map((r) => r.status)).toEqual([
      201, 200, 200, 200, 304, 200, 200, 200, 409, 401, 200, 201, 204, 200, 200, 200, 204, 404,
    ]);
  }, 180_000);
});
