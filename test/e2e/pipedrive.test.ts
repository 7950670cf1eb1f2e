/**
 * End-to-end with CRM_PROVIDER=pipedrive: the built binary (`node dist/cli.js`) spawned over stdio
 * (and once over HTTP), driven by the real MCP client, against the stateful fake Pipedrive on
 * 127.0.0.1 (test/fakes/pipedrive.ts). Checks every tool Pipedrive supports end to end, that the
 * others say plainly they are not supported, the exact upstream requests of writes, dry runs,
 * retries of reads, no blind retry of writes, idempotent creates (also across a restart),
 * cancellation, and that the API token never leaks into outputs or logs.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_TOKEN, startFakePipedrive, type FakePipedrive } from '../fakes/pipedrive.js';
import type { RecordedRequest } from '../fakes/server.js';
import { RECORD_TOOL_NAMES } from '../helpers/records-suite.js';
import {
  call,
  fails,
  listAll,
  ok,
  recordLines,
  recordResults,
  textOf,
  until,
  type S,
} from '../helpers/mcp.js';
import {
  isolatedDbPath,
  logLines,
  startHttp,
  startStdio,
  stopAll,
  type StdioServer,
} from '../helpers/server.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const TOKEN = DEFAULT_TOKEN;

let fake: FakePipedrive;
beforeAll(async () => {
  fake = await startFakePipedrive();
});
afterAll(async () => {
  await stopAll();
  await fake?.stop();
});

const pipedriveEnv = (): Record<string, string> => ({
  CRM_PROVIDER: 'pipedrive',
  PIPEDRIVE_API_TOKEN: TOKEN,
  PIPEDRIVE_BASE_URL: fake.url,
});

/** Requests the fake received since `mark` (an index into server.requests). */
const since = (mark: number): RecordedRequest[] => fake.server.requests.slice(mark);
const writesSince = (mark: number) => since(mark).filter((r) => r.method !== 'GET');
const mark = () => fake.server.requests.length;
const wire = (r: RecordedRequest) => ({ method: r.method, path: r.path, body: r.body });

// Names as the fake knows them, to check that records read as names.
const stageName = (id: number) => fake.state.stages.get(id)!.name;
const userName = (id: number) => fake.state.users.get(id)!.name;
const pipelineName = (id: number) => fake.state.pipelines.get(id)!.name;
const liveStages = (pipelineId: number) =>
  [...fake.state.stages.values()]
    .filter((s) => s.pipeline_id === pipelineId && !s.is_deleted)
    .sort((a, b) => a.order_nr - b.order_nr);
const openDeals = (pipelineId: number) =>
  [...fake.state.deals.values()].filter((d) => d.pipeline_id === pipelineId && d.status === 'open' && !d.is_deleted);

const SUPPORTED = {
  pipelines: ['list', 'get', 'create', 'update', 'delete'],
  stages: ['list', 'get', 'create', 'update', 'delete'],
  deals: ['list', 'get', 'create', 'update'],
  accounts: ['list', 'get', 'create', 'update'],
  contacts: ['list', 'get', 'create', 'update'],
  users: ['list', 'get'],
  activities: ['list', 'get', 'create', 'update'],
  stats: ['conversion', 'movement'],
  search: ['deals', 'accounts', 'contacts', 'users'],
};

const ALL_TOOLS = [
  'list_connections',
  'list_pipelines',
  'get_pipeline',
  'create_pipeline',
  'update_pipeline',
  'delete_pipeline',
  'list_stages',
  'get_stage',
  'create_stage',
  'update_stage',
  'delete_stage',
  'list_deals',
  'get_deal',
  'create_deal',
  'update_deal',
  'list_projects',
  'get_project',
  'create_project',
  'update_project',
  'delete_project',
  'pipeline_conversion_stats',
  'pipeline_movement_stats',
  // The records around a deal: test/e2e/pipedrive-records.test.ts runs them on Pipedrive.
  ...RECORD_TOOL_NAMES,
];

/** The "not supported" sentence: names Pipedrive and what this connection does support. */
function expectNotSupported(text: string, what: RegExp): void {
  expect(text).toMatch(/Pipedrive does not support/);
  expect(text).toMatch(what);
  expect(text).toContain('pipelines (list, get, create, update, delete)');
  expect(text).toContain('stages (list, get, create, update, delete)');
  expect(text).toContain('deals (list, get, create, update)');
  expect(text).toContain('stats (conversion, movement)');
  expect(text).toContain('activities (list, get, create, update)');
}

/** Debug-level upstream lines prove the stderr check below looked at verbose logs. */
function expectNoTokenInLogs(stderr: string): void {
  const lines = logLines(stderr);
  expect(lines.some((l) => l.level === 20 && l.msg === 'upstream request')).toBe(true);
  expect(stderr).not.toContain(TOKEN);
}

