/**
 * The Pipedrive provider and the fake Pipedrive held against Pipedrive's official OpenAPI specs
 * (v1 and v2): every request the provider sends in a run of every operation goes to an operation
 * the spec has, with only the query parameters it declares (values within their schemas) and only
 * the body fields it declares (the body valid by its schema); every answer the fake gives fits the
 * operation's response schema. And the facts the provider's capabilities rest on are read from
 * the spec itself. Skipped, saying so in its name, where the specs are absent (test/helpers/pipedrive-spec.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAllPools } from '../../src/crm/http.js';
import type { CrmProvider } from '../../src/crm/provider.js';
import { createPipedriveProvider } from '../../src/providers/pipedrive/index.js';
import { DEFAULT_TOKEN, startFakePipedrive, type FakePipedrive } from '../fakes/pipedrive.js';
import { declaredProperties, loadSpecs, SPEC_DIR, SPEC_SKIPPED, type Specs } from '../helpers/pipedrive-spec.js';

type Full<T> = Required<NonNullable<T>>;
type Pd = {
  [K in 'pipelines' | 'stages' | 'deals' | 'accounts' | 'contacts' | 'users' | 'activities']: Full<CrmProvider[K]>;
} & { stats: Full<CrmProvider['stats']>; search: NonNullable<CrmProvider['search']> };

describe.skipIf(!SPEC_DIR)(`Pipedrive against its official OpenAPI specs${SPEC_SKIPPED}`, () => {
  let specs: Specs;
  let fake: FakePipedrive;

  beforeAll(async () => {
    specs = loadSpecs(SPEC_DIR!);
    fake = await startFakePipedrive();
    const pd = createPipedriveProvider({ apiToken: DEFAULT_TOKEN, baseUrl: fake.url, burstLimit: 200 }) as unknown as Pd;
    const o = {};
    const run = async <T>(w: Promise<{ execute(): Promise<T> }>) => (await w).execute();
    // Every operation the provider has, the new ones in each of their forms.
    await pd.pipelines.list({ limit: 5 }, o);
    await pd.pipelines.get('1', o);
    await run(pd.pipelines.create({ name: 'Spec pipeline', is_deal_probability_enabled: true }, o));
    await run(pd.pipelines.update('3', { name: 'Spec pipeline 2' }, o));
    await pd.stages.list({ pipeline_id: '1', sort_by: 'position', limit: 5 }, o);
    await pd.stages.get('2', o);
    await run(pd.stages.create({ pipeline_id: '3', name: 'Spec stage', probability: 50 }, o));
    await run(pd.stages.update('11', { name: 'Spec stage 2' }, o));
    await run(pd.stages.delete('11', o));
    await run(pd.pipelines.delete('3', o));
    await pd.deals.list({ pipeline_id: '1', status: 'open', owner_id: '1', account_id: '1', limit: 5 }, o);
    await pd.deals.get('1', o);
    const deal = await run(pd.deals.create({ name: 'Spec deal', stage_id: '2', owner_id: '4', account_id: '1', amount: 1000, currency: 'EUR', close_date: '2026-12-31' }, o));
    await run(pd.deals.update(deal.id, { status: 'won' }, o));
    await pd.stats.conversion({ pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-12-31' }, o);
    await pd.stats.movement({ pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-12-31', user_id: '2' }, o);

    await pd.accounts.list({ limit: 5 }, o);
    await pd.accounts.list({ name: 'Acme', owner_id: '1', limit: 5 }, o);
    await pd.accounts.get('1', o);
    const account = await run(pd.accounts.create({ name: 'Spec Co', domain: 'spec.example', owner_id: '2' }, o));
    await run(pd.accounts.update(account.id, { name: 'Spec Company', owner_id: '3' }, o));
    await pd.contacts.list({ account_id: '1', owner_id: '1', limit: 5 }, o);
    await pd.contacts.list({ name: 'Maria', limit: 5 }, o);
    await pd.contacts.list({ email: 'priya@globex.example', account_id: '2', limit: 5 }, o);
    await pd.contacts.get('1', o);
    const contact = await run(pd.contacts.create({ first_name: 'Spec', last_name: 'Person', emails: ['spec@example.com'], phones: ['+1 555 0100'], title: 'CEO', account_id: '1', owner_id: '1' }, o));
    await run(pd.contacts.update(contact.id, { last_name: 'People', emails: ['spec2@example.com'] }, o));
    await pd.users.list({ name: 'ana', limit: 5 }, o);
    await pd.activities.list({ deal_id: '1', limit: 3 }, o);
    const page = await pd.activities.list({ account_id: '1', limit: 2 }, o);
    await pd.activities.list({ account_id: '1', limit: 2, cursor: page.next_cursor! }, o);
    await pd.activities.list({ type: 'task', done: false, contact_id: '4', limit: 5 }, o);
    await pd.activities.list({ type: 'note', project_id: '2', limit: 5 }, o);
    const note = await run(pd.activities.create({ type: 'note', subject: 'Spec', body: 'A note.', deal_id: '1', account_id: '1', contact_id: '1' }, o));
    await run(pd.activities.update(note.id, { body: 'A changed note.' }, o));
    await pd.activities.get(note.id, o);
    const task = await run(pd.activities.create({ type: 'task', subject: 'Spec task', due_date: '2026-12-01', owner_id: '2', deal_id: '1', contact_id: '1', account_id: '1', body: 'x' }, o));
    await run(pd.activities.update(task.id, { done: true, type: 'call' }, o));
    await pd.activities.get(task.id, o);
    await pd.search({ query: 'Acme', types: ['deals', 'accounts', 'contacts', 'users'], limit: 5 }, o);
  });
  afterAll(async () => {
    await fake?.stop();
    await closeAllPools();
  });

  it('every request goes to an operation of the spec, with declared parameters and fields, valid by its schemas', () => {
    const paths = new Set(fake.server.requests.map((r) => `${r.method} ${r.path.replace(/\/\d+$/, '/{id}')}`));
    // The run reached every endpoint the new groups use.
    for (const p of [
      'GET /api/v2/organizations',
      'POST /api/v2/organizations',
      'PATCH /api/v2/organizations/{id}',
      'GET /api/v2/organizations/search',
      'GET /api/v2/persons',
      'POST /api/v2/persons',
      'PATCH /api/v2/persons/{id}',
      'GET /api/v2/persons/search',
      'GET /api/v2/activities',
      'POST /api/v2/activities',
      'PATCH /api/v2/activities/{id}',
      'GET /api/v2/deals/search',
      'GET /api/v1/notes',
      'POST /api/v1/notes',
      'PUT /api/v1/notes/{id}',
      'GET /api/v1/notes/{id}',
      'GET /api/v1/users',
    ]) {
      expect(paths, p).toContain(p);
    }
    expect(fake.server.requests.flatMap((r) => specs.requestProblems(r))).toEqual([]);
  });

  it("every answer of the fake fits the operation's response schema", () => {
    const checked = fake.answers.filter((a) => a.status === 200);
    expect(checked.length).toBeGreaterThan(40);
    expect(checked.flatMap((a) => specs.answerProblems(a.request, a.status, a.body))).toEqual([]);
  });

  it('the checks can fail: a request or an answer off the spec is caught', () => {
    const base = { rawUrl: '', headers: {}, query: {}, body: undefined };
    expect(specs.requestProblems({ ...base, method: 'GET', path: '/api/v2/activities', query: { type: 'task' } })).toEqual([
      'GET v2/activities: query parameter type is not in the spec',
    ]);
    expect(specs.requestProblems({ ...base, method: 'POST', path: '/api/v2/persons', body: { first_name: 'A' } })).toEqual([
      'POST v2/persons: body field first_name is not in the spec',
    ]);
    expect(specs.requestProblems({ ...base, method: 'GET', path: '/api/v2/notes' })).toEqual(['GET /api/v2/notes: no such operation in the spec']);
    const answer = fake.answers.find((a) => a.request.path === '/api/v2/organizations/1' && a.status === 200)!;
    expect(specs.answerProblems(answer.request, 200, { success: true, data: { id: 'one', name: 5 } }).length).toBe(1);
  });

  it('the capabilities rest on the spec: what Pipedrive can and cannot filter, write and search', () => {
    const { v1, v2 } = specs.specs;
    const params = (op: Record<string, any>) => (op.parameters ?? []).map((p: { name: string }) => p.name);
    const body = (op: Record<string, any>) => declaredProperties(op.requestBody.content['application/json'].schema);
    // Activities: no type or project filter (type and project_id are matched or refused here).
    expect(params(v2.paths['/activities'].get)).toEqual(expect.arrayContaining(['deal_id', 'org_id', 'person_id', 'done', 'sort_by', 'cursor']));
    expect(params(v2.paths['/activities'].get)).not.toContain('type');
    expect(params(v2.paths['/activities'].get)).not.toContain('project_id');
    expect(body(v2.paths['/activities'].post)).toEqual(expect.arrayContaining(['subject', 'type', 'due_date', 'done', 'note', 'project_id']));
    // Notes: v1 only, offset paging, filterable by project.
    expect(v2.paths['/notes']).toBeUndefined();
    expect(params(v1.paths['/notes'].get)).toEqual(expect.arrayContaining(['deal_id', 'org_id', 'person_id', 'project_id', 'start', 'limit', 'sort']));
    expect(body(v1.paths['/notes'].post)).not.toContain('subject');
    // Organizations: a website, and an industry that is an option id, not text.
    expect(v2.paths['/organizations'].post.requestBody.content['application/json'].schema.properties.industry.type).toBe('integer');
    expect(body(v2.paths['/organizations'].post)).toContain('website');
    expect(body(v2.paths['/organizations'].post)).not.toContain('domain');
    // Persons: one name written, first and last name only read.
    expect(body(v2.paths['/persons'].post)).not.toContain('first_name');
    expect(body(v2.paths['/persons'].post)).toEqual(expect.arrayContaining(['name', 'emails', 'phones', 'job_title', 'org_id', 'owner_id']));
    // Search: per type for deals, organizations and persons; none for pipelines or stages.
    for (const p of ['/deals/search', '/organizations/search', '/persons/search']) expect(v2.paths[p]?.get, p).toBeDefined();
    expect(Object.keys(v2.paths).filter((p) => /^\/(pipelines|stages)\/search/.test(p))).toEqual([]);
    // Token costs the client counts.
    expect(v2.paths['/organizations/search'].get['x-token-cost']).toBe(20);
    expect(v2.paths['/activities'].get['x-token-cost']).toBe(10);
    expect(v1.paths['/notes'].get['x-token-cost']).toBe(20);
    expect(v1.paths['/notes'].post['x-token-cost']).toBe(10);
    expect(v1.paths['/users'].get['x-token-cost']).toBe(20);
  });
});
