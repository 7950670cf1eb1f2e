/**
 * End-to-end with CRM_PROVIDER=truto for the records around a deal (issue 9): the built binary over
 * stdio, the real MCP client, the stateful fake Truto (test/fakes/truto.ts). Without
 * TRUTO_INTEGRATION (Truto's general unified coverage) and with capsule, the shared records suite
 * exercises every new tool; then the exact requests of each new operation, the activity merge
 * (notes, tasks and engagements newest first under one cursor), search with search_term, ids from
 * names refused with the shared sentence, progress and cancellation, and, per integration, what
 * Truto's docs say it lacks refused in one sentence before anything is sent.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RecordedRequest } from '../fakes/server.js';
import { FAKE_TRUTO_ACCOUNT, FAKE_TRUTO_TOKEN, startFakeTruto, type FakeTruto, type Rec } from '../fakes/truto.js';
import { call, fails, listAll, ok, recordLines, recordResults, textOf, type S } from '../helpers/mcp.js';
import { expectCancelStopsUpstream, RECORD_TOOL_NAMES, runRecordsSuite, type RecordTool } from '../helpers/records-suite.js';
import { isolatedDbPath, startStdio, stopAll, type StdioServer } from '../helpers/server.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const TOKEN = FAKE_TRUTO_TOKEN;
const LEAN = `integrated_account_id=${FAKE_TRUTO_ACCOUNT}&truto_ignore_remote_data=true`;

let fake: FakeTruto;
beforeAll(async () => {
  fake = await startFakeTruto();
});
afterAll(async () => {
  await stopAll();
  await fake?.stop();
});

const trutoEnv = (integration?: string): Record<string, string> => ({
  CRM_PROVIDER: 'truto',
  TRUTO_API_TOKEN: TOKEN,
  TRUTO_INTEGRATED_ACCOUNT_ID: FAKE_TRUTO_ACCOUNT,
  TRUTO_BASE_URL: fake.url,
  ...(integration ? { TRUTO_INTEGRATION: integration } : {}),
});

/** A GET as it reaches Truto (decoded): the account, the filters, remote_data left out, then the page size. */
const GET = (path: string, filters = '', limit?: number) =>
  `GET ${path}?integrated_account_id=${FAKE_TRUTO_ACCOUNT}${filters}&truto_ignore_remote_data=true${limit === undefined ? '' : `&limit=${limit}`}`;