// =============================================================================================

describe('pipedrive over stdio: one server at log level debug', () => {
  let srv: StdioServer;
  let outputs: string[];

  beforeAll(async () => {
    srv = await startStdio({ db: isolatedDbPath(), env: pipedriveEnv(), logLevel: 'debug' });
    outputs = recordResults(srv.client);
  });
  afterAll(async () => srv?.close());

  describe('tools and connections', () => {
    it('offers all 35 tools (no delete_deal), open-world, and no remote_query on lists', async () => {
      const tools = (await srv.client.listTools()).tools as S[];
      expect(tools.map((t) => t.name).sort()).toEqual([...ALL_TOOLS].sort());
      for (const t of tools) expect(t.annotations?.openWorldHint, t.name).toBe(true);
      for (const name of ['list_pipelines', 'list_stages', 'list_deals', 'list_projects']) {
        const t = tools.find((x) => x.name === name)!;
        expect(Object.keys(t.inputSchema.properties ?? {}), name).not.toContain('remote_query');
      }
    });

    it('list_connections names the Pipedrive connection and exactly what it supports', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'list_connections');
      expect(s.connections).toEqual([{ name: 'pipedrive', provider: 'pipedrive', default: true, supports: SUPPORTED }]);
      expect(text).toContain('pipedrive (default): pipedrive');
      expect(text).toContain('deals list/get/create/update');
      expect(text).toContain('stats conversion/movement');
      expect(since(m)).toHaveLength(0);
    });
  });

  describe('pipelines', () => {
    it('list_pipelines: the fake pipelines by name', async () => {
      const { s, text } = await ok(srv.client, 'list_pipelines');
      const expected = [...fake.state.pipelines.values()].filter((p) => !p.is_deleted);
      expect(s.pipelines.map((p: S) => ({ id: p.id, name: p.name }))).toEqual(
        expected.map((p) => ({ id: String(p.id), name: p.name })),
      );
      expect(s.next_cursor).toBeNull();
      expect(recordLines(text)).toEqual(expected.map((p) => `- ${p.name} (${p.id})`));
    });

    it('get_pipeline: ordered stages with names and open deals per stage', async () => {
      const { s, text } = await ok(srv.client, 'get_pipeline', { pipeline_id: '1' });
      const p = s.pipeline;
      expect(p).toMatchObject({ id: '1', name: 'Sales' });
      const stages = liveStages(1);
      expect(p.stages.map((st: S) => st.name)).toEqual(stages.map((st) => st.name));
      expect(p.stages.map((st: S) => st.position)).toEqual(stages.map((_, i) => i + 1));
      const open = openDeals(1);
      expect(p.open_deals.count).toBe(open.length);
      for (const st of p.stages) {
        expect(st.open_deals.count, st.name).toBe(open.filter((d) => String(d.stage_id) === st.id).length);
        expect(st.pipeline).toEqual({ id: '1', name: 'Sales' });
      }
      expect(text.split('\n')[0]).toMatch(new RegExp(`^Pipeline Sales \\(1\\) · ${open.length} open`));
      stages.forEach((st, i) => expect(text).toContain(`${i + 1}. ${st.name} (${st.id})`));
    });

    it('create, update, delete: exact requests, read-back, confirm guard', async () => {
      let m = mark();
      const created = await ok(srv.client, 'create_pipeline', { name: 'E2E Pipeline', is_deal_probability_enabled: true });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'POST', path: '/api/v2/pipelines', body: { name: 'E2E Pipeline', is_deal_probability_enabled: true } },
      ]);
      const id = created.s.pipeline.id as string;
      expect(created.s.pipeline).toMatchObject({ name: 'E2E Pipeline', is_deal_probability_enabled: true });
      expect(created.text).toContain(`Created pipeline E2E Pipeline (${id})`);
      expect(fake.state.pipelines.get(Number(id))?.name).toBe('E2E Pipeline');

      m = mark();
      const updated = await ok(srv.client, 'update_pipeline', { pipeline_id: id, name: 'E2E Pipeline renamed' });
      // Only the field given is sent.
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'PATCH', path: `/api/v2/pipelines/${id}`, body: { name: 'E2E Pipeline renamed' } },
      ]);
      expect(updated.s.pipeline).toMatchObject({ id, name: 'E2E Pipeline renamed', is_deal_probability_enabled: true });
      expect(updated.text).toContain(`E2E Pipeline renamed (${id})`);

      const got = await ok(srv.client, 'get_pipeline', { pipeline_id: id });
      expect(got.s.pipeline.stages).toEqual([]);

      m = mark();
      const preview = await ok(srv.client, 'delete_pipeline', { pipeline_id: id });
      expect(preview.s).toEqual({ deleted: false, pipeline: { id, name: 'E2E Pipeline renamed' } });
      expect(preview.text).toContain('confirm: true');
      expect(writesSince(m)).toHaveLength(0);
      expect(fake.state.pipelines.get(Number(id))?.is_deleted).toBe(false);

      m = mark();
      const deleted = await ok(srv.client, 'delete_pipeline', { pipeline_id: id, confirm: true });
      expect(deleted.s).toEqual({ deleted: true, pipeline: { id, name: 'E2E Pipeline renamed' } });
      expect(deleted.text).toBe(`Deleted pipeline E2E Pipeline renamed (${id}).`);
      expect(writesSince(m).map(wire)).toEqual([{ method: 'DELETE', path: `/api/v2/pipelines/${id}`, body: undefined }]);
      expect(fake.state.pipelines.get(Number(id))?.is_deleted).toBe(true);

      const gone = await fails(srv.client, 'get_pipeline', { pipeline_id: id });
      expect(gone).toMatch(/deleted/i);
      expect(gone).toContain('list_pipelines');
    });
  });

  describe('stages', () => {
    it('list_stages: a pipeline in order, with its name on every line', async () => {
      const { s, text } = await ok(srv.client, 'list_stages', { pipeline_id: '2' });
      const stages = liveStages(2);
      expect(s.stages.map((st: S) => [st.id, st.name, st.position])).toEqual(
        stages.map((st) => [String(st.id), st.name, st.order_nr]),
      );
      const lines = recordLines(text);
      stages.forEach((st, i) => expect(lines[i]).toContain(`${st.name} (${st.id}) · #${st.order_nr} in Partnerships (2)`));
    });

    it('list_stages by name (done client-side); status is refused plainly', async () => {
      const { s } = await ok(srv.client, 'list_stages', { name: 'Contract Sent' });
      expect(s.stages.map((st: S) => st.name)).toEqual(['Contract Sent']);
      const err = await fails(srv.client, 'list_stages', { status: 'inactive' });
      expect(err).toMatch(/Pipedrive cannot filter stages by `status`/);
    });

    it('get_stage: name, position and pipeline name', async () => {
      const { s, text } = await ok(srv.client, 'get_stage', { stage_id: '3' });
      expect(s.stage).toMatchObject({ id: '3', name: 'Demo Scheduled', position: 3, status: 'active', probability: 40 });
      expect(s.stage.pipeline).toEqual({ id: '1', name: 'Sales' });
      expect(text).toContain('Stage Demo Scheduled (3) · #3 in Sales (1) · 40%');
    });

    it('create, update, delete: exact requests; unsupported fields refused before sending', async () => {
      let m = mark();
      const created = await ok(srv.client, 'create_stage', { pipeline_id: '2', name: 'E2E Stage', probability: 55 });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'POST', path: '/api/v2/stages', body: { name: 'E2E Stage', pipeline_id: 2, deal_probability: 55 } },
      ]);
      const id = created.s.stage.id as string;
      expect(created.s.stage).toMatchObject({ name: 'E2E Stage', probability: 55, pipeline: { id: '2', name: 'Partnerships' } });
      expect(created.text).toContain(`Created stage E2E Stage (${id}) · #${liveStages(2).length} in Partnerships (2) · 55%`);

      m = mark();
      const updated = await ok(srv.client, 'update_stage', { stage_id: id, probability: 65 });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'PATCH', path: `/api/v2/stages/${id}`, body: { deal_probability: 65 } }]);
      expect(updated.s.stage).toMatchObject({ id, name: 'E2E Stage', probability: 65 });

      m = mark();
      const color = await fails(srv.client, 'create_stage', { pipeline_id: '2', name: 'Coloured', color: '#ff0000' });
      expect(color).toMatch(/Pipedrive does not support `color`/);
      expect(color).toContain('supported fields: pipeline_id, name, probability');
      expect(since(m)).toHaveLength(0);

      m = mark();
      const preview = await ok(srv.client, 'delete_stage', { stage_id: id });
      expect(preview.s).toEqual({ deleted: false, stage: { id, name: 'E2E Stage' } });
      expect(writesSince(m)).toHaveLength(0);

      m = mark();
      const deleted = await ok(srv.client, 'delete_stage', { stage_id: id, confirm: true });
      expect(deleted.s).toEqual({ deleted: true, stage: { id, name: 'E2E Stage' } });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'DELETE', path: `/api/v2/stages/${id}`, body: undefined }]);
      expect(fake.state.stages.get(Number(id))?.is_deleted).toBe(true);
    });
  });

  describe('deals', () => {
    it('list_deals: every line shows the stage and owner names', async () => {
      const { s, text } = await ok(srv.client, 'list_deals', { limit: 20 });
      expect(s.deals).toHaveLength(20);
      expect(typeof s.next_cursor).toBe('string');
      const lines = recordLines(text);
      s.deals.forEach((d: S, i: number) => {
        const native = fake.state.deals.get(Number(d.id))!;
        expect(d.stage).toEqual({ id: String(native.stage_id), name: stageName(native.stage_id) });
        expect(d.owner).toEqual({ id: String(native.owner_id), name: userName(native.owner_id) });
        expect(d.pipeline).toEqual({ id: String(native.pipeline_id), name: pipelineName(native.pipeline_id) });
        expect(lines[i]).toContain(`${native.title} (${native.id}) · ${stageName(native.stage_id)} (${native.stage_id})`);
        expect(lines[i]).toContain(`${userName(native.owner_id)} (${native.owner_id})`);
      });
      expect(text).toContain('More: call list_deals again');
    });

    it('list_deals filters reach Pipedrive and the answer matches its records', async () => {
      const { items } = await listAll(srv.client, 'list_deals', 'deals', { pipeline_id: '2', status: 'won' });
      const expected = [...fake.state.deals.values()].filter((d) => d.pipeline_id === 2 && d.status === 'won' && !d.is_deleted);
      expect(items.length).toBeGreaterThan(0);
      expect(items.map((d) => d.id).sort()).toEqual(expected.map((d) => String(d.id)).sort());
      for (const d of items) expect(d).toMatchObject({ status: 'won', pipeline: { id: '2', name: 'Partnerships' } });
    });

    it('get_deal: stage, pipeline, owner and account by name', async () => {
      const native = [...fake.state.deals.values()].find((d) => d.org_id !== null && !d.is_deleted)!;
      const { s, text } = await ok(srv.client, 'get_deal', { deal_id: String(native.id) });
      expect(s.deal).toMatchObject({
        id: String(native.id),
        name: native.title,
        stage: { id: String(native.stage_id), name: stageName(native.stage_id) },
        owner: { id: String(native.owner_id), name: userName(native.owner_id) },
      });
      const org = fake.state.orgs.get(native.org_id!)!;
      expect(text).toContain(`Deal ${native.title} (${native.id}) · ${stageName(native.stage_id)} (${native.stage_id})`);
      expect(text).toContain(`pipeline ${pipelineName(native.pipeline_id)} (${native.pipeline_id})`);
      expect(text).toContain(`${userName(native.owner_id)} (${native.owner_id})`);
      expect(text).toContain(`account ${org.name} (${org.id})`);

      // Detailed, with the raw record: every field, and Pipedrive's own record as remote_data.
      const full = await ok(srv.client, 'get_deal', {
        deal_id: String(native.id),
        response_format: 'detailed',
        include_remote_data: true,
      });
      expect(full.s.deal.account).toEqual({ id: String(org.id), name: org.name });
      expect(full.s.deal.remote_data).toMatchObject({ id: native.id, title: native.title, stage_id: native.stage_id });
    });

    let dealId: string;

    it('create_deal: exact POST, read back with names', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'create_deal', {
        name: 'E2E Deal',
        stage_id: '7',
        amount: 1234.5,
        currency: 'EUR',
        owner_id: '2',
        close_date: '2026-12-24',
      });
      expect(writesSince(m).map(wire)).toEqual([
        {
          method: 'POST',
          path: '/api/v2/deals',
          body: {
            title: 'E2E Deal',
            pipeline_id: 2,
            stage_id: 7,
            value: 1234.5,
            currency: 'EUR',
            owner_id: 2,
            expected_close_date: '2026-12-24',
          },
        },
      ]);
      dealId = s.deal.id;
      expect(s.deal).toMatchObject({
        name: 'E2E Deal',
        status: 'open',
        pipeline: { id: '2', name: 'Partnerships' },
        stage: { id: '7', name: 'Evaluation' },
        owner: { id: '2', name: 'Bob Seller' },
        amount: 1234.5,
        currency: 'EUR',
      });
      expect(text).toBe(`Created deal E2E Deal (${dealId}) · Evaluation (7) · open · 1,234.5 EUR · Bob Seller (2).`);
      expect(fake.state.deals.get(Number(dealId))?.title).toBe('E2E Deal');
    });

    it('update_deal: a move sends only stage_id; status and value only what was given', async () => {
      let m = mark();
      const moved = await ok(srv.client, 'update_deal', { deal_id: dealId, stage_id: '8' });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'PATCH', path: `/api/v2/deals/${dealId}`, body: { stage_id: 8 } }]);
      expect(moved.s.deal.stage).toEqual({ id: '8', name: 'Contract Sent' });
      expect(moved.text).toContain(`Updated deal E2E Deal (${dealId}) · Contract Sent (8) · pipeline Partnerships (2)`);

      m = mark();
      const won = await ok(srv.client, 'update_deal', { deal_id: dealId, status: 'won', amount: 2000 });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'PATCH', path: `/api/v2/deals/${dealId}`, body: { value: 2000, status: 'won' } },
      ]);
      expect(won.s.deal).toMatchObject({ status: 'won', amount: 2000, owner: { id: '2', name: 'Bob Seller' } });
    });

    it("update_deal to a stage of another pipeline is refused with the pipeline's stages; no PATCH", async () => {
      const m = mark();
      const err = await fails(srv.client, 'update_deal', { deal_id: dealId, stage_id: '2' });
      expect(err).toContain("Stage '2' is not a stage of Partnerships (2)");
      for (const st of liveStages(2)) expect(err).toContain(`${st.name} (${st.id})`);
      expect(err).not.toContain('Contact Made');
      expect(err).toContain('pipeline_id');
      expect(writesSince(m)).toHaveLength(0);
      expect(fake.state.deals.get(Number(dealId))?.stage_id).toBe(8);
    });

    it('update_deal with pipeline_id and a stage of that pipeline moves it across', async () => {
      const m = mark();
      const { s } = await ok(srv.client, 'update_deal', { deal_id: dealId, pipeline_id: '1', stage_id: '2' });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'PATCH', path: `/api/v2/deals/${dealId}`, body: { pipeline_id: 1, stage_id: 2 } },
      ]);
      expect(s.deal).toMatchObject({ pipeline: { id: '1', name: 'Sales' }, stage: { id: '2', name: 'Contact Made' } });
    });
  });

  describe('statistics', () => {
    it('pipeline_conversion_stats: v1 request, stages by name', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'pipeline_conversion_stats', {
        pipeline_id: '1',
        start_date: '2026-01-01',
        end_date: '2026-12-31',
      });
      const statsReq = since(m).filter((r) => r.path === '/api/v1/pipelines/1/conversion_statistics');
      expect(statsReq).toHaveLength(1);
      expect(statsReq[0].query).toMatchObject({ start_date: '2026-01-01', end_date: '2026-12-31' });
      expect(s.stats.pipeline).toEqual({ id: '1', name: 'Sales' });
      expect(s.stats.period).toEqual({ start_date: '2026-01-01', end_date: '2026-12-31' });
      const stages = liveStages(1);
      expect(s.stats.stage_conversions.map((c: S) => [c.from_stage.name, c.to_stage.name])).toEqual(
        stages.slice(0, -1).map((st, i) => [st.name, stages[i + 1].name]),
      );
      expect(typeof s.stats.won_conversion).toBe('number');
      // Without user_id Pipedrive counts the token's own user; the answer says so.
      const me = fake.state.users.get(fake.state.authUserId)!;
      expect(s.stats.user).toEqual({ id: String(me.id), name: me.name });
      expect(text.split('\n')[0]).toBe(`Conversion in Sales (1), 2026-01-01 to 2026-12-31, deals owned by ${me.name} (${me.id}) only`);
      expect(text).toContain(`${stages[0].name} (${stages[0].id}) → ${stages[1].name} (${stages[1].id}):`);
      expect(text).toMatch(/Won: \d+(\.\d+)?% · Lost: \d+(\.\d+)?%/);
    });

    it('pipeline_movement_stats: groups with counts and values, ages by stage name', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'pipeline_movement_stats', {
        pipeline_id: '2',
        start_date: '2026-01-01',
        end_date: '2026-12-31',
        user_id: '2',
      });
      const statsReq = since(m).filter((r) => r.path === '/api/v1/pipelines/2/movement_statistics');
      expect(statsReq).toHaveLength(1);
      expect(statsReq[0].query).toMatchObject({ start_date: '2026-01-01', end_date: '2026-12-31', user_id: '2' });
      expect(s.stats.pipeline).toEqual({ id: '2', name: 'Partnerships' });
      for (const g of ['new_deals', 'won_deals', 'lost_deals', 'deals_left_open']) {
        expect(typeof s.stats[g].count, g).toBe('number');
        expect(typeof s.stats[g].values, g).toBe('object');
      }
      expect(s.stats.average_age_in_days.by_stages.map((b: S) => b.stage.name)).toEqual(liveStages(2).map((st) => st.name));
      const two = fake.state.users.get(2)!;
      expect(s.stats.user).toEqual({ id: '2', name: two.name });
      expect(text.split('\n')[0]).toBe(`Movement in Partnerships (2), 2026-01-01 to 2026-12-31, deals owned by ${two.name} (2) only`);
      expect(text).toMatch(/^New: \d+/m);
      expect(text).toMatch(/^Left open: \d+/m);
    });
  });

  describe('what Pipedrive does not support', () => {
    it('every project tool says so plainly, naming Pipedrive and what it supports; nothing is sent', async () => {
      const cases: Array<[string, Record<string, unknown>, RegExp]> = [
        ['list_projects', {}, /listing projects/],
        ['get_project', { project_id: '1' }, /reading projects/],
        ['create_project', { name: 'P' }, /creating projects/],
        ['create_project', { name: 'P', dry_run: true }, /creating projects/],
        ['update_project', { project_id: '1', name: 'Q' }, /updating projects/],
        ['delete_project', { project_id: '1' }, /deleting projects/],
        ['delete_project', { project_id: '1', confirm: true }, /deleting projects/],
      ];
      const m = mark();
      for (const [tool, args, what] of cases) {
        expectNotSupported(await fails(srv.client, tool, args), what);
      }
      expect(since(m)).toHaveLength(0);
    });

    it('deleting a deal is not a tool at all', async () => {
      const m = mark();
      let message: string;
      try {
        const res = await call(srv.client, 'delete_deal', { deal_id: '1', confirm: true });
        expect(res.isError).toBe(true);
        message = textOf(res);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/delete_deal/);
      expect(since(m)).toHaveLength(0);
      expect(fake.state.deals.get(1)?.is_deleted).toBe(false);
    });
  });

  describe('dry runs', () => {
    it('pipeline and stage writes: the exact request, and not one request upstream', async () => {
      const m = mark();
      const cases: Array<[string, Record<string, unknown>, S]> = [
        ['create_pipeline', { name: 'Dry' }, { method: 'POST', path: '/api/v2/pipelines', body: { name: 'Dry' } }],
        [
          'update_pipeline',
          { pipeline_id: '2', is_deal_probability_enabled: true },
          { method: 'PATCH', path: '/api/v2/pipelines/2', body: { is_deal_probability_enabled: true } },
        ],
        ['delete_pipeline', { pipeline_id: '2', confirm: true }, { method: 'DELETE', path: '/api/v2/pipelines/2' }],
        [
          'create_stage',
          { pipeline_id: '1', name: 'Dry stage' },
          { method: 'POST', path: '/api/v2/stages', body: { name: 'Dry stage', pipeline_id: 1 } },
        ],
        ['update_stage', { stage_id: '3', name: 'Renamed' }, { method: 'PATCH', path: '/api/v2/stages/3', body: { name: 'Renamed' } }],
        ['delete_stage', { stage_id: '3', confirm: true }, { method: 'DELETE', path: '/api/v2/stages/3' }],
      ];
      for (const [tool, args, request] of cases) {
        const { s, text } = await ok(srv.client, tool, { ...args, dry_run: true });
        expect(s, tool).toEqual({ dry_run: request });
        expect(text, tool).toContain(`Dry run, nothing was sent. Would send: ${request.method} ${request.path}`);
      }
      expect(since(m)).toHaveLength(0);
      expect(fake.state.pipelines.get(2)?.is_deleted).toBe(false);
      expect(fake.state.stages.get(3)).toMatchObject({ name: 'Demo Scheduled', is_deleted: false });
    });

    it('deal writes: reads to validate the stage, but no write; a dry run does not use up its idempotency key', async () => {
      const dealsBefore = fake.state.deals.size;
      const m = mark();
      const create = await ok(srv.client, 'create_deal', {
        name: 'Dry deal',
        stage_id: '4',
        amount: 10,
        currency: 'USD',
        idempotency_key: 'dry-then-real',
        dry_run: true,
      });
      expect(create.s).toEqual({
        dry_run: {
          method: 'POST',
          path: '/api/v2/deals',
          body: { title: 'Dry deal', pipeline_id: 1, stage_id: 4, value: 10, currency: 'USD' },
        },
      });
      const update = await ok(srv.client, 'update_deal', { deal_id: '1', stage_id: '4', dry_run: true });
      expect(update.s).toEqual({ dry_run: { method: 'PATCH', path: '/api/v2/deals/1', body: { stage_id: 4 } } });
      expect(writesSince(m)).toHaveLength(0);
      expect(fake.state.deals.size).toBe(dealsBefore);

      const real = await ok(srv.client, 'create_deal', {
        name: 'Dry deal',
        stage_id: '4',
        amount: 10,
        currency: 'USD',
        idempotency_key: 'dry-then-real',
      });
      expect(writesSince(m).map((r) => `${r.method} ${r.path}`)).toEqual(['POST /api/v2/deals']);
      expect(fake.state.deals.get(Number(real.s.deal.id))?.title).toBe('Dry deal');
    });
  });

  describe('upstream faults', () => {
    it('a read that meets a 429 with Retry-After: 1 is retried and succeeds', async () => {
      fake.server.inject(
        {
          kind: 'status',
          status: 429,
          headers: { 'Retry-After': '1' },
          body: { success: false, error: 'Request over limit', errorCode: 429 },
        },
        { match: (r) => r.method === 'GET' && r.path === '/api/v2/pipelines' },
      );
      const m = mark();
      const { s } = await ok(srv.client, 'list_pipelines');
      expect(s.pipelines.map((p: S) => p.name)).toEqual(['Sales', 'Partnerships']);
      expect(since(m).filter((r) => r.path === '/api/v2/pipelines')).toHaveLength(2);
      const retry = logLines(srv.stderr()).find((l) => l.msg === 'upstream retry' && l.status === 429);
      expect(retry).toBeDefined();
    });

    it('a create that meets a 500 is sent once, and the error says it may or may not have happened', async () => {
      fake.server.inject(
        { kind: 'status', status: 500, body: { success: false, error: 'Internal server error' } },
        { match: (r) => r.method === 'POST' && r.path === '/api/v2/deals' },
      );
      const m = mark();
      const err = await fails(srv.client, 'create_deal', { name: 'Boom deal', stage_id: '2' });
      expect(err).toContain('Pipedrive answered 500');
      expect(err).toMatch(/may or may not have happened/);
      expect(since(m).filter((r) => r.method === 'POST')).toHaveLength(1);
    });

    it('with an idempotency_key, a create whose outcome is unknown is not sent again on repeat', async () => {
      fake.server.inject(
        { kind: 'status', status: 500, body: { success: false, error: 'Internal server error' } },
        { match: (r) => r.method === 'POST' && r.path === '/api/v2/stages' },
      );
      const m = mark();
      const first = await fails(srv.client, 'create_stage', { pipeline_id: '1', name: 'Boom stage', idempotency_key: 'boom-1' });
      expect(first).toMatch(/may or may not have happened/);
      const repeat = await fails(srv.client, 'create_stage', { pipeline_id: '1', name: 'Boom stage', idempotency_key: 'boom-1' });
      expect(repeat).toMatch(/outcome is unknown/);
      expect(since(m).filter((r) => r.method === 'POST')).toHaveLength(1);
    });

    it('an upstream error that echoes the token is redacted', async () => {
      fake.server.inject(
        {
          kind: 'status',
          status: 400,
          body: { success: false, error: `Token ${TOKEN} is not valid here`, error_info: `api_token=${TOKEN}` },
        },
        { match: (r) => r.path === '/api/v2/stages/4' },
      );
      const err = await fails(srv.client, 'get_stage', { stage_id: '4' });
      expect(err).toContain('Pipedrive rejected the request (400)');
      expect(err).toContain('[REDACTED]');
      expect(err).not.toContain(TOKEN);
    });
  });

  describe('idempotency_key in one process', () => {
    it('create_deal repeated with the same key creates one deal and returns it again', async () => {
      const args = { name: 'Idempotent deal', stage_id: '3', amount: 500, currency: 'USD', idempotency_key: 'same-process-1' };
      const m = mark();
      const first = await ok(srv.client, 'create_deal', args);
      const second = await ok(srv.client, 'create_deal', args);
      expect(second.s.deal.id).toBe(first.s.deal.id);
      expect(second.s.deal).toMatchObject({ name: 'Idempotent deal', stage: { id: '3', name: 'Demo Scheduled' } });
      expect(since(m).filter((r) => r.method === 'POST')).toHaveLength(1);
      expect([...fake.state.deals.values()].filter((d) => d.title === 'Idempotent deal')).toHaveLength(1);

      const other = await fails(srv.client, 'create_deal', { ...args, amount: 501 });
      expect(other).toMatch(/already used for a different create/);
      expect(since(m).filter((r) => r.method === 'POST')).toHaveLength(1);
    });
  });

  describe('cancellation', () => {
    it('a call on a slow upstream cancelled by the client returns at once; the upstream request is aborted; the server serves on', async () => {
      // Warm the name directory so the slow request is the only one the call waits for.
      await ok(srv.client, 'get_deal', { deal_id: '10' });
      fake.server.inject({ kind: 'delay', ms: 15_000 }, { match: (r) => r.path === '/api/v2/deals/9' });
      const controller = new AbortController();
      const pending = srv.client.callTool({ name: 'get_deal', arguments: { deal_id: '9' } }, { signal: controller.signal });
      const settled = pending.then(
        () => 'resolved',
        (e: Error) => e,
      );
      await until(() => fake.server.requests.some((r) => r.path === '/api/v2/deals/9'), 'the slow request to reach the fake');
      controller.abort();
      const outcome = await settled;
      expect(outcome).toBeInstanceOf(Error);
      expect(String((outcome as Error).message)).toMatch(/abort/i);

      // The server aborted its upstream request: its debug line for that path says so (it would
      // say status 200 after the 15 s delay if the request had been left running).
      const line = await until(
        () => logLines(srv.stderr()).find((l) => l.msg === 'upstream request' && l.path === '/api/v2/deals/9'),
        'the upstream request log line',
      );
      expect(line.error).toBe('aborted');
      expect(line.status).toBeUndefined();

      const next = await ok(srv.client, 'get_deal', { deal_id: '11' });
      expect(next.s.deal.id).toBe('11');
    });
  });

  it('the API token never appears in any tool output nor in the debug logs', () => {
    expect(outputs.length).toBeGreaterThan(40);
    expect(outputs.some((o) => o.includes('"isError":true'))).toBe(true);
    expect(outputs.some((o) => o.includes('"dry_run"'))).toBe(true);
    for (const o of outputs) expect(o).not.toContain(TOKEN);
    expectNoTokenInLogs(srv.stderr());
  });
});

