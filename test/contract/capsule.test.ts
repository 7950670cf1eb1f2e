/**
 * Capsule provider against the fake Capsule (real HTTP on 127.0.0.1, test/fakes/capsule.ts): the
 * exact method, path, query, headers and body of every operation; paging across several pages by
 * the Link header and a repeated link stopping the walk; mapping of answers; Capsule's error
 * bodies as one sentence; its rate-limit headers and retries; placement of deals checked here,
 * since Capsule itself moves a deal to another pipeline's milestone.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { closeAllPools } from '../../src/crm/http.js';
import type { CrmProvider } from '../../src/crm/provider.js';
import { DEFAULT_BASE_URL, RATE_LIMIT } from '../../src/providers/capsule/client.js';
import { createCapsuleProvider } from '../../src/providers/capsule/index.js';
import { ACME, CAPSULE_TOKEN, SEED, startFakeCapsule, type FakeCapsule, type FakeOpportunity } from '../fakes/capsule.js';
import type { RecordedRequest } from '../fakes/server.js';

type Full<T> = Required<NonNullable<T>>;
/** The provider with the operation groups Capsule implements made non-optional for the tests. */
type Cap = Omit<CrmProvider, 'pipelines' | 'stages' | 'deals' | 'projects' | 'accounts' | 'contacts' | 'users' | 'activities' | 'search'> & {
  pipelines: Full<CrmProvider['pipelines']>;
  stages: Full<CrmProvider['stages']>;
  deals: Full<CrmProvider['deals']>;
  projects: Full<CrmProvider['projects']>;
  accounts: Omit<Full<CrmProvider['accounts']>, 'delete'>;
  contacts: Omit<Full<CrmProvider['contacts']>, 'delete'>;
  users: Pick<Full<CrmProvider['users']>, 'list' | 'get'>;
  activities: Omit<Full<CrmProvider['activities']>, 'delete'>;
  search: NonNullable<CrmProvider['search']>;
};

let fake: FakeCapsule;
let cap: Cap;
const opts = {};

const make = (over: Partial<Parameters<typeof createCapsuleProvider>[0]> = {}) =>
  createCapsuleProvider({ apiToken: CAPSULE_TOKEN, baseUrl: fake.url, http: { retryBaseMs: 1 }, ...over }) as Cap;

beforeEach(async () => {
  fake = await startFakeCapsule();
  cap = make();
});
afterEach(async () => {
  await fake.stop();
});
afterAll(async () => {
  await closeAllPools();
});

/** What went on the wire: method, path, query and body. */
const wire = (r: RecordedRequest) => ({ method: r.method, path: r.path, query: r.query, body: r.body });
const sent = (method?: string, path?: string | RegExp): RecordedRequest[] =>
  fake.server.requests.filter(
    (r) => (method === undefined || r.method === method) && (path === undefined || (typeof path === 'string' ? r.path === path : path.test(r.path))),
  );
const writes = () => fake.server.requests.filter((r) => r.method === 'PUT' || r.method === 'DELETE' || (r.method === 'POST' && !r.path.endsWith('/filters/results')));

async function failure(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CrmError);
    return e as CrmError;
  }
  throw new Error('expected a CrmError');
}

const pipelineOf = (o: FakeOpportunity) => fake.state.milestones.get(o.milestoneId)!.pipelineId;
const openIn = (pid: number) => [...fake.state.opportunities.values()].filter((o) => pipelineOf(o) === pid && o.closedOn === null);
const conditions = (r: RecordedRequest) => (r.body as { filter: { conditions: unknown[] } }).filter.conditions;

describe('identity and auth', () => {
  it('declares itself; every request carries the bearer token in the Authorization header only', async () => {
    expect(cap.kind).toBe('capsule');
    expect(cap.label).toBe('Capsule');
    expect(cap.remote).toBe(true);
    expect(cap.stats).toBeUndefined();
    await cap.deals.list({ limit: 5 }, opts);
    expect(fake.server.requests.length).toBeGreaterThan(0);
    for (const r of fake.server.requests) {
      expect(r.headers.authorization).toBe(`Bearer ${CAPSULE_TOKEN}`);
      expect(r.headers.accept).toBe('application/json');
      expect(r.rawUrl).not.toContain(CAPSULE_TOKEN);
    }
  });

  it('a wrong token is an auth error that never repeats the token', async () => {
    const wrong = 'cap_wrong_0123456789abcdefghij';
    const e = await failure(make({ apiToken: wrong }).projects.list({ limit: 5 }, opts));
    expect(e.kind).toBe('auth');
    expect(e.message).toContain('Capsule');
    expect(e.message).not.toContain(wrong);
  });

  it('a missing token is refused at construction, naming the env var', () => {
    expect(() => make({ apiToken: ' ' })).toThrow(/CAPSULE_API_TOKEN/);
  });

  it('defaults to https://api.capsulecrm.com/api/v2; paths go under the base path', async () => {
    expect(DEFAULT_BASE_URL).toBe('https://api.capsulecrm.com/api/v2');
    await make({ baseUrl: `${fake.url}/` }).projects.get('2001', opts);
    expect(sent('GET').map((r) => r.path)).toEqual(['/api/v2/kases/2001']);
  });

  it('every fake answer carries the hourly rate-limit headers; the client paces at 4,000 an hour', async () => {
    expect(RATE_LIMIT).toEqual({ capacity: 4000, windowMs: 3_600_000 });
    const res = await fetch(`${fake.url}/kases`, { headers: { authorization: `Bearer ${CAPSULE_TOKEN}` } });
    expect(res.headers.get('x-ratelimit-limit')).toBe('4000');
    expect(Number(res.headers.get('x-ratelimit-remaining'))).toBeLessThan(4000);
    expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
  });
});

