import { describe, expect, it } from 'vitest';
import { FakeSink } from '../helpers/fake-sink.js';
import { Frame } from '../../src/domain/streaming/multipart.js';
import { Viewer } from '../../src/domain/streaming/viewer.js';
import { parseParts } from '../helpers/multipart.js';

/** The shared fake sink, read back as this module's output. */
class ViewerSink extends FakeSink {
  get bodies(): string[] {
    return parseParts(Buffer.concat(this.chunks)).parts.map((p) => p.body);
  }
}

const frame = (svg: string, version: number) => new Frame(svg, version);

describe('viewer', () => {
  it('When the socket is backed up, then intermediate frames are skipped and only the newest is sent on drain', () => {
    const sink = new ViewerSink();
    const viewer = new Viewer(sink, { doubleFrame: false, keepAliveMs: 60_000 });
    sink.full = true;
    viewer.offer(frame('<a/>', 1));
    viewer.offer(frame('<b/>', 2));
    viewer.offer(frame('<c/>', 3));
    viewer.offer(frame('<d/>', 4));
    expect(sink.chunks).toHaveLength(1);
    sink.drain();
    expect(sink.bodies).toEqual(['<a/>', '<d/>']);
    viewer.detach();
  });

  it('When a frame older than the shown one arrives, then it is ignored', () => {
    const sink = new ViewerSink();
    const viewer = new Viewer(sink, { doubleFrame: false, keepAliveMs: 60_000 });
    viewer.offer(frame('<new/>', 5));
    viewer.offer(frame('<old/>', 4));
    expect(sink.bodies).toEqual(['<new/>']);
    viewer.detach();
  });

  it('When double frames are on, then each part is written twice in a single write', () => {
    const sink = new ViewerSink();
    const viewer = new Viewer(sink, { doubleFrame: true, keepAliveMs: 60_000 });
    viewer.offer(frame('<x/>', 1));
    viewer.offer(frame('<y/>', 2));
    expect(sink.chunks).toHaveLength(2);
    expect(sink.bodies).toEqual(['<x/>', '<x/>', '<y/>', '<y/>']);
    viewer.detach();
  });

  it('When the first frame is offered, then one write carries a safe preamble, the opening boundary and the part, at least 1,024 bytes', () => {
    const sink = new ViewerSink();
    const viewer = new Viewer(sink, { doubleFrame: false, keepAliveMs: 60_000 });
    expect(sink.chunks).toHaveLength(0);
    viewer.offer(frame('<x/>', 1));
    expect(sink.chunks).toHaveLength(1);
    const first = sink.chunks[0] ?? Buffer.alloc(0);
    expect(first.length).toBeGreaterThanOrEqual(1024);
    expect(first.toString().endsWith('\r\n--frame\r\n')).toBe(true);
    const parsed = parseParts(first);
    expect(parsed.preambleOk).toBe(true);
    expect(parsed.parts.map((p) => p.body)).toEqual(['<x/>']);
    viewer.offer(frame('<y/>', 2));
    expect(sink.chunks[1]?.toString()).toBe(frame('<y/>', 2).part().toString());
    viewer.detach();
  });

  it('When closed, then the stream ends on a complete frame and the close delimiter', () => {
    const sink = new ViewerSink();
    const viewer = new Viewer(sink, { doubleFrame: false, keepAliveMs: 60_000 });
    viewer.offer(frame('<last/>', 1));
    viewer.close();
    const parsed = parseParts(Buffer.concat(sink.chunks));
    expect(parsed.closed).toBe(true);
    expect(parsed.parts.map((p) => p.body)).toEqual(['<last/>', '<last/>']);
    expect(sink.writableEnded).toBe(true);
    const chunksAtClose = sink.chunks.length;
    viewer.offer(frame('<after/>', 2));
    expect(sink.chunks).toHaveLength(chunksAtClose);
  });

  it('When the sink is destroyed, then offered frames write nothing more', () => {
    const sink = new ViewerSink();
    const viewer = new Viewer(sink, { doubleFrame: false, keepAliveMs: 60_000 });
    viewer.offer(frame('<a/>', 1));
    expect(sink.chunks).toHaveLength(1);
    sink.destroyed = true;
    viewer.offer(frame('<b/>', 2));
    viewer.offer(frame('<c/>', 3));
    expect(sink.chunks).toHaveLength(1);
    expect(viewer.isOpen).toBe(false);
    viewer.detach();
  });

  it('When the viewer is detached, then offered frames write nothing more, though the sink is still writable', () => {
    const sink = new ViewerSink();
    const viewer = new Viewer(sink, { doubleFrame: true, keepAliveMs: 60_000 });
    viewer.offer(frame('<a/>', 1));
    viewer.detach();
    viewer.offer(frame('<b/>', 2));
    expect(sink.chunks).toHaveLength(1);
    expect(sink.writableEnded).toBe(false);
  });

  it('When the sink is destroyed while a frame waits for drain, then the drain writes nothing', () => {
    const sink = new ViewerSink();
    const viewer = new Viewer(sink, { doubleFrame: false, keepAliveMs: 60_000 });
    sink.full = true;
    viewer.offer(frame('<a/>', 1));
    viewer.offer(frame('<b/>', 2));
    sink.destroyed = true;
    sink.drain();
    expect(sink.chunks).toHaveLength(1);
    viewer.detach();
  });

  it('When a frame is multi-byte, then Content-Length counts bytes', () => {
    const part = frame('<t>€</t>', 1).part().toString();
    expect(part).toContain('Content-Length: 10\r\n');
  });
});
