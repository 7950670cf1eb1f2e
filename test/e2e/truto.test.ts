/**
 * End-to-end with CRM_PROVIDER=truto: the built binary (`node dist/cli.js`) over stdio, driven by
 * the real MCP client, against the stateful fake Truto unified CRM API on 127.0.0.1
 * (test/fakes/truto.ts). With TRUTO_INTEGRATION=insightly: pipelines, stages, deals
 * (opportunities) and projects end to end with the exact requests on the wire, Insightly's project
 * rules checked before sending, Truto's query options (remote_query, truto_ignore_remote_data),
 * Idempotency-Key on creates, statistics refused plainly, and the token never leaking. A second
 * server with TRUTO_INTEGRATION=capsule checks Capsule's project statuses.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FAKE_TRUTO_ACCOUNT, FAKE_TRUTO_TOKEN, startFakeTruto, type FakeTruto } from '../fakes/truto.js';
import type { RecordedRequest } from '../fakes/server.js';
import { fails, ok, recordLines, recordResults, type S } from '../helpers/mcp.js';
import { isolatedDbPath, logLines, startStdio, stopAll, type StdioServer } from '../helpers/server.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const TOKEN = FAKE_TRUTO_TOKEN;
const INSIGHTLY_STATUSES = ['not started', 'in progress', 'deferred', 'cancelled', 'abandoned', 'completed'];

let fake: FakeTruto;
beforeAll(async () => {
  fake = await startFakeTruto();
});
afterAll(async () => {
  await stopAll();
  await fake?.stop();
});

const trutoEnv = (integration: string): Record<string, string> => ({
  CRM_PROVIDER: 'truto',
  TRUTO_API_TOKEN: TOKEN,
  TRUTO_INTEGRATED_ACCOUNT_ID: FAKE_TRUTO_ACCOUNT,
  TRUTO_BASE_URL: fake.url,
  TRUTO_INTEGRATION: integration,
});

const mark = () => fake.server.requests.length;
const since = (m: number): RecordedRequest[] => fake.server.requests.slice(m);
const writesSince = (m: number) => since(m).filter((r) => r.method !== 'GET');
const wire = (r: RecordedRequest) => ({ method: r.method, path: r.path, body: r.body });
const header = (r: RecordedRequest, name: string) => {
  const v = r.headers[name];
  return Array.isArray(v) ? v[0] : v;
};
const records = (resource: 'stages' | 'pipelines' | 'projects' | 'opportunities') => [...fake.state.records[resource].values()];
const refName = (v: unknown) => (v as { name?: string } | undefined)?.name;

/** Every request carries the integrated account; reads leave remote_data out unless asked. */
function expectAccount(r: RecordedRequest): void {
  expect(r.query.integrated_account_id).toBe(FAKE_TRUTO_ACCOUNT);
}

// =============================================================================================

