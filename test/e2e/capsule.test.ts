/**
 * End-to-end with CRM_PROVIDER=capsule: the built binary (`node dist/cli.js`) spawned over stdio,
 * driven by the real MCP client, against the stateful fake Capsule on 127.0.0.1
 * (test/fakes/capsule.ts). Every tool Capsule supports end to end (names in every line, the exact
 * upstream requests of writes, dry runs, placement of deals, won/lost, project boards), every other
 * tool refused plainly before any request, idempotent creates, and the token never in any output
 * or log line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ACME, CAPSULE_TOKEN, startFakeCapsule, type FakeCapsule, type FakeOpportunity } from '../fakes/capsule.js';
import type { RecordedRequest } from '../fakes/server.js';
import { fails, listAll, ok, recordLines, recordResults, todayUtc, type S } from '../helpers/mcp.js';
import { expectCancelStopsUpstream, RECORD_TOOL_NAMES, runRecordsSuite } from '../helpers/records-suite.js';
import { isolatedDbPath, logLines, startStdio, stopAll, tempDir, type StdioServer } from '../helpers/server.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let fake: FakeCapsule;
beforeAll(async () => {
  fake = await startFakeCapsule();
});
afterAll(async () => {
  await stopAll();
  await fake?.stop();
});

const capsuleEnv = (): Record<string, string> => ({ CRM_PROVIDER: 'capsule', CAPSULE_API_TOKEN: CAPSULE_TOKEN, CAPSULE_BASE_URL: fake.url });

const mark = () => fake.server.requests.length;
const since = (m: number): RecordedRequest[] => fake.server.requests.slice(m);
/** Requests that change something (a filter search is a POST that only reads). */
const writesSince = (m: number) => since(m).filter((r) => r.method !== 'GET' && !r.path.endsWith('/filters/results'));
const wire = (r: RecordedRequest) => ({ method: r.method, path: r.path, body: r.body });

const milestone = (id: number) => fake.state.milestones.get(id)!;
const pipelineOf = (o: FakeOpportunity) => milestone(o.milestoneId).pipelineId;
const userName = (id: number) => fake.state.users.get(id)!.name;

const SUPPORTED = {
  pipelines: ['list', 'get'],
  stages: ['list', 'get'],
  deals: ['list', 'get', 'create', 'update'],
  projects: ['list', 'get', 'create', 'update', 'delete'],
  accounts: ['list', 'get', 'create', 'update'],
  contacts: ['list', 'get', 'create', 'update'],
  users: ['list', 'get'],
  activities: ['list', 'get', 'create', 'update'],
  search: ['deals', 'accounts', 'contacts', 'projects'],
};

/** The "not supported" sentence: names Capsule and what this connection does support. */
function expectNotSupported(text: string, what: RegExp): void {
  expect(text).toMatch(/^Capsule does not support/);
  expect(text).toMatch(what);
  expect(text).toContain(
    'this connection supports pipelines (list, get), stages (list, get), deals (list, get, create, update), projects (list, get, create, update, delete), ' +
      'accounts (list, get, create, update), contacts (list, get, create, update), users (list, get), activities (list, get, create, update) and search (deals, accounts, contacts, projects).',
  );
}

