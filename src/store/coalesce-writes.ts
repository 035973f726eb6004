import type { Writable } from 'node:stream';

const coalescing = new WeakSet<Writable>();

/**
 * Makes everything written to `socket` during one turn of the event loop
 * leave in one write: the socket is corked at the first write of a turn and
 * uncorked once that turn's I/O callbacks have run (setImmediate), so its
 * buffered chunks go out as one writev. For the Redis command connection:
 * each request sends its own command (a GET, an EVALSHA), and one system call
 * per command, on this side and on Redis's, was the largest single cost of a
 * write under load. Unlike ioredis's auto-pipelining, no command waits for
 * another's reply before it leaves.
 */
export function coalesceWrites(socket: Writable): void {
  if (coalescing.has(socket)) return;
  coalescing.add(socket);
  let corked = false;
  const flush = () => {
    corked = false;
    socket.uncork();
  };
  const write = socket.write.bind(socket);
  socket.write = ((...args: Parameters<Writable['write']>): boolean => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(flush);
    }
    return write(...args);
  }) as Writable['write'];
}
