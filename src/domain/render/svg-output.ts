import { SaxesParser } from 'saxes';
import { BOUNDARY } from '../streaming/multipart.js';

const SVG_NAMESPACE = 'http://www.w3.org/2000/svg';
/** Browsers start a new part at this string anywhere in a multipart body, whatever precedes it. */
const BOUNDARY_MARKER = `--${BOUNDARY}`;

export type OutputCheck = { ok: true } | { ok: false; message: string };

/**
 * Thrown from a parser handler to stop at the first fault: saxes would
 * otherwise go on and report every one of a million bad characters. One for
 * all checks: building an Error (its stack) was two thirds of a check's time.
 */
const STOP = new Error('stop');

/**
 * What a rendered frame must be before it is stored or streamed: a
 * well-formed XML document whose root is <svg> in the SVG namespace (a
 * browser shows nothing else as an image), holding no stream boundary (it
 * would let a template forge parts the service never sent), and no DOCTYPE
 * (entity definitions would be expanded by every viewer's browser).
 */
export function checkSvgOutput(svg: string): OutputCheck {
  const boundaryAt = svg.indexOf(BOUNDARY_MARKER);
  if (boundaryAt >= 0) {
    const before = svg.slice(0, boundaryAt).split('\n');
    const where = `line ${before.length}, column ${(before.at(-1) ?? '').length + 1}`;
    return {
      ok: false,
      message: `rendered output contains "${BOUNDARY_MARKER}" (${where}), the stream's part boundary: it could forge stream parts`,
    };
  }
  const parser = new SaxesParser({ xmlns: true, position: true });
  // Set from the parser's callbacks; an object so the checks below see the updates.
  const state: { failure?: string; rootSeen: boolean } = { rootSeen: false };
  const fail = (message: string): never => {
    state.failure = `rendered output is not a valid SVG document (line ${parser.line}, column ${parser.column}): ${message}`;
    throw STOP;
  };
  // saxes prefixes "line:column: "; the position is reported by fail().
  parser.on('error', (err) => fail(err.message.replace(/^\d+:\d+: /, '')));
  parser.on('doctype', () => fail('a DOCTYPE is not allowed'));
  parser.on('opentag', (tag) => {
    if (state.rootSeen) return;
    state.rootSeen = true;
    if (tag.local !== 'svg' || tag.uri !== SVG_NAMESPACE) {
      fail(
        `the root element must be <svg xmlns="${SVG_NAMESPACE}">, not <${tag.name}>${tag.uri ? ` in namespace ${tag.uri}` : ' without the SVG namespace'}`,
      );
    }
  });
  try {
    parser.write(svg).close();
  } catch (err) {
    if (err !== STOP) throw err;
  }
  if (state.failure !== undefined) return { ok: false, message: state.failure };
  if (!state.rootSeen) return { ok: false, message: 'rendered output is not a valid SVG document: there is no root element' };
  return { ok: true };
}
