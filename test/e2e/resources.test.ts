/**
 * crm:// resources over stdio: listed per pipeline of the default connection, readable, and a
 * URI that names nothing answers the protocol's "resource not found" (issue 7, defect 14), not
 * an internal error.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { ok, type S } from '../helpers/mcp.js';
import { startStdio, stopAll, type StdioServer } from '../helpers/server.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });
afterAll(stopAll);

/** The JSON-RPC error a read rejects with. */
async function readError(client: Client, uri: string): Promise<{ code: number; message: string; data?: S }> {
  const e = await client.readResource({ uri }).then(
    () => undefined,
    (err: unknown) => err as { code: number; message: string; data?: S },
  );
  if (!e) throw new Error(`reading ${uri} succeeded`);
  return e;
}

// The SDK's ResourceNotFoundError: -32602 (Invalid Params) with data.uri on every protocol
// revision (SEP-2164; the SDK never emits the older -32002, which clients also accept).
const RESOURCE_NOT_FOUND = -32602;

describe('resources', () => {
  let s: StdioServer;
  beforeAll(async () => {
    s = await startStdio({ db: ':memory:' });
  });
  afterAll(async () => s?.close());

  it('lists one resource per pipeline and reads it', async () => {
    const pipelines = (await ok(s.client, 'list_pipelines')).s.pipelines as S[];
    const { resources } = await s.client.listResources();
    expect(resources.map((r) => r.uri).sort()).toEqual(pipelines.map((p) => `crm://pipelines/${p.id}`).sort());
    const { contents } = await s.client.readResource({ uri: resources[0].uri });
    expect(contents[0].uri).toBe(resources[0].uri);
    expect((contents[0] as { text: string }).text).toContain(resources[0].name);
  });

  it('an unknown pipeline id answers "resource not found" with the URI, not an internal error', async () => {
    const uri = 'crm://pipelines/999999';
    const e = await readError(s.client, uri);
    expect(e.code).toBe(RESOURCE_NOT_FOUND);
    expect(e.data).toEqual({ uri });
    expect(e.message).toMatch(/999999/);
    expect(e.message).toMatch(/list_pipelines/);
  });

  it('a URI no template matches, and an undecodable id, answer the same', async () => {
    for (const uri of ['crm://nothing/1', 'crm://pipelines/%E0%A4%A']) {
      const e = await readError(s.client, uri);
      expect(e.code, uri).toBe(RESOURCE_NOT_FOUND);
      expect(e.data, uri).toEqual({ uri });
    }
  });

  it('a very long URI is not echoed whole', async () => {
    const uri = `crm://pipelines/${'9'.repeat(100_000)}`;
    const e = await readError(s.client, uri);
    expect(e.code).toBe(RESOURCE_NOT_FOUND);
    expect(JSON.stringify(e).length).toBeLessThan(2_000);
  });
});
