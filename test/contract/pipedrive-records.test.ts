/**
 * The records around a deal on Pipedrive, against the fake Pipedrive (real HTTP on 127.0.0.1):
 * organizations as accounts, persons as contacts, users, activities and notes as one newest-first
 * list, and search. Per operation the exact requests on the wire, the mapping both ways, unknown
 * ids refused before anything is written, paging across the merge of activities and notes, and
 * progress and cancellation of multi-page work.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { closeAllPools } from '../../src/crm/http.js';
import type { Activity } from '../../src/crm/model.js';
import type { CrmProvider } from '../../src/crm/provider.js';
import { createPipedriveProvider } from '../../src/providers/pipedrive/index.js';
import { DEFAULT_TOKEN, SEED, startFakePipedrive, type FakePipedrive } from '../fakes/pipedrive.js';
import type { RecordedRequest } from '../fakes/server.js';

type Full<T> = Required<NonNullable<T>>;
type Pd = CrmProvider & {
  accounts: Omit<Full<CrmProvider['accounts']>, 'delete'>;
  contacts: Omit<Full<CrmProvider['contacts']>, 'delete'>;
  users: Pick<Full<CrmProvider['users']>, 'list' | 'get'>;
  activities: Omit<Full<CrmProvider['activities']>, 'delete'>;
  deals: Omit<Full<CrmProvider['deals']>, 'delete'>;
  pipelines: Full<CrmProvider['pipelines']>;
  stats: Full<CrmProvider['stats']>;
  search: NonNullable<CrmProvider['search']>;
};

let fake: FakePipedrive;
let pd: Pd;
const opts = {};

beforeEach(async () => {
  fake = await startFakePipedrive();
  // Walking merged pages one record at a time takes many requests: a plan with room for them.
  pd = createPipedriveProvider({ apiToken: DEFAULT_TOKEN, baseUrl: fake.url, burstLimit: 200, http: { retryBaseMs: 1 } }) as Pd;
});
afterEach(async () => fake.stop());
afterAll(async () => closeAllPools());

const sent = (method?: string, path?: string | RegExp): RecordedRequest[] =>
  fake.server.requests.filter(
    (r) => (method === undefined || r.method === method) && (path === undefined || (typeof path === 'string' ? r.path === path : path.test(r.path))),
  );
const wire = (r: RecordedRequest) => `${r.method} ${r.path}`;

async function failure(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CrmError);
    return e as CrmError;
  }
  throw new Error('expected a CrmError');
}

/** The ISO form of a fake v1 time. */
const iso = (v1: string) => `${v1.replace(' ', 'T')}Z`;

/** What list_activities on a deal must answer, newest first, from the fake's own state. */
function expectedOnDeal(dealId: number): string[] {
  const acts = [...fake.state.activities.values()].filter((a) => a.deal_id === dealId && !a.is_deleted).map((a) => ({ id: String(a.id), at: a.add_time }));
  const notes = [...fake.state.notes.values()].filter((n) => n.deal_id === dealId && n.active_flag).map((n) => ({ id: `note-${n.id}`, at: iso(n.add_time) }));
  return [...acts, ...notes].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).map((x) => x.id);
}

async function walkActivities(query: Record<string, unknown>, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await pd.activities.list({ ...query, limit, cursor }, opts);
    ids.push(...page.items.map((a) => a.id));
    cursor = page.next_cursor ?? undefined;
    pages++;
    if (pages > 100) throw new Error('paging without end');
  } while (cursor);
  return { ids, pages };
}

