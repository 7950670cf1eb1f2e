/**
 * End-to-end over stdio for the records around a deal (issue 9): accounts, contacts, users,
 * activities and search on the demo CRM through the built binary and the real MCP client; the
 * connection in every answer of every tool; progress notifications and cancellation; and the
 * shared records suite (test/helpers/records-suite.ts) on the local CRM, where it exercises every
 * new tool (Pipedrive's and Truto's runs are in pipedrive-records.test.ts and truto-records.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakePipedrive, type FakeDeal, type FakePipedrive } from '../fakes/pipedrive.js';
import { call, fails, listAll, ok, recordLines, splitConnection, textOf, until, type S } from '../helpers/mcp.js';
import { expectCancelStopsUpstream, RECORD_TOOL_NAMES, runRecordsSuite } from '../helpers/records-suite.js';
import { isolatedDbPath, spawnRawStdio, startStdio, stopAll, tempDbPath, type StdioServer } from '../helpers/server.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
afterAll(stopAll);

const today = () => new Date().toISOString().slice(0, 10);

describe('records on the demo CRM', () => {
  let srv: StdioServer;
  beforeAll(async () => {
    srv = await startStdio({ db: tempDbPath() });
  });
  afterAll(async () => srv?.close());

  it('the shared records suite exercises every new tool', async () => {
    const report = await runRecordsSuite({
      client: srv.client,
      fixtures: { deal_id: '1', user_id: '1', account_id: '1', search: { query: 'Acme Corp', exact: 'Acme Corp' } },
    });
    expect(report.exercised).toEqual(RECORD_TOOL_NAMES);
    expect(report.refused).toEqual([]);
  });

  it('list_users: the demo owners with their emails, filtered by name and by exact email', async () => {
    const { s, text } = await ok(srv.client, 'list_users', {});
    expect(s.users).toHaveLength(8);
    expect(s.users[0]).toEqual({ id: '1', name: 'Ana Patel', email: 'ana@example.com', active: true });
    expect(recordLines(text)[0]).toBe('- Ana Patel (1) · ana@example.com');
    expect((await ok(srv.client, 'list_users', { name: 'ana' })).s.users.map((u: S) => u.name)).toEqual(['Ana Patel']);
    expect((await ok(srv.client, 'list_users', { email: 'GRACE@example.com' })).s.users.map((u: S) => u.name)).toEqual(['Grace Kim']);
    expect(await fails(srv.client, 'list_users', { email: 'grace' })).toMatch(/`email` must be an email address/);
  });

  it('accounts and contacts: lists, filters, gets and the detailed record', async () => {
    const accounts = (await listAll(srv.client, 'list_accounts', 'accounts')).items;
    expect(accounts.length).toBeGreaterThanOrEqual(30);
    const acme = (await ok(srv.client, 'list_accounts', { name: 'acme' })).s.accounts as S[];
    expect(acme.map((a) => a.name)).toContain('Acme Corp');
    const got = await ok(srv.client, 'get_account', { account_id: acme[0].id, response_format: 'detailed' });
    expect(got.s.account).toMatchObject({ id: acme[0].id, domain: expect.any(String), industry: expect.any(String), created_at: expect.any(String) });

    const contacts = (await ok(srv.client, 'list_contacts', { account_id: acme[0].id })).s.contacts as S[];
    expect(contacts.length).toBeGreaterThanOrEqual(2);
    for (const c of contacts) expect(c.account).toEqual({ id: acme[0].id, name: acme[0].name });
    const email = contacts[0].emails[0];
    expect((await ok(srv.client, 'list_contacts', { email: email.toUpperCase() })).s.contacts.map((c: S) => c.id)).toEqual([contacts[0].id]);
    const detailed = await ok(srv.client, 'get_contact', { contact_id: contacts[0].id, response_format: 'detailed' });
    expect(detailed.s.contact).toMatchObject({ first_name: expect.any(String), last_name: expect.any(String), phones: [expect.stringMatching(/^\+1 555 01/)] });
  });

  it('list_deals takes account_id', async () => {
    const deals = (await listAll(srv.client, 'list_deals', 'deals', { account_id: '1', response_format: 'detailed' })).items;
    expect(deals.length).toBeGreaterThan(0);
    for (const d of deals) expect(d.account).toEqual({ id: '1', name: 'Acme Corp' });
  });

  it('list_activities on a deal: newest first, overdue tasks marked in structuredContent and text', async () => {
    // The demo has overdue tasks on deals: find one, then list that deal's activities.
    const open = (await listAll(srv.client, 'list_activities', 'activities', { type: 'task', done: false })).items;
    const overdue = open.filter((a) => a.overdue === true);
    expect(overdue.length).toBeGreaterThan(0);
    for (const a of overdue) expect(a.due_date < today()).toBe(true);
    for (const a of open.filter((x) => !x.overdue)) expect(a.due_date >= today()).toBe(true);
    const onDeal = overdue.find((a) => a.deal)!;
    const { s, text } = await ok(srv.client, 'list_activities', { deal_id: onDeal.deal.id });
    const items = s.activities as S[];
    expect(items.map((a) => a.id)).toContain(onDeal.id);
    const created = items.map((a) => a.created_at);
    expect(created).toEqual([...created].sort().reverse());
    const lines = recordLines(text);
    const at = items.findIndex((a) => a.id === onDeal.id);
    expect(lines[at]).toContain(`(${onDeal.id}) · due ${onDeal.due_date} · OVERDUE`);
    // Every activity on the deal is about that deal.
    for (const a of items) expect(a.deal.id).toBe(onDeal.deal.id);
  });

  it('search: names to ids across types, exact match first, a short detail per hit', async () => {
    const { s, text } = await ok(srv.client, 'search', { query: 'acme corp' });
    const results = s.results as S[];
    expect(results[0]).toEqual({ type: 'accounts', id: '1', name: 'Acme Corp', detail: 'acmecorp.example · Grace Kim (7)' });
    const deal = results.find((r) => r.type === 'deals')!;
    // A deal's detail: its stage and its owner, named with their ids.
    expect(deal.detail).toMatch(/^[^·]+ \(\d+\)( · (won|lost))? · [^·]+ \(\d+\)$/);
    expect(results.filter((r) => r.type === 'deals').length).toBeLessThanOrEqual(5);
    expect(recordLines(text)[0]).toBe('- account: Acme Corp (1) · acmecorp.example · Grace Kim (7)');

    const contact = (await ok(srv.client, 'search', { query: 'acmecorp.example', types: ['contacts'] })).s.results as S[];
    expect(contact.length).toBe(2);
    for (const c of contact) expect(c.detail).toMatch(/^Acme Corp \(1\) · .+@acmecorp\.example$/);

    const stage = (await ok(srv.client, 'search', { query: 'lead in', types: ['stages'], limit: 1 })).s.results;
    expect(stage).toEqual([{ type: 'stages', id: '1', name: 'Lead In', detail: 'Sales (1)' }]);
    const none = await ok(srv.client, 'search', { query: 'zzzz', types: ['deals'] });
    expect(none.s.results).toEqual([]);
    expect(none.text).toBe('Nothing named like “zzzz” among deals.');
    expect(await fails(srv.client, 'search', { query: 'a' })).toMatch(/at least 2 characters/);
    expect(await fails(srv.client, 'search', { query: 'acme', types: ['notes'] })).toMatch(/`types\[0\]` must be one of: deals, accounts/);
  });

  it('writes refuse unknown owners, accounts and contacts by pointing at search and list_users, sending nothing', async () => {
    expect(await fails(srv.client, 'create_deal', { name: 'Refused deal zq', stage_id: '1', owner_id: '99' })).toBe(
      "No user with id '99'. Find ids with list_users or search (types: users).",
    );
    expect(await fails(srv.client, 'create_contact', { last_name: 'X', account_id: '999' })).toBe(
      "No account with id '999'. Find ids with search (types: accounts) or list_accounts.",
    );
    expect(await fails(srv.client, 'create_activity', { type: 'note', body: 'x', contact_id: '999' })).toBe(
      "No contact with id '999'. Find ids with search (types: contacts) or list_contacts.",
    );
    expect(await fails(srv.client, 'update_account', { account_id: '1', owner_id: '42' })).toBe(
      "No user with id '42'. Find ids with list_users or search (types: users).",
    );
    expect((await ok(srv.client, 'search', { query: 'Refused deal zq', types: ['deals'] })).s.results).toEqual([]);
  });

  it('create_activity: checked before anything is sent; a note has no due date; dry run changes nothing', async () => {
    const count = async () => (await listAll(srv.client, 'list_activities', 'activities', { deal_id: '2' })).items.length;
    const before = await count();
    expect(await fails(srv.client, 'create_activity', { type: 'task', subject: 'orphan' })).toBe(
      'create_activity needs at least one of deal_id, account_id, contact_id, project_id: the record it belongs to (search finds ids by name).',
    );
    expect(await fails(srv.client, 'create_activity', { body: 'no type', deal_id: '2' })).toBe(
      'Invalid arguments for create_activity: `type` is required, one of: note, task, call, meeting, email.',
    );
    expect(await fails(srv.client, 'create_activity', { type: 'note', due_date: '2026-01-01', deal_id: '2' })).toBe(
      'A note has no due_date; make it a task (type: task) to track a to-do.',
    );
    expect(await fails(srv.client, 'create_activity', { type: 'task', due_date: '2026-02-30', deal_id: '2' })).toMatch(/calendar date/);
    const dry = await ok(srv.client, 'create_activity', { type: 'task', subject: 'Call back', due_date: '2030-01-01', deal_id: '2', dry_run: true });
    expect(dry.s).toEqual({
      dry_run: { method: 'POST', path: '/activities', body: { type: 'task', subject: 'Call back', due_date: '2030-01-01', deal_id: '2' } },
    });
    expect(await count()).toBe(before);
  });

  it('update_activity done: true completes a task; create_contact and update_contact read back', async () => {
    const task = (await ok(srv.client, 'create_activity', { type: 'task', subject: 'Send pilot terms', due_date: today(), project_id: '1' })).s.activity;
    expect(task).toMatchObject({ type: 'task', done: false, project: { id: '1' } });
    expect(task.overdue).toBeUndefined(); // due today is not overdue
    const done = await ok(srv.client, 'update_activity', { activity_id: task.id, done: true });
    expect(done.s.activity).toMatchObject({ id: task.id, done: true });
    expect(done.text).toMatch(new RegExp(`^Updated activity Task: Send pilot terms \\(${task.id}\\) · due ${today()} · done · project .+ \\(1\\)\\.$`));

    const c = (await ok(srv.client, 'create_contact', { first_name: 'Rosa', last_name: 'Diaz', title: 'CTO', account_id: '3', phones: ['+1 555 0199'] })).s.contact;
    expect(c).toMatchObject({ name: 'Rosa Diaz', title: 'CTO', account: { id: '3', name: 'Initech' }, phones: ['+1 555 0199'] });
    const u = (await ok(srv.client, 'update_contact', { contact_id: c.id, emails: ['rosa@initech.example'], owner_id: '1' })).s.contact;
    expect(u).toMatchObject({ name: 'Rosa Diaz', emails: ['rosa@initech.example'], owner: { id: '1', name: 'Ana Patel' } });
    expect(await fails(srv.client, 'create_contact', { title: 'Nobody' })).toBe('create_contact needs first_name or last_name (or both).');
    expect(await fails(srv.client, 'update_contact', { contact_id: c.id })).toMatch(/needs at least one field to change/);
  });
});

describe('every tool', () => {
  it("answers with the connection that served it, in structuredContent", async () => {
    const srv = await startStdio({ db: ':memory:' });
    try {
      const tools = (await srv.client.listTools()).tools.map((t) => t.name);
      // A pipeline and a stage without deals, for the previews of delete_pipeline and delete_stage.
      const empty = (await ok(srv.client, 'create_pipeline', { name: 'Empty' })).s.pipeline.id;
      const bare = (await ok(srv.client, 'create_stage', { pipeline_id: empty, name: 'Bare' })).s.stage.id;
      // One valid call per tool; writes as dry runs, deletes without confirm (a preview).
      const args: Record<string, Record<string, unknown>> = {
        list_connections: {},
        search: { query: 'acme' },
        list_users: {},
        list_pipelines: {},
        get_pipeline: { pipeline_id: '1' },
        create_pipeline: { name: 'P', dry_run: true },
        update_pipeline: { pipeline_id: '1', name: 'P', dry_run: true },
        delete_pipeline: { pipeline_id: empty },
        list_stages: {},
        get_stage: { stage_id: '1' },
        create_stage: { pipeline_id: '1', name: 'S', dry_run: true },
        update_stage: { stage_id: '1', name: 'S', dry_run: true },
        delete_stage: { stage_id: bare },
        list_deals: {},
        get_deal: { deal_id: '1' },
        create_deal: { name: 'D', stage_id: '1', dry_run: true },
        update_deal: { deal_id: '1', amount: 1, dry_run: true },
        list_projects: {},
        get_project: { project_id: '1' },
        create_project: { name: 'P', dry_run: true },
        update_project: { project_id: '1', name: 'P', dry_run: true },
        delete_project: { project_id: '1' },
        pipeline_conversion_stats: { pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-03-31' },
        pipeline_movement_stats: { pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-03-31' },
        list_accounts: {},
        get_account: { account_id: '1' },
        create_account: { name: 'A', dry_run: true },
        update_account: { account_id: '1', name: 'A', dry_run: true },
        list_contacts: {},
        get_contact: { contact_id: '1' },
        create_contact: { last_name: 'C', dry_run: true },
        update_contact: { contact_id: '1', title: 'T', dry_run: true },
        list_activities: {},
        create_activity: { type: 'note', body: 'n', deal_id: '1', dry_run: true },
        update_activity: { activity_id: '1', subject: 's', dry_run: true },
      };
      expect(tools.sort()).toEqual(Object.keys(args).sort());
      // The server instructions (what a client that defers tool loading shows first) name the way to ids and notes.
      const instructions = srv.client.getInstructions() ?? '';
      for (const word of ['search', 'list_users', 'owner_id', 'list_activities', 'create_activity', 'structuredContent.connection']) {
        expect(instructions).toContain(word);
      }
      for (const tool of tools) {
        const res = await call(srv.client, tool, args[tool]);
        expect(res.isError, `${tool}: ${textOf(res)}`).toBeFalsy();
        expect(splitConnection(tool, res.structuredContent!).connection, tool).toEqual({ name: 'local', provider: 'local' });
      }
    } finally {
      await srv.close();
    }
  });
});

describe('--read-only and --toolsets with the new tools', () => {
  it('--toolsets accounts,contacts,activities serves those and the always-on tools; --read-only keeps their reads', async () => {
    const sets = await startStdio({ db: ':memory:', args: ['--toolsets', 'accounts,contacts,activities'] });
    const readOnly = await startStdio({ db: ':memory:', args: ['--read-only', '--toolsets', 'activities'] });
    try {
      expect((await sets.client.listTools()).tools.map((t) => t.name).sort()).toEqual(
        [
          'list_connections',
          'search',
          'list_users',
          'list_accounts',
          'get_account',
          'create_account',
          'update_account',
          'list_contacts',
          'get_contact',
          'create_contact',
          'update_contact',
          'list_activities',
          'create_activity',
          'update_activity',
        ].sort(),
      );
      expect((await readOnly.client.listTools()).tools.map((t) => t.name).sort()).toEqual(
        ['list_connections', 'search', 'list_users', 'list_activities'].sort(),
      );
      const refused = await readOnly.client
        .callTool({ name: 'create_activity', arguments: { type: 'note', body: 'x', deal_id: '1' } })
        .then((r) => textOf(r as never), (e: Error) => e.message);
      expect(refused).toMatch(/create_activity/);
      expect((await ok(readOnly.client, 'list_activities', { deal_id: '1' })).s.activities.every((a: S) => a.body !== 'x')).toBe(true);
    } finally {
      await Promise.all([sets.close(), readOnly.close()]);
    }
  });
});

/**
 * The server's stdout as JSON-RPC messages, in the order it wrote them. Progress is checked on the
 * wire: the SDK client hands notifications to their handler a microtask late but a response at
 * once, so progress read in the same chunk as the answer never reaches `onprogress`.
 */
