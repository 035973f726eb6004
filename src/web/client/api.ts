import createClient from 'openapi-fetch';
import type { paths } from '../../../generated/types.js';

/** The generated typed client: every call is checked against the contract at compile time. */
export const api = createClient<paths>({ baseUrl: window.location.origin });

const TOKEN = 'realtime-svg.token';
const USER = 'realtime-svg.user';

export interface Login {
  userId: string;
  token: string;
}

export function currentLogin(): Login | null {
  const token = localStorage.getItem(TOKEN);
  const userId = localStorage.getItem(USER);
  return token && userId ? { token, userId } : null;
}

export function saveLogin(login: Login): void {
  localStorage.setItem(TOKEN, login.token);
  localStorage.setItem(USER, login.userId);
}

export function clearLogin(): void {
  localStorage.removeItem(TOKEN);
  localStorage.removeItem(USER);
}

export const authHeader = (login: Login) => ({ Authorization: `Bearer ${login.token}` });

/** What to tell a person for a failed call, by status; a 401 also forgets the stored token. */
export function explain(status: number | undefined, error: { error?: string } | undefined): string {
  switch (status) {
    case undefined:
      return 'Cannot reach the service. Check your connection and try again.';
    case 401:
      clearLogin();
      return 'Your login is no longer valid. Please log in again.';
    case 403:
      return 'Only the owner of this session can change it.';
    case 404:
      return 'This session no longer exists: it has expired or was deleted.';
    case 409:
      return 'A session with this id already exists. Choose another id.';
    case 412:
      return 'Someone else changed this session after you loaded it, so nothing was saved.';
    case 429:
      return 'Too many attempts or writes from here. Wait a little and try again.';
    default:
      return error?.error ?? `The service answered ${status}.`;
  }
}

/** Runs a call and turns a network failure into status undefined. */
export async function attempt<T extends { response: Response; error?: unknown }>(
  call: () => Promise<T>,
): Promise<T | { response: undefined; error: undefined; data: undefined }> {
  try {
    return await call();
  } catch {
    return { response: undefined, error: undefined, data: undefined };
  }
}

export function parseArgs(text: string): { ok: true; args: Record<string, unknown> } | { ok: false; message: string } {
  try {
    const value: unknown = JSON.parse(text.trim() === '' ? '{}' : text);
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return { ok: false, message: 'Args must be a JSON object, like {"status": "ok"}.' };
    return { ok: true, args: value as Record<string, unknown> };
  } catch (err) {
    return { ok: false, message: `Args are not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
}
