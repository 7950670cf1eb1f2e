/**
 * Truto provider contract for the records around a deal: accounts, contacts, users, activities
 * (notes, tasks, engagements) and search, through the real provider and HTTP client against the
 * stateful fake Truto on 127.0.0.1. Per operation the exact method, path, query (with
 * integrated_account_id) and body, the Idempotency-Key on writes, the mapping both ways, scans
 * for filters checked locally, reference checks before writes, progress and cancellation.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrmError, isCrmError } from '../../src/crm/errors.js';
import { closeAllPools } from '../../src/crm/http.js';
import { Account, Activity, Contact, User } from '../../src/crm/model.js';
import type { CrmProvider, PreparedWrite } from '../../src/crm/provider.js';
import { createTrutoProvider, type TrutoIntegration } from '../../src/providers/truto/index.js';
import { FAKE_TRUTO_ACCOUNT, FAKE_TRUTO_TOKEN, startFakeTruto, type FakeTruto, type Rec } from '../fakes/truto.js';

let fake: FakeTruto;
beforeEach(async () => {
  fake = await startFakeTruto();
});
afterEach(async () => {
  await fake.stop();
});
afterAll(async () => {
  await closeAllPools();
});

function truto(integration?: TrutoIntegration): CrmProvider {
  return createTrutoProvider({ apiToken: FAKE_TRUTO_TOKEN, integratedAccountId: FAKE_TRUTO_ACCOUNT, baseUrl: fake.url, integration, http: { retryBaseMs: 0 } });
}

const ACCOUNT_Q = `integrated_account_id=${FAKE_TRUTO_ACCOUNT}`;
const LEAN = `${ACCOUNT_Q}&truto_ignore_remote_data=true`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const sent = () => fake.server.requests.map((r) => `${r.method} ${decodeURIComponent(r.rawUrl)}`);

async function failure(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    if (!isCrmError(e)) throw e;
    expect(e.message).not.toContain(FAKE_TRUTO_TOKEN);
    return e;
  }
  throw new Error('expected a CrmError');
}

/** Sends a prepared write and returns what it resolved to. */
const run = <T>(w: PreparedWrite<T>) => w.execute();

// ---------------------------------------------------------------------------------------------

