import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProjectInput } from '../../src/crm/provider.js';
import type { Db } from '../../src/providers/local/client.js';
import type { LocalProvider } from '../../src/providers/local/index.js';
import { cleanupTempDirs, emptyProvider, expectCrmError, insertPeople, steppingClock } from './local-helpers.js';

let provider: LocalProvider;
let db: Db;

beforeEach(async () => {
  ({ provider, db } = emptyProvider(steppingClock()));
  insertPeople(db);
  const at = '2026-01-01T00:00:00.000Z';
  db.prepare('INSERT INTO contacts (id, name, account_id, created_at, updated_at) VALUES (1, ?, 1, ?, ?), (2, ?, 2, ?, ?)').run(
    'Olivia Rossi',
    at,
    at,
    'Kenji Tanaka',
    at,
    at,
  );
  db.prepare("INSERT INTO tags (id, name, created_at) VALUES (1, 'pilot', ?), (2, 'priority', ?), (3, 'smb', ?)").run(at, at, at);
  await (await provider.pipelines!.create!({ name: 'Delivery' }, {})).execute();
  await (await provider.stages!.create!({ pipeline_id: '1', name: 'Kickoff' }, {})).execute();
  await (await provider.stages!.create!({ pipeline_id: '1', name: 'Build' }, {})).execute();
  await (await provider.deals!.create!({ name: 'Acme – Pilot', stage_id: '1' }, {})).execute();
});
afterEach(cleanupTempDirs);

const projects = () => provider.projects!;
async function create(input: ProjectInput) {
  return (await projects().create!(input, {})).execute();
}

const FULL: ProjectInput = {
  name: 'Acme onboarding',
  description: 'Roll out to 3 teams.',
  status: 'in progress',
  amount: 20000,
  currency: 'usd',
  close_date: '2026-06-30',
  owner: { id: '2' },
  account: { id: '1' },
  stage: { id: '1' },
  contact: [{ id: '1' }, { id: '2' }, { id: '1' }],
  opportunity: [{ id: '1' }],
  tags: [{ id: '2' }, { id: '1' }],
  custom_fields: { priority: 'high', budget_code: 'PRJ-7' },
};

