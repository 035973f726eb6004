import createFetchClient, { type Client, type Middleware } from 'openapi-fetch';
import { parseEventStream } from './events.js';
import { parseMultipart } from './multipart.js';
import type { components, paths } from './types.js';

export type { components, paths } from './types.js';
export { parseMultipart } from './multipart.js';
export { parseEventStream, type ServerSentEvent } from './events.js';

/** The contract's error body. Named so it does not shadow JavaScript's Error. */
export type ApiError = components['schemas']['Error'];

/** A public session (`session_id`) or a user's (`user_id` + `session_id`). */
export type SessionRef = { sessionId: string } | { userId: string; sessionId: string };

export interface ClientOptions {
  /** The service's origin, e.g. "https://svg.example.com". */
  baseUrl: string;
  /** A Bearer token from POST /api/auth/token, sent on every call until changed with setToken. */
  token?: string;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

export type FrameResult = { status: 200; svg: string; etag: string | null } | { status: 304; etag: string | null };

/** What the data feed (`/events/...`) sends: the session's state after each write, then its end. */
export type SessionEvent =
  { type: 'update'; data: { updated_at: string; expires_at: string; etag: string; args: Record<string, unknown> } } | { type: 'end' };

export interface RealtimeSvgClient {
  /** Every operation of the contract, typed (openapi-fetch). */
  api: Client<paths>;
  setToken(token: string | undefined): void;
  /** The current frame once; pass the last ETag to get a cheap 304 when nothing changed. */
  frame(ref: SessionRef, options?: { etag?: string; signal?: AbortSignal }): Promise<FrameResult>;
  /** Every frame of the live image, the current one first, as SVG text; ends when the session ends. */
  frames(ref: SessionRef, options?: { signal?: AbortSignal }): AsyncGenerator<string>;
  /** The data feed: an update at once and after every write, then `end`. */
  events(ref: SessionRef, options?: { signal?: AbortSignal }): AsyncGenerator<SessionEvent>;
}

function refPath(ref: SessionRef): string {
  const part = (id: string) => encodeURIComponent(id);
  return 'userId' in ref ? `${part(ref.userId)}/${part(ref.sessionId)}` : part(ref.sessionId);
}

async function failure(response: Response): Promise<Error> {
  let detail = `${response.status}`;
  try {
    const body = (await response.json()) as Partial<ApiError>;
    detail = `${response.status} ${body.code ?? ''}: ${body.error ?? ''}`;
  } catch {
    // Not the contract's JSON error: the status says enough.
  }
  return new Error(`realtime-svg: ${detail}`);
}

export function createClient(options: ClientOptions): RealtimeSvgClient {
  const baseUrl = options.baseUrl.replace(/\/$/, '');
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  let token = options.token;
  const api = createFetchClient<paths>({ baseUrl, fetch: doFetch });
  const auth: Middleware = {
    onRequest({ request }) {
      if (token !== undefined && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${token}`);
      return request;
    },
  };
  api.use(auth);

  async function open(path: string, accept: string, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const response = await doFetch(`${baseUrl}${path}`, { headers: { accept }, signal });
    if (!response.ok) throw await failure(response);
    if (!response.body) throw new Error('realtime-svg: the response has no body to stream');
    return response.body;
  }

  return {
    api,
    setToken(next) {
      token = next;
    },
    async frame(ref, frameOptions = {}) {
      const headers: Record<string, string> = { accept: 'image/svg+xml' };
      if (frameOptions.etag !== undefined) headers['if-none-match'] = frameOptions.etag;
      const response = await doFetch(`${baseUrl}/frame/${refPath(ref)}`, { headers, signal: frameOptions.signal });
      const etag = response.headers.get('etag');
      if (response.status === 304) return { status: 304, etag };
      if (!response.ok) throw await failure(response);
      return { status: 200, svg: await response.text(), etag };
    },
    async *frames(ref, streamOptions = {}) {
      // double_frame=false: a program reads every part as it arrives and needs no browser workaround.
      // as_bot=true: never be redirected to the viewer page, whatever Accept a runtime sends.
      const body = await open(`/stream/${refPath(ref)}?double_frame=false&as_bot=true`, 'multipart/x-mixed-replace', streamOptions.signal);
      yield* parseMultipart(body);
    },
    async *events(ref, streamOptions = {}) {
      const body = await open(`/events/${refPath(ref)}`, 'text/event-stream', streamOptions.signal);
      for await (const message of parseEventStream(body)) {
        if (message.event === 'end') {
          yield { type: 'end' };
          return;
        }
        if (message.event === 'update')
          yield { type: 'update', data: JSON.parse(message.data) as Extract<SessionEvent, { type: 'update' }>['data'] };
      }
    },
  };
}
