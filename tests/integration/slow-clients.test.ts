import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app.js';
import { expectComponentSchema } from '../helpers/contract.js';
import { StreamReader } from '../helpers/multipart.js';

/*
 * SPEC section 9 "Slow clients", with the timeouts shortened so a test takes
 * seconds. Nothing here asserts how fast a connection is cut, only that it is:
 * the defaults would hold it for a minute or more, past every wait below.
 */
const TIMEOUTS = { HEADERS_TIMEOUT_MS: 500, REQUEST_TIMEOUT_MS: 1000, KEEP_ALIVE_TIMEOUT_MS: 500 };
/** Far beyond the configured timeouts, far below Node's defaults (60 s headers, 30 s checks, 72 s keep-alive in fastify). */
const CLOSE_WITHIN_MS = 10_000;

/** A raw client connection that records what the server sent and when it hung up. */
class RawClient {
  readonly socket: net.Socket;
  received = '';
  readonly closed: Promise<void>;
  private trickle: NodeJS.Timeout | undefined;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => (this.received += chunk));
    // A reset after the server's 408 is a close too; the test only cares that the connection ends.
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve()));
    void this.closed.then(() => clearInterval(this.trickle));
  }

  /** Sends one chunk every intervalMs until the server closes the connection. */
  trickleForever(chunk: string, intervalMs = 100): void {
    this.trickle = setInterval(() => {
      if (!this.socket.destroyed) this.socket.write(chunk);
    }, intervalMs);
  }

  async closedWithin(ms: number): Promise<boolean> {
    const timer = sleep(ms).then(() => false);
    return Promise.race([this.closed.then(() => true), timer]);
  }

  destroy(): void {
    clearInterval(this.trickle);
    this.socket.destroy();
  }
}

/** Status line and JSON body of the one response a raw client received. */
function parseResponse(raw: string): { status: number; body: unknown } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
  const text = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status, body };
}

describe('slow clients', () => {
  let running: RunningApp;
  const clients: RawClient[] = [];
  const client = () => {
    const c = new RawClient(running.port);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    running = await startApp({ config: TIMEOUTS });
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await running?.close();
  });

  it('When request headers trickle in one line at a time, then the server answers 408 and closes the connection', async () => {
    const slow = client();
    slow.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    slow.trickleForever('X-Slow: 1\r\n');
    expect(await slow.closedWithin(CLOSE_WITHIN_MS), 'the trickling connection is still open').toBe(true);
    const { status, body } = parseResponse(slow.received);
    expect(status).toBe(408);
    expectComponentSchema('Error', body);
    expect(JSON.stringify(body)).not.toMatch(/FST_|ERR_HTTP/);
  }, 20_000);

  it('When a request body trickles in one byte at a time, then the server answers 408 and closes the connection', async () => {
    const slow = client();
    slow.socket.write(
      'POST /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"session_id":"',
    );
    slow.trickleForever('x');
    expect(await slow.closedWithin(CLOSE_WITHIN_MS), 'the trickling connection is still open').toBe(true);
    expect(parseResponse(slow.received).status).toBe(408);
  }, 20_000);

  it('When a keep-alive connection sits idle after a response, then the server closes it', async () => {
    const idle = client();
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    expect(await idle.closedWithin(CLOSE_WITHIN_MS), 'the idle keep-alive connection is still open').toBe(true);
    expect(parseResponse(idle.received).status).toBe(200);
  }, 20_000);

  it('When two hundred clients hold unfinished bodies at once, then every connection is closed and the service still answers', async () => {
    const many = Array.from({ length: 200 }, () => {
      const c = client();
      c.socket.write(
        'PUT /api/session/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 262144\r\n\r\n{"args":{"a":"',
      );
      c.socket.write('x'.repeat(16_384));
      return c;
    });
    const closed = await Promise.all(many.map((c) => c.closedWithin(CLOSE_WITHIN_MS)));
    expect(closed.filter((c) => !c).length, 'connections still open').toBe(0);
    expect((await running.api('GET', '/healthz')).status).toBe(200);
  }, 30_000);

  it('When a live stream stays open well past the header and request timeouts, then it is not cut and still gets updates', async () => {
    const id = `slow-${Date.now().toString(36)}`;
    const template = '<svg xmlns="http://www.w3.org/2000/svg"><text>{{ n }}</text></svg>';
    expect((await running.api('POST', '/api/session', { json: { session_id: id, template, args: { n: 'first' } } })).status).toBe(201);
    const stream = new StreamReader(`${running.baseUrl}/stream/${id}`);
    try {
      await stream.opened;
      expect(stream.status).toBe(200);
      await stream.until((r) => r.parsed.parts.some((p) => p.body.includes('first')));
      // Several request timeouts and timeout checks pass while the stream is quiet.
      await sleep(TIMEOUTS.REQUEST_TIMEOUT_MS * 3);
      expect(stream.ended, 'the stream was cut').toBe(false);
      expect((await running.api('PUT', `/api/session/${id}`, { json: { args: { n: 'second' } } })).status).toBe(200);
      await stream.until((r) => r.parsed.parts.some((p) => p.body.includes('second')));
    } finally {
      stream.close();
    }
  }, 20_000);
});