describe('accounts (organizations)', () => {
  it('lists with owners named from the user directory; website read as domain', async () => {
    const page = await pd.accounts.list({ limit: 3 }, opts);
    expect(sent().map((r) => [wire(r), r.query]).sort()).toEqual(
      [
        ['GET /api/v1/users', {}],
        ['GET /api/v2/organizations', { limit: '3' }],
      ].sort(),
    );
    expect(page.items).toEqual([
      { id: '1', name: 'Acme Corp', domain: 'acme.example', owner: { id: '1', name: 'Alice Admin' }, created_at: '2026-01-05T09:00:00Z', updated_at: '2026-01-05T09:00:00Z' },
      { id: '2', name: 'Globex', domain: 'globex.example', owner: { id: '2', name: 'Bob Seller' }, created_at: '2026-01-05T09:00:00Z', updated_at: '2026-01-05T09:00:00Z' },
      { id: '3', name: 'Initech', owner: { id: '3', name: 'Carla Closer' }, created_at: '2026-01-05T09:00:00Z', updated_at: '2026-01-05T09:00:00Z' },
    ]);
    expect(page.next_cursor).toEqual(expect.any(String));
    const rest = await pd.accounts.list({ limit: 10, cursor: page.next_cursor!, owner_id: '1' }, opts);
    expect(sent('GET', '/api/v2/organizations')[1].query).toEqual({ owner_id: '1', limit: '10', cursor: page.next_cursor });
    expect(rest.items.map((a) => a.name)).toEqual(['Umbrella', 'Acme Logistics']);
  });

  it('a name filter searches names, then reads the hits whole in one ids= request with the other filters', async () => {
    const page = await pd.accounts.list({ name: 'Acme', owner_id: '1', limit: 5 }, opts);
    expect(sent('GET', '/api/v2/organizations/search')[0].query).toEqual({ term: 'Acme', fields: 'name', limit: '5' });
    expect(sent('GET', '/api/v2/organizations')[0].query).toEqual({ owner_id: '1', ids: '1,7', limit: '2' });
    // Acme Logistics belongs to user 1 too (7 % 3 = 1); both are found, in the search's order.
    expect(page.items.map((a) => [a.id, a.name])).toEqual([
      ['1', 'Acme Corp'],
      ['7', 'Acme Logistics'],
    ]);
    fake.server.requests.length = 0;
    const e = await failure(pd.accounts.list({ name: 'A', limit: 5 }, opts));
    expect(e.message).toBe('Pipedrive searches by `name` with 2 characters or more; give a longer one, or none to list all.');
    expect(fake.server.requests).toHaveLength(0);
  });

  it('get: one request; unknown and deleted ids answer with unknownReference', async () => {
    const a = await pd.accounts.get('4', { include_remote_data: true });
    expect(sent('GET', '/api/v2/organizations/4')).toHaveLength(1);
    expect(a).toMatchObject({ id: '4', name: 'Umbrella', domain: 'umbrella.example', remote_data: { id: 4, website: 'https://umbrella.example/about' } });
    expect((await failure(pd.accounts.get('99', opts))).message).toBe("No account with id '99'. Find ids with search (types: accounts) or list_accounts.");
    fake.state.orgs.get(6)!.is_deleted = true;
    expect((await failure(pd.accounts.get('6', opts))).message).toBe("No account with id '6'. Find ids with search (types: accounts) or list_accounts.");
    expect((await failure(pd.accounts.get('x1', opts))).message).toBe(
      "'x1' is not a Pipedrive organization id (they are positive whole numbers). Find ids with search (types: accounts) or list_accounts.",
    );
  });

  it('create: the exact POST, sent only on execute, after the owner is checked; read back with the owner named', async () => {
    const w = await pd.accounts.create({ name: 'Pilot Co', domain: 'pilot.example', owner_id: '4' }, opts);
    expect(w.request).toEqual({ method: 'POST', path: '/api/v2/organizations', body: { name: 'Pilot Co', owner_id: 4, website: 'pilot.example' } });
    expect(fake.server.requests).toHaveLength(0);
    const a = await w.execute();
    expect(sent().map(wire)).toEqual(['GET /api/v1/users', 'POST /api/v2/organizations']);
    expect(sent('POST')[0].body).toEqual(w.request.body);
    expect(a).toMatchObject({ id: String(SEED.orgs + 1), name: 'Pilot Co', domain: 'pilot.example', owner: { id: '4', name: 'Ana Souza' } });
    expect(fake.state.orgs.get(SEED.orgs + 1)).toMatchObject({ name: 'Pilot Co', owner_id: 4, website: 'pilot.example' });
  });

  it('an unknown owner is refused with unknownReference, nothing written; industry is refused before anything', async () => {
    const w = await pd.accounts.create({ name: 'Nobody owns me', owner_id: '42' }, opts);
    const e = await failure(w.execute());
    expect(e.kind).toBe('not_found');
    expect(e.message).toBe("No user with id '42'. Find ids with list_users or search (types: users).");
    expect(sent('POST')).toHaveLength(0);
    expect((await failure(pd.accounts.create({ name: 'X', industry: 'Retail' }, opts))).message).toMatch(/does not support `industry`/);
  });

  it('update: PATCH with only the given fields; an unknown organization is unknownReference', async () => {
    const w = await pd.accounts.update('2', { name: 'Globex Corporation' }, opts);
    expect(w.request).toEqual({ method: 'PATCH', path: '/api/v2/organizations/2', body: { name: 'Globex Corporation' } });
    expect(await w.execute()).toMatchObject({ id: '2', name: 'Globex Corporation', domain: 'globex.example' });
    const gone = await pd.accounts.update('404', { name: 'Nope' }, opts);
    expect((await failure(gone.execute())).message).toBe("No account with id '404'. Find ids with search (types: accounts) or list_accounts.");
    await expect(pd.accounts.update('2', {}, opts)).rejects.toThrow(/Nothing to update/);
  });
});

