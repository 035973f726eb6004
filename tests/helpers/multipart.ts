import http from 'node:http';

export interface Part {
  headers: Record<string, string>;
  body: string;
}

/**
 * Parses a multipart/x-mixed-replace byte stream with boundary "frame" strictly:
 * every part needs Content-Type and a Content-Length equal to its body's bytes.
 * Returns the complete parts (those followed by a delimiter) and whether the
 * close delimiter was seen.
 */
export function parseParts(raw: Buffer): { parts: Part[]; closed: boolean; preambleOk: boolean } {
  const text = raw.toString('latin1');
  const preambleOk = text.startsWith('--frame\r\n');
  const parts: Part[] = [];
  let offset = '--frame\r\n'.length;
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
  return { parts, closed, preambleOk };
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
