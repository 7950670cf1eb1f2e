/**
 * Truto provider contract: real HTTP on 127.0.0.1 against the stateful fake of Truto's unified
 * CRM API. Asserts the exact wire (method, path, query, body, headers) of every operation, the
 * mapping both ways, the per-integration project rules (seeds 003/004), idempotency, retries and
 * error messages. No timed assertions: retry waits are Retry-After 0 or refused up front.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkWrite, requireOperation, requireStats, supportedOperations } from '../../src/crm/capabilities.js';
import { CrmError, isCrmError } from '../../src/crm/errors.js';
import { closeAllPools } from '../../src/crm/http.js';
import { Deal, Pipeline, Project, Stage } from '../../src/crm/model.js';
import type { CrmProvider, PreparedWrite, ProjectInput } from '../../src/crm/provider.js';
import { createTrutoProvider, type TrutoIntegration } from '../../src/providers/truto/index.js';
import { OPPORTUNITY_UNUSED_FIELDS } from '../../src/providers/truto/map.js';
import { FAKE_TRUTO_ACCOUNT, FAKE_TRUTO_TOKEN, startFakeTruto, type FakeTruto } from '../fakes/truto.js';

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

function truto(integration?: TrutoIntegration, token = FAKE_TRUTO_TOKEN): CrmProvider {
  return createTrutoProvider({
    apiToken: token,
    integratedAccountId: FAKE_TRUTO_ACCOUNT,
    baseUrl: fake.url,
    integration,
    // Retries without real waits; the fake's Retry-After values drive the 429 tests.
    http: { retryBaseMs: 0 },
  });
}

const ACCOUNT_Q = `integrated_account_id=${FAKE_TRUTO_ACCOUNT}`;
const LEAN = `${ACCOUNT_Q}&truto_ignore_remote_data=true`;

/** Runs a call expected to fail and returns its CrmError. */
async function failure(p: Promise<unknown> | (() => unknown)): Promise<CrmError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (!isCrmError(e)) throw e;
    expect(e.message).not.toContain(FAKE_TRUTO_TOKEN);
    return e;
  }
  throw new Error('expected a CrmError');
}

