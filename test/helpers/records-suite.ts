/**
 * The records around a deal, end to end, for any provider: one table of the tools issue 9 added
 * (accounts, contacts, users, activities, search), and a run that exercises every tool the
 * connection supports and asserts a plain one-sentence refusal, with nothing sent upstream, for
 * every one it does not. What a connection supports is read from list_connections' `supports`
 * (or given), so a provider's e2e test only says which of its records to use:
 *
 *   const report = await runRecordsSuite({
 *     client: server.client,
 *     fixtures: { deal_id: '1', user_id: '1', account_id: '1', search: { query: 'Acme', exact: 'Acme Corp' } },
 *     upstreamRequests: () => fake.server.requests.length, // a fake CRM's request log
 *   });
 *   expect(report.refused).toEqual([...]);  // what this CRM does not serve
 *
 * `args` overrides the arguments of any call (a CRM whose contacts need an email, an activity type
 * it has): the suite merges them over its own, and an `undefined` there drops the suite's own
 * argument (a CRM without a `subject` for tasks).
 */
import type { Client } from '@modelcontextprotocol/client';
import { expect } from 'vitest';
import type { FakeServer, RecordedRequest } from '../fakes/server.js';
import { call, ok, recordLines, textOf, until, type S } from './mcp.js';

/** The tools of issue 9, and the capability (resource and operation) each needs. */
export const RECORD_TOOLS = [
  { tool: 'list_accounts', needs: ['accounts', 'list'] },
  { tool: 'get_account', needs: ['accounts', 'get'] },
  { tool: 'create_account', needs: ['accounts', 'create'] },
  { tool: 'update_account', needs: ['accounts', 'update'] },
  { tool: 'list_contacts', needs: ['contacts', 'list'] },
  { tool: 'get_contact', needs: ['contacts', 'get'] },
  { tool: 'create_contact', needs: ['contacts', 'create'] },
  { tool: 'update_contact', needs: ['contacts', 'update'] },
  { tool: 'list_users', needs: ['users', 'list'] },
  { tool: 'list_activities', needs: ['activities', 'list'] },
  { tool: 'create_activity', needs: ['activities', 'create'] },
  { tool: 'update_activity', needs: ['activities', 'update'] },
  { tool: 'search', needs: ['search', 'deals'] },
] as const;
export type RecordTool = (typeof RECORD_TOOLS)[number]['tool'];
export const RECORD_TOOL_NAMES: RecordTool[] = RECORD_TOOLS.map((t) => t.tool);

export interface RecordFixtures {
  /** A deal to hang activities on. */
  deal_id: string;
  /** A user to own what the suite creates. */
  user_id: string;
  /** An account to put contacts on and to filter by. */
  account_id: string;
  /** Text search finds (2+ characters); `exact`, the whole name of a record it finds. */
  search: { query: string; exact?: string };
  /**
   * Where the suite's note goes when the CRM cannot hang a note on a deal (Outreach keeps notes on
   * accounts and prospects): e.g. `{ account_id: '1' }`. Default: on the deal.
   */
  note_on?: { account_id: string } | { contact_id: string };
}

export interface RecordsSuiteOptions {
  client: Client;
  /** The connection to use (default: the default one). */
  connection?: string;
  /** What the connection supports; read from list_connections when not given. */
  supports?: Record<string, string[]>;
  fixtures: RecordFixtures;
  /** How many requests the CRM has received so far (a fake's log): refusals and dry runs add none. */
  upstreamRequests?: () => number;
  /** Arguments merged over the suite's own, per tool. */
  args?: Partial<Record<RecordTool, Record<string, unknown>>>;
}

export interface RecordsSuiteReport {
  exercised: RecordTool[];
  refused: RecordTool[];
  /** The records the suite created, by kind (their ids), for the caller to check further. */
  created: { account?: string; contact?: string; note?: string; task?: string };
}

const supported = (supports: Record<string, string[]>, needs: readonly string[]) =>
  needs[0] === 'search' ? (supports.search?.length ?? 0) > 0 : (supports[needs[0]] ?? []).includes(needs[1]);

const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** Asserts a list answer: `{<key>: [...], next_cursor}` and one "- ... (id)" line per record. */
function expectList(s: S, text: string, key: string): S[] {
  expect(Object.keys(s).sort()).toEqual([key, 'next_cursor'].sort());
  const items = s[key] as S[];
  expect(Array.isArray(items)).toBe(true);
  const lines = recordLines(text);
  expect(lines).toHaveLength(items.length);
  items.forEach((item, i) => expect(lines[i]).toContain(`(${item.id})`));
  return items;
}

