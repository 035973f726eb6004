/**
 * multipart/x-mixed-replace framing (SPEC section 4). Every part ends with the
 * next part's boundary line, because browsers display a part only once the
 * following boundary has arrived.
 */
export const BOUNDARY = 'frame';
export const STREAM_CONTENT_TYPE = `multipart/x-mixed-replace; boundary=${BOUNDARY}`;
const OPENING_BOUNDARY = Buffer.from(`--${BOUNDARY}\r\n`);

/**
 * Chromium holds back the first 1,024 bytes of a cross-origin no-cors response
 * (an <img> on another site) before it shows anything (SPEC section 4), so a
 * stream's first write is padded to at least this with a preamble.
 */
export const FIRST_WRITE_MIN_BYTES = 1024;

/*
 * The preamble (bytes before the first boundary, RFC 2046) is skipped by every
 * multipart parser, but Chromium reads it as the first part's header block: it
 * must hold no blank line (that would end the block before our Content-Type) and
 * not start with a line break, and no "--frame" anywhere (browsers start a part
 * there). Lines end in CRLF, so the first boundary starts a line.
 */
const PREAMBLE_TEXT = 'realtime-svg live image: multipart/x-mixed-replace, one SVG document per part.\r\n';

function preambleFor(restBytes: number): Buffer {
  const missing = FIRST_WRITE_MIN_BYTES - restBytes;
  if (missing <= 0) return Buffer.alloc(0);
  const padding = missing - PREAMBLE_TEXT.length;
  return Buffer.from(padding > 0 ? `${PREAMBLE_TEXT}${'.'.repeat(Math.max(1, padding - 2))}\r\n` : PREAMBLE_TEXT);
}

function partHead(body: Buffer): string {
  return `Content-Type: image/svg+xml\r\nContent-Length: ${body.length}\r\n\r\n`;
}

/** One rendered frame, encoded at most once per process however many viewers it has. */
export class Frame {
  private single?: Buffer;
  private double?: Buffer;
  private closing?: Buffer;
  private readonly openings: { single?: Buffer; double?: Buffer } = {};

  constructor(
    readonly svg: string,
    /** The session's updatedAt: viewers never go back to an older frame. */
    readonly version: number,
  ) {}

  /** The part followed by the next boundary line. */
  part(): Buffer {
    if (!this.single) {
      const body = Buffer.from(this.svg);
      this.single = Buffer.concat([Buffer.from(partHead(body)), body, Buffer.from(`\r\n--${BOUNDARY}\r\n`)]);
    }
    return this.single;
  }

  /** The part twice in one buffer: the second copy makes browsers show the first at once. */
  doublePart(): Buffer {
    this.double ??= Buffer.concat([this.part(), this.part()]);
    return this.double;
  }

  /**
   * A stream's first write, in one buffer: the preamble, the opening boundary
   * and the part (twice when `double`), ending right after a boundary line.
   */
  opening(double: boolean): Buffer {
    const which = double ? 'double' : 'single';
    let opening = this.openings[which];
    if (!opening) {
      const parts = double ? this.doublePart() : this.part();
      opening = Buffer.concat([preambleFor(OPENING_BOUNDARY.length + parts.length), OPENING_BOUNDARY, parts]);
      this.openings[which] = opening;
    }
    return opening;
  }

  /** The frame once more, closed with the final boundary, so the stream ends on a complete image. */
  closingPart(): Buffer {
    if (!this.closing) {
      const body = Buffer.from(this.svg);
      this.closing = Buffer.concat([Buffer.from(partHead(body)), body, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
    }
    return this.closing;
  }
}
