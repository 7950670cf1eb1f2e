/**
 * The floor for crm-mcp's start-up: the smallest stdio MCP server on the same SDK, with one tool,
 * bundled by bench/startup.ts with the same esbuild options as crm-mcp (scripts/bundle-options.mjs).
 */
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import * as z from 'zod';

serveStdio(() => {
  const server = new McpServer({ name: 'minimal', version: '1.0.0' });
  server.registerTool(
    'echo',
    {
      description: 'Returns the text it is given.',
      inputSchema: z.object({ text: z.string().describe('Text to return') }),
      annotations: { readOnlyHint: true },
    },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
});
