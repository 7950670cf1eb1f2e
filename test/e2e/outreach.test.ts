/**
 * End-to-end with CRM_PROVIDER=outreach: the built binary (`node dist/cli.js`) spawned over stdio,
 * driven by the real MCP client, against the stateful fake Outreach on 127.0.0.1
 * (test/fakes/outreach.ts). Every tool Outreach supports, with the exact upstream requests of
 * writes and dry runs; every other tool refused plainly before any request; the OAuth renewal of
 * an expired token (and a renewal Outreach refuses) through the binary; and no token, client
 * secret or refresh token, configured or minted, in any output (the helpers' secret scan, with the
 * fake's minted tokens added to it).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  FAKE_OUTREACH_CLIENT_ID,
  FAKE_OUTREACH_CLIENT_SECRET,
  FAKE_OUTREACH_REFRESH_TOKEN,
  FAKE_OUTREACH_TOKEN,
  SEED,
  startFakeOutreach,
  type FakeOutreach,
} from '../fakes/outreach.js';
import type { RecordedRequest } from '../fakes/server.js';
import { fails, listAll, ok, recordLines, recordResults, type S } from '../helpers/mcp.js';
import { isolatedDbPath, logLines, startStdio, stopAll, type StdioServer } from '../helpers/server.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let fake: FakeOutreach;
beforeAll(async () => {
  fake = await startFakeOutreach();
});
afterAll(async () => {
  await stopAll();
  await fake?.stop();
});

const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  CRM_PROVIDER: 'outreach',
  OUTREACH_ACCESS_TOKEN: FAKE_OUTREACH_TOKEN,
  OUTREACH_BASE_URL: fake.url,
  ...extra,
});
/** Tokens the fake may mint: not in the environment, so given to the secret scan by name. */
const minted = () => Object.fromEntries(fake.state.tokens.mintable.flatMap((t, i) => [[`minted access ${i}`, t.access], [`minted refresh ${i}`, t.refresh]]));

const mark = () => fake.server.requests.length;
const since = (m: number): RecordedRequest[] => fake.server.requests.slice(m);
const writesSince = (m: number) => since(m).filter((r) => r.method !== 'GET');
const wire = (r: RecordedRequest) => ({ method: r.method, path: r.path, body: r.body });

const stageName = (id: number) => fake.state.opportunityStages.get(id)!.name;
const userName = (id: number) => `${fake.state.users.get(id)!.firstName} ${fake.state.users.get(id)!.lastName}`;
const openStages = () => [...fake.state.opportunityStages.values()].filter((s) => !s.isClosed).map((s) => s.id);

const SUPPORTED = {
  pipelines: ['list', 'get'],
  stages: ['list', 'get', 'create', 'update', 'delete'],
  deals: ['list', 'get', 'create', 'update'],
  accounts: ['list', 'get', 'create', 'update'],
  contacts: ['list', 'get', 'create', 'update'],
  users: ['list'],
  activities: ['list', 'get', 'create', 'update'],
  search: ['deals', 'accounts', 'contacts', 'users'],
};

/** The "not supported" sentence: names Outreach, what was asked and what this connection supports. */
function expectNotSupported(text: string, what: RegExp): void {
  expect(text).toMatch(/^Outreach does not support /);
  expect(text).toMatch(what);
  expect(text).toContain('pipelines (list, get)');
  expect(text).toContain('stages (list, get, create, update, delete)');
  expect(text).toContain('deals (list, get, create, update)');
}

