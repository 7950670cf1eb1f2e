import type { McpServer } from '@modelcontextprotocol/server';
import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import type { Logger } from '../log.js';
import { LineGuard } from './line-guard.js';

/**
 * The largest message read over stdio. A valid call is far smaller (the tool layer refuses any
 * argument text over 10,000 characters, with a sentence); past this the SDK alone would buffer up to
 * 10 MB and then drop the whole connection.
 */
export const MAX_STDIO_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Serves one stdio connection; resolves when the client goes away (stdin closes). */
export function startStdio(factory: () => McpServer, onClose: () => Promise<void>, logger: Logger): void {
  const stdin = process.stdin.pipe(
    new LineGuard(MAX_STDIO_MESSAGE_BYTES, ({ id, bytes }) => {
      logger.warn({ bytes, id }, 'stdio message over 4 MB dropped unread');
      const error = {
        code: -32600,
        message: `Message too large: ${bytes.toLocaleString('en-US')} bytes, over the 4 MB limit; it was dropped unread and nothing was done. Send smaller arguments.`,
      };
      process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id, error })}\n`);
    }),
  );
  const handle = serveStdio(factory, { transport: new StdioServerTransport(stdin, process.stdout) });
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await handle.close().catch(() => undefined);
    await onClose();
    process.exit(0);
  };
  process.stdin.on('end', shutdown);
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