describe('pipelines: sales pipelines and project boards', () => {
  it('lists both, sales first, each listing asked for in pages of 100 at the same time', async () => {
    const page = await cap.pipelines.list({ limit: 10 }, opts);
    expect(page.items).toEqual([
      { id: '1', name: 'Sales Pipeline' },
      { id: '2', name: 'SMB clients' },
      { id: 'board-34', name: 'Projects' },
      { id: 'board-35', name: 'Design' },
    ]);
    expect(page.next_cursor).toBeNull();
    expect(fake.server.requests.map(wire)).toEqual(
      expect.arrayContaining([
        { method: 'GET', path: '/api/v2/pipelines', query: { perPage: '100' }, body: undefined },
        { method: 'GET', path: '/api/v2/boards', query: { perPage: '100' }, body: undefined },
      ]),
    );
    expect(fake.server.requests).toHaveLength(2);
    const two = await cap.pipelines.list({ limit: 2 }, opts);
    const rest = await cap.pipelines.list({ limit: 2, cursor: two.next_cursor! }, opts);
    expect([...two.items, ...rest.items].map((p) => p.id)).toEqual(['1', '2', 'board-34', 'board-35']);
    expect(rest.next_cursor).toBeNull();
  });

  it('get: the pipeline, its milestones in order and its open deals per milestone, in three requests sent together', async () => {
    const p = await cap.pipelines.get('1', opts);
    expect(fake.server.requests.map(wire)).toEqual(
      expect.arrayContaining([
        { method: 'GET', path: '/api/v2/pipelines/1', query: {}, body: undefined },
        { method: 'GET', path: '/api/v2/pipelines/1/milestones', query: { perPage: '100' }, body: undefined },
        {
          method: 'POST',
          path: '/api/v2/opportunities/filters/results',
          query: { perPage: '100' },
          body: { filter: { conditions: [{ field: 'pipeline', operator: 'is', value: 1 }, { field: 'isOpen', operator: 'is', value: true }] } },
        },
      ]),
    );
    expect(p.stages!.map((s) => [s.id, s.name, s.position, s.probability])).toEqual([
      ['1', 'New', 1, 10],
      ['2', 'Bid', 2, 50],
      ['3', 'Negotiation', 3, 75],
      ['4', 'Won', 4, 100],
      ['5', 'Lost', 5, 0],
    ]);
    const open = openIn(1);
    expect(p.open_deals!.count).toBe(open.length);
    for (const s of p.stages!) {
      expect(s.pipeline).toEqual({ id: '1', name: 'Sales Pipeline' });
      const here = open.filter((o) => String(o.milestoneId) === s.id);
      expect(s.open_deals!.count, s.name).toBe(here.length);
      const gbp = here.filter((o) => o.value?.currency === 'GBP').reduce((a, o) => a + o.value!.amount, 0);
      expect(s.open_deals!.values.GBP ?? 0, s.name).toBeCloseTo(gbp, 2);
    }
    // 100 open deals to a page: the open deals of pipeline 1 span two pages, both read.
    expect(open.length).toBeGreaterThan(100);
    expect(sent('POST', '/api/v2/opportunities/filters/results').length).toBe(Math.ceil(open.length / 100));
  });

  it('get of a board: its stages by displayOrder, no deal counts (a board holds projects)', async () => {
    const b = await cap.pipelines.get('board-34', opts);
    expect(b).toEqual({
      id: 'board-34',
      name: 'Projects',
      stages: [
        expect.objectContaining({ id: 'stage-149', name: 'Project Brief', position: 1, pipeline: { id: 'board-34', name: 'Projects' } }),
        expect.objectContaining({ id: 'stage-150', name: 'Planning', position: 2 }),
        expect.objectContaining({ id: 'stage-151', name: 'Delivery', position: 3 }),
      ],
    });
    expect(sent().map((r) => `${r.method} ${r.path}`).sort()).toEqual(['GET /api/v2/boards/34', 'GET /api/v2/boards/34/stages']);
  });

  it('an unknown pipeline or board is not_found naming list_pipelines; a bad id is refused unsent', async () => {
    expect((await failure(cap.pipelines.get('99', opts))).message).toBe(
      "No pipeline with id '99'. Call list_pipelines to see valid pipeline ids (project boards are board-<id>).",
    );
    expect((await failure(cap.pipelines.get('board-99', opts))).kind).toBe('not_found');
    fake.server.reset();
    expect((await failure(cap.pipelines.get('sales', opts))).kind).toBe('validation');
    expect(fake.server.requests).toHaveLength(0);
  });

  it('has no pipeline writes', () => {
    expect(cap.capabilities.pipelines).toEqual({ list: true, get: true, filters: [] });
    expect((cap.pipelines as Partial<Cap['pipelines']>).create).toBeUndefined();
  });
});

describe('stages: milestones and board stages', () => {
  it("a sales pipeline's milestones, from the listing by pipeline", async () => {
    const page = await cap.stages.list({ pipeline_id: '2', limit: 50 }, opts);
    expect(sent().map(wire)).toEqual([{ method: 'GET', path: '/api/v2/pipelines/2/milestones', query: { perPage: '100' }, body: undefined }]);
    expect(page.items.map((s) => [s.id, s.name, s.position, s.pipeline])).toEqual([
      ['6', 'Prospect', 1, { id: '2', name: 'SMB clients' }],
      ['7', 'Proposal', 2, { id: '2', name: 'SMB clients' }],
      ['8', 'Won', 3, { id: '2', name: 'SMB clients' }],
      ['9', 'Lost', 4, { id: '2', name: 'SMB clients' }],
    ]);
  });

  it("a board's stages, from the listing by board", async () => {
    const page = await cap.stages.list({ pipeline_id: 'board-35', limit: 50 }, opts);
    expect(sent().map((r) => r.path)).toEqual(['/api/v2/boards/35/stages']);
    expect(page.items.map((s) => s.id)).toEqual(['stage-152', 'stage-153']);
  });

  it('every stage: all pipelines (milestones per pipeline, never the oldest-pipeline-only /milestones) and every board', async () => {
    const page = await cap.stages.list({ limit: 100, sort_by: 'position' }, opts);
    expect(sent().map((r) => r.path).sort()).toEqual([
      '/api/v2/pipelines',
      '/api/v2/pipelines/1/milestones',
      '/api/v2/pipelines/2/milestones',
      '/api/v2/stages',
    ]);
    expect(page.items).toHaveLength(fake.state.milestones.size + fake.state.stages.size);
    // Sorted by position, each pipeline's stages stay together and in order.
    expect(page.items.slice(0, 5).map((s) => s.name)).toEqual(['New', 'Bid', 'Negotiation', 'Won', 'Lost']);
  });

  it('filters by name and sorts by name here, with a cursor of its own; status is refused unsent', async () => {
    const won = await cap.stages.list({ name: 'won', limit: 50 }, opts);
    expect(won.items.map((s) => [s.id, s.pipeline?.id])).toEqual([
      ['4', '1'],
      ['8', '2'],
    ]);
    const first = await cap.stages.list({ pipeline_id: '1', sort_by: 'name', sort_direction: 'desc', limit: 3 }, opts);
    const second = await cap.stages.list({ pipeline_id: '1', sort_by: 'name', sort_direction: 'desc', limit: 3, cursor: first.next_cursor! }, opts);
    expect([...first.items, ...second.items].map((s) => s.name)).toEqual(['Won', 'New', 'Negotiation', 'Lost', 'Bid']);
    fake.server.reset();
    expect((await failure(cap.stages.list({ status: 'inactive', limit: 5 }, opts))).message).toMatch(/Capsule cannot filter stages by `status`/);
    expect(fake.server.requests).toHaveLength(0);
  });

  it('get: a milestone with its pipeline and place; a board stage by its own endpoint', async () => {
    const m = await cap.stages.get('7', opts);
    expect(m).toMatchObject({ id: '7', name: 'Proposal', position: 2, probability: 40, pipeline: { id: '2', name: 'SMB clients' } });
    expect(sent('GET', '/api/v2/milestones/7')).toHaveLength(1);
    fake.server.reset();
    expect(await cap.stages.get('stage-150', opts)).toMatchObject({ id: 'stage-150', name: 'Planning', position: 2, pipeline: { id: 'board-34', name: 'Projects' } });
    expect(sent().map((r) => r.path)).toEqual(['/api/v2/stages/150']);
    expect((await failure(cap.stages.get('77', opts))).message).toBe("No stage with id '77'. Call list_stages (optionally with pipeline_id) to see valid stage ids.");
  });
});

