/**
 * multipart/x-mixed-replace framing (SPEC section 4). Every part ends with the
 * next part's boundary line, because browsers display a part only once the
 * following boundary has arrived.
 */
export const BOUNDARY = 'frame';
export const STREAM_CONTENT_TYPE = `multipart/x-mixed-replace; boundary=${BOUNDARY}`;
export const STREAM_PREAMBLE = Buffer.from(`--${BOUNDARY}\r\n`);

function partHead(body: Buffer): string {
  return `Content-Type: image/svg+xml\r\nContent-Length: ${body.length}\r\n\r\n`;
}

/** One rendered frame, encoded at most once per process however many viewers it has. */
export class Frame {
  private single?: Buffer;
  private double?: Buffer;
  private closing?: Buffer;

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

  /** The frame once more, closed with the final boundary, so the stream ends on a complete image. */
  closingPart(): Buffer {
    if (!this.closing) {
      const body = Buffer.from(this.svg);
      this.closing = Buffer.concat([Buffer.from(partHead(body)), body, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
    }
    return this.closing;
  }
}