// =============================================================================================

describe('pipedrive: idempotency_key across a restart on the same --db directory', () => {
  it('create_deal after a restart with the same key returns the first deal; one POST upstream', async () => {
    const db = isolatedDbPath();
    const args = { name: 'Restart deal', stage_id: '6', amount: 42, currency: 'EUR', idempotency_key: 'restart-key-1' };
    const m = mark();

    const first = await startStdio({ db, env: pipedriveEnv() });
    const a = await ok(first.client, 'create_deal', args);
    const again = await ok(first.client, 'create_deal', args);
    expect(again.s.deal.id).toBe(a.s.deal.id);
    await first.close();

    const second = await startStdio({ db, env: pipedriveEnv() });
    const b = await ok(second.client, 'create_deal', args);
    expect(b.s.deal.id).toBe(a.s.deal.id);
    expect(b.s.deal).toMatchObject({ name: 'Restart deal', stage: { id: '6', name: 'Intro' }, pipeline: { id: '2', name: 'Partnerships' } });

    expect(since(m).filter((r) => r.method === 'POST' && r.path === '/api/v2/deals')).toHaveLength(1);
    expect([...fake.state.deals.values()].filter((d) => d.title === 'Restart deal')).toHaveLength(1);

    // Another key is another deal.
    const c = await ok(second.client, 'create_deal', { ...args, idempotency_key: 'restart-key-2' });
    expect(c.s.deal.id).not.toBe(a.s.deal.id);
    expect(since(m).filter((r) => r.method === 'POST' && r.path === '/api/v2/deals')).toHaveLength(2);
    await second.close();
  });
});