describe('truto (insightly) over stdio: one server at log level debug', () => {
  let srv: StdioServer;
  let outputs: string[];

  beforeAll(async () => {
    srv = await startStdio({ db: isolatedDbPath(), env: trutoEnv('insightly'), logLevel: 'debug' });
    outputs = recordResults(srv.client);
  });
  afterAll(async () => srv?.close());

  describe('tools and connections', () => {
    it('list tools take remote_query; every tool is open-world', async () => {
      const tools = (await srv.client.listTools()).tools as S[];
      expect(tools).toHaveLength(35);
      for (const t of tools) expect(t.annotations?.openWorldHint, t.name).toBe(true);
      for (const name of ['list_pipelines', 'list_stages', 'list_deals', 'list_projects']) {
        const t = tools.find((x) => x.name === name)!;
        expect(Object.keys(t.inputSchema.properties ?? {}), name).toContain('remote_query');
      }
    });

    it('list_connections: a truto connection with projects and no statistics', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'list_connections');
      expect(s.connections).toHaveLength(1);
      const c = s.connections[0];
      expect(c).toMatchObject({ name: 'truto', provider: 'truto', default: true });
      expect(c.supports.projects).toEqual(['list', 'get', 'create', 'update', 'delete']);
      expect(c.supports.pipelines).toEqual(['list', 'get', 'create', 'update', 'delete']);
      expect(c.supports.stages).toEqual(['list', 'get', 'create', 'update', 'delete']);
      expect(c.supports.deals).toEqual(expect.arrayContaining(['list', 'get', 'create', 'update']));
      expect(c.supports.stats).toBeUndefined();
      expect(text).toContain('truto (default): truto');
      expect(text).not.toContain('stats');
      expect(since(m)).toHaveLength(0);
    });
  });

  describe('pipelines', () => {
    it('list_pipelines: the fake pipelines by name, with the account and without remote data', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'list_pipelines');
      const expected = records('pipelines');
      expect(s.pipelines.map((p: S) => [p.id, p.name])).toEqual(expected.map((p) => [p.id, p.name]));
      expect(recordLines(text).map((l) => l.split(' · ')[0])).toEqual(expected.map((p) => `- ${p.name} (${p.id})`));
      const [req] = since(m);
      expect(req).toMatchObject({ method: 'GET', path: '/unified/crm/pipelines' });
      expectAccount(req);
      expect(req.query.truto_ignore_remote_data).toBe('true');
    });

    it('get_pipeline: ordered stages and open deals per stage', async () => {
      const { s, text } = await ok(srv.client, 'get_pipeline', { pipeline_id: '1' });
      const stages = records('stages')
        .filter((st) => (st.pipeline as S).id === '1')
        .sort((a, b) => Number(a.position) - Number(b.position));
      expect(s.pipeline).toMatchObject({ id: '1', name: 'Sales' });
      expect(s.pipeline.stages.map((st: S) => st.name)).toEqual(stages.map((st) => st.name));
      const open = records('opportunities').filter((o) => (o.pipeline as S).id === '1' && o.status === 'open');
      expect(s.pipeline.open_deals.count).toBe(open.length);
      for (const st of s.pipeline.stages) {
        expect(st.open_deals.count, st.name).toBe(open.filter((o) => (o.stage as S).id === st.id).length);
      }
      expect(text.split('\n')[0]).toMatch(new RegExp(`^Pipeline Sales \\(1\\) · ${open.length} open`));
      stages.forEach((st, i) => expect(text).toContain(`${i + 1}. ${st.name} (${st.id})`));
    });

    it('create, update, delete: exact requests with an Idempotency-Key on writes; confirm guard', async () => {
      let m = mark();
      const created = await ok(srv.client, 'create_pipeline', { name: 'E2E Pipeline' });
      const [post] = writesSince(m);
      expect(writesSince(m).map(wire)).toEqual([{ method: 'POST', path: '/unified/crm/pipelines', body: { name: 'E2E Pipeline' } }]);
      expectAccount(post);
      expect(header(post, 'idempotency-key')).toMatch(/\S{8,}/);
      const id = created.s.pipeline.id as string;
      expect(created.s.pipeline.name).toBe('E2E Pipeline');
      expect(created.text).toContain(`Created pipeline E2E Pipeline (${id})`);
      expect(fake.state.records.pipelines.get(id)?.name).toBe('E2E Pipeline');

      m = mark();
      const updated = await ok(srv.client, 'update_pipeline', { pipeline_id: id, name: 'E2E Pipeline renamed' });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'PATCH', path: `/unified/crm/pipelines/${id}`, body: { name: 'E2E Pipeline renamed' } },
      ]);
      expect(updated.s.pipeline).toMatchObject({ id, name: 'E2E Pipeline renamed' });

      m = mark();
      const preview = await ok(srv.client, 'delete_pipeline', { pipeline_id: id });
      expect(preview.s).toEqual({ deleted: false, pipeline: { id, name: 'E2E Pipeline renamed' } });
      expect(preview.text).toContain('confirm: true');
      expect(writesSince(m)).toHaveLength(0);

      m = mark();
      const deleted = await ok(srv.client, 'delete_pipeline', { pipeline_id: id, confirm: true });
      expect(deleted.s).toEqual({ deleted: true, pipeline: { id, name: 'E2E Pipeline renamed' } });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'DELETE', path: `/unified/crm/pipelines/${id}`, body: undefined }]);
      expect(fake.state.records.pipelines.has(id)).toBe(false);
    });
  });

  describe('stages', () => {
    it('list_stages: a pipeline in order with its name; get_stage', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'list_stages', { pipeline_id: '2' });
      expect(since(m)[0].query.pipeline).toEqual({ id: '2' });
      const expected = records('stages').filter((st) => (st.pipeline as S).id === '2');
      expect(s.stages.map((st: S) => [st.id, st.name])).toEqual(expected.map((st) => [st.id, st.name]));
      const lines = recordLines(text);
      expected.forEach((st, i) => expect(lines[i]).toContain(`${st.name} (${st.id}) · #${i + 1} in Partnerships (2)`));

      const got = await ok(srv.client, 'get_stage', { stage_id: '12' });
      expect(got.s.stage).toMatchObject({ id: '12', name: 'Qualified', pipeline: { id: '1', name: 'Sales' } });
      expect(got.text).toContain('Stage Qualified (12) · #2 in Sales (1)');
    });

    it('create, update, delete: exact requests; fields Truto lacks are refused before sending', async () => {
      let m = mark();
      const created = await ok(srv.client, 'create_stage', { pipeline_id: '2', name: 'E2E Stage', position: 4 });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'POST', path: '/unified/crm/stages', body: { name: 'E2E Stage', position: 4, pipeline: { id: '2' } } },
      ]);
      const id = created.s.stage.id as string;
      expect(created.s.stage).toMatchObject({ name: 'E2E Stage', position: 4, pipeline: { id: '2', name: 'Partnerships' } });
      expect(created.text).toContain(`Created stage E2E Stage (${id}) · #4 in Partnerships (2)`);

      m = mark();
      const updated = await ok(srv.client, 'update_stage', { stage_id: id, name: 'E2E Stage renamed' });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'PATCH', path: `/unified/crm/stages/${id}`, body: { name: 'E2E Stage renamed' } },
      ]);
      expect(updated.s.stage.name).toBe('E2E Stage renamed');

      m = mark();
      const refused = await fails(srv.client, 'create_stage', { pipeline_id: '2', name: 'Likely', probability: 50 });
      expect(refused).toMatch(/Truto \(Insightly\) does not support `probability`/);
      expect(since(m)).toHaveLength(0);

      m = mark();
      const deleted = await ok(srv.client, 'delete_stage', { stage_id: id, confirm: true });
      expect(deleted.s).toEqual({ deleted: true, stage: { id, name: 'E2E Stage renamed' } });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'DELETE', path: `/unified/crm/stages/${id}`, body: undefined }]);
      expect(fake.state.records.stages.has(id)).toBe(false);
    });
  });

  describe('deals (Truto opportunities)', () => {
    it('list_deals: every line shows the stage and owner names', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'list_deals', { limit: 10 });
      expect(since(m)[0].path).toBe('/unified/crm/opportunities');
      expect(s.deals).toHaveLength(10);
      const lines = recordLines(text);
      s.deals.forEach((d: S, i: number) => {
        const native = fake.state.records.opportunities.get(d.id)!;
        expect(d.stage).toEqual(native.stage);
        expect(d.owner).toEqual(native.owner);
        expect(lines[i]).toContain(`${native.name} (${native.id}) · ${refName(native.stage)} (${(native.stage as S).id})`);
        expect(lines[i]).toContain(`${refName(native.owner)} (${(native.owner as S).id})`);
      });
    });

    it('get_deal: stage, pipeline, owner and account by name', async () => {
      const native = fake.state.records.opportunities.get('105')!;
      const { s, text } = await ok(srv.client, 'get_deal', { deal_id: '105' });
      expect(s.deal).toMatchObject({ id: '105', name: native.name, stage: native.stage, pipeline: native.pipeline, owner: native.owner });
      expect(text).toContain(`Deal ${native.name} (105) · ${refName(native.stage)}`);
      expect(text).toContain(`pipeline ${refName(native.pipeline)}`);
      expect(text).toContain(`account ${refName(native.account)}`);
    });

    let dealId: string;

    it('create_deal: the stage fixes the pipeline; exact POST; read back with names', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'create_deal', {
        name: 'E2E Deal',
        stage_id: '12',
        amount: 750,
        currency: 'USD',
        owner_id: 'u2',
      });
      expect(writesSince(m).map(wire)).toEqual([
        {
          method: 'POST',
          path: '/unified/crm/opportunities',
          body: { name: 'E2E Deal', amount: 750, currency: 'USD', stage: { id: '12' }, pipeline: { id: '1' }, owner: { id: 'u2' } },
        },
      ]);
      dealId = s.deal.id;
      expect(s.deal).toMatchObject({
        name: 'E2E Deal',
        status: 'open',
        stage: { id: '12', name: 'Qualified' },
        pipeline: { id: '1', name: 'Sales' },
        owner: { id: 'u2', name: 'Grace Hopper' },
      });
      expect(text).toBe(`Created deal E2E Deal (${dealId}) · Qualified (12) · open · 750 USD · Grace Hopper (u2).`);
    });

    it('update_deal: a move sends only the stage', async () => {
      const m = mark();
      const { s } = await ok(srv.client, 'update_deal', { deal_id: dealId, stage_id: '13' });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'PATCH', path: `/unified/crm/opportunities/${dealId}`, body: { stage: { id: '13' } } },
      ]);
      expect(s.deal.stage).toEqual({ id: '13', name: 'Proposal' });
    });

    it("update_deal to a stage of another pipeline is refused with the pipeline's stages; no PATCH", async () => {
      const m = mark();
      const err = await fails(srv.client, 'update_deal', { deal_id: dealId, stage_id: '17' });
      expect(err).toContain("Stage '17' is not a stage of Sales (1)");
      for (const st of records('stages').filter((x) => (x.pipeline as S).id === '1')) {
        expect(err).toContain(`${st.name} (${st.id})`);
      }
      expect(writesSince(m)).toHaveLength(0);
      expect((fake.state.records.opportunities.get(dealId)!.stage as S).id).toBe('13');
    });
  });

  describe('projects', () => {
    it('list_projects and get_project: names of owner, account and stage', async () => {
      const { s, text } = await ok(srv.client, 'list_projects', { limit: 5 });
      expect(s.projects).toHaveLength(5);
      const lines = recordLines(text);
      s.projects.forEach((p: S, i: number) => {
        const native = fake.state.records.projects.get(p.id)!;
        expect(p).toMatchObject({ name: native.name, status: native.status, owner: native.owner, account: native.account });
        expect(lines[i]).toContain(`${native.name} (${native.id}) · ${native.status}`);
      });
      const got = await ok(srv.client, 'get_project', { project_id: 'pr-002' });
      expect(got.s.project).toMatchObject({ id: 'pr-002', name: 'Project 2', owner: { id: 'u2', name: 'Grace Hopper' } });
      expect(got.text).toContain('Project Project 2 (pr-002)');
      // The account's name is in the structured records above and in the detailed text of a get.
      expect(got.text).toContain(`account ${refName(fake.state.records.projects.get('pr-002')!.account)}`);
    });

    it("create_project without status is refused listing Insightly's statuses; nothing is sent", async () => {
      const m = mark();
      const err = await fails(srv.client, 'create_project', { name: 'No status' });
      expect(err).toContain('Truto (Insightly) requires `status` to create a project');
      for (const st of INSIGHTLY_STATUSES) expect(err).toContain(st);
      const open = await fails(srv.client, 'create_project', { name: 'Capsule status', status: 'open' });
      expect(open).toContain("does not accept status 'open'");
      const account = await fails(srv.client, 'create_project', { name: 'With account', status: 'deferred', account: { id: 'a1' } });
      expect(account).toMatch(/does not support `account`/);
      expect(since(m)).toHaveLength(0);
    });

    let projectId: string;

    it('create_project: dry run shows the Idempotency-Key; the create sends it; a repeat creates nothing more', async () => {
      const args = { name: 'E2E Project', status: 'in progress', description: 'From e2e', owner: { id: 'u3' }, idempotency_key: 'e2e-project-1' };
      let m = mark();
      const dry = await ok(srv.client, 'create_project', { ...args, dry_run: true });
      expect(dry.s.dry_run).toMatchObject({
        method: 'POST',
        body: { name: 'E2E Project', status: 'in progress', description: 'From e2e', owner: { id: 'u3' } },
        headers: { 'Idempotency-Key': 'e2e-project-1' },
      });
      expect(dry.s.dry_run.path).toMatch(/^\/unified\/crm\/projects\?integrated_account_id=/);
      expect(dry.text).toContain('Idempotency-Key: e2e-project-1');
      expect(since(m)).toHaveLength(0);

      m = mark();
      const created = await ok(srv.client, 'create_project', args);
      const posts = writesSince(m);
      expect(posts.map(wire)).toEqual([
        {
          method: 'POST',
          path: '/unified/crm/projects',
          body: { name: 'E2E Project', status: 'in progress', description: 'From e2e', owner: { id: 'u3' } },
        },
      ]);
      expect(header(posts[0], 'idempotency-key')).toBe('e2e-project-1');
      projectId = created.s.project.id;
      expect(created.s.project).toMatchObject({ name: 'E2E Project', status: 'in progress', owner: { id: 'u3', name: 'Alan Turing' } });
      expect(created.text).toContain(`Created project E2E Project (${projectId}) · in progress`);

      const repeat = await ok(srv.client, 'create_project', args);
      expect(repeat.s.project.id).toBe(projectId);
      expect(records('projects').filter((p) => p.name === 'E2E Project')).toHaveLength(1);
      for (const r of writesSince(m)) expect(header(r, 'idempotency-key')).toBe('e2e-project-1');
    });

    it('a create without idempotency_key still carries a (generated) Idempotency-Key; its dry run shows none', async () => {
      let m = mark();
      const dry = await ok(srv.client, 'create_project', { name: 'Keyless', status: 'deferred', dry_run: true });
      expect(dry.s.dry_run.headers).toBeUndefined();
      expect(since(m)).toHaveLength(0);
      m = mark();
      await ok(srv.client, 'create_project', { name: 'Keyless', status: 'deferred' });
      const [post] = writesSince(m);
      expect(header(post, 'idempotency-key')).toMatch(/\S{8,}/);
    });

    it('update_project sends only what was given; delete_project needs confirm', async () => {
      let m = mark();
      const updated = await ok(srv.client, 'update_project', { project_id: projectId, status: 'completed' });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'PATCH', path: `/unified/crm/projects/${projectId}`, body: { status: 'completed' } },
      ]);
      expect(updated.s.project).toMatchObject({ id: projectId, name: 'E2E Project', status: 'completed' });

      m = mark();
      const preview = await ok(srv.client, 'delete_project', { project_id: projectId });
      expect(preview.s).toEqual({ deleted: false, project: { id: projectId, name: 'E2E Project' } });
      expect(writesSince(m)).toHaveLength(0);

      m = mark();
      const dry = await ok(srv.client, 'delete_project', { project_id: projectId, confirm: true, dry_run: true });
      expect(dry.s.dry_run).toMatchObject({ method: 'DELETE' });
      expect(dry.s.dry_run.path).toMatch(new RegExp(`^/unified/crm/projects/${projectId}\\?`));
      expect(since(m)).toHaveLength(0);

      const deleted = await ok(srv.client, 'delete_project', { project_id: projectId, confirm: true });
      expect(deleted.s).toEqual({ deleted: true, project: { id: projectId, name: 'E2E Project' } });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'DELETE', path: `/unified/crm/projects/${projectId}`, body: undefined }]);
      expect(fake.state.records.projects.has(projectId)).toBe(false);
    });
  });

  describe('Truto query options on the wire', () => {
    it('remote_query on list_projects reaches Truto as remote_query[foo]=bar', async () => {
      const m = mark();
      const before = fake.state.remoteQueries.length;
      await ok(srv.client, 'list_projects', { limit: 3, remote_query: { foo: 'bar' } });
      const [req] = since(m);
      expect(req.path).toBe('/unified/crm/projects');
      expect(req.query.remote_query).toEqual({ foo: 'bar' });
      expect(decodeURIComponent(req.rawUrl)).toContain('remote_query[foo]=bar');
      expect(fake.state.remoteQueries.slice(before)).toEqual([{ foo: 'bar' }]);
    });

    it('include_remote_data false (and by default) sends truto_ignore_remote_data=true; true sends none and returns it', async () => {
      let m = mark();
      const off = await ok(srv.client, 'list_projects', { limit: 2, include_remote_data: false });
      expect(since(m)[0].query.truto_ignore_remote_data).toBe('true');
      expect(off.s.projects[0].remote_data).toBeUndefined();

      m = mark();
      await ok(srv.client, 'get_project', { project_id: 'pr-005' });
      expect(since(m)[0].query.truto_ignore_remote_data).toBe('true');

      m = mark();
      const on = await ok(srv.client, 'get_project', { project_id: 'pr-005', include_remote_data: true });
      expect(since(m)[0].query.truto_ignore_remote_data).toBeUndefined();
      expect(on.s.project.remote_data).toMatchObject({ PROJECT_NAME: 'Project 5' });
    });
  });

  describe('upstream faults', () => {
    it('a read that meets a 429 with Retry-After: 1 is retried and succeeds', async () => {
      fake.rateLimit(1, 1, (r) => r.method === 'GET' && r.path === '/unified/crm/stages/13');
      const m = mark();
      const { s } = await ok(srv.client, 'get_stage', { stage_id: '13' });
      expect(s.stage).toMatchObject({ id: '13', name: 'Proposal' });
      expect(since(m).filter((r) => r.path === '/unified/crm/stages/13')).toHaveLength(2);
    });

    it('a create whose answer is lost (500 after commit) is retried with the same Idempotency-Key: one record', async () => {
      fake.state.failAfterCommit.push({ status: 500, resource: 'projects' });
      const m = mark();
      const { s } = await ok(srv.client, 'create_project', { name: 'Lost answer', status: 'deferred' });
      const posts = writesSince(m);
      expect(posts).toHaveLength(2);
      expect(header(posts[1], 'idempotency-key')).toBe(header(posts[0], 'idempotency-key'));
      expect(records('projects').filter((p) => p.name === 'Lost answer').map((p) => p.id)).toEqual([s.project.id]);
    });
  });

  describe('what Truto does not support', () => {
    it('both statistics tools say plainly they are not supported, naming what is; nothing is sent', async () => {
      const m = mark();
      const args = { pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-12-31' };
      const conversion = await fails(srv.client, 'pipeline_conversion_stats', args);
      expect(conversion).toContain('Truto (Insightly) does not support pipeline conversion statistics');
      const movement = await fails(srv.client, 'pipeline_movement_stats', args);
      expect(movement).toContain('Truto (Insightly) does not support pipeline movement statistics');
      for (const text of [conversion, movement]) {
        expect(text).toContain('projects (list, get, create, update, delete)');
        expect(text).toContain('pipelines (list, get, create, update, delete)');
      }
      expect(since(m)).toHaveLength(0);
    });

    it('an upstream error that echoes the token is redacted', async () => {
      fake.server.inject(
        { kind: 'status', status: 400, body: { statusCode: 400, error: 'Bad Request', message: `Bearer ${TOKEN} is not allowed here` } },
        { match: (r) => r.path === '/unified/crm/projects/pr-004' },
      );
      const err = await fails(srv.client, 'get_project', { project_id: 'pr-004' });
      expect(err).toContain('[REDACTED]');
      expect(err).not.toContain(TOKEN);
    });
  });

  it('the API token never appears in any tool output nor in the debug logs', () => {
    expect(outputs.length).toBeGreaterThan(30);
    expect(outputs.some((o) => o.includes('"isError":true'))).toBe(true);
    expect(outputs.some((o) => o.includes('"dry_run"'))).toBe(true);
    for (const o of outputs) expect(o).not.toContain(TOKEN);
    const stderr = srv.stderr();
    expect(logLines(stderr).some((l) => l.level === 20 && l.msg === 'upstream request')).toBe(true);
    expect(stderr).not.toContain(TOKEN);
  });
});