describe('outreach over stdio: one server at log level debug', () => {
  let srv: StdioServer;
  let outputs: string[];

  beforeAll(async () => {
    srv = await startStdio({ db: isolatedDbPath(), env: env(), logLevel: 'debug', secrets: minted() });
    outputs = recordResults(srv.client);
  });
  afterAll(async () => srv?.close());

  it('list_connections names the Outreach connection and exactly what it supports, asking Outreach nothing', async () => {
    const m = mark();
    const { s } = await ok(srv.client, 'list_connections');
    expect(s.connections).toEqual([{ name: 'outreach', provider: 'outreach', default: true, supports: SUPPORTED }]);
    expect(since(m)).toHaveLength(0);
  });

  describe('pipelines', () => {
    it('list_pipelines: the two fixed ones, no request', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'list_pipelines');
      expect(s.pipelines).toEqual([
        { id: 'prospects', name: 'Prospects' },
        { id: 'opportunities', name: 'Opportunities' },
      ]);
      expect(recordLines(text)).toEqual(['- Prospects (prospects)', '- Opportunities (opportunities)']);
      expect(since(m)).toHaveLength(0);
    });

    it('get_pipeline opportunities: ordered stages with open deals per stage', async () => {
      const { s, text } = await ok(srv.client, 'get_pipeline', { pipeline_id: 'opportunities' });
      const stages = [...fake.state.opportunityStages.values()].sort((a, b) => a.order - b.order);
      expect(s.pipeline.stages.map((st: S) => [st.id, st.name])).toEqual(stages.map((st) => [`o${st.id}`, st.name]));
      const open = [...fake.state.opportunities.values()].filter((o) => openStages().includes(o.stageId!));
      expect(s.pipeline.open_deals.count).toBe(open.length);
      for (const st of s.pipeline.stages) {
        expect(st.open_deals.count, st.name).toBe(open.filter((o) => `o${o.stageId}` === st.id).length);
      }
      expect(text.split('\n')[0]).toMatch(new RegExp(`^Pipeline Opportunities \\(opportunities\\) · ${open.length} open`));
      expect(text).toContain('1. Prospecting (o1)');
    });

    it('get_pipeline prospects: the prospect stages, no deals', async () => {
      const { s, text } = await ok(srv.client, 'get_pipeline', { pipeline_id: 'prospects' });
      expect(s.pipeline.stages.map((st: S) => st.id)).toEqual([...fake.state.stages.keys()].map((id) => `p${id}`));
      expect(s.pipeline.open_deals).toBeUndefined();
      expect(text).toContain('Qualified Lead (p4)');
    });

    it('pipeline writes are refused plainly: Outreach has two fixed pipelines; nothing is sent', async () => {
      const m = mark();
      expectNotSupported(await fails(srv.client, 'create_pipeline', { name: 'New' }), /creating pipelines/);
      expectNotSupported(await fails(srv.client, 'update_pipeline', { pipeline_id: 'prospects', name: 'X' }), /updating pipelines/);
      expectNotSupported(await fails(srv.client, 'delete_pipeline', { pipeline_id: 'prospects', confirm: true }), /deleting pipelines/);
      const unknown = await fails(srv.client, 'get_pipeline', { pipeline_id: '1' });
      expect(unknown).toContain("No pipeline with id '1'. Outreach has two, both fixed");
      expect(since(m)).toHaveLength(0);
    });
  });

  describe('stages', () => {
    it('list_stages: one pipeline in order, each line with its pipeline; both pipelines when none is given', async () => {
      const { s, text } = await ok(srv.client, 'list_stages', { pipeline_id: 'opportunities' });
      expect(s.stages.map((st: S) => st.id)).toEqual(['o1', 'o2', 'o3', 'o4', 'o5', 'o6']);
      expect(recordLines(text)[2]).toContain('Proposal (o3) · #3 in Opportunities (opportunities)');
      const { items } = await listAll(srv.client, 'list_stages', 'stages', {}, 5);
      expect(items).toHaveLength(SEED.prospectStages + SEED.opportunityStages);
      const named = await ok(srv.client, 'list_stages', { name: 'closed' });
      expect(named.s.stages.map((st: S) => st.name)).toEqual(['Closed Won', 'Closed Lost']);
      const status = await fails(srv.client, 'list_stages', { status: 'inactive' });
      expect(status).toMatch(/Outreach cannot filter stages by `status`/);
    });

    it('get_stage: p4 and o4 are different stages', async () => {
      const p = await ok(srv.client, 'get_stage', { stage_id: 'p4' });
      const o = await ok(srv.client, 'get_stage', { stage_id: 'o4' });
      expect(p.s.stage).toMatchObject({ id: 'p4', name: 'Qualified Lead', pipeline: { id: 'prospects', name: 'Prospects' } });
      expect(o.s.stage).toMatchObject({ id: 'o4', name: 'Negotiation', pipeline: { id: 'opportunities', name: 'Opportunities' } });
      const bare = await fails(srv.client, 'get_stage', { stage_id: '4' });
      expect(bare).toContain("'p' + the id for a prospect stage (p12)");
    });

    it('create, update, delete: exact JSON:API requests; unsupported fields refused before sending', async () => {
      let m = mark();
      const created = await ok(srv.client, 'create_stage', { pipeline_id: 'prospects', name: 'E2E Stage', color: '#112233' });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'POST', path: '/stages', body: { data: { type: 'stage', attributes: { name: 'E2E Stage', color: '#112233' } } } },
      ]);
      const id = created.s.stage.id as string;
      expect(id).toBe(`p${SEED.prospectStages + 1}`);
      expect(created.text).toContain(`Created stage E2E Stage (${id}) · #${SEED.prospectStages + 1} in Prospects (prospects)`);

      m = mark();
      const updated = await ok(srv.client, 'update_stage', { stage_id: id, position: 2 });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'PATCH', path: `/stages/${id.slice(1)}`, body: { data: { type: 'stage', id: Number(id.slice(1)), attributes: { order: 2 } } } },
      ]);
      expect(updated.s.stage).toMatchObject({ id, name: 'E2E Stage', position: 2 });

      m = mark();
      const probability = await fails(srv.client, 'create_stage', { pipeline_id: 'opportunities', name: 'P', probability: 50 });
      expect(probability).toMatch(/Outreach does not support `probability` when creating a stage; supported fields: pipeline_id, name, position, color/);
      const status = await fails(srv.client, 'update_stage', { stage_id: 'o1', status: 'inactive' });
      expect(status).toMatch(/Outreach does not support `status` when updating a stage/);
      const move = await fails(srv.client, 'update_stage', { stage_id: 'o1', pipeline_id: 'prospects' });
      expect(move).toMatch(/Outreach does not support `pipeline_id` when updating a stage/);
      expect(since(m)).toHaveLength(0);

      m = mark();
      const preview = await ok(srv.client, 'delete_stage', { stage_id: id });
      expect(preview.s).toEqual({ deleted: false, stage: { id, name: 'E2E Stage' } });
      expect(writesSince(m)).toHaveLength(0);
      const deleted = await ok(srv.client, 'delete_stage', { stage_id: id, confirm: true });
      expect(deleted.s).toEqual({ deleted: true, stage: { id, name: 'E2E Stage' } });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'DELETE', path: `/stages/${id.slice(1)}`, body: undefined }]);
      expect(fake.state.stages.has(Number(id.slice(1)))).toBe(false);
    });
  });

  describe('deals', () => {
    it('list_deals: one request per page, every line with the stage and owner names', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'list_deals', { limit: 20 });
      expect(since(m).map((r) => r.path)).toEqual(['/opportunities']);
      expect(s.deals).toHaveLength(20);
      const lines = recordLines(text);
      s.deals.forEach((d: S, i: number) => {
        const o = fake.state.opportunities.get(Number(d.id))!;
        expect(d.stage).toEqual({ id: `o${o.stageId}`, name: stageName(o.stageId!) });
        expect(d.owner).toEqual({ id: String(o.ownerId), name: userName(o.ownerId!) });
        expect(lines[i]).toContain(`${o.name} (${o.id}) · ${stageName(o.stageId!)} (o${o.stageId})`);
        expect(lines[i]).toContain(`${userName(o.ownerId!)} (${o.ownerId})`);
      });
      expect(text).toContain('More: call list_deals again');
    });

    it('list_deals by status and owner matches Outreach\'s records', async () => {
      const { items } = await listAll(srv.client, 'list_deals', 'deals', { status: 'lost', owner_id: '1' });
      const expected = [...fake.state.opportunities.values()].filter((o) => o.stageId === 6 && o.ownerId === 1);
      expect(items.map((d) => d.id).sort()).toEqual(expected.map((o) => String(o.id)).sort());
      for (const d of items) expect(d).toMatchObject({ status: 'lost', stage: { id: 'o6', name: 'Closed Lost' } });
      const prospects = await fails(srv.client, 'list_deals', { pipeline_id: 'prospects' });
      expect(prospects).toContain("Pipeline 'prospects' holds prospect stages, not deals");
    });

    it('get_deal: names, and the opportunity itself as remote_data when asked', async () => {
      const o = [...fake.state.opportunities.values()].find((x) => x.accountId !== null)!;
      const { s, text } = await ok(srv.client, 'get_deal', { deal_id: String(o.id), response_format: 'detailed', include_remote_data: true });
      const account = fake.state.accounts.get(o.accountId!)!;
      expect(s.deal).toMatchObject({ id: String(o.id), name: o.name, account: { id: String(account.id), name: account.name } });
      expect(s.deal.remote_data).toMatchObject({ type: 'opportunity', id: o.id });
      expect(text).toContain(`account ${account.name} (${account.id})`);
      expect(text).toContain('pipeline Opportunities (opportunities)');
    });

    let dealId: string;

    it('create_deal: exact POST with the opportunityStage relationship, read back with names', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'create_deal', {
        name: 'E2E Deal',
        stage_id: 'o2',
        amount: 1234.5,
        currency: 'EUR',
        owner_id: '2',
        account_id: '3',
        close_date: '2026-12-24',
      });
      expect(writesSince(m).map(wire)).toEqual([
        {
          method: 'POST',
          path: '/opportunities',
          body: {
            data: {
              type: 'opportunity',
              attributes: { name: 'E2E Deal', amount: 1235, amountPrecise: '1234.5', currencyType: 'EUR', closeDate: '2026-12-24T00:00:00.000Z' },
              relationships: {
                opportunityStage: { data: { type: 'opportunityStage', id: 2 } },
                owner: { data: { type: 'user', id: 2 } },
                account: { data: { type: 'account', id: 3 } },
              },
            },
          },
        },
      ]);
      dealId = s.deal.id;
      expect(s.deal).toMatchObject({ name: 'E2E Deal', status: 'open', stage: { id: 'o2', name: 'Qualification' }, amount: 1234.5, currency: 'EUR' });
      expect(text).toBe(`Created deal E2E Deal (${dealId}) · Qualification (o2) · open · 1,234.5 EUR · Ben Okafor (2).`);
    });

    it('update_deal: a move to Closed Won is validated, sends only the stage, and reads as won', async () => {
      const m = mark();
      const won = await ok(srv.client, 'update_deal', { deal_id: dealId, stage_id: 'o5' });
      expect(writesSince(m).map(wire)).toEqual([
        {
          method: 'PATCH',
          path: `/opportunities/${dealId}`,
          body: { data: { type: 'opportunity', id: Number(dealId), relationships: { opportunityStage: { data: { type: 'opportunityStage', id: 5 } } } } },
        },
      ]);
      expect(won.s.deal).toMatchObject({ status: 'won', stage: { id: 'o5', name: 'Closed Won' } });
    });

    it('update_deal to a prospect stage is refused with the pipeline\'s stages; status cannot be written; nothing sent', async () => {
      const m = mark();
      const prospect = await fails(srv.client, 'update_deal', { deal_id: dealId, stage_id: 'p2' });
      expect(prospect).toContain("Stage 'p2' is not a stage of Opportunities (opportunities)");
      for (const id of fake.state.opportunityStages.keys()) expect(prospect).toContain(`(o${id})`);
      const status = await fails(srv.client, 'update_deal', { deal_id: dealId, status: 'lost' });
      expect(status).toMatch(/Outreach does not support `status` when updating a deal/);
      expect(writesSince(m)).toHaveLength(0);
      expect(fake.state.opportunities.get(Number(dealId))!.stageId).toBe(5);
    });
  });

  describe('what Outreach does not support', () => {
    it('every project and statistics tool says so plainly; nothing is sent', async () => {
      const cases: Array<[string, Record<string, unknown>, RegExp]> = [
        ['list_projects', {}, /listing projects/],
        ['get_project', { project_id: '1' }, /reading projects/],
        ['create_project', { name: 'P' }, /creating projects/],
        ['create_project', { name: 'P', dry_run: true }, /creating projects/],
        ['update_project', { project_id: '1', name: 'Q' }, /updating projects/],
        ['delete_project', { project_id: '1', confirm: true }, /deleting projects/],
        ['pipeline_conversion_stats', { pipeline_id: 'opportunities', start_date: '2026-01-01', end_date: '2026-12-31' }, /conversion statistics/],
        ['pipeline_movement_stats', { pipeline_id: 'opportunities', start_date: '2026-01-01', end_date: '2026-12-31' }, /movement statistics/],
      ];
      const m = mark();
      for (const [tool, args, what] of cases) expectNotSupported(await fails(srv.client, tool, args), what);
      expect(since(m)).toHaveLength(0);
    });
  });

  describe('dry runs', () => {
    it('stage and deal writes: the exact request and no write upstream', async () => {
      const stagesBefore = fake.state.opportunityStages.size;
      const m = mark();
      const cases: Array<[string, Record<string, unknown>, S]> = [
        [
          'create_stage',
          { pipeline_id: 'opportunities', name: 'Dry', position: 3 },
          { method: 'POST', path: '/opportunityStages', body: { data: { type: 'opportunityStage', attributes: { name: 'Dry', order: 3 } } } },
        ],
        ['update_stage', { stage_id: 'o3', name: 'Renamed' }, { method: 'PATCH', path: '/opportunityStages/3', body: { data: { type: 'opportunityStage', id: 3, attributes: { name: 'Renamed' } } } }],
        ['delete_stage', { stage_id: 'o3', confirm: true }, { method: 'DELETE', path: '/opportunityStages/3' }],
        [
          'create_deal',
          { name: 'Dry deal', stage_id: 'o1', amount: 10 },
          {
            method: 'POST',
            path: '/opportunities',
            body: { data: { type: 'opportunity', attributes: { name: 'Dry deal', amount: 10 }, relationships: { opportunityStage: { data: { type: 'opportunityStage', id: 1 } } } } },
          },
        ],
        ['update_deal', { deal_id: '1', close_date: '2027-01-31' }, { method: 'PATCH', path: '/opportunities/1', body: { data: { type: 'opportunity', id: 1, attributes: { closeDate: '2027-01-31T00:00:00.000Z' } } } }],
      ];
      for (const [tool, args, request] of cases) {
        const { s, text } = await ok(srv.client, tool, { ...args, dry_run: true });
        expect(s, tool).toEqual({ dry_run: request });
        expect(text, tool).toContain(`Dry run, nothing was sent. Would send: ${request.method} ${request.path}`);
      }
      expect(writesSince(m)).toHaveLength(0);
      expect(fake.state.opportunityStages.size).toBe(stagesBefore);
      expect(fake.state.opportunityStages.get(3)!.name).toBe('Proposal');
    });
  });

  it('no token in any tool output nor in the debug logs', () => {
    expect(outputs.length).toBeGreaterThan(30);
    expect(outputs.some((o) => o.includes('"isError":true'))).toBe(true);
    for (const o of outputs) expect(o).not.toContain(FAKE_OUTREACH_TOKEN);
    const stderr = srv.stderr();
    expect(logLines(stderr).some((l) => l.level === 20 && l.msg === 'upstream request')).toBe(true);
    expect(stderr).not.toContain(FAKE_OUTREACH_TOKEN);
  });
});