describe('accounts', () => {
  it('lists one page with Truto query options; maps website to domain', async () => {
    const page = await truto().accounts!.list!({ limit: 3 }, {});
    expect(sent()).toEqual([`GET /unified/crm/accounts?${decodeURIComponent(LEAN)}&limit=3`]);
    expect(page.next_cursor).toEqual(expect.any(String));
    expect(page.items).toEqual([
      { id: 'a1', name: 'Acme Corp', domain: 'acmecorp.example', industry: 'Manufacturing', owner: { id: 'u1', name: 'Ada Lovelace' }, created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T05:00:00.000Z' },
      { id: 'a2', name: 'Globex', domain: 'globex.example', industry: 'Software', owner: { id: 'u2', name: 'Grace Hopper' }, created_at: '2026-01-01T01:00:00.000Z', updated_at: '2026-01-01T06:00:00.000Z' },
      { id: 'a3', name: 'Initech', domain: 'initech.example', industry: 'Finance', owner: { id: 'u3', name: 'Alan Turing' }, created_at: '2026-01-01T02:00:00.000Z', updated_at: '2026-01-01T07:00:00.000Z' },
    ]);
    for (const a of page.items) Account.parse(a);
  });

  it('a name filter scans pages (contains, any case) until enough match, and resumes where it stopped', async () => {
    fake.state.maxLimit = 4; // Truto pages of 4 records: the scan reads several
    const p = truto();
    const first = await p.accounts!.list!({ name: 'acme', limit: 2 }, {});
    expect(first.items.map((a) => a.name)).toEqual(['Acme Corp', 'Acme Logistics']);
    // Page 1 (a1-a4) has one Acme, page 2 (a5-a8) the second: the scan stops there.
    expect(fake.server.requests).toHaveLength(2);
    for (const r of fake.server.requests) expect(r.query).toMatchObject({ integrated_account_id: FAKE_TRUTO_ACCOUNT, limit: '100' });
    expect(fake.server.requests[0].query.name).toBeUndefined();
    expect(first.next_cursor).toEqual(expect.any(String));
    const rest = await p.accounts!.list!({ name: 'acme', limit: 2, cursor: first.next_cursor! }, {});
    expect(rest.items.map((a) => a.name)).toEqual(['Acme Labs']);
    expect(rest.next_cursor).toBeNull();
  });

  it('reports progress per page of a scan and sends no further page once cancelled', async () => {
    fake.state.maxLimit = 2;
    const steps: Array<[number, string | undefined]> = [];
    await truto().accounts!.list!({ name: 'zzz', limit: 5 }, { onProgress: (done, _total, message) => void steps.push([done, message]) });
    expect(steps).toEqual([1, 2, 3, 4, 5].map((n) => [n, `read ${n} page${n === 1 ? '' : 's'} of accounts`]));

    fake.server.reset();
    const controller = new AbortController();
    const cancelling = truto().accounts!.list!(
      { name: 'zzz', limit: 5 },
      { signal: controller.signal, onProgress: () => controller.abort() },
    );
    expect((await failure(cancelling)).kind).toBe('cancelled');
    expect(fake.server.requests).toHaveLength(1);
  });

  it('creates and updates with the exact request, reading the owner first; Idempotency-Key as given', async () => {
    const p = truto();
    const w = await p.accounts!.create!({ name: 'Pilot Co', domain: 'pilot.example', industry: 'Aviation', owner_id: 'u4' }, { idempotency_key: 'k-1' });
    expect(w.request).toEqual({
      method: 'POST',
      path: `/unified/crm/accounts?${LEAN}`,
      body: { name: 'Pilot Co', website: 'pilot.example', industry: 'Aviation', owner: { id: 'u4' } },
      headers: { 'Idempotency-Key': 'k-1' },
    });
    expect(fake.server.requests).toHaveLength(0);
    const account = await run(w);
    expect(sent()).toEqual([`GET /unified/crm/users/u4?${decodeURIComponent(LEAN)}`, `POST /unified/crm/accounts?${decodeURIComponent(LEAN)}`]);
    expect(fake.server.requests[1].headers['idempotency-key']).toBe('k-1');
    expect(fake.server.requests[1].body).toEqual(w.request.body);
    expect(account).toMatchObject({ name: 'Pilot Co', domain: 'pilot.example', owner: { id: 'u4', name: 'Ana Patel' } });

    fake.server.reset();
    const u = await p.accounts!.update!(account.id, { industry: 'Defence' }, {});
    expect(u.request).toEqual({ method: 'PATCH', path: `/unified/crm/accounts/${account.id}?${LEAN}`, body: { industry: 'Defence' } });
    expect((await run(u)).industry).toBe('Defence');
    expect(fake.server.requests.map((r) => r.method)).toEqual(['PATCH']);
    expect(fake.server.requests[0].headers['idempotency-key']).toMatch(UUID);
  });

  it('an unknown owner is the shared sentence and nothing is written; a 404 on get names list_accounts', async () => {
    const p = truto();
    const e = await failure(run(await p.accounts!.create!({ name: 'Ghost', owner_id: 'u99' }, {})));
    expect(e.message).toBe("No user with id 'u99'. Find ids with list_users or search (types: users).");
    expect(fake.server.requests.map((r) => r.method)).toEqual(['GET']);
    const nf = await failure(p.accounts!.get!('a404', {}));
    expect(nf.message).toMatch(/^No account with id 'a404'\. .* Call list_accounts to see valid ids\.$/);
  });

  it('a reference Truto cannot read by id for this integration does not block the write', async () => {
    fake.server.inject(
      { kind: 'status', status: 405, body: { statusCode: 405, error: 'Method Not Allowed', message: 'get is not supported' } },
      { match: (r) => r.path === '/unified/crm/users/u4' },
    );
    const account = await run(await truto().accounts!.create!({ name: 'Still written', owner_id: 'u4' }, {}));
    expect(account.name).toBe('Still written');
    expect(fake.server.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /unified/crm/users/u4', 'POST /unified/crm/accounts']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('contacts and users', () => {
  it('maps a contact both ways: email_addresses and phone_numbers are lists', async () => {
    const p = truto();
    const c = await p.contacts!.get!('c2', { include_remote_data: true });
    expect(c).toEqual({
      id: 'c2',
      name: 'Chen Wei',
      first_name: 'Chen',
      last_name: 'Wei',
      emails: ['chen@initech.example'],
      phones: ['+1 555 0102'],
      title: 'CFO',
      account: { id: 'a3', name: 'Initech' },
      owner: { id: 'u3', name: 'Alan Turing' },
      created_at: '2026-01-01T02:00:00.000Z',
      updated_at: '2026-01-01T05:00:00.000Z',
      remote_data: { id: 'c2', firstName: 'Chen', lastName: 'Wei' },
    });
    Contact.parse(c);
    fake.server.reset();
    const w = await p.contacts!.create!({ first_name: 'Rosa', emails: ['a@x.example', 'b@x.example'], phones: ['+1 555'], account_id: 'a2', owner_id: 'u1' }, {});
    expect(w.request.body).toEqual({
      first_name: 'Rosa',
      email_addresses: [{ email: 'a@x.example' }, { email: 'b@x.example' }],
      phone_numbers: [{ number: '+1 555' }],
      account: { id: 'a2' },
      owner: { id: 'u1' },
    });
    const made = await run(w);
    expect(sent().slice(0, 2).sort()).toEqual([`GET /unified/crm/accounts/a2?${decodeURIComponent(LEAN)}`, `GET /unified/crm/users/u1?${decodeURIComponent(LEAN)}`]);
    expect(made).toMatchObject({ name: 'Rosa', emails: ['a@x.example', 'b@x.example'], account: { id: 'a2', name: 'Globex' } });
  });

  it('lists contacts by account and owner (sent as account[id], owner[id], and checked), by email here', async () => {
    const p = truto();
    const page = await p.contacts!.list!({ account_id: 'a1', owner_id: 'u1', limit: 10 }, {});
    expect(fake.server.requests[0].query).toEqual({
      integrated_account_id: FAKE_TRUTO_ACCOUNT,
      account: { id: 'a1' },
      owner: { id: 'u1' },
      truto_ignore_remote_data: 'true',
      limit: '100',
    });
    expect(page.items.map((c) => c.id)).toEqual(['c0']);
    const byEmail = await p.contacts!.list!({ email: 'TOM@ACMECORP.example', limit: 10 }, {});
    expect(byEmail.items.map((c) => c.name)).toEqual(['Tom Baker']);
  });

  it('lists and reads users; email is sent, names are matched here', async () => {
    const p = truto();
    const all = await p.users!.list!({ limit: 50 }, {});
    expect(all.items.map((u) => u.id)).toEqual(['u1', 'u2', 'u3', 'u4', 'u5']);
    for (const u of all.items) User.parse(u);
    expect(await p.users!.get!('u3', {})).toEqual({ id: 'u3', name: 'Alan Turing', email: 'alan@example.com', active: false });
    fake.server.reset();
    const ana = await p.users!.list!({ name: 'PATEL', limit: 5 }, {});
    expect(ana.items.map((u) => u.name)).toEqual(['Ana Patel']);
    expect(fake.server.requests[0].query.name).toBeUndefined();
    fake.server.reset();
    await p.users!.list!({ email: 'ben@example.com', limit: 5 }, {});
    expect(fake.server.requests[0].query.email).toBe('ben@example.com');
    expect(p.users!.create).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------

describe('activities', () => {
  it('maps a note, a task and an engagement, each id naming its resource', async () => {
    const p = truto();
    const note = await p.activities!.get!('note:n1', {});
    expect(note).toEqual({
      id: 'note:n1',
      type: 'note',
      subject: 'Kick-off',
      body: 'Acme wants a pilot in Q2.',
      owner: { id: 'u1' },
      deal: { id: '100', name: 'Deal 1 - Acme Corp' },
      account: { id: 'a1', name: 'Acme Corp' },
      contact: { id: 'c0' },
      created_at: '2026-01-05T04:00:00.000Z',
      updated_at: '2026-01-05T05:00:00.000Z',
    });
    const task = await p.activities!.get!('task:t2', {});
    expect(task).toMatchObject({ id: 'task:t2', type: 'task', subject: 'Book demo', due_date: '2026-01-10', done: true });
    const call = await p.activities!.get!('engagement:e1', {});
    expect(call).toMatchObject({ id: 'engagement:e1', type: 'call', due_date: '2026-01-05', contact: { id: 'c0' } });
    expect(call.done).toBeUndefined();
    for (const a of [note, task, call]) Activity.parse(a);
    expect(sent()).toEqual(['notes/n1', 'tasks/t2', 'engagements/e1'].map((x) => `GET /unified/crm/${x}?${decodeURIComponent(LEAN)}`));
  });

  it('lists on a deal: one walk per resource with opportunity[id], merged newest first; progress goes up across them', async () => {
    const steps: number[] = [];
    const page = await truto().activities!.list!({ deal_id: '100', limit: 10 }, { onProgress: (n) => void steps.push(n) });
    expect(page.items.map((a) => a.id)).toEqual(['task:t2', 'engagement:e1', 'task:t1', 'note:n1']);
    expect(page.next_cursor).toBeNull();
    expect(page.incomplete).toBeUndefined();
    expect(fake.server.requests.map((r) => r.path).sort()).toEqual(['/unified/crm/engagements', '/unified/crm/notes', '/unified/crm/tasks']);
    for (const r of fake.server.requests) expect(r.query).toMatchObject({ opportunity: { id: '100' }, limit: '100' });
    expect(steps).toEqual([1, 2, 3]);
  });

  it('keeps only what hangs on the record asked for, even when Truto ignores the filter', async () => {
    // A CRM that ignores opportunity[id]: the fake answers every note.
    fake.server.inject(
      {
        kind: 'status',
        status: 200,
        body: { result: [...fake.state.records.notes.values()], next_cursor: null, prev_cursor: null, result_count: 3, is_partial_response: false },
      },
      { match: (r) => r.path === '/unified/crm/notes' },
    );
    const page = await truto().activities!.list!({ deal_id: '101', type: 'note', limit: 10 }, {});
    expect(page.items.map((a) => a.id)).toEqual(['note:n2']);
  });

  it('a resource Truto does not serve for an account without a named integration is said, not hidden', async () => {
    fake.state.unsupported.add('engagements');
    const page = await truto().activities!.list!({ deal_id: '100', limit: 10 }, {});
    expect(page.items.map((a) => a.id)).toEqual(['task:t2', 'task:t1', 'note:n1']);
    expect(page.incomplete).toBe('Truto serves no engagements for this account, so its calls and meetings are not listed.');
    // With the integration named, the same answer is an error: its docs say it has engagements.
    const e = await failure(truto('capsule').activities!.list!({ deal_id: '100', limit: 10 }, {}));
    expect(e.kind).toBe('not_found');
  });

  it('creates a task: exact POST to tasks with Idempotency-Key, references read first; a repeat is replayed', async () => {
    const p = truto();
    const input = { type: 'task' as const, subject: 'Call back', due_date: '2030-01-02', done: false, deal_id: '100', account_id: 'a1', owner_id: 'u4' };
    const w = await p.activities!.create!(input, { idempotency_key: 'task-1' });
    expect(w.request).toEqual({
      method: 'POST',
      path: `/unified/crm/tasks?${LEAN}`,
      body: { subject: 'Call back', due_date: '2030-01-02', status: 'open', owner: { id: 'u4' }, account: { id: 'a1' }, opportunity: [{ id: '100' }] },
      headers: { 'Idempotency-Key': 'task-1' },
    });
    const task = await run(w);
    expect(sent().slice(0, 3).sort()).toEqual(
      ['accounts/a1', 'opportunities/100', 'users/u4'].map((x) => `GET /unified/crm/${x}?${decodeURIComponent(LEAN)}`),
    );
    expect(sent()[3]).toBe(`POST /unified/crm/tasks?${decodeURIComponent(LEAN)}`);
    expect(task).toMatchObject({ type: 'task', subject: 'Call back', due_date: '2030-01-02', done: false, owner: { id: 'u4', name: 'Ana Patel' } });
    const again = await run(await p.activities!.create!(input, { idempotency_key: 'task-1' }));
    expect(again.id).toBe(task.id);
    expect(fake.state.records.tasks.size).toBe(4);
  });

  it('a write answered with only an id is read back (notes have no name to tell a whole record)', async () => {
    fake.state.partialWrites.add('notes');
    const note = await run(await truto().activities!.create!({ type: 'note', body: 'Short answer', account_id: 'a2' }, {}));
    expect(note).toMatchObject({ type: 'note', body: 'Short answer', account: { id: 'a2', name: 'Globex' } });
    expect(sent().slice(-2).map((l) => l.split('?')[0])).toEqual(['POST /unified/crm/notes', `GET /unified/crm/notes/${note.id.slice(5)}`]);
  });

  it('updates: done maps to the task status; an engagement takes a new type and start', async () => {
    const p = truto();
    const done = await p.activities!.update!('task:t1', { done: true }, {});
    expect(done.request).toEqual({ method: 'PATCH', path: `/unified/crm/tasks/t1?${LEAN}`, body: { status: 'completed' } });
    expect(await run(done)).toMatchObject({ id: 'task:t1', done: true });
    const reopened = await run(await p.activities!.update!('task:t1', { done: false, subject: 'Again' }, {}));
    expect(reopened).toMatchObject({ done: false, subject: 'Again' });
    const moved = await p.activities!.update!('engagement:e1', { type: 'meeting', due_date: '2030-05-05', body: 'Moved' }, {});
    expect(moved.request.body).toEqual({ engagement_type: 'meeting', content: 'Moved', start_time: '2030-05-05' });
    expect(await run(moved)).toMatchObject({ type: 'meeting', due_date: '2030-05-05', body: 'Moved' });
  });

  it('refuses before sending: a note with a due date, a project on a task, a change of resource, an empty update', async () => {
    const p = truto();
    const cases: Array<[Promise<unknown>, RegExp]> = [
      [p.activities!.update!('note:n1', { done: true }, {}), /^A note has no done: add a task/],
      [p.activities!.create!({ type: 'task', subject: 'x', project_id: 'pr-001' }, {}), /notes and tasks cannot hang on a project/],
      [p.activities!.update!('task:t1', { type: 'call' }, {}), /^Activity task:t1 is one of Truto's tasks, which cannot become a call/],
      [p.activities!.update!('task:t1', { type: 'task' }, {}), /^Nothing to update/],
      [p.activities!.get!('lead:1', {}), /^No activity with id 'lead:1': Truto activity ids look like/],
    ];
    for (const [promise, message] of cases) expect((await failure(promise)).message).toMatch(message);
    expect(fake.server.requests).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('search and list_deals by account', () => {
  it('searches projects with search_term; hits carry status and account', async () => {
    const answer = await truto('capsule').search!({ query: 'Project 2', types: ['projects'], limit: 3 }, {});
    expect(fake.server.requests[0].query).toEqual({
      integrated_account_id: FAKE_TRUTO_ACCOUNT,
      search_term: 'Project 2',
      truto_ignore_remote_data: 'true',
      limit: '3',
    });
    expect(answer.hits[0]).toEqual({ type: 'projects', id: 'pr-002', name: 'Project 2', status: 'closed', account: { id: 'a2', name: 'Globex' } });
    expect(answer.hits.every((h) => h.name.includes('Project 2'))).toBe(true);
    expect(answer.unsupported).toBeUndefined();
  });

  it('a CRM that ignores search_term (records that do not match) is reported as no search, without hits', async () => {
    fake.server.inject(
      {
        kind: 'status',
        status: 200,
        body: { result: [{ id: 'x1', name: 'Something else' }], next_cursor: 'more', prev_cursor: null, result_count: 1, is_partial_response: false },
      },
      { match: (r) => r.path === '/unified/crm/projects' },
    );
    const answer = await truto().search!({ query: 'Acme', types: ['projects'], limit: 5 }, {});
    expect(answer).toEqual({ hits: [], unsupported: ['projects'] });
  });

  it('declares search only where Truto documents search_term', () => {
    expect(truto().capabilities.search).toEqual(['projects']);
    expect(truto('capsule').capabilities.search).toEqual(['projects']);
    for (const i of ['insightly', 'pipeliner', 'planhat', 'teamleader'] as const) {
      expect(truto(i).capabilities.search, i).toEqual([]);
      expect(truto(i).search, i).toBeUndefined();
    }
  });

  it('list_deals by account sends account[id] and keeps only that account’s deals', async () => {
    fake.server.inject(
      {
        kind: 'status',
        status: 200,
        body: { result: [...fake.state.records.opportunities.values()].slice(0, 8), next_cursor: null, prev_cursor: null, result_count: 8, is_partial_response: false },
      },
      { match: (r) => r.path === '/unified/crm/opportunities' },
    );
    const page = await truto().deals!.list!({ account_id: 'a3', limit: 10 }, {});
    expect(fake.server.requests[0].query.account).toEqual({ id: 'a3' });
    expect(page.items.map((d) => d.id)).toEqual(['102', '106']);
    for (const d of page.items) expect(d.account?.id).toBe('a3');
  });
});

// ---------------------------------------------------------------------------------------------

describe('capabilities per integration', () => {
  it('follow the coverage Truto documents', () => {
    const types = (i?: TrutoIntegration) => {
      const a = truto(i).capabilities.activities;
      return { create: a?.create?.enums?.type ?? [], update: a?.update?.enums?.type ?? [], filters: a?.filters };
    };
    expect(types()).toEqual({
      create: ['note', 'task', 'call', 'meeting', 'email'],
      update: ['note', 'task', 'call', 'meeting', 'email'],
      filters: ['deal_id', 'account_id', 'contact_id', 'project_id', 'type', 'done'],
    });
    expect(types('capsule')).toMatchObject({ create: ['note', 'task', 'call', 'meeting'] });
    expect(types('insightly')).toEqual({ create: [], update: ['note', 'task'], filters: ['deal_id', 'account_id', 'contact_id', 'type', 'done'] });
    expect(types('pipeliner')).toMatchObject({ create: ['note'], update: ['note'], filters: ['deal_id', 'account_id', 'contact_id', 'project_id', 'type'] });
    expect(types('planhat')).toMatchObject({ create: ['note', 'call', 'meeting', 'email'], update: ['note', 'task', 'call', 'meeting', 'email'] });
    expect(types('teamleader')).toMatchObject({ create: [], update: ['task'] });
    // Only notes is creatable on Pipeliner: no due date, done or project in its create.
    expect(truto('pipeliner').capabilities.activities?.create?.supported).toEqual(['type', 'subject', 'body', 'owner_id', 'deal_id', 'account_id', 'contact_id']);
    expect(truto('insightly').capabilities.activities?.create).toBeUndefined();
  });

  it('refuses a resource the integration does not have, naming what it is', async () => {
    const e = await failure(truto('teamleader').activities!.get!('note:n1', {}));
    expect(e.message).toBe('Truto (Teamleader) serves no notes for this account.');
    const u = await failure(truto('pipeliner').activities!.update!('engagement:e1', { subject: 'x' }, {}));
    expect(u.message).toBe('Truto (Pipeliner) does not support updating calls and meetings; list_connections shows what this connection supports.');
    expect(fake.server.requests).toHaveLength(0);
  });
});

it('the fake keeps seeded links consistent (a test of the fixtures the suites rely on)', () => {
  const contacts = [...fake.state.records.contacts.values()] as Rec[];
  expect(contacts.map((c) => c.id)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
  for (const c of contacts) expect(fake.state.records.accounts.has((c.account as Rec).id)).toBe(true);
});
