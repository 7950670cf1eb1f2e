/**
 * End-to-end over stdio: the built binary (`node dist/cli.js`) driven by the real MCP client,
 * on the local provider's demo CRM. Covers the §5 tool contract of DESIGN.md for every tool, the
 * CLI flags of §6, and the stdout discipline of a stdio server.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  call,
  fails,
  listAll,
  named,
  ok,
  recordLines,
  textOf,
  todayUtc,
  type S,
} from '../helpers/mcp.js';
import {
  logLines,
  ROOT,
  runCli,
  scratchDir,
  scratchHome,
  spawnRawStdio,
  startStdio,
  stopAll,
  tempDbPath,
  type StdioServer,
} from '../helpers/server.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
afterAll(stopAll);

const READ_TOOLS = [
  'list_connections',
  'list_pipelines',
  'get_pipeline',
  'list_stages',
  'get_stage',
  'list_deals',
  'get_deal',
  'list_projects',
  'get_project',
  'pipeline_conversion_stats',
  'pipeline_movement_stats',
  'search',
  'list_users',
  'list_accounts',
  'get_account',
  'list_contacts',
  'get_contact',
  'list_activities',
];
const WRITE_TOOLS = [
  'create_pipeline',
  'update_pipeline',
  'delete_pipeline',
  'create_stage',
  'update_stage',
  'delete_stage',
  'create_deal',
  'update_deal',
  'create_project',
  'update_project',
  'delete_project',
  'create_account',
  'update_account',
  'create_contact',
  'update_contact',
  'create_activity',
  'update_activity',
];
/** Always on, whatever --toolsets says: they serve ids and connection names to every other tool. */
const CORE_TOOLS = ['list_connections', 'list_users', 'search'];
const ALL_TOOLS = [...READ_TOOLS, ...WRITE_TOOLS];

const LIST_KEYS: Record<string, string> = {
  list_pipelines: 'pipelines',
  list_stages: 'stages',
  list_deals: 'deals',
  list_projects: 'projects',
};

const uniq = () => Math.random().toString(36).slice(2, 8);
const sorted = (xs: string[]) => [...xs].sort();

/** Asserts a list answer: `{<key>: [...], next_cursor}` and one "- Name (id)" line per record. */
function expectListShape(s: S, text: string, key: string): S[] {
  expect(Object.keys(s).sort()).toEqual([key, 'next_cursor'].sort());
  expect(Array.isArray(s[key])).toBe(true);
  expect(s.next_cursor === null || typeof s.next_cursor === 'string').toBe(true);
  const items = s[key] as S[];
  const lines = recordLines(text);
  expect(lines).toHaveLength(items.length);
  items.forEach((item, i) => {
    expect(typeof item.id).toBe('string');
    expect(lines[i]).toContain(named(item as { id: string; name: string }));
  });
  // Concise text, not a JSON dump.
  expect(text.trimStart().startsWith('{')).toBe(false);
  expect(text).not.toMatch(/^\s*"[a-z_]+":/m);
  return items;
}

async function expectAlive(server: StdioServer): Promise<void> {
  const { s } = await ok(server.client, 'list_connections');
  expect(s.connections.length).toBeGreaterThan(0);
}

/** Fails with isError, or is refused at the protocol level (unknown tool): either way not done. */
async function refused(server: StdioServer, name: string, args: Record<string, unknown>): Promise<string> {
  try {
    const res = await call(server.client, name, args);
    expect(res.isError).toBe(true);
    return textOf(res);
  } catch (e) {
    return (e as Error).message;
  }
}

// =============================================================================================
// One read-mostly server on a throwaway database (':memory:' still seeds the demo CRM).

