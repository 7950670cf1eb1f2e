/**
 * Streamable HTTP at /mcp: Host/Origin validation against DNS rebinding, optional bearer token
 * (compared in constant time), GET /healthz. A fresh McpServer answers every request, because
 * one instance must never serve two requests at once (responses could leak between clients).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createMcpExpressApp } from '@modelcontextprotocol/express';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, type McpServer } from '@modelcontextprotocol/server';
import type { NextFunction, Request, Response } from 'express';
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

const digest = (s: string) => createHash('sha256').update(s).digest();

function bearerAuth(token: string) {
  const expected = digest(token);
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    // Hashing first makes the comparison constant-time whatever the lengths.
    if (match && timingSafeEqual(digest(match[1].trim()), expected)) return next();
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer realm="crm-mcp"')
      .json({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32001, message: 'Unauthorized: send Authorization: Bearer <CRM_MCP_AUTH_TOKEN>.' },
      });
  };
}

export function startHttp(factory: () => McpServer, opts: HttpOptions): Promise<HttpServerHandle> {
  // Always explicit: the SDK arms its checks by itself only for 127.0.0.1, localhost and ::1, and
  // any other bind (127.0.0.2 included) would otherwise accept every Host and Origin.
  const bound = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host;
  const hosts = [...new Set([...LOOPBACK, bound, ...opts.allowedHosts])];
  const app = createMcpExpressApp({ host: opts.host, allowedHosts: hosts, allowedOrigins: hosts, jsonLimit: '1mb' });
  app.disable('x-powered-by');

  const handler = createMcpHandler(factory, {
    onerror: (error) => opts.logger.debug({ err: error.message }, 'mcp request rejected'),
  });
  const node = toNodeHandler(handler);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', version: VERSION });
  });
  const guards = opts.authToken ? [bearerAuth(opts.authToken)] : [];
  app.all('/mcp', ...guards, (req: Request, res: Response) => {
    void node(req, res, req.body);
  });
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'Not found: the MCP endpoint is /mcp, health is /healthz.' });
  });

  return new Promise((resolvePromise, reject) => {
    const server = app.listen(opts.port, opts.host);
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
