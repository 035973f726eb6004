/** A strong entity tag: a quoted string of the characters RFC 9110 allows in one. */
const STRONG_TAG = /^"[\x21\x23-\x7e]*"$/;

/**
 * If-Match (RFC 9110 section 13.1.1) as the domain takes it: undefined when
 * absent or `*` (any current version; the write needs the session to exist,
 * which it does anyway), else the entity tags it lists. The comparison is
 * strong, so a weak tag (W/"...") is dropped and can never match; a header
 * with no usable tag at all matches nothing, and the write is refused.
 */
export function ifMatchTags(header: string | undefined): string[] | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  return header
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => STRONG_TAG.test(tag));
}