describe('stdio: demo CRM, read tools and contract', () => {
  let demo: StdioServer;
  let pipelines: S[];
  let main: S; // the pipeline with the most deals, with stages
  let other: S; // another pipeline, with stages

  beforeAll(async () => {
    demo = await startStdio({ db: ':memory:' });
    pipelines = (await ok(demo.client, 'list_pipelines', { limit: 100 })).s.pipelines;
    const full = await Promise.all(
      pipelines.map(async (p) => (await ok(demo.client, 'get_pipeline', { pipeline_id: p.id })).s.pipeline),
    );
    const withDeals = full.map((p) => ({ p, n: p.open_deals?.count ?? 0 })).sort((a, b) => b.n - a.n);
    main = withDeals[0].p;
    other = withDeals.find((x) => x.p.id !== main.id && (x.p.stages?.length ?? 0) > 0)!.p;
  });
  afterAll(async () => demo?.close());

  describe('tools/list', () => {
    let tools: S[];
    beforeAll(async () => {
      tools = (await demo.client.listTools()).tools as S[];
    });

    // DESIGN.md §5 names 35 tools (1 + 5 pipelines + 5 stages + 4 deals + 5 projects + 2 stats
    // + 4 accounts + 4 contacts + list_users + 3 activities + search).
    it('has exactly the tools of the contract', () => {
      expect(ALL_TOOLS).toHaveLength(35);
      expect(sorted(tools.map((t) => t.name))).toEqual(sorted(ALL_TOOLS));
    });

    it('gives every tool a title, a description, input and output schemas', () => {
      for (const t of tools) {
        expect(typeof t.title, t.name).toBe('string');
        expect(t.title.length, t.name).toBeGreaterThan(3);
        expect(typeof t.description, t.name).toBe('string');
        expect(t.description.length, t.name).toBeGreaterThan(30);
        expect(t.inputSchema?.type, t.name).toBe('object');
        expect(t.outputSchema?.type, t.name).toBe('object');
        expect(Object.keys(t.outputSchema.properties ?? {}).length, t.name).toBeGreaterThan(0);
      }
    });

    it('sets all four annotations explicitly: reads read-only, deletes destructive', () => {
      for (const t of tools) {
        const a = t.annotations ?? {};
        for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']) {
          expect(typeof a[hint], `${t.name}.${hint}`).toBe('boolean');
        }
        if (READ_TOOLS.includes(t.name)) {
          expect(a.readOnlyHint, t.name).toBe(true);
          expect(a.destructiveHint, t.name).toBe(false);
          expect(a.idempotentHint, t.name).toBe(true);
        } else {
          expect(a.readOnlyHint, t.name).toBe(false);
        }
        if (t.name.startsWith('delete_')) expect(a.destructiveHint, t.name).toBe(true);
        if (t.name.startsWith('create_')) expect(a.destructiveHint, t.name).toBe(false);
        // The local CRM lives in this process: nothing reaches the outside world.
        expect(a.openWorldHint, t.name).toBe(false);
      }
    });

    it('describes every argument', () => {
      for (const t of tools) {
        for (const [arg, schema] of Object.entries((t.inputSchema.properties ?? {}) as Record<string, S>)) {
          expect(typeof schema.description, `${t.name}.${arg}`).toBe('string');
          expect(schema.description.trim().length, `${t.name}.${arg}`).toBeGreaterThan(2);
        }
      }
    });

    it('offers the common arguments by kind', () => {
      const props = (name: string) =>
        Object.keys(tools.find((t) => t.name === name)!.inputSchema.properties ?? {});
      // Record-returning reads take the output options; the stats tools return figures, not
      // records, so only `connection` is required of them.
      for (const name of READ_TOOLS.filter((n) => /^(list|get)_/.test(n) && n !== 'list_connections')) {
        expect(props(name), name).toEqual(
          expect.arrayContaining(['connection', 'response_format', 'include_remote_data']),
        );
      }
      for (const name of ['pipeline_conversion_stats', 'pipeline_movement_stats']) {
        expect(props(name), name).toContain('connection');
      }
      for (const name of WRITE_TOOLS) {
        expect(props(name), name).toEqual(expect.arrayContaining(['connection', 'dry_run']));
      }
      for (const name of WRITE_TOOLS.filter((n) => n.startsWith('create_'))) {
        expect(props(name), name).toContain('idempotency_key');
      }
      for (const name of WRITE_TOOLS.filter((n) => n.startsWith('delete_'))) {
        expect(props(name), name).toContain('confirm');
      }
      for (const [name, key] of Object.entries(LIST_KEYS)) {
        expect(props(name), name).toEqual(expect.arrayContaining(['limit', 'cursor']));
        const out = tools.find((t) => t.name === name)!.outputSchema.properties;
        expect(Object.keys(out).sort(), name).toEqual([key, 'next_cursor'].sort());
      }
      expect(props('list_stages')).toEqual(
        expect.arrayContaining(['pipeline_id', 'name', 'status', 'sort_by', 'sort_direction']),
      );
      expect(props('list_deals')).toEqual(expect.arrayContaining(['pipeline_id', 'stage_id', 'status', 'owner_id']));
      expect(props('list_projects')).toEqual(
        expect.arrayContaining(['name', 'status', 'owner_id', 'account_id', 'stage_id']),
      );
      expect(props('update_deal')).toEqual(
        expect.arrayContaining(['deal_id', 'name', 'pipeline_id', 'stage_id', 'amount', 'currency', 'status', 'owner_id', 'close_date']),
      );
      for (const stats of ['pipeline_conversion_stats', 'pipeline_movement_stats']) {
        expect(props(stats)).toEqual(expect.arrayContaining(['pipeline_id', 'start_date', 'end_date', 'user_id']));
      }
    });

    it('marks the id arguments of get tools as required', () => {
      const required = (name: string) => tools.find((t) => t.name === name)!.inputSchema.required ?? [];
      expect(required('get_pipeline')).toContain('pipeline_id');
      expect(required('get_stage')).toContain('stage_id');
      expect(required('get_deal')).toContain('deal_id');
      expect(required('get_project')).toContain('project_id');
      expect(required('update_deal')).toContain('deal_id');
      expect(required('pipeline_movement_stats')).toEqual(
        expect.arrayContaining(['pipeline_id', 'start_date', 'end_date']),
      );
    });
  });

  describe('prompts', () => {
    it('lists pipeline_review, project_status_update and log_meeting with their arguments', async () => {
      const { prompts } = await demo.client.listPrompts();
      const names = prompts.map((p) => p.name);
      expect(names).toEqual(expect.arrayContaining(['pipeline_review', 'project_status_update', 'log_meeting']));
      const meeting = prompts.find((p) => p.name === 'log_meeting')!;
      expect((meeting.arguments ?? []).map((a) => [a.name, a.required ?? false])).toEqual([
        ['deal_id', true],
        ['summary', true],
        ['follow_up_due_date', false],
      ]);
      const review = prompts.find((p) => p.name === 'pipeline_review')!;
      expect(review.description?.length).toBeGreaterThan(10);
      expect((review.arguments ?? []).map((a) => a.name)).toEqual(
        expect.arrayContaining(['pipeline_id', 'start_date', 'end_date']),
      );
    });

    it('pipeline_review names get_pipeline, both stats tools and the open tasks, with the arguments filled in', async () => {
      const res = await demo.client.getPrompt({
        name: 'pipeline_review',
        arguments: { pipeline_id: main.id, start_date: '2024-01-01', end_date: '2024-03-31' },
      });
      expect(res.messages.length).toBeGreaterThan(0);
      const text = res.messages.map((m) => (m.content.type === 'text' ? m.content.text : '')).join('\n');
      for (const tool of ['get_pipeline', 'pipeline_conversion_stats', 'pipeline_movement_stats', 'list_activities']) {
        expect(text).toContain(tool);
      }
      expect(text).toContain('"type": "task", "done": false');
      expect(text).toMatch(/Deals with overdue tasks/);
      expect(text).toContain(main.id);
      expect(text).toContain('2024-01-01');
      expect(text).toContain('2024-03-31');
    });

    it('log_meeting records a note and a follow-up task on the deal with create_activity', async () => {
      const res = await demo.client.getPrompt({
        name: 'log_meeting',
        arguments: { deal_id: '12', summary: 'They want a pilot for 20 seats.', follow_up_due_date: '2026-07-01' },
      });
      const text = res.messages.map((m) => (m.content.type === 'text' ? m.content.text : '')).join('\n');
      expect(text).toContain('create_activity {"type": "note", "deal_id": "12"');
      expect(text).toContain('create_activity {"type": "task", "deal_id": "12"');
      expect(text).toContain('"due_date": "2026-07-01"');
      expect(text).toContain('They want a pilot for 20 seats.');
      const undated = await demo.client.getPrompt({ name: 'log_meeting', arguments: { deal_id: '12', summary: 'x' } });
      expect(JSON.stringify(undated.messages)).toContain('a week from today');
      await expect(
        demo.client.getPrompt({ name: 'log_meeting', arguments: { deal_id: '12', summary: 'x', follow_up_due_date: '2026-02-30' } }),
      ).rejects.toThrow();
    });

    it('project_status_update names get_project', async () => {
      const res = await demo.client.getPrompt({ name: 'project_status_update', arguments: { project_id: '7' } });
      const text = res.messages.map((m) => (m.content.type === 'text' ? m.content.text : '')).join('\n');
      expect(text).toContain('get_project');
      expect(text).toContain('7');
    });
  });

  describe('happy paths', () => {
    it('list_connections names the local connection and what it supports', async () => {
      const { s, text } = await ok(demo.client, 'list_connections');
      expect(s.connections).toHaveLength(1);
      const c = s.connections[0];
      expect(c).toMatchObject({ name: 'local', provider: 'local', default: true });
      for (const r of ['pipelines', 'stages', 'deals', 'projects']) {
        expect(c.supports[r], r).toEqual(expect.arrayContaining(['list', 'get']));
      }
      expect(text).toContain('local');
    });

    it('list_pipelines: 2+ pipelines, one line each', async () => {
      const { s, text } = await ok(demo.client, 'list_pipelines');
      const items = expectListShape(s, text, 'pipelines');
      expect(items.length).toBeGreaterThanOrEqual(2);
      expect(s.next_cursor).toBeNull();
      for (const p of items) expect(typeof p.name).toBe('string');
      expect(new Set(items.map((p) => p.id)).size).toBe(items.length);
    });

    it('get_pipeline: ordered stages with open deals that add up and match list_deals', async () => {
      const { s, text } = await ok(demo.client, 'get_pipeline', { pipeline_id: main.id });
      expect(Object.keys(s)).toEqual(['pipeline']);
      const p = s.pipeline;
      expect(p.id).toBe(main.id);
      expect(p.stages.length).toBeGreaterThanOrEqual(3);
      const positions = p.stages.map((st: S) => st.position);
      expect(positions).toEqual([...positions].sort((a: number, b: number) => a - b));
      for (const st of p.stages) {
        expect(st.pipeline?.id).toBe(p.id);
        expect(text).toContain(named(st));
      }
      expect(text).toContain(named(p));
      // One line for the pipeline and one per stage.
      expect(text.split('\n').filter((l) => l.trim()).length).toBe(p.stages.length + 1);

      const open = await listAll(demo.client, 'list_deals', 'deals', { pipeline_id: p.id, status: 'open' });
      expect(p.open_deals.count).toBe(open.items.length);
      const sum = p.stages.reduce((n: number, st: S) => n + (st.open_deals?.count ?? 0), 0);
      expect(sum).toBe(p.open_deals.count);
      for (const st of p.stages) {
        const inStage = open.items.filter((d) => d.stage.id === st.id).length;
        expect(st.open_deals?.count ?? 0, st.name).toBe(inStage);
      }
      // Values per currency add up too.
      const byCurrency: Record<string, number> = {};
      for (const d of open.items) byCurrency[d.currency] = (byCurrency[d.currency] ?? 0) + (d.amount ?? 0);
      for (const [cur, v] of Object.entries(p.open_deals.values as Record<string, number>)) {
        expect(v).toBeCloseTo(byCurrency[cur] ?? 0, 2);
      }
    });

    it('the demo CRM has 2+ pipelines and 10+ stages', async () => {
      const all = await listAll(demo.client, 'list_stages', 'stages');
      expect(all.items.length).toBeGreaterThanOrEqual(10);
      expect(new Set(all.items.map((s) => s.pipeline?.id)).size).toBeGreaterThanOrEqual(2);
    });

    it('list_stages: filtered by pipeline, sorted by position; sort_by name desc; status filter', async () => {
      const { s, text } = await ok(demo.client, 'list_stages', { pipeline_id: main.id });
      const stages = expectListShape(s, text, 'stages');
      expect(stages.length).toBe(main.stages.length);
      expect(stages.map((st) => st.id)).toEqual(main.stages.map((st: S) => st.id));
      for (const st of stages) {
        expect(st.pipeline.id).toBe(main.id);
        expect(Number.isInteger(st.position)).toBe(true);
        expect(['active', 'inactive']).toContain(st.status);
      }

      const byName = (await ok(demo.client, 'list_stages', { pipeline_id: main.id, sort_by: 'name', sort_direction: 'desc' })).s
        .stages as S[];
      const names = byName.map((st) => st.name.toLowerCase());
      expect(names).toEqual([...names].sort().reverse());

      const active = (await ok(demo.client, 'list_stages', { status: 'active', limit: 100 })).s.stages as S[];
      expect(active.length).toBeGreaterThan(0);
      for (const st of active) expect(st.status).toBe('active');
    });

    it('get_stage returns {stage} with its pipeline', async () => {
      const first = main.stages[0];
      const { s, text } = await ok(demo.client, 'get_stage', { stage_id: first.id });
      expect(Object.keys(s)).toEqual(['stage']);
      expect(s.stage).toMatchObject({ id: first.id, name: first.name, position: first.position });
      expect(s.stage.pipeline.id).toBe(main.id);
      expect(text).toContain(named(first));
      expect(text.split('\n').filter((l) => l.trim())).toHaveLength(1);
    });

    it('list_deals: follows next_cursor through all 150+ deals without duplicates', async () => {
      const ids: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const { s, text } = await ok(demo.client, 'list_deals', { limit: 40, ...(cursor ? { cursor } : {}) });
        const deals = expectListShape(s, text, 'deals');
        expect(deals.length).toBeLessThanOrEqual(40);
        ids.push(...deals.map((d) => d.id));
        cursor = s.next_cursor;
        if (cursor) {
          expect(deals.length).toBe(40);
          expect(text).toContain(cursor); // the text says how to get the rest
        }
        pages++;
      } while (cursor && pages < 50);
      expect(cursor).toBeNull();
      expect(ids.length).toBeGreaterThanOrEqual(150);
      expect(new Set(ids).size).toBe(ids.length);
      expect(pages).toBeGreaterThanOrEqual(4);
    });

    it('list_deals: default page of 25, concise records', async () => {
      const { s, text } = await ok(demo.client, 'list_deals');
      const deals = expectListShape(s, text, 'deals');
      expect(deals).toHaveLength(25);
      expect(typeof s.next_cursor).toBe('string');
      const concise = ['id', 'name', 'status', 'pipeline', 'stage', 'amount', 'currency', 'owner'];
      for (const d of deals) {
        for (const k of Object.keys(d)) expect(concise, k).toContain(k);
        expect(['open', 'won', 'lost']).toContain(d.status);
        expect(typeof d.pipeline.id).toBe('string');
        expect(typeof d.stage.id).toBe('string');
        expect(d.remote_data).toBeUndefined();
      }
    });

    it('list_deals: filters by pipeline, stage, status and owner', async () => {
      const inPipeline = await listAll(demo.client, 'list_deals', 'deals', { pipeline_id: other.id });
      expect(inPipeline.items.length).toBeGreaterThan(0);
      for (const d of inPipeline.items) expect(d.pipeline.id).toBe(other.id);

      const stage = main.stages.find((st: S) => (st.open_deals?.count ?? 0) > 0);
      const inStage = await listAll(demo.client, 'list_deals', 'deals', { stage_id: stage.id });
      expect(inStage.items.length).toBeGreaterThanOrEqual(stage.open_deals.count);
      for (const d of inStage.items) expect(d.stage.id).toBe(stage.id);

      const won = await listAll(demo.client, 'list_deals', 'deals', { status: 'won' });
      expect(won.items.length).toBeGreaterThan(0);
      for (const d of won.items) expect(d.status).toBe('won');

      const owner = won.items.find((d) => d.owner)?.owner ?? inPipeline.items.find((d) => d.owner)!.owner;
      const owned = await listAll(demo.client, 'list_deals', 'deals', { owner_id: owner.id });
      expect(owned.items.length).toBeGreaterThan(0);
      for (const d of owned.items) expect(d.owner.id).toBe(owner.id);

      const all = await listAll(demo.client, 'list_deals', 'deals');
      const byStatus = await Promise.all(
        ['open', 'won', 'lost'].map((st) => listAll(demo.client, 'list_deals', 'deals', { status: st })),
      );
      expect(byStatus.reduce((n, r) => n + r.items.length, 0)).toBe(all.items.length);
    });

    it('a cursor replayed with other filters, or a made-up cursor, is an isError', async () => {
      const { s } = await ok(demo.client, 'list_deals', { limit: 5 });
      expect(typeof s.next_cursor).toBe('string');
      const text = await fails(demo.client, 'list_deals', { limit: 5, cursor: s.next_cursor, status: 'won' });
      expect(text).toMatch(/cursor/i);
      const other = await fails(demo.client, 'list_stages', { limit: 5, cursor: s.next_cursor });
      expect(other).toMatch(/cursor/i);
      const garbage = await fails(demo.client, 'list_deals', { cursor: 'not-a-cursor' });
      expect(garbage).toMatch(/cursor/i);
      // The same filters continue fine.
      await ok(demo.client, 'list_deals', { limit: 5, cursor: s.next_cursor });
    });

    it('caps a big detailed page at about 25,000 characters with whole records and a cursor', async () => {
      const ids = new Set<string>();
      let cursor: string | null = null;
      let capped = false;
      let pages = 0;
      do {
        const { s, text } = await ok(demo.client, 'list_deals', {
          limit: 100,
          response_format: 'detailed',
          include_remote_data: true,
          ...(cursor ? { cursor } : {}),
        });
        const deals = expectListShape(s, text, 'deals');
        expect(text.length).toBeLessThanOrEqual(26_000);
        expect(JSON.stringify(s).length).toBeLessThanOrEqual(27_000);
        for (const d of deals) {
          expect(typeof d.name).toBe('string');
          expect(d.remote_data).toBeTypeOf('object');
          expect(ids.has(d.id)).toBe(false);
          ids.add(d.id);
        }
        if (s.next_cursor && deals.length < 100) capped = true;
        cursor = s.next_cursor;
        pages++;
      } while (cursor && pages < 50);
      expect(ids.size).toBeGreaterThanOrEqual(150);
      // 100 detailed deals with their raw rows are far over the cap: it must have cut a page short,
      // and nothing was lost or repeated across the pages (checked above).
      expect(capped).toBe(true);
    });

    it('get_deal: {deal}; detailed gives more fields than concise; include_remote_data adds remote_data', async () => {
      const d0 = (await ok(demo.client, 'list_deals', { limit: 1 })).s.deals[0];
      const concise = await ok(demo.client, 'get_deal', { deal_id: d0.id });
      expect(Object.keys(concise.s)).toEqual(['deal']);
      expect(concise.s.deal).toMatchObject({ id: d0.id, name: d0.name, status: d0.status });
      expect(concise.s.deal.pipeline.id).toBe(d0.pipeline.id);
      expect(concise.s.deal.stage.id).toBe(d0.stage.id);
      expect(concise.s.deal.remote_data).toBeUndefined();
      expect(concise.text).toContain(named(d0));
      expect(concise.text).toContain(named(concise.s.deal.stage));

      const detailed = await ok(demo.client, 'get_deal', { deal_id: d0.id, response_format: 'detailed' });
      expect(Object.keys(detailed.s.deal).length).toBeGreaterThan(Object.keys(concise.s.deal).length);
      expect(detailed.s.deal.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
      expect(detailed.s.deal.remote_data).toBeUndefined();
      expect(detailed.text.length).toBeGreaterThanOrEqual(concise.text.length);

      const remote = await ok(demo.client, 'get_deal', { deal_id: d0.id, include_remote_data: true });
      expect(remote.s.deal.remote_data).toBeTypeOf('object');
      expect(Object.keys(remote.s.deal.remote_data).length).toBeGreaterThan(0);
    });

    it('response_format detailed: longer text and more fields in every list', async () => {
      for (const [tool, key] of Object.entries(LIST_KEYS)) {
        const args = { limit: 10 };
        const c = await ok(demo.client, tool, args);
        const d = await ok(demo.client, tool, { ...args, response_format: 'detailed' });
        expect(d.s[key].map((r: S) => r.id), tool).toEqual(c.s[key].map((r: S) => r.id));
        const fields = (rs: S[]) => rs.reduce((n, r) => n + Object.keys(r).length, 0);
        expect(fields(d.s[key]), tool).toBeGreaterThan(fields(c.s[key]));
        if (tool !== 'list_pipelines') expect(d.text.length, tool).toBeGreaterThan(c.text.length);
        else expect(d.text.length, tool).toBeGreaterThanOrEqual(c.text.length);
      }
    });

    it('include_remote_data adds remote_data to list and get results, and only then', async () => {
      const plain = await ok(demo.client, 'list_projects', { limit: 3 });
      for (const p of plain.s.projects) expect(p.remote_data).toBeUndefined();
      const raw = await ok(demo.client, 'list_projects', { limit: 3, include_remote_data: true });
      for (const p of raw.s.projects) expect(p.remote_data).toBeTypeOf('object');
      const st = await ok(demo.client, 'get_stage', { stage_id: main.stages[0].id, include_remote_data: true });
      expect(st.s.stage.remote_data).toBeTypeOf('object');
      const pl = await ok(demo.client, 'get_pipeline', { pipeline_id: main.id, include_remote_data: true });
      expect(pl.s.pipeline.remote_data).toBeTypeOf('object');
    });

    it('list_projects and get_project: 20 projects, filters, detailed record', async () => {
      const all = await listAll(demo.client, 'list_projects', 'projects');
      expect(all.items.length).toBeGreaterThanOrEqual(20);
      const { s, text } = await ok(demo.client, 'list_projects', { limit: 5 });
      expectListShape(s, text, 'projects');

      const withStatus = all.items.find((p) => p.status)!;
      const byStatus = await listAll(demo.client, 'list_projects', 'projects', { status: withStatus.status });
      expect(byStatus.items.length).toBeGreaterThan(0);
      for (const p of byStatus.items) expect(p.status).toBe(withStatus.status);

      const withAccount = all.items.find((p) => p.account)!;
      const byAccount = await listAll(demo.client, 'list_projects', 'projects', { account_id: withAccount.account.id });
      for (const p of byAccount.items) expect(p.account.id).toBe(withAccount.account.id);
      expect(byAccount.items.map((p) => p.id)).toContain(withAccount.id);

      const word = withAccount.name.split(/\s+/)[0];
      const byName = await listAll(demo.client, 'list_projects', 'projects', { name: word.toUpperCase() });
      expect(byName.items.map((p) => p.id)).toContain(withAccount.id);

      const got = await ok(demo.client, 'get_project', { project_id: withAccount.id, response_format: 'detailed' });
      expect(Object.keys(got.s)).toEqual(['project']);
      expect(got.s.project).toMatchObject({ id: withAccount.id, name: withAccount.name });
      expect(got.s.project.created_at).toBeTypeOf('string');
      expect(got.text).toContain(named(withAccount));
    });
  });

  describe('statistics', () => {
    const start = '2000-01-01';

    it('pipeline_conversion_stats: documented shape, rates within 0-100', async () => {
      const end = todayUtc();
      const { s, text } = await ok(demo.client, 'pipeline_conversion_stats', {
        pipeline_id: main.id,
        start_date: start,
        end_date: end,
      });
      expect(Object.keys(s)).toEqual(['stats']);
      const st = s.stats;
      expect(st.pipeline.id).toBe(main.id);
      expect(st.period).toEqual({ start_date: start, end_date: end });
      expect(st.stage_conversions.length).toBeGreaterThan(0);
      const stageIds = main.stages.map((x: S) => x.id);
      for (const c of st.stage_conversions) {
        expect(stageIds).toContain(c.from_stage.id);
        expect(stageIds).toContain(c.to_stage.id);
        expect(c.from_stage.id).not.toBe(c.to_stage.id);
        expect(c.conversion_rate).toBeGreaterThanOrEqual(0);
        expect(c.conversion_rate).toBeLessThanOrEqual(100);
      }
      for (const r of [st.won_conversion, st.lost_conversion]) {
        expect(r).toBeGreaterThanOrEqual(0);
        expect(r).toBeLessThanOrEqual(100);
      }
      // The demo data has wins and losses over its whole history.
      expect(st.won_conversion).toBeGreaterThan(0);
      expect(st.won_conversion + st.lost_conversion).toBeLessThanOrEqual(100.1);
      expect(text).toContain(named(main));
      expect(text).toMatch(/%/);
    });

    it('pipeline_movement_stats: documented shape, counts consistent with deal_ids and list_deals', async () => {
      const end = todayUtc();
      const { s, text } = await ok(demo.client, 'pipeline_movement_stats', {
        pipeline_id: main.id,
        start_date: start,
        end_date: end,
      });
      const st = s.stats;
      expect(st.pipeline.id).toBe(main.id);
      expect(st.period).toEqual({ start_date: start, end_date: end });
      expect(Number.isInteger(st.movements_between_stages.count)).toBe(true);
      expect(st.movements_between_stages.count).toBeGreaterThan(0);
      for (const g of ['new_deals', 'deals_left_open', 'won_deals', 'lost_deals']) {
        const group = st[g];
        expect(group.count, g).toBe(group.deal_ids.length);
        expect(new Set(group.deal_ids).size, g).toBe(group.deal_ids.length);
        for (const v of Object.values(group.values as Record<string, number>)) expect(v, g).toBeGreaterThanOrEqual(0);
        expect(Object.keys(group.values).every((k) => /^[A-Z]{3}$/.test(k)), g).toBe(true);
      }
      expect(st.average_age_in_days.across_all_stages).toBeGreaterThanOrEqual(0);
      const stageIds = main.stages.map((x: S) => x.id);
      for (const b of st.average_age_in_days.by_stages) {
        expect(stageIds).toContain(b.stage.id);
        expect(b.value).toBeGreaterThanOrEqual(0);
      }

      // Over the whole history (nothing moved between pipelines on this server):
      const all = await listAll(demo.client, 'list_deals', 'deals', { pipeline_id: main.id });
      const ids = (status?: string) => all.items.filter((d) => !status || d.status === status).map((d) => d.id).sort();
      expect([...st.new_deals.deal_ids].sort()).toEqual(ids());
      expect([...st.deals_left_open.deal_ids].sort()).toEqual(ids('open'));
      expect(st.won_deals.deal_ids).toEqual(expect.arrayContaining(ids('won')));
      expect(st.lost_deals.deal_ids).toEqual(expect.arrayContaining(ids('lost')));
      expect(text).toContain(named(main));

      // Average ages agree with the open deals' own dates (measured at the end of today, so at
      // most one day more than measured now).
      const DAY = 86_400_000;
      const now = Date.now();
      const open = await Promise.all(
        ids('open').map(async (id) => (await ok(demo.client, 'get_deal', { deal_id: id, response_format: 'detailed' })).s.deal),
      );
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const ageNow = mean(open.map((d) => (now - Date.parse(d.created_at)) / DAY));
      expect(st.average_age_in_days.across_all_stages).toBeGreaterThanOrEqual(ageNow - 0.1);
      expect(st.average_age_in_days.across_all_stages).toBeLessThanOrEqual(ageNow + 1.1);
      for (const b of st.average_age_in_days.by_stages) {
        const inStage = open.filter((d) => d.stage.id === b.stage.id);
        expect(inStage.length, b.stage.name).toBeGreaterThan(0);
        const stageAge = mean(inStage.map((d) => (now - Date.parse(d.stage_changed_at)) / DAY));
        expect(b.value, b.stage.name).toBeGreaterThanOrEqual(stageAge - 0.1);
        expect(b.value, b.stage.name).toBeLessThanOrEqual(stageAge + 1.1);
      }
    });

    it('an empty period counts nothing; user_id narrows to one owner', async () => {
      const { s } = await ok(demo.client, 'pipeline_movement_stats', {
        pipeline_id: main.id,
        start_date: '2001-01-01',
        end_date: '2001-12-31',
      });
      expect(s.stats.new_deals.count).toBe(0);
      expect(s.stats.won_deals.count).toBe(0);
      expect(s.stats.movements_between_stages.count).toBe(0);

      const deals = await listAll(demo.client, 'list_deals', 'deals', { pipeline_id: main.id });
      const owner = deals.items.find((d) => d.owner)!.owner.id;
      const mine = deals.items.filter((d) => d.owner?.id === owner).map((d) => d.id).sort();
      const byUser = await ok(demo.client, 'pipeline_movement_stats', {
        pipeline_id: main.id,
        start_date: start,
        end_date: todayUtc(),
        user_id: owner,
      });
      expect([...byUser.s.stats.new_deals.deal_ids].sort()).toEqual(mine);
      const conv = await ok(demo.client, 'pipeline_conversion_stats', {
        pipeline_id: main.id,
        start_date: start,
        end_date: todayUtc(),
        user_id: owner,
      });
      for (const c of conv.s.stats.stage_conversions) {
        expect(c.conversion_rate).toBeGreaterThanOrEqual(0);
        expect(c.conversion_rate).toBeLessThanOrEqual(100);
      }
    });

    it('start_date after end_date is an isError naming both', async () => {
      for (const tool of ['pipeline_conversion_stats', 'pipeline_movement_stats']) {
        const text = await fails(demo.client, tool, {
          pipeline_id: main.id,
          start_date: '2024-06-30',
          end_date: '2024-01-01',
        });
        expect(text).toMatch(/start_date/);
        expect(text).toMatch(/end_date/);
      }
      const badFormat = await fails(demo.client, 'pipeline_movement_stats', {
        pipeline_id: main.id,
        start_date: '01/02/2024',
        end_date: '2024-03-01',
      });
      expect(badFormat).toMatch(/start_date/);
      const unknown = await fails(demo.client, 'pipeline_conversion_stats', {
        pipeline_id: '999999',
        start_date: '2024-01-01',
        end_date: '2024-03-01',
      });
      expect(unknown).toMatch(/list_pipelines/);
    });
  });

  describe('errors', () => {
    it('wrong argument types and unknown enum values are isError with a readable message; the server lives on', async () => {
      const cases: Array<[string, Record<string, unknown>, RegExp]> = [
        ['list_deals', { limit: 'ten' }, /limit/],
        ['list_deals', { limit: 0 }, /limit/],
        ['list_deals', { limit: 10_000 }, /limit/],
        ['list_deals', { status: 'pending' }, /status/],
        ['list_stages', { sort_by: 'colour' }, /sort_by/],
        ['list_projects', { status: 'finished' }, /status/],
        ['get_deal', {}, /deal_id/],
        ['get_deal', { deal_id: 4.2 }, /deal_id/],
        ['get_deal', { deal_id: true }, /deal_id/],
        ['get_pipeline', { pipeline_id: main.id, response_format: 'verbose' }, /response_format/],
        ['update_deal', { deal_id: '1', amount: 'a lot' }, /amount/],
        ['create_stage', { pipeline_id: main.id, name: 'X', probability: 150 }, /probability/],
        // Unknown arguments are errors, not silently dropped (a typo must not lose the value).
        ['update_deal', { deal_id: '1', acount_id: '3' }, /unknown argument `acount_id`.*account_id/],
        ['list_deals', { remote_query: { foo: 'bar' } }, /unknown argument `remote_query`/],
      ];
      for (const [tool, args, re] of cases) {
        const text = await fails(demo.client, tool, args);
        expect(text, `${tool} ${JSON.stringify(args)}`).toMatch(re);
        expect(text, tool).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/); // no stack trace
        expect(text, tool).not.toMatch(/"code"\s*:/); // not a raw validator dump
      }
      await expectAlive(demo);
    });

    it('an unknown tool is refused and the server lives on', async () => {
      const text = await refused(demo, 'drop_all_tables', {});
      expect(text).toMatch(/drop_all_tables/);
      await expectAlive(demo);
    });

    it('unknown ids are isError naming the list tool to call', async () => {
      const cases: Array<[string, Record<string, unknown>, string]> = [
        ['get_pipeline', { pipeline_id: '999999' }, 'list_pipelines'],
        ['get_stage', { stage_id: '999999' }, 'list_stages'],
        ['get_deal', { deal_id: '999999' }, 'list_deals'],
        ['get_project', { project_id: '999999' }, 'list_projects'],
        ['get_deal', { deal_id: 'abc' }, 'list_deals'],
        ['update_deal', { deal_id: '999999', name: 'x' }, 'list_deals'],
        ['update_pipeline', { pipeline_id: '999999', name: 'x' }, 'list_pipelines'],
        ['update_stage', { stage_id: '999999', name: 'x' }, 'list_stages'],
        ['update_project', { project_id: '999999', name: 'x' }, 'list_projects'],
        ['delete_project', { project_id: '999999' }, 'list_projects'],
        ['delete_stage', { stage_id: '999999', confirm: true }, 'list_stages'],
        ['delete_pipeline', { pipeline_id: '999999' }, 'list_pipelines'],
        ['list_stages', { pipeline_id: '999999' }, 'list_pipelines'],
        ['list_deals', { stage_id: '999999' }, 'list_stages'],
        ['create_stage', { pipeline_id: '999999', name: 'Nope' }, 'list_pipelines'],
      ];
      for (const [tool, args, listTool] of cases) {
        const text = await fails(demo.client, tool, args);
        expect(text, `${tool} ${JSON.stringify(args)}`).toContain(listTool);
      }
      await expectAlive(demo);
    });

    it('an unknown connection is isError naming list_connections', async () => {
      const text = await fails(demo.client, 'list_pipelines', { connection: 'nope' });
      expect(text).toMatch(/nope/);
      expect(text).toMatch(/list_connections/);
    });
  });
});

