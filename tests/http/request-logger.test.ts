import Fastify, { LogController } from 'fastify';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { requestLogger } from '../../src/http/request-logger.js';

function capture(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

describe('request logger', () => {
  it('When a request logs nothing its level lets through, then no child logger is made', () => {
    const { logger, lines } = capture('info');
    const child = vi.spyOn(logger, 'child');
    const log = requestLogger.call(null, logger, { reqId: 'req-1' }, {});
    log.debug({ detail: 1 }, 'below the level');
    log.trace('below the level');
    expect(log.level).toBe('info');
    expect(child).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
  });

  it('When a request logs, then the line carries its bindings, and one child serves every later line', () => {
    const { logger, lines } = capture('info');
    const child = vi.spyOn(logger, 'child');
    const log = requestLogger.call(null, logger, { reqId: 'req-2' }, {});
    log.info({ user_id: 'alice' }, 'token issued');
    log.warn('slow');
    log.error(new Error('boom'), 'failed');
    expect(child).toHaveBeenCalledTimes(1);
    log.child({ stream: 's1' }).info('nested');
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([
      ['req-2', 'token issued'],
      ['req-2', 'slow'],
      ['req-2', 'failed'],
      ['req-2', 'nested'],
    ]);
    expect(lines[0]).toMatchObject({ user_id: 'alice', level: 30 });
    expect(lines[2]).toMatchObject({ err: { message: 'boom' }, level: 50 });
    expect(lines[3]).toMatchObject({ stream: 's1' });
  });

  it('When a route has its own log level, then the request gets a real child at that level', () => {
    const { logger, lines } = capture('info');
    const log = requestLogger.call(null, logger, { reqId: 'req-3' }, { level: 'debug' });
    log.debug('shown at the route level');
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([['req-3', 'shown at the route level']]);
  });

  it('When Fastify uses it, then a handler logs with its request id', async () => {
    const { logger, lines } = capture('info');
    const app = Fastify({
      loggerInstance: logger,
      childLoggerFactory: requestLogger,
      logController: new LogController({ disableRequestLogging: true }),
    });
    let id = '';
    app.get('/quiet', async () => 'quiet');
    app.get('/loud', async (request) => {
      id = request.id;
      request.log.info('handled');
      return 'loud';
    });
    expect((await app.inject('/quiet')).statusCode).toBe(200);
    expect(lines).toEqual([]);
    expect((await app.inject('/loud')).statusCode).toBe(200);
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([[id, 'handled']]);
    await app.close();
  });
});