const mark = () => fake.server.requests.length;
const since = (m: number): RecordedRequest[] => fake.server.requests.slice(m);
const lines = (m: number) => since(m).map((r) => `${r.method} ${decodeURIComponent(r.rawUrl)}`);
const writesSince = (m: number) => since(m).filter((r) => r.method !== 'GET');
const wire = (r: RecordedRequest) => ({ method: r.method, path: r.path, body: r.body });
const header = (r: RecordedRequest, name: string) => {
  const v = r.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

// =============================================================================================

describe('truto without TRUTO_INTEGRATION: the records around a deal', () => {
  let srv: StdioServer;
  let outputs: string[];
  beforeAll(async () => {
    srv = await startStdio({ db: isolatedDbPath(), env: trutoEnv(), logLevel: 'debug' });
    outputs = recordResults(srv.client);
  });
  afterAll(async () => srv?.close());

  it('list_connections: accounts, contacts, users, activities and project search', async () => {
    const c = (await ok(srv.client, 'list_connections')).s.connections[0];
    expect(c.supports).toMatchObject({
      accounts: ['list', 'get', 'create', 'update'],
      contacts: ['list', 'get', 'create', 'update'],
      users: ['list', 'get'],
      activities: ['list', 'get', 'create', 'update'],
      search: ['projects'],
    });
  });

  it('the shared records suite exercises every new tool', async () => {
    const report = await runRecordsSuite({
      client: srv.client,
      fixtures: { deal_id: '100', user_id: 'u4', account_id: 'a1', search: { query: 'Project 1', exact: 'Project 1' } },
      upstreamRequests: () => fake.server.requests.length,
    });
    expect(report.exercised).toEqual(RECORD_TOOL_NAMES);
    expect(report.refused).toEqual([]);
    // What the suite made is in the fake CRM, in Truto's shapes.
    expect(fake.state.records.accounts.get(report.created.account!)).toMatchObject({ owner: { id: 'u4', name: 'Ana Patel' } });
    expect(fake.state.records.contacts.get(report.created.contact!)).toMatchObject({
      title: 'Head of Suites',
      account: { id: 'a1', name: 'Acme Corp' },
      email_addresses: [{ email: expect.stringMatching(/^suite\..+@example\.com$/) }],
    });
    expect(report.created.note).toMatch(/^note:/);
    expect(fake.state.records.tasks.get(report.created.task!.replace(/^task:/, ''))).toMatchObject({ status: 'completed' });
  });

  describe('accounts, contacts and users', () => {
    it('list_accounts: a name matched here (contains, any case) over Truto pages; the domain from the website', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'list_accounts', { name: 'ACME' });
      expect(s.accounts.map((a: S) => a.name)).toEqual(['Acme Corp', 'Acme Logistics', 'Acme Labs']);
      expect(s.accounts[0]).toEqual({
        id: 'a1',
        name: 'Acme Corp',
        domain: 'acmecorp.example',
        industry: 'Manufacturing',
        owner: { id: 'u1', name: 'Ada Lovelace' },
      });
      expect(recordLines(text)[0]).toBe('- Acme Corp (a1) · acmecorp.example · Manufacturing · Ada Lovelace (u1)');
      // No `name` query goes to Truto: each CRM matches names its own way (often whole names only).
      expect(lines(m)).toEqual([GET('/unified/crm/accounts', '', 100)]);
    });

    it('list_accounts by owner sends owner[id] and checks every account', async () => {
      const m = mark();
      const { s } = await ok(srv.client, 'list_accounts', { owner_id: 'u2' });
      expect(s.accounts.length).toBeGreaterThan(0);
      for (const a of s.accounts) expect(a.owner).toEqual({ id: 'u2', name: 'Grace Hopper' });
      expect(since(m)[0].query.owner).toEqual({ id: 'u2' });
    });

    it('list_contacts: emails and phones are lists; filters by account (sent) and by email (matched here)', async () => {
      const detailed = await ok(srv.client, 'get_contact', { contact_id: 'c0', response_format: 'detailed' });
      expect(detailed.s.contact).toMatchObject({
        id: 'c0',
        name: 'Maria Lopez',
        first_name: 'Maria',
        last_name: 'Lopez',
        title: 'CTO',
        emails: ['maria@acmecorp.example'],
        phones: ['+1 555 0100'],
        account: { id: 'a1', name: 'Acme Corp' },
      });
      let m = mark();
      const onAcme = (await ok(srv.client, 'list_contacts', { account_id: 'a1' })).s.contacts as S[];
      expect(onAcme.length).toBeGreaterThanOrEqual(2);
      for (const c of onAcme) expect(c.account).toEqual({ id: 'a1', name: 'Acme Corp' });
      expect(onAcme.map((c) => c.id).filter((id) => /^c\d$/.test(id)).sort()).toEqual(['c0', 'c4']);
      expect(since(m)[0].query.account).toEqual({ id: 'a1' });
      m = mark();
      const byEmail = (await ok(srv.client, 'list_contacts', { email: 'PRIYA@UMBRELLA.example' })).s.contacts as S[];
      expect(byEmail.map((c) => c.name)).toEqual(['Priya Nair']);
      expect(since(m)[0].query.email).toBeUndefined();
    });

    it('list_users: name contains (matched here), email sent as Truto documents it', async () => {
      expect((await ok(srv.client, 'list_users', { name: 'ana' })).s.users).toEqual([
        { id: 'u4', name: 'Ana Patel', email: 'ana.patel@example.com', active: true },
      ]);
      const m = mark();
      const { s, text } = await ok(srv.client, 'list_users', { email: 'Alan@Example.com' });
      expect(s.users).toEqual([{ id: 'u3', name: 'Alan Turing', email: 'alan@example.com', active: false }]);
      expect(text).toContain('- Alan Turing (u3) · alan@example.com · inactive');
      expect(since(m)[0].query.email).toBe('Alan@Example.com');
    });

    it('create_account and create_contact: dry runs show the exact request; the writes send it after reading the ids they name', async () => {
      let m = mark();
      const dry = await ok(srv.client, 'create_account', {
        name: 'Pilot Co',
        domain: 'pilot.example',
        industry: 'Aviation',
        owner_id: 'u4',
        idempotency_key: 'acct-pilot-1',
        dry_run: true,
      });
      expect(dry.s.dry_run).toEqual({
        method: 'POST',
        path: `/unified/crm/accounts?${LEAN}`,
        body: { name: 'Pilot Co', website: 'pilot.example', industry: 'Aviation', owner: { id: 'u4' } },
        headers: { 'Idempotency-Key': 'acct-pilot-1' },
      });
      expect(since(m)).toHaveLength(0);
      m = mark();
      const created = await ok(srv.client, 'create_account', { name: 'Pilot Co', domain: 'pilot.example', industry: 'Aviation', owner_id: 'u4', idempotency_key: 'acct-pilot-1' });
      expect(lines(m)).toEqual([
        GET('/unified/crm/users/u4'),
        `POST /unified/crm/accounts?${decodeURIComponent(LEAN)}`,
      ]);
      expect(header(since(m)[1], 'idempotency-key')).toBe('acct-pilot-1');
      expect(created.s.account).toMatchObject({ name: 'Pilot Co', domain: 'pilot.example', industry: 'Aviation', owner: { id: 'u4', name: 'Ana Patel' } });

      m = mark();
      const contact = await ok(srv.client, 'create_contact', {
        first_name: 'Rosa',
        last_name: 'Diaz',
        emails: ['rosa@pilot.example'],
        phones: ['+1 555 0199'],
        title: 'CTO',
        account_id: created.s.account.id,
      });
      expect(writesSince(m).map(wire)).toEqual([
        {
          method: 'POST',
          path: '/unified/crm/contacts',
          body: {
            first_name: 'Rosa',
            last_name: 'Diaz',
            title: 'CTO',
            email_addresses: [{ email: 'rosa@pilot.example' }],
            phone_numbers: [{ number: '+1 555 0199' }],
            account: { id: created.s.account.id },
          },
        },
      ]);
      expect(contact.s.contact).toMatchObject({ name: 'Rosa Diaz', emails: ['rosa@pilot.example'], phones: ['+1 555 0199'], account: { id: created.s.account.id, name: 'Pilot Co' } });

      m = mark();
      const updated = await ok(srv.client, 'update_contact', { contact_id: contact.s.contact.id, emails: ['rosa.diaz@pilot.example'], owner_id: 'u1' });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'PATCH', path: `/unified/crm/contacts/${contact.s.contact.id}`, body: { email_addresses: [{ email: 'rosa.diaz@pilot.example' }], owner: { id: 'u1' } } },
      ]);
      expect(updated.s.contact).toMatchObject({ emails: ['rosa.diaz@pilot.example'], owner: { id: 'u1', name: 'Ada Lovelace' } });
    });

    it('unknown owners, accounts and contacts are refused with the shared sentence, and nothing is written', async () => {
      const m = mark();
      expect(await fails(srv.client, 'create_account', { name: 'Ghost Co', owner_id: 'u99' })).toBe(
        "No user with id 'u99'. Find ids with list_users or search (types: users).",
      );
      expect(await fails(srv.client, 'create_contact', { last_name: 'Ghost', account_id: 'a999' })).toBe(
        "No account with id 'a999'. Find ids with search (types: accounts) or list_accounts.",
      );
      expect(await fails(srv.client, 'create_activity', { type: 'note', body: 'x', contact_id: 'c999' })).toBe(
        "No contact with id 'c999'. Find ids with search (types: contacts) or list_contacts.",
      );
      expect(await fails(srv.client, 'create_deal', { name: 'Ghost deal', stage_id: '11', owner_id: 'u42' })).toBe(
        "No user with id 'u42'. Find ids with list_users or search (types: users).",
      );
      expect(await fails(srv.client, 'update_deal', { deal_id: '101', account_id: 'a77' })).toBe(
        "No account with id 'a77'. Find ids with search (types: accounts) or list_accounts.",
      );
      expect(writesSince(m)).toEqual([]);
    });

    it('list_deals takes account_id: sent as account[id], every deal on that account', async () => {
      const m = mark();
      const deals = (await listAll(srv.client, 'list_deals', 'deals', { account_id: 'a2', response_format: 'detailed' })).items;
      const expected = [...fake.state.records.opportunities.values()].filter((o) => (o.account as S).id === 'a2');
      expect(deals.map((d) => d.id).sort()).toEqual(expected.map((o) => o.id).sort());
      for (const d of deals) expect(d.account).toEqual({ id: 'a2', name: 'Globex' });
      expect(since(m)[0].query.account).toEqual({ id: 'a2' });
    });
  });

  describe('activities: notes, tasks and engagements', () => {
    it('list_activities on a deal: every resource asked once, merged newest first, overdue marked, note engagements left out', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'list_activities', { deal_id: '101' });
      expect(lines(m).sort()).toEqual(
        ['engagements', 'notes', 'tasks'].map((r) => GET(`/unified/crm/${r}`, '&opportunity[id]=101', 100)),
      );
      expect(s.activities.map((a: S) => a.id)).toEqual(['note:n2']);

      const deal100 = (await ok(srv.client, 'list_activities', { deal_id: '100', response_format: 'detailed' })).s.activities as S[];
      const seeded = deal100.filter((a) => /^(note:n|task:t|engagement:e)\d$/.test(a.id));
      expect(seeded.map((a) => a.id)).toEqual(['task:t2', 'engagement:e1', 'task:t1', 'note:n1']);
      const created = deal100.map((a) => a.created_at);
      expect(created).toEqual([...created].sort().reverse());
      expect(seeded[0]).toMatchObject({ type: 'task', subject: 'Book demo', done: true, due_date: '2026-01-10', owner: { id: 'u2', name: 'Grace Hopper' } });
      expect(seeded[1]).toMatchObject({
        type: 'call',
        subject: 'Discovery call',
        body: 'Budget confirmed.',
        due_date: '2026-01-05',
        deal: { id: '100', name: 'Deal 1 - Acme Corp' },
        account: { id: 'a1', name: 'Acme Corp' },
        contact: { id: 'c0' },
      });
      expect(seeded[1].done).toBeUndefined();
      expect(seeded[2]).toMatchObject({ type: 'task', done: false, overdue: true, due_date: '2026-01-20' });
      expect(seeded[3]).toMatchObject({ type: 'note', subject: 'Kick-off', body: 'Acme wants a pilot in Q2.' });
      expect(deal100.some((a) => a.id === 'engagement:e3')).toBe(false);
      expect(text).not.toContain('incomplete');
    });

    it('filters by type and done read only the resources that can match', async () => {
      let m = mark();
      const open = (await ok(srv.client, 'list_activities', { type: 'task', done: false, account_id: 'a3' })).s.activities as S[];
      expect(open.map((a) => a.id)).toEqual(['task:t3']);
      expect(lines(m)).toEqual([GET('/unified/crm/tasks', '&account[id]=a3&status=open', 100)]);
      m = mark();
      const meetings = (await ok(srv.client, 'list_activities', { project_id: 'pr-002' })).s.activities as S[];
      expect(meetings.map((a) => [a.id, a.type, a.project?.id])).toEqual([['engagement:e2', 'meeting', 'pr-002']]);
      // Only Truto's engagements link a project.
      expect(since(m).map((r) => r.path)).toEqual(['/unified/crm/engagements']);
    });

    it('one cursor pages the merge; a resource cut at the page cap is said, never silently dropped', async () => {
      for (let i = 0; i < 12; i++) {
        fake.state.records.notes.set(`p${i}`, { id: `p${i}`, content: `Paged note ${i}`, opportunity: [{ id: '105' }], created_at: `2026-03-0${(i % 9) + 1}T00:00:00.000Z` } as Rec);
      }
      const all = await listAll(srv.client, 'list_activities', 'activities', { deal_id: '105' }, 5);
      expect(all.items.map((a) => a.id).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `note:p${i}`).sort());
      expect(all.pages).toBe(3);

      // Past the cap of 10 pages of 100 notes, the answer says the listing is incomplete.
      for (let i = 0; i < 1_050; i++) {
        fake.state.records.notes.set(`bulk${i}`, { id: `bulk${i}`, content: 'bulk', opportunity: [{ id: '106' }], created_at: '2026-04-01T00:00:00.000Z' } as Rec);
      }
      const { text } = await ok(srv.client, 'list_activities', { deal_id: '106', limit: 5 });
      expect(text).toContain("Listing notes stopped at crm-mcp's cap of 10 pages (1,000 records): the listing is incomplete.");
      for (let i = 0; i < 1_050; i++) fake.state.records.notes.delete(`bulk${i}`);
    });

    it('create_activity: a note, a task and a call, each to its own Truto resource, with the exact requests', async () => {
      let m = mark();
      const dry = await ok(srv.client, 'create_activity', {
        type: 'task',
        subject: 'Send pilot terms',
        body: 'Draft v2',
        due_date: '2030-01-15',
        deal_id: '100',
        owner_id: 'u4',
        idempotency_key: 'task-pilot-1',
        dry_run: true,
      });
      expect(dry.s.dry_run).toEqual({
        method: 'POST',
        path: `/unified/crm/tasks?${LEAN}`,
        body: { subject: 'Send pilot terms', content: 'Draft v2', due_date: '2030-01-15', owner: { id: 'u4' }, opportunity: [{ id: '100' }] },
        headers: { 'Idempotency-Key': 'task-pilot-1' },
      });
      expect(since(m)).toHaveLength(0);

      m = mark();
      const note = await ok(srv.client, 'create_activity', { type: 'note', subject: 'Pilot', body: 'They want a pilot.', deal_id: '100', contact_id: 'c0' });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'POST', path: '/unified/crm/notes', body: { title: 'Pilot', content: 'They want a pilot.', contact: [{ id: 'c0' }], opportunity: [{ id: '100' }] } },
      ]);
      expect(lines(m).filter((l) => l.startsWith('GET')).sort()).toEqual([
        GET('/unified/crm/contacts/c0'),
        GET('/unified/crm/opportunities/100'),
      ]);
      expect(note.s.activity).toMatchObject({ id: expect.stringMatching(/^note:/), type: 'note', subject: 'Pilot', deal: { id: '100' }, contact: { id: 'c0' } });
      expect(note.text).toMatch(/^Created activity Note: Pilot \(note:\d+\)/);

      m = mark();
      const callRes = await ok(srv.client, 'create_activity', { type: 'call', subject: 'Follow-up', due_date: '2030-02-01', account_id: 'a1', project_id: 'pr-001' });
      expect(writesSince(m).map(wire)).toEqual([
        {
          method: 'POST',
          path: '/unified/crm/engagements',
          body: { engagement_type: 'call', subject: 'Follow-up', start_time: '2030-02-01', project: { id: 'pr-001' }, account: { id: 'a1' } },
        },
      ]);
      expect(callRes.s.activity).toMatchObject({ type: 'call', due_date: '2030-02-01', project: { id: 'pr-001' }, account: { id: 'a1', name: 'Acme Corp' } });
      expect(callRes.s.activity.done).toBeUndefined();
    });

    it('what a Truto resource cannot carry is refused in one sentence before anything is sent', async () => {
      const m = mark();
      expect(await fails(srv.client, 'create_activity', { type: 'task', subject: 'x', project_id: 'pr-001' })).toBe(
        "Truto's notes and tasks cannot hang on a project (only calls and meetings can); give deal_id, account_id or contact_id instead.",
      );
      expect(await fails(srv.client, 'create_activity', { type: 'call', subject: 'x', done: true, deal_id: '100' })).toMatch(
        /^Truto's calls, meetings and emails have no done state/,
      );
      expect(await fails(srv.client, 'update_activity', { activity_id: 'note:n1', due_date: '2030-01-01' })).toBe(
        'A note has no due_date: add a task with create_activity (type: task) to track a to-do.',
      );
      expect(await fails(srv.client, 'update_activity', { activity_id: 'note:n1', type: 'task' })).toBe(
        "Activity note:n1 is one of Truto's notes, which cannot become a task: add a new one with create_activity instead.",
      );
      expect(await fails(srv.client, 'update_activity', { activity_id: 'n1', subject: 'x' })).toMatch(
        /^No activity with id 'n1': Truto activity ids look like note:12, task:7 or engagement:31\. Find ids with list_activities\.$/,
      );
      expect(writesSince(m)).toEqual([]);
      // An id of the right form that Truto does not know: its 404 becomes the shared sentence.
      expect(await fails(srv.client, 'update_activity', { activity_id: 'task:zz9', done: true })).toBe(
        "No activity with id 'task:zz9'. Find ids with list_activities.",
      );
    });

    it('update_activity: done true completes a task (status completed); a call moves with due_date', async () => {
      let m = mark();
      const dry = await ok(srv.client, 'update_activity', { activity_id: 'task:t3', done: true, dry_run: true });
      expect(dry.s.dry_run).toEqual({ method: 'PATCH', path: `/unified/crm/tasks/t3?${LEAN}`, body: { status: 'completed' } });
      const done = await ok(srv.client, 'update_activity', { activity_id: 'task:t3', done: true });
      expect(writesSince(m).map(wire)).toEqual([{ method: 'PATCH', path: '/unified/crm/tasks/t3', body: { status: 'completed' } }]);
      expect(done.s.activity).toMatchObject({ id: 'task:t3', done: true });
      expect(done.text).toContain('· done');
      m = mark();
      const moved = await ok(srv.client, 'update_activity', { activity_id: 'engagement:e2', due_date: '2030-03-03', type: 'call' });
      expect(writesSince(m).map(wire)).toEqual([
        { method: 'PATCH', path: '/unified/crm/engagements/e2', body: { engagement_type: 'call', start_time: '2030-03-03' } },
      ]);
      expect(moved.s.activity).toMatchObject({ id: 'engagement:e2', type: 'call', due_date: '2030-03-03' });
    });
  });

  describe('search', () => {
    it('projects by search_term, exact match first; types without a documented search are named, not scanned', async () => {
      const m = mark();
      const { s, text } = await ok(srv.client, 'search', { query: 'project 2', types: ['projects', 'accounts', 'users'] });
      expect(s.results[0]).toEqual({ type: 'projects', id: 'pr-002', name: 'Project 2', detail: expect.stringContaining('Globex (a2)') });
      for (const r of s.results) expect(r.name.toLowerCase()).toContain('project 2');
      expect(text).toContain('Truto has no server-side search for accounts, users; use list_accounts, list_users with name.');
      expect(lines(m)).toEqual([GET('/unified/crm/projects', '&search_term=project 2', 5)]);
      expect(await fails(srv.client, 'search', { query: 'acme', types: ['accounts'] })).toBe(
        'Truto has no server-side search for accounts; use list_accounts, or search projects.',
      );
    });
  });

  describe('progress and cancellation', () => {
    it('list_activities cancelled while a later page of notes is held asks for no further page', async () => {
      for (let i = 0; i < 250; i++) {
        fake.state.records.notes.set(`c${i}`, { id: `c${i}`, content: 'x', opportunity: [{ id: '107' }], created_at: '2026-05-01T00:00:00.000Z' } as Rec);
      }
      const isNotesPage = (r: RecordedRequest) => r.path === '/unified/crm/notes' && (r.query.opportunity as S)?.id === '107';
      const made = await expectCancelStopsUpstream({
        client: srv.client,
        server: fake.server,
        tool: 'list_activities',
        args: { deal_id: '107' },
        slow: (r) => isNotesPage(r) && typeof r.query.next_cursor === 'string',
      });
      // The first page came back, the second was held and aborted, the third was never asked for.
      expect(made.filter(isNotesPage)).toHaveLength(2);
      for (let i = 0; i < 250; i++) fake.state.records.notes.delete(`c${i}`);
    });
  });

  it('the API token never appears in any tool output nor in the debug logs', () => {
    expect(outputs.length).toBeGreaterThan(30);
    expect(outputs.some((o) => o.includes('"dry_run"'))).toBe(true);
    for (const o of outputs) expect(o).not.toContain(TOKEN);
    expect(srv.stderr()).not.toContain(TOKEN);
  });
});