// =============================================================================================
// Writes, on a temp database file (restarted in place to check persistence).

describe('stdio: writes on a database file', () => {
  let w: StdioServer;
  let db: string;
  let demoMain: S; // a demo pipeline with stages and deals
  let demoOther: S;

  const c = () => w.client;
  const countDeals = async () => (await listAll(c(), 'list_deals', 'deals')).items.length;
  const countProjects = async () => (await listAll(c(), 'list_projects', 'projects')).items.length;
  const countPipelines = async () => (await listAll(c(), 'list_pipelines', 'pipelines')).items.length;

  async function restart(): Promise<void> {
    await w.close();
    w = await startStdio({ db });
  }

  /** A fresh pipeline with `n` stages, for tests that must not disturb the demo data. */
  async function scratchPipeline(n: number): Promise<{ pipeline: S; stages: S[] }> {
    const { s } = await ok(c(), 'create_pipeline', { name: `E2E ${uniq()}` });
    const stages: S[] = [];
    for (let i = 0; i < n; i++) {
      stages.push((await ok(c(), 'create_stage', { pipeline_id: s.pipeline.id, name: `Step ${i + 1} ${uniq()}` })).s.stage);
    }
    return { pipeline: s.pipeline, stages };
  }

  beforeAll(async () => {
    db = tempDbPath();
    w = await startStdio({ db });
    const pipelines = (await ok(c(), 'list_pipelines')).s.pipelines as S[];
    const full = await Promise.all(
      pipelines.map(async (p) => (await ok(c(), 'get_pipeline', { pipeline_id: p.id })).s.pipeline),
    );
    const withDeals = full.filter((p) => (p.open_deals?.count ?? 0) > 0 && p.stages.length > 1);
    demoMain = withDeals[0];
    demoOther = withDeals[1];
  });
  afterAll(async () => w?.close());

  it('pipeline: create, get, update, list, delete (confirm, dry run)', async () => {
    const name = `E2E Pipeline ${uniq()}`;
    const created = await ok(c(), 'create_pipeline', { name, is_deal_probability_enabled: false });
    expect(Object.keys(created.s)).toEqual(['pipeline']);
    const p = created.s.pipeline;
    expect(p).toMatchObject({ name, is_deal_probability_enabled: false });
    expect(typeof p.id).toBe('string');
    expect(p.remote_data).toBeUndefined();
    expect(created.text).toContain(named(p));

    const got = await ok(c(), 'get_pipeline', { pipeline_id: p.id });
    expect(got.s.pipeline).toMatchObject({ id: p.id, name });
    expect(got.s.pipeline.stages ?? []).toHaveLength(0);

    const renamed = `${name} renamed`;
    const updated = await ok(c(), 'update_pipeline', { pipeline_id: p.id, name: renamed });
    expect(updated.s.pipeline).toMatchObject({ id: p.id, name: renamed, is_deal_probability_enabled: false });
    expect(updated.text).toContain(named({ id: p.id, name: renamed }));
    const listed = await listAll(c(), 'list_pipelines', 'pipelines');
    expect(listed.items.find((x) => x.id === p.id)?.name).toBe(renamed);

    const noConfirm = await ok(c(), 'delete_pipeline', { pipeline_id: p.id });
    expect(noConfirm.s).toMatchObject({ deleted: false, pipeline: { id: p.id, name: renamed } });
    expect(noConfirm.text).toMatch(/confirm/);
    await ok(c(), 'get_pipeline', { pipeline_id: p.id });

    const dry = await ok(c(), 'delete_pipeline', { pipeline_id: p.id, confirm: true, dry_run: true });
    expect(Object.keys(dry.s)).toEqual(['dry_run']);
    expect(dry.s.dry_run.method).toBe('DELETE');
    expect(dry.s.dry_run.path).toContain(p.id);
    await ok(c(), 'get_pipeline', { pipeline_id: p.id });

    const del = await ok(c(), 'delete_pipeline', { pipeline_id: p.id, confirm: true });
    expect(del.s).toEqual({ deleted: true, pipeline: { id: p.id, name: renamed } });
    expect(del.text).toContain(named({ id: p.id, name: renamed }));
    expect(await fails(c(), 'get_pipeline', { pipeline_id: p.id })).toContain('list_pipelines');
  });

  it('a pipeline that holds deals is not deleted', async () => {
    const text = await fails(c(), 'delete_pipeline', { pipeline_id: demoMain.id, confirm: true });
    expect(text.length).toBeGreaterThan(10);
    expect((await ok(c(), 'get_pipeline', { pipeline_id: demoMain.id })).s.pipeline.stages.length).toBe(
      demoMain.stages.length,
    );
  });

  it('stage: create (end and position), list order, update, delete', async () => {
    const { pipeline } = await scratchPipeline(0);
    const a = await ok(c(), 'create_stage', { pipeline_id: pipeline.id, name: 'Alpha', probability: 20, color: '#123456' });
    expect(Object.keys(a.s)).toEqual(['stage']);
    expect(a.s.stage).toMatchObject({ name: 'Alpha', probability: 20, color: '#123456', status: 'active' });
    expect(a.s.stage.pipeline.id).toBe(pipeline.id);
    expect(a.text).toContain(named(a.s.stage));
    const b = (await ok(c(), 'create_stage', { pipeline_id: pipeline.id, name: 'Bravo' })).s.stage;
    expect(b.position).toBeGreaterThan(a.s.stage.position);
    const first = (await ok(c(), 'create_stage', { pipeline_id: pipeline.id, name: 'First', position: 1 })).s.stage;

    const order = (await ok(c(), 'list_stages', { pipeline_id: pipeline.id })).s.stages.map((s: S) => s.name);
    expect(order).toEqual(['First', 'Alpha', 'Bravo']);

    const upd = await ok(c(), 'update_stage', { stage_id: a.s.stage.id, probability: 55, status: 'inactive' });
    expect(upd.s.stage).toMatchObject({ id: a.s.stage.id, name: 'Alpha', probability: 55, status: 'inactive', color: '#123456' });
    expect((await ok(c(), 'get_stage', { stage_id: a.s.stage.id })).s.stage).toMatchObject({ probability: 55, status: 'inactive' });
    const inactive = (await ok(c(), 'list_stages', { pipeline_id: pipeline.id, status: 'inactive' })).s.stages;
    expect(inactive.map((s: S) => s.id)).toEqual([a.s.stage.id]);

    // A stage that holds deals is not deleted.
    const busy = demoMain.stages.find((st: S) => (st.open_deals?.count ?? 0) > 0);
    await fails(c(), 'delete_stage', { stage_id: busy.id, confirm: true });
    expect((await ok(c(), 'get_stage', { stage_id: busy.id })).s.stage.id).toBe(busy.id);

    const keep = await ok(c(), 'delete_stage', { stage_id: b.id });
    expect(keep.s).toMatchObject({ deleted: false, stage: { id: b.id, name: 'Bravo' } });
    expect(keep.text).toMatch(/confirm/);
    await ok(c(), 'get_stage', { stage_id: b.id });

    const gone = await ok(c(), 'delete_stage', { stage_id: b.id, confirm: true });
    expect(gone.s).toEqual({ deleted: true, stage: { id: b.id, name: 'Bravo' } });
    expect(await fails(c(), 'get_stage', { stage_id: b.id })).toContain('list_stages');
    const left = (await ok(c(), 'list_stages', { pipeline_id: pipeline.id })).s.stages.map((s: S) => s.id);
    expect(left).toEqual([first.id, a.s.stage.id]);
  });

  it('deal: create in a stage, move, update fields, read back', async () => {
    const { pipeline, stages } = await scratchPipeline(2);
    const before = await countDeals();
    const name = `E2E Deal ${uniq()}`;
    const created = await ok(c(), 'create_deal', {
      name,
      stage_id: stages[0].id,
      amount: 1234.5,
      currency: 'EUR',
      close_date: '2031-05-06',
    });
    expect(Object.keys(created.s)).toEqual(['deal']);
    const d = created.s.deal;
    expect(d).toMatchObject({ name, status: 'open', amount: 1234.5, currency: 'EUR', close_date: '2031-05-06' });
    expect(d.pipeline.id).toBe(pipeline.id);
    expect(d.stage).toMatchObject({ id: stages[0].id, name: stages[0].name });
    expect(created.text).toContain(named(d));
    expect(await countDeals()).toBe(before + 1);
    // A write answers with the record as read back: every field a detailed get shows.
    const readBack = (await ok(c(), 'get_deal', { deal_id: d.id, response_format: 'detailed' })).s.deal;
    expect(d).toEqual(readBack);

    const moved = await ok(c(), 'update_deal', { deal_id: d.id, stage_id: stages[1].id });
    expect(moved.s.deal.stage.id).toBe(stages[1].id);
    expect(moved.s.deal.pipeline.id).toBe(pipeline.id);
    expect(moved.s.deal.name).toBe(name);
    expect(moved.text).toContain(named(stages[1]));

    // Only the given field changes.
    const amount = await ok(c(), 'update_deal', { deal_id: d.id, amount: 99 });
    expect(amount.s.deal).toMatchObject({ amount: 99, currency: 'EUR', name, status: 'open' });
    expect(amount.s.deal.stage.id).toBe(stages[1].id);

    const won = await ok(c(), 'update_deal', { deal_id: d.id, status: 'won' });
    expect(won.s.deal.status).toBe('won');
    const got = (await ok(c(), 'get_deal', { deal_id: d.id, response_format: 'detailed' })).s.deal;
    expect(won.s.deal).toEqual(got);
    expect(got).toMatchObject({ id: d.id, name, status: 'won', amount: 99, currency: 'EUR' });
    expect(got.stage.id).toBe(stages[1].id);

    const needsField = await fails(c(), 'update_deal', { deal_id: d.id });
    expect(needsField).toMatch(/stage_id|name|amount/);
  });

  it('update_deal to a stage of another pipeline, or an unknown stage, is refused listing the pipeline stages', async () => {
    const deal = (await ok(c(), 'list_deals', { pipeline_id: demoMain.id, status: 'open', limit: 1 })).s.deals[0];
    const foreign = demoOther.stages[0];
    const ownNames = demoMain.stages.map((s: S) => s.name);

    const text = await fails(c(), 'update_deal', { deal_id: deal.id, stage_id: foreign.id });
    expect(ownNames.some((n: string) => text.includes(n))).toBe(true);
    expect(text).toContain(demoMain.stages[0].name);

    const unknown = await fails(c(), 'update_deal', { deal_id: deal.id, stage_id: '999999' });
    expect(unknown).toContain('999999');
    expect(unknown).toContain(demoMain.stages[0].name);

    // Nothing moved.
    const after = (await ok(c(), 'get_deal', { deal_id: deal.id })).s.deal;
    expect(after.stage.id).toBe(deal.stage.id);
    expect(after.pipeline.id).toBe(demoMain.id);
  });

  it('update_deal moves pipelines with pipeline_id and one of its stages', async () => {
    const { stages } = await scratchPipeline(1);
    const d = (await ok(c(), 'create_deal', { name: `Mover ${uniq()}`, stage_id: stages[0].id, amount: 10, currency: 'USD' })).s.deal;
    const target = demoOther.stages[demoOther.stages.length > 1 ? 1 : 0];

    const wrong = await fails(c(), 'update_deal', { deal_id: d.id, pipeline_id: demoOther.id, stage_id: stages[0].id });
    expect(wrong).toContain(demoOther.stages[0].name);

    const onlyPipeline = await fails(c(), 'update_deal', { deal_id: d.id, pipeline_id: demoOther.id });
    expect(onlyPipeline).toMatch(/stage_id/);
    expect(onlyPipeline).toContain(demoOther.stages[0].name);

    const moved = await ok(c(), 'update_deal', { deal_id: d.id, pipeline_id: demoOther.id, stage_id: target.id });
    expect(moved.s.deal.pipeline.id).toBe(demoOther.id);
    expect(moved.s.deal.stage.id).toBe(target.id);
    const got = (await ok(c(), 'get_deal', { deal_id: d.id })).s.deal;
    expect(got.pipeline.id).toBe(demoOther.id);
    expect(got.stage.id).toBe(target.id);
    const inTarget = await listAll(c(), 'list_deals', 'deals', { stage_id: target.id });
    expect(inTarget.items.map((x) => x.id)).toContain(d.id);
  });

  it('create_deal without stage_id, or with a stage outside pipeline_id, is refused', async () => {
    const before = await countDeals();
    const missing = await fails(c(), 'create_deal', { name: 'No stage' });
    expect(missing).toMatch(/stage_id/);
    const withPipeline = await fails(c(), 'create_deal', { name: 'No stage', pipeline_id: demoMain.id });
    expect(withPipeline).toMatch(/stage_id/);
    const outside = await fails(c(), 'create_deal', {
      name: 'Wrong place',
      pipeline_id: demoMain.id,
      stage_id: demoOther.stages[0].id,
    });
    expect(outside).toContain(demoMain.stages[0].name);
    expect(await countDeals()).toBe(before);
  });

  it('project: create with refs, update, read back, delete', async () => {
    const sample = (await listAll(c(), 'list_projects', 'projects', {}, 100)).items;
    const detailed = await Promise.all(
      sample.slice(0, 8).map(async (p) => (await ok(c(), 'get_project', { project_id: p.id, response_format: 'detailed' })).s.project),
    );
    const ref = detailed.find((p) => p.owner && p.account && p.tags?.length)!;
    expect(ref).toBeDefined();
    const deal = (await ok(c(), 'list_deals', { limit: 1 })).s.deals[0];
    const before = await countProjects();

    const name = `E2E Project ${uniq()}`;
    const created = await ok(c(), 'create_project', {
      name,
      description: 'Made by the e2e suite',
      status: 'in progress',
      amount: 5000,
      currency: 'USD',
      close_date: '2031-01-31',
      owner: { id: ref.owner.id },
      account: { id: ref.account.id },
      stage: { id: demoMain.stages[0].id },
      tags: [{ id: ref.tags[0].id }],
      opportunity: [{ id: deal.id }],
    });
    expect(Object.keys(created.s)).toEqual(['project']);
    const p = created.s.project;
    expect(p).toMatchObject({ name, description: 'Made by the e2e suite', status: 'in progress', amount: 5000, currency: 'USD' });
    expect(p.close_date).toMatch(/^2031-01-31/);
    expect(p.owner).toMatchObject({ id: ref.owner.id, name: ref.owner.name });
    expect(p.account).toMatchObject({ id: ref.account.id });
    expect(p.stage).toMatchObject({ id: demoMain.stages[0].id, name: demoMain.stages[0].name });
    expect(p.tags.map((t: S) => t.id)).toEqual([ref.tags[0].id]);
    expect(p.opportunity.map((o: S) => o.id)).toEqual([deal.id]);
    expect(created.text).toContain(named(p));
    expect(await countProjects()).toBe(before + 1);

    expect(p).toEqual((await ok(c(), 'get_project', { project_id: p.id, response_format: 'detailed' })).s.project);

    const upd = await ok(c(), 'update_project', { project_id: p.id, status: 'completed', tags: [] });
    expect(upd.s.project).toMatchObject({ id: p.id, name, status: 'completed', amount: 5000 });
    expect(upd.s.project.tags ?? []).toHaveLength(0);
    expect(upd.s.project.opportunity.map((o: S) => o.id)).toEqual([deal.id]);
    const got = (await ok(c(), 'get_project', { project_id: p.id, response_format: 'detailed' })).s.project;
    expect(got).toMatchObject({ status: 'completed', description: 'Made by the e2e suite' });

    const byName = await ok(c(), 'list_projects', { name: name.slice(4) });
    expect(byName.s.projects.map((x: S) => x.id)).toEqual([p.id]);

    const keep = await ok(c(), 'delete_project', { project_id: p.id });
    expect(keep.s).toMatchObject({ deleted: false, project: { id: p.id, name } });
    expect(keep.text).toMatch(/confirm/);
    expect(await countProjects()).toBe(before + 1);
    const gone = await ok(c(), 'delete_project', { project_id: p.id, confirm: true });
    expect(gone.s).toEqual({ deleted: true, project: { id: p.id, name } });
    expect(await countProjects()).toBe(before);
    expect(await fails(c(), 'get_project', { project_id: p.id })).toContain('list_projects');
  });

  it('dry_run on create, update and delete returns the request and changes nothing', async () => {
    const empty = await scratchPipeline(1);
    const pipelinesBefore = await countPipelines();
    const dealsBefore = await countDeals();
    const projectsBefore = await countProjects();
    const deal = (await ok(c(), 'list_deals', { pipeline_id: demoMain.id, limit: 1 })).s.deals[0];
    const project = (await ok(c(), 'list_projects', { limit: 1 })).s.projects[0];
    const stage = demoMain.stages[0];

    const expectDry = (s: S, method: string) => {
      expect(Object.keys(s)).toEqual(['dry_run']);
      expect(s.dry_run.method).toBe(method);
      expect(typeof s.dry_run.path).toBe('string');
      expect(s.dry_run.path.length).toBeGreaterThan(0);
    };

    const cp = await ok(c(), 'create_pipeline', { name: 'Dry pipeline', dry_run: true });
    expectDry(cp.s, 'POST');
    expect(cp.s.dry_run.body).toMatchObject({ name: 'Dry pipeline' });
    expect(cp.text).toMatch(/dry run/i);

    const cd = await ok(c(), 'create_deal', { name: 'Dry deal', stage_id: stage.id, amount: 5, dry_run: true, idempotency_key: `dry-${uniq()}` });
    expectDry(cd.s, 'POST');
    expect(cd.s.dry_run.body).toMatchObject({ name: 'Dry deal', amount: 5 });

    const cs = await ok(c(), 'create_stage', { pipeline_id: demoMain.id, name: 'Dry stage', dry_run: true });
    expectDry(cs.s, 'POST');

    const cpr = await ok(c(), 'create_project', { name: 'Dry project', status: 'open', dry_run: true });
    expectDry(cpr.s, 'POST');
    expect(cpr.s.dry_run.body).toMatchObject({ name: 'Dry project' });

    const ud = await ok(c(), 'update_deal', { deal_id: deal.id, name: 'Dry rename', dry_run: true });
    expectDry(ud.s, 'PATCH');
    expect(ud.s.dry_run.path).toContain(deal.id);
    expect(ud.s.dry_run.body).toEqual({ name: 'Dry rename' }); // only the fields given

    const us = await ok(c(), 'update_stage', { stage_id: stage.id, probability: 1, dry_run: true });
    expectDry(us.s, 'PATCH');
    const up = await ok(c(), 'update_pipeline', { pipeline_id: demoMain.id, name: 'Dry', dry_run: true });
    expectDry(up.s, 'PATCH');
    const upr = await ok(c(), 'update_project', { project_id: project.id, status: 'cancelled', dry_run: true });
    expectDry(upr.s, 'PATCH');

    const dp = await ok(c(), 'delete_project', { project_id: project.id, confirm: true, dry_run: true });
    expectDry(dp.s, 'DELETE');
    expect(dp.s.dry_run.path).toContain(project.id);
    const ds = await ok(c(), 'delete_stage', { stage_id: empty.stages[0].id, confirm: true, dry_run: true });
    expectDry(ds.s, 'DELETE');
    expect(ds.s.dry_run.path).toContain(empty.stages[0].id);
    const dpl = await ok(c(), 'delete_pipeline', { pipeline_id: empty.pipeline.id, confirm: true, dry_run: true });
    expectDry(dpl.s, 'DELETE');

    // Nothing changed.
    expect(await countPipelines()).toBe(pipelinesBefore);
    expect(await countDeals()).toBe(dealsBefore);
    expect(await countProjects()).toBe(projectsBefore);
    expect((await ok(c(), 'get_deal', { deal_id: deal.id })).s.deal.name).toBe(deal.name);
    expect((await ok(c(), 'get_stage', { stage_id: stage.id })).s.stage.probability).toBe(stage.probability);
    expect((await ok(c(), 'get_pipeline', { pipeline_id: demoMain.id })).s.pipeline.name).toBe(demoMain.name);
    const proj = (await ok(c(), 'get_project', { project_id: project.id })).s.project;
    expect(proj.status).toBe(project.status);
    const stages = (await ok(c(), 'list_stages', { pipeline_id: demoMain.id })).s.stages;
    expect(stages.map((s: S) => s.id)).toEqual(demoMain.stages.map((s: S) => s.id));
    await ok(c(), 'get_stage', { stage_id: empty.stages[0].id });
    await ok(c(), 'get_pipeline', { pipeline_id: empty.pipeline.id });
  });

  it('idempotency_key: a repeat returns the same record and creates nothing, even after a restart', async () => {
    const key = `e2e-${uniq()}-${Date.now()}`;
    const stage = demoMain.stages[0];
    const args = { name: `Idem ${key}`, stage_id: stage.id, amount: 700, currency: 'USD', idempotency_key: key };
    const before = await countDeals();
    const first = (await ok(c(), 'create_deal', args)).s.deal;
    const second = (await ok(c(), 'create_deal', args)).s.deal;
    expect(second.id).toBe(first.id);
    expect(await countDeals()).toBe(before + 1);

    const conflict = await fails(c(), 'create_deal', { ...args, name: 'Something else' });
    expect(conflict).toMatch(/idempotency_key|key/);
    expect(await countDeals()).toBe(before + 1);

    const pKey = `e2e-project-${uniq()}`;
    const projectsBefore = await countProjects();
    const p1 = (await ok(c(), 'create_project', { name: `Idem project ${pKey}`, idempotency_key: pKey })).s.project;
    const p2 = (await ok(c(), 'create_project', { name: `Idem project ${pKey}`, idempotency_key: pKey })).s.project;
    expect(p2.id).toBe(p1.id);
    const plKey = `e2e-pipeline-${uniq()}`;
    const pl1 = (await ok(c(), 'create_pipeline', { name: `Idem pipeline ${plKey}`, idempotency_key: plKey })).s.pipeline;
    const pl2 = (await ok(c(), 'create_pipeline', { name: `Idem pipeline ${plKey}`, idempotency_key: plKey })).s.pipeline;
    expect(pl2.id).toBe(pl1.id);
    const sKey = `e2e-stage-${uniq()}`;
    const s1 = (await ok(c(), 'create_stage', { pipeline_id: pl1.id, name: 'Only', idempotency_key: sKey })).s.stage;
    const s2 = (await ok(c(), 'create_stage', { pipeline_id: pl1.id, name: 'Only', idempotency_key: sKey })).s.stage;
    expect(s2.id).toBe(s1.id);
    expect((await ok(c(), 'list_stages', { pipeline_id: pl1.id })).s.stages).toHaveLength(1);
    expect(await countProjects()).toBe(projectsBefore + 1);

    await restart();
    const third = (await ok(c(), 'create_deal', args)).s.deal;
    expect(third.id).toBe(first.id);
    expect(await countDeals()).toBe(before + 1);
    expect((await ok(c(), 'create_project', { name: `Idem project ${pKey}`, idempotency_key: pKey })).s.project.id).toBe(p1.id);
    expect(await countProjects()).toBe(projectsBefore + 1);
    expect(await fails(c(), 'create_deal', { ...args, amount: 1 })).toMatch(/idempotency_key|key/);
  });

  it('data survives a restart', async () => {
    const { pipeline, stages } = await scratchPipeline(2);
    await ok(c(), 'update_pipeline', { pipeline_id: pipeline.id, name: `${pipeline.name} v2` });
    const d = (await ok(c(), 'create_deal', { name: `Durable ${uniq()}`, stage_id: stages[0].id, amount: 3, currency: 'GBP' })).s.deal;
    await ok(c(), 'update_deal', { deal_id: d.id, stage_id: stages[1].id });
    const dealsBefore = await countDeals();
    const oldPid = w.pid;

    await restart();
    expect(w.pid).not.toBe(oldPid);
    const p = (await ok(c(), 'get_pipeline', { pipeline_id: pipeline.id })).s.pipeline;
    expect(p.name).toBe(`${pipeline.name} v2`);
    expect(p.stages.map((s: S) => s.id)).toEqual(stages.map((s) => s.id));
    expect(p.open_deals.count).toBe(1);
    const got = (await ok(c(), 'get_deal', { deal_id: d.id })).s.deal;
    expect(got).toMatchObject({ name: d.name, amount: 3, currency: 'GBP' });
    expect(got.stage.id).toBe(stages[1].id);
    expect(await countDeals()).toBe(dealsBefore);
    // Reopening an existing file does not seed the demo data again.
    expect((await listAll(c(), 'list_pipelines', 'pipelines')).items.filter((x) => x.name === demoMain.name)).toHaveLength(1);
  });

  it('list_deals lists the most recently updated first', async () => {
    const page = (await ok(c(), 'list_deals', { limit: 30, response_format: 'detailed' })).s.deals as S[];
    const stamps = page.map((d) => d.updated_at as string);
    expect(stamps.every((t) => typeof t === 'string')).toBe(true);
    expect(stamps).toEqual([...stamps].sort().reverse());
    const last = page[page.length - 1];
    await ok(c(), 'update_deal', { deal_id: last.id, amount: (last.amount ?? 0) + 1 });
    expect((await ok(c(), 'list_deals', { limit: 1 })).s.deals[0].id).toBe(last.id);
  });

  it('update_deal status + stage changes show in the movement stats of today', async () => {
    const { pipeline, stages } = await scratchPipeline(2);
    const d = (await ok(c(), 'create_deal', { name: `Stats ${uniq()}`, stage_id: stages[0].id, amount: 100, currency: 'USD' })).s.deal;
    await ok(c(), 'update_deal', { deal_id: d.id, stage_id: stages[1].id });
    const today = todayUtc();
    const m = (await ok(c(), 'pipeline_movement_stats', { pipeline_id: pipeline.id, start_date: today, end_date: today })).s.stats;
    expect(m.new_deals).toMatchObject({ count: 1, deal_ids: [d.id] });
    expect(m.new_deals.values).toEqual({ USD: 100 });
    expect(m.movements_between_stages.count).toBe(1);
    expect(m.deals_left_open.deal_ids).toEqual([d.id]);
    await ok(c(), 'update_deal', { deal_id: d.id, status: 'won' });
    const m2 = (await ok(c(), 'pipeline_movement_stats', { pipeline_id: pipeline.id, start_date: today, end_date: today })).s.stats;
    expect(m2.won_deals).toMatchObject({ count: 1, deal_ids: [d.id] });
    expect(m2.deals_left_open.count).toBe(0);
    const conv = (await ok(c(), 'pipeline_conversion_stats', { pipeline_id: pipeline.id, start_date: today, end_date: today })).s.stats;
    expect(conv.won_conversion).toBe(100);
    expect(conv.stage_conversions[0]).toMatchObject({ from_stage: { id: stages[0].id }, to_stage: { id: stages[1].id }, conversion_rate: 100 });
  });
});

