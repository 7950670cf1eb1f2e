/**
 * End-to-end with CRM_PROVIDER=insightly: the built binary (`node dist/cli.js`) over stdio, driven
 * by the real MCP client, against the stateful fake Insightly on 127.0.0.1
 * (test/fakes/insightly.ts). Every tool Insightly supports end to end; every other tool refused
 * plainly before any request; dry runs that show every request of a write Insightly takes in two;
 * the exact requests of writes; a partial write said as such; idempotent creates; and the API key
 * never in any output or log (the helpers' secret scan watches every answer and stderr line).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FAKE_INSIGHTLY_KEY, startFakeInsightly, type FakeInsightly } from '../fakes/insightly.js';
import type { RecordedRequest } from '../fakes/server.js';
import { fails, listAll, ok, recordLines, type S } from '../helpers/mcp.js';
import { isolatedDbPath, logLines, startStdio, stopAll, type StdioServer } from '../helpers/server.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let fake: FakeInsightly;
let srv: StdioServer;

beforeAll(async () => {
  fake = await startFakeInsightly();
  srv = await startStdio({
    db: isolatedDbPath(),
    env: { CRM_PROVIDER: 'insightly', INSIGHTLY_API_KEY: FAKE_INSIGHTLY_KEY, INSIGHTLY_BASE_URL: fake.url },
    logLevel: 'debug',
  });
});
afterAll(async () => {
  await srv?.close();
  await stopAll();
  await fake?.stop();
});

const mark = () => fake.server.requests.length;
const since = (m: number): RecordedRequest[] => fake.server.requests.slice(m);
const writesSince = (m: number) => since(m).filter((r) => r.method !== 'GET');
const wire = (r: RecordedRequest) => ({ method: r.method, path: r.path, body: r.body });
const stageName = (id: unknown) => String(fake.state.stages.get(Number(id))!.STAGE_NAME);
const userName = (id: unknown) => {
  const u = fake.state.users.get(Number(id))!;
  return `${u.FIRST_NAME} ${u.LAST_NAME}`;
};

const SUPPORTED = {
  pipelines: ['list', 'get'],
  stages: ['list', 'get'],
  deals: ['list', 'get', 'create', 'update'],
  projects: ['list', 'get', 'create', 'update', 'delete'],
};
const SUPPORTS_TEXT = 'This connection supports pipelines (list, get), stages (list, get), deals (list, get, create, update) and projects (list, get, create, update, delete).';

describe('tools and connection', () => {
  it('offers the tools, open-world, and list_connections says exactly what Insightly supports', async () => {
    const tools = ((await srv.client.listTools()).tools as S[]).map((t) => t.name);
    for (const name of [...Object.keys(REFUSED), 'list_pipelines', 'get_pipeline', 'list_stages', 'get_stage', 'list_deals', 'get_deal', 'create_deal', 'update_deal', 'list_projects', 'get_project', 'create_project', 'update_project', 'delete_project']) {
      expect(tools, name).toContain(name);
    }
    const m = mark();
    const { s, text } = await ok(srv.client, 'list_connections');
    expect(s.connections).toEqual([{ name: 'insightly', provider: 'insightly', default: true, supports: SUPPORTED }]);
    expect(text).toContain('insightly (default): insightly');
    expect(since(m)).toHaveLength(0);
  });
});

// Every tool Insightly cannot serve, with arguments that are otherwise valid, and what it says.
const REFUSED: Record<string, [Record<string, unknown>, string]> = {
  create_pipeline: [{ name: 'New' }, "Insightly's API cannot create pipelines; create and change them in Insightly's settings."],
  update_pipeline: [{ pipeline_id: '1', name: 'Renamed' }, "Insightly's API cannot change pipelines; create and change them in Insightly's settings."],
  delete_pipeline: [{ pipeline_id: '1', confirm: true }, "Insightly's API cannot delete pipelines; delete them in Insightly's settings."],
  create_stage: [{ pipeline_id: '1', name: 'New stage' }, "Insightly's API cannot create stages; create them in Insightly's settings."],
  update_stage: [{ stage_id: '101', name: 'Renamed' }, "Insightly's API cannot change stages; change them in Insightly's settings."],
  delete_stage: [{ stage_id: '101', confirm: true }, "Insightly's API cannot delete stages; delete them in Insightly's settings."],
  pipeline_conversion_stats: [{ pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-03-31' }, 'Insightly does not support pipeline conversion statistics'],
  pipeline_movement_stats: [{ pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-03-31' }, 'Insightly does not support pipeline movement statistics'],
};

describe('what Insightly cannot do is refused in one sentence, before any request', () => {
  for (const [tool, [args, sentence]] of Object.entries(REFUSED)) {
    it(tool, async () => {
      const m = mark();
      const text = await fails(srv.client, tool, args);
      // Insightly's own sentence, or the general one that runs on into what the connection supports.
      expect(text).toBe(sentence.endsWith('.') ? `${sentence} ${SUPPORTS_TEXT}` : `${sentence}; t${SUPPORTS_TEXT.slice(1)}`);
      expect(since(m)).toHaveLength(0);
    });
  }

  it('fields and filters Insightly has not are refused before sending', async () => {
    const m = mark();
    expect(await fails(srv.client, 'create_project', { name: 'Priced', status: 'in progress', amount: 100 })).toBe(
      'Insightly does not support `amount` when creating a project; supported fields: name, description, status, close_date, owner, stage, tags, custom_fields, remote_data, opportunity.',
    );
    expect(await fails(srv.client, 'create_project', { name: 'No status' })).toBe(
      'Insightly requires `status` to create a project; allowed status: not started, in progress, deferred, cancelled, abandoned, completed.',
    );
    expect(await fails(srv.client, 'create_project', { name: 'Open', status: 'open' })).toBe(
      "Insightly does not accept status 'open' for a project; allowed: not started, in progress, deferred, cancelled, abandoned, completed.",
    );
    expect(await fails(srv.client, 'list_projects', { account_id: '5' })).toBe('Insightly cannot filter projects by `account_id`; available filters: name, status, owner_id, stage_id.');
    expect(await fails(srv.client, 'list_stages', { sort_by: 'created_at' })).toBe('Insightly pipeline stages carry no dates; sort_by takes position or name.');
    expect(since(m)).toHaveLength(0);
  });
});

describe('pipelines and stages', () => {
  it('list_pipelines names each pipeline with the records it holds', async () => {
    const { s, text } = await ok(srv.client, 'list_pipelines');
    expect(s.pipelines).toEqual([
      { id: '1', name: 'Sales [opportunities]' },
      { id: '2', name: 'Partnerships [opportunities]' },
      { id: '3', name: 'Delivery [projects]' },
      { id: '4', name: 'Onboarding [projects]' },
    ]);
    expect(recordLines(text)[0]).toBe('- Sales [opportunities] (1)');
  });

  it('get_pipeline: ordered stages and open deals per stage, all requests in one wave', async () => {
    const m = mark();
    const { s, text } = await ok(srv.client, 'get_pipeline', { pipeline_id: '1' });
    const open = [...fake.state.records.Opportunities.values()].filter((o) => o.PIPELINE_ID === 1 && ['Open', 'Suspended'].includes(String(o.OPPORTUNITY_STATE)));
    expect(s.pipeline.open_deals.count).toBe(open.length);
    expect(s.pipeline.stages.map((st: S) => st.name)).toEqual(['Lead In', 'Qualified', 'Proposal', 'Negotiation', 'Contract Sent']);
    for (const st of s.pipeline.stages) expect(st.open_deals.count, st.name).toBe(open.filter((o) => String(o.STAGE_ID) === st.id).length);
    expect(text.split('\n')[0]).toMatch(new RegExp(`^Pipeline Sales \\[opportunities\\] \\(1\\) · ${open.length} open`));
    expect(since(m).map((r) => r.path).sort()).toEqual(['/v3.1/Opportunities/Search', '/v3.1/PipelineStages', '/v3.1/Pipelines/1']);
    const projects = await ok(srv.client, 'get_pipeline', { pipeline_id: '3' });
    expect(projects.s.pipeline.open_deals).toBeUndefined();
    expect(projects.text.split('\n')[0]).toBe('Pipeline Delivery [projects] (3)');
  });

  it('list_stages and get_stage', async () => {
    const { s, text } = await ok(srv.client, 'list_stages', { pipeline_id: '2' });
    expect(s.stages.map((st: S) => [st.id, st.name, st.position])).toEqual([
      ['201', 'Intro', 1],
      ['202', 'Evaluation', 2],
      ['203', 'Signed', 3],
    ]);
    expect(recordLines(text)[1]).toBe('- Evaluation (202) · #2 in Partnerships [opportunities] (2)');
    const one = await ok(srv.client, 'get_stage', { stage_id: '402' });
    expect(one.s.stage).toEqual({ id: '402', name: 'Training', pipeline: { id: '4', name: 'Onboarding [projects]' }, position: 2, status: 'active' });
    expect(await fails(srv.client, 'get_stage', { stage_id: '999' })).toBe("No stage with id '999'. Call list_stages (optionally with pipeline_id) to see valid stage ids.");
  });
});

describe('deals', () => {
  it('list_deals: stage and owner names on every line; filters reach Insightly or are applied whole', async () => {
    const { s, text } = await ok(srv.client, 'list_deals', { limit: 20 });
    expect(s.deals).toHaveLength(20);
    const lines = recordLines(text);
    s.deals.forEach((d: S, i: number) => {
      const o = fake.state.records.Opportunities.get(Number(d.id))!;
      if (o.STAGE_ID !== null) expect(lines[i]).toContain(`${o.OPPORTUNITY_NAME} (${o.OPPORTUNITY_ID}) · ${stageName(o.STAGE_ID)} (${o.STAGE_ID})`);
      const owner = o.RESPONSIBLE_USER_ID ?? o.OWNER_USER_ID;
      expect(lines[i]).toContain(`${userName(owner)} (${owner})`);
    });
    const { items } = await listAll(srv.client, 'list_deals', 'deals', { pipeline_id: '2', status: 'lost' });
    const expected = [...fake.state.records.Opportunities.values()].filter((o) => o.PIPELINE_ID === 2 && ['Lost', 'Abandoned'].includes(String(o.OPPORTUNITY_STATE)));
    expect(items.map((d) => d.id).sort()).toEqual(expected.map((o) => String(o.OPPORTUNITY_ID)).sort());
  });

  it('get_deal with names, and the raw record on request', async () => {
    const { s } = await ok(srv.client, 'get_deal', { deal_id: '5003', response_format: 'detailed', include_remote_data: true });
    const o = fake.state.records.Opportunities.get(5003)!;
    expect(s.deal).toMatchObject({ id: '5003', name: 'Opportunity 3', stage: { id: String(o.STAGE_ID), name: stageName(o.STAGE_ID) }, account: { id: String(o.ORGANISATION_ID) } });
    expect(s.deal.remote_data).toMatchObject({ OPPORTUNITY_ID: 5003, OPPORTUNITY_STATE: o.OPPORTUNITY_STATE });
  });

  it('create_deal: the dry run shows both requests; the create sends exactly them, once per idempotency key', async () => {
    let m = mark();
    const dry = await ok(srv.client, 'create_deal', { name: 'E2E deal', stage_id: '202', amount: 1200, currency: 'EUR', dry_run: true });
    expect(dry.s.dry_run).toEqual({
      method: 'POST',
      path: '/Opportunities',
      body: { OPPORTUNITY_NAME: 'E2E deal', BID_AMOUNT: 1200, BID_TYPE: 'Fixed Bid', BID_CURRENCY: 'EUR' },
      then: [{ method: 'PUT', path: '/Opportunities/{OPPORTUNITY_ID}/Pipeline', body: { PIPELINE_ID: 2, PIPELINE_STAGE_CHANGE: { STAGE_ID: 202 } } }],
    });
    expect(dry.text).toBe(
      'Dry run, nothing was sent. Would send: POST /Opportunities {"OPPORTUNITY_NAME":"E2E deal","BID_AMOUNT":1200,"BID_TYPE":"Fixed Bid","BID_CURRENCY":"EUR"}\n' +
        'then: PUT /Opportunities/{OPPORTUNITY_ID}/Pipeline {"PIPELINE_ID":2,"PIPELINE_STAGE_CHANGE":{"STAGE_ID":202}}\n' +
        'Call again without dry_run to do it.',
    );
    expect(writesSince(m)).toHaveLength(0);

    m = mark();
    const args = { name: 'E2E deal', stage_id: '202', amount: 1200, currency: 'EUR', idempotency_key: 'e2e-insightly-deal-1' };
    const created = await ok(srv.client, 'create_deal', args);
    const id = created.s.deal.id as string;
    expect(writesSince(m).map(wire)).toEqual([
      { method: 'POST', path: '/v3.1/Opportunities', body: dry.s.dry_run.body },
      { method: 'PUT', path: `/v3.1/Opportunities/${id}/Pipeline`, body: { PIPELINE_ID: 2, PIPELINE_STAGE_CHANGE: { STAGE_ID: 202 } } },
    ]);
    expect(created.s.deal).toMatchObject({ name: 'E2E deal', status: 'open', amount: 1200, currency: 'EUR', stage: { id: '202', name: 'Evaluation' }, pipeline: { id: '2' } });
    expect(created.text).toContain(`Created deal E2E deal (${id}) · Evaluation (202)`);

    m = mark();
    const again = await ok(srv.client, 'create_deal', args);
    expect(again.s.deal.id).toBe(id);
    expect(writesSince(m)).toHaveLength(0);
  });

  it('update_deal: fields then stage, in order; a stage outside the pipeline is refused listing its stages', async () => {
    let m = mark();
    const dry = await ok(srv.client, 'update_deal', { deal_id: '5002', status: 'won', stage_id: '104', dry_run: true });
    expect(dry.s.dry_run).toEqual({
      method: 'PUT',
      path: '/Opportunities',
      body: { OPPORTUNITY_ID: 5002, OPPORTUNITY_STATE: 'Won' },
      then: [{ method: 'PUT', path: '/Opportunities/5002/PipelineStage', body: { STAGE_ID: 104 } }],
    });
    expect(writesSince(m)).toHaveLength(0);
    m = mark();
    const { s } = await ok(srv.client, 'update_deal', { deal_id: '5002', status: 'won', stage_id: '104' });
    expect(writesSince(m).map(wire)).toEqual([
      { method: 'PUT', path: '/v3.1/Opportunities', body: { OPPORTUNITY_ID: 5002, OPPORTUNITY_STATE: 'Won' } },
      { method: 'PUT', path: '/v3.1/Opportunities/5002/PipelineStage', body: { STAGE_ID: 104 } },
    ]);
    expect(s.deal).toMatchObject({ status: 'won', stage: { id: '104', name: 'Negotiation' } });

    m = mark();
    const wrong = await fails(srv.client, 'update_deal', { deal_id: '5002', stage_id: '302' });
    expect(wrong).toMatch(/^Stage '302' is not a stage of Sales \[opportunities\] \(1\), the pipeline of deal Opportunity 2 \(5002\)\. Its stages: Lead In \(101\)/);
    expect(writesSince(m)).toHaveLength(0);
    // Into a projects pipeline, even when named: Insightly keeps the kinds apart.
    const kind = await fails(srv.client, 'update_deal', { deal_id: '5002', pipeline_id: '3', stage_id: '302' });
    expect(kind).toMatch(/which holds no opportunities; a deal moves only in a pipeline for opportunities: Sales \[opportunities\] \(1\), Partnerships \[opportunities\] \(2\)\.$/);
    expect(writesSince(m)).toHaveLength(0);
  });
});

describe('projects', () => {
  it('list_projects and get_project, with names', async () => {
    const { s, text } = await ok(srv.client, 'list_projects', { status: 'in progress', limit: 5 });
    expect(s.projects.length).toBe(5);
    for (const p of s.projects) expect(p.status).toBe('in progress');
    expect(recordLines(text)[0]).toMatch(/^- Project \d+ \(\d+\) · in progress/);
    const one = await ok(srv.client, 'get_project', { project_id: '8003', response_format: 'detailed' });
    expect(one.s.project).toMatchObject({ id: '8003', name: 'Project 3', status: 'cancelled', stage: { id: '304', name: 'Handover' }, custom_fields: { Budget_Code__c: 'BC-3' } });
  });

  it('create_project with a stage, update_project with fields and a stage, and the partial failure said as such', async () => {
    let m = mark();
    const created = await ok(srv.client, 'create_project', { name: 'E2E project', status: 'not started', tags: [{ id: 'e2e' }], stage: { id: '401' } });
    const id = created.s.project.id as string;
    expect(writesSince(m).map(wire)).toEqual([
      { method: 'POST', path: '/v3.1/Projects', body: { PROJECT_NAME: 'E2E project', STATUS: 'Not Started', TAGS: [{ TAG_NAME: 'e2e' }] } },
      { method: 'PUT', path: `/v3.1/Projects/${id}/Pipeline`, body: { PIPELINE_ID: 4, PIPELINE_STAGE_CHANGE: { STAGE_ID: 401 } } },
    ]);
    expect(created.s.project).toMatchObject({ name: 'E2E project', status: 'not started', stage: { id: '401', name: 'Welcome' }, tags: [{ id: 'e2e', name: 'e2e' }] });

    m = mark();
    const updated = await ok(srv.client, 'update_project', { project_id: id, status: 'in progress', description: 'Going', stage: { id: '402' } });
    expect(writesSince(m).map(wire)).toEqual([
      { method: 'PUT', path: '/v3.1/Projects', body: { PROJECT_ID: Number(id), STATUS: 'In Progress', PROJECT_DETAILS: 'Going' } },
      { method: 'PUT', path: `/v3.1/Projects/${id}/PipelineStage`, body: { STAGE_ID: 402 } },
    ]);
    expect(updated.s.project).toMatchObject({ status: 'in progress', description: 'Going', stage: { id: '402', name: 'Training' } });

    fake.server.inject({ kind: 'status', status: 400, body: { Message: 'The stage cannot be changed now.' } }, { match: (r) => r.path.endsWith('/PipelineStage') });
    m = mark();
    const half = await fails(srv.client, 'update_project', { project_id: id, name: 'E2E renamed', stage: { id: '401' } });
    expect(half).toBe(
      `Insightly did only part of this update of project 'E2E project' (${id}): PUT /Projects (change its PROJECT_NAME) succeeded; ` +
        `then PUT /Projects/${id}/PipelineStage (put it in stage Welcome (401) of Onboarding [projects] (4)) failed: ` +
        'Insightly rejected the request (400): The stage cannot be changed now. Read it with get_project, then repeat only what is missing.',
    );
    expect(writesSince(m)).toHaveLength(2);
    expect(fake.state.records.Projects.get(Number(id))).toMatchObject({ PROJECT_NAME: 'E2E renamed', STAGE_ID: 402 });
  });

  it('delete_project: preview without confirm, the request on a dry run, then the delete', async () => {
    let m = mark();
    const preview = await ok(srv.client, 'delete_project', { project_id: '8009' });
    expect(preview.s).toEqual({ deleted: false, project: { id: '8009', name: 'Project 9' } });
    const dry = await ok(srv.client, 'delete_project', { project_id: '8009', confirm: true, dry_run: true });
    expect(dry.s.dry_run).toEqual({ method: 'DELETE', path: '/Projects/8009' });
    expect(writesSince(m)).toHaveLength(0);
    m = mark();
    const deleted = await ok(srv.client, 'delete_project', { project_id: '8009', confirm: true });
    expect(deleted.s).toEqual({ deleted: true, project: { id: '8009', name: 'Project 9' } });
    expect(writesSince(m).map(wire)).toEqual([{ method: 'DELETE', path: '/v3.1/Projects/8009', body: undefined }]);
    expect(await fails(srv.client, 'get_project', { project_id: '8009' })).toBe("No project with id '8009'. Call list_projects to see valid project ids.");
  });
});

describe('the key', () => {
  it('authenticates every request and never reaches the logs (debug level)', async () => {
    const basic = `Basic ${Buffer.from(`${FAKE_INSIGHTLY_KEY}:`).toString('base64')}`;
    expect(fake.server.requests.length).toBeGreaterThan(10);
    for (const r of fake.server.requests) expect(r.headers.authorization).toBe(basic);
    const stderr = srv.stderr();
    expect(logLines(stderr).some((l) => l.level === 20 && l.msg === 'upstream request')).toBe(true);
    expect(stderr).not.toContain(FAKE_INSIGHTLY_KEY);
    expect(stderr).not.toContain(basic.slice(6));
  });
});