describe('contacts (persons)', () => {
  it('lists with org_id and owner_id natively; emails and phones as strings, the primary first', async () => {
    fake.state.persons.get(1)!.emails = [
      { value: 'maria.private@example.org', primary: false, label: 'home' },
      { value: 'maria@acme.example', primary: true, label: 'work' },
    ];
    const page = await pd.contacts.list({ account_id: '1', limit: 10 }, opts);
    expect(sent('GET', '/api/v2/persons')[0].query).toEqual({ org_id: '1', limit: '10' });
    expect(page.items).toEqual([
      {
        id: '1',
        name: 'Maria Lopez',
        first_name: 'Maria',
        last_name: 'Lopez',
        emails: ['maria@acme.example', 'maria.private@example.org'],
        phones: ['+1 555 0100'],
        title: 'Head of Operations',
        account: { id: '1', name: 'Acme Corp' },
        owner: { id: '1', name: 'Alice Admin' },
        created_at: '2026-01-05T09:00:00Z',
        updated_at: '2026-01-05T09:00:00Z',
      },
      expect.objectContaining({ id: '2', name: 'John Smith', emails: ['john.smith@acme.example'], account: { id: '1', name: 'Acme Corp' } }),
    ]);
  });

  it('name and email filters go through /persons/search (an email matches whole addresses)', async () => {
    const byName = await pd.contacts.list({ name: 'priya', limit: 5 }, opts);
    expect(sent('GET', '/api/v2/persons/search')[0].query).toEqual({ term: 'priya', fields: 'name', limit: '5' });
    expect(byName.items.map((c) => c.name)).toEqual(['Priya Nair']);
    const byEmail = await pd.contacts.list({ email: 'TOM@initech.example', account_id: '3', limit: 5 }, opts);
    expect(sent('GET', '/api/v2/persons/search')[1].query).toEqual({
      term: 'TOM@initech.example',
      fields: 'email',
      exact_match: 'true',
      organization_id: '3',
      limit: '5',
    });
    expect(sent('GET', '/api/v2/persons').at(-1)!.query).toEqual({ org_id: '3', ids: '4', limit: '1' });
    expect(byEmail.items.map((c) => c.name)).toEqual(['Tom Becker']);
    expect((await pd.contacts.list({ email: 'tom@initech', limit: 5 }, opts)).items).toEqual([]);
  });

  it('create: one name, contact points as {value, primary, label}; account and owner checked first; read back named', async () => {
    const w = await pd.contacts.create(
      { first_name: 'Rosa', last_name: 'Diaz', emails: ['rosa@acme.example', 'rosa@home.example'], phones: ['+1 555 0199'], title: 'CTO', account_id: '1', owner_id: '4' },
      opts,
    );
    const body = {
      name: 'Rosa Diaz',
      owner_id: 4,
      org_id: 1,
      emails: [
        { value: 'rosa@acme.example', primary: true, label: 'work' },
        { value: 'rosa@home.example', primary: false, label: 'work' },
      ],
      phones: [{ value: '+1 555 0199', primary: true, label: 'work' }],
      job_title: 'CTO',
    };
    expect(w.request).toEqual({ method: 'POST', path: '/api/v2/persons', body });
    expect(fake.server.requests).toHaveLength(0);
    const c = await w.execute();
    expect(sent().map(wire).sort()).toEqual(['GET /api/v1/users', 'GET /api/v2/organizations/1', 'POST /api/v2/persons'].sort());
    expect(sent('POST')[0].body).toEqual(body);
    // The organization's name came with its check: no ids= lookup after the write.
    expect(sent('GET', '/api/v2/organizations')).toHaveLength(0);
    expect(c).toMatchObject({
      name: 'Rosa Diaz',
      first_name: 'Rosa',
      last_name: 'Diaz',
      emails: ['rosa@acme.example', 'rosa@home.example'],
      title: 'CTO',
      account: { id: '1', name: 'Acme Corp' },
      owner: { id: '4', name: 'Ana Souza' },
    });
  });

  it('an unknown or deleted account is refused before the write', async () => {
    const w = await pd.contacts.create({ last_name: 'Ghost', account_id: '99' }, opts);
    expect((await failure(w.execute())).message).toBe("No account with id '99'. Find ids with search (types: accounts) or list_accounts.");
    fake.state.orgs.get(2)!.is_deleted = true;
    const w2 = await pd.contacts.create({ last_name: 'Ghost', account_id: '2' }, opts);
    expect((await failure(w2.execute())).message).toBe("No account with id '2'. Find ids with search (types: accounts) or list_accounts.");
    expect(sent('POST')).toHaveLength(0);
  });

  it('update: half a name reads the person for the other half; emails replace the list', async () => {
    const w = await pd.contacts.update('1', { last_name: 'Garcia', emails: ['maria@garcia.example'] }, opts);
    expect(sent().map(wire)).toEqual(['GET /api/v2/persons/1']);
    expect(w.request).toEqual({
      method: 'PATCH',
      path: '/api/v2/persons/1',
      body: { name: 'Maria Garcia', emails: [{ value: 'maria@garcia.example', primary: true, label: 'work' }] },
    });
    const c = await w.execute();
    expect(c).toMatchObject({ id: '1', name: 'Maria Garcia', first_name: 'Maria', last_name: 'Garcia', emails: ['maria@garcia.example'] });
    const titled = await pd.contacts.update('2', { title: 'VP Sales' }, opts);
    expect(titled.request.body).toEqual({ job_title: 'VP Sales' });
    expect((await failure(pd.contacts.get('77', opts))).message).toBe("No contact with id '77'. Find ids with search (types: contacts) or list_contacts.");
  });
});