describe('outreach: the OAuth renewal through the binary', () => {
  const oauthEnv = (refreshToken = FAKE_OUTREACH_REFRESH_TOKEN) =>
    env({ OUTREACH_CLIENT_ID: FAKE_OUTREACH_CLIENT_ID, OUTREACH_CLIENT_SECRET: FAKE_OUTREACH_CLIENT_SECRET, OUTREACH_REFRESH_TOKEN: refreshToken });

  it('an expired token: 401, one renewal, the call answered; the new tokens appear nowhere', async () => {
    fake.expire(FAKE_OUTREACH_TOKEN);
    const srv = await startStdio({ db: ':memory:', env: oauthEnv(), logLevel: 'debug', secrets: minted() });
    try {
      const m = mark();
      const { s } = await ok(srv.client, 'get_stage', { stage_id: 'o1' });
      expect(s.stage.name).toBe('Prospecting');
      const access = fake.state.tokens.mintable[fake.state.tokens.minted - 1].access;
      const auth = (r: RecordedRequest) =>
        r.headers.authorization === `Bearer ${access}` ? 'new token' : r.headers.authorization === `Bearer ${FAKE_OUTREACH_TOKEN}` ? 'expired token' : 'no token';
      expect(since(m).map((r) => `${r.method} ${r.path} ${auth(r)}`)).toEqual([
        'GET /opportunityStages/1 expired token',
        'POST /oauth/token no token',
        'GET /opportunityStages/1 new token',
      ]);
      await ok(srv.client, 'list_deals', { limit: 5 });
      expect(since(m).filter((r) => r.path === '/oauth/token')).toHaveLength(1);
      const renewed = logLines(srv.stderr()).find((l) => l.msg === 'access token renewed');
      expect(renewed).toMatchObject({ provider: 'Outreach', expiresInSeconds: 7200, refreshTokenRotated: true });
    } finally {
      await srv.close();
    }
  });

  it('a renewal Outreach refuses: one auth sentence saying what to do, no secret', async () => {
    const srv = await startStdio({ db: ':memory:', env: oauthEnv('orrt_revoked-long-ago-5f4e3d2c1b0a9988'), secrets: minted() });
    try {
      const err = await fails(srv.client, 'list_stages', { pipeline_id: 'prospects' });
      expect(err).toMatch(/^Outreach did not renew the access token \(Outreach rejected the request \(400\): The provided authorization grant is invalid/);
      expect(err).toContain('set the new refresh token in OUTREACH_REFRESH_TOKEN');
    } finally {
      await srv.close();
    }
  });
});
