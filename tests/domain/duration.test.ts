import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/domain/sessions/duration.js';
import { isIdentifier, sessionKey } from '../../src/domain/ids.js';

/** What `run` throws; a call that returns fails the test. */
function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw, but the call returned');
}

describe('durations', () => {
  it.each([
    ['1s', 1],
    ['30s', 30],
    ['30m', 1800],
    ['2h', 7200],
    ['1d', 86400],
    ['1w', 604800],
    ['1h30m', 5400],
    ['45', 45],
    ['365d', 31_536_000],
  ])('When "%s" is parsed, then it is %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', '0s', '366d', '1y', 'm', '1.5h', '-1m', '1 m', '1m ', 'abc', '99999999999s'])(
    'When "%s" is parsed, then it is refused',
    (text) => {
      expect(thrownBy(() => parseDuration(text))).toHaveProperty('code', 'validation_failed');
    },
  );
});

describe('identifiers and keys', () => {
  it.each(['a', 'A1', '0.x', 'a-b_c.d', 'x'.repeat(64)])('When "%s" is checked, then it is an identifier', (id) => {
    expect(isIdentifier(id)).toBe(true);
  });

  it.each(['', 'a:b', 'a/b', 'a b', '.a', '-a', '_a', 'x'.repeat(65), 'a\nb', 'é', 'a*'])(
    'When "%s" is checked, then it is refused',
    (id) => {
      expect(isIdentifier(id)).toBe(false);
      expect(() => sessionKey({ kind: 'public', sessionId: id })).toThrow();
      expect(() => sessionKey({ kind: 'user', userId: id, sessionId: 'ok' })).toThrow();
    },
  );

  it('When keys are built, then they follow SPEC section 1', () => {
    expect(sessionKey({ kind: 'public', sessionId: 'dash' })).toBe('session:dash');
    expect(sessionKey({ kind: 'user', userId: 'alice', sessionId: 'dash' })).toBe('user:alice:session:dash');
  });
});