/** Runs the suite; every assertion is vitest's, so a failure names the tool and what was wrong. */
export async function runRecordsSuite(opts: RecordsSuiteOptions): Promise<RecordsSuiteReport> {
  const { client, fixtures } = opts;
  const conn = opts.connection ? { connection: opts.connection } : {};
  const supports =
    opts.supports ??
    ((await ok(client, 'list_connections')).s.connections as S[]).find((c) => (opts.connection ? c.name === opts.connection : c.default))!
      .supports;
  const report: RecordsSuiteReport = { exercised: [], refused: [], created: {} };
  const sent = () => opts.upstreamRequests?.() ?? 0;
  const argsOf = (tool: RecordTool, own: Record<string, unknown>) => ({ ...own, ...conn, ...(opts.args?.[tool] ?? {}) });
  const run = (tool: RecordTool, own: Record<string, unknown>) => ok(client, tool, argsOf(tool, own));
  const tag = unique();

  const plans: Record<RecordTool, { args: () => Record<string, unknown>; exercise: () => Promise<void> }> = {
    list_accounts: {
      args: () => ({ limit: 5 }),
      exercise: async () => {
        const { s, text } = await run('list_accounts', { limit: 5 });
        for (const a of expectList(s, text, 'accounts')) expect(typeof a.name).toBe('string');
      },
    },
    get_account: {
      args: () => ({ account_id: fixtures.account_id }),
      exercise: async () => {
        const { s, text } = await run('get_account', { account_id: fixtures.account_id });
        expect(s.account.id).toBe(fixtures.account_id);
        expect(text).toContain(`${s.account.name} (${fixtures.account_id})`);
      },
    },
    create_account: {
      args: () => ({ name: `Suite account ${tag}` }),
      exercise: async () => {
        const name = `Suite account ${tag}`;
        const before = sent();
        const dry = await run('create_account', { name, owner_id: fixtures.user_id, dry_run: true });
        expect(dry.s.dry_run).toMatchObject({ method: expect.any(String), path: expect.any(String) });
        expect(sent(), 'a dry run sends nothing').toBe(before);
        const first = await run('create_account', { name, owner_id: fixtures.user_id, idempotency_key: `acct-${tag}` });
        expect(first.s.account).toMatchObject({ name, owner: { id: fixtures.user_id } });
        const again = await run('create_account', { name, owner_id: fixtures.user_id, idempotency_key: `acct-${tag}` });
        expect(again.s.account.id, 'a repeated idempotency_key creates nothing').toBe(first.s.account.id);
        report.created.account = first.s.account.id;
      },
    },
    update_account: {
      args: () => ({ account_id: report.created.account ?? fixtures.account_id, name: `Suite renamed ${tag}` }),
      exercise: async () => {
        const id = report.created.account ?? fixtures.account_id;
        const dry = await run('update_account', { account_id: id, name: `Suite renamed ${tag}`, dry_run: true });
        expect(dry.s.dry_run).toBeDefined();
        const { s } = await run('update_account', { account_id: id, name: `Suite renamed ${tag}` });
        expect(s.account).toMatchObject({ id, name: `Suite renamed ${tag}` });
      },
    },
    list_contacts: {
      args: () => ({ limit: 5 }),
      exercise: async () => {
        const { s, text } = await run('list_contacts', { limit: 5 });
        expectList(s, text, 'contacts');
      },
    },
    get_contact: {
      args: () => ({ contact_id: report.created.contact ?? '1' }),
      exercise: async () => {
        const list = (await run('list_contacts', { limit: 1 })).s.contacts as S[];
        const id = report.created.contact ?? list[0]?.id;
        expect(id, 'a contact to read').toBeDefined();
        const { s } = await run('get_contact', { contact_id: id });
        expect(s.contact.id).toBe(id);
      },
    },
    create_contact: {
      args: () => ({ first_name: 'Suite', last_name: tag }),
      exercise: async () => {
        const own = { first_name: 'Suite', last_name: tag, emails: [`suite.${tag}@example.com`], account_id: fixtures.account_id };
        const before = sent();
        const dry = await run('create_contact', { ...own, dry_run: true });
        expect(dry.s.dry_run).toBeDefined();
        expect(sent(), 'a dry run sends nothing').toBe(before);
        const first = await run('create_contact', { ...own, idempotency_key: `contact-${tag}` });
        expect(first.s.contact).toMatchObject({ name: `Suite ${tag}`, account: { id: fixtures.account_id } });
        const again = await run('create_contact', { ...own, idempotency_key: `contact-${tag}` });
        expect(again.s.contact.id).toBe(first.s.contact.id);
        report.created.contact = first.s.contact.id;
      },
    },
    update_contact: {
      args: () => ({ contact_id: report.created.contact ?? '1', title: 'Head of Suites' }),
      exercise: async () => {
        const id = report.created.contact;
        expect(id, 'update_contact runs on the contact create_contact made').toBeDefined();
        const { s } = await run('update_contact', { contact_id: id, title: 'Head of Suites' });
        expect(s.contact).toMatchObject({ id, title: 'Head of Suites', name: `Suite ${tag}` });
      },
    },
    list_users: {
      args: () => ({}),
      exercise: async () => {
        const { s, text } = await run('list_users', { limit: 100 });
        const users = expectList(s, text, 'users');
        expect(users.map((u) => u.id)).toContain(fixtures.user_id);
      },
    },
    list_activities: {
      args: () => ({ deal_id: fixtures.deal_id }),
      exercise: async () => {
        const { s, text } = await run('list_activities', { deal_id: fixtures.deal_id, limit: 50 });
        const items = expectList(s, text, 'activities');
        // Newest first; an open task due before today is marked overdue.
        const created = items.map((a) => a.created_at).filter(Boolean);
        expect(created).toEqual([...created].sort().reverse());
        const today = new Date().toISOString().slice(0, 10);
        for (const a of items) expect(Boolean(a.overdue), `activity ${a.id}`).toBe(a.done === false && Boolean(a.due_date) && a.due_date < today);
      },
    },
    create_activity: {
      args: () => ({ type: 'note', body: `Suite note ${tag}`, deal_id: fixtures.deal_id }),
      exercise: async () => {
        const noteOn: Record<string, string> = fixtures.note_on ?? { deal_id: fixtures.deal_id };
        const [parentArg, parentId] = Object.entries(noteOn)[0];
        const noteParent = { [parentArg.replace(/_id$/, '')]: { id: parentId } };
        const before = sent();
        const orphan = await call(client, 'create_activity', argsOf('create_activity', { type: 'note', body: 'on nothing' }));
        expect(orphan.isError).toBe(true);
        expect(textOf(orphan)).toMatch(/needs at least one of deal_id, account_id, contact_id, project_id/);
        const dry = await run('create_activity', { type: 'note', body: `Suite note ${tag}`, ...noteOn, dry_run: true });
        expect(dry.s.dry_run).toBeDefined();
        expect(sent(), 'a refused or dry-run create sends nothing').toBe(before);
        const note = await run('create_activity', { type: 'note', body: `Suite note ${tag}`, ...noteOn, idempotency_key: `note-${tag}` });
        expect(note.s.activity).toMatchObject({ type: 'note', ...noteParent });
        const again = await run('create_activity', { type: 'note', body: `Suite note ${tag}`, ...noteOn, idempotency_key: `note-${tag}` });
        expect(again.s.activity.id).toBe(note.s.activity.id);
        report.created.note = note.s.activity.id;
        const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
        const task = await run('create_activity', {
          type: 'task',
          subject: `Suite task ${tag}`,
          due_date: yesterday,
          deal_id: fixtures.deal_id,
          owner_id: fixtures.user_id,
        });
        expect(task.s.activity).toMatchObject({ type: 'task', done: false, overdue: true, due_date: yesterday });
        expect(task.text).toContain('OVERDUE');
        report.created.task = task.s.activity.id;
      },
    },
    update_activity: {
      args: () => ({ activity_id: report.created.task ?? '1', done: true }),
      exercise: async () => {
        const id = report.created.task;
        expect(id, 'update_activity completes the task create_activity made').toBeDefined();
        const dry = await run('update_activity', { activity_id: id, done: true, dry_run: true });
        expect(dry.s.dry_run).toBeDefined();
        const { s, text } = await run('update_activity', { activity_id: id, done: true });
        expect(s.activity).toMatchObject({ id, done: true });
        expect(s.activity.overdue).toBeUndefined();
        expect(text).toContain('done');
      },
    },
    search: {
      args: () => ({ query: fixtures.search.query }),
      exercise: async () => {
        const { s, text } = await run('search', { query: fixtures.search.query });
        const results = s.results as S[];
        expect(results.length).toBeGreaterThan(0);
        for (const r of results) {
          expect(supports.search).toContain(r.type);
          expect(text).toContain(`${r.name} (${r.id})`);
        }
        if (fixtures.search.exact) expect(results[0].name).toBe(fixtures.search.exact);
        // A type this CRM cannot search server-side is named, never scanned: with the list tool to
        // use where the connection lists it, else as a type the CRM has none of.
        const missing = ['deals', 'accounts', 'contacts', 'projects', 'pipelines', 'stages', 'users'].find((t) => !supports.search.includes(t));
        if (missing) {
          const asked = await call(client, 'search', argsOf('search', { query: fixtures.search.query, types: [supports.search[0], missing] }));
          const answer = textOf(asked);
          if (supports[missing]?.includes('list')) expect(answer).toMatch(new RegExp(`has no server-side search for ${missing}; use list_${missing}`));
          else {
            expect(answer).not.toContain(`list_${missing}`);
            if (!supports[missing]) expect(answer).toMatch(new RegExp(`has no ${missing}\\.$`));
          }
        }
      },
    },
  };

  // Creates before the reads and updates that use what they made.
  const order: RecordTool[] = [
    'list_users',
    'list_accounts',
    'get_account',
    'create_account',
    'update_account',
    'create_contact',
    'list_contacts',
    'get_contact',
    'update_contact',
    'create_activity',
    'update_activity',
    'list_activities',
    'search',
  ];
  for (const tool of order) {
    const needs = RECORD_TOOLS.find((t) => t.tool === tool)!.needs;
    if (supported(supports, needs)) {
      await plans[tool].exercise();
      report.exercised.push(tool);
      continue;
    }
    const before = sent();
    const res = await call(client, tool, argsOf(tool, plans[tool].args()));
    const text = textOf(res);
    expect(res.isError, `${tool} should be refused: ${text}`).toBe(true);
    // One plain sentence: one line, one full stop at its end, saying what is not supported.
    expect(text, tool).toMatch(/^[^\n]+\.$/);
    expect(text.slice(0, -1), tool).not.toMatch(/\.\s/);
    expect(text, tool).toMatch(/does not support/);
    expect(sent(), `${tool}: a refusal sends nothing`).toBe(before);
    report.refused.push(tool);
  }
  report.exercised.sort((a, b) => RECORD_TOOL_NAMES.indexOf(a) - RECORD_TOOL_NAMES.indexOf(b));
  report.refused.sort((a, b) => RECORD_TOOL_NAMES.indexOf(a) - RECORD_TOOL_NAMES.indexOf(b));
  return report;
}

