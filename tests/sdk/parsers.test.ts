import { describe, expect, it } from 'vitest';
import { parseEventStream } from '../../sdk/src/events.js';
import { parseMultipart } from '../../sdk/src/multipart.js';

/** A body delivered in chunks of `size` bytes, the worst case for a parser. */
function chunked(text: string, size: number): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const part = (svg: string) => `Content-Type: image/svg+xml\r\nContent-Length: ${new TextEncoder().encode(svg).length}\r\n\r\n${svg}`;

describe('SDK multipart reader', () => {
  it('When parts arrive byte by byte after a preamble, then each body comes out whole, by its length', async () => {
    const a = '<svg xmlns="http://www.w3.org/2000/svg"><text>a\r\n--fr</text></svg>';
    const b = '<svg xmlns="http://www.w3.org/2000/svg"><text>é ✓</text></svg>';
    const stream = `${' '.repeat(1100)}\r\n--frame\r\n${part(a)}\r\n--frame\r\n${part(b)}\r\n--frame--\r\n`;
    for (const size of [1, 7, 4096]) {
      expect(await collect(parseMultipart(chunked(stream, size))), `chunks of ${size}`).toEqual([a, b]);
    }
  });

  it('When the stream is cut mid-part, then the complete parts come out and the partial one does not', async () => {
    const a = '<svg xmlns="http://www.w3.org/2000/svg"/>';
    const stream = `--frame\r\n${part(a)}\r\n--frame\r\n${part(a).slice(0, 30)}`;
    expect(await collect(parseMultipart(chunked(stream, 5)))).toEqual([a]);
  });
});

describe('SDK event-stream reader', () => {
  it('When events, comments and multi-line data arrive in pieces, then each event is dispatched at its blank line', async () => {
    const text =
      ': keep-alive\n\nevent: update\ndata: {"a":1}\n\nevent: update\r\ndata: line1\r\ndata: line2\r\n\r\nevent: end\ndata: {}\n\n';
    for (const size of [1, 3, 1000]) {
      expect(await collect(parseEventStream(chunked(text, size))), `chunks of ${size}`).toEqual([
        { event: 'update', data: '{"a":1}' },
        { event: 'update', data: 'line1\nline2' },
        { event: 'end', data: '{}' },
      ]);
    }
  });
});