describe('deals (opportunities)', () => {
  it('pages through all of them by the Link header, 100 at a time, with the pipeline of each', async () => {
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 5; i++) {
      const page = await cap.deals.list({ limit: 100, cursor }, opts);
      ids.push(...page.items.map((d) => d.id));
      for (const d of page.items) {
        const o = fake.state.opportunities.get(Number(d.id))!;
        expect(d.pipeline.id).toBe(String(pipelineOf(o)));
      }
      if (!page.next_cursor) break;
      expect(page.next_cursor).toBe(`/opportunities?perPage=100&page=${i + 2}`);
      cursor = page.next_cursor;
    }
    expect(ids).toHaveLength(SEED.opportunities);
    expect(new Set(ids).size).toBe(SEED.opportunities);
    const pages = sent('GET', '/api/v2/opportunities');
    expect(pages.map((r) => r.query)).toEqual([{ perPage: '100' }, { perPage: '100', page: '2' }, { perPage: '100', page: '3' }]);
  });

  it('maps a record: status from closedOn and probability, names inline, value split', async () => {
    const d = await cap.deals.get('1004', opts);
    const o = fake.state.opportunities.get(1004)!;
    expect(fake.state.milestones.get(o.milestoneId)).toMatchObject({ name: 'Won', complete: true });
    expect(d).toMatchObject({
      id: '1004',
      name: 'Opportunity 4',
      status: 'won',
      pipeline: { id: '1', name: 'Sales Pipeline' },
      stage: { id: '4', name: 'Won' },
      amount: o.value!.amount,
      currency: o.value!.currency,
      owner: { id: '61', name: 'Ted Danson' },
      account: { id: '895', name: 'Umbrella' },
    });
    expect((await cap.deals.get('1005', opts)).status).toBe('lost');
    expect(await cap.deals.get('1004', { include_remote_data: true })).toHaveProperty('remote_data.lastOpenMilestone', { id: 1, name: 'New' });
    expect((await failure(cap.deals.get('9999', opts))).message).toBe("No deal with id '9999'. Call list_deals to see valid deal ids.");
  });

  it('filters go to the structured search, and the answer is what Capsule holds', async () => {
    const page = await cap.deals.list({ pipeline_id: '2', status: 'won', owner_id: '63', limit: 100 }, opts);
    const [search] = sent('POST', '/api/v2/opportunities/filters/results');
    expect(wire(search)).toEqual({
      method: 'POST',
      path: '/api/v2/opportunities/filters/results',
      query: { perPage: '100' },
      body: {
        filter: {
          conditions: [
            { field: 'pipeline', operator: 'is', value: 2 },
            { field: 'owner', operator: 'is', value: 63 },
            { field: 'isOpen', operator: 'is', value: false },
            { field: 'probability', operator: 'is', value: 100 },
          ],
        },
      },
    });
    const expected = [...fake.state.opportunities.values()].filter((o) => pipelineOf(o) === 2 && o.ownerId === 63 && o.closedOn && o.probability === 100);
    expect(expected.length).toBeGreaterThan(0);
    expect(page.items.map((d) => d.id).sort()).toEqual(expected.map((o) => String(o.id)).sort());
    for (const d of page.items) expect(d).toMatchObject({ status: 'won', pipeline: { id: '2' }, owner: { id: '63' } });
  });

  it('a stage filter: its pipeline and milestone name; another pipeline\'s same-named milestone is left out', async () => {
    const page = await cap.deals.list({ stage_id: '8', limit: 100 }, opts);
    expect(conditions(sent('POST', '/api/v2/opportunities/filters/results')[0])).toEqual([
      { field: 'pipeline', operator: 'is', value: 2 },
      { field: 'milestone', operator: 'is', value: 'Won' },
    ]);
    const expected = [...fake.state.opportunities.values()].filter((o) => o.milestoneId === 8);
    expect(page.items.map((d) => d.id).sort()).toEqual(expected.map((o) => String(o.id)).sort());
    const e = await failure(cap.deals.list({ stage_id: '8', pipeline_id: '1', limit: 10 }, opts));
    expect(e.message).toBe("Stage '8' is a milestone of SMB clients (2), not of pipeline 1. Call get_pipeline to see its milestones.");
    expect((await failure(cap.deals.list({ stage_id: 'stage-150', limit: 10 }, opts))).message).toMatch(/project board/);
    expect((await failure(cap.deals.list({ pipeline_id: 'board-34', limit: 10 }, opts))).message).toMatch(/holds projects, not deals/);
  });

  it('creates with the exact wrapped body, then reads it as a deal of its pipeline', async () => {
    const w = await cap.deals.create(
      { name: 'Big deal', stage_id: '7', pipeline_id: '2', account_id: '893', owner_id: '62', amount: 1200.5, currency: 'EUR', close_date: '2026-12-24' },
      opts,
    );
    const body = {
      opportunity: {
        name: 'Big deal',
        party: { id: 893 },
        milestone: { id: 7 },
        owner: { id: 62 },
        value: { amount: 1200.5, currency: 'EUR' },
        expectedCloseOn: '2026-12-24',
      },
    };
    expect(w.request).toEqual({ method: 'POST', path: '/opportunities', body });
    expect(writes()).toHaveLength(0);
    const d = await w.execute();
    expect(writes().map(wire)).toEqual([{ method: 'POST', path: '/api/v2/opportunities', query: {}, body }]);
    expect(d).toMatchObject({
      name: 'Big deal',
      status: 'open',
      pipeline: { id: '2', name: 'SMB clients' },
      stage: { id: '7', name: 'Proposal' },
      amount: 1200.5,
      currency: 'EUR',
      owner: { id: '62', name: 'Ana Silva' },
      account: { id: '893', name: 'Globex' },
      close_date: '2026-12-24',
    });
    expect(fake.state.opportunities.get(Number(d.id))?.name).toBe('Big deal');
  });

  it('refuses before sending: no party, an amount without currency, a status, a milestone of another pipeline', async () => {
    const before = fake.state.opportunities.size;
    expect((await failure(cap.deals.create({ name: 'x', stage_id: '2' }, opts))).message).toMatch(/requires `name`, `stage_id`.*`account_id`/);
    expect((await failure(cap.deals.create({ name: 'x', stage_id: '2', account_id: '892', amount: 5 }, opts))).message).toMatch(/amount and currency together/);
    expect((await failure(cap.deals.create({ name: 'x', stage_id: '2', account_id: '892', status: 'won' }, opts))).kind).toBe('unsupported');
    expect((await failure(cap.deals.create({ name: 'x', stage_id: '7', pipeline_id: '1', account_id: '892' }, opts))).message).toMatch(/milestone of SMB clients \(2\), not of pipeline 1/);
    expect(writes()).toHaveLength(0);
    expect(fake.state.opportunities.size).toBe(before);
  });

  it('updates with PUT carrying only the given fields', async () => {
    const w = await cap.deals.update('1001', { stage_id: '3', name: 'Renamed' }, opts);
    expect(w.request).toEqual({ method: 'PUT', path: '/opportunities/1001', body: { opportunity: { name: 'Renamed', milestone: { id: 3 } } } });
    const d = await w.execute();
    expect(writes().map(wire)).toEqual([{ method: 'PUT', path: '/api/v2/opportunities/1001', query: {}, body: { opportunity: { name: 'Renamed', milestone: { id: 3 } } } }]);
    expect(d).toMatchObject({ name: 'Renamed', stage: { id: '3', name: 'Negotiation' }, status: 'open' });
  });

  it("won and lost move the deal to its own pipeline's Won or Lost milestone; open goes back to the last open one", async () => {
    const won = await cap.deals.update('1002', { status: 'won' }, opts);
    expect(won.request.body).toEqual({ opportunity: { milestone: { id: 4 } } });
    expect(await won.execute()).toMatchObject({ status: 'won', stage: { id: '4', name: 'Won' } });

    // A deal of the second pipeline loses at that pipeline's Lost, not the first's.
    const lost = await cap.deals.update('1003', { status: 'lost' }, opts);
    expect(lost.request.body).toEqual({ opportunity: { milestone: { id: 9 } } });
    expect(await lost.execute()).toMatchObject({ status: 'lost', stage: { id: '9', name: 'Lost' }, pipeline: { id: '2' } });

    const reopened = await cap.deals.update('1002', { status: 'open' }, opts);
    expect(reopened.request.body).toEqual({ opportunity: { milestone: { id: 2 } } });
    expect(await reopened.execute()).toMatchObject({ status: 'open', stage: { id: '2', name: 'Bid' } });

    expect((await failure(cap.deals.update('1002', { status: 'open' }, opts))).message).toBe('Deal 1002 is already open: nothing to update.');

    const agreeing = await cap.deals.update('1001', { status: 'won', stage_id: '4' }, opts);
    expect(agreeing.request.body).toEqual({ opportunity: { milestone: { id: 4 } } });
    const e = await failure(cap.deals.update('1001', { status: 'lost', stage_id: '4' }, opts));
    expect(e.message).toMatch(/Stage Won \(4\) is a won milestone, so the deal cannot be lost there/);
  });

  it('an update of an unknown deal is not_found naming list_deals', async () => {
    const w = await cap.deals.update('9999', { name: 'x' }, opts);
    expect((await failure(w.execute())).message).toBe("No deal with id '9999'. Call list_deals to see valid deal ids.");
  });
});

