import http from 'node:http';
import net from 'node:net';

export interface Part {
  headers: Record<string, string>;
  body: string;
}

/**
 * Whether bytes before the first boundary are a preamble every browser skips:
 * none at all, or lines ending in CRLF (so the boundary starts a line), with
 * no blank line and no leading line break (Chromium reads the preamble as the
 * first part's header block, which a blank line would end early). A "--frame"
 * inside cannot happen: the first one found is the boundary.
 */
function isSafePreamble(preamble: string): boolean {
  if (preamble === '') return true;
  return preamble.endsWith('\r\n') && !/^\r?\n/.test(preamble) && !/\r?\n\r?\n/.test(preamble);
}

/**
 * Parses a multipart/x-mixed-replace byte stream with boundary "frame" strictly:
 * every part needs Content-Type and a Content-Length equal to its body's bytes.
 * Returns the complete parts (those followed by a delimiter), whether the
 * close delimiter was seen, and the preamble before the first boundary (and
 * whether browsers skip it safely; false too when no boundary has come yet).
 */
export function parseParts(raw: Buffer): { parts: Part[]; closed: boolean; preamble: string; preambleOk: boolean } {
  const text = raw.toString('latin1');
  const first = text.indexOf('--frame\r\n');
  const preamble = first < 0 ? text : text.slice(0, first);
  const preambleOk = first >= 0 && isSafePreamble(preamble);
  const parts: Part[] = [];
  if (first < 0) return { parts, closed: false, preamble, preambleOk };
  let offset = first + '--frame\r\n'.length;
  let closed = false;
  while (offset < text.length) {
    const headerEnd = text.indexOf('\r\n\r\n', offset);
    if (headerEnd < 0) break;
    const headers: Record<string, string> = {};
    for (const line of text.slice(offset, headerEnd).split('\r\n')) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length']);
    const bodyStart = headerEnd + 4;
    const after = text.slice(bodyStart + length, bodyStart + length + 12);
    if (after.startsWith('\r\n--frame--')) {
      parts.push({ headers, body: Buffer.from(text.slice(bodyStart, bodyStart + length), 'latin1').toString('utf8') });
      closed = true;
      break;
    }
    if (!after.startsWith('\r\n--frame\r\n')) break;
    parts.push({ headers, body: Buffer.from(text.slice(bodyStart, bodyStart + length), 'latin1').toString('utf8') });
    offset = bodyStart + length + '\r\n--frame\r\n'.length;
  }
  return { parts, closed, preamble, preambleOk };
}

/**
 * The status line, headers and first body chunk of a chunked response, read
 * from a raw socket: Node sends each write of a response without a length as
 * one chunk, so this is exactly the server's first write.
 */
export async function readFirstWrite(url: string, headers: Record<string, string> = {}): Promise<{ head: string; firstWrite: Buffer }> {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${extra}\r\n`);
  let raw = Buffer.alloc(0);
  try {
    for await (const chunk of socket) {
      raw = Buffer.concat([raw, chunk as Buffer]);
      const headEnd = raw.indexOf('\r\n\r\n');
      if (headEnd < 0) continue;
      const head = raw.subarray(0, headEnd).toString('latin1');
      if (!/^transfer-encoding: chunked$/im.test(head)) throw new Error(`not a chunked response:\n${head}`);
      const sizeEnd = raw.indexOf('\r\n', headEnd + 4);
      if (sizeEnd < 0) continue;
      const size = parseInt(raw.subarray(headEnd + 4, sizeEnd).toString('latin1'), 16);
      if (raw.length < sizeEnd + 2 + size) continue;
      return { head, firstWrite: raw.subarray(sizeEnd + 2, sizeEnd + 2 + size) };
    }
    throw new Error(`the connection closed before the first write:\n${raw.toString('latin1')}`);
  } finally {
    socket.destroy();
  }
}

/** A raw HTTP connection to a stream; collects bytes and lets a test wait for a condition on them. */
export class StreamReader {
  raw = Buffer.alloc(0);
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  ended = false;
  private waiters: Array<() => void> = [];
  private request: http.ClientRequest;
  readonly opened: Promise<void>;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.request = http.get(url, { headers, agent: false });
    this.opened = new Promise((resolve, reject) => {
      this.request.on('error', (err) => (this.ended ? resolve() : reject(err)));
      this.request.on('response', (res) => {
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        resolve();
        res.on('data', (chunk: Buffer) => {
          this.raw = Buffer.concat([this.raw, chunk]);
          this.notify();
        });
        res.on('end', () => {
          this.ended = true;
          this.notify();
        });
        res.on('close', () => {
          this.ended = true;
          this.notify();
        });
      });
    });
  }

  get parsed() {
    return parseParts(this.raw);
  }

  private notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Resolves once the condition holds; rejects if the stream ends first or after timeoutMs. */
  async until(condition: (reader: this) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition(this)) {
      if (this.ended) throw new Error(`stream ended before the condition held; got:\n${this.raw.toString()}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting on the stream; got:\n${this.raw.toString()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  untilEnded(timeoutMs = 5000): Promise<void> {
    return this.until((reader) => reader.ended, timeoutMs);
  }

  close(): void {
    this.ended = true;
    this.request.destroy();
  }
}
