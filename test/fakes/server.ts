/**
 * Generic fake upstream for provider and client tests: a real node:http server on 127.0.0.1 that
 * records every request, answers through a handler, and can inject faults: statuses (with rate-limit
 * headers), HTML error pages, delays before the headers, resets before the answer or mid-body, a
 * body that stalls, malformed JSON, an oversize body, and "the write happened but the answer was
 * lost" (a fault served after the handler ran). Offline and deterministic: nothing here talks to
 * the internet.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import qs from 'qs';

export interface RecordedRequest {
  method: string;
  /** pathname, raw (not decoded) */
  path: string;
  rawUrl: string;
  /** qs.parse of the query string, bracket syntax */
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  /** parsed JSON, or raw string if not JSON, undefined if empty */
  body: unknown;
  /** The fault this request met, if any. */
  fault?: Fault;
}

export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  /** JSON-encoded unless a string */
  body?: unknown;
}

export type Fault = (
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown }
  | { kind: 'delay'; ms: number } // delay before the headers, then answer normally
  | { kind: 'reset' } // destroy the socket without answering
  | { kind: 'resetMidBody' } // the handler's answer: headers and half the body, then the socket is destroyed
  | { kind: 'stallBody'; ms: number } // the handler's answer: headers and half the body, a stall, then the rest
  | { kind: 'malformed' } // 200 with a body that is not JSON
  | { kind: 'html'; status: number } // a proxy's HTML error page
  | { kind: 'oversize'; bytes: number; declareLength?: boolean } // 200 JSON of `bytes` bytes, streamed
) & {
  /**
   * Run the handler first (a write is applied), then serve the fault instead of its answer: "the
   * write happened but the answer was lost". resetMidBody and stallBody always run it.
   */
  afterHandler?: boolean;
};

const HTML_PAGE = (status: number) =>
  `<!DOCTYPE html>\n<html><head><title>${status} Bad Gateway</title></head>\n<body><h1>${status}</h1><p>The upstream server is temporarily unavailable.</p>\n<hr><address>nginx</address></body></html>\n`;

interface PendingFault {
  fault: Fault;
  remaining: number;
  match?: (r: RecordedRequest) => boolean;
}

export class FakeServer {
  readonly requests: RecordedRequest[] = [];
  latencyMs = 0;
  /** Faults served since start (reset() does not clear it): for suites that report their figures. */
  faultsServed = 0;
  /** Path prefix stripped before the handler sees a request (a base URL with a path, e.g. a proxy's). */
  basePath = '';
  /** Requests being served right now. */
  private inFlight = 0;

  private readonly handler: (req: RecordedRequest) => FakeResponse | Promise<FakeResponse>;
  private faults: PendingFault[] = [];
  private gate?: { n: number; arrived: number; reached: boolean; open: Promise<void>; release: () => void };
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(handler: (req: RecordedRequest) => FakeResponse | Promise<FakeResponse>) {
    this.handler = handler;
  }

  /** Queue a fault for the next `times` (default 1) requests that satisfy `match` (default: any). */
  inject(fault: Fault, opts: { times?: number; match?: (r: RecordedRequest) => boolean } = {}): void {
    this.faults.push({ fault, remaining: opts.times ?? 1, match: opts.match });
  }

  /**
   * Holds the next answers until `n` requests have reached the handler (or `timeoutMs` passed):
   * proves requests were in flight together without timing thresholds. `reached()` tells which.
   */
  barrier(n: number, timeoutMs = 5000): { reached(): boolean; arrived(): number } {
    let release!: () => void;
    const open = new Promise<void>((resolve) => (release = resolve));
    const g = { n, arrived: 0, reached: false, open, release };
    const timer = setTimeout(release, timeoutMs);
    timer.unref();
    void open.then(() => {
      clearTimeout(timer);
      if (this.gate === g) this.gate = undefined;
    });
    this.gate = g;
    return { reached: () => g.reached, arrived: () => g.arrived };
  }

