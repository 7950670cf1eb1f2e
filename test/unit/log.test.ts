import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED, type LogLevel } from '../../src/log.js';

function capture(level: LogLevel) {
  const lines: string[] = [];
  const logger = createLogger(level, (line) => void lines.push(line));
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logger', () => {
  it("writes one JSON line per record in pino's shape", () => {
    const { logger, lines, records } = capture('info');
    const before = Date.now();
    logger.info({ tools: 22 }, 'serving stdio');
    logger.warn('plain message');
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    const [a, b] = records();
    expect(Object.keys(a)).toEqual(['level', 'time', 'name', 'tools', 'msg']);
    expect(a).toMatchObject({ level: 30, name: 'crm-mcp', tools: 22, msg: 'serving stdio' });
    expect(a.time).toBeGreaterThanOrEqual(before);
    expect(b).toMatchObject({ level: 40, msg: 'plain message' });
  });

  it('keeps levels below the threshold out, and silent keeps everything out', () => {
    const info = capture('info');
    info.logger.trace('t');
    info.logger.debug({ a: 1 }, 'd');
    info.logger.error('e');
    info.logger.fatal('f');
    expect(info.records().map((r) => r.level)).toEqual([50, 60]);

    const trace = capture('trace');
    trace.logger.trace('t');
    trace.logger.debug('d');
    expect(trace.records().map((r) => r.level)).toEqual([10, 20]);

    const silent = capture('silent');
    silent.logger.fatal('f');
    expect(silent.lines).toEqual([]);
  });

  it('adds a child logger’s fields to every line, after the parent’s', () => {
    const { logger, records } = capture('debug');
    logger.child({ connection: 'crm' }).child({ provider: 'pipedrive' }).debug({ ms: 3 }, 'upstream request');
    const [r] = records();
    expect(r).toMatchObject({ level: 20, name: 'crm-mcp', connection: 'crm', provider: 'pipedrive', ms: 3, msg: 'upstream request' });
    expect(Object.keys(r)).toEqual(['level', 'time', 'name', 'connection', 'provider', 'ms', 'msg']);
  });

  it('masks secret-named fields wherever they sit', () => {
    const { logger, lines } = capture('info');
    logger.info({
      headers: { authorization: 'Bearer sekret-1', 'X-Api-Token': 'sekret-2', accept: 'application/json' },
      request: { headers: { authorization: 'Basic sekret-3' } },
      token: 'sekret-4',
      apiToken: 'sekret-5',
      api_token: 'sekret-6',
      nested: [{ access_token: 'sekret-7', password: 'sekret-8' }],
    });
    const text = lines.join('');
    for (let i = 1; i <= 8; i++) expect(text).not.toContain(`sekret-${i}`);
    expect(JSON.parse(text)).toMatchObject({
      headers: { authorization: REDACTED, 'X-Api-Token': REDACTED, accept: 'application/json' },
      request: { headers: { authorization: REDACTED } },
      token: REDACTED,
      nested: [{ access_token: REDACTED, password: REDACTED }],
    });
  });

  it('spells out errors, and survives cycles and bigints', () => {
    const { logger, records } = capture('info');
    const err = Object.assign(new TypeError('boom'), { kind: 'upstream' });
    const cyclic: Record<string, unknown> = { n: 1n };
    cyclic.self = cyclic;
    logger.error({ err, cyclic }, 'unexpected tool failure');
    logger.error(new Error('bare error'));
    const [a, b] = records();
    expect(a.err).toMatchObject({ type: 'TypeError', message: 'boom', kind: 'upstream' });
    expect(String((a.err as { stack: string }).stack)).toContain('boom');
    expect(a.cyclic).toEqual({ n: '1', self: '[Circular]' });
    expect(b.err).toMatchObject({ type: 'Error', message: 'bare error' });
  });

  it('never throws when the write fails', () => {
    const logger = createLogger('info', () => {
      throw new Error('EPIPE');
    });
    expect(() => logger.error('still fine')).not.toThrow();
  });
});
