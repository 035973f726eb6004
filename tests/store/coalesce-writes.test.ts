import { setImmediate as nextTurn } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { coalesceWrites } from '../../src/store/coalesce-writes.js';

/** A sink that records each write it is handed: one chunk (_write) or several at once (_writev). */
function recordingSink() {
  const writes: string[][] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push([chunk.toString()]);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map(({ chunk }) => (chunk as Buffer).toString()));
      done();
    },
  });
  return { sink, writes };
}

describe('coalesced socket writes', () => {
  it('When three chunks are written in one turn, then they reach the socket as one write, after that turn', async () => {
    const { sink, writes } = recordingSink();
    coalesceWrites(sink);
    sink.write('a');
    sink.write('b');
    sink.write('c');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual([['a', 'b', 'c']]);
  });

  it('When chunks are written in separate turns, then each turn is flushed on its own and nothing is held back', async () => {
    const { sink, writes } = recordingSink();
    coalesceWrites(sink);
    sink.write('first');
    await nextTurn();
    sink.write('second');
    sink.write('third');
    await nextTurn();
    expect(writes).toEqual([['first'], ['second', 'third']]);
  });

  it('When coalescing is installed twice on one socket, then it still flushes once per turn', async () => {
    const { sink, writes } = recordingSink();
    coalesceWrites(sink);
    coalesceWrites(sink);
    sink.write('x');
    sink.write('y');
    await nextTurn();
    expect(writes).toEqual([['x', 'y']]);
  });
});