// =============================================================================================
// Two server processes sharing one database file (DESIGN §1: "safe when two server processes
// share one file").

describe('stdio: two processes on one database file', () => {
  it('seed once, share idempotency keys, and interleave writes without losing any', async () => {
    const db = tempDbPath();
    const [a, b] = await Promise.all([startStdio({ db }), startStdio({ db })]);
    try {
      const [da, dbb] = await Promise.all([
        listAll(a.client, 'list_deals', 'deals'),
        listAll(b.client, 'list_deals', 'deals'),
      ]);
      expect(da.items.length).toBeGreaterThanOrEqual(150);
      expect(dbb.items.map((d) => d.id).sort()).toEqual(da.items.map((d) => d.id).sort());
      const pipelines = (await ok(a.client, 'list_pipelines')).s.pipelines as S[];
      expect(new Set(pipelines.map((p) => p.name)).size).toBe(pipelines.length); // seeded once

      const stage = (await ok(a.client, 'list_stages', { status: 'active', limit: 1 })).s.stages[0];
      const key = `shared-${uniq()}`;
      const args = { name: `Shared ${key}`, stage_id: stage.id, amount: 1, idempotency_key: key };
      const [ra, rb] = await Promise.all([ok(a.client, 'create_deal', args), ok(b.client, 'create_deal', args)]);
      expect(ra.s.deal.id).toBe(rb.s.deal.id);

      const writes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => [
          ok(a.client, 'create_deal', { name: `A${i} ${key}`, stage_id: stage.id }),
          ok(b.client, 'create_deal', { name: `B${i} ${key}`, stage_id: stage.id }),
        ]).flat(),
      );
      expect(new Set(writes.map((w) => w.s.deal.id)).size).toBe(20);
      const after = await listAll(b.client, 'list_deals', 'deals');
      expect(after.items.length).toBe(da.items.length + 21);
      expect(new Set(after.items.map((d) => d.id)).size).toBe(after.items.length);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

// =============================================================================================
// Where the data lives: default file, relative --db, CRM_MCP_DB, a config file of connections.

describe('stdio: database location and connections', () => {
  it('without --db it serves the demo CRM from $HOME/.crm-mcp/crm.db', async () => {
    const s = await startStdio({ noDb: true });
    try {
      expect((await listAll(s.client, 'list_deals', 'deals')).items.length).toBeGreaterThanOrEqual(150);
      expect(existsSync(join(scratchHome(), '.crm-mcp', 'crm.db'))).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('a relative --db resolves against the working directory; CRM_MCP_DB works too', async () => {
    const rel = `relative-${uniq()}.db`;
    const viaEnv = `env-${uniq()}.db`;
    const a = await startStdio({ noDb: true, args: ['--db', rel] });
    const b = await startStdio({ noDb: true, env: { CRM_MCP_DB: viaEnv } });
    try {
      await ok(a.client, 'create_pipeline', { name: 'Relative' });
      await ok(b.client, 'list_pipelines');
      expect(existsSync(join(scratchDir(), rel))).toBe(true);
      expect(existsSync(join(scratchDir(), viaEnv))).toBe(true);
      const names = (await ok(b.client, 'list_pipelines')).s.pipelines.map((p: S) => p.name);
      expect(names).not.toContain('Relative'); // two files, two CRMs
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('--config serves named connections; `connection` picks one; writes stay in it', async () => {
    const config = join(scratchDir(), `connections-${uniq()}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        default: 'main',
        connections: {
          main: { provider: 'local', db: `main-${uniq()}.db` },
          sandbox: { provider: 'local', db: ':memory:' },
        },
      }),
    );
    const s = await startStdio({ noDb: true, args: ['--config', config] });
    try {
      const conns = (await ok(s.client, 'list_connections')).s.connections as S[];
      expect(conns.map((x) => x.name).sort()).toEqual(['main', 'sandbox']);
      expect(conns.find((x) => x.name === 'main')!.default).toBe(true);
      expect(conns.find((x) => x.name === 'sandbox')!.default).toBe(false);

      const created = (await ok(s.client, 'create_pipeline', { name: 'Sandbox only', connection: 'sandbox' })).s.pipeline;
      const inSandbox = (await ok(s.client, 'list_pipelines', { connection: 'sandbox' })).s.pipelines.map((p: S) => p.id);
      expect(inSandbox).toContain(created.id);
      const inMain = (await ok(s.client, 'list_pipelines')).s.pipelines.map((p: S) => p.name);
      expect(inMain).not.toContain('Sandbox only');

      const unknown = await fails(s.client, 'list_pipelines', { connection: 'prod' });
      expect(unknown).toMatch(/main/);
      expect(unknown).toMatch(/sandbox/);
    } finally {
      await s.close();
    }
  });

  it('a config file with a literal secret is refused without echoing it', async () => {
    const config = join(scratchDir(), `secret-${uniq()}.json`);
    const secret = `pd-${uniq()}-literal-secret`;
    writeFileSync(config, JSON.stringify({ connections: { crm: { provider: 'pipedrive', api_token: secret } } }));
    const r = await runCli(['--config', config]);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toMatch(/api_token/);
    expect(r.stderr + r.stdout).not.toContain(secret);
  });
});

// =============================================================================================
// Flags that shape the tool list.

describe('stdio: --read-only and --toolsets', () => {
  it('--read-only exposes only readOnlyHint tools', async () => {
    const s = await startStdio({ db: ':memory:', args: ['--read-only'] });
    try {
      const { tools } = await s.client.listTools();
      expect(sorted(tools.map((t) => t.name))).toEqual(sorted(READ_TOOLS));
      for (const t of tools) {
        expect(t.annotations?.readOnlyHint, t.name).toBe(true);
        expect(t.name).not.toMatch(/^(create|update|delete)_/);
      }
      const text = await refused(s, 'create_pipeline', { name: 'Sneaky' });
      expect(text).toMatch(/create_pipeline/);
      const names = (await ok(s.client, 'list_pipelines')).s.pipelines.map((p: S) => p.name);
      expect(names).not.toContain('Sneaky');
    } finally {
      await s.close();
    }
  });

  it('--toolsets stages,pipelines exposes only those plus list_connections, list_users and search', async () => {
    const s = await startStdio({ db: ':memory:', args: ['--toolsets', 'stages,pipelines'] });
    try {
      const { tools } = await s.client.listTools();
      expect(sorted(tools.map((t) => t.name))).toEqual(
        sorted(ALL_TOOLS.filter((n) => CORE_TOOLS.includes(n) || /_(pipeline|pipelines|stage|stages)$/.test(n))),
      );
      expect(tools).toHaveLength(13);
      await refused(s, 'list_deals', {});
    } finally {
      await s.close();
    }
  });

  it('--read-only --toolsets stages,pipelines, and the env equivalents', async () => {
    const both = await startStdio({ db: ':memory:', args: ['--read-only', '--toolsets', 'stages,pipelines'] });
    const env = await startStdio({ db: ':memory:', env: { CRM_MCP_READ_ONLY: '1', CRM_MCP_TOOLSETS: 'stats' } });
    try {
      expect(sorted((await both.client.listTools()).tools.map((t) => t.name))).toEqual(
        sorted([...CORE_TOOLS, 'list_pipelines', 'get_pipeline', 'list_stages', 'get_stage']),
      );
      expect(sorted((await env.client.listTools()).tools.map((t) => t.name))).toEqual(
        sorted([...CORE_TOOLS, 'pipeline_conversion_stats', 'pipeline_movement_stats']),
      );
    } finally {
      await Promise.all([both.close(), env.close()]);
    }
  });
});

// =============================================================================================
// The command line itself.

describe('cli', () => {
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  it('--help exits 0 with usage on stdout', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage/);
    for (const flag of ['--db', '--http', '--port', '--read-only', '--toolsets']) expect(r.stdout).toContain(flag);
  });

  it('--version exits 0 with the package version on stdout', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
    const short = await runCli(['-v']);
    expect(short.code).toBe(0);
    expect(short.stdout.trim()).toBe(version);
  });

  const bad: Array<{ label: string; args: string[]; env?: Record<string, string>; names: RegExp }> = [
    { label: '--port abc', args: ['--port', 'abc'], names: /--port/ },
    { label: '--port 70000', args: ['--http', '--port', '70000'], names: /--port/ },
    { label: 'CRM_MCP_PORT=abc', args: [], env: { CRM_MCP_PORT: 'abc' }, names: /CRM_MCP_PORT/ },
    { label: '--toolsets nope', args: ['--toolsets', 'nope'], names: /--toolsets[\s\S]*nope|nope[\s\S]*--toolsets/ },
    { label: 'CRM_MCP_TOOLSETS=nope', args: [], env: { CRM_MCP_TOOLSETS: 'nope' }, names: /CRM_MCP_TOOLSETS/ },
    { label: 'CRM_PROVIDER=bogus', args: [], env: { CRM_PROVIDER: 'bogus' }, names: /CRM_PROVIDER/ },
    { label: '--log-level loud', args: ['--log-level', 'loud'], names: /--log-level/ },
    { label: 'CRM_MCP_READ_ONLY=maybe', args: [], env: { CRM_MCP_READ_ONLY: 'maybe' }, names: /CRM_MCP_READ_ONLY/ },
    { label: 'unknown flag', args: ['--bogus-flag'], names: /bogus-flag/ },
    { label: 'pipedrive without token', args: [], env: { CRM_PROVIDER: 'pipedrive' }, names: /PIPEDRIVE_API_TOKEN/ },
    { label: 'capsule without token', args: [], env: { CRM_PROVIDER: 'capsule' }, names: /CAPSULE_API_TOKEN/ },
    { label: 'insightly without token', args: [], env: { CRM_PROVIDER: 'insightly', INSIGHTLY_POD: 'na1' }, names: /INSIGHTLY_API_KEY/ },
    { label: 'outreach without token', args: [], env: { CRM_PROVIDER: 'outreach' }, names: /OUTREACH_ACCESS_TOKEN[\s\S]*OUTREACH_REFRESH_TOKEN/ },
    { label: 'missing --config file', args: ['--config', 'does-not-exist.json'], names: /--config/ },
  ];
  for (const b of bad) {
    it(`bad config (${b.label}) exits non-zero naming the setting on stderr`, async () => {
      const r = await runCli(['--db', ':memory:', ...b.args], { env: b.env });
      expect(r.timedOut).toBe(false);
      expect(r.code).not.toBe(0);
      expect(r.code).not.toBeNull();
      expect(r.stderr).toMatch(b.names);
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/); // a message, not a stack trace
      expect(r.stdout).toBe('');
    });
  }

  it('a short CRM_MCP_AUTH_TOKEN draws a warning that does not echo it', async () => {
    const secret = 'tooshort-xyz';
    const r = await runCli(['--db', ':memory:'], { env: { CRM_MCP_AUTH_TOKEN: secret } });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/CRM_MCP_AUTH_TOKEN is shorter than 16 characters/);
    expect(r.stderr + r.stdout).not.toContain(secret);
  });
});

// =============================================================================================
// Nothing but JSON-RPC on stdout.

describe('stdio: stdout carries only JSON-RPC', () => {
  it('every stdout line is a JSON-RPC message, even with debug logging and failing calls', async () => {
    const raw = spawnRawStdio({ db: tempDbPath(), logLevel: 'debug' });
    const { child } = raw;
    let stdout = '';
    let stderr = '';
    const responses = new Map<number | string | null, S>();
    let waiters: Array<() => void> = [];
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      for (const line of stdout.split('\n').slice(0, -1)) {
        try {
          const msg = JSON.parse(line) as S;
          if ('id' in msg) responses.set(msg.id, msg);
        } catch {
          // checked below
        }
      }
      for (const w of waiters) w();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const send = (msg: object | string) => child.stdin.write(`${typeof msg === 'string' ? msg : JSON.stringify(msg)}\n`);
    const waitFor = (ids: Array<number | string>) =>
      new Promise<void>((resolveWait, reject) => {
        const check = () => {
          if (ids.every((id) => responses.has(id))) {
            waiters = waiters.filter((w) => w !== check);
            resolveWait();
          }
        };
        waiters.push(check);
        void raw.exited.then(() => reject(new Error(`server exited early; stderr:\n${stderr}`)));
        check();
      });

    try {
      send({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
      });
      await waitFor([1]);
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'list_pipelines', arguments: {} } });
      send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'get_deal', arguments: { deal_id: '999999' } } });
      send({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'list_deals', arguments: { limit: 'x' } } });
      send({ jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'no_such_tool', arguments: {} } });
      send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'create_pipeline', arguments: { name: 'Raw pipeline' } } });
      send({ jsonrpc: '2.0', id: 8, method: 'prompts/list' });
      await waitFor([2, 3, 4, 5, 6, 7, 8]);

      expect((responses.get(2)!.result.tools as S[]).length).toBe(ALL_TOOLS.length);
      expect(responses.get(3)!.result.isError).toBeFalsy();
      expect(responses.get(4)!.result.isError).toBe(true);
      expect(responses.get(5)!.result.isError).toBe(true);
      expect(responses.get(7)!.result.structuredContent.pipeline.name).toBe('Raw pipeline');
    } finally {
      child.stdin.end();
    }
    const { code } = await raw.exited;
    await raw.stop();
    expect(code).toBe(0); // stdin closed: a clean exit

    const lines = stdout.split('\n').filter((l) => l.length > 0);
    expect(lines.length).toBeGreaterThanOrEqual(8);
    for (const line of lines) {
      let msg: S;
      try {
        msg = JSON.parse(line) as S;
      } catch {
        throw new Error(`non-JSON line on stdout: ${line.slice(0, 200)}`);
      }
      expect(msg.jsonrpc, line.slice(0, 200)).toBe('2.0');
      expect('result' in msg || 'error' in msg || 'method' in msg, line.slice(0, 200)).toBe(true);
    }
    // The logs went to stderr, as JSON lines.
    expect(logLines(stderr).length).toBeGreaterThan(0);
  });

  it('a malformed line on stdin does not put anything but JSON-RPC on stdout', async () => {
    const raw = spawnRawStdio({ db: ':memory:', logLevel: 'trace' });
    let stdout = '';
    let stderr = '';
    raw.child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    raw.child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    raw.child.stdin.write('this is not json\n');
    raw.child.stdin.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } })}\n`,
    );
    await new Promise<void>((r) => {
      const check = () => {
        if (/"id":1/.test(stdout)) r();
      };
      raw.child.stdout.on('data', check);
      void raw.exited.then(() => r());
      check();
    });
    raw.child.stdin.end();
    await raw.exited;
    await raw.stop();
    for (const line of stdout.split('\n').filter(Boolean)) {
      expect(() => JSON.parse(line), line.slice(0, 200)).not.toThrow();
      expect((JSON.parse(line) as S).jsonrpc).toBe('2.0');
    }
    expect(stdout, `no answer to initialize; stderr:\n${stderr}`).toMatch(/"id":1/);
  });
});
