/**
 * Outreach <-> unified mapping of the records around a deal (src/providers/outreach/map.ts), alone:
 * accounts, prospects as contacts (every phone list), users (locked -> inactive), the four kinds
 * of activity with their ids, parents and owners, and the request bodies of writes with every
 * refusal of what Outreach cannot hold.
 */
import { describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import {
  activityCreate,
  activityUpdate,
  fromAccountInput,
  fromContactInput,
  includedOf,
  parseActivityId,
  pointerField,
  toAccount,
  toActivity,
  toContact,
  toUser,
  type Resource,
} from '../../src/providers/outreach/map.js';

function thrown(f: () => unknown): CrmError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CrmError);
    return e as CrmError;
  }
  throw new Error('expected a CrmError');
}

const names = includedOf([
  { type: 'user', id: 1, attributes: { name: 'Ana Silva' } },
  { type: 'user', id: 2, attributes: { firstName: 'Ben', lastName: 'Okafor' } },
  { type: 'account', id: 7, attributes: { name: 'Acme Corp' } },
  { type: 'prospect', id: 3, attributes: { name: 'Maria Nguyen' } },
  { type: 'opportunity', id: 5, attributes: { name: 'Acme pilot' } },
] as Resource[]);
const rel = (type: string, id: number | null) => ({ data: id === null ? null : { type, id } });

describe('accounts, contacts and users', () => {
  it('an account with its owner name; remote_data only when asked', () => {
    const raw = { type: 'account', id: 7, attributes: { name: 'Acme Corp', domain: 'acme.example', industry: null, createdAt: '2026-01-05T09:00:00.000Z' }, relationships: { owner: rel('user', 1) } };
    expect(toAccount(raw, names)).toEqual({ id: '7', name: 'Acme Corp', domain: 'acme.example', owner: { id: '1', name: 'Ana Silva' }, created_at: '2026-01-05T09:00:00.000Z' });
    expect(toAccount(raw, names, { remote: true }).remote_data).toMatchObject({ type: 'account', id: 7 });
    expect(toAccount({ ...raw, relationships: { owner: rel('user', 9) } }, names).owner).toEqual({ id: '9' });
  });

  it('a prospect as a contact: its name (or first and last), emails, every phone list once, account and owner', () => {
    const c = toContact(
      {
        type: 'prospect',
        id: 3,
        attributes: {
          firstName: 'Maria',
          lastName: 'Nguyen',
          emails: ['maria@acme.example'],
          workPhones: ['+1 1', '+1 2'],
          mobilePhones: ['+1 3', '+1 1'],
          homePhones: null,
          title: 'CTO',
        },
        relationships: { account: rel('account', 7), owner: rel('user', 2) },
      },
      names,
    );
    expect(c).toEqual({
      id: '3',
      name: 'Maria Nguyen',
      first_name: 'Maria',
      last_name: 'Nguyen',
      emails: ['maria@acme.example'],
      phones: ['+1 3', '+1 1', '+1 2'],
      title: 'CTO',
      account: { id: '7', name: 'Acme Corp' },
      owner: { id: '2', name: 'Ben Okafor' },
    });
    expect(toContact({ type: 'prospect', id: 4, attributes: { name: 'Full Name', emails: [] } }, names)).toEqual({ id: '4', name: 'Full Name' });
  });

  it('a user: active unless locked', () => {
    expect(toUser({ type: 'user', id: 1, attributes: { name: 'Ana Silva', email: 'ana@example.com', locked: false } })).toEqual({ id: '1', name: 'Ana Silva', email: 'ana@example.com', active: true });
    expect(toUser({ type: 'user', id: 4, attributes: { firstName: 'Dmitri', lastName: 'Volkov', locked: true } })).toEqual({ id: '4', name: 'Dmitri Volkov', active: false });
    expect(toUser({ type: 'user', id: 5, attributes: { name: 'X' } })).toEqual({ id: '5', name: 'X' });
  });

  it('account bodies: named on a create, the owner as a relationship; only what was given', () => {
    expect(fromAccountInput({ name: 'Tyrell', owner_id: '3' }, 'create')).toEqual({
      attributes: { name: 'Tyrell', named: true },
      relationships: { owner: { data: { type: 'user', id: 3 } } },
    });
    expect(fromAccountInput({ domain: 'tyrell.example' }, 'update')).toEqual({ attributes: { domain: 'tyrell.example' }, relationships: {} });
    expect(thrown(() => fromAccountInput({ owner_id: 'ana' }, 'update')).message).toBe("'ana' is not an Outreach user id (they are positive whole numbers). Call list_users to see valid user ids.");
  });

  it('contact bodies: phones as work phones; an update empties the other lists (the unified list is replaced whole)', () => {
    expect(fromContactInput({ first_name: 'R', emails: ['r@t.example'], phones: ['+1 9'], account_id: '7' }, 'create')).toEqual({
      attributes: { firstName: 'R', emails: ['r@t.example'], workPhones: ['+1 9'] },
      relationships: { account: { data: { type: 'account', id: 7 } } },
    });
    expect(fromContactInput({ phones: ['+1 9'] }, 'update').attributes).toEqual({ mobilePhones: [], workPhones: ['+1 9'], homePhones: [], otherPhones: [], voipPhones: [] });
    expect(fromContactInput({ title: 'CEO' }, 'update').attributes).toEqual({ title: 'CEO' });
  });
});

