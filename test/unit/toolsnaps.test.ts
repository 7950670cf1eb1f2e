/**
 * The tool contract as clients see it (tools/list), pinned in a snapshot: a change to a tool's name,
 * arguments, annotations or schemas shows up as a diff to review. Refresh deliberately with
 * `npx vitest run test/unit/toolsnaps.test.ts -u`.
 */
import { readFileSync } from 'node:fs';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectionRegistry } from '../../src/connections.js';
import { IdempotencyStore } from '../../src/crm/idempotency.js';
import { createLogger } from '../../src/log.js';
import { createLocalProvider } from '../../src/providers/local/index.js';
import { createServerFactory } from '../../src/server.js';
import { CLI } from '../helpers/server.js';

const provider = createLocalProvider({ path: ':memory:', seed: false });
const handler = createMcpHandler(
  createServerFactory({
    registry: new ConnectionRegistry([{ name: 'local', provider }], 'local'),
    logger: createLogger('silent'),
    idempotency: new IdempotencyStore(':memory:'),
    readOnly: false,
    toolsets: null,
  }),
);

afterAll(async () => {
  await handler.close();
  await provider.close();
});

describe('tools/list', () => {
  it('matches the reviewed snapshot', async () => {
    const client = new Client({ name: 'toolsnaps', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL('http://in-process/mcp'), {
        fetch: (url, init) => handler.fetch(new Request(url, init)),
      }),
    );
    const { tools } = await client.listTools();
    await client.close();
    await expect(`${JSON.stringify(tools, null, 2)}\n`).toMatchFileSnapshot('./__snapshots__/tools-list.json');
  });

  it('is the same from the built binary, whose schemas were computed at build time', async () => {
    const client = new Client({ name: 'toolsnaps', version: '1' });
    await client.connect(
      new StdioClientTransport({ command: process.execPath, args: [CLI, '--db', ':memory:', '--log-level', 'silent'] }),
    );
    const { tools } = await client.listTools();
    await client.close();
    expect(`${JSON.stringify(tools, null, 2)}\n`).toBe(readFileSync(new URL('./__snapshots__/tools-list.json', import.meta.url), 'utf8'));
  });
});