async function rawSession() {
  const raw = spawnRawStdio({ db: ':memory:' });
  const messages: S[] = [];
  let buffer = '';
  raw.child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) messages.push(JSON.parse(line) as S);
  });
  const send = (msg: object) => raw.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...msg })}\n`);
  const answer = (id: number) => until(() => messages.find((m) => m.id === id), `the answer to request ${id}`);
  send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });
  await answer(1);
  send({ method: 'notifications/initialized' });
  return { raw, messages, send, answer };
}

describe('progress notifications', () => {
  it('search across types sends one step per type, in order, all before its answer; none without a progress token', async () => {
    const { raw, messages, send, answer } = await rawSession();
    try {
      send({ id: 2, method: 'tools/call', params: { name: 'search', arguments: { query: 'acme' }, _meta: { progressToken: 'p-2' } } });
      await answer(2);
      send({ id: 3, method: 'tools/call', params: { name: 'search', arguments: { query: 'acme' } } });
      await answer(3);
      const at = (id: number) => messages.findIndex((m) => m.id === id);
      const progress = messages.filter((m) => m.method === 'notifications/progress');
      expect(progress.map((m) => m.params)).toEqual(
        ['deals', 'accounts', 'contacts', 'projects', 'pipelines', 'stages', 'users'].map((type, i) => ({
          progressToken: 'p-2',
          progress: i + 1,
          total: 7,
          message: `searched ${type}`,
        })),
      );
      for (const p of progress) expect(messages.indexOf(p)).toBeLessThan(at(2));
      expect(messages[at(2)].result.isError).toBeFalsy();
      expect(messages[at(3)].result.structuredContent.results.length).toBeGreaterThan(0);
    } finally {
      await raw.stop();
    }
  });
});

describe('progress through the SDK client', () => {
  it('what reaches onprogress comes in order: steps 1, 2, ... of 7, one type each', async () => {
    const srv = await startStdio({ db: ':memory:' });
    try {
      const types = ['deals', 'accounts', 'contacts', 'projects', 'pipelines', 'stages', 'users'];
      const updates: Array<{ progress: number; total?: number; message?: string }> = [];
      const res = await srv.client.callTool({ name: 'search', arguments: { query: 'acme' } }, { onprogress: (p) => void updates.push(p) });
      expect(res.isError).toBeFalsy();
      // Those read in the answer's own chunk are dropped by the client (see rawSession), never reordered.
      updates.forEach((u, i) => expect(u).toEqual({ progress: i + 1, total: 7, message: `searched ${types[i]}` }));
    } finally {
      await srv.close();
    }
  });
});

describe('cancellation stops the upstream requests of multi-page work', () => {
  let fake: FakePipedrive;
  let srv: StdioServer;
  beforeAll(async () => {
    fake = await startFakePipedrive({ burstLimit: 1000 });
    // Enough open deals in pipeline 1 for get_pipeline to walk several pages of 500.
    const model = [...fake.state.deals.values()].find((d) => d.pipeline_id === 1)!;
    for (let i = 0; i < 1_200; i++) {
      const id = 10_000 + i;
      fake.state.deals.set(id, { ...model, id, title: `Bulk deal ${i}`, status: 'open', is_deleted: false } as FakeDeal);
    }
    srv = await startStdio({
      db: isolatedDbPath(),
      env: { CRM_PROVIDER: 'pipedrive', PIPEDRIVE_API_TOKEN: fake.state.token, PIPEDRIVE_BASE_URL: fake.url, PIPEDRIVE_BURST_LIMIT: '100' },
    });
  });
  afterAll(async () => {
    await srv?.close();
    await fake?.stop();
  });

  it('get_pipeline cancelled while a later page of deals is in flight asks for no further page', async () => {
    await ok(srv.client, 'get_pipeline', { pipeline_id: '1' }); // walks every page once: the call works
    const isDealsPage = (r: { path: string; query: Record<string, unknown> }) => r.path === '/api/v2/deals' && r.query.pipeline_id === '1';
    const made = await expectCancelStopsUpstream({
      client: srv.client,
      server: fake.server,
      tool: 'get_pipeline',
      args: { pipeline_id: '1' },
      slow: (r) => isDealsPage(r) && typeof r.query.cursor === 'string',
    });
    // The first page came back, the second was held and aborted, the third was never asked for.
    expect(made.filter(isDealsPage)).toHaveLength(2);
  });
});
