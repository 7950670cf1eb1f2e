/**
 * The Outreach provider's records around a deal against the fake Outreach (real HTTP on
 * 127.0.0.1): the exact query of every listing (filters, sort, include and sparse fieldsets, page
 * size), the merged activity listing under one short cursor (Outreach's own page[after] tokens, a
 * next link without one kept whole), the users read once for list_users and search, the records a
 * write links to read first, the read-back and partial-write sentences, and search per type.
 * Requests and answers are held against Outreach's published spec in outreach-spec.test.ts.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { closeAllPools } from '../../src/crm/http.js';
import type { CrmProvider } from '../../src/crm/provider.js';
import { createOutreachProvider } from '../../src/providers/outreach/index.js';
import { FAKE_OUTREACH_TOKEN, SEED, startFakeOutreach, type FakeOutreach } from '../fakes/outreach.js';
import type { RecordedRequest } from '../fakes/server.js';

type Full<T> = Required<NonNullable<T>>;
let fake: FakeOutreach;
let or: CrmProvider & {
  accounts: Full<CrmProvider['accounts']>;
  contacts: Full<CrmProvider['contacts']>;
  users: Full<CrmProvider['users']>;
  activities: Full<CrmProvider['activities']>;
  search: NonNullable<CrmProvider['search']>;
};

beforeEach(async () => {
  fake = await startFakeOutreach();
  or = createOutreachProvider({ accessToken: FAKE_OUTREACH_TOKEN, baseUrl: fake.url, http: { retryBaseMs: 1 } }) as typeof or;
});
afterEach(async () => {
  await fake.stop();
});
afterAll(async () => {
  await closeAllPools();
});

const sent = (method?: string, path?: string): RecordedRequest[] =>
  fake.server.requests.filter((r) => (method === undefined || r.method === method) && (path === undefined || r.path === path));
const lines = () => fake.server.requests.map((r) => `${r.method} ${r.path}`);

async function failure(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CrmError);
    return e as CrmError;
  }
  throw new Error('expected a CrmError');
}

const NAMES = { user: 'name', account: 'name', prospect: 'name', opportunity: 'name' };

describe('listings: the exact query Outreach gets', () => {
  it('accounts: sorted by name, the owner included by name only, the lean fields, filter[q] and the owner', async () => {
    const page = await or.accounts.list({ limit: 3, name: ' Ac ', owner_id: '1' }, {});
    expect(page.items.map((a) => a.name)).toEqual(['Acme Corp']);
    expect(sent('GET', '/accounts')[0].query).toEqual({
      filter: { q: 'Ac', owner: { id: '1' } },
      sort: 'name',
      include: 'owner',
      fields: { user: 'name', account: 'name,domain,industry,createdAt,updatedAt,owner' },
      count: 'false',
      page: { size: '3' },
    });
    await or.accounts.get('1', { include_remote_data: true });
    expect(sent('GET', '/accounts/1')[0].query).toEqual({ include: 'owner', fields: { user: 'name' } });
  });

  it('contacts: by account, owner and email (lower-cased), account and owner names included', async () => {
    const email = fake.state.prospects.get(9)!.emails[0];
    const page = await or.contacts.list({ limit: 10, email: email.toUpperCase(), account_id: '1', owner_id: String(fake.state.prospects.get(9)!.ownerId) }, {});
    expect(page.items.map((c) => c.id)).toEqual(['9']);
    expect(sent('GET', '/prospects')[0].query).toMatchObject({
      filter: { emails: email, account: { id: '1' }, owner: { id: String(fake.state.prospects.get(9)!.ownerId) } },
      sort: 'lastName',
      include: 'account,owner',
      fields: { account: 'name', user: 'name', prospect: expect.stringContaining('workPhones') },
    });
  });

  it('users: the whole list read once, then served from memory for list_users and search alike', async () => {
    const all = await or.users.list({ limit: 2 }, {});
    expect(all.items.map((u) => u.name)).toEqual(['Ana Silva', 'Ben Okafor']);
    const rest = await or.users.list({ limit: 2, cursor: all.next_cursor! }, {});
    expect(rest.items.map((u) => u.name)).toEqual(['Chloe Martin', 'Dmitri Volkov']);
    await or.search({ query: 'chlo', types: ['users'], limit: 5 }, {});
    expect(sent('GET', '/users')).toHaveLength(1);
    expect(sent('GET', '/users')[0].query).toEqual({ sort: 'lastName', fields: { user: 'name,firstName,lastName,email,locked' }, count: 'false', page: { size: '1000' } });
  });

  it('activities on a deal: tasks and calls filtered by the opportunity, newest first, names included; notes said to be missing', async () => {
    const page = await or.activities.list({ limit: 50, deal_id: '1' }, {});
    expect(sent('GET', '/tasks')[0].query).toEqual({
      filter: { opportunity: { id: '1' } },
      sort: '-createdAt',
      include: 'owner,account,prospect,opportunity',
      fields: NAMES,
      count: 'false',
      page: { size: '50' },
    });
    expect(sent('GET', '/calls')[0].query).toMatchObject({ filter: { opportunity: { id: '1' } }, include: 'user,prospect,opportunity' });
    expect(sent('GET', '/accountNotes')).toHaveLength(0);
    expect(page.incomplete).toBe("Outreach cannot filter notes by deal, so notes are not in this list: list the notes of the deal's account with account_id.");
    expect(page.items.every((a) => a.deal?.id === '1')).toBe(true);
  });

  it("open tasks: the state filter as Outreach's comma list; done ones: 'complete' and the calls, no notes", async () => {
    await or.activities.list({ limit: 5, done: false }, {});
    expect(sent('GET', '/tasks')[0].query).toMatchObject({ filter: { state: 'incomplete,pending' } });
    expect(lines().filter((l) => l.startsWith('GET /calls') || l.includes('Notes'))).toEqual([]);
    await or.activities.list({ limit: 5, done: true }, {});
    expect(sent('GET', '/tasks')[1].query).toMatchObject({ filter: { state: 'complete' } });
    expect(sent('GET', '/calls')).toHaveLength(1);
    expect(lines().filter((l) => l.includes('Notes'))).toEqual([]);
  });
});

describe('the merged activity listing', () => {
  it('one short cursor of Outreach page[after] tokens; every record once, newest first, across pages', async () => {
    const seen: string[] = [];
    const created: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await or.activities.list({ limit: 9, cursor }, {});
      seen.push(...page.items.map((a) => a.id));
      created.push(...page.items.map((a) => a.created_at!));
      cursor = page.next_cursor ?? undefined;
      if (cursor) expect(cursor.length).toBeLessThan(250);
      pages++;
    } while (cursor && pages < 50);
    expect(seen).toHaveLength(SEED.tasks + SEED.calls + SEED.accountNotes + SEED.prospectNotes);
    expect(new Set(seen).size).toBe(seen.length);
    expect(created).toEqual([...created].sort().reverse());
    // A resumed collection is asked from Outreach's own token, with its page size.
    const resumed = sent('GET', '/tasks').find((r) => (r.query.page as { after?: string }).after !== undefined)!;
    expect(Object.keys(resumed.query.page as object).sort()).toEqual(['after', 'size']);
  });

  it("a next link without page[after] is kept whole and followed as it is", async () => {
    const link = `${fake.url}/tasks?sort=-createdAt&page%5Boffset%5D=3&page%5Bsize%5D=3`;
    fake.server.inject(
      { kind: 'status', status: 200, body: { data: [{ type: 'task', id: 30, attributes: { createdAt: '2026-11-09T10:30:00.000Z', state: 'incomplete' }, relationships: {} }], links: { next: link } } },
      { match: (r) => r.path === '/tasks' },
    );
    const first = await or.activities.list({ limit: 3, type: 'task' }, {});
    expect(first.next_cursor).toContain('link:/tasks?');
    fake.server.inject({ kind: 'status', status: 200, body: { data: [] } }, { match: (r) => r.path === '/tasks' });
    await or.activities.list({ limit: 3, type: 'task', cursor: first.next_cursor! }, {});
    expect(sent('GET', '/tasks')[1].rawUrl).toBe('/api/v2/tasks?sort=-createdAt&page%5Boffset%5D=3&page%5Bsize%5D=3');
  });

  it("a cursor of another listing is refused before any request", async () => {
    const page = await or.activities.list({ limit: 3, type: 'task' }, {});
    const before = fake.server.requests.length;
    const e = await failure(or.activities.list({ limit: 3, type: 'note', cursor: page.next_cursor! }, {}));
    expect(e.message).toMatch(/^That cursor is not valid for this list/);
    expect(fake.server.requests.length).toBe(before);
  });
});

describe('writes', () => {
  it('the records a write links to are read first, together; a missing one stops it with the sentence that points to search', async () => {
    const w = await or.activities.create({ type: 'task', body: 'x', deal_id: '3', owner_id: '2' }, {});
    expect(w.request.path).toBe('/tasks');
    await w.execute();
    expect(lines().slice(0, 2).sort()).toEqual(['GET /opportunities/3', 'GET /users/2']);
    expect(lines()[2]).toBe('POST /tasks');
    const e = await failure((await or.activities.create({ type: 'call', contact_id: '400', body: 'x' }, {})).execute());
    expect(e.message).toBe("No contact with id '400'. Find ids with search (types: contacts) or list_contacts.");
    expect(sent('POST', '/calls')).toHaveLength(0);
  });

  it('a task created done whose completion fails: the task exists, still open, and how to finish', async () => {
    fake.server.inject({ kind: 'status', status: 500, body: { errors: [{ id: 'internalServerError', detail: 'Boom' }] } }, { match: (r) => r.path.endsWith('/markComplete') });
    const w = await or.activities.create({ type: 'task', body: 'x', account_id: '1', done: true }, {});
    expect(w.then).toEqual([{ method: 'POST', path: '/tasks/{TASK_ID}/actions/markComplete' }]);
    const e = await failure(w.execute());
    const id = SEED.tasks + 1;
    expect(e.message).toMatch(new RegExp(`^Outreach did only part of this create of a completed task: POST /tasks \\(create the task\\) succeeded; then POST /tasks/\\{TASK_ID\\}/actions/markComplete \\(mark it complete\\) failed`));
    expect(e.message).toContain(`The task exists (t${id}), still open: complete it with update_activity and done: true; do not create it again.`);
    expect(fake.state.tasks.get(id)!.state).toBe('incomplete');
  });

  it('an activity whose read-back fails after Outreach saved it says so, with its id', async () => {
    fake.server.inject({ kind: 'status', status: 503, body: { errors: [{ id: 'x', detail: 'Maintenance' }] } }, { times: 10, match: (r) => r.method === 'GET' && r.path.startsWith('/accountNotes/') });
    const e = await failure((await or.activities.create({ type: 'note', body: 'kept', account_id: '1' }, {})).execute());
    expect(e.message).toMatch(new RegExp(`^Outreach saved the activity \\(id an${SEED.accountNotes + 1}\\) but reading it back failed .*do not send it again: read it with list_activities\\.$`));
  });

  it('an update that changes nothing is refused before sending; completing a task alone is the action only', async () => {
    await expect(or.activities.update('t1', {}, {})).rejects.toThrow(/^Nothing to update/);
    const open = [...fake.state.tasks.values()].find((t) => t.state === 'incomplete')!.id;
    const w = await or.activities.update(`t${open}`, { done: true }, {});
    expect(w.request).toEqual({ method: 'POST', path: `/tasks/${open}/actions/markComplete` });
    expect(w.then).toBeUndefined();
    const a = await w.execute();
    expect(a).toMatchObject({ id: `t${open}`, done: true });
    expect(lines()).toEqual([`POST /tasks/${open}/actions/markComplete`, `GET /tasks/${open}`]);
  });
});

describe('search', () => {
  it('one request per type, each the filter Outreach has; hits carry what their answers hold', async () => {
    const a = await or.search({ query: 'Acme', types: ['accounts', 'contacts', 'deals'], limit: 5 }, {});
    expect(sent('GET', '/accounts')[0].query).toMatchObject({ filter: { q: 'Acme' }, include: 'owner' });
    expect(sent('GET', '/prospects')[0].query).toMatchObject({ filter: { q: 'Acme' } });
    expect(sent('GET', '/opportunities')[0].query).toMatchObject({ filter: { name: 'Acme' }, sort: '-updatedAt' });
    expect(a.hits).toEqual([{ type: 'accounts', id: '1', name: 'Acme Corp', domain: 'acmecorp.example', owner: { id: '1', name: 'Ana Silva' } }]);
    const o = fake.state.opportunities.get(12)!;
    const d = await or.search({ query: o.name, types: ['deals'], limit: 5 }, {});
    const hit = d.hits.find((h) => h.id === '12')!;
    expect(hit).toMatchObject({ type: 'deals', name: o.name, stage: { id: `o${o.stageId}` }, owner: { id: String(o.ownerId) } });
    const p = fake.state.prospects.get(2)!;
    const c = await or.search({ query: p.emails[0].toUpperCase(), types: ['contacts'], limit: 5 }, {});
    expect(c.hits).toEqual([{ type: 'contacts', id: '2', name: `${p.firstName} ${p.lastName}`, account: { id: String(p.accountId), name: fake.state.accounts.get(p.accountId!)!.name }, email: p.emails[0] }]);
    expect(sent('GET', '/prospects')[1].query).toMatchObject({ filter: { emails: p.emails[0] } });
  });
});
