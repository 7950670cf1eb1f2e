/**
 * End-to-end with CRM_PROVIDER=insightly: the built binary (`node dist/cli.js`) over stdio, driven
 * by the real MCP client, against the stateful fake Insightly on 127.0.0.1
 * (test/fakes/insightly.ts). Every tool Insightly supports end to end; every other tool refused
 * plainly before any request; dry runs that show every request of a write Insightly takes in two;
 * the exact requests of writes; a partial write said as such; idempotent creates; and the API key
 * never in any output or log (the helpers' secret scan watches every answer and stderr line).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FAKE_INSIGHTLY_KEY, startFakeInsightly, stamp, type FakeInsightly } from '../fakes/insightly.js';
import type { RecordedRequest } from '../fakes/server.js';
import { fails, listAll, ok, recordLines, todayUtc, type S } from '../helpers/mcp.js';
import { expectCancelStopsUpstream, RECORD_TOOL_NAMES, runRecordsSuite } from '../helpers/records-suite.js';
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
  accounts: ['list', 'get', 'create', 'update'],
  contacts: ['list', 'get', 'create', 'update'],
  users: ['list', 'get'],
  activities: ['list', 'get', 'create', 'update'],
  search: ['deals', 'accounts', 'contacts', 'projects', 'users'],
};
const SUPPORTS_TEXT =
  'This connection supports pipelines (list, get), stages (list, get), deals (list, get, create, update), projects (list, get, create, update, delete), ' +
  'accounts (list, get, create, update), contacts (list, get, create, update), users (list, get), activities (list, get, create, update) and search (deals, accounts, contacts, projects, users).';

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

describe('the records around a deal', () => {
  it('the shared records suite exercises every tool of issue 9 Insightly serves, and refuses none', async () => {
    const report = await runRecordsSuite({
      client: srv.client,
      fixtures: { deal_id: '5003', user_id: '15', account_id: '700', search: { query: 'Acme Corporation', exact: 'Acme Corporation' } },
      upstreamRequests: () => fake.server.requests.length,
    });
    expect(report.exercised).toEqual(RECORD_TOOL_NAMES);
    expect(report.refused).toEqual([]);
    // What the suite made is in Insightly as Insightly keeps it.
    const task = fake.state.records.Tasks.get(Number(report.created.task!.replace('task-', '')))!;
    expect(task).toMatchObject({ OPPORTUNITY_ID: 5003, RESPONSIBLE_USER_ID: 15, COMPLETED: true, STATUS: 'Completed' });
    const note = fake.state.records.Notes.get(Number(report.created.note!.replace('note-', '')))!;
    expect(note.LINKS).toEqual([expect.objectContaining({ OBJECT_NAME: 'Note', LINK_OBJECT_NAME: 'Opportunity', LINK_OBJECT_ID: 5003 })]);
    expect(note.TITLE).toBe(note.BODY); // no subject: the body's first line is the title Insightly needs
  });

  it('accounts and contacts read as names; list_deals takes account_id; a deal names its organisation', async () => {
    const acme = (await ok(srv.client, 'list_accounts', { name: 'acme' })).s.accounts as S[];
    expect(acme).toEqual([{ id: '700', name: 'Acme Corporation', domain: 'acme.example', owner: { id: '11', name: 'Ada Lovelace' } }]);
    const contacts = (await listAll(srv.client, 'list_contacts', 'contacts', { account_id: '700' })).items;
    const expected = [...fake.state.records.Contacts.values()].filter((c) => c.ORGANISATION_ID === 700);
    expect(contacts.map((c) => c.id)).toEqual(expected.map((c) => String(c.CONTACT_ID)));
    for (const c of contacts) expect(c.account).toEqual({ id: '700', name: 'Acme Corporation' });
    const first = expected[0];
    const got = await ok(srv.client, 'get_contact', { contact_id: String(first.CONTACT_ID), response_format: 'detailed' });
    expect(got.s.contact).toMatchObject({ first_name: first.FIRST_NAME, last_name: first.LAST_NAME, emails: [first.EMAIL_ADDRESS], phones: [first.PHONE, first.PHONE_MOBILE] });
    const byEmail = await ok(srv.client, 'list_contacts', { email: String(first.EMAIL_ADDRESS).toUpperCase() });
    expect(byEmail.s.contacts.map((c: S) => c.id)).toEqual([String(first.CONTACT_ID)]);

    const deals = (await listAll(srv.client, 'list_deals', 'deals', { account_id: '703' })).items;
    expect(deals.map((d) => d.id)).toEqual(
      [...fake.state.records.Opportunities.values()].filter((o) => o.ORGANISATION_ID === 703).map((o) => String(o.OPPORTUNITY_ID)),
    );
    const deal = await ok(srv.client, 'get_deal', { deal_id: '5003', response_format: 'detailed' });
    expect(deal.s.deal.account).toEqual({ id: '703', name: 'Umbrella' });
    expect(deal.text).toContain('account Umbrella (703)');
  });

  it('list_users: the owners, active or not, by name and by exact email', async () => {
    const { s, text } = await ok(srv.client, 'list_users', {});
    expect(s.users).toHaveLength(fake.state.users.size);
    expect(s.users.find((u: S) => u.id === '16')).toEqual({ id: '16', name: 'Edsger Dijkstra', email: 'edsger@example.com', active: false });
    expect(text).toContain('- Ana Silva (15) · ana@example.com');
    expect((await ok(srv.client, 'list_users', { name: 'silva' })).s.users.map((u: S) => u.id)).toEqual(['15']);
    const m = mark();
    expect((await ok(srv.client, 'list_users', { email: 'GRACE@example.com' })).s.users.map((u: S) => u.id)).toEqual(['12']);
    expect(since(m).map((r) => r.rawUrl)).toEqual(['/v3.1/Users/Search?field_name=EMAIL_ADDRESS&field_value=GRACE%40example.com&count_total=true&top=25']);
  });

  it('list_activities on a deal: notes and tasks merged newest first, overdue tasks marked, parents as Insightly links them', async () => {
    const { s, text } = await ok(srv.client, 'list_activities', { deal_id: '5006', response_format: 'detailed', limit: 100 });
    const items = s.activities as S[];
    const notes = [...fake.state.records.Notes.values()].filter((n) => (n.LINKS as S[]).some((l) => l.LINK_OBJECT_NAME === 'Opportunity' && l.LINK_OBJECT_ID === 5006));
    const tasks = [...fake.state.records.Tasks.values()].filter((t) => t.OPPORTUNITY_ID === 5006);
    expect(items.map((a) => a.id).sort()).toEqual([...notes.map((n) => `note-${n.NOTE_ID}`), ...tasks.map((t) => `task-${t.TASK_ID}`)].sort());
    const created = items.map((a) => a.created_at);
    expect(created).toEqual([...created].sort().reverse());
    for (const a of items) {
      expect(a.deal).toEqual({ id: '5006' });
      expect(Boolean(a.overdue)).toBe(a.type === 'task' && a.done === false && a.due_date < todayUtc());
    }
    const overdue = items.find((a) => a.overdue)!;
    expect(recordLines(text)[items.indexOf(overdue)]).toContain(`(${overdue.id}) · due ${overdue.due_date} · OVERDUE`);
    // A note linked to a contact too names it.
    const both = notes.find((n) => (n.LINKS as S[]).length === 2)!;
    const contact = (both.LINKS as S[])[1].LINK_OBJECT_ID;
    expect(items.find((a) => a.id === `note-${both.NOTE_ID}`)).toMatchObject({ deal: { id: '5006' }, contact: { id: String(contact) } });
    // Further parents and done are checked here; a type Insightly has not is refused.
    const onBoth = (await ok(srv.client, 'list_activities', { deal_id: '5006', contact_id: String(contact) })).s.activities as S[];
    expect(onBoth.map((a) => a.id)).toContain(`note-${both.NOTE_ID}`);
    for (const a of onBoth) expect(a.contact.id).toBe(String(contact));
    const open = (await ok(srv.client, 'list_activities', { deal_id: '5006', done: false })).s.activities as S[];
    expect(open.map((a) => a.id).sort()).toEqual(tasks.filter((t) => !t.COMPLETED).map((t) => `task-${t.TASK_ID}`).sort());
    const m = mark();
    expect(await fails(srv.client, 'list_activities', { deal_id: '5006', type: 'call' })).toBe("Insightly's activities are notes and tasks; type takes note or task.");
    expect(since(m)).toHaveLength(0);
    expect(await fails(srv.client, 'list_activities', { deal_id: '4' })).toBe("No deal with id '4'. Find ids with search (types: deals) or list_deals.");
  });

  it('search: whole names to ids, with a detail per hit; pipelines and stages are named as not searchable', async () => {
    const m = mark();
    const { s, text } = await ok(srv.client, 'search', { query: 'ana silva' });
    expect(s.results[0]).toEqual({ type: 'users', id: '15', name: 'Ana Silva', detail: 'ana@example.com' });
    expect(text.split('\n')[0]).toMatch(/^\d+ match(es)? for “ana silva”, best first:$/);
    // One request per type, two for the people (last name, first name).
    expect(since(m).map((r) => `${r.path}?${r.query.field_name}=${r.query.field_value}`).sort()).toEqual([
      '/v3.1/Contacts/Search?FIRST_NAME=ana',
      '/v3.1/Contacts/Search?LAST_NAME=silva',
      '/v3.1/Opportunities/Search?OPPORTUNITY_NAME=ana silva',
      '/v3.1/Organisations/Search?ORGANISATION_NAME=ana silva',
      '/v3.1/Projects/Search?PROJECT_NAME=ana silva',
      '/v3.1/Users/Search?FIRST_NAME=ana',
      '/v3.1/Users/Search?LAST_NAME=silva',
    ]);
    const deal = (await ok(srv.client, 'search', { query: 'Opportunity 3', types: ['deals'] })).s.results;
    const o = fake.state.records.Opportunities.get(5003)!;
    expect(deal).toEqual([{ type: 'deals', id: '5003', name: 'Opportunity 3', detail: `${stageName(o.STAGE_ID)} (${o.STAGE_ID}) · ${userName(o.RESPONSIBLE_USER_ID)} (${o.RESPONSIBLE_USER_ID})` }]);
    const c = (await ok(srv.client, 'search', { query: 'wile.coyote0@acme.example', types: ['contacts'] })).s.results;
    expect(c).toEqual([{ type: 'contacts', id: '900', name: 'Wile Coyote', detail: '(700) · wile.coyote0@acme.example' }]);
    const m2 = mark();
    expect(await fails(srv.client, 'search', { query: 'Sales', types: ['pipelines', 'stages'] })).toBe(
      'Insightly has no server-side search for pipelines, stages; use list_pipelines, list_stages or get_pipeline, or search deals, accounts, contacts, projects, users.',
    );
    expect(since(m2)).toHaveLength(0);
  });

  it('dry runs show every request of the new writes, and send nothing', async () => {
    const m = mark();
    const cases: Array<[string, Record<string, unknown>, S]> = [
      ['create_account', { name: 'Dry Org', domain: 'dry.example', owner_id: '15' }, { method: 'POST', path: '/Organisations', body: { ORGANISATION_NAME: 'Dry Org', WEBSITE: 'dry.example', OWNER_USER_ID: 15 } }],
      ['update_account', { account_id: '701', owner_id: '12' }, { method: 'PUT', path: '/Organisations', body: { ORGANISATION_ID: 701, OWNER_USER_ID: 12 } }],
      [
        'create_contact',
        { first_name: 'Dry', last_name: 'Run', emails: ['dry@run.example'], phones: ['+1 555 0100', '+1 555 0101'], account_id: '700' },
        { method: 'POST', path: '/Contacts', body: { FIRST_NAME: 'Dry', LAST_NAME: 'Run', EMAIL_ADDRESS: 'dry@run.example', PHONE: '+1 555 0100', PHONE_MOBILE: '+1 555 0101', ORGANISATION_ID: 700 } },
      ],
      [
        'update_contact',
        { contact_id: '900', phones: ['+1 555 0199'] },
        { method: 'PUT', path: '/Contacts', body: { CONTACT_ID: 900, PHONE: '+1 555 0199', PHONE_MOBILE: null, PHONE_HOME: null, PHONE_OTHER: null } },
      ],
      [
        'create_activity',
        { type: 'note', subject: 'Pilot', body: 'They want a pilot.', deal_id: '5003', contact_id: '903' },
        {
          method: 'POST',
          path: '/Opportunities/5003/Notes',
          body: { TITLE: 'Pilot', BODY: 'They want a pilot.' },
          then: [{ method: 'POST', path: '/Notes/{NOTE_ID}/Links', body: { LINK_OBJECT_NAME: 'Contact', LINK_OBJECT_ID: 903 } }],
        },
      ],
      [
        'create_activity',
        { type: 'task', subject: 'Send terms', due_date: '2030-01-15', owner_id: '15', project_id: '8002', account_id: '700' },
        {
          method: 'POST',
          path: '/Tasks',
          body: { TITLE: 'Send terms', DUE_DATE: '2030-01-15 00:00:00', COMPLETED: false, RESPONSIBLE_USER_ID: 15, PROJECT_ID: 8002 },
          then: [{ method: 'POST', path: '/Tasks/{TASK_ID}/Links', body: { LINK_OBJECT_NAME: 'Organisation', LINK_OBJECT_ID: 700 } }],
        },
      ],
      ['update_activity', { activity_id: 'task-4001', done: true }, { method: 'PUT', path: '/Tasks', body: { TASK_ID: 4001, COMPLETED: true, STATUS: 'Completed' } }],
    ];
    for (const [tool, args, request] of cases) {
      const { s, text } = await ok(srv.client, tool, { ...args, dry_run: true });
      expect(s, tool).toEqual({ dry_run: request });
      expect(text, tool).toContain(`Dry run, nothing was sent. Would send: ${request.method} ${request.path}`);
    }
    expect(writesSince(m)).toHaveLength(0);
    // Moving a note to another contact reads the note, then shows the new link before the old one goes.
    const note = fake.state.records.Notes.get(3004)!;
    const old = (note.LINKS as S[]).find((l) => l.LINK_OBJECT_NAME === 'Contact')!;
    const move = await ok(srv.client, 'update_activity', { activity_id: 'note-3004', contact_id: '901', dry_run: true });
    expect(move.s.dry_run).toEqual({
      method: 'POST',
      path: '/Notes/3004/Links',
      body: { LINK_OBJECT_NAME: 'Contact', LINK_OBJECT_ID: 901 },
      then: [{ method: 'DELETE', path: `/Notes/3004/Links/${old.LINK_ID}` }],
    });
    expect(writesSince(m)).toHaveLength(0);
  });

  it('update_activity moves a note to another contact, changes a task, and refuses a change of kind', async () => {
    const m = mark();
    const { s } = await ok(srv.client, 'update_activity', { activity_id: 'note-3008', contact_id: '901', subject: 'Renamed note' });
    expect(writesSince(m).map((r) => `${r.method} ${r.path}`)).toEqual(['PUT /v3.1/Notes', 'POST /v3.1/Notes/3008/Links', expect.stringMatching(/^DELETE \/v3\.1\/Notes\/3008\/Links\/\d+$/)]);
    expect(s.activity).toMatchObject({ id: 'note-3008', subject: 'Renamed note', contact: { id: '901' }, deal: { id: expect.any(String) } });
    expect(await fails(srv.client, 'update_activity', { activity_id: 'note-3008', type: 'task' })).toBe(
      'Insightly keeps notes and tasks apart: note-3008 is a note and cannot become a task.',
    );
    expect(await fails(srv.client, 'update_activity', { activity_id: 'note-3008', done: true })).toBe(
      'An Insightly note has no due_date or done; make it a task (type: task) to track a to-do.',
    );
    expect(await fails(srv.client, 'update_activity', { activity_id: '3008', done: true })).toBe(
      "'3008' is not an Insightly activity id: they are note-<number> or task-<number>. Call list_activities to see valid activity ids.",
    );
    const reopened = await ok(srv.client, 'update_activity', { activity_id: 'task-4004', done: false, due_date: '2099-12-31' });
    expect(reopened.s.activity).toMatchObject({ id: 'task-4004', done: false, due_date: '2099-12-31' });
    expect(fake.state.records.Tasks.get(4004)).toMatchObject({ COMPLETED: false, STATUS: 'Not Started', DUE_DATE: '2099-12-31 00:00:00' });
  });

  it('writes naming an id Insightly does not know are refused with the same sentence on every CRM, writing nothing', async () => {
    const m = mark();
    const counts = () => Object.values(fake.state.records).map((r) => r.size);
    const before = counts();
    expect(await fails(srv.client, 'create_deal', { name: 'Refused deal', stage_id: '101', owner_id: '99' })).toBe(
      "No user with id '99'. Find ids with list_users or search (types: users).",
    );
    expect(await fails(srv.client, 'create_deal', { name: 'Refused deal', stage_id: '101', account_id: '999' })).toBe(
      "No account with id '999'. Find ids with search (types: accounts) or list_accounts.",
    );
    expect(await fails(srv.client, 'create_contact', { first_name: 'No', account_id: '999' })).toBe(
      "No account with id '999'. Find ids with search (types: accounts) or list_accounts.",
    );
    expect(await fails(srv.client, 'create_activity', { type: 'note', body: 'x', deal_id: '5003', contact_id: '999' })).toBe(
      "No contact with id '999'. Find ids with search (types: contacts) or list_contacts.",
    );
    expect(await fails(srv.client, 'create_activity', { type: 'note', body: 'x', deal_id: '4' })).toBe("No deal with id '4'. Find ids with search (types: deals) or list_deals.");
    expect(await fails(srv.client, 'update_account', { account_id: '701', owner_id: '42' })).toBe("No user with id '42'. Find ids with list_users or search (types: users).");
    // Checked before writing; a note's first record is checked by posting under it (Insightly answers 404).
    expect(writesSince(m).map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v3.1/Opportunities/4/Notes']);
    expect(counts()).toEqual(before);
    expect(fake.state.records.Organisations.get(701)!.OWNER_USER_ID).toBe(12);
    // What Insightly's records cannot hold is refused before anything is read.
    const m2 = mark();
    expect(await fails(srv.client, 'create_account', { name: 'X', industry: 'Retail' })).toBe(
      'Insightly does not support `industry` when creating an account; supported fields: name, domain, owner_id.',
    );
    expect(await fails(srv.client, 'create_contact', { last_name: 'Only' })).toBe('Insightly requires `first_name` to create a contact.');
    expect(await fails(srv.client, 'create_contact', { first_name: 'Two', emails: ['a@x.example', 'b@x.example'] })).toBe(
      'An Insightly contact has one email address; emails has 2.',
    );
    expect(await fails(srv.client, 'create_activity', { type: 'call', deal_id: '5003' })).toBe(
      "Insightly does not accept type 'call' for an activity; allowed: note, task.",
    );
    expect(since(m2)).toHaveLength(0);
  });
});

describe('long work: progress while walking pages, and cancellation stops the upstream requests', () => {
  let big: FakeInsightly;
  let server: StdioServer;
  beforeAll(async () => {
    big = await startFakeInsightly();
    // 1,240 tasks: listing them all walks three pages of 500.
    for (let i = 0; i < 1_200; i++) {
      const id = 20_000 + i;
      big.state.records.Tasks.set(id, { TASK_ID: id, TITLE: `Bulk task ${i}`, COMPLETED: false, STATUS: 'Not Started', DUE_DATE: null, OWNER_USER_ID: 11, DATE_CREATED_UTC: stamp(1_000 + i), LINKS: [] });
    }
    server = await startStdio({ db: isolatedDbPath(), env: { CRM_PROVIDER: 'insightly', INSIGHTLY_API_KEY: FAKE_INSIGHTLY_KEY, INSIGHTLY_BASE_URL: big.url } });
  });
  afterAll(async () => {
    await server?.close();
    await big?.stop();
  });

  it('list_activities reports each page it reads, in order, and answers the newest first', async () => {
    big.server.latencyMs = 20;
    const updates: Array<{ progress: number; total?: number; message?: string }> = [];
    try {
      const res = await server.client.callTool({ name: 'list_activities', arguments: { limit: 3 } }, { onprogress: (p) => void updates.push(p) });
      expect(res.isError).toBeFalsy();
      const items = (res.structuredContent as S).activities as S[];
      expect(items.map((a) => a.id)).toEqual(['task-21199', 'task-21198', 'task-21197']);
    } finally {
      big.server.latencyMs = 0;
    }
    // One page of notes and three of tasks; any the client read with the answer is dropped, never reordered.
    expect(updates.length).toBeGreaterThan(0);
    updates.forEach((u, i) => {
      expect(u.progress).toBeGreaterThan(i === 0 ? 0 : updates[i - 1].progress);
      expect(u.progress).toBeLessThanOrEqual(4);
      expect(u.message).toMatch(/^read \d pages? of (notes|tasks)$/);
    });
  });

  it('list_activities cancelled while its second page of tasks is in flight asks for no third', async () => {
    const isTasks = (r: RecordedRequest) => r.path === '/v3.1/Tasks';
    const made = await expectCancelStopsUpstream({
      client: server.client,
      server: big.server,
      tool: 'list_activities',
      args: { type: 'task' },
      slow: (r) => isTasks(r) && r.query.skip === '500',
    });
    expect(made.filter(isTasks).map((r) => r.query.skip)).toEqual([undefined, '500']);
  });

  it('search cancelled while one type is held sends nothing more', async () => {
    // The same search once, so each of its seven requests has a kept-alive connection to go out on
    // at once (a new connection could land after the cancellation though sent before it); then a
    // full second, so the client-side limiter (10 a second) holds none of them back.
    await ok(server.client, 'search', { query: 'Acme Corporation' });
    await new Promise((r) => setTimeout(r, 1_100));
    const made = await expectCancelStopsUpstream({
      client: server.client,
      server: big.server,
      tool: 'search',
      args: { query: 'Acme Corporation' },
      slow: (r) => r.path === '/v3.1/Organisations/Search',
    });
    expect(made.map((r) => r.path)).toContain('/v3.1/Organisations/Search');
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
