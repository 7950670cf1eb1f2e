/**
 * Issue 7's input and output bounds, end to end: the built binary over stdio, the real MCP client
 * (raw JSON-RPC lines where the client itself cannot serialize the input), the local CRM in a
 * database file, and the fake Pipedrive for what must never go upstream.
 */
import { openSqlite } from '../../src/crm/sqlite.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_TOKEN, startFakePipedrive, type FakePipedrive } from '../fakes/pipedrive.js';
import { call, fails, ok, textOf } from '../helpers/mcp.js';
import { isolatedDbPath, spawnRawStdio, startStdio, stopAll, tempDbPath, type StdioServer } from '../helpers/server.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const MB = 1_048_576;
const wire = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

afterAll(async () => {
  await stopAll();
});

interface RawAnswer {
  result?: { isError?: boolean; content: Array<{ text: string }>; tools?: unknown[] };
  error?: { code: number; message: string };
}

/** A built server over raw JSON-RPC lines, initialized: for input the SDK client cannot send. */
function rawSession(logLevel: 'silent' | 'warn') {
  const raw = spawnRawStdio({ db: ':memory:', logLevel });
  const answers = new Map<unknown, RawAnswer>();
  let buffer = '';
  raw.child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const msg = JSON.parse(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      if ('id' in msg) answers.set(msg.id, msg);
    }
  });
  const send = (line: string) => raw.child.stdin.write(`${line}\n`);
  send(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } }));
  send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  return { raw, answers, send };
}

describe('local CRM over stdio', () => {
  let srv: StdioServer;
  const description = 'D'.repeat(MB);

  beforeAll(async () => {
    // A database whose project 1 holds a 1 MB description (written by another tool, or an old version).
    const db = tempDbPath();
    const first = await startStdio({ db, logLevel: 'silent' });
    await first.close();
    const sqlite = openSqlite(db);
    sqlite.prepare('UPDATE projects SET description = ? WHERE id = 1').run(description);
    sqlite.close();
    srv = await startStdio({ db, logLevel: 'silent' });
  });
  afterAll(async () => srv?.close());

  it('a 1 MB id or connection name is answered in one short sentence', async () => {
    const byId = await call(srv.client, 'get_pipeline', { pipeline_id: 'A'.repeat(MB) });
    expect(byId.isError).toBe(true);
    expect(wire(byId)).toBeLessThan(300);
    expect(textOf(byId)).toMatch(/`pipeline_id` is too long for an id: 1,048,576 characters, at most 128/);
    const byConnection = await call(srv.client, 'list_pipelines', { connection: 'c'.repeat(MB) });
    expect(byConnection.isError).toBe(true);
    expect(wire(byConnection)).toBeLessThan(300);
  });

  it('prompt arguments: impossible dates and oversized ids are refused', async () => {
    await expect(
      srv.client.getPrompt({ name: 'pipeline_review', arguments: { pipeline_id: '1', start_date: '2026-02-30', end_date: '2026-03-31' } }),
    ).rejects.toThrow(/calendar date/);
    await expect(srv.client.getPrompt({ name: 'project_status_update', arguments: { project_id: 'p'.repeat(MB) } })).rejects.toThrow(
      /project_id/,
    );
    const ok = await srv.client.getPrompt({ name: 'pipeline_review', arguments: { pipeline_id: '1', start_date: '2028-02-29', end_date: '2028-03-31' } });
    expect(JSON.stringify(ok)).toContain('2028-02-29');
  });

  it('ids sent as whole numbers are used as their decimal strings', async () => {
    const { s } = await ok(srv.client, 'get_deal', { deal_id: 5 });
    expect(s.deal.id).toBe('5');
    const stages = await ok(srv.client, 'list_stages', { pipeline_id: 1 });
    expect(stages.s.stages.length).toBeGreaterThan(0);
  });

  it('a project with a 1 MB description comes back cut at 10,000 characters, saying so', async () => {
    const { s, text, res } = await ok(srv.client, 'get_project', { project_id: '1', response_format: 'detailed' });
    expect(s.project.description).toBe(`${'D'.repeat(10_000)}…[cut: 1,048,576 characters in all]`);
    expect(text).toContain('…[cut: 1,048,576 characters in all]');
    expect(wire(res)).toBeLessThan(50_000);
    const listed = await ok(srv.client, 'list_projects', { response_format: 'detailed', limit: 100 });
    expect(wire(listed.res)).toBeLessThan(60_000);
  });

  it('custom_fields nested 5,000 and 100,000 deep are refused with a sentence; the server lives on', async () => {
    // The SDK client cannot serialize such input itself: raw JSON-RPC lines.
    const { raw, answers, send } = rawSession('silent');
    const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const deepCall = (id: number, depth: number) =>
      `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"create_project","arguments":{"name":"Deep","custom_fields":${nested(depth)}}}}`;
    send(deepCall(1, 5_000));
    send(deepCall(2, 100_000));
    send(deepCall(3, 7));
    send(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'list_pipelines', arguments: {} } }));
    const deadline = Date.now() + 30_000;
    while (answers.size < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const id of [1, 2]) {
      expect(answers.get(id)?.result?.isError).toBe(true);
      expect(answers.get(id)?.result?.content[0].text).toBe(
        'Invalid arguments for create_project: more than 2,000 values in all (list items and object fields); send only what the call needs.',
      );
    }
    expect(answers.get(3)?.result?.content[0].text).toMatch(/`custom_fields` is nested more than 5 levels deep/);
    expect(answers.get(4)?.result?.isError).toBeUndefined();
    await raw.stop();
  });

  it('a message over 4 MB is dropped unread and answered by its id; the connection and the server live on', async () => {
    const { raw, answers, send } = rawSession('warn');
    let stderr = '';
    raw.child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const huge = (mb: number) => 'x'.repeat(mb * MB);
    // The SDK client writes the id last, after the arguments; another client may write it first.
    send(JSON.stringify({ method: 'tools/call', params: { name: 'get_pipeline', arguments: { pipeline_id: huge(12), nested: { id: 99 } } }, jsonrpc: '2.0', id: 7 }));
    send(JSON.stringify({ jsonrpc: '2.0', id: 'call-8', method: 'tools/call', params: { name: 'list_deals', arguments: { cursor: huge(5) } } }));
    send(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }));
    const deadline = Date.now() + 30_000;
    while (answers.size < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const id of [7, 'call-8']) {
      expect(answers.get(id)?.error?.code, String(id)).toBe(-32600);
      expect(answers.get(id)?.error?.message).toMatch(/^Message too large: [\d,]+ bytes, over the 4 MB limit; it was dropped unread and nothing was done\./);
    }
    expect(answers.get(9)?.result?.tools?.length).toBeGreaterThan(10);
    expect(raw.child.exitCode).toBeNull();
    // One JSON log line per dropped message, without the message.
    const drops = stderr.split('\n').filter((l) => l.includes('dropped unread'));
    expect(drops).toHaveLength(2);
    for (const line of drops) {
      expect(JSON.parse(line)).toMatchObject({ msg: 'stdio message over 4 MB dropped unread' });
      expect(line.length).toBeLessThan(300);
    }
    await raw.stop();
  });
});

