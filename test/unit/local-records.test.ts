/**
 * The records around a deal in the local CRM: accounts, contacts, users and activities (notes,
 * tasks, calls, meetings), their validation, the refusal sentences for unknown ids, and what the
 * schema itself guarantees (an activity always hangs on a record, deleting a record keeps the
 * activities that hang on another one too).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActivityInput, ContactInput } from '../../src/crm/provider.js';
import type { Db } from '../../src/providers/local/client.js';
import type { LocalProvider } from '../../src/providers/local/index.js';
import { cleanupTempDirs, emptyProvider, expectCrmError, insertPeople, steppingClock } from './local-helpers.js';

let provider: LocalProvider;
let db: Db;
let dealId: string;
let projectId: string;

beforeEach(async () => {
  ({ provider, db } = emptyProvider(steppingClock()));
  insertPeople(db); // users Ann Lee (1), Bob Ray (2); accounts Acme (1), Globex (2)
  await (await provider.pipelines!.create!({ name: 'Sales' }, {})).execute();
  await (await provider.stages!.create!({ pipeline_id: '1', name: 'Lead' }, {})).execute();
  dealId = (await (await provider.deals!.create!({ name: 'Acme pilot', stage_id: '1' }, {})).execute()).id;
  projectId = (await (await provider.projects!.create!({ name: 'Acme rollout' }, {})).execute()).id;
});
afterEach(cleanupTempDirs);

const run = async <T>(p: Promise<{ execute(): Promise<T> }>) => (await p).execute();
const count = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

describe('local accounts', () => {
  it('creates, reads back with the owner name, updates only the fields given, lists by name', async () => {
    const a = await run(provider.accounts!.create!({ name: ' Initech ', domain: 'initech.example', industry: 'Software', owner_id: '2' }, {}));
    expect(a).toMatchObject({ name: 'Initech', domain: 'initech.example', industry: 'Software', owner: { id: '2', name: 'Bob Ray' } });
    const u = await run(provider.accounts!.update!(a.id, { industry: 'Consulting' }, {}));
    expect(u).toMatchObject({ name: 'Initech', domain: 'initech.example', industry: 'Consulting' });
    expect((await provider.accounts!.list!({ limit: 10 }, {})).items.map((x) => x.name)).toEqual(['Acme', 'Globex', 'Initech']);
    expect((await provider.accounts!.list!({ limit: 10, name: 'nit' }, {})).items.map((x) => x.name)).toEqual(['Initech']);
    expect((await provider.accounts!.list!({ limit: 10, owner_id: '2' }, {})).items.map((x) => x.name)).toEqual(['Initech']);
    const first = await provider.accounts!.list!({ limit: 2 }, {});
    const rest = await provider.accounts!.list!({ limit: 2, cursor: first.next_cursor! }, {});
    expect([...first.items, ...rest.items].map((x) => x.name)).toEqual(['Acme', 'Globex', 'Initech']);
  });

  it('refuses unknown owners and accounts with the sentence that names where ids come from', async () => {
    await expectCrmError(
      provider.accounts!.create!({ name: 'X', owner_id: '99' }, {}),
      'not_found',
      "No user with id '99'. Find ids with list_users or search (types: users).",
    );
    await expectCrmError(provider.accounts!.get!('77', {}), 'not_found', "No account with id '77'. Find ids with search (types: accounts) or list_accounts.");
    await expectCrmError(provider.accounts!.update!('1', {}, {}), 'validation', /Nothing to update/);
    expect(count('accounts')).toBe(2);
  });
});

describe('local contacts', () => {
  const create = (input: ContactInput) => run(provider.contacts!.create!(input, {}));

  it('joins first and last name, keeps emails and phones as lists, and filters by email exactly', async () => {
    const c = await create({
      first_name: 'Olivia',
      last_name: 'Rossi',
      emails: ['Olivia@Acme.example', 'olivia@acme.example', 'o.rossi@home.example'],
      phones: ['+1 555 0101'],
      title: 'CFO',
      account_id: '1',
      owner_id: '1',
    });
    // The repeated address (other case) is kept once.
    expect(c).toMatchObject({
      name: 'Olivia Rossi',
      first_name: 'Olivia',
      last_name: 'Rossi',
      emails: ['Olivia@Acme.example', 'o.rossi@home.example'],
      phones: ['+1 555 0101'],
      account: { id: '1', name: 'Acme' },
      owner: { id: '1', name: 'Ann Lee' },
    });
    await create({ last_name: 'Tanaka', emails: ['kenji@globex.example'], account_id: '2' });
    expect((await provider.contacts!.list!({ limit: 10, email: 'OLIVIA@acme.example' }, {})).items.map((x) => x.name)).toEqual(['Olivia Rossi']);
    expect((await provider.contacts!.list!({ limit: 10, email: 'olivia@acme' }, {})).items).toEqual([]);
    expect((await provider.contacts!.list!({ limit: 10, account_id: '2' }, {})).items.map((x) => x.name)).toEqual(['Tanaka']);
    expect((await provider.contacts!.list!({ limit: 10, name: 'ross' }, {})).items.map((x) => x.name)).toEqual(['Olivia Rossi']);
  });

  it('renames with first_name, replaces the email list, keeps what was not given', async () => {
    const c = await create({ first_name: 'Olivia', last_name: 'Rossi', emails: ['a@x.example'], title: 'CFO' });
    const u = await run(provider.contacts!.update!(c.id, { first_name: 'Liv', emails: ['b@x.example'] }, {}));
    expect(u).toMatchObject({ name: 'Liv Rossi', first_name: 'Liv', last_name: 'Rossi', emails: ['b@x.example'], title: 'CFO' });
  });

  it('refuses a contact without a name, bad emails and phones, and unknown accounts', async () => {
    await expectCrmError(create({ title: 'CFO' }), 'validation', 'A new contact needs first_name or last_name (or both).');
    await expectCrmError(create({ last_name: 'X', emails: ['not an email'] }), 'validation', /`emails` must be an email address/);
    await expectCrmError(create({ last_name: 'X', phones: ['call me'] }), 'validation', /`phones` must be a phone number/);
    await expectCrmError(
      create({ last_name: 'X', account_id: '9' }),
      'not_found',
      "No account with id '9'. Find ids with search (types: accounts) or list_accounts.",
    );
    await expectCrmError(
      provider.contacts!.update!('42', { title: 'x' }, {}),
      'not_found',
      "No contact with id '42'. Find ids with search (types: contacts) or list_contacts.",
    );
    expect(count('contacts')).toBe(0);
  });
});

describe('local users', () => {
  it('lists by name, filters by name and exact email, gets one', async () => {
    db.prepare("UPDATE users SET email = 'ann@example.com' WHERE id = 1").run();
    db.prepare('UPDATE users SET active = 0 WHERE id = 2').run();
    expect((await provider.users!.list!({ limit: 10 }, {})).items).toEqual([
      { id: '1', name: 'Ann Lee', email: 'ann@example.com', active: true },
      { id: '2', name: 'Bob Ray', active: false },
    ]);
    expect((await provider.users!.list!({ limit: 10, email: 'ANN@example.com' }, {})).items.map((u) => u.id)).toEqual(['1']);
    expect((await provider.users!.list!({ limit: 10, name: 'ray' }, {})).items.map((u) => u.id)).toEqual(['2']);
    expect(await provider.users!.get!('2', {})).toMatchObject({ name: 'Bob Ray' });
    await expectCrmError(provider.users!.get!('3', {}), 'not_found', "No user with id '3'. Find ids with list_users or search (types: users).");
  });
});

describe('local activities', () => {
  const create = (input: ActivityInput, key?: string) =>
    run(provider.activities!.create!(input, key ? { idempotency_key: key } : {}));

  it('creates notes and tasks on records, with the names of every record they hang on', async () => {
    const note = await create({ type: 'note', body: 'Wants a pilot', deal_id: dealId, account_id: '1', owner_id: '1' });
    expect(note).toMatchObject({
      type: 'note',
      body: 'Wants a pilot',
      deal: { id: dealId, name: 'Acme pilot' },
      account: { id: '1', name: 'Acme' },
      owner: { id: '1', name: 'Ann Lee' },
    });
    expect(note.done).toBeUndefined();
    const task = await create({ type: 'task', subject: 'Send proposal', due_date: '2026-03-10', project_id: projectId });
    expect(task).toMatchObject({ type: 'task', subject: 'Send proposal', due_date: '2026-03-10', done: false, project: { id: projectId } });
  });

  it('completes a task with done: true and reopens it with done: false', async () => {
    const task = await create({ type: 'task', subject: 'Call back', due_date: '2026-03-10', deal_id: dealId });
    expect((await run(provider.activities!.update!(task.id, { done: true }, {}))).done).toBe(true);
    expect((await run(provider.activities!.update!(task.id, { done: false }, {}))).done).toBe(false);
  });

  it('lists newest first, filtered by record, type and done, page by page', async () => {
    const a = await create({ type: 'note', body: 'first', deal_id: dealId });
    const b = await create({ type: 'task', subject: 'second', deal_id: dealId });
    const c = await create({ type: 'call', subject: 'third', account_id: '2', done: true });
    const d = await create({ type: 'task', subject: 'fourth', deal_id: dealId, done: true });
    const ids = async (q: object) => (await provider.activities!.list!({ limit: 10, ...q }, {})).items.map((x) => x.id);
    expect(await ids({})).toEqual([d.id, c.id, b.id, a.id]);
    expect(await ids({ deal_id: dealId })).toEqual([d.id, b.id, a.id]);
    expect(await ids({ account_id: '2' })).toEqual([c.id]);
    expect(await ids({ type: 'task' })).toEqual([d.id, b.id]);
    expect(await ids({ done: false })).toEqual([b.id]);
    expect(await ids({ done: true, deal_id: dealId })).toEqual([d.id]);
    const first = await provider.activities!.list!({ limit: 3 }, {});
    const rest = await provider.activities!.list!({ limit: 3, cursor: first.next_cursor! }, {});
    expect([...first.items, ...rest.items].map((x) => x.id)).toEqual([d.id, c.id, b.id, a.id]);
    expect(rest.next_cursor).toBeNull();
  });

  it('refuses an activity on no record, a note with a due date, and unknown parents, before writing', async () => {
    await expectCrmError(create({ type: 'task', subject: 'Orphan' }), 'validation', /needs at least one of deal_id, account_id, contact_id, project_id/);
    await expectCrmError(create({ type: 'note', body: 'x', due_date: '2026-03-01', deal_id: dealId }), 'validation', /A note has no due_date or done/);
    await expectCrmError(create({ type: 'note', body: 'x', contact_id: '5' }), 'not_found', "No contact with id '5'. Find ids with search (types: contacts) or list_contacts.");
    await expectCrmError(create({ type: 'task', deal_id: '77' }), 'not_found', /No deal with id '77'/);
    await expectCrmError(create({ type: 'fax' as never, deal_id: dealId }), 'validation', '`type` must be one of: note, task, call, meeting, email.');
    await expectCrmError(create({ type: 'task', deal_id: dealId, due_date: '2026-02-30' }), 'validation', /`due_date` must be a calendar date/);
    await expectCrmError(
      provider.activities!.update!('404', { done: true }, {}),
      'not_found',
      "No activity with id '404'. Find ids with list_activities.",
    );
    expect(count('activities')).toBe(0);
  });

  it('a note stays a note: no done on update; turning a task into a note drops its due date', async () => {
    const note = await create({ type: 'note', body: 'x', deal_id: dealId });
    await expectCrmError(provider.activities!.update!(note.id, { done: true }, {}), 'validation', /A note has no due_date or done/);
    const task = await create({ type: 'task', subject: 'y', due_date: '2026-03-01', deal_id: dealId });
    const asNote = await run(provider.activities!.update!(task.id, { type: 'note' }, {}));
    expect(asNote).toMatchObject({ type: 'note' });
    expect(asNote.due_date).toBeUndefined();
    expect(asNote.done).toBeUndefined();
  });

  it('a repeated idempotency_key creates one activity', async () => {
    const first = await create({ type: 'note', body: 'once', deal_id: dealId }, 'meeting-1');
    const again = await create({ type: 'note', body: 'once', deal_id: dealId }, 'meeting-1');
    expect(again.id).toBe(first.id);
    expect(count('activities')).toBe(1);
  });

  it('the schema itself refuses an activity on no record', () => {
    expect(() =>
      db.prepare("INSERT INTO activities (type, created_at, updated_at) VALUES ('note', 'x', 'x')").run(),
    ).toThrow(/CHECK constraint failed/);
  });

  it('deleting a project takes its own activities along and keeps those that hang on another record', async () => {
    const only = await create({ type: 'note', body: 'project only', project_id: projectId });
    const shared = await create({ type: 'note', body: 'project and account', project_id: projectId, account_id: '1' });
    await run(provider.projects!.delete!(projectId, {}));
    await expectCrmError(provider.activities!.get!(only.id, {}), 'not_found');
    const kept = await provider.activities!.get!(shared.id, {});
    expect(kept.project).toBeUndefined();
    expect(kept.account).toEqual({ id: '1', name: 'Acme' });
  });
});

describe('local deals by account', () => {
  it('list_deals filters by account_id and refuses an unknown one with the shared sentence', async () => {
    await run(provider.deals!.create!({ name: 'Globex renewal', stage_id: '1', account_id: '2' }, {}));
    expect((await provider.deals!.list!({ limit: 10, account_id: '2' }, {})).items.map((d) => d.name)).toEqual(['Globex renewal']);
    await expectCrmError(
      provider.deals!.list!({ limit: 10, account_id: '8' }, {}),
      'not_found',
      "No account with id '8'. Find ids with search (types: accounts) or list_accounts.",
    );
  });
});