// =============================================================================================

describe('truto (capsule): the records suite exercises every new tool', () => {
  it('runs whole, with Capsule’s engagement types', async () => {
    const srv = await startStdio({ db: isolatedDbPath(), env: trutoEnv('capsule') });
    try {
      const report = await runRecordsSuite({
        client: srv.client,
        fixtures: { deal_id: '102', user_id: 'u4', account_id: 'a3', search: { query: 'Project 3', exact: 'Project 3' } },
        upstreamRequests: () => fake.server.requests.length,
      });
      expect(report.exercised).toEqual(RECORD_TOOL_NAMES);
      const m = mark();
      expect(await fails(srv.client, 'create_activity', { type: 'email', subject: 'x', deal_id: '102' })).toBe(
        "Truto (Capsule) does not accept type 'email' for an activity; allowed: note, task, call, meeting.",
      );
      expect(since(m)).toHaveLength(0);
    } finally {
      await srv.close();
    }
  });
});

// =============================================================================================

/** Per integration, what Truto's docs give it (capabilities.ts), and what is refused in one sentence. */
const INTEGRATIONS: Array<{
  integration: string;
  activities: string[];
  refused: Array<[RecordTool, Record<string, unknown>, RegExp]>;
}> = [
  {
    integration: 'insightly',
    // Notes: list and update, no create; tasks: list, get and update (create unconfirmed); no engagements.
    activities: ['list', 'get', 'update'],
    refused: [
      ['create_activity', { type: 'note', body: 'x', deal_id: '100' }, /^Truto \(Insightly\) does not support creating activities; this connection supports /],
      ['search', { query: 'Project' }, /^Truto \(Insightly\) does not support search; this connection supports /],
    ],
  },
  {
    integration: 'pipeliner',
    // Notes (list, create, update) and engagements (list): no tasks.
    activities: ['list', 'get', 'create', 'update'],
    refused: [
      ['create_activity', { type: 'task', subject: 'x', deal_id: '100' }, /^Truto \(Pipeliner\) does not accept type 'task' for an activity; allowed: note\.$/],
      ['update_activity', { activity_id: 'engagement:e1', subject: 'x' }, /^Truto \(Pipeliner\) does not support updating calls and meetings; list_connections shows what this connection supports\.$/],
      ['list_activities', { done: false }, /^Truto \(Pipeliner\) cannot filter activities by `done`/],
    ],
  },
  {
    integration: 'teamleader',
    // No notes; tasks list, get and update; engagements list.
    activities: ['list', 'get', 'update'],
    refused: [
      ['create_activity', { type: 'task', subject: 'x', deal_id: '100' }, /^Truto \(Teamleader\) does not support creating activities; /],
      ['update_activity', { activity_id: 'note:n1', subject: 'x' }, /^Truto \(Teamleader\) serves no notes for this account\.$/],
    ],
  },
];

describe('truto per integration: what its docs do not give is refused plainly, nothing sent', () => {
  for (const { integration, activities, refused } of INTEGRATIONS) {
    it(integration, async () => {
      const srv = await startStdio({ db: isolatedDbPath(), env: trutoEnv(integration) });
      try {
        const c = (await ok(srv.client, 'list_connections')).s.connections[0];
        expect(c.supports.activities).toEqual(activities);
        expect(c.supports.search).toBeUndefined();
        expect(c.supports.users).toEqual(['list', 'get']);
        for (const [tool, args, message] of refused) {
          const m = mark();
          const res = await call(srv.client, tool, args);
          expect(res.isError, `${tool} on ${integration}`).toBe(true);
          expect(textOf(res), `${tool} on ${integration}`).toMatch(message);
          expect(since(m), `${tool} on ${integration} sends nothing`).toEqual([]);
        }
      } finally {
        await srv.close();
      }
    });
  }
});