describe('Pipedrive: nothing impossible goes upstream', () => {
  let fake: FakePipedrive;
  let srv: StdioServer;
  beforeAll(async () => {
    fake = await startFakePipedrive();
    srv = await startStdio({
      db: isolatedDbPath(),
      env: { CRM_PROVIDER: 'pipedrive', PIPEDRIVE_API_TOKEN: DEFAULT_TOKEN, PIPEDRIVE_BASE_URL: fake.url },
      logLevel: 'silent',
    });
  });
  afterAll(async () => {
    await srv?.close();
    await fake?.stop();
  });

  it('an impossible date is refused before any request; a leap day is sent', async () => {
    const stage = [...fake.state.stages.values()].find((s) => !s.is_deleted)!;
    const mark = fake.server.requests.length;
    const text = await fails(srv.client, 'create_deal', { name: 'Feb 30', stage_id: String(stage.id), close_date: '2026-02-30' });
    expect(text).toBe('Invalid arguments for create_deal: `close_date` must be a calendar date written YYYY-MM-DD, e.g. 2026-03-31.');
    const stats = await fails(srv.client, 'pipeline_conversion_stats', { pipeline_id: '1', start_date: '2026-02-30', end_date: '2026-03-01' });
    expect(stats).toMatch(/`start_date` must be a calendar date/);
    expect(fake.server.requests.slice(mark)).toEqual([]);
    const { s } = await ok(srv.client, 'create_deal', { name: 'Leap day', stage_id: String(stage.id), close_date: '2028-02-29' });
    expect(s.deal.close_date).toBe('2028-02-29');
  });

  it('a deal title of 200,000 characters is cut in the answer, in text and structuredContent', async () => {
    const deal = [...fake.state.deals.values()].find((d) => !d.is_deleted)!;
    const original = deal.title;
    deal.title = 'T'.repeat(200_000);
    try {
      const { s, text, res } = await ok(srv.client, 'get_deal', { deal_id: String(deal.id) });
      expect(s.deal.name).toBe(`${'T'.repeat(2_000)}…[cut: 200,000 characters in all]`);
      expect(text).toContain('…[cut: 200,000 characters in all]');
      expect(wire(res)).toBeLessThan(10_000);
    } finally {
      deal.title = original;
    }
  });
});
