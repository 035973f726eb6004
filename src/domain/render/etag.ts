import { createHash } from 'node:crypto';

/** Strong ETag of a frame's SVG bytes: 27 base64url characters of its SHA-256 (162 bits). */
export function etagOf(svg: string): string {
  return `"${createHash('sha256').update(svg).digest('base64url').slice(0, 27)}"`;
}