// =============================================================================================

describe('truto (capsule): project statuses are Capsule’s', () => {
  let srv: StdioServer;
  beforeAll(async () => {
    srv = await startStdio({ db: isolatedDbPath(), env: trutoEnv('capsule'), logLevel: 'debug' });
  });
  afterAll(async () => srv?.close());

  it("status 'completed' is refused on create and update, listing open and closed; nothing is sent", async () => {
    const m = mark();
    const create = await fails(srv.client, 'create_project', { name: 'Capsule project', status: 'completed' });
    expect(create).toContain("Truto (Capsule) does not accept status 'completed' for a project; allowed: open, closed");
    const update = await fails(srv.client, 'update_project', { project_id: 'pr-001', status: 'completed' });
    expect(update).toContain("does not accept status 'completed'");
    expect(update).toContain('open, closed');
    expect(since(m)).toHaveLength(0);
  });

  it("a Capsule status is accepted and sent (status is optional for Capsule)", async () => {
    const m = mark();
    const { s } = await ok(srv.client, 'create_project', { name: 'Capsule project', status: 'closed' });
    expect(s.project).toMatchObject({ name: 'Capsule project', status: 'closed' });
    const plain = await ok(srv.client, 'create_project', { name: 'Capsule plain' });
    expect(plain.s.project.name).toBe('Capsule plain');
    expect(writesSince(m).map(wire)).toEqual([
      { method: 'POST', path: '/unified/crm/projects', body: { name: 'Capsule project', status: 'closed' } },
      { method: 'POST', path: '/unified/crm/projects', body: { name: 'Capsule plain' } },
    ]);
  });

  it('the token stays out of the logs', () => {
    expect(srv.stderr()).not.toContain(TOKEN);
  });
});
