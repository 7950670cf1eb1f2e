/**
 * Outreach provider against the fake Outreach (real HTTP on 127.0.0.1): exact requests on the wire
 * (JSON:API media type, bearer token, page[size], filter[...], sort, include and sparse fieldsets,
 * bodies with type and integer id), paging through links.next (a capped page size, a repeated
 * link), mapping both ways, error bodies to one sentence, rate limits, and the OAuth refresh flow.
 * Requests and answers are also held against Outreach's published spec: outreach-spec.test.ts.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { closeAllPools } from '../../src/crm/http.js';
import type { CrmProvider } from '../../src/crm/provider.js';
import { createOutreachProvider, type OutreachProviderOptions } from '../../src/providers/outreach/index.js';
import {
  FAKE_OUTREACH_CLIENT_ID,
  FAKE_OUTREACH_CLIENT_SECRET,
  FAKE_OUTREACH_REFRESH_TOKEN,
  FAKE_OUTREACH_TOKEN,
  SEED,
  startFakeOutreach,
  type FakeOpportunity,
  type FakeOutreach,
} from '../fakes/outreach.js';
import type { RecordedRequest } from '../fakes/server.js';
import { leakedFragment } from '../helpers/secrets.js';
import { createLogger } from '../../src/log.js';

type Full<T> = Required<NonNullable<T>>;
type Or = Omit<CrmProvider, 'pipelines' | 'stages' | 'deals'> & {
  pipelines: Pick<Full<CrmProvider['pipelines']>, 'list' | 'get'> & Partial<Full<CrmProvider['pipelines']>>;
  stages: Full<CrmProvider['stages']>;
  deals: Omit<Full<CrmProvider['deals']>, 'delete'> & { delete?: unknown };
};

let fake: FakeOutreach;
let or: Or;
const opts = {};

const OAUTH = { clientId: FAKE_OUTREACH_CLIENT_ID, clientSecret: FAKE_OUTREACH_CLIENT_SECRET, refreshToken: FAKE_OUTREACH_REFRESH_TOKEN };

const make = (over: Partial<OutreachProviderOptions> = {}) =>
  createOutreachProvider({ accessToken: FAKE_OUTREACH_TOKEN, baseUrl: fake.url, http: { retryBaseMs: 1 }, ...over }) as Or;

beforeEach(async () => {
  fake = await startFakeOutreach();
  or = make();
});
afterEach(async () => {
  await fake.stop();
});
afterAll(async () => {
  await closeAllPools();
});

const api = () => fake.server.requests.filter((r) => r.path !== '/oauth/token');
const sent = (method?: string, path?: string | RegExp): RecordedRequest[] =>
  api().filter(
    (r) =>
      (method === undefined || r.method === method) &&
      (path === undefined || (typeof path === 'string' ? r.path === path : path.test(r.path))),
  );
const tokenRequests = () => fake.server.requests.filter((r) => r.path === '/oauth/token');

async function failure(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CrmError);
    return e as CrmError;
  }
  throw new Error('expected a CrmError');
}

const opportunities = (pred: (o: FakeOpportunity) => boolean = () => true) => [...fake.state.opportunities.values()].filter(pred);
const openStageIds = () => [...fake.state.opportunityStages.values()].filter((s) => !s.isClosed).map((s) => s.id);
const userName = (id: number) => {
  const u = fake.state.users.get(id)!;
  return `${u.firstName} ${u.lastName}`;
};
const PAGE = { size: '1000' };

describe('identity and the wire', () => {
  it('declares itself: pipelines read-only, stages and deals, no projects, no statistics', () => {
    expect(or.kind).toBe('outreach');
    expect(or.label).toBe('Outreach');
    expect(or.remote).toBe(true);
    expect(or.projects).toBeUndefined();
    expect(or.stats).toBeUndefined();
    expect(or.capabilities.pipelines).toEqual({ list: true, get: true, filters: [] });
    expect(or.capabilities.stats).toBeUndefined();
    expect(or.capabilities.deals!.create!.supported).not.toContain('status');
    expect(or.capabilities.idempotency).toBeUndefined();
  });

  it('sends the bearer token and the JSON:API media type on every request, and the token nowhere else', async () => {
    await or.deals.list({ limit: 5 }, opts);
    await or.stages.get('p1', opts);
    expect(api().length).toBeGreaterThanOrEqual(2);
    for (const r of api()) {
      expect(r.headers.authorization).toBe(`Bearer ${FAKE_OUTREACH_TOKEN}`);
      expect(r.headers['content-type']).toBe('application/vnd.api+json');
      expect(r.headers.accept).toBe('application/vnd.api+json');
      expect(r.rawUrl.startsWith('/api/v2/')).toBe(true);
      expect(r.rawUrl).not.toContain(FAKE_OUTREACH_TOKEN);
    }
  });

  it('without a token or OAuth settings it refuses to start, naming the settings', () => {
    expect(() => make({ accessToken: ' ' })).toThrow(/OUTREACH_ACCESS_TOKEN, or OUTREACH_CLIENT_ID, OUTREACH_CLIENT_SECRET and OUTREACH_REFRESH_TOKEN/);
  });

  it('every answer of the fake carries Outreach rate-limit headers; no media type is a 415', async () => {
    const res = await fetch(`${fake.url}/stages`, { headers: { authorization: `Bearer ${FAKE_OUTREACH_TOKEN}`, 'content-type': 'application/vnd.api+json' } });
    expect(res.headers.get('x-ratelimit-limit')).toBe('10000');
    expect(Number(res.headers.get('x-ratelimit-remaining'))).toBeLessThan(10000);
    expect(res.headers.get('x-ratelimit-reset')).toMatch(/^\d{10}$/);
    const bare = await fetch(`${fake.url}/stages`, { headers: { authorization: `Bearer ${FAKE_OUTREACH_TOKEN}` } });
    expect(bare.status).toBe(415);
    expect(await bare.json()).toEqual({
      errors: [{ id: 'unsupportedMediaType', title: 'Unsupported Media Type', detail: "Expected Content-Type header to be 'application/vnd.api+json'." }],
    });
  });
});

describe('pipelines: two, fixed', () => {
  it('lists prospects and opportunities without a request, paged like any list', async () => {
    const all = await or.pipelines.list({ limit: 10 }, opts);
    expect(all).toEqual({
      items: [
        { id: 'prospects', name: 'Prospects' },
        { id: 'opportunities', name: 'Opportunities' },
      ],
      next_cursor: null,
    });
    const first = await or.pipelines.list({ limit: 1 }, opts);
    expect(first.items.map((p) => p.id)).toEqual(['prospects']);
    const rest = await or.pipelines.list({ limit: 1, cursor: first.next_cursor! }, opts);
    expect(rest).toEqual({ items: [{ id: 'opportunities', name: 'Opportunities' }], next_cursor: null });
    expect(fake.server.requests).toHaveLength(0);
  });

  it('get prospects: the prospect stages in order, one request, no deals', async () => {
    const p = await or.pipelines.get('prospects', opts);
    expect(sent()).toHaveLength(1);
    expect(sent('GET', '/stages')[0].query).toEqual({ sort: 'order', count: 'false', page: PAGE });
    expect(p.stages!.map((s) => [s.id, s.name, s.position])).toEqual([...fake.state.stages.values()].map((s) => [`p${s.id}`, s.name, s.order]));
    expect(p.open_deals).toBeUndefined();
    for (const s of p.stages!) expect(s.open_deals).toBeUndefined();
  });

  it('get opportunities: stages, then the deals of the open stages only, summed per stage', async () => {
    const p = await or.pipelines.get('opportunities', opts);
    expect(sent().map((r) => r.path)).toEqual(['/opportunityStages', '/opportunities']);
    expect(sent('GET', '/opportunities')[0].query).toEqual({
      filter: { stage: { id: openStageIds().join(',') } },
      fields: { opportunity: 'amount,amountPrecise,currencyType,opportunityStage' },
      count: 'false',
      page: PAGE,
    });
    expect(p).toMatchObject({ id: 'opportunities', name: 'Opportunities' });
    expect(p.stages!.map((s) => s.name)).toEqual(['Prospecting', 'Qualification', 'Proposal', 'Negotiation', 'Closed Won', 'Closed Lost']);
    for (const s of p.stages!) {
      const nid = Number(s.id.slice(1));
      const closed = fake.state.opportunityStages.get(nid)!.isClosed;
      const here = closed ? [] : opportunities((o) => o.stageId === nid);
      expect(s.open_deals!.count, s.name).toBe(here.length);
      const usd = here.filter((o) => o.currencyType === 'USD').reduce((a, o) => a + (o.amountPrecise ? Number(o.amountPrecise) : o.amount!), 0);
      expect(s.open_deals!.values.USD ?? 0).toBeCloseTo(usd, 2);
    }
    expect(p.open_deals!.count).toBe(opportunities((o) => openStageIds().includes(o.stageId!)).length);
    expect(p.open_deals!.count).toBeGreaterThan(100);
  });

  it('with the stages listed in the last minute, stages and deals go out together: one round trip', async () => {
    await or.stages.list({ pipeline_id: 'opportunities', name: 'o', limit: 5 }, opts); // a whole listing of the stages
    fake.server.reset();
    const barrier = fake.barrier(2);
    const p = await or.pipelines.get('opportunities', opts);
    expect(barrier.reached()).toBe(true);
    expect(sent().map((r) => r.path).sort()).toEqual(['/opportunities', '/opportunityStages']);
    expect(p.open_deals!.count).toBe(opportunities((o) => openStageIds().includes(o.stageId!)).length);
  });

  it('a stage opened since that listing still has its deals counted; one closed since has none', async () => {
    await or.pipelines.get('opportunities', opts);
    fake.state.opportunityStages.get(5)!.isClosed = false; // "Closed Won" reopened
    fake.state.opportunityStages.get(1)!.isClosed = true;
    fake.server.reset();
    const p = await or.pipelines.get('opportunities', opts);
    const dealRequests = sent('GET', '/opportunities');
    expect(dealRequests).toHaveLength(2);
    expect((dealRequests[1].query.filter as { stage: { id: string } }).stage.id).toBe('5');
    const byName = new Map(p.stages!.map((s) => [s.name, s.open_deals!.count]));
    expect(byName.get('Closed Won')).toBe(opportunities((o) => o.stageId === 5).length);
    expect(byName.get('Prospecting')).toBe(0);
  });

  it('follows links.next when the server caps the page size', async () => {
    fake.state.maxPageSize = 40;
    const p = await or.pipelines.get('opportunities', opts);
    const pages = sent('GET', '/opportunities');
    expect(pages.length).toBe(Math.ceil(opportunities((o) => openStageIds().includes(o.stageId!)).length / 40));
    expect(pages[1].query.page).toEqual({ size: '1000', after: expect.any(String) });
    expect(p.open_deals!.count).toBe(opportunities((o) => openStageIds().includes(o.stageId!)).length);
  });

  it('refuses sums over a deal listing whose next link repeats, after two pages', async () => {
    fake.state.maxPageSize = 40;
    fake.state.loopLink.add('/opportunities');
    const e = await failure(or.pipelines.get('opportunities', opts));
    expect(e.kind).toBe('upstream');
    expect(e.message).toMatch(
      /^Outreach gave the same page cursor twice while listing the open deals of pipeline opportunities, so only its first 2 pages \(80 records\) were read: the listing is incomplete\. Their counts and values would be wrong/,
    );
    expect(sent('GET', '/opportunities')).toHaveLength(2);
  });

  it('an unknown pipeline is not_found naming the two', async () => {
    const e = await failure(or.pipelines.get('sales', opts));
    expect(e.kind).toBe('not_found');
    expect(e.message).toContain('prospects (prospect stages) and opportunities (opportunity stages)');
    expect(fake.server.requests).toHaveLength(0);
  });

  it('has no pipeline writes', () => {
    expect(or.pipelines.create).toBeUndefined();
    expect(or.pipelines.update).toBeUndefined();
    expect(or.pipelines.delete).toBeUndefined();
  });
});

describe('stages', () => {
  it('lists one pipeline natively: sort order/-name/createdAt, page[size] from limit, links.next as the cursor', async () => {
    const page = await or.stages.list({ pipeline_id: 'prospects', sort_by: 'position', limit: 3 }, opts);
    expect(sent('GET', '/stages')[0].query).toEqual({ sort: 'order', count: 'false', page: { size: '3' } });
    expect(page.items.map((s) => s.id)).toEqual(['p1', 'p2', 'p3']);
    expect(page.next_cursor).toMatch(/^\/stages\?/);
    const next = await or.stages.list({ pipeline_id: 'prospects', sort_by: 'position', limit: 3, cursor: page.next_cursor! }, opts);
    expect(next.items.map((s) => s.id)).toEqual(['p4', 'p5', 'p6']);
    // The link is followed as Outreach gave it (query and all), under the base URL.
    expect(sent('GET', '/stages')[1].query).toEqual({ sort: 'order', count: 'false', page: { size: '3', after: expect.any(String) } });
    await or.stages.list({ pipeline_id: 'opportunities', sort_by: 'name', sort_direction: 'desc', limit: 10 }, opts);
    await or.stages.list({ pipeline_id: 'opportunities', sort_by: 'created_at', limit: 10 }, opts);
    expect(sent('GET', '/opportunityStages').map((r) => r.query.sort)).toEqual(['-name', 'createdAt']);
  });

  it('a cursor of one listing is refused for another: never a request to another collection', async () => {
    const page = await or.stages.list({ pipeline_id: 'prospects', limit: 2 }, opts);
    const e = await failure(or.stages.list({ pipeline_id: 'opportunities', limit: 2, cursor: page.next_cursor! }, opts));
    expect(e.kind).toBe('validation');
    expect(sent()).toHaveLength(1);
  });

  it('both pipelines, or a name filter ("contains"): whole lists merged and sorted here', async () => {
    const both = await or.stages.list({ sort_by: 'position', limit: 100 }, opts);
    expect(both.items).toHaveLength(SEED.prospectStages + SEED.opportunityStages);
    // Equal positions: the prospect stage first, then the opportunity stage.
    expect(both.items.slice(0, 4).map((s) => s.id)).toEqual(['p1', 'o1', 'p2', 'o2']);
    const closed = await or.stages.list({ name: 'CLOSED', limit: 10 }, opts);
    expect(closed.items.map((s) => [s.id, s.name])).toEqual([
      ['o5', 'Closed Won'],
      ['o6', 'Closed Lost'],
    ]);
    const lead = await or.stages.list({ pipeline_id: 'prospects', name: 'lead', limit: 10 }, opts);
    expect(lead.items.map((s) => s.name)).toEqual(['Qualified Lead']);
    expect(sent('GET', '/stages').at(-1)!.query).toEqual({ sort: 'order', count: 'false', page: PAGE });
  });

  it('a name-filtered listing over a repeating link says it is incomplete', async () => {
    for (let i = 0; i < 30; i++) {
      const id = 100 + i;
      fake.state.stages.set(id, { ...fake.state.stages.get(1)!, id, name: `Extra ${i}`, order: 10 + i });
    }
    fake.state.maxPageSize = 10;
    fake.state.loopLink.add('/stages');
    const page = await or.stages.list({ pipeline_id: 'prospects', name: 'extra', limit: 5 }, opts);
    expect(page.items).toHaveLength(5);
    expect(page.incomplete).toMatch(/^Outreach gave the same page cursor twice while listing stages/);
    expect(sent('GET', '/stages')).toHaveLength(2);
  });

  it('get: p1 and o1 are different stages (Outreach ids overlap across the two)', async () => {
    const p1 = await or.stages.get('p1', opts);
    const o1 = await or.stages.get('o1', opts);
    expect(sent().map((r) => `${r.method} ${r.path}`)).toEqual(['GET /stages/1', 'GET /opportunityStages/1']);
    expect(p1).toMatchObject({ id: 'p1', name: 'Cold', pipeline: { id: 'prospects', name: 'Prospects' }, position: 1, color: '#9e9e9e', status: 'active' });
    expect(o1).toMatchObject({ id: 'o1', name: 'Prospecting', pipeline: { id: 'opportunities', name: 'Opportunities' }, position: 1 });
    expect((await or.stages.get('o5', { include_remote_data: true })).remote_data).toMatchObject({
      type: 'opportunityStage',
      id: 5,
      attributes: { isClosed: true, name: 'Closed Won' },
    });
  });

  it('an unknown stage is not_found naming list_stages; a bare number is refused before sending', async () => {
    const e = await failure(or.stages.get('o404', opts));
    expect(e.kind).toBe('not_found');
    expect(e.message).toBe("No stage with id 'o404'. Call list_stages with pipeline_id opportunities to see valid stage ids.");
    expect(sent('GET', '/opportunityStages/404')).toHaveLength(1);
    const bare = await failure(or.stages.get('4', opts));
    expect(bare.kind).toBe('validation');
    expect(sent()).toHaveLength(1);
  });

  it('creates, updates and deletes in both collections with JSON:API bodies', async () => {
    const c = await or.stages.create({ pipeline_id: 'opportunities', name: 'Legal review', position: 5, color: '#ff9900' }, opts);
    const body = { data: { type: 'opportunityStage', attributes: { name: 'Legal review', order: 5, color: '#ff9900' } } };
    expect(c.request).toEqual({ method: 'POST', path: '/opportunityStages', body });
    expect(fake.server.requests).toHaveLength(0);
    const created = await c.execute();
    expect(sent('POST', '/opportunityStages')[0].body).toEqual(body);
    expect(sent('POST', '/opportunityStages')[0].headers['content-type']).toBe('application/vnd.api+json');
    expect(created).toMatchObject({ id: `o${SEED.opportunityStages + 1}`, name: 'Legal review', position: 5, color: '#ff9900', pipeline: { id: 'opportunities' } });

    const u = await or.stages.update('p2', { name: 'Approached', position: 9 }, opts);
    expect(u.request).toEqual({ method: 'PATCH', path: '/stages/2', body: { data: { type: 'stage', id: 2, attributes: { name: 'Approached', order: 9 } } } });
    expect(await u.execute()).toMatchObject({ id: 'p2', name: 'Approached', position: 9, color: '#5951ff' });
    expect(fake.state.stages.get(2)!.name).toBe('Approached');
    expect(fake.state.opportunityStages.get(2)!.name).toBe('Qualification');

    const d = await or.stages.delete('p7', opts);
    expect(d.request).toEqual({ method: 'DELETE', path: '/stages/7' });
    expect(await d.execute()).toEqual({ id: 'p7', name: 'Do Not Contact' });
    expect(sent('DELETE', '/stages/7')[0].body).toBeUndefined();
    expect(fake.state.stages.has(7)).toBe(false);
    const gone = await failure((await or.stages.delete('p7', opts)).execute());
    expect(gone.kind).toBe('not_found');
    expect(sent('DELETE')).toHaveLength(1);
  });

  it('refuses before any request: a status filter, a move to the other pipeline, an empty update', async () => {
    const status = await failure(or.stages.list({ status: 'active', limit: 10 }, opts));
    expect(status.message).toMatch(/Outreach cannot filter stages by `status`/);
    await expect(or.stages.update('o1', { pipeline_id: 'prospects' }, opts)).rejects.toThrow(/cannot move a stage to the other pipeline/);
    await expect(or.stages.update('o1', {}, opts)).rejects.toThrow(/Nothing to update/);
    await expect(or.stages.create({ pipeline_id: 'sales', name: 'X' }, opts)).rejects.toThrow(/No pipeline with id 'sales'/);
    expect(fake.server.requests).toHaveLength(0);
    expect(or.capabilities.stages!.create).toEqual({ supported: ['pipeline_id', 'name', 'position', 'color'], required: ['pipeline_id', 'name'] });
    expect(or.capabilities.stages!.update).toEqual({ supported: ['name', 'position', 'color'] });
  });
});

describe('deals', () => {
  const RELATED = { include: 'opportunityStage,owner,account', fields: { opportunityStage: 'name,isClosed', user: 'name', account: 'name' } };
  const LEAN = 'name,amount,amountPrecise,currencyType,closeDate,createdAt,updatedAt,opportunityStage,owner,account';

  it('lists in one request: latest update first, stage, owner and account included with their names only', async () => {
    const newest = opportunities().sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : -1))[0];
    newest.amountPrecise = `${newest.amount! + 0.25}`;
    const page = await or.deals.list({ limit: 20 }, opts);
    expect(sent()).toHaveLength(1);
    expect(sent('GET', '/opportunities')[0].query).toEqual({
      sort: '-updatedAt',
      include: RELATED.include,
      fields: { ...RELATED.fields, opportunity: LEAN },
      count: 'false',
      page: { size: '20' },
    });
    const latest = opportunities().sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : -1)).slice(0, 20);
    expect(page.items.map((d) => d.id)).toEqual(latest.map((o) => String(o.id)));
    for (const d of page.items) {
      const o = fake.state.opportunities.get(Number(d.id))!;
      const stage = fake.state.opportunityStages.get(o.stageId!)!;
      expect(d.stage).toEqual({ id: `o${stage.id}`, name: stage.name });
      expect(d.status).toBe(!stage.isClosed ? 'open' : stage.name === 'Closed Won' ? 'won' : 'lost');
      expect(d.owner).toEqual({ id: String(o.ownerId), name: userName(o.ownerId!) });
      if (o.accountId) expect(d.account).toEqual({ id: String(o.accountId), name: fake.state.accounts.get(o.accountId)!.name });
      expect(d.amount).toBe(o.amountPrecise ? Number(o.amountPrecise) : o.amount);
      expect(d.close_date).toBe(o.closeDate!.slice(0, 10));
      expect(d.pipeline).toEqual({ id: 'opportunities', name: 'Opportunities' });
    }
    expect(page.items[0]).toMatchObject({ id: String(newest.id), amount: newest.amount! + 0.25 });
  });

  it('pages through every deal 100 at a time through links.next', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await or.deals.list({ limit: 100, cursor }, opts);
      seen.push(...page.items.map((d) => d.id));
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(SEED.opportunities);
    const q = sent('GET', '/opportunities').map((r) => r.query);
    expect(q[1]).toEqual({ ...q[0], page: { size: '100', after: expect.any(String) } });
  });

  it('filters natively: stage, owner; a status stands for the stages of that status', async () => {
    const page = await or.deals.list({ stage_id: 'o2', owner_id: '2', limit: 100 }, opts);
    expect(sent('GET', '/opportunities')[0].query.filter).toEqual({ stage: { id: '2' }, owner: { id: '2' } });
    expect(page.items.map((d) => Number(d.id)).sort((a, b) => a - b)).toEqual(opportunities((o) => o.stageId === 2 && o.ownerId === 2).map((o) => o.id));

    fake.server.reset();
    const won = await or.deals.list({ status: 'won', limit: 100 }, opts);
    expect(sent().map((r) => r.path)).toEqual(['/opportunityStages', '/opportunities']);
    expect(sent('GET', '/opportunities')[0].query.filter).toEqual({ stage: { id: '5' } });
    expect(won.items.length).toBe(opportunities((o) => o.stageId === 5).length);
    for (const d of won.items) expect(d.status).toBe('won');

    fake.server.reset();
    await or.deals.list({ status: 'open', limit: 5 }, opts); // the stage directory is warm now
    expect(sent().map((r) => r.path)).toEqual(['/opportunities']);
    expect(sent('GET', '/opportunities')[0].query.filter).toEqual({ stage: { id: '1,2,3,4' } });

    fake.server.reset();
    const none = await or.deals.list({ status: 'won', stage_id: 'o1', limit: 5 }, opts);
    expect(none).toEqual({ items: [], next_cursor: null });
    expect(sent()).toHaveLength(0);
  });

  it('refuses prospect pipelines and stages for deals before sending', async () => {
    await expect(or.deals.list({ pipeline_id: 'prospects', limit: 5 }, opts)).rejects.toThrow(/holds prospect stages, not deals/);
    await expect(or.deals.list({ stage_id: 'p1', limit: 5 }, opts)).rejects.toThrow(/is a prospect stage/);
    expect(fake.server.requests).toHaveLength(0);
  });

  it('gets a deal with names; remote_data (the whole opportunity) only when asked', async () => {
    const d = await or.deals.get('7', opts);
    const o = fake.state.opportunities.get(7)!;
    expect(sent('GET', '/opportunities/7')[0].query).toEqual({ ...RELATED, fields: { ...RELATED.fields, opportunity: LEAN } });
    expect(d).toMatchObject({ id: '7', name: o.name, owner: { id: String(o.ownerId), name: userName(o.ownerId!) } });
    expect(d.remote_data).toBeUndefined();
    const full = await or.deals.get('7', { include_remote_data: true });
    expect(sent('GET', '/opportunities/7')[1].query).toEqual(RELATED);
    expect(full.remote_data).toMatchObject({ type: 'opportunity', id: 7, attributes: { name: o.name, custom1: null } });
    const e = await failure(or.deals.get('9999', opts));
    expect(e.message).toBe("No deal with id '9999'. Find ids with search (types: deals) or list_deals.");
  });

  it('a stage the answer did not include is read from the stage directory', async () => {
    fake.state.opportunities.get(7)!.stageId = 6;
    const d = await or.deals.get('7', { include_remote_data: true });
    expect(d.stage.name).toBe('Closed Lost');
    // The include worked: no directory load was needed.
    expect(sent('GET', '/opportunityStages')).toHaveLength(0);
  });

  it('creates: exact JSON:API body, the writable opportunityStage relationship, then read back with names', async () => {
    const w = await or.deals.create(
      { name: 'Globex pilot', pipeline_id: 'opportunities', stage_id: 'o3', amount: 4200.75, currency: 'EUR', owner_id: '3', account_id: '2', close_date: '2026-12-15' },
      opts,
    );
    const body = {
      data: {
        type: 'opportunity',
        attributes: { name: 'Globex pilot', amount: 4201, amountPrecise: '4200.75', currencyType: 'EUR', closeDate: '2026-12-15T00:00:00.000Z' },
        relationships: {
          opportunityStage: { data: { type: 'opportunityStage', id: 3 } },
          owner: { data: { type: 'user', id: 3 } },
          account: { data: { type: 'account', id: 2 } },
        },
      },
    };
    expect(w.request).toEqual({ method: 'POST', path: '/opportunities', body });
    const d = await w.execute();
    // The owner and account it names are read first (both at once): a missing one stops the write.
    expect(sent().map((r) => `${r.method} ${r.path}`).sort()).toEqual(['GET /accounts/2', 'GET /users/3', 'POST /opportunities', `GET /opportunities/${SEED.opportunities + 1}`].sort());
    expect(sent().slice(2).map((r) => `${r.method} ${r.path}`)).toEqual(['POST /opportunities', `GET /opportunities/${SEED.opportunities + 1}`]);
    expect(sent('GET', '/users/3')[0].query).toEqual({ fields: { user: 'name' } });
    expect(sent('POST')[0].body).toEqual(body);
    expect(d).toMatchObject({
      id: String(SEED.opportunities + 1),
      name: 'Globex pilot',
      status: 'open',
      stage: { id: 'o3', name: 'Proposal' },
      amount: 4200.75,
      currency: 'EUR',
      owner: { id: '3', name: 'Chloe Martin' },
      account: { id: '2', name: 'Globex' },
      close_date: '2026-12-15',
    });
  });

  it('updates with type and integer id, only what was given: a move to Closed Won reads as won', async () => {
    const w = await or.deals.update('4', { stage_id: 'o5' }, opts);
    expect(w.request).toEqual({
      method: 'PATCH',
      path: '/opportunities/4',
      body: { data: { type: 'opportunity', id: 4, relationships: { opportunityStage: { data: { type: 'opportunityStage', id: 5 } } } } },
    });
    const d = await w.execute();
    expect(d).toMatchObject({ id: '4', status: 'won', stage: { id: 'o5', name: 'Closed Won' } });
    expect(fake.state.opportunities.get(4)!.stageId).toBe(5);
    await expect(or.deals.update('4', { status: 'lost' }, opts)).rejects.toThrow(/no deal status to set/);
    await expect(or.deals.update('4', {}, opts)).rejects.toThrow(/Nothing to update/);
  });

  it('an owner or account Outreach does not have is refused before the write, pointing to the tools that find ids', async () => {
    const e = await failure((await or.deals.update('4', { owner_id: '99' }, opts)).execute());
    expect(e.kind).toBe('not_found');
    expect(e.message).toBe("No user with id '99'. Find ids with list_users or search (types: users).");
    const a = await failure((await or.deals.create({ name: 'x', stage_id: 'o1', account_id: '77' }, opts)).execute());
    expect(a.message).toBe("No account with id '77'. Find ids with search (types: accounts) or list_accounts.");
    expect(sent('PATCH')).toHaveLength(0);
    expect(sent('POST')).toHaveLength(0);
  });

  it("Outreach's 422 names the argument the agent passed", async () => {
    fake.server.inject(
      { kind: 'status', status: 422, body: { errors: [{ id: 'validationError', title: 'Validation Error', detail: 'Owner must exist.', source: { pointer: '/data/relationships/owner' } }] } },
      { match: (r) => r.method === 'PATCH' },
    );
    const e = await failure((await or.deals.update('4', { owner_id: '2' }, opts)).execute());
    expect(e.kind).toBe('validation');
    expect(e.message).toBe('Outreach rejected the request (422): owner_id: Owner must exist.');
    const blank = await failure((await or.stages.update('o1', { name: ' ' }, opts)).execute());
    expect(blank.message).toBe("Outreach rejected the request (422): name: Name can't be blank.");
    expect(sent('PATCH')).toHaveLength(2);
  });

  it('a deal whose read-back fails after Outreach accepted it says it exists and must not be sent again', async () => {
    fake.server.inject({ kind: 'status', status: 503, body: { errors: [{ id: 'scheduledServerMaintenance', detail: 'Maintenance' }] } }, {
      times: 10,
      match: (r) => r.method === 'GET',
    });
    const e = await failure((await or.deals.create({ name: 'Saved anyway', stage_id: 'o1' }, opts)).execute());
    expect(e.message).toMatch(new RegExp(`^Outreach saved the deal \\(id ${SEED.opportunities + 1}\\) but reading it back failed .*do not send it again`));
    expect(sent('POST')).toHaveLength(1);
    expect(fake.state.opportunities.get(SEED.opportunities + 1)!.name).toBe('Saved anyway');
  });
});

describe('rate limits and failures', () => {
  it("retries a read after Outreach's 429 with Retry-After", async () => {
    fake.server.inject({
      kind: 'status',
      status: 429,
      headers: { 'Retry-After': '0', 'X-RateLimit-Limit': '10000', 'X-RateLimit-Remaining': '0' },
      body: { errors: [{ id: 'rateLimitExceeded', title: 'Rate Limit Exceeded', detail: 'You have exceeded your permitted rate limit of 10,000; please try again at 2026-11-20T13:00:00.' }] },
    });
    const s = await or.stages.get('p1', opts);
    expect(s.name).toBe('Cold');
    expect(sent('GET', '/stages/1')).toHaveLength(2);
  });

  it('a 429 asking for longer than a call may take is one sentence with when to retry and what Outreach said', async () => {
    fake.state.hourlyLimit = 0;
    const e = await failure(or.stages.get('p1', opts));
    expect(e.kind).toBe('rate_limited');
    expect(e.retryAfterSeconds).toBeGreaterThan(60);
    expect(e.message).toMatch(/^Outreach is rate limiting this token; retry in about \d+ (min|h)\. \(Outreach: You have exceeded your permitted rate limit of 0/);
  });

  it('paces itself to 10,000 requests an hour', async () => {
    const lines: string[] = [];
    const paced = make({ http: { retryBaseMs: 1, limiter: { capacity: 2, windowMs: 3_600_000 }, deadlineMs: 2_000 }, logger: createLogger('debug', (l) => void lines.push(l)) });
    await paced.stages.get('p1', opts);
    await paced.stages.get('p2', opts);
    const e = await failure(paced.stages.get('p3', opts));
    expect(e.kind).toBe('rate_limited');
    expect(e.message).toMatch(/crm-mcp is pacing requests to Outreach to stay within its rate limit \(2 requests per/);
    expect(sent()).toHaveLength(2);
  });

  it('a server error on a create is not resent, and says the write may have happened', async () => {
    fake.server.inject({ kind: 'status', status: 500, body: { errors: [{ id: 'internalError', detail: 'Internal error' }] } }, { match: (r) => r.method === 'POST' });
    const e = await failure((await or.deals.create({ name: 'Never twice', stage_id: 'o1' }, opts)).execute());
    expect(e.message).toMatch(/may or may not have happened/);
    expect(sent('POST')).toHaveLength(1);
  });
});

describe('OAuth: an expired token is renewed and the request repeated', () => {
  const oauth = (over: Partial<OutreachProviderOptions> = {}) => make({ oauth: OAUTH, ...over });

  it('expired token -> 401 -> refresh (the exact form) -> the request again with the new token', async () => {
    fake.expire(FAKE_OUTREACH_TOKEN);
    const p = oauth();
    const s = await p.stages.get('p1', opts);
    expect(s.name).toBe('Cold');
    const minted = fake.state.tokens.mintable[0];
    expect(fake.server.requests.map((r) => `${r.method} ${r.path} ${String(r.headers.authorization ?? '')}`)).toEqual([
      `GET /stages/1 Bearer ${FAKE_OUTREACH_TOKEN}`,
      'POST /oauth/token ',
      `GET /stages/1 Bearer ${minted.access}`,
    ]);
    const t = tokenRequests()[0];
    expect(t.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(String(t.body)))).toEqual({
      client_id: FAKE_OUTREACH_CLIENT_ID,
      client_secret: FAKE_OUTREACH_CLIENT_SECRET,
      grant_type: 'refresh_token',
      refresh_token: FAKE_OUTREACH_REFRESH_TOKEN,
    });
    // Outreach rotated the refresh token: the next renewal sends the new one.
    fake.expire(minted.access);
    await p.stages.get('p2', opts);
    expect(new URLSearchParams(String(tokenRequests()[1].body)).get('refresh_token')).toBe(minted.refresh);
  });

  it('a write that met the 401 is sent again after the renewal: once applied', async () => {
    fake.expire(FAKE_OUTREACH_TOKEN);
    const d = await (await oauth().deals.create({ name: 'After renewal', stage_id: 'o2' }, opts)).execute();
    expect(d.name).toBe('After renewal');
    expect(sent('POST', '/opportunities')).toHaveLength(2);
    expect(sent('POST', '/opportunities')[0].headers.authorization).toBe(`Bearer ${FAKE_OUTREACH_TOKEN}`);
    expect(opportunities((o) => o.name === 'After renewal')).toHaveLength(1);
  });

  it('requests that meet the 401 together share one renewal', async () => {
    fake.expire(FAKE_OUTREACH_TOKEN);
    const p = oauth();
    await p.stages.list({ limit: 50 }, opts); // both collections at once
    expect(tokenRequests()).toHaveLength(1);
    expect(sent().filter((r) => r.headers.authorization === `Bearer ${fake.state.tokens.mintable[0].access}`)).toHaveLength(2);
  });

  it('with no access token at all, it gets one first; and renews ahead of the expiry Outreach gave, with the redirect URI', async () => {
    fake.state.tokens.redirectUri = 'https://crm-mcp.example/callback';
    fake.state.tokens.expiresIn = 60; // inside the five minutes crm-mcp renews ahead
    const p = oauth({ accessToken: undefined, oauth: { ...OAUTH, redirectUri: 'https://crm-mcp.example/callback' } });
    await p.stages.get('p1', opts);
    await p.stages.get('p2', opts);
    expect(fake.server.requests.map((r) => r.path)).toEqual(['/oauth/token', '/stages/1', '/oauth/token', '/stages/2']);
    expect(new URLSearchParams(String(tokenRequests()[0].body)).get('redirect_uri')).toBe('https://crm-mcp.example/callback');
    expect(sent().every((r) => r.headers.authorization !== `Bearer ${FAKE_OUTREACH_TOKEN}`)).toBe(true);
  });

  it('a refresh Outreach refuses is one auth sentence saying what to do, with no secret in it or in the logs', async () => {
    fake.expire(FAKE_OUTREACH_TOKEN);
    fake.state.tokens.refreshToken = 'orrt_something-else-entirely-1234567890';
    const lines: string[] = [];
    const p = oauth({ logger: createLogger('debug', (l) => void lines.push(l)) });
    const e = await failure(p.stages.get('p1', opts));
    expect(e.kind).toBe('auth');
    expect(e.message).toBe(
      'Outreach did not renew the access token (Outreach rejected the request (400): The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client): authorize crm-mcp in Outreach again and set the new refresh token in OUTREACH_REFRESH_TOKEN (check OUTREACH_CLIENT_ID and OUTREACH_CLIENT_SECRET too).',
    );
    const wrongClient = await failure(oauth({ oauth: { ...OAUTH, clientSecret: 'orcs_wrong-secret-0987654321abcdef' } }).stages.get('p1', opts));
    expect(wrongClient.kind).toBe('auth');
    expect(wrongClient.message).toMatch(/^Outreach did not renew the access token \(Outreach rejected the credentials \(401\): Client authentication failed/);
    const secrets = [FAKE_OUTREACH_TOKEN, FAKE_OUTREACH_CLIENT_SECRET, FAKE_OUTREACH_REFRESH_TOKEN, 'orcs_wrong-secret-0987654321abcdef'];
    for (const text of [e.message, wrongClient.message, ...lines]) expect(leakedFragment(text, secrets)).toBeUndefined();
  });

  it('tokens echoed by Outreach after a renewal are redacted: the new access and refresh tokens too', async () => {
    fake.expire(FAKE_OUTREACH_TOKEN);
    const p = oauth();
    await p.stages.get('p1', opts);
    const minted = fake.state.tokens.mintable[0];
    fake.server.inject({
      kind: 'status',
      status: 422,
      body: { errors: [{ id: 'validationError', detail: `token ${minted.access} refresh ${minted.refresh} secret ${FAKE_OUTREACH_CLIENT_SECRET}` }] },
    });
    const e = await failure(p.stages.get('p2', opts));
    expect(e.message).toContain('[REDACTED]');
    expect(leakedFragment(e.message, [minted.access, minted.refresh, FAKE_OUTREACH_CLIENT_SECRET, FAKE_OUTREACH_TOKEN])).toBeUndefined();
  });

  it('without OAuth settings a 401 is an auth error at once, with no token request', async () => {
    fake.expire(FAKE_OUTREACH_TOKEN);
    const e = await failure(or.stages.get('p1', opts));
    expect(e.kind).toBe('auth');
    expect(e.message).toBe('Outreach rejected the credentials (401): The access token expired. Check the API token.');
    expect(tokenRequests()).toHaveLength(0);
  });
});
