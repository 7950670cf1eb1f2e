/**
 * Streamable HTTP at /mcp: Host/Origin validation against DNS rebinding, optional bearer token
 * (compared in constant time), GET /healthz. A fresh McpServer answers every request, because
 * one instance must never serve two requests at once (responses could leak between clients).
 *
 * Order of the checks, cheapest and least trusting first: Host, Origin, path, bearer token, and
 * only then is the body read and parsed (at most MAX_BODY_BYTES). An unauthenticated client
 * never makes the server parse a body (what it sends anyway is discarded, for at most DRAIN_MS).
 * Every refusal, whoever produces it (these guards,
 * the SDK, express, Node's HTTP parser), is a JSON answer and one JSON log line on stderr: never
 * an HTML page, a stack trace, a file path or the request body.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import {
  createMcpHandler,
  isJsonContentType,
  validateHostHeader,
  validateOriginHeader,
  type McpServer,
} from '@modelcontextprotocol/server';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../log.js';
import { VERSION } from '../version.js';

import { LOOPBACK } from './loopback.js';

export interface HttpOptions {
  host: string;
  port: number;
  authToken?: string;
  allowedHosts: string[];
  logger: Logger;
}

export interface HttpServerHandle {
  url: string;
  close(): Promise<void>;
}

/** A JSON-RPC request of ours is a few KB; 1 MB leaves room for large creates. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Deeper JSON is refused: the SDK re-serialises the body recursively, and no tool needs it. */
export const MAX_BODY_DEPTH = 64;
/** How long the unread body of a refused request is drained before the connection is cut. */
const DRAIN_MS = 2_000;

const digest = (s: string) => createHash('sha256').update(s).digest();

const rpcError = (code: number, message: string) => ({ jsonrpc: '2.0', id: null, error: { code, message } });

/** What a refusal log line says about the request: never the body, the query string or headers. */
const requestLabel = (req: Request) => ({ method: req.method, path: req.path.slice(0, 100) });

function bearerAuth(token: string) {
  const expected = digest(token);
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    // Hashing first makes the comparison constant-time whatever the lengths.
    if (match && timingSafeEqual(digest(match[1].trim()), expected)) return next();
    res.locals.reason = 'token';
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer realm="crm-mcp"')
      .json(rpcError(-32001, 'Unauthorized: send Authorization: Bearer <CRM_MCP_AUTH_TOKEN>.'));
  };
}

/** A short, printable excerpt of a header value: an answer never echoes unbounded input. */
const excerpt = (v: string) => JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);

/**
 * Host and Origin checks against DNS rebinding: the SDK's validators, with answers of our own
 * (the SDK's middleware echoes the whole header value).
 */
function hostAndOrigin(hosts: string[]) {
  const allowed = hosts.join(', ');
  return (req: Request, res: Response, next: NextFunction) => {
    const host = req.headers.host;
    if (!validateHostHeader(host, hosts).ok) {
      res.locals.reason = 'host';
      res.status(403).json(rpcError(-32000,
        `Forbidden: Host ${host ? excerpt(host) : '(none)'} is not served here; allowed: ${allowed} (more with CRM_MCP_ALLOWED_HOSTS).`));
      return;
    }
    const origin = req.headers.origin;
    if (!validateOriginHeader(origin, hosts).ok) {
      res.locals.reason = 'origin';
      res.status(403).json(rpcError(-32000, `Forbidden: requests from Origin ${excerpt(origin ?? '')} are refused; allowed: ${allowed}.`));
      return;
    }
    next();
  };
}

/**
 * A request refused before its body was read (Host, Origin, token, size, path) leaves the rest of
 * the body on the wire. On a keep-alive connection Node drains it (reads and discards, never
 * parses) after the answer: closing at once would reset the connection under a client still
 * sending, which then may never read the answer. The drain is bounded: past DRAIN_MS the
 * connection is cut. (A client that asked for Connection: close is closed at once.)
 */
function boundedDrain(req: Request, res: Response, next: NextFunction) {
  // Kept now: by the time the drain is over, the request may no longer point at its socket.
  const socket = req.socket;
  res.once('finish', () => {
    if (req.complete) return;
    const timer = setTimeout(() => socket.destroy(), DRAIN_MS);
    timer.unref();
    req.once('end', () => clearTimeout(timer));
  });
  next();
}

/** Whether JSON text nests objects or arrays deeper than `limit` (one pass; strings skipped). */
function nestsDeeper(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Reads and parses a JSON body of at most MAX_BODY_BYTES, once the guards have passed: -32700 for
 * invalid JSON, 413 past the limit (declared or reached), -32600 past MAX_BODY_DEPTH. Parsed here rather than by the SDK,
 * whose own reading goes through web streams and costs a few tenths of a millisecond per call
 * more. Other content types are left to the SDK (it answers 415).
 */
function jsonBody(req: Request, res: Response, next: NextFunction) {
  // Declared too large: refused before a byte of it is read.
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
    res.locals.reason = 'body too large';
    res.status(413).json(rpcError(-32600, `Request body too large: at most ${MAX_BODY_BYTES} bytes.`));
    return;
  }
  // Only now, past every guard, is a client that waits for it invited to send its body.
  if (/100-continue/i.test(req.headers.expect ?? '')) res.writeContinue();
  if (req.method !== 'POST' || !isJsonContentType(req.headers['content-type'])) return next();
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const refuse = (status: number, code: number, message: string, reason: string) => {
    settled = true;
    chunks.length = 0;
    res.locals.reason = reason;
    res.status(status).json(rpcError(code, message));
  };
  req.on('data', (chunk: Buffer) => {
    if (settled) return;
    size += chunk.length;
    if (size > MAX_BODY_BYTES) refuse(413, -32600, `Request body too large: at most ${MAX_BODY_BYTES} bytes.`, 'body too large');
    else chunks.push(chunk);
  });
  // A client gone mid-body: nothing left to answer.
  req.once('error', () => {
    settled = true;
  });
  req.once('end', () => {
    if (settled) return;
    settled = true;
    const text = Buffer.concat(chunks, size).toString('utf8');
    if (nestsDeeper(text, MAX_BODY_DEPTH)) {
      refuse(400, -32600, `Invalid request: JSON nested deeper than ${MAX_BODY_DEPTH} levels.`, 'too deep');
      return;
    }
    try {
      req.body = JSON.parse(text) as unknown;
    } catch {
      // The parser's message quotes the body: never passed on.
      refuse(400, -32700, 'Parse error: the request body is not valid JSON.', 'invalid JSON');
      return;
    }
    next();
  });
}

