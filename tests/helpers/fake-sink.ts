import { EventEmitter } from 'node:events';
import type { FrameSink } from '../../src/domain/streaming/viewer.js';

/** A response stand-in for viewers and feeds: records writes, and its socket buffer can be made to look full. */
export class FakeSink extends EventEmitter implements FrameSink {
  chunks: Buffer[] = [];
  full = false;
  writableEnded = false;
  destroyed = false;
  write(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return !this.full;
  }
  end(chunk?: Buffer): void {
    if (chunk) this.chunks.push(chunk);
    this.writableEnded = true;
  }
  drain(): void {
    this.full = false;
    this.emit('drain');
  }
}