describe('activities', () => {
  it('ids name their collection: t, c, an, pn; anything else is refused naming the forms', () => {
    expect(parseActivityId('t12')).toEqual({ kind: 'task', id: 12 });
    expect(parseActivityId(' C3 ')).toEqual({ kind: 'call', id: 3 });
    expect(parseActivityId('an1')).toEqual({ kind: 'accountNote', id: 1 });
    expect(parseActivityId('pn40')).toEqual({ kind: 'prospectNote', id: 40 });
    for (const bad of ['12', 'x1', 't0', 'n1', 't1.5', 'an']) expect(thrown(() => parseActivityId(bad)).message, bad).toMatch(/is not an Outreach activity id here: they are 't' \+ the id for a task \(t12\)/);
  });

  it('a task: its note as body, dueAt as a date, done from its state, its subject and read-only parents named', () => {
    const task = {
      type: 'task',
      id: 9,
      attributes: { note: 'Send pricing', dueAt: '2026-12-01T00:00:00.000Z', state: 'incomplete', createdAt: '2026-11-01T10:00:00.000Z', updatedAt: '2026-11-02T10:00:00.000Z' },
      relationships: { owner: rel('user', 1), subject: rel('opportunity', 5), opportunity: rel('opportunity', 5), account: rel('account', null), prospect: rel('prospect', null) },
    };
    expect(toActivity('task', task, names)).toEqual({
      id: 't9',
      type: 'task',
      body: 'Send pricing',
      due_date: '2026-12-01',
      done: false,
      owner: { id: '1', name: 'Ana Silva' },
      deal: { id: '5', name: 'Acme pilot' },
      created_at: '2026-11-01T10:00:00.000Z',
      updated_at: '2026-11-02T10:00:00.000Z',
    });
    // Only a subject (sparse answers): the parent still shows; a completed task is done.
    const bare = { type: 'task', id: 10, attributes: { state: 'complete' }, relationships: { subject: rel('prospect', 3) } };
    expect(toActivity('task', bare, names)).toEqual({ id: 't10', type: 'task', done: true, contact: { id: '3', name: 'Maria Nguyen' } });
  });

  it('a call is done, owned by its user, on its prospect and opportunity (an account only through associatedId)', () => {
    const call = { type: 'call', id: 2, attributes: { note: 'Talked', outcome: 'Answered' }, relationships: { user: rel('user', 2), prospect: rel('prospect', 3), opportunity: rel('opportunity', null), associatedId: rel('account', 7) } };
    expect(toActivity('call', call, names)).toEqual({ id: 'c2', type: 'call', body: 'Talked', done: true, owner: { id: '2', name: 'Ben Okafor' }, account: { id: '7', name: 'Acme Corp' }, contact: { id: '3', name: 'Maria Nguyen' } });
  });

  it('notes: message as body, never done, the creator as owner, the record they are on, an opportunity Outreach linked', () => {
    const an = { type: 'accountNote', id: 1, attributes: { message: 'Wants a pilot', createdAt: '2026-11-03T00:00:00.000Z' }, relationships: { account: rel('account', 7), creator: rel('user', 1), opportunity: rel('opportunity', 5) } };
    expect(toActivity('accountNote', an, names)).toEqual({
      id: 'an1',
      type: 'note',
      body: 'Wants a pilot',
      owner: { id: '1', name: 'Ana Silva' },
      deal: { id: '5', name: 'Acme pilot' },
      account: { id: '7', name: 'Acme Corp' },
      created_at: '2026-11-03T00:00:00.000Z',
    });
    const pn = { type: 'prospectNote', id: 4, attributes: { message: 'x' }, relationships: { prospect: rel('prospect', 3) } };
    expect(toActivity('prospectNote', pn, names)).toEqual({ id: 'pn4', type: 'note', body: 'x', contact: { id: '3', name: 'Maria Nguyen' } });
  });

  it('creates: a task with its one subject and action_item, a call with prospect, opportunity and user, notes per record', () => {
    expect(activityCreate({ type: 'task', body: 'b', due_date: '2026-12-01', account_id: '7', owner_id: '2' })).toEqual({
      kind: 'task',
      body: {
        attributes: { action: 'action_item', note: 'b', dueAt: '2026-12-01T00:00:00.000Z' },
        relationships: { owner: { data: { type: 'user', id: 2 } }, subject: { data: { type: 'account', id: 7 } } },
      },
      complete: false,
    });
    expect(activityCreate({ type: 'task', contact_id: '3', done: true })).toMatchObject({ kind: 'task', complete: true, body: { relationships: { subject: { data: { type: 'prospect', id: 3 } } } } });
    expect(activityCreate({ type: 'call', body: 'c', contact_id: '3', deal_id: '5', owner_id: '1', done: true })).toEqual({
      kind: 'call',
      body: {
        attributes: { note: 'c' },
        relationships: { prospect: { data: { type: 'prospect', id: 3 } }, opportunity: { data: { type: 'opportunity', id: 5 } }, user: { data: { type: 'user', id: 1 } } },
      },
      complete: false,
    });
    expect(activityCreate({ type: 'note', body: 'n', account_id: '7' })).toEqual({
      kind: 'accountNote',
      body: { attributes: { message: 'n', noteType: 'note' }, relationships: { account: { data: { type: 'account', id: 7 } } } },
      complete: false,
    });
    expect(activityCreate({ type: 'note', body: 'n', contact_id: '3' }).kind).toBe('prospectNote');
  });

  it('creates refuse what Outreach cannot hold, in one sentence', () => {
    const cases: Array<[Parameters<typeof activityCreate>[0], RegExp]> = [
      [{ type: 'task', deal_id: '5', account_id: '7' }, /^An Outreach task has one subject: give only one of deal_id, account_id and contact_id, not deal_id and account_id\.$/],
      [{ type: 'call', account_id: '7' }, /not on an account: give contact_id or deal_id\.$/],
      [{ type: 'call', contact_id: '3', done: false }, /^An Outreach call is logged once it happened/],
      [{ type: 'call', contact_id: '3', due_date: '2026-12-01' }, /^An Outreach call is logged once it happened/],
      [{ type: 'note', body: 'n', deal_id: '5' }, /^Outreach hangs a note on an account \(account_id\) or a prospect \(contact_id\), not on a deal/],
      [{ type: 'note', body: 'n', account_id: '7', contact_id: '3' }, /^An Outreach note hangs on one record/],
      [{ type: 'note', body: 'n', account_id: '7', owner_id: '1' }, /^Outreach sets the author of a note itself/],
      [{ type: 'note', account_id: '7' }, /^An Outreach note needs `body`/],
      [{ type: 'note', body: '  ', account_id: '7' }, /^An Outreach note needs `body`/],
      [{ type: 'meeting', deal_id: '5' }, /^Outreach has no meeting activities; its activities are tasks, calls and notes\.$/],
      [{ type: 'task', deal_id: '5', due_date: '12/01/2026' }, /^due_date must be a date as YYYY-MM-DD/],
      [{ type: 'task', deal_id: 'five' }, /^'five' is not an Outreach deal id/],
    ];
    for (const [input, message] of cases) expect(thrown(() => activityCreate(input)).message, JSON.stringify(input)).toMatch(message);
  });

  it('updates: a task patched and/or completed; notes edited or moved within their kind; calls, reopening and the wrong kind refused', () => {
    expect(activityUpdate({ kind: 'task', id: 9 }, 't9', { body: 'x', done: true })).toEqual({ body: { attributes: { note: 'x' }, relationships: {} }, complete: true });
    expect(activityUpdate({ kind: 'task', id: 9 }, 't9', { deal_id: '5' }).body.relationships).toEqual({ subject: { data: { type: 'opportunity', id: 5 } } });
    expect(activityUpdate({ kind: 'accountNote', id: 1 }, 'an1', { body: 'y', account_id: '8' }).body).toEqual({ attributes: { message: 'y' }, relationships: { account: { data: { type: 'account', id: 8 } } } });
    expect(thrown(() => activityUpdate({ kind: 'task', id: 9 }, 't9', { done: false })).message).toMatch(/^Outreach cannot reopen a task/);
    expect(thrown(() => activityUpdate({ kind: 'call', id: 2 }, 'c2', { body: 'x' })).kind).toBe('unsupported');
    expect(thrown(() => activityUpdate({ kind: 'prospectNote', id: 4 }, 'pn4', { account_id: '7' })).message).toBe(
      "Activity 'pn4' is a note on a prospect: it can move to another prospect (contact_id), not to an account.",
    );
    expect(thrown(() => activityUpdate({ kind: 'accountNote', id: 1 }, 'an1', { done: true })).message).toMatch(/^A note has no due_date or done/);
  });

  it("an error's pointer names the argument: a task's note is body, its subject the parent ids", () => {
    expect(pointerField('/data/attributes/note')).toBe('body:');
    expect(pointerField('/data/attributes/message')).toBe('body:');
    expect(pointerField('/data/attributes/workPhones')).toBe('phones:');
    expect(pointerField('/data/relationships/prospect')).toBe('contact_id:');
    expect(pointerField('/data/relationships/subject')).toBe('deal_id, account_id or contact_id:');
  });
});
