/**
 * Baselines measured in the same run as the service: a bare Fastify route and
 * a bare Node server that broadcasts multipart parts with res.write.
 * Usage: node bench/bare-servers.js fastify|broadcast PORT
 */
import http from 'node:http';
import Fastify from 'fastify';

const [kind, portText] = process.argv.slice(2);
const port = Number(portText);
// The service's default LISTEN_BACKLOG, so both sides of a row queue the same bursts of new connections.
const backlog = 4096;

if (kind === 'fastify') {
  const app = Fastify();
  app.get('/hello', async () => ({ hello: 'world' }));
  await app.listen({ port, host: '127.0.0.1', backlog });
} else {
  const viewers = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    if (req.url === '/rss') {
      res.end(JSON.stringify({ rss: process.memoryUsage().rss, viewers: viewers.size }));
    } else if (req.method === 'POST' && req.url === '/broadcast') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const part = Buffer.concat([
          Buffer.from(`Content-Type: image/svg+xml\r\nContent-Length: ${body.length}\r\n\r\n`),
          body,
          Buffer.from('\r\n--frame\r\n'),
        ]);
        for (const viewer of viewers) viewer.write(part);
        res.end('ok');
      });
    } else {
      res.writeHead(200, { 'content-type': 'multipart/x-mixed-replace; boundary=frame' });
      res.write('--frame\r\n');
      viewers.add(res);
      res.on('close', () => viewers.delete(res));
    }
  });
  server.listen(port, '127.0.0.1', backlog);
}
process.send?.('ready');