// =============================================================================================

describe('pipedrive over Streamable HTTP', () => {
  it('serves the same tools with names, writes and dry runs; the token stays out of outputs and logs', async () => {
    const server = await startHttp({ db: isolatedDbPath(), env: pipedriveEnv(), logLevel: 'debug' });
    const client = await server.connect();
    const outputs = recordResults(client);

    const conns = await ok(client, 'list_connections');
    expect(conns.s.connections[0]).toMatchObject({ name: 'pipedrive', provider: 'pipedrive', supports: SUPPORTED });

    const deals = await ok(client, 'list_deals', { pipeline_id: '1', limit: 5 });
    expect(deals.s.deals).toHaveLength(5);
    recordLines(deals.text).forEach((line, i) => {
      const native = fake.state.deals.get(Number(deals.s.deals[i].id))!;
      expect(line).toContain(`${stageName(native.stage_id)} (${native.stage_id})`);
      expect(line).toContain(`${userName(native.owner_id)} (${native.owner_id})`);
    });

    const m = mark();
    const dry = await ok(client, 'create_pipeline', { name: 'Over HTTP', dry_run: true });
    expect(dry.s).toEqual({ dry_run: { method: 'POST', path: '/api/v2/pipelines', body: { name: 'Over HTTP' } } });
    expect(since(m)).toHaveLength(0);

    const created = await ok(client, 'create_stage', { pipeline_id: '1', name: 'HTTP stage' });
    expect(created.s.stage).toMatchObject({ name: 'HTTP stage', pipeline: { id: '1', name: 'Sales' } });
    expect(writesSince(m).map(wire)).toEqual([
      { method: 'POST', path: '/api/v2/stages', body: { name: 'HTTP stage', pipeline_id: 1 } },
    ]);

    expectNotSupported(await fails(client, 'list_projects'), /listing projects/);

    for (const o of outputs) expect(o).not.toContain(TOKEN);
    expectNoTokenInLogs(server.stderr());
    await server.stop();
  });
});