describe('users', () => {
  it('one v1 /users request serves the list, its filters, get and the owner checks', async () => {
    const all = await pd.users.list({ limit: 10 }, opts);
    expect(all.items).toEqual([
      { id: '1', name: 'Alice Admin', email: 'alice@example.com', active: true },
      { id: '2', name: 'Bob Seller', email: 'bob@example.com', active: true },
      { id: '3', name: 'Carla Closer', email: 'carla@example.com', active: true },
      { id: '4', name: 'Ana Souza', email: 'ana@example.com', active: true },
    ]);
    expect((await pd.users.list({ name: 'ANA', limit: 10 }, opts)).items.map((u) => u.name)).toEqual(['Ana Souza']);
    expect((await pd.users.list({ email: 'Bob@Example.com', limit: 10 }, opts)).items.map((u) => u.id)).toEqual(['2']);
    const twoPages = await pd.users.list({ limit: 3 }, opts);
    expect(twoPages.next_cursor).toBe('offset:3');
    expect((await pd.users.list({ limit: 3, cursor: 'offset:3' }, opts)).items.map((u) => u.id)).toEqual(['4']);
    expect(await pd.users.get('3', opts)).toEqual({ id: '3', name: 'Carla Closer', email: 'carla@example.com', active: true });
    expect(sent('GET', '/api/v1/users')).toHaveLength(1);
    expect((await failure(pd.users.get('9', opts))).message).toBe("No user with id '9'. Find ids with list_users or search (types: users).");
  });

  it('a token that may not read users hears so in one sentence', async () => {
    fake.server.inject({ kind: 'status', status: 403, body: { success: false, error: 'No permission', error_info: 'x' } }, { times: 5, match: (r) => r.path === '/api/v1/users' });
    const e = await failure(pd.users.list({ limit: 10 }, opts));
    expect(e.kind).toBe('auth');
    expect(e.message).toMatch(/may not read users/);
  });
});

