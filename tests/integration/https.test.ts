import { writeFileSync } from 'node:fs';
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startApp, type RunningApp } from '../helpers/app.js';
import { expectComponentSchema } from '../helpers/contract.js';
import { parseJson } from '../helpers/json.js';
import { parseParts } from '../helpers/multipart.js';
import { selfSignedCertificate, type SelfSigned } from '../helpers/tls.js';

const TEMPLATE = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30"><text y="20">{{ status }}</text></svg>';

/** Bytes of one HTTP/2 response as they arrive, with a way to wait for a condition on them. */
class H2Response {
  headers: IncomingHttpHeaders = {};
  raw = Buffer.alloc(0);
  ended = false;
  readonly responded: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(readonly stream: ClientHttp2Stream) {
    this.responded = new Promise((resolve, reject) => {
      stream.on('response', (headers) => {
        this.headers = headers;
        resolve();
      });
      stream.on('error', reject);
    });
    stream.on('data', (chunk: Buffer) => {
      this.raw = Buffer.concat([this.raw, chunk]);
      this.notify();
    });
    stream.on('close', () => {
      this.ended = true;
      this.notify();
    });
  }

  private notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Resolves once the condition holds; rejects if the stream closes first. */
  async until(condition: () => boolean): Promise<void> {
    while (!condition()) {
      if (this.ended) throw new Error(`the stream closed first; received:\n${this.raw.toString('latin1')}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  get text(): string {
    return this.raw.toString('utf8');
  }
}

function h2Request(client: ClientHttp2Session, headers: Record<string, string>, body?: string): H2Response {
  const stream = client.request(headers, { endStream: body === undefined });
  const response = new H2Response(stream);
  if (body !== undefined) stream.end(body);
  return response;
}

function connected(client: ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
}

function httpsGet(url: string, ca: Buffer): Promise<{ res: IncomingMessage; raw: () => Buffer; done: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ca, agent: false }, (res) => {
      let raw = Buffer.alloc(0);
      res.on('data', (chunk: Buffer) => (raw = Buffer.concat([raw, chunk])));
      const done = new Promise<void>((end) => res.on('close', () => end()));
      resolve({ res, raw: () => raw, done });
    });
    request.on('error', reject);
  });
}

describe('HTTPS with HTTP/2 (SPEC section 4: many images on one page)', () => {
  let certificate: SelfSigned;
  let running: RunningApp;

  beforeAll(async () => {
    certificate = selfSignedCertificate();
    running = await startApp({ config: { TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: certificate.keyFile } });
    const created = await running.app.inject({
      method: 'POST',
      url: '/api/session',
      payload: { session_id: 'tls-board', template: TEMPLATE, args: { status: 'first' } },
    });
    expect(created.statusCode).toBe(201);
  });
  afterAll(async () => {
    await running?.close();
    certificate?.remove();
  });

  it('When TLS files are configured, then the service answers on https://', () => {
    expect(running.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('When an HTTP/2 client opens a stream, then it gets the first part at once and each update after, without a connection header', async () => {
    const client = http2.connect(running.baseUrl, { ca: certificate.cert });
    try {
      await connected(client);
      expect(client.alpnProtocol).toBe('h2');
      const stream = h2Request(client, { ':path': '/stream/tls-board?double_frame=false' });
      await stream.responded;
      expect(stream.headers[':status']).toBe(200);
      expect(stream.headers['content-type']).toBe('multipart/x-mixed-replace; boundary=frame');
      expect(stream.headers['cache-control']).toBe('no-cache, no-store');
      expect(stream.headers['x-accel-buffering']).toBe('no');
      // RFC 9113 section 8.2.2: connection-specific headers are malformed in HTTP/2.
      expect(stream.headers.connection).toBeUndefined();
      await stream.until(() => parseParts(stream.raw).parts.length >= 1);
      const first = parseParts(stream.raw);
      expect(first.preambleOk).toBe(true);
      expect(first.parts[0]?.body).toContain('>first<');

      // A write over the same HTTP/2 connection reaches the open stream on it.
      const put = h2Request(
        client,
        { ':method': 'PUT', ':path': '/api/session/tls-board', 'content-type': 'application/json' },
        JSON.stringify({ args: { status: 'second' } }),
      );
      await put.responded;
      expect(put.headers[':status']).toBe(200);
      await stream.until(() => parseParts(stream.raw).parts.some((part) => part.body.includes('>second<')));
      stream.stream.close();
    } finally {
      client.close();
    }
  });

  it('When an HTTP/1.1 client asks over TLS, then it is served HTTP/1.1 with the same stream head as plain HTTP', async () => {
    const { res, raw } = await httpsGet(`${running.baseUrl}/stream/tls-board?double_frame=false`, certificate.cert);
    try {
      expect(res.httpVersion).toBe('1.1');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('multipart/x-mixed-replace; boundary=frame');
      expect(res.headers.connection).toBe('keep-alive');
      expect(res.headers['transfer-encoding']).toBe('chunked');
      await expect.poll(() => parseParts(raw()).parts.length).toBeGreaterThanOrEqual(1);
      expect(parseParts(raw()).parts[0]?.body).toMatch(/<svg[^>]*>.*<\/svg>/);
    } finally {
      res.destroy();
    }
  });

  it('When an HTTP/1.1 client over TLS asks for JSON, then the API answers as over plain HTTP', async () => {
    const { res, raw, done } = await httpsGet(`${running.baseUrl}/api/session/tls-board`, certificate.cert);
    await done;
    expect(res.httpVersion).toBe('1.1');
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(raw().toString('utf8'))).toMatchObject({ session_id: 'tls-board' });
  });

  it('When the service shuts down while an HTTP/2 client holds a stream, then the stream ends with a closing boundary and close completes', async () => {
    const own = await startApp({ config: { TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: certificate.keyFile } });
    const created = await own.app.inject({
      method: 'POST',
      url: '/api/session',
      payload: { session_id: 'closing', template: TEMPLATE, args: { status: 'x' } },
    });
    expect(created.statusCode).toBe(201);
    const client = http2.connect(own.baseUrl, { ca: certificate.cert });
    // The session's GOAWAY and the stream's end are what the test waits for; a late reset is not an error here.
    client.on('error', () => undefined);
    try {
      await connected(client);
      const stream = h2Request(client, { ':path': '/stream/closing?double_frame=false' });
      await stream.until(() => parseParts(stream.raw).parts.length >= 1);
      await own.close();
      await stream.until(() => parseParts(stream.raw).closed);
      expect(parseParts(stream.raw).closed).toBe(true);
    } finally {
      client.destroy();
    }
  });
});

describe('HTTPS slow-client limits hold over both protocols (SPEC section 9)', () => {
  let certificate: SelfSigned;
  let running: RunningApp;

  beforeAll(async () => {
    certificate = selfSignedCertificate();
    running = await startApp({
      config: {
        TLS_CERT_FILE: certificate.certFile,
        TLS_KEY_FILE: certificate.keyFile,
        HEADERS_TIMEOUT_MS: 500,
        REQUEST_TIMEOUT_MS: 1000,
        KEEP_ALIVE_TIMEOUT_MS: 500,
      },
    });
  });
  afterAll(async () => {
    await running?.close();
    certificate?.remove();
  });

  it('When an HTTP/2 request body never finishes, then it gets 408 in the contract shape and the stream is closed', async () => {
    const client = http2.connect(running.baseUrl, { ca: certificate.cert });
    try {
      await connected(client);
      const stream = client.request(
        { ':method': 'POST', ':path': '/api/session', 'content-type': 'application/json' },
        { endStream: false },
      );
      stream.write('{"session_id": "slow", ');
      const response = new H2Response(stream);
      await response.responded;
      await response.until(() => response.ended);
      expect(response.headers[':status']).toBe(408);
      const body = parseJson(response.text);
      expectComponentSchema('Error', body);
      expect(body.code).toBe('validation_failed');
    } finally {
      client.close();
    }
  });

  it('When an HTTP/2 connection carries no request, then the service closes it after the keep-alive timeout', async () => {
    const client = http2.connect(running.baseUrl, { ca: certificate.cert });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.on('error', () => undefined);
    await connected(client);
    await closed;
    expect(client.closed || client.destroyed).toBe(true);
  });

  it('When an HTTP/2 connection carries a quiet live image, then it stays open past the keep-alive timeout', async () => {
    const created = await running.app.inject({
      method: 'POST',
      url: '/api/session',
      payload: { session_id: 'quiet', template: TEMPLATE, args: { status: 'q' } },
    });
    expect(created.statusCode).toBe(201);
    const client = http2.connect(running.baseUrl, { ca: certificate.cert });
    try {
      await connected(client);
      // keep_alive is the minimum, 1 s: twice the idle timeout between parts, so a session timer that counted them would fire.
      const stream = h2Request(client, { ':path': '/stream/quiet?double_frame=false&keep_alive=1000' });
      await stream.until(() => parseParts(stream.raw).parts.length >= 3);
      expect(client.closed).toBe(false);
      expect(stream.ended).toBe(false);
    } finally {
      client.destroy();
    }
  });

  it('When an HTTP/1.1 client over TLS never finishes its headers, then it gets 408 and the connection closes', async () => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: running.port,
      ca: certificate.cert,
      servername: 'localhost',
      ALPNProtocols: ['http/1.1'],
    });
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
    socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(received).toContain('"code":"validation_failed"');
  });
});

describe('TLS configuration', () => {
  let certificate: SelfSigned;
  beforeAll(() => {
    certificate = selfSignedCertificate();
  });
  afterAll(() => certificate?.remove());
  const load = (env: Record<string, string>) => loadConfig(env, false);

  it('When neither file is set, then the service runs plain HTTP', () => {
    const config = load({});
    expect(config.TLS_CERT_FILE).toBeUndefined();
    expect(config.TLS_KEY_FILE).toBeUndefined();
    expect(load({ TLS_CERT_FILE: '', TLS_KEY_FILE: '' }).TLS_CERT_FILE).toBeUndefined();
  });

  it('When both files are readable and match, then both are kept', () => {
    const config = load({ TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: certificate.keyFile });
    expect(config.TLS_CERT_FILE).toBe(certificate.certFile);
    expect(config.TLS_KEY_FILE).toBe(certificate.keyFile);
  });

  it('When only one of them is set, then start-up is refused naming both', () => {
    expect(() => load({ TLS_CERT_FILE: certificate.certFile })).toThrow(/TLS_CERT_FILE and TLS_KEY_FILE must be set together/);
    expect(() => load({ TLS_KEY_FILE: certificate.keyFile })).toThrow(/TLS_CERT_FILE and TLS_KEY_FILE must be set together/);
  });

  it('When a file cannot be read, then start-up is refused naming the variable and the path', () => {
    const missing = path.join(path.dirname(certificate.certFile), 'missing.pem');
    expect(() => load({ TLS_CERT_FILE: missing, TLS_KEY_FILE: certificate.keyFile })).toThrow(
      /TLS_CERT_FILE: cannot read .*missing\.pem \(ENOENT\)/,
    );
    expect(() => load({ TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: missing })).toThrow(/TLS_KEY_FILE: cannot read/);
  });

  it('When the files are not a certificate and its key, then start-up is refused saying so', () => {
    const garbage = path.join(path.dirname(certificate.certFile), 'garbage.pem');
    writeFileSync(garbage, 'not a pem file\n');
    expect(() => load({ TLS_CERT_FILE: garbage, TLS_KEY_FILE: certificate.keyFile })).toThrow(
      /not a usable PEM certificate and matching private key/,
    );
    const other = selfSignedCertificate();
    try {
      expect(() => load({ TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: other.keyFile })).toThrow(/matching private key/);
    } finally {
      other.remove();
    }
  });
});
