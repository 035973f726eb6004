/**
 * Copied as `kit.ts` into the throwaway consumer projects of the
 * generated-client tests (tests/sdk/hey-api-client.test.ts,
 * tests/sdk/orval-client.test.ts); never imported by this repository. It is
 * what any consumer writes around a generated client, plus the recording the
 * tests need: only web-standard APIs and `process`, nothing from this repo.
 */

/** The server under test, from the command line. */
export const base = process.argv[2] ?? '';

export const svg = (inner: string): string => '<svg xmlns="http://www.w3.org/2000/svg"><text>' + inner + '</text></svg>';

/** One step of the story: prints `ok …`, or `FAILED: …` and exits 1. */
export function check(ok: boolean, what: string): void {
  if (!ok) {
    console.error('FAILED: ' + what);
    process.exit(1);
  }
  console.log('ok ' + what);
}

/**
 * fetch that prints every response as a `CONTRACT {json}` line (method, path,
 * status, content type, body) for the test to check against the contract.
 * The bodies of the live image and the data feed never end: those are the
 * story's to read, and only their status and content type are recorded.
 */
export async function recordingFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const request = input instanceof Request ? input : new Request(input, init);
  const response = await fetch(request);
  const url = new URL(request.url);
  const contentType = response.headers.get('content-type');
  const endless = ['multipart/x-mixed-replace', 'text/event-stream'].some((type) => contentType?.startsWith(type));
  const text = endless ? null : await response.clone().text();
  const body = text === null || text === '' ? null : contentType?.startsWith('application/json') ? (JSON.parse(text) as unknown) : text;
  const record = {
    method: request.method,
    path: url.pathname + url.search,
    status: response.status,
    contentType: text === '' ? null : contentType,
    body,
  };
  console.log('CONTRACT ' + JSON.stringify(record));
  return response;
}

/**
 * Yields the body of each part of a multipart/x-mixed-replace stream
 * (boundary "frame"), each read by its Content-Length.
 */
export async function* parts(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = stream.getReader();
  let buffer = new Uint8Array(0);
  const latin1 = new TextDecoder('latin1');
  try {
    for (;;) {
      const text = latin1.decode(buffer);
      const start = text.indexOf('--frame\r\n');
      const headerEnd = start < 0 ? -1 : text.indexOf('\r\n\r\n', start);
      if (headerEnd >= 0) {
        const length = Number(/content-length:\s*(\d+)/i.exec(text.slice(start, headerEnd))?.[1]);
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
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
