import { contractLimits } from '../../generated/limits.js';
import { DomainError } from './errors.js';

/** The SPEC's identifier rule as the contract states it; validation enforces it too, this guards every key we build. */
const { minLength, maxLength, pattern } = contractLimits.schemas.Identifier;
const IDENTIFIER = new RegExp(pattern);

export function isIdentifier(value: string): boolean {
  return value.length >= minLength && value.length <= maxLength && IDENTIFIER.test(value);
}

export type SessionRef = { kind: 'public'; sessionId: string } | { kind: 'user'; userId: string; sessionId: string };

export function publicRef(sessionId: string): SessionRef {
  return { kind: 'public', sessionId };
}

export function userRef(userId: string, sessionId: string): SessionRef {
  return { kind: 'user', userId, sessionId };
}

function assertIdentifier(value: string, name: string): void {
  if (!isIdentifier(value)) {
    throw new DomainError(
      'validation_failed',
      `${name} must be ${minLength}-${maxLength} characters of [A-Za-z0-9._-] starting with a letter or digit`,
    );
  }
}

/** Store key of a session; also the name of its pub/sub channel. */
export function sessionKey(ref: SessionRef): string {
  assertIdentifier(ref.sessionId, 'session_id');
  if (ref.kind === 'public') return `session:${ref.sessionId}`;
  assertIdentifier(ref.userId, 'user_id');
  return `user:${ref.userId}:session:${ref.sessionId}`;
}

/** Path of a session below /stream, /frame and /session. */
export function sessionPath(ref: SessionRef): string {
  return ref.kind === 'public' ? ref.sessionId : `${ref.userId}/${ref.sessionId}`;
}