describe('activities and notes: one list, newest first', () => {
  it('on a deal: both listings asked together, merged newest first, names of deal, account, contact and owner', async () => {
    const barrier = fake.barrier(2);
    const page = await pd.activities.list({ deal_id: '1', limit: 20 }, opts);
    expect(barrier.reached()).toBe(true);
    expect(sent('GET', '/api/v2/activities')[0].query).toEqual({ deal_id: '1', sort_by: 'add_time', sort_direction: 'desc', limit: '20' });
    expect(sent('GET', '/api/v1/notes')[0].query).toEqual({ deal_id: '1', sort: 'add_time DESC, id DESC', limit: '20' });
    expect(page.items.map((a) => a.id)).toEqual(expectedOnDeal(1));
    expect(page.items.some((a) => a.type === 'note') && page.items.some((a) => a.type !== 'note')).toBe(true);
    expect(page.next_cursor).toBeNull();
    const deal = fake.state.deals.get(1)!;
    const demo = page.items.find((a) => a.subject === 'Demo')!;
    expect(demo).toEqual({
      id: '3',
      type: 'meeting',
      subject: 'Demo',
      due_date: '2026-12-15',
      done: false,
      owner: { id: '3', name: 'Carla Closer' },
      deal: { id: '1', name: deal.title },
      account: { id: '1', name: 'Acme Corp' },
      contact: { id: '2', name: 'John Smith' },
      created_at: '2026-03-20T14:00:00Z',
      updated_at: '2026-03-20T14:00:00Z',
    } satisfies Activity);
    expect(page.items.find((a) => a.id === 'note-1')).toEqual({
      id: 'note-1',
      type: 'note',
      body: 'Acme wants the enterprise plan.',
      owner: { id: '1', name: 'Alice Admin' },
      deal: { id: '1', name: deal.title },
      account: { id: '1', name: 'Acme Corp' },
      created_at: '2026-02-05T10:00:00Z',
      updated_at: '2026-02-05T10:00:00Z',
    } satisfies Activity);
    // A deadline is a task; every activity has done, no note has it.
    expect(page.items.find((a) => a.subject === 'Contract deadline')!.type).toBe('task');
    for (const a of page.items) expect(a.done === undefined).toBe(a.type === 'note');
  });

  it('paging across the merge: every page size walks the same list, nothing twice, nothing skipped', async () => {
    const expected = expectedOnDeal(1);
    for (const limit of [1, 2, 3, 4]) {
      const { ids, pages } = await walkActivities({ deal_id: '1' }, limit);
      expect(ids, `limit ${limit}`).toEqual(expected);
      expect(pages).toBeGreaterThanOrEqual(Math.ceil(expected.length / limit));
    }
    // Older activities than every note: the note listing ends pages before the activity listing does.
    const model = fake.state.activities.get(1)!;
    for (let i = 0; i < 4; i++) fake.state.activities.set(100 + i, { ...model, id: 100 + i, subject: `Old ${i}`, add_time: `2025-0${i + 1}-01T09:00:00Z` });
    const longer = expectedOnDeal(1);
    expect(longer.slice(-5)).toEqual(['1', '103', '102', '101', '100']);
    for (const limit of [1, 2]) expect((await walkActivities({ deal_id: '1' }, limit)).ids, `limit ${limit}`).toEqual(longer);
    // Without a parent: every activity and note of the company.
    for (const id of [100, 101, 102, 103]) fake.state.activities.delete(id);
    const all = await walkActivities({}, 5);
    expect(all.ids).toHaveLength(SEED.activities + SEED.notes);
    expect(new Set(all.ids).size).toBe(all.ids.length);
  });

  it('a page stops short rather than guess: with notes far older, activities fill pages and the cursor keeps both places', async () => {
    const first = await pd.activities.list({ account_id: '1', limit: 2 }, opts);
    expect(first.items).toHaveLength(2);
    const position = JSON.parse(first.next_cursor!);
    expect(Object.keys(position).sort()).toEqual(['a', 'n']);
    await expect(pd.activities.list({ account_id: '1', limit: 2, cursor: 'not-a-cursor' }, opts)).rejects.toThrow(/^That cursor is not valid for this list/);
  });

  it('type task matches deadlines and tasks over whole pages; type note reads notes only; done reads activities only', async () => {
    const tasks = await pd.activities.list({ type: 'task', limit: 50 }, opts);
    expect(sent('GET', '/api/v2/activities')[0].query).toEqual({ sort_by: 'add_time', sort_direction: 'desc', limit: '500' });
    expect(sent('GET', '/api/v1/notes')).toHaveLength(0);
    const want = [...fake.state.activities.values()].filter((a) => a.type === 'task' || a.type === 'deadline').map((a) => String(a.id));
    expect(tasks.items.map((a) => a.id).sort()).toEqual(want.sort());
    fake.server.requests.length = 0;
    const notes = await pd.activities.list({ type: 'note', contact_id: '1', limit: 50 }, opts);
    expect(sent().map(wire).filter((w) => !w.includes('users'))).toEqual(['GET /api/v1/notes']);
    expect(sent('GET', '/api/v1/notes')[0].query).toEqual({ person_id: '1', sort: 'add_time DESC, id DESC', limit: '50' });
    expect(notes.items.map((a) => a.id)).toEqual(['note-3']);
    fake.server.requests.length = 0;
    const open = await pd.activities.list({ done: false, limit: 50 }, opts);
    expect(sent().map(wire).filter((w) => !/users|organizations|persons|deals/.test(w))).toEqual(['GET /api/v2/activities']);
    expect(sent('GET', '/api/v2/activities')[0].query).toMatchObject({ done: 'false' });
    expect(open.items.every((a) => a.done === false)).toBe(true);
    expect((await pd.activities.list({ type: 'note', done: true, limit: 5 }, opts)).items).toEqual([]);
  });

  it('a project filters notes only; without type note it is refused before anything is sent', async () => {
    const e = await failure(pd.activities.list({ project_id: '3', limit: 5 }, opts));
    expect(e.kind).toBe('unsupported');
    expect(e.message).toMatch(/add type: note/);
    expect(fake.server.requests).toHaveLength(0);
    await pd.activities.list({ project_id: '3', type: 'note', limit: 5 }, opts);
    expect(sent('GET', '/api/v1/notes')[0].query).toMatchObject({ project_id: '3' });
  });

  it('create a note: v1 POST /notes after the deal is checked; a subject becomes the first line', async () => {
    const w = await pd.activities.create({ type: 'note', subject: 'Call summary', body: 'They want a pilot.', deal_id: '1' }, opts);
    expect(w.request).toEqual({ method: 'POST', path: '/api/v1/notes', body: { content: 'Call summary\n\nThey want a pilot.', deal_id: 1 } });
    expect(fake.server.requests).toHaveLength(0);
    const note = await w.execute();
    expect(sent().map(wire)).toEqual(['GET /api/v2/deals/1', 'POST /api/v1/notes']);
    expect(note).toMatchObject({
      id: `note-${SEED.notes + 1}`,
      type: 'note',
      body: 'Call summary\n\nThey want a pilot.',
      deal: { id: '1', name: fake.state.deals.get(1)!.title },
      owner: { id: '1', name: 'Alice Admin' },
    });
    expect(note.done).toBeUndefined();
    expect(fake.state.notes.get(SEED.notes + 1)).toMatchObject({ content: 'Call summary\n\nThey want a pilot.', deal_id: 1 });
  });

  it('create a task, call, meeting and email: v2 POST /activities with the standard type keys; read back named', async () => {
    const w = await pd.activities.create(
      { type: 'task', subject: 'Send pilot terms', due_date: '2026-12-01', owner_id: '4', deal_id: '2', contact_id: '3', body: 'Use the short form.' },
      opts,
    );
    expect(w.request).toEqual({
      method: 'POST',
      path: '/api/v2/activities',
      body: { subject: 'Send pilot terms', type: 'task', owner_id: 4, deal_id: 2, person_id: 3, due_date: '2026-12-01', note: 'Use the short form.' },
    });
    const task = await w.execute();
    expect(sent().map(wire).sort()).toEqual(['GET /api/v1/users', 'GET /api/v2/deals/2', 'GET /api/v2/persons/3', 'POST /api/v2/activities'].sort());
    expect(task).toMatchObject({
      id: String(SEED.activities + 1),
      type: 'task',
      subject: 'Send pilot terms',
      body: 'Use the short form.',
      due_date: '2026-12-01',
      done: false,
      owner: { id: '4', name: 'Ana Souza' },
      deal: { id: '2', name: fake.state.deals.get(2)!.title },
      contact: { id: '3', name: 'Priya Nair' },
    });
    for (const type of ['call', 'meeting', 'email'] as const) {
      const made = await (await pd.activities.create({ type, account_id: '2' }, opts)).execute();
      expect(made.type).toBe(type);
      expect(fake.state.activities.get(Number(made.id))!.type).toBe(type);
    }
  });

  it('unknown parents and owners are refused with unknownReference before anything is written', async () => {
    const cases: Array<[Parameters<Pd['activities']['create']>[0], string]> = [
      [{ type: 'note', body: 'x', contact_id: '999' }, "No contact with id '999'. Find ids with search (types: contacts) or list_contacts."],
      [{ type: 'note', body: 'x', deal_id: '9999' }, "No deal with id '9999'. Find ids with search (types: deals) or list_deals."],
      [{ type: 'task', subject: 'x', deal_id: '1', owner_id: '77' }, "No user with id '77'. Find ids with list_users or search (types: users)."],
    ];
    for (const [input, message] of cases) {
      expect((await failure((await pd.activities.create(input, opts)).execute())).message).toBe(message);
    }
    expect(sent('POST')).toHaveLength(0);
  });

  it('a check that cannot be made stops the write, which is then known to have written nothing', async () => {
    fake.server.inject({ kind: 'status', status: 503, body: { success: false, error: 'Service unavailable' } }, { times: 10, match: (r) => r.path === '/api/v2/deals/1' });
    const pd2 = createPipedriveProvider({ apiToken: DEFAULT_TOKEN, baseUrl: fake.url, http: { retryBaseMs: 1, maxAttempts: 2 } }) as Pd;
    const e = await failure((await pd2.activities.create({ type: 'note', body: 'x', deal_id: '1' }, opts)).execute());
    expect(e.kind).toBe('upstream');
    expect(e.nothingSent).toBe(true);
    expect(sent('POST')).toHaveLength(0);
  });

  it('update: done: true completes a task (PATCH); a note is changed with PUT; notes and activities do not turn into each other', async () => {
    const w = await pd.activities.update('2', { done: true }, opts);
    expect(w.request).toEqual({ method: 'PATCH', path: '/api/v2/activities/2', body: { done: true } });
    expect(await w.execute()).toMatchObject({ id: '2', type: 'task', done: true });
    expect(fake.state.activities.get(2)!.done).toBe(true);

    const n = await pd.activities.update('note-2', { body: 'Budget confirmed for Q3.' }, opts);
    expect(n.request).toEqual({ method: 'PUT', path: '/api/v1/notes/2', body: { content: 'Budget confirmed for Q3.' } });
    expect(await n.execute()).toMatchObject({ id: 'note-2', type: 'note', body: 'Budget confirmed for Q3.' });

    await expect(pd.activities.update('note-2', { type: 'task' }, opts)).rejects.toThrow(/a note cannot become a task/);
    await expect(pd.activities.update('note-2', { subject: 'New' }, opts)).rejects.toThrow(/no subject/);
    await expect(pd.activities.update('note-2', { done: true }, opts)).rejects.toThrow(/A note has no done/);
    await expect(pd.activities.update('2', { type: 'note' }, opts)).rejects.toThrow(/cannot become a note/);
    const gone = await pd.activities.update('404', { done: true }, opts);
    expect((await failure(gone.execute())).message).toBe("No activity with id '404'. Find ids with list_activities.");
  });

  it('get reads one activity (v2) or one note (v1) by its id', async () => {
    expect(await pd.activities.get('note-6', opts)).toMatchObject({ id: 'note-6', type: 'note', contact: { id: '8', name: 'Sam Taylor' } });
    expect(sent('GET', '/api/v1/notes/6')).toHaveLength(1);
    expect(await pd.activities.get('8', opts)).toMatchObject({ id: '8', type: 'call', subject: 'Intro call', account: { id: '4', name: 'Umbrella' } });
    expect((await failure(pd.activities.get('note-99', opts))).message).toBe("No activity with id 'note-99'. Find ids with list_activities.");
  });
});

