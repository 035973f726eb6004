/** Failure kinds the domain reports; the HTTP layer maps each to a status. */
export type ErrorCode =
  | 'validation_failed'
  | 'token_missing'
  | 'token_expired'
  | 'token_invalid'
  | 'invalid_credentials'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'template_invalid'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'method_not_allowed'
  | 'rate_limited'
  | 'quota_exceeded'
  | 'precondition_failed'
  | 'unavailable'
  | 'internal_error';

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { retryAfterSeconds?: number } = {},
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DomainError';
  }
}
