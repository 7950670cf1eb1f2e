/**
 * Pipedrive provider against the fake Pipedrive (real HTTP on 127.0.0.1): exact requests on the
 * wire, pagination, mapping, names, parallelism, secrets, retries and error mapping.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { closeAllPools } from '../../src/crm/http.js';
import type { CrmProvider } from '../../src/crm/provider.js';
import { createPipedriveProvider } from '../../src/providers/pipedrive/index.js';
import { DEFAULT_TOKEN, SEED, startFakePipedrive, type FakeDeal, type FakePipedrive } from '../fakes/pipedrive.js';
import type { RecordedRequest } from '../fakes/server.js';

type Full<T> = Required<NonNullable<T>>;
/** The provider with the operation groups Pipedrive implements made non-optional for the tests. */
type Pd = Omit<CrmProvider, 'pipelines' | 'stages' | 'deals' | 'stats'> & {
  pipelines: Full<CrmProvider['pipelines']>;
  stages: Full<CrmProvider['stages']>;
  deals: Omit<Full<CrmProvider['deals']>, 'delete'> & { delete?: unknown };
  stats: Full<CrmProvider['stats']>;
};

let fake: FakePipedrive;
let pd: Pd;
const opts = {};

const make = (over: Partial<Parameters<typeof createPipedriveProvider>[0]> = {}) =>
  createPipedriveProvider({ apiToken: DEFAULT_TOKEN, baseUrl: fake.url, http: { retryBaseMs: 1 }, ...over }) as Pd;

beforeEach(async () => {
  fake = await startFakePipedrive();
  pd = make();
});
afterEach(async () => {
  await fake.stop();
});
afterAll(async () => {
  await closeAllPools();
});

const sent = (method?: string, path?: string | RegExp): RecordedRequest[] =>
  fake.server.requests.filter(
    (r) =>
      (method === undefined || r.method === method) &&
      (path === undefined || (typeof path === 'string' ? r.path === path : path.test(r.path))),
  );

async function failure(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CrmError);
    return e as CrmError;
  }
  throw new Error('expected a CrmError');
}

const liveDeals = (pred: (d: FakeDeal) => boolean = () => true) =>
  [...fake.state.deals.values()].filter((d) => !d.is_deleted && pred(d));