describe('capsule over stdio: one server at log level debug', () => {
  let srv: StdioServer;
  let outputs: string[];

  beforeAll(async () => {
    srv = await startStdio({ db: isolatedDbPath(), env: capsuleEnv(), logLevel: 'debug' });
    outputs = recordResults(srv.client);
  });
  afterAll(async () => srv?.close());

  describe('tools and connections', () => {
    it('offers every tool, open-world; list_connections says exactly what Capsule supports, sending nothing', async () => {
      const tools = (await srv.client.listTools()).tools as S[];
      expect(tools.length).toBeGreaterThanOrEqual(22);
      for (const t of tools) expect(t.annotations?.openWorldHint, t.name).toBe(true);
      const m = mark();
      const { s, text } = await ok(srv.client, 'list_connections');
      expect(s.connections).toEqual([{ name: 'capsule', provider: 'capsule', default: true, supports: SUPPORTED }]);
      expect(text).toContain('capsule (default): capsule');
      expect(since(m)).toHaveLength(0);
    });
  });

  describe('pipelines and stages', () => {
    it('list_pipelines: sales pipelines, then project boards as board-<id>', async () => {
      const { s, text } = await ok(srv.client, 'list_pipelines');
      expect(s.pipelines).toEqual([
        { id: '1', name: 'Sales Pipeline' },
        { id: '2', name: 'SMB clients' },
        { id: 'board-34', name: 'Projects' },
        { id: 'board-35', name: 'Design' },
      ]);
      expect(recordLines(text)).toEqual(['- Sales Pipeline (1)', '- SMB clients (2)', '- Projects (board-34)', '- Design (board-35)']);
    });

    it('get_pipeline: milestones in order with open deals per milestone', async () => {
      const { s, text } = await ok(srv.client, 'get_pipeline', { pipeline_id: '2' });
      const open = [...fake.state.opportunities.values()].filter((o) => pipelineOf(o) === 2 && o.closedOn === null);
      expect(s.pipeline).toMatchObject({ id: '2', name: 'SMB clients', open_deals: { count: open.length } });
      expect(s.pipeline.stages.map((st: S) => [st.id, st.name, st.position, st.open_deals.count])).toEqual(
        [6, 7, 8, 9].map((id, i) => [String(id), milestone(id).name, i + 1, open.filter((o) => o.milestoneId === id).length]),
      );
      expect(text.split('\n')[0]).toMatch(new RegExp(`^Pipeline SMB clients \\(2\\) · ${open.length} open`));
      expect(text).toContain('1. Prospect (6) · 5%');
      expect(text).toContain('3. Won (8) · 100% · 0 open');
    });

    it('get_pipeline of a board: its stages, no deals', async () => {
      const { s, text } = await ok(srv.client, 'get_pipeline', { pipeline_id: 'board-34' });
      expect(s.pipeline.stages.map((st: S) => st.id)).toEqual(['stage-149', 'stage-150', 'stage-151']);
      expect(s.pipeline.open_deals).toBeUndefined();
      expect(text).toBe('Pipeline Projects (board-34)\n1. Project Brief (stage-149)\n2. Planning (stage-150)\n3. Delivery (stage-151)');
    });

    it('list_stages: a pipeline in order with its name on every line; a board; the whole account', async () => {
      const { text } = await ok(srv.client, 'list_stages', { pipeline_id: '1' });
      expect(recordLines(text)).toEqual([
        '- New (1) · #1 in Sales Pipeline (1) · 10%',
        '- Bid (2) · #2 in Sales Pipeline (1) · 50%',
        '- Negotiation (3) · #3 in Sales Pipeline (1) · 75%',
        '- Won (4) · #4 in Sales Pipeline (1) · 100%',
        '- Lost (5) · #5 in Sales Pipeline (1) · 0%',
      ]);
      const board = await ok(srv.client, 'list_stages', { pipeline_id: 'board-35' });
      expect(recordLines(board.text)).toEqual(['- Concept (stage-152) · #1 in Design (board-35)', '- Review (stage-153) · #2 in Design (board-35)']);
      const { items } = await listAll(srv.client, 'list_stages', 'stages', {}, 5);
      expect(items).toHaveLength(fake.state.milestones.size + fake.state.stages.size);
      const m = mark();
      expect(await fails(srv.client, 'list_stages', { status: 'inactive' })).toMatch(/Capsule cannot filter stages by `status`/);
      expect(since(m)).toHaveLength(0);
    });

    it('get_stage: a milestone and a board stage', async () => {
      const { text } = await ok(srv.client, 'get_stage', { stage_id: '7' });
      expect(text).toBe('Stage Proposal (7) · #2 in SMB clients (2) · 40% · updated 2026-01-05');
      const b = await ok(srv.client, 'get_stage', { stage_id: 'stage-151' });
      expect(b.s.stage).toMatchObject({ id: 'stage-151', name: 'Delivery', position: 3, pipeline: { id: 'board-34', name: 'Projects' } });
      expect(await fails(srv.client, 'get_stage', { stage_id: '404' })).toBe("No stage with id '404'. Call list_stages (optionally with pipeline_id) to see valid stage ids.");
    });
  });

  describe('deals', () => {
    it('list_deals: every line shows the stage, status, value and owner by name; pages by cursor', async () => {
      const { s, text } = await ok(srv.client, 'list_deals', { limit: 20 });
      expect(s.deals).toHaveLength(20);
      expect(typeof s.next_cursor).toBe('string');
      const lines = recordLines(text);
      s.deals.forEach((d: S, i: number) => {
        const o = fake.state.opportunities.get(Number(d.id))!;
        const m = milestone(o.milestoneId);
        expect(d.stage).toEqual({ id: String(m.id), name: m.name });
        expect(d.pipeline).toEqual({ id: String(m.pipelineId), name: fake.state.pipelines.get(m.pipelineId)!.name });
        expect(lines[i]).toContain(`${o.name} (${o.id}) · ${m.name} (${m.id}) · ${d.status}`);
        expect(lines[i]).toContain(`${userName(o.ownerId!)} (${o.ownerId})`);
      });
      const next = await ok(srv.client, 'list_deals', { limit: 20, cursor: s.next_cursor });
      expect(next.s.deals[0].id).toBe('1021');
    });

    it('list_deals filters reach Capsule as a search; the answer matches its records', async () => {
      const { items } = await listAll(srv.client, 'list_deals', 'deals', { pipeline_id: '1', status: 'lost' });
      const expected = [...fake.state.opportunities.values()].filter((o) => pipelineOf(o) === 1 && o.closedOn && o.probability !== 100);
      expect(items.length).toBeGreaterThan(0);
      expect(items.map((d) => d.id).sort()).toEqual(expected.map((o) => String(o.id)).sort());
      for (const d of items) expect(d).toMatchObject({ status: 'lost', pipeline: { id: '1', name: 'Sales Pipeline' } });
    });

    it('get_deal: stage, pipeline, owner and account by name', async () => {
      const { s, text } = await ok(srv.client, 'get_deal', { deal_id: '1002' });
      const o = fake.state.opportunities.get(1002)!;
      expect(s.deal).toMatchObject({ id: '1002', stage: { id: '2', name: 'Bid' }, pipeline: { id: '1', name: 'Sales Pipeline' }, status: 'open' });
      expect(text).toContain('Deal Opportunity 2 (1002) · Bid (2) · pipeline Sales Pipeline (1) · open');
      expect(text).toContain(`account Globex (893)`);
      expect(text).toContain(`${userName(o.ownerId!)} (${o.ownerId})`);
    });

    let dealId: string;

    it('create_deal: the pipeline follows from the milestone; exact POST; read back with names', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'create_deal', {
        name: 'E2E Deal',
        stage_id: '6',
        account_id: '894',
        owner_id: '62',
        amount: 1234.5,
        currency: 'EUR',
        close_date: '2026-12-24',
      });
      expect(writesSince(m).map(wire)).toEqual([
        {
          method: 'POST',
          path: '/api/v2/opportunities',
          body: {
            opportunity: {
              name: 'E2E Deal',
              party: { id: 894 },
              milestone: { id: 6 },
              owner: { id: 62 },
              value: { amount: 1234.5, currency: 'EUR' },
              expectedCloseOn: '2026-12-24',
            },
          },
        },
      ]);
      dealId = s.deal.id;
      expect(s.deal).toMatchObject({ status: 'open', pipeline: { id: '2', name: 'SMB clients' }, account: { id: '894', name: 'Initech' } });
      expect(text).toBe(`Created deal E2E Deal (${dealId}) · Prospect (6) · open · 1,234.5 EUR · Ana Silva (62).`);
    });

    it('create_deal without an account, or with a status, or an amount without currency: refused, nothing sent', async () => {
      const m = mark();
      expect(await fails(srv.client, 'create_deal', { name: 'No party', stage_id: '6' })).toBe('Capsule requires `account_id` to create a deal.');
      expect(await fails(srv.client, 'create_deal', { name: 'Won', stage_id: '6', account_id: '892', status: 'won' })).toMatch(
        /^Capsule does not support `status` when creating a deal; supported fields: name, pipeline_id, stage_id/,
      );
      expect(await fails(srv.client, 'create_deal', { name: 'Half value', stage_id: '6', account_id: '892', amount: 5 })).toMatch(/pass amount and currency together/);
      expect(writesSince(m)).toHaveLength(0);
    });

    it('update_deal: a move sends only the milestone; won goes to its pipeline\'s Won milestone', async () => {
      let m = mark();
      const moved = await ok(srv.client, 'update_deal', { deal_id: dealId, stage_id: '7' });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'PUT', path: `/api/v2/opportunities/${dealId}`, body: { opportunity: { milestone: { id: 7 } } } }]);
      expect(moved.text).toContain(`Updated deal E2E Deal (${dealId}) · Proposal (7) · pipeline SMB clients (2)`);

      m = mark();
      const won = await ok(srv.client, 'update_deal', { deal_id: dealId, status: 'won' });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'PUT', path: `/api/v2/opportunities/${dealId}`, body: { opportunity: { milestone: { id: 8 } } } }]);
      expect(won.s.deal).toMatchObject({ status: 'won', stage: { id: '8', name: 'Won' }, pipeline: { id: '2' } });

      m = mark();
      const reopened = await ok(srv.client, 'update_deal', { deal_id: dealId, status: 'open' });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'PUT', path: `/api/v2/opportunities/${dealId}`, body: { opportunity: { milestone: { id: 7 } } } }]);
      expect(reopened.s.deal).toMatchObject({ status: 'open', stage: { id: '7', name: 'Proposal' } });
    });

    it("update_deal to another pipeline's milestone is refused with the deal's pipeline's stages; no PUT", async () => {
      const m = mark();
      const err = await fails(srv.client, 'update_deal', { deal_id: dealId, stage_id: '2' });
      expect(err).toContain("Stage '2' is not a stage of SMB clients (2)");
      for (const id of [6, 7, 8, 9]) expect(err).toContain(`${milestone(id).name} (${id})`);
      expect(err).not.toContain('Negotiation');
      expect(writesSince(m)).toHaveLength(0);
      expect(fake.state.opportunities.get(Number(dealId))?.milestoneId).toBe(7);
      // A board stage is not a place for a deal at all.
      expect(await fails(srv.client, 'update_deal', { deal_id: dealId, pipeline_id: 'board-34', stage_id: 'stage-150' })).toMatch(/stage of a Capsule project board; a deal stands in a milestone/);
      expect(writesSince(m)).toHaveLength(0);
    });

    it('update_deal with pipeline_id and a milestone of that pipeline moves it across', async () => {
      const m = mark();
      const { s } = await ok(srv.client, 'update_deal', { deal_id: dealId, pipeline_id: '1', stage_id: '3' });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'PUT', path: `/api/v2/opportunities/${dealId}`, body: { opportunity: { milestone: { id: 3 } } } }]);
      expect(s.deal).toMatchObject({ pipeline: { id: '1', name: 'Sales Pipeline' }, stage: { id: '3', name: 'Negotiation' } });
    });

    it('create_deal repeated with an idempotency key creates one deal', async () => {
      const args = { name: 'Keyed deal', stage_id: '1', account_id: '892', idempotency_key: 'capsule-key-1' };
      const m = mark();
      const first = await ok(srv.client, 'create_deal', args);
      const second = await ok(srv.client, 'create_deal', args);
      expect(second.s.deal.id).toBe(first.s.deal.id);
      expect(writesSince(m)).toHaveLength(1);
      expect([...fake.state.opportunities.values()].filter((o) => o.name === 'Keyed deal')).toHaveLength(1);
    });
  });

  describe('projects', () => {
    it('list_projects and get_project: status, board stage, owner; detailed adds tags and custom fields', async () => {
      const { s, text } = await ok(srv.client, 'list_projects', { limit: 5 });
      expect(recordLines(text)[0]).toBe('- Project 1 (2001) · open · Project Brief (stage-149) · Ted Danson (61)');
      expect(s.projects).toHaveLength(5);
      const full = await ok(srv.client, 'get_project', { project_id: '2001', response_format: 'detailed' });
      expect(full.s.project).toMatchObject({ tags: [{ id: '501', name: 'VIP' }], custom_fields: { Region: 'EMEA' }, opportunity: [{ id: '1001', name: 'Opportunity 1' }] });
      expect(full.text).toContain('tags VIP (501)');
    });

    it('list_projects filters: a board stage and status as a search, an account alone, both together refused', async () => {
      const { items } = await listAll(srv.client, 'list_projects', 'projects', { stage_id: 'stage-150', status: 'closed' });
      const expected = [...fake.state.kases.values()].filter((k) => k.stageId === 150 && k.status === 'CLOSED');
      expect(items.map((p) => p.id)).toEqual(expected.map((k) => String(k.id)));
      const mine = await listAll(srv.client, 'list_projects', 'projects', { account_id: '897' });
      expect(mine.items.length).toBeGreaterThan(0);
      for (const p of mine.items) expect(p.account).toEqual({ id: '897', name: 'Mary Major' });
      const m = mark();
      expect(await fails(srv.client, 'list_projects', { account_id: '897', name: 'x' })).toMatch(/account's projects only without other filters/);
      expect(await fails(srv.client, 'list_projects', { stage_id: '2' })).toMatch(/milestone of a Capsule sales pipeline/);
      expect(since(m)).toHaveLength(0);
    });

    let projectId: string;

    it('create_project: exact POST; the account is required and statuses are Capsule\'s', async () => {
      let m = mark();
      expect(await fails(srv.client, 'create_project', { name: 'No account' })).toBe('Capsule requires `account` to create a project.');
      expect(await fails(srv.client, 'create_project', { name: 'P', account: { id: '892' }, status: 'in progress' })).toBe(
        "Capsule does not accept status 'in progress' for a project; allowed: open, closed.",
      );
      expect(await fails(srv.client, 'create_project', { name: 'P', account: { id: '892' }, amount: 10 })).toMatch(/^Capsule does not support `amount` when creating a project/);
      expect(writesSince(m)).toHaveLength(0);

      m = mark();
      const { s, text } = await ok(srv.client, 'create_project', {
        name: 'E2E Project',
        account: { id: '895' },
        owner: { id: '63' },
        stage: { id: 'stage-149' },
        close_date: '2026-10-01',
        tags: [{ id: '503' }],
      });
      expect(writesSince(m).map(wire)).toEqual([
        {
          method: 'POST',
          path: '/api/v2/kases',
          body: { kase: { name: 'E2E Project', party: { id: 895 }, owner: { id: 63 }, stage: 149, expectedCloseOn: '2026-10-01', tags: [{ id: 503 }] } },
        },
      ]);
      projectId = s.project.id;
      expect(s.project).toMatchObject({ status: 'open', stage: { id: 'stage-149', name: 'Project Brief' }, tags: [{ id: '503', name: 'Renewal' }] });
      expect(text).toContain(`Created project E2E Project (${projectId}) · open · Project Brief (stage-149) · Bob Stone (63)`);
    });

    it('update_project: only the fields given; a board stage, never a milestone', async () => {
      let m = mark();
      const { s } = await ok(srv.client, 'update_project', { project_id: projectId, status: 'closed', stage: { id: 'stage-151' } });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'PUT', path: `/api/v2/kases/${projectId}`, body: { kase: { status: 'CLOSED', stage: 151 } } }]);
      expect(s.project).toMatchObject({ status: 'closed', stage: { id: 'stage-151', name: 'Delivery' } });
      m = mark();
      expect(await fails(srv.client, 'update_project', { project_id: projectId, stage: { id: '3' } })).toMatch(/milestone of a Capsule sales pipeline/);
      expect(writesSince(m)).toHaveLength(0);
    });

    it('delete_project: a preview without confirm, then the delete', async () => {
      let m = mark();
      const preview = await ok(srv.client, 'delete_project', { project_id: projectId });
      expect(preview.s).toEqual({ deleted: false, project: { id: projectId, name: 'E2E Project' } });
      expect(writesSince(m)).toHaveLength(0);
      m = mark();
      const deleted = await ok(srv.client, 'delete_project', { project_id: projectId, confirm: true });
      expect(deleted.s).toEqual({ deleted: true, project: { id: projectId, name: 'E2E Project' } });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'DELETE', path: `/api/v2/kases/${projectId}`, body: undefined }]);
      expect(fake.state.kases.has(Number(projectId))).toBe(false);
    });
  });

  describe('dry runs', () => {
    it('the exact request of every write Capsule takes, and no write upstream', async () => {
      const m = mark();
      const cases: Array<[string, Record<string, unknown>, S]> = [
        [
          'create_deal',
          { name: 'Dry', stage_id: '2', account_id: '892' },
          { method: 'POST', path: '/opportunities', body: { opportunity: { name: 'Dry', party: { id: 892 }, milestone: { id: 2 } } } },
        ],
        ['update_deal', { deal_id: '1001', stage_id: '3' }, { method: 'PUT', path: '/opportunities/1001', body: { opportunity: { milestone: { id: 3 } } } }],
        ['update_deal', { deal_id: '1001', status: 'lost' }, { method: 'PUT', path: '/opportunities/1001', body: { opportunity: { milestone: { id: 5 } } } }],
        ['create_project', { name: 'Dry', account: { id: '892' } }, { method: 'POST', path: '/kases', body: { kase: { name: 'Dry', party: { id: 892 } } } }],
        ['update_project', { project_id: '2002', name: 'Renamed' }, { method: 'PUT', path: '/kases/2002', body: { kase: { name: 'Renamed' } } }],
        ['delete_project', { project_id: '2002', confirm: true }, { method: 'DELETE', path: '/kases/2002' }],
      ];
      for (const [tool, args, request] of cases) {
        const { s, text } = await ok(srv.client, tool, { ...args, dry_run: true });
        expect(s, tool).toEqual({ dry_run: request });
        expect(text, tool).toContain(`Dry run, nothing was sent. Would send: ${request.method} ${request.path}`);
      }
      expect(writesSince(m)).toHaveLength(0);
      expect(fake.state.kases.get(2002)?.name).toBe('Project 2');
    });
  });

  describe('the records around a deal', () => {
    it('the shared records suite exercises every new tool on Capsule, refusing none', async () => {
      const report = await runRecordsSuite({
        client: srv.client,
        fixtures: { deal_id: String(ACME.deal), user_id: '62', account_id: String(ACME.id), search: { query: 'Acme', exact: ACME.name } },
        upstreamRequests: () => fake.server.requests.length,
      });
      expect(report.exercised).toEqual(RECORD_TOOL_NAMES);
      expect(report.refused).toEqual([]);
      // What the suite made is in Capsule: an organisation, a person at Acme, a note and a completed task on the deal.
      expect(fake.state.parties.get(Number(report.created.account))).toMatchObject({ type: 'organisation', ownerId: 62 });
      expect(fake.state.parties.get(Number(report.created.contact))).toMatchObject({ type: 'person', organisationId: ACME.id, jobTitle: 'Head of Suites' });
      expect(fake.state.entries.get(Number(report.created.note!.replace('entry-', '')))).toMatchObject({ type: 'note', opportunityId: ACME.deal });
      expect(fake.state.tasks.get(Number(report.created.task!.replace('task-', '')))).toMatchObject({ status: 'COMPLETED', ownerId: 62, opportunityId: ACME.deal });
    });

    it('"add a deal for Acme, owned by Ana, and note that they want a pilot" in five calls', async () => {
      const found = await ok(srv.client, 'search', { query: 'acme', types: ['accounts'] });
      const acme = (found.s.results as S[])[0];
      expect(acme).toEqual({ type: 'accounts', id: '896', name: 'Acme Corp', detail: 'acme.example · Ana Silva (62)' });
      const ana = ((await ok(srv.client, 'list_users', { name: 'ana' })).s.users as S[])[0];
      expect(ana).toEqual({ id: '62', name: 'Ana Silva', email: 'ana@capsule.example', active: true });
      const stages = (await ok(srv.client, 'get_pipeline', { pipeline_id: '1' })).s.pipeline.stages as S[];
      const deal = (await ok(srv.client, 'create_deal', { name: 'Acme pilot', account_id: acme.id, owner_id: ana.id, stage_id: stages[0].id })).s.deal;
      expect(deal).toMatchObject({ account: { id: '896', name: 'Acme Corp' }, owner: { id: '62', name: 'Ana Silva' }, status: 'open' });
      const note = (await ok(srv.client, 'create_activity', { type: 'note', body: 'They want a pilot.', deal_id: deal.id })).s.activity;
      expect(note).toMatchObject({ type: 'note', body: 'They want a pilot.', deal: { id: deal.id, name: 'Acme pilot' } });
    });

    it('lists: accounts and contacts with names, an account\'s people and deals, users, a deal\'s activities with OVERDUE', async () => {
      const accounts = await ok(srv.client, 'list_accounts', { name: 'acme' });
      expect(recordLines(accounts.text)[0]).toBe('- Acme Corp (896) · acme.example · Ana Silva (62)');
      const people = await ok(srv.client, 'list_contacts', { account_id: '896' });
      expect(recordLines(people.text).slice(0, 2)).toEqual([
        '- Mary Major (897) · Head of Buying · Acme Corp (896) · mary@acme.example',
        '- Olivia Rossi (898) · CTO · Acme Corp (896) · olivia@acme.example',
      ]);
      const deals = (await listAll(srv.client, 'list_deals', 'deals', { account_id: '896', status: 'lost' })).items;
      const lost = [...fake.state.opportunities.values()].filter((o) => o.partyId === 896 && o.closedOn !== null && o.probability !== 100);
      expect(deals.map((d) => d.id)).toEqual(lost.map((o) => String(o.id)));
      const users = await ok(srv.client, 'list_users', {});
      expect(recordLines(users.text)).toEqual(['- Ted Danson (61) · ted@capsule.example', '- Ana Silva (62) · ana@capsule.example', '- Bob Stone (63) · inactive']);

      const { s, text } = await ok(srv.client, 'list_activities', { deal_id: '1005', type: 'task', done: false });
      const overdue = [...fake.state.tasks.values()].filter((t) => t.opportunityId === 1005 && t.status === 'OPEN' && t.dueOn < todayUtc());
      expect(overdue.length).toBeGreaterThan(0);
      for (const t of overdue) {
        expect(s.activities.find((a: S) => a.id === `task-${t.id}`)).toMatchObject({ overdue: true, done: false });
        expect(text).toContain(`Task: ${t.description} (task-${t.id}) · due ${t.dueOn} · OVERDUE`);
      }
      const m = mark();
      expect(await fails(srv.client, 'list_activities', {})).toMatch(/^Capsule lists notes and emails one record at a time/);
      expect(await fails(srv.client, 'list_activities', { type: 'meeting', deal_id: '1005' })).toMatch(/no type 'meeting'/);
      expect(since(m)).toHaveLength(0);
    });

    it('refusals before anything is written: unknown ids point to search and list_users; two records for one note; an industry', async () => {
      const m = mark();
      expect(await fails(srv.client, 'create_contact', { last_name: 'Nobody', account_id: '4040' })).toBe(
        "No account with id '4040'. Find ids with search (types: accounts) or list_accounts.",
      );
      expect(await fails(srv.client, 'create_activity', { type: 'task', subject: 'x', due_date: '2027-01-01', deal_id: '1005', owner_id: '99' })).toBe(
        "No user with id '99'. Find ids with list_users or search (types: users).",
      );
      expect(await fails(srv.client, 'create_deal', { name: 'x', stage_id: '1', account_id: '896', owner_id: '99' })).toBe(
        "No user with id '99'. Find ids with list_users or search (types: users).",
      );
      expect(await fails(srv.client, 'create_activity', { type: 'note', body: 'x', deal_id: '1005', account_id: '896' })).toMatch(
        /^Capsule files a note or task on one record only/,
      );
      expect(await fails(srv.client, 'create_activity', { type: 'call', body: 'x', deal_id: '1005' })).toMatch(/type/);
      expect(await fails(srv.client, 'create_account', { name: 'x', industry: 'Software' })).toMatch(/^Capsule does not support `industry` when creating an account/);
      expect(await fails(srv.client, 'update_activity', { activity_id: 'task-7001', deal_id: '1005' })).toMatch(/^Capsule does not support `deal_id` when updating an activity/);
      expect(writesSince(m)).toHaveLength(0);
    });

    it('dry runs of the new writes show the exact requests and write nothing', async () => {
      const m = mark();
      const site = fake.state.parties.get(893)!.websites[0].id;
      const cases: Array<[string, Record<string, unknown>, S]> = [
        [
          'create_account',
          { name: 'Dry Org', domain: 'dry.example', owner_id: '61' },
          { method: 'POST', path: '/parties', body: { party: { type: 'organisation', name: 'Dry Org', owner: { id: 61 }, websites: [{ service: 'URL', address: 'dry.example' }] } } },
        ],
        ['update_account', { account_id: '893', domain: 'globex.test' }, { method: 'PUT', path: '/parties/893', body: { party: { websites: [{ id: site, address: 'globex.test' }] } } }],
        [
          'create_contact',
          { first_name: 'Dry', last_name: 'Run', emails: ['dry@run.example'], account_id: '893' },
          { method: 'POST', path: '/parties', body: { party: { type: 'person', firstName: 'Dry', lastName: 'Run', organisation: { id: 893 }, emailAddresses: [{ address: 'dry@run.example' }] } } },
        ],
        ['update_contact', { contact_id: '899', title: 'Buyer' }, { method: 'PUT', path: '/parties/899', body: { party: { jobTitle: 'Buyer' } } }],
        [
          'create_activity',
          { type: 'note', subject: 'Meeting notes', body: 'Wants a pilot.', project_id: '2002' },
          { method: 'POST', path: '/entries', body: { entry: { type: 'note', content: 'Meeting notes\n\nWants a pilot.', kase: { id: 2002 } } } },
        ],
        [
          'create_activity',
          { type: 'task', subject: 'Call back', due_date: '2027-02-01', contact_id: '897', owner_id: '63' },
          { method: 'POST', path: '/tasks', body: { task: { description: 'Call back', dueOn: '2027-02-01', owner: { id: 63 }, party: { id: 897 } } } },
        ],
        ['update_activity', { activity_id: 'task-7002', done: true }, { method: 'PUT', path: '/tasks/7002', body: { task: { status: 'COMPLETED' } } }],
        ['update_activity', { activity_id: 'entry-5001', body: 'Edited' }, { method: 'PUT', path: '/entries/5001', body: { entry: { content: 'Edited' } } }],
      ];
      for (const [tool, args, request] of cases) {
        const { s, text } = await ok(srv.client, tool, { ...args, dry_run: true });
        expect(s, tool).toEqual({ dry_run: request });
        expect(text, tool).toContain(`Dry run, nothing was sent. Would send: ${request.method} ${request.path}`);
      }
      expect(writesSince(m)).toHaveLength(0);
      expect(fake.state.tasks.get(7002)!.status).not.toBe('COMPLETED');
    });

    it('cancelling a list of activities stops the walk of tasks; cancelling a search stops the other types', async () => {
      const walked = await expectCancelStopsUpstream({
        client: srv.client,
        server: fake.server,
        tool: 'list_activities',
        args: { deal_id: '1005' },
        slow: (r) => r.path === '/api/v2/tasks' && r.query.page === '2',
      });
      expect(walked.some((r) => r.path === '/api/v2/opportunities/1005/entries')).toBe(true);
      const searched = await expectCancelStopsUpstream({
        client: srv.client,
        server: fake.server,
        tool: 'search',
        args: { query: 'acme' },
        slow: (r) => r.path === '/api/v2/kases/search',
      });
      expect(searched.map((r) => r.path).sort()).toEqual(['/api/v2/kases/search', '/api/v2/opportunities/search', '/api/v2/parties/search']);
    });
  });

  describe('what Capsule does not support', () => {
    it('pipeline and stage writes and statistics say so plainly, naming what Capsule supports; nothing is sent', async () => {
      const cases: Array<[string, Record<string, unknown>, RegExp]> = [
        ['create_pipeline', { name: 'P' }, /creating pipelines/],
        ['update_pipeline', { pipeline_id: '1', name: 'Q' }, /updating pipelines/],
        ['delete_pipeline', { pipeline_id: '1', confirm: true }, /deleting pipelines/],
        ['create_stage', { pipeline_id: '1', name: 'S' }, /creating stages/],
        ['create_stage', { pipeline_id: '1', name: 'S', dry_run: true }, /creating stages/],
        ['update_stage', { stage_id: '1', name: 'T' }, /updating stages/],
        ['delete_stage', { stage_id: '1' }, /deleting stages/],
        ['pipeline_conversion_stats', { pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-12-31' }, /pipeline conversion statistics/],
        ['pipeline_movement_stats', { pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-12-31' }, /pipeline movement statistics/],
      ];
      const m = mark();
      for (const [tool, args, what] of cases) expectNotSupported(await fails(srv.client, tool, args), what);
      expect(since(m)).toHaveLength(0);
    });
  });

  it('a read that meets a 429 with X-RateLimit-Reset now is retried and succeeds', async () => {
    fake.server.inject(
      { kind: 'status', status: 429, headers: { 'X-RateLimit-Limit': '4000', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(Math.floor(Date.now() / 1000)) }, body: { error: 'rate limit reached' } },
      { match: (r) => r.path === '/api/v2/kases/2004' },
    );
    const m = mark();
    const { s } = await ok(srv.client, 'get_project', { project_id: '2004' });
    expect(s.project.id).toBe('2004');
    expect(since(m).filter((r) => r.path === '/api/v2/kases/2004')).toHaveLength(2);
  });

  it('the API token never appears in any tool output nor in the debug logs', () => {
    expect(outputs.length).toBeGreaterThan(40);
    expect(outputs.some((o) => o.includes('"isError":true'))).toBe(true);
    expect(outputs.some((o) => o.includes('"dry_run"'))).toBe(true);
    for (const o of outputs) expect(o).not.toContain(CAPSULE_TOKEN);
    const lines = logLines(srv.stderr());
    expect(lines.some((l) => l.level === 20 && l.msg === 'upstream request')).toBe(true);
    expect(srv.stderr()).not.toContain(CAPSULE_TOKEN);
  });
});

describe('capsule as a named connection beside the local demo (--config)', () => {
  it('list_connections shows both; a call names its connection and reaches Capsule with the token from the env var', async () => {
    const path = join(tempDir(), 'crm-mcp.json');
    writeFileSync(
      path,
      JSON.stringify({
        default: 'demo',
        connections: {
          demo: { provider: 'local', db: 'demo.db' },
          projects: { provider: 'capsule', base_url: fake.url, api_token_env: 'E2E_CAPSULE_TOKEN' },
        },
      }),
    );
    const srv = await startStdio({ db: isolatedDbPath(), args: ['--config', path], env: { E2E_CAPSULE_TOKEN: CAPSULE_TOKEN } });
    try {
      const { s } = await ok(srv.client, 'list_connections');
      expect(s.connections.map((c: S) => [c.name, c.provider, c.default])).toEqual([
        ['demo', 'local', true],
        ['projects', 'capsule', false],
      ]);
      const m = mark();
      const { s: p } = await ok(srv.client, 'get_project', { project_id: '2010', connection: 'projects' });
      expect(p.project).toMatchObject({ id: '2010', name: 'Project 10' });
      expect(since(m).map((r) => r.path)).toEqual(['/api/v2/kases/2010']);
      expect(since(m)[0].headers.authorization).toBe(`Bearer ${CAPSULE_TOKEN}`);
      // The default connection is the local demo: nothing reaches Capsule.
      const local = await ok(srv.client, 'list_pipelines');
      expect(local.s.pipelines.map((x: S) => x.id)).not.toContain('board-34');
      expect(since(m)).toHaveLength(1);
    } finally {
      await srv.close();
    }
  });
});
