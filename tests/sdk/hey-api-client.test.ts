import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { expectComponentSchema } from '../helpers/contract.js';
import { compile, consumerProject, expectRecordedResponses, nodeModule, printed, run } from '../helpers/generated-client.js';

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
 * The story kit's recording fetch, given to the client, prints every response
 * it sees, and the story prints the first feed event; the test checks each
 * against the contract.
 */
const STORY = `
import {
  createPublicSession, createUserSession, deleteUserSession, getPublicSession, getPublicSessionEvents, getPublicSessionFrame,
  getUserSession, getUserSessionFrame, issueToken, listUserSessions, streamPublicSession,
  updatePublicSession, updateUserSession,
} from './client/index.js';
import { client } from './client/client.gen.js';
import type { SvgDocument, TokenResponse } from './client/index.js';
import { base, check, parts, recordingFetch, svg } from './kit.js';

const id = 'hey-' + String(process.pid);
// The recording fetch sees every response, the server-sent events client's too.
client.setConfig({ baseUrl: base, fetch: recordingFetch });

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

describe('a client generated by @hey-api/openapi-ts', () => {
  let running: RunningApp;
  let project: Awaited<ReturnType<typeof consumerProject>>;
  beforeAll(async () => {
    running = await startApp();
    project = await consumerProject('realtime-svg-hey-api-', { module: 'NodeNext', moduleResolution: 'NodeNext', outDir: 'dist' }, [
      'story.ts',
      'client/**/*.ts',
    ]);
  });
  afterAll(async () => {
    await running?.close();
    await project?.remove();
  });

  it('When generated from the published /openapi.json with its fetch client, then it compiles strictly and runs the whole story, every response as the contract says', async () => {
    const cwd = project.dir;
    const generator = nodeModule('@hey-api', 'openapi-ts', 'bin', 'run.js');
    const input = `${running.baseUrl}/openapi.json`;
    await run(process.execPath, [generator, '-i', input, '-o', 'client', '-c', '@hey-api/client-fetch', '--no-log-file', '--silent'], {
      cwd,
    });
    await writeFile(path.join(cwd, 'story.ts'), STORY);
    await compile(cwd);

    const { stdout } = await run(process.execPath, [path.join('dist', 'story.js'), running.baseUrl], { cwd });
    expect(stdout).toContain('STORY DONE');
    // One response per call of the story, each as the contract says.
    expect(expectRecordedResponses(stdout)).toEqual([
      201, 200, 200, 200, 304, 200, 200, 200, 409, 401, 200, 201, 204, 200, 200, 200, 204, 404,
    ]);
    expectComponentSchema('SessionUpdateEvent', (printed(stdout, 'EVENT') as { data: unknown }).data);
  }, 180_000);
});
