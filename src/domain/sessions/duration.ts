import { contractLimits } from '../../../generated/limits.js';
import { DomainError } from '../errors.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
/** A session's lifetime, for both kinds of session: the contract's ExpireSeconds bounds, which `expire` durations must meet too. */
export const MIN_TTL_SECONDS = contractLimits.schemas.ExpireSeconds.minimum;
export const MAX_TTL_SECONDS = contractLimits.schemas.ExpireSeconds.maximum;

/** Parses "30s", "30m", "1d", "1h30m" or a bare number of seconds. */
export function parseDuration(text: string): number {
  if (/^[0-9]{1,9}$/.test(text)) return boundedTtl(Number(text), 'expire');
  const parts = [...text.matchAll(/([0-9]{1,9})([smhdw])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new DomainError('validation_failed', `expire must be a duration such as "30s", "30m", "1d" or "1h30m", got "${text}"`);
  }
  // The pattern admits only the units UNIT_SECONDS lists.
  const seconds = parts.reduce((sum, [, n, unit]) => sum + Number(n) * (UNIT_SECONDS[unit ?? ''] ?? 0), 0);
  return boundedTtl(seconds, 'expire');
}

export function boundedTtl(seconds: number, field: string): number {
  if (!Number.isInteger(seconds) || seconds < MIN_TTL_SECONDS || seconds > MAX_TTL_SECONDS) {
    throw new DomainError(
      'validation_failed',
      `${field} must be between ${MIN_TTL_SECONDS} second and ${MAX_TTL_SECONDS} seconds (one year)`,
    );
  }
  return seconds;
}
