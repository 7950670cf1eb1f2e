/**
 * The records around a deal on Pipedrive, end to end: the built binary (CRM_PROVIDER=pipedrive)
 * over stdio, driven by the real MCP client, against the stateful fake Pipedrive. The shared
 * records suite exercises every new tool (Pipedrive serves all of them); the Acme task runs in
 * five tool calls and leaves the deal and the note in Pipedrive; dry runs of the new writes show
 * the exact requests and send nothing; unknown ids get the sentence that points at search; a
 * cancelled search and a cancelled activity walk stop asking Pipedrive; get_pipeline reports its
 * pages. The token is never in any output (the spawn helpers' secret scan runs on every answer).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakePipedrive, type FakePipedrive } from '../fakes/pipedrive.js';
import type { RecordedRequest } from '../fakes/server.js';
import { call, fails, idIn, listAll, ok, recordLines, recordResults, textOf, type S } from '../helpers/mcp.js';
import { expectCancelStopsUpstream, RECORD_TOOL_NAMES, runRecordsSuite } from '../helpers/records-suite.js';
import { isolatedDbPath, startStdio, stopAll, type StdioServer } from '../helpers/server.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let fake: FakePipedrive;
let srv: StdioServer;
let outputs: string[];
beforeAll(async () => {
  fake = await startFakePipedrive({ burstLimit: 1000 });
  srv = await startStdio({
    db: isolatedDbPath(),
    env: { CRM_PROVIDER: 'pipedrive', PIPEDRIVE_API_TOKEN: fake.state.token, PIPEDRIVE_BASE_URL: fake.url, PIPEDRIVE_BURST_LIMIT: '100' },
  });
  outputs = recordResults(srv.client);
});
afterAll(async () => {
  await stopAll();
  await fake?.stop();
});

const mark = () => fake.server.requests.length;
const since = (m: number): RecordedRequest[] => fake.server.requests.slice(m);
const writes = (m: number) => since(m).filter((r) => r.method !== 'GET');

describe('the shared records suite on Pipedrive', () => {
  it('exercises every new tool, refuses none', async () => {
    const report = await runRecordsSuite({
      client: srv.client,
      fixtures: { deal_id: '1', user_id: '4', account_id: '1', search: { query: 'Acme Corp', exact: 'Acme Corp' } },
      upstreamRequests: () => fake.server.requests.length,
    });
    expect(report.exercised).toEqual(RECORD_TOOL_NAMES);
    expect(report.refused).toEqual([]);
    // What the suite made is in Pipedrive: the account, the contact on Acme, the note and the completed task on deal 1.
    expect(fake.state.orgs.get(Number(report.created.account))!.owner_id).toBe(4);
    expect(fake.state.persons.get(Number(report.created.contact))).toMatchObject({ org_id: 1, job_title: 'Head of Suites' });
    expect(fake.state.notes.get(Number(report.created.note!.replace('note-', '')))).toMatchObject({ deal_id: 1, active_flag: true });
    expect(fake.state.activities.get(Number(report.created.task))).toMatchObject({ type: 'task', deal_id: 1, owner_id: 4, done: true });
    // Each keyed create was sent once.
    expect(fake.server.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/notes')).toHaveLength(1);
  });
});

describe('the Acme task on the fake Pipedrive', () => {
  it('"add a deal for Acme, owned by Ana, and note that they want a pilot" takes five tool calls', async () => {
    const calls: string[] = [];
    const tool = async (name: string, args: Record<string, unknown>) => {
      calls.push(name);
      const res = await call(srv.client, name, args);
      if (res.isError) throw new Error(`${name} failed: ${textOf(res)}`);
      return { text: textOf(res), s: res.structuredContent as S };
    };
    // 1. The account: its name starts with "Acme" (Acme Corp, not Acme Logistics: the first line).
    const accounts = await tool('search', { query: 'Acme', types: ['accounts'] });
    const accountId = idIn(accounts.text.split('\n').find((l) => l.startsWith('- account: Acme')), 'the Acme account');
    // 2. The owner: a user named Ana.
    const users = await tool('list_users', { name: 'Ana' });
    const userLines = recordLines(users.text);
    expect(userLines, 'exactly one Ana').toHaveLength(1);
    const ownerId = idIn(userLines[0], 'Ana');
    // 3. The stage: the first stage of the Sales pipeline.
    const stages = await tool('list_stages', {});
    const stageId = idIn(stages.text.split('\n').find((l) => / · #1 in Sales \(\d+\)/.test(l)), 'the first Sales stage');
    // 4. The deal.
    const m = mark();
    const deal = await tool('create_deal', { name: 'Acme Corp – Pilot', stage_id: stageId, owner_id: ownerId, account_id: accountId, idempotency_key: 'pd-acme-deal' });
    const dealId = idIn(deal.text.replace(/^Created deal /, ''), 'the new deal');
    // 5. The note, on the deal.
    const note = await tool('create_activity', { type: 'note', body: 'They want a pilot.', deal_id: dealId, idempotency_key: 'pd-acme-note' });

    expect(calls).toEqual(['search', 'list_users', 'list_stages', 'create_deal', 'create_activity']);
    expect(writes(m).map((r) => ({ method: r.method, path: r.path, body: r.body }))).toEqual([
      { method: 'POST', path: '/api/v2/deals', body: { title: 'Acme Corp – Pilot', pipeline_id: 1, stage_id: 1, owner_id: 4, org_id: 1 } },
      { method: 'POST', path: '/api/v1/notes', body: { content: 'They want a pilot.', deal_id: Number(dealId) } },
    ]);
    // Pipedrive now holds what was asked.
    expect(fake.state.deals.get(Number(dealId))).toMatchObject({ title: 'Acme Corp – Pilot', owner_id: 4, org_id: 1, stage_id: 1, pipeline_id: 1, status: 'open' });
    const stored = [...fake.state.notes.values()].filter((n) => n.deal_id === Number(dealId));
    expect(stored.map((n) => n.content)).toEqual(['They want a pilot.']);
    expect(note.s.activity).toMatchObject({ type: 'note', body: 'They want a pilot.', deal: { id: dealId, name: 'Acme Corp – Pilot' } });
    expect(deal.s.deal).toMatchObject({ owner: { id: '4', name: 'Ana Souza' }, account: { id: '1', name: 'Acme Corp' }, stage: { id: '1', name: 'Qualified' } });
  });
});

describe('dry runs of the new writes', () => {
  it('show the exact request and send nothing to Pipedrive', async () => {
    const cases: Array<[string, Record<string, unknown>, S]> = [
      ['create_account', { name: 'Dry Co', domain: 'dry.example', owner_id: '2' }, { method: 'POST', path: '/api/v2/organizations', body: { name: 'Dry Co', owner_id: 2, website: 'dry.example' } }],
      ['update_account', { account_id: '3', owner_id: '4' }, { method: 'PATCH', path: '/api/v2/organizations/3', body: { owner_id: 4 } }],
      [
        'create_contact',
        { first_name: 'Dry', last_name: 'Run', emails: ['dry@example.com'], account_id: '2' },
        { method: 'POST', path: '/api/v2/persons', body: { name: 'Dry Run', org_id: 2, emails: [{ value: 'dry@example.com', primary: true, label: 'work' }] } },
      ],
      ['update_contact', { contact_id: '3', phones: ['+1 555 0142'] }, { method: 'PATCH', path: '/api/v2/persons/3', body: { phones: [{ value: '+1 555 0142', primary: true, label: 'work' }] } }],
      ['create_activity', { type: 'note', body: 'Dry note', account_id: '2' }, { method: 'POST', path: '/api/v1/notes', body: { content: 'Dry note', org_id: 2 } }],
      [
        'create_activity',
        { type: 'meeting', subject: 'Kick-off', due_date: '2027-01-15', deal_id: '2', owner_id: '3' },
        { method: 'POST', path: '/api/v2/activities', body: { subject: 'Kick-off', type: 'meeting', owner_id: 3, deal_id: 2, due_date: '2027-01-15' } },
      ],
      ['update_activity', { activity_id: '7', done: true }, { method: 'PATCH', path: '/api/v2/activities/7', body: { done: true } }],
      ['update_activity', { activity_id: 'note-5', body: 'Globex chose us.' }, { method: 'PUT', path: '/api/v1/notes/5', body: { content: 'Globex chose us.' } }],
    ];
    const m = mark();
    for (const [tool, args, request] of cases) {
      const { s, text } = await ok(srv.client, tool, { ...args, dry_run: true });
      expect(s, tool).toEqual({ dry_run: request });
      expect(text, tool).toContain(`${request.method} ${request.path}`);
    }
    expect(since(m)).toEqual([]);
  });
});

describe('refusals and unknown ids', () => {
  it('unknown owners, accounts, contacts and deals point at search and list_users; nothing is written', async () => {
    const m = mark();
    expect(await fails(srv.client, 'create_deal', { name: 'Nobody', stage_id: '1', owner_id: '99' })).toBe(
      "No user with id '99'. Find ids with list_users or search (types: users).",
    );
    expect(await fails(srv.client, 'create_contact', { last_name: 'X', account_id: '999' })).toBe(
      "No account with id '999'. Find ids with search (types: accounts) or list_accounts.",
    );
    expect(await fails(srv.client, 'create_activity', { type: 'note', body: 'x', contact_id: '999' })).toBe(
      "No contact with id '999'. Find ids with search (types: contacts) or list_contacts.",
    );
    expect(await fails(srv.client, 'create_activity', { type: 'task', subject: 'x', deal_id: '9999' })).toBe(
      "No deal with id '9999'. Find ids with search (types: deals) or list_deals.",
    );
    expect(await fails(srv.client, 'update_account', { account_id: '1', owner_id: '42' })).toBe(
      "No user with id '42'. Find ids with list_users or search (types: users).",
    );
    expect(await fails(srv.client, 'update_deal', { deal_id: '3', account_id: '4040' })).toBe(
      "No account with id '4040'. Find ids with search (types: accounts) or list_accounts.",
    );
    expect(writes(m)).toEqual([]);
  });

  it('what Pipedrive cannot do is said in one sentence, before anything is sent', async () => {
    const m = mark();
    expect(await fails(srv.client, 'search', { query: 'Qualified', types: ['stages'] })).toBe(
      'Pipedrive has no server-side search for stages; use list_stages or get_pipeline, or search deals, accounts, contacts, users.',
    );
    expect(await fails(srv.client, 'list_activities', { project_id: '2' })).toMatch(/^Pipedrive lists a project's notes but not its other activities .*add type: note\.$/);
    expect(await fails(srv.client, 'create_account', { name: 'X', industry: 'Retail' })).toMatch(/^Pipedrive does not support `industry` when creating an account; supported fields: name, domain, owner_id\.$/);
    expect(await fails(srv.client, 'update_activity', { activity_id: 'note-1', type: 'task' })).toMatch(/a note cannot become a task/);
    expect(since(m)).toEqual([]);
  });
});

describe('reads of the new tools', () => {
  it('list_activities on a deal: notes and activities newest first, paged with one cursor, overdue marked', async () => {
    const { items, pages } = await listAll(srv.client, 'list_activities', 'activities', { deal_id: '1' }, 3);
    expect(pages).toBeGreaterThan(1);
    const created = items.map((a) => a.created_at);
    expect(created).toEqual([...created].sort().reverse());
    expect(new Set(items.map((a) => a.id)).size).toBe(items.length);
    const onDeal = [...fake.state.activities.values()].filter((a) => a.deal_id === 1 && !a.is_deleted).length + [...fake.state.notes.values()].filter((n) => n.deal_id === 1 && n.active_flag).length;
    expect(items).toHaveLength(onDeal);
    const overdue = items.find((a) => a.subject === 'Send proposal')!;
    expect(overdue).toMatchObject({ type: 'task', done: false, due_date: '2026-03-01', overdue: true });
    const { text } = await ok(srv.client, 'list_activities', { deal_id: '1', type: 'task', done: false });
    expect(text).toMatch(/- Task: Send proposal \(2\) · due 2026-03-01 · OVERDUE · Bob Seller \(2\)/);
  });

  it('search: exact name first, a deal with its stage and owner, a contact with its account and email', async () => {
    fake.state.deals.get(9)!.title = 'Globex expansion';
    const { s, text } = await ok(srv.client, 'search', { query: 'globex' });
    expect(s.results[0]).toEqual({ type: 'accounts', id: '2', name: 'Globex', detail: 'Bob Seller (2)' });
    const deal = fake.state.deals.get(9)!;
    expect(s.results).toContainEqual({
      type: 'deals',
      id: '9',
      name: 'Globex expansion',
      detail: [
        `${fake.state.stages.get(deal.stage_id)!.name} (${deal.stage_id})`,
        ...(deal.status === 'open' ? [] : [deal.status]),
        `${fake.state.users.get(deal.owner_id)!.name} (${deal.owner_id})`,
      ].join(' · '),
    });
    expect(s.results).toContainEqual({ type: 'contacts', id: '3', name: 'Priya Nair', detail: 'Globex (2) · priya@globex.example' });
    expect(text.split('\n')[1]).toBe('- account: Globex (2) · Bob Seller (2)');
  });

  it('list_deals by account_id; list_contacts by account; get_account with its domain', async () => {
    const deals = (await listAll(srv.client, 'list_deals', 'deals', { account_id: '3', response_format: 'detailed' })).items;
    expect(deals.length).toBe([...fake.state.deals.values()].filter((d) => d.org_id === 3 && !d.is_deleted).length);
    for (const d of deals) expect(d.account).toEqual({ id: '3', name: 'Initech' });
    const contacts = (await ok(srv.client, 'list_contacts', { account_id: '3' })).s.contacts as S[];
    expect(contacts.map((c) => c.name)).toEqual(['Tom Becker']);
    const { text } = await ok(srv.client, 'get_account', { account_id: '1' });
    expect(text).toContain('Acme Corp (1) · acme.example · Alice Admin (1)');
  });
});

describe('progress and cancellation', () => {
  it('get_pipeline reports its pages of open deals as progress, in order', async () => {
    const base = fake.state.deals.get(1)!;
    for (let i = 0; i < 1_200; i++) fake.state.deals.set(30_000 + i, { ...base, id: 30_000 + i, status: 'open', pipeline_id: 2, stage_id: 6, is_deleted: false, history: [] });
    fake.server.latencyMs = 30;
    try {
      const updates: Array<{ progress: number; message?: string }> = [];
      const res = await srv.client.callTool({ name: 'get_pipeline', arguments: { pipeline_id: '2' } }, { onprogress: (p) => void updates.push(p) });
      expect(res.isError).toBeFalsy();
      // The SDK client may drop what arrives in the answer's own chunk, never reorder.
      expect(updates.length).toBeGreaterThanOrEqual(2);
      updates.forEach((u, i) => expect(u.progress).toBe(i + 1));
      expect(updates.some((u) => /^read \d pages? of the open deals of pipeline 2$/.test(u.message ?? ''))).toBe(true);
    } finally {
      fake.server.latencyMs = 0;
    }
  });

  it('a cancelled search asks Pipedrive for nothing more', async () => {
    const made = await expectCancelStopsUpstream({
      client: srv.client,
      server: fake.server,
      tool: 'search',
      args: { query: 'Acme', types: ['accounts', 'contacts', 'deals'] },
      slow: (r) => r.path === '/api/v2/persons/search',
    });
    expect(made.filter((r) => r.path.endsWith('/search')).length).toBeLessThanOrEqual(3);
  });

  it('a cancelled list of activities reads no further page', async () => {
    // Enough tasks that type: task walks several whole pages of 500.
    const base = fake.state.activities.get(1)!;
    for (let i = 0; i < 1_100; i++) fake.state.activities.set(40_000 + i, { ...base, id: 40_000 + i, type: 'call', add_time: '2025-01-01T00:00:00Z' });
    const isPage = (r: RecordedRequest) => r.path === '/api/v2/activities' && typeof r.query.cursor === 'string';
    const made = await expectCancelStopsUpstream({ client: srv.client, server: fake.server, tool: 'list_activities', args: { type: 'meeting', limit: 20 }, slow: isPage });
    expect(made.filter((r) => r.path === '/api/v2/activities')).toHaveLength(2);
  });
});

it('the API token never appears in any tool output', () => {
  expect(outputs.length).toBeGreaterThan(30);
  for (const o of outputs) expect(o).not.toContain(fake.state.token);
});
