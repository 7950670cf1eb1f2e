/**
 * The tool catalog the bundle starts from (src/tools/catalog.ts): recorded from the tools' own
 * registration, it must show exactly what the tools show, for every kind of server, load no tool
 * code before the first call, and then answer exactly as the tools do.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectionRegistry } from '../../src/connections.js';
import { createLogger } from '../../src/log.js';
import { createLocalProvider } from '../../src/providers/local/index.js';
import { direct, fromTable, recordCatalog, type CatalogTool, type ToolsModule } from '../../src/tools/catalog.js';
import type { ServerTraits, ToolEnv } from '../../src/tools/define.js';
import * as tools from '../../src/tools/index.js';

const provider = createLocalProvider({ path: ':memory:', now: () => new Date('2026-03-01T00:00:00Z') });
const env: ToolEnv = {
  registry: new ConnectionRegistry([{ name: 'local', provider }], 'local'),
  logger: createLogger('silent'),
  idempotency: { run: () => Promise.reject(new Error('not used: the local CRM keeps its own keys')) },
};
const handlers: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  await Promise.all(handlers.map((h) => h.close()));
  await provider.close();
});

async function connect(catalog: readonly CatalogTool[], traits: ServerTraits): Promise<Client> {
  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: 'catalog-test', version: '1' });
    for (const tool of catalog) tool.register(server, env, traits);
    return server;
  });
  handlers.push(handler);
  const client = new Client({ name: 'catalog-test', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL('http://in-process/mcp'), { fetch: (url, init) => handler.fetch(new Request(url, init)) }),
  );
  return client;
}

/** The recorded catalog over the real tools, counting how often it loads them. */
function deferred() {
  const table = JSON.parse(JSON.stringify(recordCatalog(tools))) as ReturnType<typeof recordCatalog>; // as built in
  let loads = 0;
  const catalog = fromTable(table, async () => {
    loads += 1;
    return tools as ToolsModule;
  });
  return { catalog, loads: () => loads };
}

const ALL_TRAITS: ServerTraits[] = [
  { openWorld: false, remoteQuery: false },
  { openWorld: true, remoteQuery: false },
  { openWorld: false, remoteQuery: true },
  { openWorld: true, remoteQuery: true },
];

describe('tool catalog', () => {
  it.each(ALL_TRAITS)('lists what the tools list, without loading them (%o)', async (traits) => {
    const { catalog, loads } = deferred();
    const [a, b] = await Promise.all([connect(direct(tools), traits), connect(catalog, traits)]);
    const [listed, recorded] = await Promise.all([a.listTools(), b.listTools()]);
    expect(recorded.tools).toEqual(listed.tools);
    expect(recorded.tools.length).toBe(tools.ALL_TOOLS.length);
    expect(JSON.stringify(recorded.tools).includes('remote_query')).toBe(traits.remoteQuery);
    expect(loads()).toBe(0);
    await Promise.all([a.close(), b.close()]);
  });

  it('loads the tools on the first call, once, and answers as they do', async () => {
    const traits = ALL_TRAITS[0];
    const { catalog, loads } = deferred();
    const [a, b] = await Promise.all([connect(direct(tools), traits), connect(catalog, traits)]);
    const calls: Array<[string, Record<string, unknown>]> = [
      ['list_pipelines', {}],
      ['get_pipeline', { pipeline_id: '1' }],
      ['list_deals', { limit: 3, response_format: 'detailed' }],
      ['get_deal', { deal_id: 'no-such-deal' }], // a tool error
      ['list_stages', { no_such_argument: true }], // refused arguments
      ['create_stage', { pipeline_id: '1', name: 'Negotiation', dry_run: true }],
    ];
    for (const [name, args] of calls) {
      const [expected, got] = await Promise.all([a.callTool({ name, arguments: args }), b.callTool({ name, arguments: args })]);
      expect(got, name).toEqual(expected);
    }
    expect(calls.some(([name]) => name === 'get_deal')).toBe(true);
    expect(loads()).toBe(1);
    await Promise.all([a.close(), b.close()]);
  });
});