export interface CancelOptions {
  client: Client;
  /** The fake CRM (test/fakes/server.ts) the connection talks to. */
  server: FakeServer;
  tool: string;
  args: Record<string, unknown>;
  /** The request to hold (a later page, one type's search): the call is cancelled once it arrives. */
  slow: (r: RecordedRequest) => boolean;
  /**
   * Requests sent together (a search's types, a merged list's collections) reach the CRM in any
   * order: cancel only once this many of the call's requests have arrived, so none that was sent
   * before the cancellation is counted as sent after it. Default: cancel as soon as `slow` arrives.
   */
  inFlight?: number;
}

/**
 * Cancels a multi-request call (a page walk, a search across types) while one of its requests is
 * held upstream, and asserts that the call ends with the client's abort, that no request reaches
 * the CRM afterwards (no next page, no other type), and that the server serves on. Returns the
 * requests the call made, for the caller to check which were sent.
 */
export async function expectCancelStopsUpstream(opts: CancelOptions): Promise<RecordedRequest[]> {
  const { client, server } = opts;
  const start = server.requests.length;
  server.inject({ kind: 'delay', ms: 15_000 }, { match: opts.slow });
  const controller = new AbortController();
  const settled = client.callTool({ name: opts.tool, arguments: opts.args }, { signal: controller.signal }).then(
    () => 'answered',
    (e: Error) => e,
  );
  await until(
    () => server.requests.slice(start).some(opts.slow) && server.requests.length - start >= (opts.inFlight ?? 0),
    `the held request of ${opts.tool} to reach the fake`,
  );
  controller.abort();
  const outcome = await settled;
  expect(outcome, `${opts.tool} should end with the client's abort`).toBeInstanceOf(Error);
  const atCancel = server.requests.length;
  // Long enough for any request the server still meant to send (its pages follow each other at
  // once; the held one alone waits) to have reached the fake.
  await new Promise((r) => setTimeout(r, 500));
  await server.settled();
  expect(server.requests.slice(atCancel).map((r) => `${r.method} ${r.rawUrl}`), 'requests after the cancellation').toEqual([]);
  expect((await ok(client, 'list_connections')).s.connections.length).toBeGreaterThan(0);
  return server.requests.slice(start, atCancel);
}