describe('search', () => {
  it('one request per type to the per-type search endpoints; hits carry stage, owner, account and email', async () => {
    const deal = fake.state.deals.get(5)!;
    const answer = await pd.search({ query: 'Acme', types: ['deals', 'accounts', 'contacts', 'users'], limit: 5 }, opts);
    expect(sent('GET', '/api/v2/organizations/search')[0].query).toEqual({ term: 'Acme', fields: 'name', limit: '10' });
    expect(sent('GET', '/api/v2/persons/search')[0].query).toEqual({ term: 'Acme', fields: 'name,email', limit: '10' });
    expect(sent('GET', '/api/v2/deals/search')[0].query).toEqual({ term: 'Acme', fields: 'title', limit: '10' });
    expect(sent('GET', /search/)).toHaveLength(3);
    expect(answer.hits.filter((h) => h.type === 'accounts')).toEqual([
      { type: 'accounts', id: '1', name: 'Acme Corp', owner: { id: '1', name: 'Alice Admin' } },
      { type: 'accounts', id: '7', name: 'Acme Logistics', owner: { id: '1', name: 'Alice Admin' } },
    ]);
    // "Acme" is in the persons' email addresses: found by email, with their organization.
    expect(answer.hits.filter((h) => h.type === 'contacts')).toEqual([
      { type: 'contacts', id: '1', name: 'Maria Lopez', owner: { id: '1', name: 'Alice Admin' }, account: { id: '1', name: 'Acme Corp' }, email: 'maria@acme.example' },
      { type: 'contacts', id: '2', name: 'John Smith', owner: { id: '2', name: 'Bob Seller' }, account: { id: '1', name: 'Acme Corp' }, email: 'john.smith@acme.example' },
    ]);
    deal.title = 'Acme renewal';
    const deals = await pd.search({ query: 'acme renewal', types: ['deals'], limit: 5 }, opts);
    expect(deals.hits).toEqual([
      {
        type: 'deals',
        id: '5',
        name: 'Acme renewal',
        status: deal.status,
        stage: { id: String(deal.stage_id), name: fake.state.stages.get(deal.stage_id)!.name },
        owner: { id: String(deal.owner_id), name: fake.state.users.get(deal.owner_id)!.name },
        ...(deal.org_id ? { account: { id: String(deal.org_id), name: fake.state.orgs.get(deal.org_id)!.name } } : {}),
      },
    ]);
    const users = await pd.search({ query: 'ana', types: ['users'], limit: 5 }, opts);
    expect(users.hits).toEqual([{ type: 'users', id: '4', name: 'Ana Souza', email: 'ana@example.com' }]);
    expect(sent('GET', '/api/v1/users')).toHaveLength(1);
  });

  it('declares what it searches: no pipelines or stages (Pipedrive has no search for them)', () => {
    expect(pd.capabilities.search).toEqual(['deals', 'accounts', 'contacts', 'users']);
  });
});