describe('projects (kases)', () => {
  it('lists in pages by the Link header; get embeds tags and custom fields', async () => {
    const first = await cap.projects.list({ limit: 25 }, opts);
    expect(first.items).toHaveLength(25);
    expect(first.next_cursor).toBe('/kases?perPage=25&page=2');
    const second = await cap.projects.list({ limit: 25, cursor: first.next_cursor! }, opts);
    expect(second.items[0].id).toBe('2026');
    expect(sent().map((r) => r.query)).toEqual([{ perPage: '25' }, { perPage: '25', page: '2' }]);

    fake.server.reset();
    const p = await cap.projects.get('2001', opts);
    expect(sent().map(wire)).toEqual([{ method: 'GET', path: '/api/v2/kases/2001', query: { embed: 'tags,fields' }, body: undefined }]);
    expect(p).toMatchObject({
      id: '2001',
      name: 'Project 1',
      status: 'open',
      stage: { id: 'stage-149', name: 'Project Brief' },
      opportunity: [{ id: '1001', name: 'Opportunity 1' }],
      tags: [{ id: '501', name: 'VIP' }],
      custom_fields: { Region: 'EMEA' },
      account: { id: '892', name: 'Zestia' },
    });
    expect((await cap.projects.get('2005', opts)).status).toBe('closed');
  });

  it('filters go to the structured search; the account alone to its own listing, combined it is refused unsent', async () => {
    const page = await cap.projects.list({ stage_id: 'stage-150', status: 'open', owner_id: '62', name: 'project', limit: 100 }, opts);
    expect(wire(sent('POST')[0])).toEqual({
      method: 'POST',
      path: '/api/v2/kases/filters/results',
      query: { perPage: '100' },
      body: {
        filter: {
          conditions: [
            { field: 'name', operator: 'contains', value: 'project' },
            { field: 'status', operator: 'is', value: 'OPEN' },
            { field: 'owner', operator: 'is', value: 62 },
            { field: 'stage', operator: 'is', value: 150 },
          ],
        },
      },
    });
    const expected = [...fake.state.kases.values()].filter((k) => k.stageId === 150 && k.status === 'OPEN' && k.ownerId === 62);
    expect(page.items.map((p) => p.id)).toEqual(expected.map((k) => String(k.id)));

    fake.server.reset();
    const mine = await cap.projects.list({ account_id: '893', limit: 100 }, opts);
    expect(sent().map(wire)).toEqual([{ method: 'GET', path: '/api/v2/parties/893/kases', query: { perPage: '100' }, body: undefined }]);
    expect(mine.items.map((p) => p.id)).toEqual([...fake.state.kases.values()].filter((k) => k.partyId === 893).map((k) => String(k.id)));

    fake.server.reset();
    const e = await failure(cap.projects.list({ account_id: '893', status: 'open', limit: 10 }, opts));
    expect(e.message).toBe("Capsule lists an account's projects only without other filters: pass account_id alone, or `status` without account_id.");
    expect(fake.server.requests).toHaveLength(0);
    expect((await failure(cap.projects.list({ stage_id: '3', limit: 10 }, opts))).message).toMatch(/milestone of a Capsule sales pipeline/);
  });

  it('creates with the exact wrapped body (the stage as a bare id) and reads back its tags', async () => {
    const input = {
      name: 'Rollout',
      description: 'Phase 1',
      account: { id: '894' },
      owner: { id: '63' },
      stage: { id: 'stage-152' },
      close_date: '2026-09-30',
      opportunity: [{ id: '1010' }],
      tags: [{ id: '502' }],
    };
    const w = await cap.projects.create(input, opts);
    const body = {
      kase: {
        name: 'Rollout',
        description: 'Phase 1',
        party: { id: 894 },
        owner: { id: 63 },
        stage: 152,
        opportunity: { id: 1010 },
        expectedCloseOn: '2026-09-30',
        tags: [{ id: 502 }],
      },
    };
    expect(w.request).toEqual({ method: 'POST', path: '/kases', body });
    const p = await w.execute();
    expect(writes().map(wire)).toEqual([{ method: 'POST', path: '/api/v2/kases', query: {}, body }]);
    expect(p).toMatchObject({
      name: 'Rollout',
      status: 'open',
      stage: { id: 'stage-152', name: 'Concept' },
      owner: { id: '63', name: 'Bob Stone' },
      account: { id: '894', name: 'Initech' },
      opportunity: [{ id: '1010', name: 'Opportunity 10' }],
      tags: [{ id: '502', name: 'Urgent' }],
    });
    expect(sent('GET', `/api/v2/kases/${p.id}`)[0].query).toEqual({ embed: 'tags,fields' });
    expect((await failure(cap.projects.create({ name: 'No party' }, opts))).message).toMatch(/requires `name` and `account`/);
  });

  it('updates with only the given fields; tags replace the list (read first, then _delete for the rest)', async () => {
    const w = await cap.projects.update('2002', { status: 'closed', tags: [{ id: '501' }, { id: '503' }] }, opts);
    expect(sent().map(wire)).toEqual([{ method: 'GET', path: '/api/v2/kases/2002', query: { embed: 'tags,fields' }, body: undefined }]);
    const body = { kase: { status: 'CLOSED', tags: [{ id: 501 }, { id: 502, _delete: true }] } };
    expect(w.request).toEqual({ method: 'PUT', path: '/kases/2002', body });
    const p = await w.execute();
    expect(writes().map(wire)).toEqual([{ method: 'PUT', path: '/api/v2/kases/2002', query: {}, body }]);
    expect(p).toMatchObject({ status: 'closed', tags: [{ id: '503', name: 'Renewal' }, { id: '501', name: 'VIP' }] });
    expect(fake.state.kases.get(2002)).toMatchObject({ status: 'CLOSED', tagIds: [503, 501], closedOn: '2026-11-20' });

    const move = await cap.projects.update('2002', { stage: { id: 'stage-153' } }, opts);
    expect(move.request.body).toEqual({ kase: { stage: 153 } });
    expect(await move.execute()).toMatchObject({ stage: { id: 'stage-153', name: 'Review' } });
  });

  it('deletes after reading the name (a 404 stops there, nothing deleted)', async () => {
    const w = await cap.projects.delete('2003', opts);
    expect(w.request).toEqual({ method: 'DELETE', path: '/kases/2003' });
    expect(await w.execute()).toEqual({ id: '2003', name: 'Project 3' });
    expect(writes().map(wire)).toEqual([{ method: 'DELETE', path: '/api/v2/kases/2003', query: {}, body: undefined }]);
    expect(fake.state.kases.has(2003)).toBe(false);
    fake.server.reset();
    const again = await cap.projects.delete('2003', opts);
    expect((await failure(again.execute())).message).toBe("No project with id '2003'. Call list_projects to see valid project ids.");
    expect(writes()).toHaveLength(0);
  });
});

describe('a repeated Link stops the page walk', () => {
  it('get_pipeline refuses sums over open deals whose listing links back to itself', async () => {
    fake.state.loopLink.add('/api/v2/opportunities/filters/results');
    const e = await failure(cap.pipelines.get('1', opts));
    expect(e.kind).toBe('upstream');
    expect(e.message).toMatch(/^Capsule gave the same page cursor twice while listing the open deals of pipeline 1, so only its first 2 pages/);
    expect(sent('POST', '/api/v2/opportunities/filters/results').length).toBe(2);
  });
});

