import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSdk } from '../../scripts/build-sdk.js';
import { startApp, type RunningApp } from '../helpers/app.js';

const run = promisify(execFile);

/**
 * What an API consumer does with the published package, in a project of its
 * own that knows nothing of this repository: install the packed tarball, then
 * run the whole story against a live server.
 */
const STORY = `
import { createClient } from '@realtime-svg/client';
const base = process.argv[2];
const id = 'sdk-' + process.pid;
const svg = (inner) => '<svg xmlns="http://www.w3.org/2000/svg"><text>' + inner + '</text></svg>';
const client = createClient({ baseUrl: base });
const check = (ok, what) => { if (!ok) { console.error('FAILED: ' + what); process.exit(1); } console.log('ok ' + what); };

let r = await client.api.POST('/api/session', { body: { session_id: id, template: svg('{{ v }}'), args: { v: 'one' } } });
check(r.response.status === 201 && r.data.session_id === id, 'public create');
r = await client.api.PUT('/api/session/{session_id}', { params: { path: { session_id: id } }, body: { args: { v: 'two' } } });
check(r.response.status === 200, 'public update');
r = await client.api.GET('/api/session/{session_id}', { params: { path: { session_id: id } } });
check(r.data.args.v === 'two', 'public read');
const first = await client.frame({ sessionId: id });
check(first.status === 200 && first.svg === svg('two') && first.etag, 'frame');
const again = await client.frame({ sessionId: id }, { etag: first.etag });
check(again.status === 304, 'frame 304 with ETag');

const controller = new AbortController();
const frames = client.frames({ sessionId: id }, { signal: controller.signal });
check((await frames.next()).value === svg('two'), 'stream: current frame first');
await client.api.PUT('/api/session/{session_id}', { params: { path: { session_id: id } }, body: { args: { v: 'three' } } });
check((await frames.next()).value === svg('three'), 'stream: the update arrives');
controller.abort();

const bad = await client.api.POST('/api/session', { body: { session_id: id, template: svg('x') } });
check(bad.response.status === 409 && bad.error.code === 'conflict', 'errors are typed { error, code }');

const user = 'sdk-user-' + process.pid;
const tok = await client.api.POST('/api/auth/token', { body: { user_id: user, password: 'a long passphrase' } });
check(tok.response.status === 200 && tok.data.token_type === 'Bearer', 'token');
client.setToken(tok.data.token);
const p = { path: { user_id: user, session_id: 'dash' } };
r = await client.api.POST('/api/user/{user_id}/session', { params: { path: { user_id: user } }, body: { session_id: 'dash', template: svg('{{ n }}'), args: { n: 1 } } });
check(r.response.status === 201 && r.data.stream_url === '/stream/' + user + '/dash', 'user create');
r = await client.api.PUT('/api/user/{user_id}/session/{session_id}', { params: p, body: { args: { n: 2 } } });
check(r.response.status === 204, 'user update');
r = await client.api.GET('/api/user/{user_id}/session/{session_id}', { params: p });
check(r.data.args.n === 2 && r.data.ttl > 0, 'user read');
check((await client.frame({ userId: user, sessionId: 'dash' })).svg === svg('2'), 'user frame');
r = await client.api.GET('/api/user/{user_id}/sessions', { params: { path: { user_id: user }, query: { limit: 10 } } });
check(r.data.sessions.length === 1 && r.data.sessions[0].session_id === 'dash', 'list');
r = await client.api.DELETE('/api/user/{user_id}/session/{session_id}', { params: p });
check(r.response.status === 204, 'user delete');
console.log('STORY DONE');
`;

describe('the packed SDK', () => {
  let running: RunningApp;
  let project: string;
  beforeAll(async () => {
    running = await startApp();
    project = await mkdtemp(path.join(tmpdir(), 'realtime-svg-sdk-'));
  });
  afterAll(async () => {
    await running?.close();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('When a clean project installs the npm pack tarball, then it runs the whole story against a live server', async () => {
    const sdkDir = await buildSdk();
    await run('npm', ['pack', '--pack-destination', project], { cwd: sdkDir });
    const tarball = (await readdir(project)).find((name) => name.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `./${tarball}`], { cwd: project });
    await writeFile(path.join(project, 'story.mjs'), STORY);
    const { stdout } = await run(process.execPath, ['story.mjs', running.baseUrl], { cwd: project });
    expect(stdout).toContain('STORY DONE');
  }, 180_000);
});
