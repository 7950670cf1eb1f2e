/**
 * The HTTP transport's last lines of defence, in process: the express error handler turns any
 * error into a JSON-RPC answer without echoing it, and a server whose factory fails answers a
 * JSON 500 and one log line. (The built binary under hostile requests: test/e2e/http-hostile.test.ts.)
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createLogger } from '../../src/log.js';
import { afterEach, describe, expect, it } from 'vitest';
import { errorHandler, startHttp, type HttpServerHandle } from '../../src/transports/http.js';

function memoryLogger() {
  const lines: string[] = [];
  return { logger: createLogger('info', (line) => void lines.push(...line.split('\n').filter(Boolean))), lines };
}

const STACK = /\n\s+at |file:\/\/|node:internal|\/src\/|\.ts:\d+|<html/i;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function listen(app: express.Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('errorHandler', () => {
  it('answers JSON-RPC errors, never the error itself', async () => {
    const { logger } = memoryLogger();
    const app = express();
    const secretish = 'SyntaxError at JSON.parse (file:///work/dist/http.js:18:5) body={"token":"x"}';
    app.get('/bad', () => {
      throw Object.assign(new Error(secretish), { status: 400, type: 'entity.parse.failed' });
    });
    app.get('/big', () => {
      throw Object.assign(new Error(secretish), { statusCode: 413 });
    });
    app.get('/boom', () => {
      throw new Error(secretish);
    });
    app.get('/weird', () => {
      throw Object.assign(new Error(secretish), { status: 302 });
    });
    app.use(errorHandler(logger));
    const base = await listen(app);
    const expected: Record<string, [number, number]> = { bad: [400, -32600], big: [413, -32600], boom: [500, -32603], weird: [500, -32603] };
    for (const [path, [status, code]] of Object.entries(expected)) {
      const res = await fetch(`${base}/${path}`);
      const text = await res.text();
      expect(res.status, path).toBe(status);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
      expect(JSON.parse(text), path).toMatchObject({ jsonrpc: '2.0', id: null, error: { code } });
      expect(text, path).not.toContain('token');
      expect(text, path).not.toMatch(STACK);
    }
  });

  it('an error after the answer has started ends the connection and logs one line', async () => {
    const { logger, lines } = memoryLogger();
    const app = express();
    app.get('/half', (_req, res, next) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message\n');
      next(new Error('stream broke at /secret/path.ts:1:1'));
    });
    app.use(errorHandler(logger));
    const base = await listen(app);
    await expect(fetch(`${base}/half`).then((res) => res.text())).rejects.toThrow();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ msg: 'http response aborted', method: 'GET', path: '/half', reason: 'Error' });
    expect(lines[0]).not.toMatch(/secret|STACK/);
  });
});

describe('startHttp', () => {
  it('a server factory that throws: a JSON 500 without a stack, one log line per request, every time', async () => {
    const { logger, lines } = memoryLogger();
    const handle: HttpServerHandle = await startHttp(
      () => {
        throw new Error('factory failed at /work/src/server.ts:12:3');
      },
      { host: '127.0.0.1', port: 0, allowedHosts: [], logger },
    );
    closers.push(() => handle.close());
    const init = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '0' } },
    });
    for (let i = 0; i < 2; i++) {
      const res = await fetch(handle.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: init,
      });
      const text = await res.text();
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(JSON.parse(text)).toMatchObject({ jsonrpc: '2.0', error: { code: -32603 } });
      expect(text).not.toMatch(STACK);
    }
    const failures = lines.map((l) => JSON.parse(l) as { msg: string; status?: number }).filter((l) => l.status === 500);
    expect(failures).toHaveLength(2);
    expect(failures[0].msg).toBe('http request failed');
    for (const l of lines) expect(l).not.toMatch(STACK);
  });
});
