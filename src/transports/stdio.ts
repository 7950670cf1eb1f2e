import type { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';

/** Serves one stdio connection; resolves when the client goes away (stdin closes). */
export function startStdio(factory: () => McpServer, onClose: () => Promise<void>): void {
  const handle = serveStdio(factory);
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