describe('local projects', () => {
  it('creates with every field, resolving names beside ids', async () => {
    const write = await projects().create!(FULL, {});
    expect(write.request).toEqual({
      method: 'POST',
      path: '/projects',
      body: {
        ...FULL,
        currency: 'USD',
        contact: [{ id: '1' }, { id: '2' }],
      },
    });
    const p = await write.execute();
    expect(p).toMatchObject({
      id: '1',
      name: 'Acme onboarding',
      description: 'Roll out to 3 teams.',
      status: 'in progress',
      amount: 20000,
      currency: 'USD',
      close_date: '2026-06-30',
      owner: { id: '2', name: 'Bob Ray' },
      account: { id: '1', name: 'Acme' },
      stage: { id: '1', name: 'Kickoff' },
      contact: [
        { id: '1', name: 'Olivia Rossi' },
        { id: '2', name: 'Kenji Tanaka' },
      ],
      opportunity: [{ id: '1', name: 'Acme – Pilot' }],
      tags: [
        { id: '1', name: 'pilot' },
        { id: '2', name: 'priority' },
      ],
      custom_fields: { priority: 'high', budget_code: 'PRJ-7' },
    });
    expect(p.last_activity_at).toBe(p.created_at);
  });

  it('creates a minimal project with empty lists', async () => {
    const p = await create({ name: 'Bare' });
    expect(p).toMatchObject({ name: 'Bare', contact: [], opportunity: [], tags: [] });
    expect(p.status).toBeUndefined();
    expect(p.owner).toBeUndefined();
  });

  it('accepts every unified status and rejects others', async () => {
    for (const status of ['open', 'closed', 'not started', 'in progress', 'deferred', 'cancelled', 'abandoned', 'completed'] as const) {
      expect((await create({ name: status, status })).status).toBe(status);
    }
    await expectCrmError(create({ name: 'x', status: 'planned' as never }), 'validation', /`status` must be one of: open, closed, not started/);
  });

  it('explains unknown references with the tools that find ids, never a directory inline', async () => {
    await expectCrmError(
      create({ name: 'x', tags: [{ id: '9' }] }),
      'not_found',
      "No tag with id '9'. Tag ids show on projects: list_projects or get_project with response_format detailed.",
    );
    await expectCrmError(create({ name: 'x', contact: [{ id: '9' }] }), 'not_found', "No contact with id '9'. Find ids with search (types: contacts) or list_contacts.");
    await expectCrmError(create({ name: 'x', owner: { id: '9' } }), 'not_found', "No user with id '9'. Find ids with list_users or search (types: users).");
    await expectCrmError(create({ name: 'x', opportunity: [{ id: '9' }] }), 'not_found', "No deal with id '9'. Call list_deals to see valid deal ids.");
    await expectCrmError(create({ name: 'x', stage: { id: '9' } }), 'not_found', /Call list_stages/);
    await expectCrmError(create({ name: 'x', owner: '2' as never }), 'validation', '`owner` must look like {"id": "12"}.');
    await expectCrmError(create({ name: 'x', tags: { id: '1' } as never }), 'validation', /`tags` must be a list/);
    await expectCrmError(create({ name: 'x', custom_fields: [] as never }), 'validation', /`custom_fields` must be an object/);
    await expectCrmError(create({ name: 'x', remote_data: { a: 1 } }), 'unsupported', /custom_fields instead/);
    expect((await projects().list!({ limit: 10 }, {})).items).toEqual([]);
  });

  it('updates only given fields: lists are replaced, custom fields merged, activity stamped', async () => {
    const p = await create(FULL);
    const write = await projects().update!(p.id, { tags: [{ id: '3' }], custom_fields: { budget_code: null, phase: 2 }, status: 'completed' }, {});
    expect(write.request).toEqual({
      method: 'PATCH',
      path: `/projects/${p.id}`,
      body: { status: 'completed', tags: [{ id: '3' }], custom_fields: { budget_code: null, phase: 2 } },
    });
    const u = await write.execute();
    expect(u.tags).toEqual([{ id: '3', name: 'smb' }]);
    expect(u.custom_fields).toEqual({ priority: 'high', phase: 2 });
    expect(u.status).toBe('completed');
    expect(u.contact).toHaveLength(2);
    expect(u.owner).toEqual({ id: '2', name: 'Bob Ray' });
    expect(u.last_activity_at! > p.last_activity_at!).toBe(true);
    const cleared = await (await projects().update!(p.id, { contact: [] }, {})).execute();
    expect(cleared.contact).toEqual([]);
    await expectCrmError(projects().update!(p.id, {}, {}), 'validation', /^Nothing to update/);
    await expectCrmError(projects().update!('77', { name: 'x' }, {}), 'not_found', "No project with id '77'. Call list_projects to see valid project ids.");
  });

  it('lists by id with filters', async () => {
    await create({ name: 'Acme onboarding', status: 'open', owner: { id: '1' }, account: { id: '1' }, stage: { id: '1' } });
    await create({ name: 'Globex migration', status: 'closed', owner: { id: '2' }, account: { id: '2' }, stage: { id: '2' } });
    await create({ name: 'Acme SSO', status: 'open', owner: { id: '2' }, account: { id: '1' } });
    const names = async (q: object) => (await projects().list!({ limit: 50, ...q }, {})).items.map((p) => p.name);
    expect(await names({})).toEqual(['Acme onboarding', 'Globex migration', 'Acme SSO']);
    expect(await names({ name: 'acme' })).toEqual(['Acme onboarding', 'Acme SSO']);
    expect(await names({ status: 'open' })).toEqual(['Acme onboarding', 'Acme SSO']);
    expect(await names({ owner_id: '2' })).toEqual(['Globex migration', 'Acme SSO']);
    expect(await names({ account_id: '2' })).toEqual(['Globex migration']);
    expect(await names({ stage_id: '1' })).toEqual(['Acme onboarding']);
    const page = await projects().list!({ limit: 2 }, {});
    expect(page.next_cursor).not.toBeNull();
    expect(page.items.every((p) => Array.isArray(p.tags))).toBe(true);
    expect((await projects().list!({ limit: 2, cursor: page.next_cursor! }, {})).next_cursor).toBeNull();
    await expectCrmError(projects().list!({ limit: 5, account_id: '5' }, {}), 'not_found', "No account with id '5'. Find ids with search (types: accounts) or list_accounts.");
  });

  it('deletes a project and its links', async () => {
    const p = await create(FULL);
    const write = await projects().delete!(p.id, {});
    expect(write.request).toEqual({ method: 'DELETE', path: `/projects/${p.id}` });
    expect(await write.execute()).toEqual({ id: p.id, name: 'Acme onboarding' });
    await expectCrmError(projects().get!(p.id, {}), 'not_found', /No project/);
    const links = db.prepare('SELECT (SELECT COUNT(*) FROM project_tags) + (SELECT COUNT(*) FROM project_contacts) + (SELECT COUNT(*) FROM project_deals) AS n').get() as { n: number };
    expect(links.n).toBe(0);
  });

  it('returns the raw row as remote_data only when asked', async () => {
    const p = await create({ name: 'Raw', custom_fields: { a: 1 } });
    expect((await projects().get!(p.id, {})).remote_data).toBeUndefined();
    expect((await projects().get!(p.id, { include_remote_data: true })).remote_data).toMatchObject({ id: 1, name: 'Raw', custom_fields: '{"a":1}' });
  });
});