/** One log line per refused request (status >= 400), whoever refused it. */
function refusalLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    res.once('finish', () => {
      if (res.statusCode < 400) return;
      const line = { ...requestLabel(req), status: res.statusCode, ...(res.locals.reason ? { reason: res.locals.reason } : {}) };
      if (res.statusCode >= 500) logger.error(line, 'http request failed');
      else logger.info(line, 'http request refused');
    });
    next();
  };
}

/**
 * The last middleware: whatever error reaches express (a throwing handler, a body that cannot be
 * read) becomes a JSON-RPC error. Express's own handler would answer an HTML page with the stack
 * and print the error, body included, to stderr.
 */
export function errorHandler(logger: Logger) {
  // Express recognises an error handler by its four parameters.
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = (err ?? {}) as { status?: unknown; statusCode?: unknown; type?: unknown; name?: unknown };
    const given = Number(e.status ?? e.statusCode);
    const status = given >= 400 && given < 500 ? given : 500;
    res.locals.reason = typeof e.type === 'string' ? e.type : typeof e.name === 'string' ? e.name : 'error';
    if (res.headersSent) {
      // Mid-stream: nothing sensible can follow what was sent; end the connection.
      logger.error({ ...requestLabel(req), reason: res.locals.reason }, 'http response aborted');
      res.destroy();
      return;
    }
    res
      .status(status)
      .set('Connection', 'close')
      .json(status === 413 ? rpcError(-32600, `Request body too large: at most ${MAX_BODY_BYTES} bytes.`)
        : status < 500 ? rpcError(-32600, 'Bad request.')
        : rpcError(-32603, 'Internal error; the request was not completed.'));
  };
}

/**
 * Requests Node's HTTP parser refuses before express sees them (malformed request line, header
 * too large, request timeout): a JSON answer instead of Node's bare one, and a log line.
 */
function onClientError(logger: Logger) {
  return (err: NodeJS.ErrnoException, socket: Socket) => {
    // As Node's own handler: an answer already under way on this socket cannot get a second one.
    const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (err.code === 'ECONNRESET' || !socket.writable || answering) {
      socket.destroy();
      return;
    }
    const [status, text] =
      err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout']
      : [400, 'Bad Request'];
    const body = JSON.stringify(rpcError(-32600, `${text}.`));
    logger.info({ status, reason: err.code ?? 'client error' }, 'http request refused');
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}

export function startHttp(factory: () => McpServer, opts: HttpOptions): Promise<HttpServerHandle> {
  // Always explicit: the SDK arms its checks by itself only for 127.0.0.1, localhost and ::1, and
  // any other bind (127.0.0.2 included) would otherwise accept every Host and Origin.
  const bound = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host;
  const hosts = [...new Set([...LOOPBACK, bound, ...opts.allowedHosts])];
  const app = express();
  app.disable('x-powered-by');
  app.use(refusalLog(opts.logger));
  app.use(boundedDrain);
  app.use(hostAndOrigin(hosts));

  const handler = createMcpHandler(factory, {
    maxRequestBodySize: MAX_BODY_BYTES,
    // A JSON parse error's message quotes the body: log its kind only.
    onerror: (error) =>
      opts.logger.debug({ err: error.name === 'SyntaxError' ? error.name : error.message.slice(0, 160) }, 'mcp request rejected'),
  });
  // Bodies of other content types are read by the SDK (bounded too) before it answers 415.
  const node = toNodeHandler(handler, { maxRequestBodySize: MAX_BODY_BYTES });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', version: VERSION });
  });
  const guards = opts.authToken ? [bearerAuth(opts.authToken)] : [];
  app.all('/mcp', ...guards, jsonBody, (req: Request, res: Response, next: NextFunction) => {
    node(req, res, req.body).catch(next);
  });
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'Not found: the MCP endpoint is /mcp, health is /healthz.' });
  });
  app.use(errorHandler(opts.logger));

  return new Promise((resolvePromise, reject) => {
    const server: Server = app.listen(opts.port, opts.host);
    // Receiving a request (headers, then the whole body) has a bound; answering it does not.
    server.headersTimeout = 15_000;
    server.requestTimeout = 30_000;
    server.on('clientError', onClientError(opts.logger));
    // Node would answer "100 Continue" to any request before the guards have looked at it.
    server.on('checkContinue', app);
    server.once('error', reject);
    server.once('listening', () => {
      const { port } = server.address() as AddressInfo;
      const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
      resolvePromise({
        url: `http://${shownHost}:${port}/mcp`,
        close: async () => {
          await handler.close();
          server.closeAllConnections();
          await new Promise<void>((r) => server.close(() => r()));
        },
      });
    });
  });
}
