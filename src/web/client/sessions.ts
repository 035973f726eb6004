import { api, attempt, authHeader, type Login } from './api.js';

/** A session as its page names it: public (`/session/{id}`) or a user's (`/session/{user}/{id}`). */
export type SessionRef = { kind: 'public'; sessionId: string } | { kind: 'user'; userId: string; sessionId: string };

export function pathOf(ref: SessionRef): string {
  return ref.kind === 'user' ? `${encodeURIComponent(ref.userId)}/${encodeURIComponent(ref.sessionId)}` : encodeURIComponent(ref.sessionId);
}

export interface Snapshot {
  template: string;
  args: Record<string, unknown>;
  /** The version read; null only if a server left the header out. */
  etag: string | null;
  /** User sessions only: public ones do not say. */
  expiresAt: string | null;
}

export type Failure = { ok: false; status: number | undefined; error: { error?: string } | undefined };
export type Outcome<T> = ({ ok: true } & T) | Failure;

function failed(response: Response | undefined, error: unknown): Failure {
  const body = typeof error === 'object' && error !== null ? (error as { error?: string }) : undefined;
  return { ok: false, status: response?.status, error: body };
}

export async function readSession(ref: SessionRef): Promise<Outcome<{ session: Snapshot }>> {
  if (ref.kind === 'user') {
    const { data, error, response } = await attempt(() =>
      api.GET('/api/user/{user_id}/session/{session_id}', { params: { path: { user_id: ref.userId, session_id: ref.sessionId } } }),
    );
    if (!data) return failed(response, error);
    return {
      ok: true,
      session: { template: data.template, args: data.args, etag: response.headers.get('etag'), expiresAt: data.expires_at },
    };
  }
  const { data, error, response } = await attempt(() =>
    api.GET('/api/session/{session_id}', { params: { path: { session_id: ref.sessionId } } }),
  );
  if (!data) return failed(response, error);
  return { ok: true, session: { template: data.template, args: data.args, etag: response.headers.get('etag'), expiresAt: null } };
}

export interface Change {
  args: Record<string, unknown>;
  /** User sessions only: a public session's template is fixed by the original API. */
  template?: string;
  expireSeconds?: number;
}

/** Writes the session, only over version `ifMatch` when given (else 412); answers the new version. */
export async function writeSession(
  ref: SessionRef,
  change: Change,
  ifMatch: string | null,
  login: Login | null,
): Promise<Outcome<{ etag: string | null }>> {
  const header = ifMatch ? { 'If-Match': ifMatch } : {};
  if (ref.kind === 'user') {
    const { error, response } = await attempt(() =>
      api.PUT('/api/user/{user_id}/session/{session_id}', {
        params: { path: { user_id: ref.userId, session_id: ref.sessionId }, header },
        body: { args: change.args, template: change.template, expire_seconds: change.expireSeconds },
        headers: login ? authHeader(login) : {},
      }),
    );
    if (!response?.ok) return failed(response, error);
    return { ok: true, etag: response.headers.get('etag') };
  }
  const { error, response } = await attempt(() =>
    api.PUT('/api/session/{session_id}', { params: { path: { session_id: ref.sessionId }, header }, body: { args: change.args } }),
  );
  if (!response?.ok) return failed(response, error);
  return { ok: true, etag: response.headers.get('etag') };
}

export async function deleteSession(ref: SessionRef & { kind: 'user' }, login: Login | null): Promise<Outcome<object>> {
  const { error, response } = await attempt(() =>
    api.DELETE('/api/user/{user_id}/session/{session_id}', {
      params: { path: { user_id: ref.userId, session_id: ref.sessionId } },
      headers: login ? authHeader(login) : {},
    }),
  );
  if (!response?.ok) return failed(response, error);
  return { ok: true };
}
