/**
 * Reads a multipart/x-mixed-replace stream (boundary "frame") part by part.
 * Each part carries a Content-Length, so a body is read by its length, never
 * by searching for the boundary.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const OPENING = encoder.encode('--frame\r\n');
const HEADER_END = encoder.encode('\r\n\r\n');

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Yields each part's body as text; ends when the stream closes. */
export async function* parseMultipart(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  let buffer: Uint8Array = new Uint8Array(0);
  let started = false;
  try {
    for (;;) {
      if (!started) {
        // Everything before the first boundary is a preamble (padding for browsers): skip it.
        const at = indexOf(buffer, OPENING);
        if (at >= 0) {
          buffer = buffer.slice(at + OPENING.length);
          started = true;
          continue;
        }
      } else {
        const headerEnd = indexOf(buffer, HEADER_END);
        if (headerEnd >= 0) {
          const headers = decoder.decode(buffer.slice(0, headerEnd));
          const length = /content-length:\s*(\d+)/i.exec(headers)?.[1];
          if (length === undefined) throw new Error('realtime-svg: a stream part has no Content-Length');
          const bodyStart = headerEnd + HEADER_END.length;
          const bodyEnd = bodyStart + Number(length);
          // The body, then "\r\n--frame" and either "\r\n" (next part) or "--" (the end).
          const trailerEnd = bodyEnd + 2 + 7 + 2;
          if (buffer.length >= trailerEnd) {
            yield decoder.decode(buffer.slice(bodyStart, bodyEnd));
            const closing = decoder.decode(buffer.slice(trailerEnd - 2, trailerEnd)) === '--';
            if (closing) return;
            buffer = buffer.slice(trailerEnd);
            continue;
          }
        }
      }
      const { done, value } = await reader.read();
      if (done) return;
      buffer = concat(buffer, value);
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