describe('identity and auth', () => {
  it('declares itself and authenticates every request with the x-api-token header only', async () => {
    expect(pd.kind).toBe('pipedrive');
    expect(pd.label).toBe('Pipedrive');
    expect(pd.remote).toBe(true);
    expect(pd.projects).toBeUndefined();
    await pd.deals!.list({ limit: 5 }, opts);
    expect(fake.server.requests.length).toBeGreaterThan(1);
    for (const r of fake.server.requests) {
      expect(r.headers['x-api-token']).toBe(DEFAULT_TOKEN);
      expect(r.rawUrl).not.toContain(DEFAULT_TOKEN);
      expect(r.headers.authorization).toBeUndefined();
    }
  });

  it('maps a bad token to an auth error that never repeats the token', async () => {
    const wrong = 'pd-wrong-token-fedcba9876543210';
    const bad = make({ apiToken: wrong });
    const e = await failure(bad.pipelines!.list({ limit: 10 }, opts));
    expect(e.kind).toBe('auth');
    expect(e.message).toContain('unauthorized access');
    expect(e.message).not.toContain(wrong);
    expect(sent()[0].headers['x-api-token']).toBe(wrong);
  });

  it('redacts the token when an upstream error body echoes it', async () => {
    fake.server.inject({
      kind: 'status',
      status: 400,
      body: { success: false, error: `Bad request for token ${DEFAULT_TOKEN}`, error_info: 'x' },
    });
    const e = await failure(pd.pipelines!.list({ limit: 10 }, opts));
    expect(e.kind).toBe('validation');
    expect(e.message).not.toContain(DEFAULT_TOKEN);
    expect(e.message).toContain('[REDACTED]');
  });

  it('uses the company root as base: v2 under /api/v2, v1 under /api/v1, API-root URLs tolerated', async () => {
    const viaApiRoot = make({ baseUrl: `${fake.url}/api/v2/` });
    await viaApiRoot.pipelines!.list({ limit: 1 }, opts);
    await viaApiRoot.stats!.conversion!({ pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-12-31' }, opts);
    expect(sent('GET', '/api/v2/pipelines')).toHaveLength(2); // list + directory
    expect(sent('GET', '/api/v1/pipelines/1/conversion_statistics')).toHaveLength(1);
  });
});

describe('pipelines', () => {
  it('lists with the requested page size and passes the native cursor straight through', async () => {
    const first = await pd.pipelines!.list({ limit: 1 }, opts);
    expect(sent()).toHaveLength(1);
    expect(sent()[0]).toMatchObject({ method: 'GET', path: '/api/v2/pipelines', query: { limit: '1' } });
    expect(first.items).toEqual([
      {
        id: '1',
        name: 'Sales',
        is_deal_probability_enabled: true,
        created_at: '2026-01-05T09:00:00Z',
        updated_at: '2026-01-05T09:00:00Z',
      },
    ]);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = await pd.pipelines!.list({ limit: 1, cursor: first.next_cursor! }, opts);
    expect(sent()[1].query).toEqual({ limit: '1', cursor: first.next_cursor });
    expect(second.items.map((p) => p.name)).toEqual(['Partnerships']);
    expect(second.next_cursor).toBeNull();
  });

  it('get_pipeline sends its three requests together and returns ordered stages with open deals', async () => {
    const barrier = fake.barrier(3);
    const p = await pd.pipelines!.get('1', opts);
    // Every answer was held until all three requests had arrived: they were in flight together.
    expect(barrier.reached()).toBe(true);
    expect(fake.server.requests).toHaveLength(3);
    expect(sent('GET', '/api/v2/pipelines/1')).toHaveLength(1);
    expect(sent('GET', '/api/v2/stages')[0].query).toEqual({
      pipeline_id: '1',
      sort_by: 'order_nr',
      sort_direction: 'asc',
      limit: '500',
    });
    expect(sent('GET', '/api/v2/deals')[0].query).toEqual({ pipeline_id: '1', status: 'open', limit: '500' });

    expect(p.name).toBe('Sales');
    expect(p.stages!.map((s) => s.name)).toEqual([
      'Qualified',
      'Contact Made',
      'Demo Scheduled',
      'Proposal Made',
      'Negotiations Started',
    ]);
    expect(p.stages!.map((s) => s.position)).toEqual([1, 2, 3, 4, 5]);
    for (const s of p.stages!) {
      expect(s.pipeline).toEqual({ id: '1', name: 'Sales' });
      const open = liveDeals((d) => d.stage_id === Number(s.id) && d.status === 'open');
      expect(s.open_deals!.count).toBe(open.length);
      const usd = open.filter((d) => d.currency === 'USD').reduce((a, d) => a + d.value, 0);
      expect(s.open_deals!.values.USD ?? 0).toBe(usd);
    }
    expect(p.open_deals!.count).toBe(liveDeals((d) => d.pipeline_id === 1 && d.status === 'open').length);
    expect(p.open_deals!.count).toBe(p.stages!.reduce((a, s) => a + s.open_deals!.count, 0));
  });

  it('get_pipeline follows the deal cursor when open deals span several pages', async () => {
    const base = fake.state.deals.get(3)!;
    for (let i = 0; i < 600; i++) {
      const id = 1000 + i;
      fake.state.deals.set(id, { ...base, id, status: 'open', pipeline_id: 2, stage_id: 6, value: 100, currency: 'USD', history: [] });
    }
    const p = await pd.pipelines!.get('2', opts);
    const dealPages = sent('GET', '/api/v2/deals');
    expect(dealPages).toHaveLength(2);
    expect(dealPages[1].query).toEqual({ pipeline_id: '2', status: 'open', limit: '500', cursor: expect.any(String) });
    expect(p.open_deals!.count).toBe(liveDeals((d) => d.pipeline_id === 2 && d.status === 'open').length);
    expect(p.open_deals!.count).toBeGreaterThan(600);
  });

  it('an unknown pipeline is not_found and points at list_pipelines', async () => {
    const e = await failure(pd.pipelines!.get('999', opts));
    expect(e.kind).toBe('not_found');
    expect(e.message).toBe("No pipeline with id '999'. Call list_pipelines to see valid pipeline ids.");
  });

  it('creates: the prepared request is exactly what is sent, and the result is read back', async () => {
    const w = await pd.pipelines!.create!({ name: 'Enterprise', is_deal_probability_enabled: true }, opts);
    expect(w.request).toEqual({ method: 'POST', path: '/api/v2/pipelines', body: { name: 'Enterprise', is_deal_probability_enabled: true } });
    expect(fake.server.requests).toHaveLength(0);
    const p = await w.execute();
    expect(sent()).toHaveLength(1);
    expect(sent()[0]).toMatchObject({ method: 'POST', path: '/api/v2/pipelines', body: w.request.body });
    expect(sent()[0].headers['content-type']).toBe('application/json');
    expect(p).toMatchObject({ id: '3', name: 'Enterprise', is_deal_probability_enabled: true });
    expect(fake.state.pipelines.get(3)?.name).toBe('Enterprise');
  });

  it('updates with PATCH carrying only the given fields', async () => {
    const w = await pd.pipelines!.update!('2', { name: 'Partners' }, opts);
    expect(w.request).toEqual({ method: 'PATCH', path: '/api/v2/pipelines/2', body: { name: 'Partners' } });
    const p = await w.execute();
    expect(sent()[0]).toMatchObject({ method: 'PATCH', path: '/api/v2/pipelines/2', body: { name: 'Partners' } });
    expect(p.name).toBe('Partners');
    expect(fake.state.pipelines.get(2)?.is_deal_probability_enabled).toBe(false);
    await expect(pd.pipelines!.update!('2', {}, opts)).rejects.toThrow(/Nothing to update/);
  });

  it('a soft-deleted pipeline reads as not_found', async () => {
    fake.state.pipelines.get(2)!.is_deleted = true;
    const e = await failure(pd.pipelines.get('2', opts));
    expect(e.kind).toBe('not_found');
    expect(e.message).toContain('was deleted in Pipedrive');
  });

  it('deletes (soft) and answers with the id and name', async () => {
    const w = await pd.pipelines!.delete!('2', opts);
    expect(w.request).toEqual({ method: 'DELETE', path: '/api/v2/pipelines/2' });
    expect(await w.execute()).toEqual({ id: '2', name: 'Partnerships' });
    expect(sent('DELETE', '/api/v2/pipelines/2')).toHaveLength(1);
    expect(sent('DELETE')[0].body).toBeUndefined();
    expect(fake.state.pipelines.get(2)?.is_deleted).toBe(true);
  });
});

describe('stages', () => {
  it('lists natively: pipeline_id, sort_by position -> order_nr, names of pipelines', async () => {
    const page = await pd.stages!.list({ pipeline_id: '2', sort_by: 'position', sort_direction: 'desc', limit: 3 }, opts);
    expect(sent('GET', '/api/v2/stages')[0].query).toEqual({
      pipeline_id: '2',
      sort_by: 'order_nr',
      sort_direction: 'desc',
      limit: '3',
    });
    expect(page.items.map((s) => [s.name, s.position])).toEqual([
      ['Signed Off', 4],
      ['Contract Sent', 3],
      ['Evaluation', 2],
    ]);
    expect(page.items[0]).toEqual({
      id: '9',
      name: 'Signed Off',
      pipeline: { id: '2', name: 'Partnerships' },
      position: 4,
      status: 'active',
      probability: 90,
      created_at: '2026-01-05T09:00:00Z',
      updated_at: '2026-01-05T09:00:00Z',
    });
    expect(page.next_cursor).toEqual(expect.any(String));
    // Pipeline names came from one directory load at the largest page size.
    expect(sent('GET', '/api/v2/pipelines')[0].query).toEqual({ limit: '500' });
    const rest = await pd.stages!.list({ pipeline_id: '2', sort_by: 'position', sort_direction: 'desc', limit: 3, cursor: page.next_cursor! }, opts);
    expect(rest.items.map((s) => s.name)).toEqual(['Intro']);
    expect(rest.next_cursor).toBeNull();
    expect(sent('GET', '/api/v2/pipelines')).toHaveLength(1); // cached
  });

  it('maps created_at/updated_at sorts natively', async () => {
    await pd.stages!.list({ sort_by: 'updated_at', limit: 50 }, opts);
    await pd.stages!.list({ sort_by: 'created_at', sort_direction: 'asc', limit: 50 }, opts);
    const q = sent('GET', '/api/v2/stages').map((r) => r.query);
    expect(q).toEqual([
      { sort_by: 'update_time', limit: '50' },
      { sort_by: 'add_time', sort_direction: 'asc', limit: '50' },
    ]);
  });

  it('filters by name and sorts by name client-side over a full scan, with its own cursor', async () => {
    const page = await pd.stages!.list({ name: 'CO', sort_by: 'name', limit: 1 }, opts);
    expect(sent('GET', '/api/v2/stages')[0].query).toEqual({ sort_by: 'order_nr', sort_direction: 'asc', limit: '500' });
    expect(page.items.map((s) => s.name)).toEqual(['Contact Made']);
    expect(page.next_cursor).toBe('offset:1');
    const more = await pd.stages!.list({ name: 'CO', sort_by: 'name', limit: 1, cursor: page.next_cursor! }, opts);
    expect(more.items.map((s) => s.name)).toEqual(['Contract Sent']);
    expect(more.next_cursor).toBeNull();
    const byName = await pd.stages!.list({ pipeline_id: '1', sort_by: 'name', limit: 10 }, opts);
    expect(byName.items.map((s) => s.name)).toEqual([
      'Contact Made',
      'Demo Scheduled',
      'Negotiations Started',
      'Proposal Made',
      'Qualified',
    ]);
  });

  it('declares only the filters it honours', async () => {
    expect(pd.capabilities.stages!.filters).toEqual(['pipeline_id', 'name', 'sort_by', 'sort_direction']);
    const e = await failure(pd.stages!.list({ status: 'active', limit: 10 }, opts));
    expect(e.kind).toBe('unsupported');
    expect(fake.server.requests).toHaveLength(0);
  });

  it('gets one stage; a soft-deleted stage reads as inactive', async () => {
    const s = await pd.stages!.get('3', opts);
    expect(sent('GET', '/api/v2/stages/3')).toHaveLength(1);
    expect(s).toMatchObject({ id: '3', name: 'Demo Scheduled', position: 3, probability: 40, status: 'active', pipeline: { id: '1', name: 'Sales' } });
    const gone = await pd.stages!.get(String(SEED.deletedStageId), opts);
    expect(gone.status).toBe('inactive');
  });

  it('an unknown stage id (404) is not_found with a hint naming list_stages', async () => {
    const e = await failure(pd.stages!.get('4040', opts));
    expect(e.kind).toBe('not_found');
    expect(e.message).toBe("No stage with id '4040'. Call list_stages (optionally with pipeline_id) to see valid stage ids.");
    expect(sent('GET', '/api/v2/stages/4040')).toHaveLength(1); // a 404 is not retried
  });

  it('refuses ids that cannot be Pipedrive ids without sending anything', async () => {
    const e = await failure(pd.stages!.get('abc', opts));
    expect(e.kind).toBe('validation');
    expect(e.message).toContain('list_stages');
    expect(fake.server.requests).toHaveLength(0);
  });

  it('creates, updates and deletes with the exact v2 bodies', async () => {
    const c = await pd.stages!.create!({ pipeline_id: '2', name: 'Legal', probability: 70 }, opts);
    expect(c.request).toEqual({ method: 'POST', path: '/api/v2/stages', body: { name: 'Legal', pipeline_id: 2, deal_probability: 70 } });
    const created = await c.execute();
    expect(sent('POST', '/api/v2/stages')[0].body).toEqual({ name: 'Legal', pipeline_id: 2, deal_probability: 70 });
    expect(created).toMatchObject({ id: '11', name: 'Legal', position: 5, probability: 70, pipeline: { id: '2', name: 'Partnerships' } });

    const u = await pd.stages!.update!('11', { name: 'Legal review', probability: 75 }, opts);
    expect(u.request).toEqual({ method: 'PATCH', path: '/api/v2/stages/11', body: { name: 'Legal review', deal_probability: 75 } });
    expect(await u.execute()).toMatchObject({ id: '11', name: 'Legal review', probability: 75 });
    expect(sent('PATCH', '/api/v2/stages/11')[0].body).toEqual({ name: 'Legal review', deal_probability: 75 });

    const d = await pd.stages!.delete!('11', opts);
    expect(d.request).toEqual({ method: 'DELETE', path: '/api/v2/stages/11' });
    expect(await d.execute()).toEqual({ id: '11', name: 'Legal review' });
    expect(fake.state.stages.get(11)?.is_deleted).toBe(true);
  });

  it('refuses position, color and status writes before any request', async () => {
    await expect(pd.stages!.create!({ pipeline_id: '1', name: 'X', position: 1 }, opts)).rejects.toThrow(/position/);
    await expect(pd.stages!.update!('1', { color: '#ff0000' }, opts)).rejects.toThrow(/color/);
    await expect(pd.stages!.update!('1', { status: 'inactive' }, opts)).rejects.toThrow(/status/);
    expect(fake.server.requests).toHaveLength(0);
    expect(pd.capabilities.stages!.create).toEqual({ supported: ['pipeline_id', 'name', 'probability'], required: ['name', 'pipeline_id'] });
  });
});

describe('deals', () => {
  it('pages through all deals 100 at a time with Pipedrive cursors', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await pd.deals!.list({ limit: 100, cursor }, opts);
      seen.push(...page.items.map((d) => d.id));
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(SEED.deals);
    const q = sent('GET', '/api/v2/deals').map((r) => r.query);
    expect(q[0]).toEqual({ sort_by: 'update_time', sort_direction: 'desc', limit: '100' });
    expect(q[1]).toEqual({ sort_by: 'update_time', sort_direction: 'desc', limit: '100', cursor: expect.any(String) });
    // Directory lookups happened once, not once per page.
    expect(sent('GET', '/api/v1/users')).toHaveLength(1);
    expect(sent('GET', '/api/v2/stages')).toHaveLength(1);
    expect(sent('GET', '/api/v2/pipelines')).toHaveLength(1);
  });

  it('sends filters natively and reads deals as names', async () => {
    const page = await pd.deals!.list({ pipeline_id: '1', stage_id: '2', status: 'open', owner_id: '2', limit: 50 }, opts);
    expect(sent('GET', '/api/v2/deals')[0].query).toEqual({
      pipeline_id: '1',
      stage_id: '2',
      status: 'open',
      owner_id: '2',
      sort_by: 'update_time',
      sort_direction: 'desc',
      limit: '50',
    });
    const expected = liveDeals((d) => d.pipeline_id === 1 && d.stage_id === 2 && d.status === 'open' && d.owner_id === 2);
    expect(page.items.map((d) => Number(d.id)).sort((a, b) => a - b)).toEqual(expected.map((d) => d.id));
    for (const d of page.items) {
      expect(d.pipeline).toEqual({ id: '1', name: 'Sales' });
      expect(d.stage).toEqual({ id: '2', name: 'Contact Made' });
      expect(d.owner).toEqual({ id: '2', name: 'Bob Seller' });
      expect(d.status).toBe('open');
      const native = fake.state.deals.get(Number(d.id))!;
      if (native.org_id) expect(d.account).toEqual({ id: String(native.org_id), name: fake.state.orgs.get(native.org_id)!.name });
      expect(d.amount).toBe(native.value);
      expect(d.close_date).toBe(native.expected_close_date);
    }
    // Organization names: one request by id, at most 100 ids.
    const orgReq = sent('GET', '/api/v2/organizations');
    expect(orgReq.length).toBeLessThanOrEqual(1);
    if (orgReq[0]) expect(String(orgReq[0].query.ids).split(',').length).toBeLessThanOrEqual(100);
  });

  it('loads the name directory in parallel with the deals page', async () => {
    const barrier = fake.barrier(4);
    await pd.deals!.list({ limit: 10 }, opts);
    expect(barrier.reached()).toBe(true);
    expect(fake.server.requests.slice(0, 4).map((r) => r.path).sort()).toEqual([
      '/api/v1/users',
      '/api/v2/deals',
      '/api/v2/pipelines',
      '/api/v2/stages',
    ]);
  });

  it('refreshes the directory once when a deal names an unknown owner', async () => {
    await pd.deals!.get('1', opts);
    expect(sent('GET', '/api/v1/users')).toHaveLength(1);
    fake.state.users.set(5, { id: 5, name: 'Dana New', email: 'dana@example.com', active_flag: true });
    fake.state.deals.get(1)!.owner_id = 5;
    const d = await pd.deals!.get('1', opts);
    expect(d.owner).toEqual({ id: '5', name: 'Dana New' });
    expect(sent('GET', '/api/v1/users')).toHaveLength(2);
    // An owner that stays unknown after the refresh does not cause a refetch on every call.
    fake.state.deals.get(1)!.owner_id = 77;
    await pd.deals!.get('1', opts);
    await pd.deals!.get('1', opts);
    expect(sent('GET', '/api/v1/users')).toHaveLength(3);
  });

  it('gets a deal, with remote_data only when asked', async () => {
    const d = await pd.deals!.get('5', { include_remote_data: true });
    expect(sent('GET', '/api/v2/deals/5')).toHaveLength(1);
    const native = fake.state.deals.get(5)!;
    expect(d).toMatchObject({ id: '5', name: native.title, status: native.status, amount: native.value, currency: native.currency });
    expect(d.remote_data).toMatchObject({ id: 5, title: native.title, stage_id: native.stage_id });
    expect((await pd.deals!.get('5', opts)).remote_data).toBeUndefined();
    const e = await failure(pd.deals!.get('9999', opts));
    expect(e.kind).toBe('not_found');
    expect(e.message).toBe("No deal with id '9999'. Call list_deals to see valid deal ids.");
  });

  it('creates a deal: exact body, then the record read back with names', async () => {
    const w = await pd.deals!.create!(
      { name: 'Globex pilot', pipeline_id: '2', stage_id: '7', amount: 4200, currency: 'EUR', owner_id: '3', account_id: '2', close_date: '2026-12-15' },
      opts,
    );
    const body = {
      title: 'Globex pilot',
      pipeline_id: 2,
      stage_id: 7,
      value: 4200,
      currency: 'EUR',
      owner_id: 3,
      org_id: 2,
      expected_close_date: '2026-12-15',
    };
    expect(w.request).toEqual({ method: 'POST', path: '/api/v2/deals', body });
    const d = await w.execute();
    expect(sent('POST', '/api/v2/deals')).toHaveLength(1);
    expect(sent('POST', '/api/v2/deals')[0].body).toEqual(body);
    expect(d).toMatchObject({
      id: String(SEED.deals + 1),
      name: 'Globex pilot',
      status: 'open',
      pipeline: { id: '2', name: 'Partnerships' },
      stage: { id: '7', name: 'Evaluation' },
      amount: 4200,
      currency: 'EUR',
      owner: { id: '3', name: 'Carla Closer' },
      account: { id: '2', name: 'Globex' },
      close_date: '2026-12-15',
    });
  });

  it('updates a deal with only the given fields (move stage, mark won)', async () => {
    const w = await pd.deals!.update!('4', { stage_id: '5', status: 'won' }, opts);
    expect(w.request).toEqual({ method: 'PATCH', path: '/api/v2/deals/4', body: { stage_id: 5, status: 'won' } });
    const d = await w.execute();
    expect(sent('PATCH', '/api/v2/deals/4')[0].body).toEqual({ stage_id: 5, status: 'won' });
    expect(d).toMatchObject({ id: '4', status: 'won', stage: { id: '5', name: 'Negotiations Started' } });
    expect(d.stage_changed_at).toEqual(expect.any(String));
  });

  it('has no delete, and says so in its capabilities', () => {
    expect(pd.deals!.delete).toBeUndefined();
    expect(pd.capabilities.deals!.delete).toBeUndefined();
    expect(pd.capabilities.deals!.filters).toEqual(['pipeline_id', 'stage_id', 'status', 'owner_id', 'account_id']);
  });
});

describe('statistics (v1)', () => {
  it('conversion: exact query, stage ids mapped to named refs', async () => {
    const s = await pd.stats!.conversion!({ pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-12-31', user_id: '2' }, opts);
    expect(sent('GET', '/api/v1/pipelines/1/conversion_statistics')[0].query).toEqual({
      start_date: '2026-01-01',
      end_date: '2026-12-31',
      user_id: '2',
    });
    expect(s.pipeline).toEqual({ id: '1', name: 'Sales' });
    expect(s.period).toEqual({ start_date: '2026-01-01', end_date: '2026-12-31' });
    expect(s.stage_conversions).toHaveLength(4);
    expect(s.stage_conversions[0]).toMatchObject({ from_stage: { id: '1', name: 'Qualified' }, to_stage: { id: '2', name: 'Contact Made' } });
    for (const c of s.stage_conversions) expect(c.conversion_rate).toBeGreaterThanOrEqual(0);
    expect(s.won_conversion + s.lost_conversion).toBeLessThanOrEqual(100);
  });

  it('movement: no user_id unless given, deal ids as strings, average age by named stage', async () => {
    const s = await pd.stats!.movement!({ pipeline_id: '2', start_date: '2026-01-01', end_date: '2026-12-31' }, opts);
    expect(sent('GET', '/api/v1/pipelines/2/movement_statistics')[0].query).toEqual({ start_date: '2026-01-01', end_date: '2026-12-31' });
    expect(s.pipeline).toEqual({ id: '2', name: 'Partnerships' });
    expect(s.new_deals.count).toBe(s.new_deals.deal_ids.length);
    expect(s.new_deals.deal_ids.every((id) => typeof id === 'string')).toBe(true);
    // Pipedrive's default user is the token's own (user 1 in the fake).
    const mine = liveDeals((d) => d.pipeline_id === 2 && d.owner_id === 1 && d.add_time.startsWith('2026'));
    expect(s.new_deals.count).toBe(mine.length);
    expect(s.average_age_in_days.by_stages.map((b) => b.stage.name)).toEqual(['Intro', 'Evaluation', 'Contract Sent', 'Signed Off']);
  });

  it('validates dates before sending and maps an unknown pipeline to not_found', async () => {
    await expect(pd.stats!.conversion!({ pipeline_id: '1', start_date: '2026-1-1', end_date: '2026-12-31' }, opts)).rejects.toThrow(/YYYY-MM-DD/);
    await expect(pd.stats!.conversion!({ pipeline_id: '1', start_date: '2026-12-31', end_date: '2026-01-01' }, opts)).rejects.toThrow(/after/);
    expect(fake.server.requests).toHaveLength(0);
    const e = await failure(pd.stats!.movement!({ pipeline_id: '77', start_date: '2026-01-01', end_date: '2026-01-31' }, opts));
    expect(e.kind).toBe('not_found');
    expect(e.message).toContain('list_pipelines');
    // Pipedrive answers an unknown user with a 404 too: the sentence names the user, not the pipeline.
    const u = await failure(pd.stats!.movement!({ pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-01-31', user_id: '77' }, opts));
    expect(u.message).toBe("No user with id '77'. Find ids with list_users or search (types: users).");
  });
});

describe('upstream failures', () => {
  it('retries a read after a 429, honouring the rate-limit headers', async () => {
    fake.server.inject(
      {
        kind: 'status',
        status: 429,
        headers: { 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1' },
        body: { success: false, error: 'Request over limit', error_info: 'Please check developers.pipedrive.com' },
      },
      { match: (r) => r.path === '/api/v2/pipelines' },
    );
    const page = await pd.pipelines!.list({ limit: 10 }, opts);
    expect(page.items).toHaveLength(2);
    const calls = sent('GET', '/api/v2/pipelines');
    expect(calls).toHaveLength(2);
    expect(calls[1].rawUrl).toBe(calls[0].rawUrl);
  });

  it('does not resend a create after a 500, and says the write may have happened', async () => {
    fake.server.inject(
      { kind: 'status', status: 500, body: { success: false, error: 'Internal server error', error_info: 'x' } },
      { match: (r) => r.method === 'POST' },
    );
    const w = await pd.deals!.create!({ name: 'Never twice', stage_id: '1' }, opts);
    const e = await failure(w.execute());
    expect(e.kind).toBe('upstream');
    expect(e.message).toMatch(/may or may not have happened/);
    expect(sent('POST', '/api/v2/deals')).toHaveLength(1);
  });

  it('maps a 400 to validation with Pipedrive\'s own message', async () => {
    const w = await pd.deals!.update!('4', { stage_id: '4040' }, opts);
    const e = await failure(w.execute());
    expect(e.kind).toBe('validation');
    expect(e.message).toContain('Stage with id 4040 does not exist');
    expect(sent('PATCH')).toHaveLength(1);
  });

  it('aborting the caller cancels the upstream request', async () => {
    fake.barrier(99); // hold every answer
    const ac = new AbortController();
    const pending = failure(pd.deals.get('1', { signal: ac.signal }));
    await vi.waitFor(() => expect(sent('GET', '/api/v2/deals/1')).toHaveLength(1));
    ac.abort();
    const e = await pending;
    expect(e.kind).toBe('cancelled');
  });

  it('rejects a missing token or a nonsensical burst limit at construction', () => {
    expect(() => make({ apiToken: ' ' })).toThrow(/PIPEDRIVE_API_TOKEN/);
    expect(() => make({ burstLimit: 0 })).toThrow(/burst limit/);
  });

  it('every fake answer carries Pipedrive rate-limit headers', async () => {
    const res = await fetch(`${fake.url}/api/v2/pipelines`, { headers: { 'x-api-token': DEFAULT_TOKEN } });
    expect(res.headers.get('x-ratelimit-limit')).toBe('20');
    expect(Number(res.headers.get('x-ratelimit-remaining'))).toBeLessThan(20);
    expect(res.headers.get('x-ratelimit-reset')).toMatch(/^\d+$/);
    const denied = await fetch(`${fake.url}/api/v2/pipelines`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('x-ratelimit-limit')).toBe('20');
    expect(await denied.json()).toMatchObject({ success: false, error: 'unauthorized access', error_info: expect.any(String) });
  });
});

// ---------------------------------------------------------------------------------------------
// Defects found by a hostile run (issue 7)

/** Adds `n` open deals to pipeline 1, stage 1 (copies of deal 1), so listings span several pages. */
function addOpenDeals(n: number): void {
  const model = fake.state.deals.get(1)!;
  for (let i = 0; i < n; i++) {
    const id = 10_000 + i;
    fake.state.deals.set(id, { ...model, id, title: `Bulk ${i}`, status: 'open', pipeline_id: 1, stage_id: 1, is_deleted: false, history: [] });
  }
}

describe('a repeated cursor stops the page walk', () => {
  it('get_pipeline refuses sums over a listing that repeats its cursor, after two pages instead of 200', async () => {
    addOpenDeals(1200);
    fake.state.loopCursor.add('/api/v2/deals');
    const e = await failure(pd.pipelines.get('1', opts));
    expect(e.kind).toBe('upstream');
    expect(e.message).toMatch(/^Pipedrive gave the same page cursor twice while listing the open deals of pipeline 1, so only its first 2 pages \(1,000 records\) were read: the listing is incomplete\. Their counts and values would be wrong/);
    expect(sent('GET', '/api/v2/deals')).toHaveLength(2);
  });

  it('list_stages sorted by name over a looping listing says it is incomplete', async () => {
    for (let i = 0; i < 1100; i++) {
      const id = 1000 + i;
      fake.state.stages.set(id, { ...fake.state.stages.get(1)!, id, name: `Extra ${i}`, order_nr: 10 + i });
    }
    fake.state.loopCursor.add('/api/v2/stages');
    const page = await pd.stages.list({ limit: 5, sort_by: 'name' }, opts);
    expect(page.items).toHaveLength(5);
    expect(page.incomplete).toMatch(/^Pipedrive gave the same page cursor twice while listing stages/);
    expect(sent('GET', '/api/v2/stages').filter((r) => r.query.limit === '500')).toHaveLength(2);
  });
});

describe('names that cannot be read degrade to ids', () => {
  it('a 403 from /organizations (token without contacts:read) leaves deals readable, accounts as ids', async () => {
    fake.server.inject(
      { kind: 'status', status: 403, body: { success: false, error: 'You do not have permissions to view organizations', error_info: 'x' } },
      { times: 100, match: (r) => r.path === '/api/v2/organizations' },
    );
    const page = await pd.deals.list({ limit: 20 }, opts);
    const withOrg = page.items.filter((d) => d.account);
    expect(withOrg.length).toBeGreaterThan(0);
    for (const d of withOrg) expect(d.account!.name).toBeUndefined();
    expect(page.items[0].stage.name).toBeDefined(); // other names still resolve
    const one = await pd.deals.get(String(liveDeals((d) => d.org_id !== null)[0].id), opts);
    expect(one.account).toEqual({ id: expect.any(String) });
    // The refusal is remembered for the cache's lifetime: asked once, not on every call.
    expect(sent('GET', '/api/v2/organizations')).toHaveLength(1);
  });
});

describe('answers and base URLs', () => {
  it('a deal with a 20 MB title is refused with a sentence, not read whole', async () => {
    fake.state.deals.get(3)!.title = 't'.repeat(20 * 1024 * 1024);
    const e = await failure(pd.deals.get('3', opts));
    expect(e.kind).toBe('upstream');
    expect(e.message).toBe('Pipedrive answered with more than 8 MB; narrow the request (limit, filters).');
    expect(sent('GET', '/api/v2/deals/3')).toHaveLength(1);
  });

  it('a token in the base URL path never reaches a dry run or an error', async () => {
    const pathToken = 'pdPROXY-8c7b6a5d4e3f2a1b';
    const proxied = await startFakePipedrive({ basePath: `/t/${pathToken}` });
    try {
      const p = make({ baseUrl: proxied.url }) as Pd;
      const w = await p.deals.create!({ name: 'Via proxy', stage_id: '1' }, opts);
      expect(w.request).toEqual({ method: 'POST', path: '/api/v2/deals', body: expect.objectContaining({ title: 'Via proxy' }) });
      expect((await p.pipelines.list({ limit: 5 }, opts)).items).toHaveLength(2);
      expect(proxied.server.requests[0].rawUrl.startsWith(`/t/${pathToken}/api/v2/`)).toBe(true);
      proxied.server.inject({ kind: 'status', status: 404, body: { success: false, error: `Route /t/${pathToken}/api/v2/x not found` } });
      const e = await failure(p.pipelines.list({ limit: 5 }, opts));
      for (let i = 0; i + 8 <= pathToken.length; i++) expect(e.message).not.toContain(pathToken.slice(i, i + 8));
    } finally {
      await proxied.stop();
    }
  });
});

describe('keyed creates (idempotency.db) and rate limits', () => {
  it('a keyed create that met a 429 frees its key: the repeat creates the deal once', async () => {
    const { IdempotencyStore } = await import('../../src/crm/idempotency.js');
    const store = new IdempotencyStore(':memory:');
    const before = liveDeals().length;
    const create = async () =>
      store.run(
        'pipedrive:deals',
        'k-429',
        { name: 'Rate limited once', stage_id: '1' },
        async () => (await pd.deals.create!({ name: 'Rate limited once', stage_id: '1' }, opts)).execute(),
        (id) => pd.deals.get(id, opts),
      );
    fake.server.inject(
      { kind: 'status', status: 429, headers: { 'Retry-After': '30' }, body: { success: false, error: 'Request over limit' } },
      { match: (r) => r.method === 'POST' },
    );
    const e = await failure(create());
    expect(e.kind).toBe('rate_limited');
    expect(liveDeals().length).toBe(before);
    const deal = await create();
    expect(deal.name).toBe('Rate limited once');
    const again = await create();
    expect(again.id).toBe(deal.id);
    expect(liveDeals().length).toBe(before + 1);
    expect(sent('POST', '/api/v2/deals')).toHaveLength(2); // the refused one and the one that created
    store.close();
  });
});