function only<T>(xs: T[]): T {
  expect(xs).toHaveLength(1);
  return xs[0];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// ---------------------------------------------------------------------------------------------

describe('provider identity', () => {
  it('is a remote truto provider labelled by integration, without stats', () => {
    const p = truto('insightly');
    expect(p.kind).toBe('truto');
    expect(p.label).toBe('Truto (Insightly)');
    expect(p.remote).toBe(true);
    expect(truto().label).toBe('Truto');
    expect(p.stats).toBeUndefined();
    expect(p.capabilities.stats).toBeUndefined();
    const e = (() => {
      try {
        requireStats(p, 'conversion');
      } catch (err) {
        return err as CrmError;
      }
      throw new Error('expected unsupported');
    })();
    expect(e.kind).toBe('unsupported');
    expect(e.message).toContain('Truto (Insightly) does not support pipeline conversion statistics');
  });

  it('refuses bad configuration with a clear sentence', () => {
    expect(() => createTrutoProvider({ apiToken: '', integratedAccountId: 'x' })).toThrow(/API token/);
    expect(() => createTrutoProvider({ apiToken: 't', integratedAccountId: ' ' })).toThrow(/integrated account/);
    expect(() =>
      createTrutoProvider({ apiToken: 't', integratedAccountId: 'x', integration: 'hubspot' as TrutoIntegration }),
    ).toThrow(/capsule, insightly, pipeliner, planhat, teamleader/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('reads: exact requests and mapping', () => {
  it('lists stages with filters as Truto query options, and sorts them itself (no sort_by upstream)', async () => {
    const p = truto();
    const page = await p.stages!.list!(
      { pipeline_id: '1', status: 'active', name: 'Proposal', sort_by: 'position', limit: 50 },
      {},
    );
    const r = only(fake.server.requests);
    expect(r.method).toBe('GET');
    expect(r.path).toBe('/unified/crm/stages');
    // Seed 000 documents sort_by for four unnamed integrations only: it is never sent.
    expect(r.query).toEqual({
      integrated_account_id: FAKE_TRUTO_ACCOUNT,
      pipeline: { id: '1' },
      name: 'Proposal',
      status: 'active',
      limit: '100',
      truto_ignore_remote_data: 'true',
    });
    expect(r.rawUrl).toContain('pipeline%5Bid%5D=1');
    expect(r.headers.authorization).toBe(`Bearer ${FAKE_TRUTO_TOKEN}`);
    expect(r.headers.accept).toBe('application/json');
    expect(r.body).toBeUndefined();
    expect(page).toEqual({
      items: [
        {
          id: '13',
          name: 'Proposal',
          pipeline: { id: '1', name: 'Sales' },
          position: 3,
          status: 'active',
          created_at: '2026-01-01T02:00:00.000Z',
          updated_at: '2026-01-01T12:00:00.000Z',
        },
      ],
      next_cursor: null,
    });
    for (const s of page.items) Stage.parse(s);
  });

  it('asks for remote_data only when include_remote_data is true, and maps it through', async () => {
    const p = truto();
    const s = await p.stages!.get!('11', { include_remote_data: true });
    const r = only(fake.server.requests);
    expect(r.path).toBe('/unified/crm/stages/11');
    expect(r.query).toEqual({ integrated_account_id: FAKE_TRUTO_ACCOUNT });
    expect(s.remote_data).toEqual({ id: 11, name: 'Lead In', order_nr: 1, pipeline_id: 1, active_flag: true });

    fake.server.reset();
    const lean = await p.stages!.get!('11', {});
    expect(only(fake.server.requests).rawUrl).toBe(`/unified/crm/stages/11?${LEAN}`);
    expect(lean.remote_data).toBeUndefined();
  });

  it('passes remote_query[...] through in qs bracket syntax', async () => {
    const p = truto();
    await p.deals!.list!({ limit: 5 }, { remote_query: { foo: 'bar', filter: { owner: 'u1' } } });
    const r = only(fake.server.requests);
    expect(r.rawUrl).toContain('remote_query%5Bfoo%5D=bar');
    expect(r.rawUrl).toContain('remote_query%5Bfilter%5D%5Bowner%5D=u1');
    expect(r.query.remote_query).toEqual({ foo: 'bar', filter: { owner: 'u1' } });
    expect(fake.state.remoteQueries).toEqual([{ foo: 'bar', filter: { owner: 'u1' } }]);
  });

  it('lists deals (opportunities) with filters and truto_exclude_fields[] for fields a Deal never shows', async () => {
    const p = truto();
    const page = await p.deals!.list!({ pipeline_id: '2', stage_id: '16', status: 'open', owner_id: 'u2', limit: 10 }, {});
    const r = only(fake.server.requests);
    expect(r.path).toBe('/unified/crm/opportunities');
    expect(r.query).toEqual({
      integrated_account_id: FAKE_TRUTO_ACCOUNT,
      pipeline: { id: '2' },
      stage: { id: '16' },
      status: 'open',
      owner: { id: 'u2' },
      limit: '10',
      truto_ignore_remote_data: 'true',
      truto_exclude_fields: [...OPPORTUNITY_UNUSED_FIELDS],
    });
    for (const f of OPPORTUNITY_UNUSED_FIELDS) expect(r.rawUrl).toContain(`truto_exclude_fields%5B%5D=${f}`);
    expect(page.items.length).toBeGreaterThan(0);
    for (const d of page.items) {
      Deal.parse(d);
      expect(d).toMatchObject({ status: 'open', pipeline: { id: '2', name: 'Partnerships' }, stage: { id: '16' }, owner: { id: 'u2' } });
    }
  });

  it('maps an opportunity to a Deal field by field', async () => {
    const d = await truto().deals!.get!('107', { include_remote_data: true });
    expect(d).toEqual({
      id: '107',
      name: 'Deal 8 - Umbrella',
      status: 'won',
      pipeline: { id: '2', name: 'Partnerships' },
      stage: { id: '18', name: 'Signed' },
      amount: 2750,
      currency: 'GBP',
      owner: { id: 'u2', name: 'Grace Hopper' },
      account: { id: 'a4', name: 'Umbrella' },
      close_date: '2026-08-15',
      created_at: '2026-01-01T07:00:00.000Z',
      updated_at: '2026-01-02T03:00:00.000Z',
      remote_data: expect.objectContaining({ id: 107, title: 'Deal 8 - Umbrella', value: 2750, stage_id: 18 }),
    });
    expect(only(fake.server.requests).rawUrl).toBe(
      `/unified/crm/opportunities/107?${ACCOUNT_Q}&${OPPORTUNITY_UNUSED_FIELDS.map((f) => `truto_exclude_fields%5B%5D=${f}`).join('&')}`,
    );
  });

  it('paginates deals with limit + next_cursor across several pages', async () => {
    const p = truto();
    const ids: string[] = [];
    let cursor: string | undefined;
    const cursorsSent: Array<unknown> = [];
    for (let i = 0; i < 10; i++) {
      const page = await p.deals!.list!({ limit: 25, cursor }, {});
      ids.push(...page.items.map((d) => d.id));
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    for (const r of fake.server.requests) cursorsSent.push(r.query.next_cursor);
    expect(fake.server.requests).toHaveLength(3);
    expect(cursorsSent[0]).toBeUndefined();
    expect(typeof cursorsSent[1]).toBe('string');
    expect(cursorsSent[2]).not.toBe(cursorsSent[1]);
    expect(fake.server.requests.map((r) => r.query.limit)).toEqual(['25', '25', '25']);
    expect(ids).toHaveLength(60);
    expect(new Set(ids).size).toBe(60);
  });

  it('lists projects with filters and maps every field', async () => {
    const p = truto('capsule');
    const page = await p.projects!.list!(
      { name: 'Project 1', status: 'open', owner_id: 'u1', account_id: 'a1', stage_id: 'ps1', limit: 20 },
      {},
    );
    expect(only(fake.server.requests).query).toEqual({
      integrated_account_id: FAKE_TRUTO_ACCOUNT,
      name: 'Project 1',
      status: 'open',
      owner: { id: 'u1' },
      account: { id: 'a1' },
      stage: { id: 'ps1' },
      limit: '20',
      truto_ignore_remote_data: 'true',
    });
    expect(page.items).toEqual([
      {
        id: 'pr-001',
        name: 'Project 1',
        description: 'Delivery project 1',
        status: 'open',
        amount: 5000,
        currency: 'EUR',
        close_date: '2026-01-28',
        owner: { id: 'u1', name: 'Ada Lovelace' },
        account: { id: 'a1', name: 'Acme Corp' },
        contact: [{ id: 'c0', name: 'Contact 0' }],
        opportunity: [{ id: '100', name: 'Deal 1' }],
        stage: { id: 'ps1', name: 'Brief' },
        tags: [{ id: 't1', name: 'vip' }],
        custom_fields: { region: 'AMER' },
        last_activity_at: '2026-01-03T02:00:00.000Z',
        created_at: '2026-01-01T00:00:00.000Z',
        updated_at: '2026-01-02T06:00:00.000Z',
      },
    ]);
    Project.parse(page.items[0]);
  });

  it('encodes ids in paths and turns a remote 404 into a not_found naming the list tool', async () => {
    const e = await failure(truto().projects!.get!('a/b c', {}));
    expect(only(fake.server.requests).path).toBe('/unified/crm/projects/a%2Fb%20c');
    expect(e.kind).toBe('not_found');
    expect(e.message).toContain("No project with id 'a/b c'");
    expect(e.message).toContain('list_projects');
  });

  it('get_pipeline returns ordered stages and open deals per stage, fetched in parallel', async () => {
    const p = truto();
    const pipeline = await p.pipelines!.get!('1', {});
    Pipeline.parse(pipeline);
    const paths = fake.server.requests.map((r) => `${r.method} ${r.path}`).sort();
    expect(paths).toEqual(['GET /unified/crm/opportunities', 'GET /unified/crm/pipelines/1']);
    const opp = fake.requestsFor('GET', 'opportunities')[0];
    expect(opp.query).toMatchObject({ pipeline: { id: '1' }, status: 'open', limit: '100', truto_ignore_remote_data: 'true' });

    // Expected figures straight from the fake's state.
    const open = [...fake.state.records.opportunities.values()].filter(
      (o) => (o.pipeline as { id: string }).id === '1' && o.status === 'open',
    );
    expect(pipeline.open_deals?.count).toBe(open.length);
    expect(pipeline.stages?.map((s) => [s.position, s.name])).toEqual([
      [1, 'Lead In'],
      [2, 'Qualified'],
      [3, 'Proposal'],
      [4, 'Negotiation'],
      [5, 'Contract Sent'],
    ]);
    const first = pipeline.stages![0] as Stage & { open_deals?: { count: number; values: Record<string, number> } };
    const inFirst = open.filter((o) => (o.stage as { id: string }).id === first.id);
    expect(first.open_deals?.count).toBe(inFirst.length);
    const usd = inFirst.filter((o) => o.currency === 'USD').reduce((a, o) => a + (o.amount as number), 0);
    expect(first.open_deals?.values.USD ?? 0).toBe(usd);
    expect(first.pipeline).toEqual({ id: '1', name: 'Sales' });
  });

  it('get_pipeline lists the stages when the pipeline record does not embed them', async () => {
    delete fake.state.records.pipelines.get('2')!.stages;
    const pipeline = await truto().pipelines!.get!('2', {});
    const stageReq = only(fake.requestsFor('GET', 'stages'));
    expect(stageReq.query).toMatchObject({ pipeline: { id: '2' }, limit: '100' });
    expect(pipeline.stages?.map((s) => s.name)).toEqual(['Intro', 'Evaluation', 'Signed']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('writes: prepared request equals what is sent', () => {
  async function run<T>(w: PreparedWrite<T>): Promise<T> {
    return w.execute();
  }

  it('creates a project: dry run sends nothing, execute sends exactly the prepared request', async () => {
    const p = truto('insightly');
    const input: ProjectInput = {
      name: 'Rollout',
      status: 'in progress',
      description: 'EU rollout',
      close_date: '2026-12-31',
      owner: { id: 'u2' },
      tags: [{ id: 't1' }],
      custom_fields: { region: 'EMEA' },
      remote_data: { CATEGORY_ID: 7 },
    };
    checkWrite(p, 'projects', 'create', input);
    const w = await p.projects!.create!(input, {});
    expect(w.request).toEqual({
      method: 'POST',
      path: `/unified/crm/projects?${LEAN}`,
      body: {
        name: 'Rollout',
        status: 'in progress',
        description: 'EU rollout',
        close_date: '2026-12-31',
        owner: { id: 'u2' },
        tags: [{ id: 't1' }],
        custom_fields: { region: 'EMEA' },
        remote_data: { CATEGORY_ID: 7 },
      },
    });
    expect(fake.server.requests).toHaveLength(0); // preparing is the dry run

    const project = await run(w);
    // The owner is read first (unknown ids are refused before the write), then exactly the prepared request.
    expect(fake.server.requests.map((x) => `${x.method} ${x.rawUrl}`)[0]).toBe(`GET /unified/crm/users/u2?${LEAN}`);
    const r = only(fake.server.requests.slice(1));
    expect(r.method).toBe(w.request.method);
    expect(r.rawUrl).toBe(w.request.path);
    expect(r.body).toEqual(w.request.body);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['idempotency-key']).toMatch(UUID);
    expect(project).toMatchObject({
      name: 'Rollout',
      status: 'in progress',
      owner: { id: 'u2', name: 'Grace Hopper' },
      close_date: '2026-12-31',
    });
    expect(fake.state.records.projects.get(project.id)?.remote_data).toMatchObject({ CATEGORY_ID: 7 });
    Project.parse(project);
  });

  it('shows the Idempotency-Key in the dry run only when the caller chose it, and honours it', async () => {
    const p = truto('capsule');
    const before = fake.state.records.projects.size;
    const w1 = await p.projects!.create!({ name: 'Once' }, { idempotency_key: 'create-once-1' });
    expect(w1.request).toEqual({
      method: 'POST',
      path: `/unified/crm/projects?${LEAN}`,
      body: { name: 'Once' },
      headers: { 'Idempotency-Key': 'create-once-1' },
    });
    const first = await w1.execute();
    const w2 = await p.projects!.create!({ name: 'Once' }, { idempotency_key: 'create-once-1' });
    const second = await w2.execute();
    expect(second).toEqual(first);
    expect(fake.state.records.projects.size).toBe(before + 1);
    const posts = fake.requestsFor('POST', 'projects');
    expect(posts.map((r) => r.headers['idempotency-key'])).toEqual(['create-once-1', 'create-once-1']);

    // Same key, other request: Truto refuses rather than replaying the wrong record.
    const w3 = await p.projects!.create!({ name: 'Other' }, { idempotency_key: 'create-once-1' });
    const e = await failure(w3.execute());
    expect(e.kind).toBe('conflict');
    expect(fake.state.records.projects.size).toBe(before + 1);
  });

  it('a generated key is per prepared write: re-executing it creates nothing twice', async () => {
    const p = truto();
    const before = fake.state.records.projects.size;
    const w = await p.projects!.create!({ name: 'Twice?' }, {});
    expect(w.request).not.toHaveProperty('headers');
    const a = await w.execute();
    const b = await w.execute();
    expect(b.id).toBe(a.id);
    expect(fake.state.records.projects.size).toBe(before + 1);
    const [k1, k2] = fake.requestsFor('POST', 'projects').map((r) => r.headers['idempotency-key']);
    expect(k1).toBe(k2);
    // A new prepared write is a new intent, so a new key.
    await (await p.projects!.create!({ name: 'Twice?' }, {})).execute();
    expect(fake.state.records.projects.size).toBe(before + 2);
  });

  it('updates a project with only the given fields and reports it as read back', async () => {
    const p = truto('capsule');
    const patch: ProjectInput = { status: 'closed', description: 'Wrapped up' };
    checkWrite(p, 'projects', 'update', patch);
    const w = await p.projects!.update!('pr-002', patch, { include_remote_data: true });
    expect(w.request).toEqual({
      method: 'PATCH',
      path: `/unified/crm/projects/pr-002?${ACCOUNT_Q}`,
      body: { status: 'closed', description: 'Wrapped up' },
    });
    const project = await w.execute();
    const r = only(fake.server.requests);
    expect([r.method, r.rawUrl, r.body]).toEqual(['PATCH', w.request.path, w.request.body]);
    expect(project).toMatchObject({ id: 'pr-002', name: 'Project 2', status: 'closed', description: 'Wrapped up' });
    expect(project.remote_data).toBeDefined();
  });

  it('reads the record back with a GET when the write answer is partial', async () => {
    fake.state.partialWrites.add('projects');
    const p = truto('teamleader');
    const w = await p.projects!.create!({ name: 'Partial answer' }, {});
    const project = await w.execute();
    expect(fake.server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /unified/crm/projects',
      `GET /unified/crm/projects/${project.id}`,
    ]);
    expect(project.name).toBe('Partial answer');
    expect(fake.server.requests[1].query).toEqual({ integrated_account_id: FAKE_TRUTO_ACCOUNT, truto_ignore_remote_data: 'true' });
  });

  it('deletes a project: reads its name, sends DELETE, returns {id, name}', async () => {
    const p = truto('insightly');
    const w = await p.projects!.delete!('pr-003', {});
    expect(w.request).toEqual({ method: 'DELETE', path: `/unified/crm/projects/pr-003?${LEAN}` });
    expect(fake.server.requests).toHaveLength(0);
    const ref = await w.execute();
    expect(ref).toEqual({ id: 'pr-003', name: 'Project 3' });
    expect(fake.server.requests.map((r) => `${r.method} ${r.rawUrl}`)).toEqual([
      `GET /unified/crm/projects/pr-003?${LEAN}`,
      `DELETE /unified/crm/projects/pr-003?${LEAN}`,
    ]);
    expect(fake.requestsFor('DELETE')[0].body).toBeUndefined();
    // Truto documents Idempotency-Key for POST and PATCH only.
    expect(fake.requestsFor('DELETE')[0].headers['idempotency-key']).toBeUndefined();
    expect(fake.state.records.projects.has('pr-003')).toBe(false);

    const e = await failure(async () => (await p.projects!.delete!('pr-003', {})).execute());
    expect(e.kind).toBe('not_found');
    expect(fake.requestsFor('DELETE')).toHaveLength(1); // nothing sent for a record that is gone
  });

  it('creates, moves and deletes a deal with Truto opportunity bodies', async () => {
    const p = truto();
    const w = await p.deals!.create!(
      { name: 'Big one', pipeline_id: '1', stage_id: '12', amount: 9000, currency: 'EUR', owner_id: 'u3', account_id: 'a2', close_date: '2026-06-30' },
      { idempotency_key: 'deal-big-one' },
    );
    expect(w.request).toEqual({
      method: 'POST',
      path: `/unified/crm/opportunities?${LEAN}`,
      body: {
        name: 'Big one',
        amount: 9000,
        currency: 'EUR',
        close_date: '2026-06-30',
        stage: { id: '12' },
        pipeline: { id: '1' },
        owner: { id: 'u3' },
        account: { id: 'a2' },
      },
      headers: { 'Idempotency-Key': 'deal-big-one' },
    });
    const deal = await w.execute();
    expect(deal).toMatchObject({
      name: 'Big one',
      status: 'open',
      pipeline: { id: '1', name: 'Sales' },
      stage: { id: '12', name: 'Qualified' },
      amount: 9000,
      currency: 'EUR',
      owner: { id: 'u3', name: 'Alan Turing' },
      account: { id: 'a2', name: 'Globex' },
      close_date: '2026-06-30',
    });
    Deal.parse(deal);
    // Writes never carry truto_exclude_fields: the answer is the record as read back.
    expect(fake.requestsFor('POST')[0].query).not.toHaveProperty('truto_exclude_fields');

    const move = await p.deals!.update!(deal.id, { stage_id: '16', pipeline_id: '2', status: 'won' }, {});
    expect(move.request.body).toEqual({ status: 'won', stage: { id: '16' }, pipeline: { id: '2' } });
    const moved = await move.execute();
    expect(moved).toMatchObject({ status: 'won', pipeline: { id: '2', name: 'Partnerships' }, stage: { id: '16', name: 'Intro' } });

    const del = await (await p.deals!.delete!(deal.id, {})).execute();
    expect(del).toEqual({ id: deal.id, name: 'Big one' });
  });

  it('creates, updates and deletes stages and pipelines', async () => {
    const p = truto();
    const pw = await p.pipelines!.create!({ name: 'Expansion' }, {});
    expect(pw.request).toEqual({ method: 'POST', path: `/unified/crm/pipelines?${LEAN}`, body: { name: 'Expansion' } });
    const pipeline = await pw.execute();
    expect(pipeline).toMatchObject({ name: 'Expansion' });

    const sw = await p.stages!.create!({ pipeline_id: pipeline.id, name: 'Scoping', position: 1 }, {});
    expect(sw.request).toEqual({
      method: 'POST',
      path: `/unified/crm/stages?${LEAN}`,
      body: { name: 'Scoping', position: 1, pipeline: { id: pipeline.id } },
    });
    const stage = await sw.execute();
    expect(stage).toMatchObject({ name: 'Scoping', position: 1, status: 'active', pipeline: { id: pipeline.id, name: 'Expansion' } });

    const su = await p.stages!.update!(stage.id, { name: 'Scoping & sizing' }, {});
    expect(su.request).toEqual({ method: 'PATCH', path: `/unified/crm/stages/${stage.id}?${LEAN}`, body: { name: 'Scoping & sizing' } });
    expect((await su.execute()).name).toBe('Scoping & sizing');

    const got = await p.pipelines!.get!(pipeline.id, {});
    expect(got.stages?.map((s) => s.name)).toEqual(['Scoping & sizing']);

    const pu = await p.pipelines!.update!(pipeline.id, { name: 'Expansion 2' }, {});
    expect(pu.request.body).toEqual({ name: 'Expansion 2' });
    expect((await pu.execute()).name).toBe('Expansion 2');

    expect(await (await p.stages!.delete!(stage.id, {})).execute()).toEqual({ id: stage.id, name: 'Scoping & sizing' });
    expect(await (await p.pipelines!.delete!(pipeline.id, {})).execute()).toEqual({ id: pipeline.id, name: 'Expansion 2' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('capabilities: seeds 003 (create) and 004 (update), per integration', () => {
  // Transcribed independently from the seeds, as [field, create, update] with 'r' required,
  // 's' supported, '-' not. remote_data is accepted everywhere.
  const MATRIX: Record<TrutoIntegration, Record<string, [string, string]>> = {
    capsule: {
      name: ['r', 's'], account: ['s', 's'], amount: ['-', '-'], close_date: ['s', 's'], contact: ['s', 's'],
      currency: ['-', '-'], custom_fields: ['s', 's'], description: ['s', 's'], opportunity: ['s', 's'],
      owner: ['s', '-'], status: ['s', 's'], tags: ['s', 's'], stage: ['-', '-'],
    },
    insightly: {
      name: ['r', 's'], account: ['-', '-'], amount: ['-', '-'], close_date: ['s', 's'], contact: ['-', '-'],
      currency: ['-', '-'], custom_fields: ['s', 's'], description: ['s', 's'], opportunity: ['s', '-'],
      owner: ['s', 's'], status: ['r', 's'], tags: ['s', '-'], stage: ['-', '-'],
    },
    pipeliner: {
      name: ['r', 's'], account: ['s', 's'], amount: ['-', '-'], close_date: ['r', 's'], contact: ['s', '-'],
      currency: ['-', '-'], custom_fields: ['-', '-'], description: ['s', 's'], opportunity: ['-', '-'],
      owner: ['r', 's'], status: ['s', '-'], tags: ['-', '-'], stage: ['-', '-'],
    },
    planhat: {
      name: ['r', 's'], account: ['r', 's'], amount: ['s', 's'], close_date: ['-', '-'], contact: ['-', '-'],
      currency: ['s', 's'], custom_fields: ['s', 's'], description: ['-', '-'], opportunity: ['-', '-'],
      owner: ['-', '-'], status: ['-', '-'], tags: ['-', '-'], stage: ['-', '-'],
    },
    teamleader: {
      name: ['r', 'r'], account: ['-', 's'], amount: ['-', 's'], close_date: ['-', '-'], contact: ['-', 's'],
      currency: ['-', 's'], custom_fields: ['-', '-'], description: ['-', 's'], opportunity: ['-', 's'],
      owner: ['-', 's'], status: ['-', '-'], tags: ['-', '-'], stage: ['-', '-'],
    },
  };

  for (const [integration, fields] of Object.entries(MATRIX) as Array<[TrutoIntegration, Record<string, [string, string]>]>) {
    it(`${integration}: support and required flags match the seeds`, () => {
      const caps = truto(integration).capabilities.projects!;
      for (const [op, col] of [['create', 0], ['update', 1]] as const) {
        const rules = caps[op]!;
        for (const [field, flags] of Object.entries(fields)) {
          const flag = flags[col];
          expect(rules.supported.includes(field), `${integration} ${op} ${field} supported`).toBe(flag !== '-');
          expect((rules.required ?? []).includes(field), `${integration} ${op} ${field} required`).toBe(flag === 'r');
        }
        expect(rules.supported).toContain('remote_data');
      }
    });
  }

  it('Insightly create without status names the allowed statuses', () => {
    const e = (() => {
      try {
        checkWrite(truto('insightly'), 'projects', 'create', { name: 'No status' });
      } catch (err) {
        return err as CrmError;
      }
      throw new Error('expected validation');
    })();
    expect(e.kind).toBe('validation');
    expect(e.message).toBe(
      'Truto (Insightly) requires `status` to create a project; allowed status: not started, in progress, deferred, cancelled, abandoned, completed.',
    );
  });

  it('Capsule refuses status completed and lists open, closed', () => {
    expect(() => checkWrite(truto('capsule'), 'projects', 'create', { name: 'x', status: 'completed' })).toThrow(
      "Truto (Capsule) does not accept status 'completed' for a project; allowed: open, closed.",
    );
    expect(() => checkWrite(truto('capsule'), 'projects', 'update', { status: 'in progress' })).toThrow(/allowed: open, closed/);
    expect(() => checkWrite(truto('capsule'), 'projects', 'update', { status: 'closed' })).not.toThrow();
  });

  it('Teamleader update without name is refused; Teamleader has no project delete', () => {
    const tl = truto('teamleader');
    expect(() => checkWrite(tl, 'projects', 'update', { description: 'x' })).toThrow(
      'Truto (Teamleader) requires `name` to update a project.',
    );
    expect(() => checkWrite(tl, 'projects', 'create', { name: 'x', description: 'y' })).toThrow(
      /does not support `description` when creating a project/,
    );
    expect(() => requireOperation(tl, 'projects', 'delete')).toThrow(/does not support deleting projects/);
    expect(supportedOperations(tl.capabilities).projects).toEqual(['list', 'get', 'create', 'update']);
  });

  it('Planhat and Pipeliner required fields', () => {
    expect(() => checkWrite(truto('planhat'), 'projects', 'create', { name: 'x' })).toThrow(
      'Truto (Planhat) requires `account` to create a project.',
    );
    expect(() => checkWrite(truto('pipeliner'), 'projects', 'create', { name: 'x' })).toThrow(
      'Truto (Pipeliner) requires `close_date` and `owner` to create a project.',
    );
  });

  it('without an integration every unified project field is accepted and Truto decides', () => {
    const p = truto();
    const all: ProjectInput = {
      name: 'x', description: 'd', status: 'deferred', amount: 1, currency: 'EUR', close_date: '2026-01-01',
      owner: { id: 'u1' }, account: { id: 'a1' }, stage: { id: 's' }, contact: [{ id: 'c' }], opportunity: [{ id: 'o' }],
      tags: [{ id: 't' }], custom_fields: {}, remote_data: {},
    };
    expect(() => checkWrite(p, 'projects', 'create', all)).not.toThrow();
    expect(() => checkWrite(p, 'projects', 'update', { ...all, name: undefined })).not.toThrow();
    expect(() => checkWrite(p, 'projects', 'create', { description: 'no name' })).toThrow(/requires `name`/);
  });

  it('stages, pipelines and deals declare what Truto offers', () => {
    const caps = truto('pipeliner').capabilities;
    expect(supportedOperations(caps)).toEqual({
      pipelines: ['list', 'get', 'create', 'update', 'delete'],
      stages: ['list', 'get', 'create', 'update', 'delete'],
      // No delete_deal tool exists, so no delete is advertised.
      deals: ['list', 'get', 'create', 'update'],
      projects: ['list', 'get', 'create', 'update', 'delete'],
      accounts: ['list', 'get', 'create', 'update'],
      contacts: ['list', 'get', 'create', 'update'],
      users: ['list', 'get'],
      // Pipeliner: notes (list, create, update) and engagements (list) at Truto; no tasks.
      activities: ['list', 'get', 'create', 'update'],
    });
    const p = truto();
    expect(() => checkWrite(p, 'stages', 'create', { name: 'x', color: 'red' })).toThrow(/does not support `color`/);
    expect(() => checkWrite(p, 'pipelines', 'create', { name: 'x', is_deal_probability_enabled: true })).toThrow(
      /does not support `is_deal_probability_enabled`/,
    );
    expect(() => checkWrite(p, 'deals', 'create', { name: 'x', status: 'pending' })).toThrow(/allowed: open, won, lost/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('failures, retries and idempotency', () => {
  it('retries a read that met a 429, honouring Retry-After', async () => {
    fake.rateLimit(1, 0);
    const page = await truto().stages!.list!({ limit: 5 }, {});
    expect(page.items).toHaveLength(5);
    expect(fake.server.requests).toHaveLength(2);
    expect(fake.server.requests[0].rawUrl).toBe(fake.server.requests[1].rawUrl);
  });

  it("a 429 asking for longer than the retry budget says when to retry, without waiting", async () => {
    fake.rateLimit(1, 10);
    const e = await failure(truto().projects!.list!({ limit: 5 }, {}));
    expect(e.kind).toBe('rate_limited');
    expect(e.retryAfterSeconds).toBe(10);
    expect(e.message).toMatch(/Truto is rate limiting this token; retry in about 10 s/);
    expect(fake.server.requests).toHaveLength(1);
  });

  // Decision: a create that meets a 5xx is retried, because every Truto write carries an
  // Idempotency-Key and Truto replays the first answer for a repeated key. If the first attempt
  // did commit, the retry returns that record; if it did not, the retry creates it once.
  it('a create whose answer is lost in a 500 after committing is retried with the same key: one record', async () => {
    fake.state.failAfterCommit.push({ status: 500, resource: 'projects' });
    const before = fake.state.records.projects.size;
    const p = truto('planhat');
    const project = await (await p.projects!.create!({ name: 'Lost answer', account: { id: 'a3' } }, {})).execute();
    const posts = fake.requestsFor('POST', 'projects');
    expect(posts).toHaveLength(2);
    expect(posts[0].headers['idempotency-key']).toMatch(UUID);
    expect(posts[1].headers['idempotency-key']).toBe(posts[0].headers['idempotency-key']);
    expect(fake.state.records.projects.size).toBe(before + 1);
    expect(project).toMatchObject({ name: 'Lost answer', account: { id: 'a3', name: 'Initech' } });
  });

  it('a create that meets a 500 before committing is retried with the key and created once', async () => {
    fake.server.inject({ kind: 'status', status: 502, body: { statusCode: 502, error: 'Bad Gateway', message: 'upstream hiccup' } }, {
      match: (r) => r.method === 'POST',
    });
    const before = fake.state.records.opportunities.size;
    const deal = await (await truto().deals!.create!({ name: 'After a 502', stage_id: '11' }, {})).execute();
    expect(fake.requestsFor('POST')).toHaveLength(2);
    expect(fake.state.records.opportunities.size).toBe(before + 1);
    expect(deal.stage).toEqual({ id: '11', name: 'Lead In' });
  });

  it('a write that keeps failing with 5xx says a retry with the same key is safe', async () => {
    fake.server.inject(
      { kind: 'status', status: 503, body: { statusCode: 503, error: 'Service Unavailable', message: 'Integrated account is blocked' } },
      { times: 10, match: (r) => r.method === 'PATCH' },
    );
    const e = await failure(async () => (await truto().projects!.update!('pr-001', { name: 'x' }, { idempotency_key: 'k-503' })).execute());
    expect(e.kind).toBe('upstream');
    expect(e.message).toContain('Integrated account is blocked');
    expect(e.message).toContain('Retrying with the same idempotency key is safe');
  });

  it("surfaces truto_error_insight's missing required body fields in the message", async () => {
    fake.state.requiredOnCreate.projects = ['name', 'status'];
    // No integration: nothing is checked locally, so the remote CRM's answer is what the agent reads.
    const e = await failure(async () => (await truto().projects!.create!({ name: 'x' }, {})).execute());
    expect(e.kind).toBe('validation');
    expect(e.status).toBe(422);
    expect(e.message).toBe(
      'Truto rejected the request (422): the CRM behind Truto says: missing required body field status; status is required.',
    );

    const e2 = await failure(async () => (await truto('insightly').projects!.create!({ name: 'x' }, {})).execute());
    expect(e2.message).toContain('Truto (Insightly) rejected the request (422): Insightly says: missing required body field status');
    expect(fake.state.records.projects.has('x')).toBe(false);
  });

  it('a wrong token is an auth error that never echoes the token', async () => {
    const e = await failure(truto(undefined, 'wrong-token-123456').stages!.list!({ limit: 1 }, {}));
    expect(e.kind).toBe('auth');
    expect(e.message).toContain('Truto rejected the credentials (401)');
    expect(e.message).not.toContain('wrong-token-123456');
  });

  it('redacts the token when an error body echoes it', async () => {
    fake.server.inject({
      kind: 'status',
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: `Token ${FAKE_TRUTO_TOKEN} is not valid for this environment` },
    });
    const e = await failure(truto().pipelines!.list!({ limit: 1 }, {}));
    expect(e.kind).toBe('validation');
    expect(e.message).toContain('[REDACTED]');
  });

  it('a DELETE carries no Idempotency-Key and is not resent after a 5xx', async () => {
    fake.server.inject({ kind: 'status', status: 502, body: { statusCode: 502, error: 'Bad Gateway', message: 'hiccup' } }, {
      times: 5,
      match: (r) => r.method === 'DELETE',
    });
    const w = await truto().stages!.delete!('12', { idempotency_key: 'caller-key' });
    expect(w.request.headers).toBeUndefined();
    const e = await failure(() => w.execute());
    expect(e.kind).toBe('upstream');
    expect(e.message).toContain('may or may not have happened');
    expect(e.message).not.toContain('idempotency key is safe');
    const deletes = fake.requestsFor('DELETE');
    expect(deletes).toHaveLength(1);
    expect(deletes[0].headers['idempotency-key']).toBeUndefined();
  });

  it('sorts stages locally in either direction, whatever order Truto answers in', async () => {
    // Truto (and most CRMs behind it) answer in their own order: reverse the fake's.
    fake.state.records.stages = new Map([...fake.state.records.stages].reverse());
    const p = truto();
    const byPosition = await p.stages!.list!({ pipeline_id: '1', sort_by: 'position', limit: 10 }, {});
    expect(byPosition.items.map((s) => s.position)).toEqual([1, 2, 3, 4, 5]);
    const byNameDesc = await p.stages!.list!({ limit: 4, sort_by: 'name', sort_direction: 'desc' }, {});
    const allNames = [...fake.state.records.stages.values()].map((s) => String(s.name).toLowerCase()).sort().reverse();
    expect(byNameDesc.items.map((s) => s.name.toLowerCase())).toEqual(allNames.slice(0, 4));
    expect(byNameDesc.next_cursor).toBe('offset:4');
    const next = await p.stages!.list!({ limit: 4, sort_by: 'name', sort_direction: 'desc', cursor: byNameDesc.next_cursor! }, {});
    expect(next.items.map((s) => s.name.toLowerCase())).toEqual(allNames.slice(4, 8));
    for (const r of fake.server.requests) expect(r.query.sort_by).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------

describe('the fake speaks Truto', () => {
  async function call(path: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await fetch(`${fake.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${FAKE_TRUTO_TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  it('requires a bearer token and an integrated account id', async () => {
    const noAuth = await fetch(`${fake.url}/unified/crm/stages?${ACCOUNT_Q}`);
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Unauthorized' });
    const noAccount = await call('/unified/crm/stages');
    expect(noAccount.status).toBe(400);
    expect(noAccount.body).toMatchObject({ statusCode: 400, error: 'Bad Request', message: 'integrated_account_id is required' });
  });

  it('list envelope, truto_key_by, truto_ignore_limit, raw format and excluded fields', async () => {
    const env = await call(`/unified/crm/opportunities?${ACCOUNT_Q}&limit=2`);
    expect(Object.keys(env.body).sort()).toEqual(['is_partial_response', 'next_cursor', 'prev_cursor', 'result', 'result_count']);
    expect(env.body.result).toHaveLength(2);
    expect(env.body.prev_cursor).toBeNull();

    const keyed = await call(`/unified/crm/pipelines?${ACCOUNT_Q}&truto_key_by=id`);
    expect(Object.keys(keyed.body.result)).toEqual(['1', '2', '3']);

    const all = await call(`/unified/crm/opportunities?${ACCOUNT_Q}&limit=5&truto_ignore_limit=true`);
    expect(all.body.result).toHaveLength(60);
    expect(all.body.next_cursor).toBeNull();

    const raw = await call(`/unified/crm/stages/11?${ACCOUNT_Q}&truto_response_format=raw`);
    expect(raw.body).toEqual({ id: 11, name: 'Lead In', order_nr: 1, pipeline_id: 1, active_flag: true });

    const lean = await call(`/unified/crm/stages/11?${ACCOUNT_Q}&truto_ignore_remote_data=true&truto_exclude_fields[]=created_at&truto_exclude_fields[]=name`);
    expect(Object.keys(lean.body).sort()).toEqual(['id', 'pipeline', 'position', 'status', 'updated_at']);
  });

  it('delete answers {id}; remote errors carry truto_is_remote_error and raw_response', async () => {
    const del = await call(`/unified/crm/projects/pr-010?${ACCOUNT_Q}`, { method: 'DELETE' });
    expect(del).toMatchObject({ status: 200, body: { id: 'pr-010' } });
    const gone = await call(`/unified/crm/projects/pr-010?${ACCOUNT_Q}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ statusCode: 404, truto_is_remote_error: true, raw_response: expect.any(Object) });
    const missing = await call(`/unified/crm/projects?${ACCOUNT_Q}`, { method: 'POST', body: JSON.stringify({ description: 'x' }) });
    expect(missing.status).toBe(422);
    expect(missing.body.truto_error_insight).toEqual({
      missing_required_body_fields: { description: 'The following required body fields are missing: name', value: ['name'] },
    });
  });

  it('replays an Idempotency-Key and marks the replay', async () => {
    const init = { method: 'POST', body: JSON.stringify({ name: 'Replay me' }), headers: { 'Idempotency-Key': 'k1' } };
    const a = await call(`/unified/crm/pipelines?${ACCOUNT_Q}`, init);
    const b = await call(`/unified/crm/pipelines?${ACCOUNT_Q}`, init);
    expect(a.status).toBe(201);
    expect(b.body).toEqual(a.body);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect([...fake.state.records.pipelines.values()].filter((p) => p.name === 'Replay me')).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Defects found by a hostile run (issue 7)

/** Adds `n` copies of record `modelId` (ids x0, x1, ...) so listings span several pages. */
function addRecords(resource: 'stages' | 'opportunities', modelId: string, n: number, over: (i: number) => Record<string, unknown>): void {
  const model = fake.state.records[resource].get(modelId)!;
  for (let i = 0; i < n; i++) {
    const id = `x${i}`;
    fake.state.records[resource].set(id, { ...structuredClone(model), id, ...over(i) });
  }
}

describe('a repeated cursor stops the page walk', () => {
  it('list_stages over a looping listing says it is incomplete, after two pages', async () => {
    addRecords('stages', '11', 250, (i) => ({ name: `Extra ${i}`, position: 10 + i }));
    fake.state.loopCursor.add('stages');
    const page = await truto().stages!.list!({ pipeline_id: '1', limit: 5 }, {});
    expect(page.items.map((s) => s.position)).toEqual([1, 2, 3, 4, 5]);
    expect(page.incomplete).toMatch(/^Truto gave the same page cursor twice while listing stages, so only its first 2 pages \(200 records\) were read/);
    expect(fake.requestsFor('GET', 'stages')).toHaveLength(2);
  });

  it('get_pipeline refuses open-deal sums over a looping listing', async () => {
    addRecords('opportunities', '100', 250, () => ({ status: 'open' }));
    fake.state.loopCursor.add('opportunities');
    const e = await failure(truto().pipelines!.get!('1', {}));
    expect(e.kind).toBe('upstream');
    expect(e.message).toMatch(/^Truto gave the same page cursor twice while listing the open deals of pipeline 1.*counts and values would be wrong/);
    expect(fake.requestsFor('GET', 'opportunities')).toHaveLength(2);
  });

  it('get_pipeline refuses a partial stage list of a pipeline that does not embed its stages', async () => {
    delete fake.state.records.pipelines.get('1')!.stages;
    addRecords('stages', '11', 250, (i) => ({ name: `Extra ${i}`, position: 10 + i }));
    fake.state.loopCursor.add('stages');
    const e = await failure(truto().pipelines!.get!('1', {}));
    expect(e.message).toMatch(/^Truto gave the same page cursor twice while listing the stages of pipeline 1/);
  });
});

describe('a token inside the configured base URL', () => {
  it('dry runs show only the path under the base', async () => {
    const token = 'trPROXY-1a2b3c4d5e6f7a8b';
    const p = createTrutoProvider({
      apiToken: FAKE_TRUTO_TOKEN,
      integratedAccountId: FAKE_TRUTO_ACCOUNT,
      baseUrl: `${fake.url}/t/${token}`,
      integration: 'insightly',
    });
    const w = await p.projects!.create!({ name: 'Via proxy', status: 'in progress' }, {});
    expect(w.request.path).toBe(`/unified/crm/projects?${LEAN}`);
    expect(JSON.stringify(w.request)).not.toContain(token.slice(0, 8));
  });
});
