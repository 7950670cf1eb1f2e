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
import { CAPSULE_TOKEN, SEED, startFakeCapsule, type FakeCapsule, type FakeOpportunity } from '../fakes/capsule.js';
import type { RecordedRequest } from '../fakes/server.js';

type Full<T> = Required<NonNullable<T>>;
/** The provider with the operation groups Capsule implements made non-optional for the tests. */
type Cap = Omit<CrmProvider, 'pipelines' | 'stages' | 'deals' | 'projects'> & {
  pipelines: Full<CrmProvider['pipelines']>;
  stages: Full<CrmProvider['stages']>;
  deals: Full<CrmProvider['deals']>;
  projects: Full<CrmProvider['projects']>;
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