  start(): Promise<string> {
    if (this.server) return Promise.resolve(this.baseUrl());
    const server = createServer((req, res) => {
      this.inFlight += 1;
      res.once('close', () => (this.inFlight -= 1));
      this.serve(req, res).catch(() => {
        // Last resort: never let a bug in the fake crash the test process.
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'fake server failure' }));
        } else {
          res.destroy();
        }
      });
    });
    server.keepAliveTimeout = 5_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    // Clients under test may reset sockets; that must not surface as an unhandled error.
    server.on('clientError', (_err, socket) => socket.destroy());
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve(this.baseUrl());
      });
    });
  }

  stop(): Promise<void> {
    this.gate?.release();
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
      this.sockets.clear();
    });
  }

  reset(): void {
    this.requests.length = 0;
    this.faults = [];
  }

  /** Resolves once no request has been in flight for a few polls: stray requests of a finished call have landed. */
  async settled(quietMs = 15): Promise<void> {
    for (let quiet = 0; quiet < 3; ) {
      await new Promise((r) => setTimeout(r, quietMs / 3));
      quiet = this.inFlight === 0 ? quiet + 1 : 0;
    }
  }

  private baseUrl(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('FakeServer is not started');
    return `http://127.0.0.1:${addr.port}`;
  }

  private takeFault(r: RecordedRequest): Fault | undefined {
    const i = this.faults.findIndex((f) => f.remaining > 0 && (!f.match || f.match(r)));
    if (i < 0) return undefined;
    const pending = this.faults[i];
    pending.remaining -= 1;
    if (pending.remaining <= 0) this.faults.splice(i, 1);
    return pending.fault;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const fullPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: this.basePath && fullPath.startsWith(`${this.basePath}/`) ? fullPath.slice(this.basePath.length) : fullPath,
      rawUrl,
      query: q < 0 ? {} : (qs.parse(rawUrl.slice(q + 1), { depth: 10, arrayLimit: 1000 }) as Record<string, unknown>),
      headers: { ...req.headers },
      body: parseBody(raw),
    };
    this.requests.push(recorded);
    const fault = this.takeFault(recorded);
    if (fault) {
      recorded.fault = fault;
      this.faultsServed += 1;
    }

    if (this.latencyMs > 0) await sleepUnlessClosed(this.latencyMs, res);
    const runHandler = async (): Promise<FakeResponse> => {
      const g = this.gate;
      if (g) {
        g.arrived += 1;
        if (g.arrived >= g.n) {
          g.reached = true;
          g.release();
        }
        await g.open;
      }
      try {
        return await this.handler(recorded);
      } catch (e) {
        return { status: 500, body: { error: 'fake handler threw', message: e instanceof Error ? e.message : String(e) } };
      }
    };
    // The handler runs first when the fault comes after it; a client gone by then changes nothing.
    const early = fault?.afterHandler === true || fault?.kind === 'resetMidBody' || fault?.kind === 'stallBody';
    let answer: FakeResponse | undefined = early ? await runHandler() : undefined;
    if (fault?.kind === 'delay') await sleepUnlessClosed(fault.ms, res);
    if (res.destroyed) return;
    if (!fault || (fault.kind === 'delay' && !early)) answer = await runHandler();
    if (res.destroyed) return;

    switch (fault?.kind) {
      case 'reset':
        req.socket.destroy();
        return;
      case 'malformed':
        send(res, { status: 200, headers: { 'content-type': 'application/json' }, body: '{"success":true,"data":[{"id":1,,' });
        return;
      case 'status':
        send(res, { status: fault.status, headers: fault.headers, body: fault.body });
        return;
      case 'html':
        send(res, { status: fault.status, headers: { 'content-type': 'text/html; charset=utf-8' }, body: HTML_PAGE(fault.status) });
        return;
      case 'oversize':
        await sendOversize(res, fault.bytes, fault.declareLength ?? true);
        return;
      case 'resetMidBody':
      case 'stallBody': {
        const { status, headers, payload } = serialize(answer!);
        const half = Math.max(1, Math.floor(Buffer.byteLength(payload ?? '') / 2));
        const bytes = Buffer.from(payload ?? ' ');
        res.writeHead(status, { ...headers, 'content-length': String(bytes.length) });
        res.write(bytes.subarray(0, half));
        if (fault.kind === 'resetMidBody') {
          // Let the first half leave before the socket goes.
          setTimeout(() => req.socket.destroy(), 5);
          return;
        }
        await sleepUnlessClosed(fault.ms, res);
        if (!res.destroyed) res.end(bytes.subarray(half));
        return;
      }
      default:
        send(res, answer!);
    }
  }
}

/** A valid JSON body of `bytes` bytes, written in chunks with backpressure; stops when the client goes. */
async function sendOversize(res: ServerResponse, bytes: number, declareLength: boolean): Promise<void> {
  const head = '{"success":true,"data":{"id":1,"name":"';
  const tail = '"}}';
  const filler = Math.max(0, bytes - head.length - tail.length);
  res.writeHead(200, { 'content-type': 'application/json', ...(declareLength ? { 'content-length': String(head.length + filler + tail.length) } : {}) });
  const chunk = 'x'.repeat(64 * 1024);
  const write = (s: string) =>
    new Promise<boolean>((resolve) => {
      if (res.destroyed) return resolve(false);
      if (res.write(s)) return resolve(true);
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve(!res.destroyed);
      };
      res.once('drain', done);
      res.once('close', done);
    });
  if (!(await write(head))) return;
  for (let left = filler; left > 0; left -= chunk.length) {
    if (!(await write(left >= chunk.length ? chunk : chunk.slice(0, left)))) return;
  }
  if (!res.destroyed) res.end(tail);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    // An aborted upload still gets recorded with what arrived.
    req.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function parseBody(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function serialize(answer: FakeResponse): { status: number; headers: Record<string, string>; payload: string | undefined } {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(answer.headers ?? {})) headers[k.toLowerCase()] = v;
  let payload: string | undefined;
  const noBody = answer.status === 204 || answer.status === 304 || answer.body === undefined;
  if (!noBody) {
    if (typeof answer.body === 'string') {
      payload = answer.body;
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else {
      payload = JSON.stringify(answer.body);
      headers['content-type'] ??= 'application/json';
    }
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return { status: answer.status, headers, payload };
}

function send(res: ServerResponse, answer: FakeResponse): void {
  if (res.destroyed || res.headersSent) return;
  const { status, headers, payload } = serialize(answer);
  try {
    res.writeHead(status, headers);
    res.end(payload);
  } catch {
    res.destroy();
  }
}

/** Waits, but stops early when the client goes away so stop() is never held up by timers. */
function sleepUnlessClosed(ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.once('close', done);
  });
}