describe("Capsule's errors, as one sentence", () => {
  it('a validation error names the argument an agent passed', async () => {
    const w = await cap.deals.create({ name: 'x', stage_id: '99', account_id: '892' }, opts);
    const e = await failure(w.execute());
    expect(e.kind).toBe('validation');
    expect(e.message).toBe('Capsule rejected the request (422): milestone is invalid (stage_id).');
  });

  it('a 429 with X-RateLimit-Reset an hour away is rate_limited, saying when, after one request', async () => {
    const reset = String(Math.floor(Date.now() / 1000) + 3000);
    fake.server.inject({ kind: 'status', status: 429, headers: { 'X-RateLimit-Limit': '4000', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': reset }, body: { error: 'rate limit reached' } });
    const e = await failure(cap.projects.get('2001', opts));
    expect(e.kind).toBe('rate_limited');
    expect(e.message).toMatch(/rate limit reached/);
    expect(e.message).toMatch(/retry in about (49|50) min/i);
    expect(fake.server.requests).toHaveLength(1);
  });

  it('a read meeting a 429 whose window resets in a moment is retried; so is a search after a 503', async () => {
    const soon = String(Math.floor(Date.now() / 1000));
    fake.server.inject({ kind: 'status', status: 429, headers: { 'X-RateLimit-Reset': soon }, body: { error: 'rate limit reached' } });
    expect((await cap.projects.get('2001', opts)).id).toBe('2001');
    expect(fake.server.requests).toHaveLength(2);
    fake.server.reset();
    fake.server.inject({ kind: 'status', status: 503, body: { message: 'Service Unavailable' } }, { match: (r) => r.method === 'POST' });
    const page = await cap.deals.list({ status: 'open', limit: 5 }, opts);
    expect(page.items).toHaveLength(5);
    expect(sent('POST')).toHaveLength(2);
  });

  it('a create that meets a 500 is sent once and says it may or may not have happened', async () => {
    fake.server.inject({ kind: 'status', status: 500, body: { message: 'Internal Server Error' } }, { match: (r) => r.method === 'POST' && r.path === '/api/v2/kases' });
    const e = await failure((await cap.projects.create({ name: 'Boom', account: { id: '892' } }, opts)).execute());
    expect(e.message).toMatch(/Capsule answered 500: Internal Server Error/);
    expect(e.message).toMatch(/may or may not have happened/);
    expect(sent('POST', '/api/v2/kases')).toHaveLength(1);
  });

  it('an error body echoing the token is redacted', async () => {
    fake.server.inject({ kind: 'status', status: 400, body: { message: `token ${CAPSULE_TOKEN} not allowed here` } });
    const e = await failure(cap.projects.get('2001', opts));
    expect(e.message).toContain('[REDACTED]');
    expect(e.message).not.toContain(CAPSULE_TOKEN);
  });

  it('aborting the caller cancels the upstream request', async () => {
    fake.server.inject({ kind: 'delay', ms: 5_000 });
    const ac = new AbortController();
    const pending = cap.projects.get('2001', { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    expect((await failure(pending)).kind).toBe('cancelled');
  });
});

// ---------------------------------------------------------------------------------------------
// The records around a deal (issue 9)

const today = () => new Date().toISOString().slice(0, 10);
const getPaths = () => sent('GET').map((r) => r.path);

describe('accounts (organisations)', () => {
  it('lists as a structured search on parties of type organisation, with name and owner', async () => {
    const page = await cap.accounts.list({ name: 'ac', owner_id: '62', limit: 20 }, opts);
    expect(sent().map(wire)).toEqual([
      {
        method: 'POST',
        path: '/api/v2/parties/filters/results',
        query: { perPage: '20' },
        body: {
          filter: {
            conditions: [
              { field: 'type', operator: 'is', value: 'organisation' },
              { field: 'name', operator: 'contains', value: 'ac' },
              { field: 'owner', operator: 'is', value: 62 },
            ],
          },
        },
      },
    ]);
    expect(page).toEqual({
      items: [{ id: '896', name: 'Acme Corp', domain: 'acme.example', owner: { id: '62', name: 'Ana Silva' }, created_at: '2026-01-05T09:00:00Z', updated_at: '2026-01-05T09:00:00Z' }],
      next_cursor: null,
    });
    const all = await cap.accounts.list({ limit: 100 }, opts);
    expect(all.items.map((a) => a.name)).toEqual(['Zestia', 'Globex', 'Initech', 'Umbrella', 'Acme Corp']);
    // A web address as a domain: no scheme, no path.
    expect(all.items[1].domain).toBe('www.globex.example');
  });

  it('get reads the party; a person is no account and an unknown id points to search', async () => {
    expect(await cap.accounts.get('893', { include_remote_data: true })).toMatchObject({ id: '893', name: 'Globex', remote_data: { type: 'organisation' } });
    expect(getPaths()).toEqual(['/api/v2/parties/893']);
    expect((await failure(cap.accounts.get('897', opts))).message).toBe("No account with id '897': in Capsule it is a person; get_contact reads it.");
    expect((await failure(cap.accounts.get('4040', opts))).message).toBe("No account with id '4040'. Find ids with search (types: accounts) or list_accounts.");
  });

  it('creates an organisation with its domain as a web address; the owner is checked first; industry is refused', async () => {
    const w = await cap.accounts.create({ name: 'Pied Piper', domain: 'piedpiper.example', owner_id: '63' }, opts);
    const body = { party: { type: 'organisation', name: 'Pied Piper', owner: { id: 63 }, websites: [{ service: 'URL', address: 'piedpiper.example' }] } };
    expect(w.request).toEqual({ method: 'POST', path: '/parties', body });
    expect(fake.server.requests).toHaveLength(0);
    const a = await w.execute();
    expect(sent().map(wire)).toEqual([
      { method: 'GET', path: '/api/v2/users', query: { embed: 'party' }, body: undefined },
      { method: 'POST', path: '/api/v2/parties', query: {}, body },
    ]);
    expect(a).toMatchObject({ name: 'Pied Piper', domain: 'piedpiper.example', owner: { id: '63', name: 'Bob Stone' } });
    expect(fake.state.parties.get(Number(a.id))?.type).toBe('organisation');

    fake.server.reset();
    const unknown = await cap.accounts.create({ name: 'Nobody', owner_id: '99' }, opts);
    expect((await failure(unknown.execute())).message).toBe("No user with id '99'. Find ids with list_users or search (types: users).");
    expect(writes()).toHaveLength(0);
    expect((await failure(cap.accounts.create({ name: 'X', industry: 'Software' }, opts))).message).toMatch(/^Capsule does not support `industry`/);
  });

  it('update reads the organisation and rewrites its web address in place (by id), never adding a second', async () => {
    const site = fake.state.parties.get(896)!.websites[0];
    const w = await cap.accounts.update('896', { name: 'Acme Corporation', domain: 'acme.test' }, opts);
    expect(w.request).toEqual({ method: 'PUT', path: '/parties/896', body: { party: { name: 'Acme Corporation', websites: [{ id: site.id, address: 'acme.test' }] } } });
    const a = await w.execute();
    expect(a).toMatchObject({ id: '896', name: 'Acme Corporation', domain: 'acme.test' });
    expect(fake.state.parties.get(896)!.websites).toHaveLength(1);
    expect(sent().map((r) => `${r.method} ${r.path}`)).toEqual(['GET /api/v2/parties/896', 'PUT /api/v2/parties/896']);
    // A person is no account: nothing is written.
    expect((await failure(cap.accounts.update('898', { name: 'x' }, opts))).kind).toBe('not_found');
    expect(writes()).toHaveLength(1);
  });
});

describe('contacts (people)', () => {
  it('lists people by structured search with name, email and owner; an organisation\'s people alone by its own listing', async () => {
    const page = await cap.contacts.list({ name: 'oli', email: 'OLIVIA@acme.example', owner_id: '61', limit: 10 }, opts);
    expect(conditions(sent('POST')[0])).toEqual([
      { field: 'type', operator: 'is', value: 'person' },
      { field: 'name', operator: 'contains', value: 'oli' },
      { field: 'email', operator: 'is', value: 'OLIVIA@acme.example' },
      { field: 'owner', operator: 'is', value: 61 },
    ]);
    expect(page.items).toEqual([
      {
        id: '898',
        name: 'Olivia Rossi',
        first_name: 'Olivia',
        last_name: 'Rossi',
        emails: ['olivia@acme.example'],
        phones: ['+44 7700 900123'],
        title: 'CTO',
        account: { id: '896', name: 'Acme Corp' },
        owner: { id: '61', name: 'Ted Danson' },
        created_at: '2026-01-05T09:00:00Z',
        updated_at: '2026-01-05T09:00:00Z',
      },
    ]);

    fake.server.reset();
    const people = await cap.contacts.list({ account_id: '896', limit: 50 }, opts);
    expect(sent().map(wire)).toEqual([{ method: 'GET', path: '/api/v2/parties/896/people', query: { perPage: '50' }, body: undefined }]);
    expect(people.items.map((c) => c.name)).toEqual(['Mary Major', 'Olivia Rossi']);
    fake.server.reset();
    expect((await failure(cap.contacts.list({ account_id: '896', name: 'm', limit: 5 }, opts))).message).toBe(
      "Capsule lists an organisation's people only without other filters: pass account_id alone, or `name` without account_id.",
    );
    expect(fake.server.requests).toHaveLength(0);
    expect((await failure(cap.contacts.list({ account_id: '4040', limit: 5 }, opts))).message).toBe(
      "No account with id '4040'. Find ids with search (types: accounts) or list_accounts.",
    );
  });

  it('get reads a person; an organisation is no contact', async () => {
    expect(await cap.contacts.get('897', opts)).toMatchObject({ name: 'Mary Major', title: 'Head of Buying', account: { id: '896', name: 'Acme Corp' } });
    expect((await failure(cap.contacts.get('896', opts))).message).toBe("No contact with id '896': in Capsule it is an organisation; get_account reads it.");
  });

  it('creates a person with emails, phones, job title and organisation; the organisation must be one', async () => {
    const input = { first_name: 'Gavin', last_name: 'Belson', emails: ['gavin@hooli.example'], phones: ['+1 555 0100'], title: 'CEO', account_id: '893', owner_id: '61' };
    const w = await cap.contacts.create(input, opts);
    const body = {
      party: {
        type: 'person',
        firstName: 'Gavin',
        lastName: 'Belson',
        jobTitle: 'CEO',
        organisation: { id: 893 },
        owner: { id: 61 },
        emailAddresses: [{ address: 'gavin@hooli.example' }],
        phoneNumbers: [{ number: '+1 555 0100' }],
      },
    };
    expect(w.request).toEqual({ method: 'POST', path: '/parties', body });
    const c = await w.execute();
    expect(sent().map((r) => `${r.method} ${r.path}`).sort()).toEqual(['GET /api/v2/parties/893', 'GET /api/v2/users', 'POST /api/v2/parties']);
    expect(wire(sent('POST')[0]).body).toEqual(body);
    expect(c).toMatchObject({ name: 'Gavin Belson', emails: ['gavin@hooli.example'], phones: ['+1 555 0100'], title: 'CEO', account: { id: '893', name: 'Globex' } });

    fake.server.reset();
    const person = await cap.contacts.create({ last_name: 'Z', account_id: '897' }, opts);
    expect((await failure(person.execute())).message).toBe(
      "Party '897' is a person in Capsule, not an organisation: account_id takes an organisation (search with types: accounts).",
    );
    const gone = await cap.contacts.create({ last_name: 'Z', account_id: '4040' }, opts);
    expect((await failure(gone.execute())).message).toBe("No account with id '4040'. Find ids with search (types: accounts) or list_accounts.");
    expect(writes()).toHaveLength(0);
  });

  it('update replaces emails and phones: the person read first, dropped ones sent with _delete', async () => {
    const mary = fake.state.parties.get(897)!;
    const w = await cap.contacts.update('897', { emails: ['MARY@acme.example', 'mary.major@acme.example'], phones: ['+44 1'], title: 'COO' }, opts);
    expect(w.request.body).toEqual({ party: { jobTitle: 'COO', emailAddresses: [{ address: 'mary.major@acme.example' }], phoneNumbers: [{ number: '+44 1' }] } });
    const c = await w.execute();
    expect(c.emails).toEqual(['mary@acme.example', 'mary.major@acme.example']);
    expect(fake.state.parties.get(897)!.emails[0].id).toBe(mary.emails[0].id);

    fake.server.reset();
    const again = await cap.contacts.update('897', { emails: ['new@acme.example'] }, opts);
    const kept = fake.state.parties.get(897)!.emails.map((e) => e.id);
    expect(again.request.body).toEqual({ party: { emailAddresses: [...kept.map((id) => ({ id, _delete: true })), { address: 'new@acme.example' }] } });
    expect((await again.execute()).emails).toEqual(['new@acme.example']);
  });

  it("a validation error on a party names the argument an agent passed", async () => {
    const w = await cap.contacts.create({ last_name: 'Bad', emails: ['not-an-address'] }, opts);
    expect((await failure(w.execute())).message).toBe('Capsule rejected the request (422): address is invalid (emails).');
  });
});

describe('users', () => {
  it('one request for all of them (embed=party for the email), filtered and paged here', async () => {
    const all = await cap.users.list({ limit: 2 }, opts);
    expect(sent().map(wire)).toEqual([{ method: 'GET', path: '/api/v2/users', query: { embed: 'party' }, body: undefined }]);
    expect(all).toEqual({
      items: [
        { id: '61', name: 'Ted Danson', email: 'ted@capsule.example', active: true },
        { id: '62', name: 'Ana Silva', email: 'ana@capsule.example', active: true },
      ],
      next_cursor: 'offset:2',
    });
    expect((await cap.users.list({ limit: 2, cursor: 'offset:2' }, opts)).items).toEqual([{ id: '63', name: 'Bob Stone', active: false }]);
    expect((await cap.users.list({ limit: 5, name: 'ANA' }, opts)).items.map((u) => u.id)).toEqual(['62']);
    expect((await cap.users.list({ limit: 5, email: 'Ted@Capsule.example' }, opts)).items.map((u) => u.id)).toEqual(['61']);
    // The directory serves them for a minute: one request in all.
    expect(fake.server.requests).toHaveLength(1);
    expect(await cap.users.get('63', opts)).toEqual({ id: '63', name: 'Bob Stone', active: false });
    expect((await failure(cap.users.get('64', opts))).message).toBe("No user with id '64'. Find ids with list_users or search (types: users).");
  });
});

describe('activities: entries and tasks', () => {
  it("a deal's notes, emails and tasks, merged newest first under one cursor: its entries and every open and completed task, read at once", async () => {
    const page = await cap.activities.list({ deal_id: String(ACME.deal), limit: 3 }, opts);
    const reads = sent().map((r) => [r.path, r.query]);
    expect(reads).toEqual(
      expect.arrayContaining([
        ['/api/v2/opportunities/1005/entries', { perPage: '50' }],
        ['/api/v2/tasks', { status: 'open,completed', perPage: '100' }],
        ['/api/v2/tasks', { status: 'open,completed', perPage: '100', page: '2' }],
      ]),
    );
    expect(reads).toHaveLength(3);
    const tasks = [...fake.state.tasks.values()].filter((t) => t.opportunityId === ACME.deal && t.status !== 'PENDING');
    const entries = [...fake.state.entries.values()].filter((e) => e.opportunityId === ACME.deal);
    const expected = [...tasks.map((t) => [`task-${t.id}`, t.createdAt]), ...entries.map((e) => [`entry-${e.id}`, e.createdAt])]
      .sort((a, b) => b[1].localeCompare(a[1]))
      .map((x) => x[0]);
    expect(page.items.map((a) => a.id)).toEqual(expected.slice(0, 3));
    expect(page.next_cursor).toBe('offset:3');
    const rest = await cap.activities.list({ deal_id: String(ACME.deal), limit: 50, cursor: page.next_cursor! }, opts);
    expect(rest.items.map((a) => a.id)).toEqual(expected.slice(3));
    expect(rest.next_cursor).toBeNull();

    const task = tasks.find((t) => t.dueOn < today())!;
    expect(rest.items.concat(page.items).find((a) => a.id === `task-${task.id}`)).toEqual({
      id: `task-${task.id}`,
      type: 'task',
      subject: task.description,
      due_date: task.dueOn,
      done: false,
      owner: { id: String(task.ownerId), name: fake.state.users.get(task.ownerId)!.name },
      deal: { id: '1005', name: 'Opportunity 5' },
      created_at: task.createdAt,
      updated_at: task.updatedAt,
    });
    const email = [...page.items, ...rest.items].find((a) => a.type === 'email');
    expect(email).toMatchObject({ subject: 'Pilot terms', body: 'Attached are the pilot terms.', owner: { id: '62', name: 'Ana Silva' } });
  });

  it('filters: done lists tasks only (by status); a type lists its own; a party takes account_id or contact_id', async () => {
    const open = await cap.activities.list({ deal_id: '1005', done: false, limit: 50 }, opts);
    // No entries (notes are never done); the deal read so that an unknown one is not an empty list.
    expect(sent().map((r) => [r.path, r.query.status]).sort()).toEqual([
      ['/api/v2/opportunities/1005', undefined],
      ['/api/v2/tasks', 'open'],
    ]);
    const expected = [...fake.state.tasks.values()].filter((t) => t.opportunityId === 1005 && t.status === 'OPEN');
    expect(open.items.map((a) => a.id).sort()).toEqual(expected.map((t) => `task-${t.id}`).sort());

    fake.server.reset();
    const notes = await cap.activities.list({ account_id: '896', type: 'note', limit: 50 }, opts);
    expect(sent().map((r) => r.path)).toEqual(['/api/v2/parties/896/entries']);
    const acmeNotes = [...fake.state.entries.values()].filter((e) => e.partyId === 896 && e.type === 'note');
    expect(notes.items.map((a) => a.id).sort()).toEqual(acmeNotes.map((e) => `entry-${e.id}`).sort());
    // The completed-task entry on Acme repeats its task: left out.
    expect([...fake.state.entries.values()].some((e) => e.partyId === 896 && e.type === 'task')).toBe(true);
    for (const a of notes.items) expect(a).toMatchObject({ type: 'note', account: { id: '896', name: 'Acme Corp' } });

    const person = await cap.activities.list({ contact_id: '897', limit: 50 }, opts);
    expect(person.items.find((a) => a.type === 'email')).toMatchObject({ contact: { id: '897', name: 'Mary Major' } });
  });

  it('refused before any request: notes without a record, two records, calls; unknown records point to search', async () => {
    const refusals: Array<[Parameters<Cap['activities']['list']>[0], RegExp]> = [
      [{ limit: 5 }, /^Capsule lists notes and emails one record at a time/],
      [{ type: 'note', limit: 5 }, /one record at a time/],
      [{ deal_id: '1005', account_id: '896', limit: 5 }, /filter by one of deal_id, account_id, contact_id, project_id, not deal_id and account_id\.$/],
      [{ deal_id: '1005', type: 'call', limit: 5 }, /no type 'call'/],
      [{ deal_id: 'x', limit: 5 }, /is not a Capsule deal id/],
    ];
    for (const [q, msg] of refusals) expect((await failure(cap.activities.list(q, opts))).message).toMatch(msg);
    expect(fake.server.requests).toHaveLength(0);
    expect((await failure(cap.activities.list({ deal_id: '9999', limit: 5 }, opts))).message).toBe(
      "No deal with id '9999'. Find ids with search (types: deals) or list_deals.",
    );
    expect((await failure(cap.activities.list({ project_id: '9999', type: 'task', limit: 5 }, opts))).message).toBe(
      "No project with id '9999'. Find ids with search (types: projects) or list_projects.",
    );
    // Tasks across the account need no record.
    const all = await cap.activities.list({ type: 'task', done: false, limit: 500 }, opts);
    expect(all.items).toHaveLength([...fake.state.tasks.values()].filter((t) => t.status === 'OPEN').length);
  });

  it('progress counts every page of both walks; cancelling stops the walk between pages', async () => {
    const seen: Array<[number, string | undefined]> = [];
    await cap.activities.list({ deal_id: '1005', limit: 10 }, { onProgress: (done, _t, message) => void seen.push([done, message]) });
    expect(seen.map(([d]) => d)).toEqual([1, 2, 3]);
    expect(seen.map(([, m]) => m).sort()).toEqual(['read 1 page of notes and emails', 'read 1 page of tasks', 'read 2 pages of tasks']);

    fake.server.reset();
    fake.server.inject({ kind: 'delay', ms: 5_000 }, { match: (r) => r.path === '/api/v2/tasks' && r.query.page === '2' });
    const ac = new AbortController();
    const pending = cap.activities.list({ deal_id: '1005', limit: 10 }, { signal: ac.signal });
    while (!fake.server.requests.some((r) => r.query.page === '2')) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    expect((await failure(pending)).kind).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.server.requests.filter((r) => r.query.page === '3')).toHaveLength(0);
  });

  it('a note is created on one record (POST /entries); a subject becomes its first line; the record is checked first', async () => {
    const w = await cap.activities.create({ type: 'note', subject: 'Meeting notes', body: 'They want a pilot.', deal_id: '1005' }, opts);
    const body = { entry: { type: 'note', content: 'Meeting notes\n\nThey want a pilot.', opportunity: { id: 1005 } } };
    expect(w.request).toEqual({ method: 'POST', path: '/entries', body });
    expect(fake.server.requests).toHaveLength(0);
    const note = await w.execute();
    expect(sent().map(wire)).toEqual([
      { method: 'GET', path: '/api/v2/opportunities/1005', query: {}, body: undefined },
      { method: 'POST', path: '/api/v2/entries', query: {}, body },
    ]);
    expect(note).toMatchObject({ type: 'note', body: 'Meeting notes\n\nThey want a pilot.', deal: { id: '1005', name: 'Opportunity 5' }, owner: { id: '61' } });
    expect(note.subject).toBeUndefined();
    expect(await cap.activities.get(note.id, opts)).toEqual(note);

    const onPerson = await (await cap.activities.create({ type: 'note', body: 'Hi', contact_id: '898' }, opts)).execute();
    expect(onPerson).toMatchObject({ contact: { id: '898', name: 'Olivia Rossi' } });
    expect(onPerson.account).toBeUndefined();

    fake.server.reset();
    const refused: Array<[Parameters<Cap['activities']['create']>[0], RegExp]> = [
      [{ type: 'note', body: 'x', deal_id: '1005', account_id: '896' }, /one record only .* not deal_id and account_id\.$/],
      [{ type: 'note', body: 'x', deal_id: '1005', owner_id: '62' }, /author of a note or email: leave out owner_id/],
      [{ type: 'note', deal_id: '1005' }, /needs `body`/],
      [{ type: 'task', subject: 'No date', deal_id: '1005' }, /requires `subject` \(the task's description\) and `due_date`/],
    ];
    for (const [input, msg] of refused) expect((await failure(cap.activities.create(input, opts))).message).toMatch(msg);
    expect(fake.server.requests).toHaveLength(0);
    const unknown = await cap.activities.create({ type: 'note', body: 'x', project_id: '9999' }, opts);
    expect((await failure(unknown.execute())).message).toBe("No project with id '9999'. Find ids with search (types: projects) or list_projects.");
    expect(writes()).toHaveLength(0);
  });

  it('a task is created with its description, detail, due date, owner and record (POST /tasks)', async () => {
    const input = { type: 'task' as const, subject: 'Send pilot terms', body: 'Two pages', due_date: '2026-12-01', owner_id: '62', project_id: '2003' };
    const w = await cap.activities.create(input, opts);
    const body = { task: { description: 'Send pilot terms', detail: 'Two pages', dueOn: '2026-12-01', owner: { id: 62 }, kase: { id: 2003 } } };
    expect(w.request).toEqual({ method: 'POST', path: '/tasks', body });
    const t = await w.execute();
    expect(sent().map((r) => `${r.method} ${r.path}`).sort()).toEqual(['GET /api/v2/kases/2003', 'GET /api/v2/users', 'POST /api/v2/tasks']);
    expect(t).toMatchObject({ type: 'task', subject: 'Send pilot terms', body: 'Two pages', due_date: '2026-12-01', done: false, owner: { id: '62' }, project: { id: '2003', name: 'Project 3' } });
    expect(t.id).toMatch(/^task-\d+$/);
  });

  it('update: a task done by its status; a note by its text; an email by subject and body; what an entry has not is refused', async () => {
    const id = [...fake.state.tasks.values()].find((t) => t.status === 'OPEN')!.id;
    const done = await cap.activities.update(`task-${id}`, { done: true }, opts);
    expect(done.request).toEqual({ method: 'PUT', path: `/tasks/${id}`, body: { task: { status: 'COMPLETED' } } });
    expect(await done.execute()).toMatchObject({ id: `task-${id}`, done: true });
    expect(fake.state.tasks.get(id)!.status).toBe('COMPLETED');

    const note = [...fake.state.entries.values()].find((e) => e.type === 'note')!;
    const text = await cap.activities.update(`entry-${note.id}`, { body: 'Rewritten' }, opts);
    expect(text.request).toEqual({ method: 'PUT', path: `/entries/${note.id}`, body: { entry: { content: 'Rewritten' } } });
    expect((await text.execute()).body).toBe('Rewritten');

    const email = [...fake.state.entries.values()].find((e) => e.type === 'email')!;
    fake.server.reset();
    const subject = await cap.activities.update(`entry-${email.id}`, { subject: 'Pilot terms v2' }, opts);
    expect(sent().map((r) => r.path)).toEqual([`/api/v2/entries/${email.id}`]);
    expect(subject.request.body).toEqual({ entry: { subject: 'Pilot terms v2' } });
    expect((await subject.execute()).subject).toBe('Pilot terms v2');

    const refused: Array<[string, Parameters<Cap['activities']['update']>[1], RegExp]> = [
      [`entry-${note.id}`, { subject: 'Only a subject' }, /one text with no subject of its own/],
      [`entry-${note.id}`, { due_date: '2026-01-01' }, /has no due_date; only tasks do/],
      [`entry-${note.id}`, { owner_id: '62' }, /leave out owner_id/],
      [`task-${id}`, {}, /^Nothing to update/],
      ['42', { done: true }, /is not a Capsule activity id: notes and emails look like entry-12, tasks like task-493/],
    ];
    for (const [aid, patch, msg] of refused) expect((await failure(cap.activities.update(aid, patch, opts))).message).toMatch(msg);
    const gone = await cap.activities.update('task-99999', { done: true }, opts);
    expect((await failure(gone.execute())).message).toBe("No activity with id 'task-99999'. Find ids with list_activities.");
  });
});

describe('search through Capsule\'s own', () => {
  it('one request per type, parties once for accounts and contacts; hits carry what the answers tell', async () => {
    const seen: number[] = [];
    const answer = await cap.search({ query: 'acme', types: ['deals', 'accounts', 'contacts', 'projects'], limit: 5 }, { onProgress: (d) => void seen.push(d) });
    expect(sent().map((r) => [r.path, r.query]).sort()).toEqual([
      ['/api/v2/kases/search', { q: 'acme', perPage: '50' }],
      ['/api/v2/opportunities/search', { q: 'acme', perPage: '50' }],
      ['/api/v2/parties/search', { q: 'acme', perPage: '100' }],
    ]);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(answer.hits).toEqual([
      { type: 'accounts', id: '896', name: 'Acme Corp', domain: 'acme.example', owner: { id: '62', name: 'Ana Silva' } },
      { type: 'contacts', id: '897', name: 'Mary Major', account: { id: '896', name: 'Acme Corp' }, email: 'mary@acme.example' },
      { type: 'contacts', id: '898', name: 'Olivia Rossi', account: { id: '896', name: 'Acme Corp' }, email: 'olivia@acme.example' },
    ]);

    fake.server.reset();
    const deals = await cap.search({ query: 'Opportunity 12', types: ['deals', 'projects'], limit: 5 }, opts);
    const o = fake.state.opportunities.get(1012)!;
    expect(deals.hits.find((h) => h.id === '1012')).toEqual({
      type: 'deals',
      id: '1012',
      name: 'Opportunity 12',
      status: o.closedOn === null ? 'open' : o.probability === 100 ? 'won' : 'lost',
      stage: { id: String(o.milestoneId), name: fake.state.milestones.get(o.milestoneId)!.name },
      owner: { id: String(o.ownerId), name: fake.state.users.get(o.ownerId!)!.name },
      account: { id: String(o.partyId), name: expect.any(String) },
    });
    expect(sent().map((r) => r.path).sort()).toEqual(['/api/v2/kases/search', '/api/v2/opportunities/search']);
  });
});

describe('list_deals by account, and the ids deal and project writes refer to', () => {
  it("an account's deals from its own listing, the other filters applied here; an unknown account points to search", async () => {
    const page = await cap.deals.list({ account_id: '896', status: 'open', limit: 100 }, opts);
    expect(sent().map((r) => [r.path, r.query])).toEqual(
      expect.arrayContaining([['/api/v2/parties/896/opportunities', { perPage: '100' }]]),
    );
    expect(sent('POST')).toHaveLength(0);
    const expected = [...fake.state.opportunities.values()].filter((o) => o.partyId === 896 && o.closedOn === null);
    expect(page.items.map((d) => d.id)).toEqual(expected.map((o) => String(o.id)));
    for (const d of page.items) expect(d).toMatchObject({ status: 'open', account: { id: '896', name: 'Acme Corp' } });
    const inPipeline2 = await cap.deals.list({ account_id: '896', pipeline_id: '2', limit: 100 }, opts);
    expect(inPipeline2.items.map((d) => d.id)).toEqual(
      [...fake.state.opportunities.values()].filter((o) => o.partyId === 896 && pipelineOf(o) === 2).map((o) => String(o.id)),
    );
    expect((await failure(cap.deals.list({ account_id: '4040', limit: 5 }, opts))).message).toBe(
      "No account with id '4040'. Find ids with search (types: accounts) or list_accounts.",
    );
  });

  it('unknown owners and accounts are refused before the write, with the sentence that points to search and list_users', async () => {
    const deal = await cap.deals.create({ name: 'x', stage_id: '1', account_id: '4040' }, opts);
    expect((await failure(deal.execute())).message).toBe("No account with id '4040'. Find ids with search (types: accounts) or list_accounts.");
    const owner = await cap.deals.update('1001', { owner_id: '99' }, opts);
    expect((await failure(owner.execute())).message).toBe("No user with id '99'. Find ids with list_users or search (types: users).");
    const project = await cap.projects.create({ name: 'x', account: { id: '4040' } }, opts);
    expect((await failure(project.execute())).message).toBe("No account with id '4040'. Find ids with search (types: accounts) or list_accounts.");
    expect(writes()).toHaveLength(0);
  });
});