describe('list_deals by account, progress and cancellation', () => {
  it('account_id reaches /deals as org_id', async () => {
    const page = await pd.deals.list({ account_id: '2', limit: 50 }, opts);
    expect(sent('GET', '/api/v2/deals')[0].query).toMatchObject({ org_id: '2' });
    expect(page.items.length).toBeGreaterThan(0);
    for (const d of page.items) expect(d.account).toEqual({ id: '2', name: 'Globex' });
  });

  it("get_pipeline reports each page of its walks; the statistics report their four parts", async () => {
    const base = fake.state.deals.get(1)!;
    for (let i = 0; i < 1200; i++) fake.state.deals.set(20_000 + i, { ...base, id: 20_000 + i, status: 'open', pipeline_id: 1, is_deleted: false, history: [] });
    const steps: Array<[number, number | undefined, string | undefined]> = [];
    await pd.pipelines.get('1', { onProgress: (done, total, message) => void steps.push([done, total, message]) });
    const dealPages = steps.filter(([, , m]) => m?.includes('open deals of pipeline 1'));
    expect(dealPages.map(([d]) => d)).toEqual([1, 2, 3]);
    expect(dealPages.at(-1)![2]).toBe('read 3 pages of the open deals of pipeline 1');
    expect(steps.some(([, , m]) => m === 'read 1 page of the stages of pipeline 1')).toBe(true);

    const parts: Array<[number, number | undefined, string | undefined]> = [];
    await pd.stats.conversion({ pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-12-31' }, { onProgress: (d, t, m) => void parts.push([d, t, m]) });
    expect(parts.map(([d, t]) => [d, t])).toEqual([
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 4],
    ]);
    expect(parts.map(([, , m]) => m).sort()).toEqual(['read the conversion statistics', 'read the pipeline names', 'read the stage names', 'read the user names']);
  });

  it('a cancelled search stops every type at once', async () => {
    fake.barrier(99);
    const ac = new AbortController();
    const pending = failure(pd.search({ query: 'Acme', types: ['deals', 'accounts', 'contacts'], limit: 5 }, { signal: ac.signal }));
    await vi.waitFor(() => expect(sent('GET', /search/)).toHaveLength(3));
    ac.abort();
    expect((await pending).kind).toBe('cancelled');
  });
});
