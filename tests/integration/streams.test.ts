import net from 'node:net';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { parseParts, readFirstWrite, StreamReader } from '../helpers/multipart.js';
import { describeEachStore } from '../helpers/stores.js';
import { expectContract, expectResponse } from '../helpers/contract.js';

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg"><text>{{ status }}</text></svg>';
const svgOf = (status: string) => TEMPLATE.replace('{{ status }}', status);
let seq = 0;
const newId = () => `str-${Date.now().toString(36)}-${++seq}`;

describeEachStore('live streams', (variant) => {
  let running: RunningApp;
  const readers: StreamReader[] = [];
  const open = (path: string, headers?: Record<string, string>) => {
    const reader = new StreamReader(running.baseUrl + path, headers);
    readers.push(reader);
    return reader;
  };
  const create = async (status: string, extra: Record<string, unknown> = {}) => {
    const id = newId();
    const res = await running.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { status }, ...extra } });
    expect(res.status).toBe(201);
    return id;
  };
  const update = async (id: string, status: string) => {
    expect((await running.api('PUT', `/api/session/${id}`, { json: { args: { status } } })).status).toBe(200);
  };

  beforeAll(async () => {
    running = await startApp({ config: variant.config() });
  });
  afterAll(async () => {
    for (const reader of readers) reader.close();
    await running?.close();
  });

  it('When a stream opens, then the headers and the current frame arrive at once, byte-exact', async () => {
    const id = await create('first');
    const reader = open(`/stream/${id}?double_frame=false`);
    await reader.opened;
    expect(reader.status).toBe(200);
    expect(reader.headers['content-type']).toBe('multipart/x-mixed-replace; boundary=frame');
    expect(reader.headers['cache-control']).toBe('no-cache, no-store');
    expect(reader.headers['x-accel-buffering']).toBe('no');
    expect(reader.headers['content-security-policy']).toBe("default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox");
    expect(reader.headers['x-content-type-options']).toBe('nosniff');
    expectContract('GET', `/stream/${id}`, reader.status, reader.headers['content-type']!, undefined);
    const svg = svgOf('first');
    const part = `--frame\r\nContent-Type: image/svg+xml\r\nContent-Length: ${Buffer.byteLength(svg)}\r\n\r\n${svg}\r\n--frame\r\n`;
    await reader.until((r) => r.raw.toString().endsWith(part));
    const { preamble, preambleOk } = reader.parsed;
    expect(preambleOk).toBe(true);
    expect(reader.raw.toString()).toBe(preamble + part);
  });

  it('When a stream opens, then its first write is one write of at least 1,024 bytes: a preamble browsers skip, the opening boundary and whole parts, ending on a boundary line', async () => {
    const id = await create('small');
    for (const query of ['', '?double_frame=false']) {
      const { head, firstWrite } = await readFirstWrite(`${running.baseUrl}/stream/${id}${query}`, { accept: 'image/*' });
      expect(head, query).toMatch(/^HTTP\/1\.1 200 /);
      expect(firstWrite.length, query).toBeGreaterThanOrEqual(1024);
      expect(firstWrite.toString().endsWith('\r\n--frame\r\n'), query).toBe(true);
      const { parts, preamble, preambleOk } = parseParts(firstWrite);
      expect(preambleOk, JSON.stringify(preamble)).toBe(true);
      expect(preamble.length, query).toBeGreaterThan(0);
      expect(
        parts.map((p) => p.body),
        query,
      ).toEqual(query === '' ? [svgOf('small'), svgOf('small')] : [svgOf('small')]);
    }
    // A frame that fills the first write by itself needs no padding.
    const big = await create('x'.repeat(1200));
    const { firstWrite } = await readFirstWrite(`${running.baseUrl}/stream/${big}?double_frame=false`);
    expect(firstWrite.toString().startsWith('--frame\r\n')).toBe(true);
    expect(parseParts(firstWrite).parts.map((p) => p.body)).toEqual([svgOf('x'.repeat(1200))]);
  });

  it('When the session is updated, then an open stream receives the new part', async () => {
    const id = await create('before');
    const reader = open(`/stream/${id}?double_frame=false`);
    await reader.until((r) => r.parsed.parts.length === 1);
    await update(id, 'after');
    await reader.until((r) => r.parsed.parts.length === 2);
    const { parts, preambleOk } = reader.parsed;
    expect(preambleOk).toBe(true);
    expect(parts.map((p) => p.body)).toEqual([svgOf('before'), svgOf('after')]);
    for (const part of parts) {
      expect(part.headers['content-type']).toBe('image/svg+xml');
      expect(Number(part.headers['content-length'])).toBe(Buffer.byteLength(part.body));
    }
  });

  it('When updates follow, then each goes out as one chunk of the chunked body, framed byte for byte as HTTP/1.1 requires', async () => {
    const id = await create('c0');
    const { hostname, port } = new URL(running.baseUrl);
    const socket = net.connect(Number(port), hostname);
    socket.write(`GET /stream/${id}?double_frame=false HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: image/*\r\n\r\n`);
    let raw = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => (raw = Buffer.concat([raw, chunk])));
    const body = () => raw.subarray(raw.indexOf('\r\n\r\n') + 4);
    // Each step waits for its frame to have arrived whole, its chunk's closing CRLF included.
    const arrived = (status: string) =>
      vi.waitFor(() => expect(body().includes(`>${status}<`) && raw.subarray(-2).toString() === '\r\n').toBe(true));
    await arrived('c0');
    await update(id, 'c1');
    await arrived('c1');
    await update(id, 'c2');
    await arrived('c2');
    socket.destroy();
    // Decode strictly: size in lowercase hex, CRLF, exactly that many bytes, CRLF; nothing between chunks.
    const chunks: string[] = [];
    let rest = body();
    while (rest.length > 0) {
      const sizeEnd = rest.indexOf('\r\n');
      const sizeText = rest.subarray(0, sizeEnd).toString('latin1');
      expect(sizeText).toMatch(/^[0-9a-f]+$/);
      const size = parseInt(sizeText, 16);
      const data = rest.subarray(sizeEnd + 2, sizeEnd + 2 + size);
      expect(data.length).toBe(size);
      expect(rest.subarray(sizeEnd + 2 + size, sizeEnd + 4 + size).toString('latin1')).toBe('\r\n');
      chunks.push(data.toString());
      rest = rest.subarray(sizeEnd + 4 + size);
    }
    const part = (status: string) => {
      const svg = svgOf(status);
      return `Content-Type: image/svg+xml\r\nContent-Length: ${Buffer.byteLength(svg)}\r\n\r\n${svg}\r\n--frame\r\n`;
    };
    expect(chunks).toHaveLength(3);
    expect(chunks[0]!.endsWith(`--frame\r\n${part('c0')}`)).toBe(true);
    expect(chunks.slice(1)).toEqual([part('c1'), part('c2')]);
  });

  it('When double_frame is left on, then every part is sent twice back to back', async () => {
    const id = await create('twice ü');
    const reader = open(`/stream/${id}`);
    await reader.until((r) => r.parsed.parts.length === 2);
    await update(id, 'again');
    await reader.until((r) => r.parsed.parts.length === 4);
    expect(reader.parsed.parts.map((p) => p.body)).toEqual([svgOf('twice ü'), svgOf('twice ü'), svgOf('again'), svgOf('again')]);
  });

  it('When two viewers watch one session, then both receive every update', async () => {
    const id = await create('v0');
    const a = open(`/stream/${id}?double_frame=false`);
    const b = open(`/stream/${id}?double_frame=false`);
    await a.until((r) => r.parsed.parts.length === 1);
    await b.until((r) => r.parsed.parts.length === 1);
    await update(id, 'v1');
    await update(id, 'v2');
    for (const reader of [a, b]) {
      await reader.until((r) => r.parsed.parts.at(-1)?.body === svgOf('v2'));
      const bodies = reader.parsed.parts.map((p) => p.body);
      expect(bodies[0]).toBe(svgOf('v0'));
      // Ordered, never going back to an older frame.
      expect(bodies.filter((b, i) => i === 0 || b !== bodies[i - 1])).toEqual([svgOf('v0'), svgOf('v1'), svgOf('v2')]);
    }
  });

  it('When keep_alive passes with no update, then the last frame is repeated', async () => {
    const id = await create('steady');
    const reader = open(`/stream/${id}?double_frame=false&keep_alive=1000`);
    await reader.until((r) => r.parsed.parts.length >= 2, 4000);
    expect(reader.parsed.parts.slice(0, 2).map((p) => p.body)).toEqual([svgOf('steady'), svgOf('steady')]);
  });

  it('When the stream is asked with HEAD, then the headers come back and the connection is not held', async () => {
    const id = await create('head');
    const res = await fetch(`${running.baseUrl}/stream/${id}`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('multipart/x-mixed-replace; boundary=frame');
    expect(await res.text()).toBe('');
  });

  it('When /stream or /frame answer, with GET or HEAD, found or not, then they allow any origin', async () => {
    const id = await create('anywhere');
    const stream = open(`/stream/${id}`);
    await stream.opened;
    expect(stream.headers['access-control-allow-origin']).toBe('*');
    const frame = await running.api('GET', `/frame/${id}`);
    expect(frame.status).toBe(200);
    const notModified = await running.api('GET', `/frame/${id}`, { headers: { 'if-none-match': frame.headers.get('etag') ?? '' } });
    expect(notModified.status).toBe(304);
    const answers = [
      frame,
      notModified,
      await running.api('GET', '/frame/no-such-session'),
      await running.api('GET', '/stream/no-such-session'),
      await running.api('GET', '/stream/bad:id'),
      await fetch(`${running.baseUrl}/stream/${id}`, { method: 'HEAD' }),
      await fetch(`${running.baseUrl}/frame/${id}`, { method: 'HEAD' }),
    ];
    expect(answers.map((res) => res.status)).toEqual([200, 304, 404, 404, 400, 200, 200]);
    for (const res of answers) expect(res.headers.get('access-control-allow-origin'), String(res.status)).toBe('*');
  });

  it('When keep_alive or double_frame are invalid, then the stream is refused with 400', async () => {
    const id = await create('x');
    for (const query of ['keep_alive=999', 'keep_alive=abc', 'double_frame=maybe']) {
      const res = await running.api('GET', `/stream/${id}?${query}`);
      expectResponse(res, 'streamPublicSession', 400, query);
      expect(res.body.code).toBe('validation_failed');
    }
  });

  it('When a browser navigates to the stream, then it is redirected to the viewer page unless as_bot', async () => {
    const id = await create('nav');
    // fetch() sets Sec-Fetch-Mode itself, so these go over a raw connection.
    for (const headers of [{ 'sec-fetch-mode': 'navigate' }, { accept: 'text/html,application/xhtml+xml' }] as Array<
      Record<string, string>
    >) {
      const nav = open(`/stream/${id}`, headers);
      await nav.opened;
      expect(nav.status, JSON.stringify(headers)).toBe(307);
      expect(nav.headers.location).toBe(`/session/${id}`);
      await nav.untilEnded();
      expectContract('GET', `/stream/${id}`, 307, null, undefined);
    }
    const img = open(`/stream/${id}?double_frame=false`, {
      accept: 'image/avif,image/webp,image/*,*/*;q=0.8',
      'sec-fetch-mode': 'no-cors',
    });
    await img.until((r) => r.parsed.parts.length === 1);
    const bot = open(`/stream/${id}?as_bot=true&double_frame=false`, { 'sec-fetch-mode': 'navigate', accept: 'text/html' });
    await bot.until((r) => r.parsed.parts.length === 1);
    expect(bot.status).toBe(200);
  });

  it('When the session expires, then open streams end cleanly with a closing boundary', async () => {
    const id = await create('mortal', { expire: '1s' });
    const reader = open(`/stream/${id}?double_frame=false`);
    await reader.until((r) => r.parsed.parts.length === 1);
    await reader.untilEnded(5000);
    const { parts, closed } = reader.parsed;
    expect(closed).toBe(true);
    expect(parts.at(-1)!.body).toBe(svgOf('mortal'));
    expect(reader.raw.toString().endsWith('\r\n--frame--\r\n')).toBe(true);
    expect((await running.api('GET', `/api/session/${id}`)).status).toBe(404);
  });

  it('When a viewer disconnects, then the hub forgets it', async () => {
    const openStreams = async () => Number((await running.api('GET', '/metrics')).text.match(/^realtime_svg_open_streams (\d+)/m)![1]);
    const id = await create('leave');
    const baseline = await openStreams();
    const reader = open(`/stream/${id}?double_frame=false`);
    await reader.until((r) => r.parsed.parts.length === 1);
    expect(await openStreams()).toBe(baseline + 1);
    reader.close();
    await expect.poll(openStreams, { timeout: 3000 }).toBe(baseline);
  });

  it('When the server shuts down, then open streams get a closing boundary', async () => {
    const other = await startApp({ config: variant.config() });
    const id = `shutdown-${newId()}`;
    expect(
      (await other.api('POST', '/api/session', { json: { session_id: id, template: TEMPLATE, args: { status: 'bye' } } })).status,
    ).toBe(201);
    const reader = new StreamReader(`${other.baseUrl}/stream/${id}?double_frame=false`);
    await reader.until((r) => r.parsed.parts.length === 1);
    const started = Date.now();
    await other.close();
    await reader.untilEnded(5000);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(reader.parsed.closed).toBe(true);
  });
});
