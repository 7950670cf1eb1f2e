/**
 * Insightly provider against the fake Insightly (real HTTP on 127.0.0.1): exact requests on the
 * wire (method, path, query, headers, body) per operation, offset paging across several pages and
 * its stops, mapping both ways, names, writes in several requests with their dry runs and partial
 * failures, error bodies to one sentence, the rate limits, secrets.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { closeAllPools } from '../../src/crm/http.js';
import type { CrmProvider, PreparedWrite } from '../../src/crm/provider.js';
import { createInsightlyProvider } from '../../src/providers/insightly/index.js';
import { FAKE_INSIGHTLY_KEY, startFakeInsightly, type FakeInsightly, type Row } from '../fakes/insightly.js';
import type { RecordedRequest } from '../fakes/server.js';

type Full<T> = Required<NonNullable<T>>;
type Il = Omit<CrmProvider, 'pipelines' | 'stages' | 'deals' | 'projects' | 'accounts' | 'contacts' | 'users' | 'activities' | 'search'> & {
  pipelines: Pick<Full<CrmProvider['pipelines']>, 'list' | 'get'>;
  stages: Pick<Full<CrmProvider['stages']>, 'list' | 'get'>;
  deals: Pick<Full<CrmProvider['deals']>, 'list' | 'get' | 'create' | 'update'>;
  projects: Full<CrmProvider['projects']>;
  accounts: Pick<Full<CrmProvider['accounts']>, 'list' | 'get' | 'create' | 'update'>;
  contacts: Pick<Full<CrmProvider['contacts']>, 'list' | 'get' | 'create' | 'update'>;
  users: Pick<Full<CrmProvider['users']>, 'list' | 'get'>;
  activities: Pick<Full<CrmProvider['activities']>, 'list' | 'get' | 'create' | 'update'>;
  search: NonNullable<CrmProvider['search']>;
};

let fake: FakeInsightly;
let il: Il;
const opts = {};
const BASIC = `Basic ${Buffer.from(`${FAKE_INSIGHTLY_KEY}:`).toString('base64')}`;

const make = (over: Partial<Parameters<typeof createInsightlyProvider>[0]> = {}) =>
  createInsightlyProvider({ apiKey: FAKE_INSIGHTLY_KEY, baseUrl: fake.url, http: { retryBaseMs: 1 }, ...over }) as Il;

beforeEach(async () => {
  fake = await startFakeInsightly();
  il = make();
});
afterEach(async () => {
  await fake.stop();
});
afterAll(async () => {
  await closeAllPools();
});

const sent = (method?: string, path?: string): RecordedRequest[] =>
  fake.server.requests.filter((r) => (method === undefined || r.method === method) && (path === undefined || r.path === path));
const wire = (r: RecordedRequest) => ({ method: r.method, path: r.path, query: r.query, body: r.body });
const writes = () => fake.server.requests.filter((r) => r.method !== 'GET').map(wire);
const opportunity = (id: number) => fake.state.records.Opportunities.get(id)!;
const project = (id: number) => fake.state.records.Projects.get(id)!;

async function failure(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CrmError);
    return e as CrmError;
  }
  throw new Error('expected a CrmError');
}

const run = async <T>(p: Promise<PreparedWrite<T>>): Promise<T> => (await p).execute();

describe('identity and auth', () => {
  it('declares itself and sends every request under /v3.1 with Basic auth: the key as user name, an empty password', async () => {
    expect(il).toMatchObject({ kind: 'insightly', label: 'Insightly', remote: true });
    expect((il as CrmProvider).stats).toBeUndefined();
    await il.deals.list({ limit: 5 }, opts);
    // The deals, and pipeline, stage and user names, and the one organisation of the five (Opportunity 3's).
    expect(fake.server.requests.map((r) => r.path).sort()).toEqual([
      '/v3.1/Opportunities',
      '/v3.1/Organisations/703',
      '/v3.1/PipelineStages',
      '/v3.1/Pipelines',
      '/v3.1/Users',
    ]);
    for (const r of fake.server.requests) {
      expect(r.path.startsWith('/v3.1/')).toBe(true);
      expect(r.headers.authorization).toBe(BASIC);
      expect(Buffer.from(String(r.headers.authorization).slice(6), 'base64').toString()).toBe(`${FAKE_INSIGHTLY_KEY}:`);
      expect(r.headers.accept).toBe('application/json');
      expect(r.rawUrl).not.toContain(FAKE_INSIGHTLY_KEY);
    }
  });

  it('maps a rejected key to an auth error that never repeats the key', async () => {
    const wrong = 'il-wrong-key-0f1e2d3c4b5a69788796';
    const e = await failure(make({ apiKey: wrong }).pipelines.list({ limit: 10 }, opts));
    expect(e.kind).toBe('auth');
    expect(e.message).toBe('Insightly rejected the credentials (401): Authorization has been denied for this request. Check the API token.');
    expect(e.message).not.toContain(wrong);
  });

  it('redacts the key when an error body echoes it', async () => {
    fake.server.inject({ kind: 'status', status: 400, body: { Message: `Bad key ${FAKE_INSIGHTLY_KEY} in request` } });
    const e = await failure(il.pipelines.list({ limit: 10 }, opts));
    expect(e.kind).toBe('validation');
    expect(e.message).not.toContain(FAKE_INSIGHTLY_KEY);
    expect(e.message).toContain('[REDACTED]');
  });

  it('needs a key and a pod (or a URL), said before any request', () => {
    expect(() => createInsightlyProvider({ apiKey: ' ', pod: 'na1' })).toThrow(/Insightly needs an API key: set INSIGHTLY_API_KEY/);
    expect(() => createInsightlyProvider({ apiKey: FAKE_INSIGHTLY_KEY })).toThrow(/Insightly needs its pod/);
  });
});

describe('pipelines', () => {
  it('lists with top and count_total, names each pipeline with the records it holds, and pages by skip', async () => {
    const first = await il.pipelines.list({ limit: 3 }, opts);
    expect(sent().map(wire)).toEqual([{ method: 'GET', path: '/v3.1/Pipelines', query: { count_total: 'true', top: '3' }, body: undefined }]);
    expect(first.items).toEqual([
      { id: '1', name: 'Sales [opportunities]' },
      { id: '2', name: 'Partnerships [opportunities]' },
      { id: '3', name: 'Delivery [projects]' },
    ]);
    expect(first.next_cursor).toBe('3');
    const second = await il.pipelines.list({ limit: 3, cursor: first.next_cursor! }, opts);
    expect(sent()[1].query).toEqual({ count_total: 'true', skip: '3', top: '3' });
    expect(second.items.map((p) => p.id)).toEqual(['4']);
    expect(second.next_cursor).toBeNull();
  });

  it('gets an opportunity pipeline with ordered stages and open deals per stage, three requests at once', async () => {
    const p = await il.pipelines.get('1', opts);
    expect(sent().map((r) => r.rawUrl).sort()).toEqual([
      '/v3.1/Opportunities/Search?field_name=PIPELINE_ID&field_value=1&brief=true&count_total=true&top=500',
      '/v3.1/PipelineStages?count_total=true&top=500',
      '/v3.1/Pipelines/1',
    ]);
    const open = [...fake.state.records.Opportunities.values()].filter(
      (o) => o.PIPELINE_ID === 1 && ['Open', 'Suspended'].includes(String(o.OPPORTUNITY_STATE)),
    );
    expect(p.name).toBe('Sales [opportunities]');
    expect(p.stages!.map((s) => [s.id, s.name, s.position])).toEqual([
      ['101', 'Lead In', 1],
      ['102', 'Qualified', 2],
      ['103', 'Proposal', 3],
      ['104', 'Negotiation', 4],
      ['105', 'Contract Sent', 5],
    ]);
    expect(p.open_deals!.count).toBe(open.length);
    for (const s of p.stages!) {
      const here = open.filter((o) => o.STAGE_ID === Number(s.id));
      expect(s.open_deals!.count, s.name).toBe(here.length);
      expect(s.pipeline).toEqual({ id: '1', name: 'Sales [opportunities]' });
    }
    const usd = open.filter((o) => o.BID_CURRENCY === 'USD').reduce((a, o) => a + Number(o.OPPORTUNITY_VALUE), 0);
    expect(p.open_deals!.values.USD).toBe(usd);
  });

  it('gets a projects pipeline without open deals, and says which pipeline does not exist', async () => {
    const p = await il.pipelines.get('3', opts);
    expect(p.name).toBe('Delivery [projects]');
    expect(p.open_deals).toBeUndefined();
    expect(p.stages!.map((s) => s.name)).toEqual(['Kick-off', 'Build', 'Review', 'Handover']);
    expect(p.stages![0].open_deals).toBeUndefined();
    const e = await failure(il.pipelines.get('99', opts));
    expect(e.kind).toBe('not_found');
    expect(e.message).toBe("No pipeline with id '99'. Call list_pipelines to see valid pipeline ids.");
    expect((await failure(il.pipelines.get('abc', opts))).message).toMatch(/^'abc' is not an Insightly pipeline id/);
  });
});

describe('stages', () => {
  it('reads every stage once and filters, sorts and pages here', async () => {
    const page = await il.stages.list({ limit: 2, pipeline_id: '3', sort_by: 'name', sort_direction: 'desc' }, opts);
    expect(sent('GET', '/v3.1/PipelineStages').map((r) => r.query)).toEqual([{ count_total: 'true', top: '500' }]);
    expect(page.items.map((s) => s.name)).toEqual(['Review', 'Kick-off']);
    expect(page.items[0].pipeline).toEqual({ id: '3', name: 'Delivery [projects]' });
    expect(page.next_cursor).toBe('offset:2');
    const rest = await il.stages.list({ limit: 2, pipeline_id: '3', sort_by: 'name', sort_direction: 'desc', cursor: page.next_cursor! }, opts);
    expect(rest.items.map((s) => s.name)).toEqual(['Handover', 'Build']);
    expect(rest.next_cursor).toBeNull();
    expect((await il.stages.list({ limit: 50, name: 'in' }, opts)).items.map((s) => s.name)).toEqual(['Lead In', 'Intro', 'Training']);
    expect((await il.stages.list({ limit: 50, status: 'inactive' }, opts)).items).toEqual([]);
    expect((await il.stages.list({ limit: 50 }, opts)).items).toHaveLength(14);
  });

  it('refuses a sort by dates (stages have none), and gets one stage by id', async () => {
    const e = await failure(il.stages.list({ limit: 5, sort_by: 'updated_at' }, opts));
    expect(e.kind).toBe('unsupported');
    expect(e.message).toBe('Insightly pipeline stages carry no dates; sort_by takes position or name.');
    expect(sent()).toHaveLength(0);
    const s = await il.stages.get('202', opts);
    expect(sent('GET', '/v3.1/PipelineStages/202')).toHaveLength(1);
    expect(s).toEqual({ id: '202', name: 'Evaluation', pipeline: { id: '2', name: 'Partnerships [opportunities]' }, position: 2, status: 'active' });
    expect((await failure(il.stages.get('999', opts))).message).toBe("No stage with id '999'. Call list_stages (optionally with pipeline_id) to see valid stage ids.");
  });
});

describe('paging', () => {
  it('walks a listing across several pages while X-Total-Count says there are more, even when pages are short', async () => {
    fake.state.maxTop = 100; // Insightly serving fewer than asked
    const page = await il.deals.list({ limit: 100, status: 'lost' }, opts);
    const asked = sent('GET', '/v3.1/Opportunities').map((r) => r.query);
    expect(asked).toEqual([
      { brief: 'true', count_total: 'true', top: '500' },
      { brief: 'true', count_total: 'true', skip: '100', top: '500' },
      { brief: 'true', count_total: 'true', skip: '200', top: '500' },
    ]);
    const lost = [...fake.state.records.Opportunities.values()].filter((o) => ['Lost', 'Abandoned'].includes(String(o.OPPORTUNITY_STATE)));
    expect(page.items.length).toBe(Math.min(100, lost.length));
    expect(page.items.every((d) => d.status === 'lost')).toBe(true);
    expect(page.incomplete).toBeUndefined();
  });

  it('ends the walk at a short page when Insightly gives no total', async () => {
    fake.state.countTotal = false;
    await il.deals.list({ limit: 10, owner_id: '11' }, opts);
    expect(sent('GET', '/v3.1/Opportunities').map((r) => r.query.skip)).toEqual([undefined]); // 300 < 500: one page
    fake.server.reset();
    fake.state.maxTop = 100;
    const page = await il.deals.list({ limit: 10, owner_id: '11' }, opts);
    // Without a total, a page of 100 when 500 were asked for reads as the last.
    expect(sent('GET', '/v3.1/Opportunities')).toHaveLength(1);
    expect(page.items.every((d) => d.owner?.id === '11' || d.owner === undefined)).toBe(true);
  });

  it('stops a walk on a page served twice and says the listing is incomplete', async () => {
    fake.state.maxTop = 100;
    fake.state.ignoreSkip.add('/v3.1/Opportunities');
    const page = await il.deals.list({ limit: 100, status: 'open' }, opts);
    expect(sent('GET', '/v3.1/Opportunities')).toHaveLength(2);
    expect(page.incomplete).toBe(
      'Insightly gave the same page cursor twice while listing opportunities, so only its first 2 pages (100 records) were read: the listing is incomplete.',
    );
    expect(new Set(page.items.map((d) => d.id)).size).toBe(page.items.length);
  });

  it('pages a listing Insightly filters itself by skip and top, passing the offset through', async () => {
    const first = await il.deals.list({ limit: 50, pipeline_id: '2' }, opts);
    expect(sent('GET', '/v3.1/Opportunities/Search')[0].query).toEqual({ field_name: 'PIPELINE_ID', field_value: '2', brief: 'true', count_total: 'true', top: '50' });
    expect(first.next_cursor).toBe('50');
    const second = await il.deals.list({ limit: 50, pipeline_id: '2', cursor: '50' }, opts);
    expect(sent('GET', '/v3.1/Opportunities/Search')[1].query).toMatchObject({ skip: '50', top: '50' });
    expect(second.items).toHaveLength(30);
    expect(second.next_cursor).toBeNull();
    expect(new Set([...first.items, ...second.items].map((d) => d.pipeline.id))).toEqual(new Set(['2']));
  });
});

describe('deals', () => {
  it('filters on one field in Insightly (stage, else pipeline, else won) and on the rest here', async () => {
    await il.deals.list({ limit: 10, stage_id: '102', pipeline_id: '1', status: 'open' }, opts);
    expect(sent('GET', '/v3.1/Opportunities/Search').map((r) => r.query)).toEqual([
      { field_name: 'STAGE_ID', field_value: '102', brief: 'true', count_total: 'true', top: '500' },
    ]);
    fake.server.reset();
    const won = await il.deals.list({ limit: 10, status: 'won' }, opts);
    expect(sent('GET', '/v3.1/Opportunities/Search')[0].query).toEqual({ field_name: 'OPPORTUNITY_STATE', field_value: 'Won', brief: 'true', count_total: 'true', top: '10' });
    expect(won.items.every((d) => d.status === 'won')).toBe(true);
    expect(won.items[0].stage.name).toEqual(expect.any(String));
  });

  it('maps a deal with names', async () => {
    const d = await il.deals.get('5003', opts);
    expect(sent('GET', '/v3.1/Opportunities/5003')).toHaveLength(1);
    const o = opportunity(5003);
    expect(d).toMatchObject({
      id: '5003',
      name: 'Opportunity 3',
      pipeline: { id: '1', name: 'Sales [opportunities]' },
      stage: { id: String(o.STAGE_ID), name: fake.state.stages.get(Number(o.STAGE_ID))!.STAGE_NAME },
      amount: o.OPPORTUNITY_VALUE,
      currency: o.BID_CURRENCY,
      account: { id: String(o.ORGANISATION_ID) },
    });
    expect(d.owner!.name).toMatch(/ /);
    expect((await failure(il.deals.get('4', opts))).message).toBe("No deal with id '4'. Call list_deals to see valid deal ids.");
  });

  it('creates a deal in two requests: the opportunity, then its pipeline carrying the stage; the dry run shows both', async () => {
    const prepared = await il.deals.create({ name: 'Fresh', stage_id: '203', amount: 2500, currency: 'EUR', owner_id: '12', close_date: '2026-09-30' }, opts);
    expect(prepared.request).toEqual({
      method: 'POST',
      path: '/Opportunities',
      body: { OPPORTUNITY_NAME: 'Fresh', BID_AMOUNT: 2500, BID_TYPE: 'Fixed Bid', BID_CURRENCY: 'EUR', RESPONSIBLE_USER_ID: 12, FORECAST_CLOSE_DATE: '2026-09-30 00:00:00' },
    });
    expect(prepared.then).toEqual([{ method: 'PUT', path: '/Opportunities/{OPPORTUNITY_ID}/Pipeline', body: { PIPELINE_ID: 2, PIPELINE_STAGE_CHANGE: { STAGE_ID: 203 } } }]);
    expect(writes()).toEqual([]); // preparing sends nothing
    const deal = await prepared.execute();
    expect(writes()).toEqual([
      { method: 'POST', path: '/v3.1/Opportunities', query: {}, body: prepared.request.body },
      { method: 'PUT', path: `/v3.1/Opportunities/${deal.id}/Pipeline`, query: {}, body: { PIPELINE_ID: 2, PIPELINE_STAGE_CHANGE: { STAGE_ID: 203 } } },
    ]);
    expect(deal).toMatchObject({ name: 'Fresh', status: 'open', pipeline: { id: '2', name: 'Partnerships [opportunities]' }, stage: { id: '203', name: 'Signed' }, amount: 2500, close_date: '2026-09-30' });
    expect(opportunity(Number(deal.id))).toMatchObject({ PIPELINE_ID: 2, STAGE_ID: 203, OPPORTUNITY_VALUE: 2500 });
    expect(fake.state.readOnlyWrites).toEqual([]);
    for (const w of sent().filter((r) => r.method !== 'GET')) {
      expect(w.headers['content-type']).toBe('application/json');
      expect(w.headers.authorization).toBe(BASIC);
      expect(w.headers['idempotency-key']).toBeUndefined(); // Insightly has none: a write is never resent
    }
  });

  it('moves a deal within its pipeline through PipelineStage, and into another through Pipeline', async () => {
    const o = opportunity(5002); // Sales
    await run(il.deals.update('5002', { stage_id: '105' }, opts));
    expect(writes()).toEqual([{ method: 'PUT', path: '/v3.1/Opportunities/5002/PipelineStage', query: {}, body: { STAGE_ID: 105 } }]);
    expect(o.STAGE_ID).toBe(105);
    fake.server.reset();
    const moved = await run(il.deals.update('5002', { pipeline_id: '2', stage_id: '201' }, opts));
    expect(writes()).toEqual([{ method: 'PUT', path: '/v3.1/Opportunities/5002/Pipeline', query: {}, body: { PIPELINE_ID: 2, PIPELINE_STAGE_CHANGE: { STAGE_ID: 201 } } }]);
    expect(moved.pipeline).toEqual({ id: '2', name: 'Partnerships [opportunities]' });
    // A deal in no pipeline gets one through /Pipeline.
    fake.server.reset();
    await run(il.deals.update('5270', { stage_id: '101' }, opts));
    expect(writes()[0]).toMatchObject({ path: '/v3.1/Opportunities/5270/Pipeline', body: { PIPELINE_ID: 1, PIPELINE_STAGE_CHANGE: { STAGE_ID: 101 } } });
  });

  it('changes fields and the stage in order, fields first, and reads the deal back once', async () => {
    const prepared = await il.deals.update('5004', { name: 'Renamed', status: 'won', stage_id: '103' }, opts);
    expect([prepared.request, ...(prepared.then ?? [])]).toEqual([
      { method: 'PUT', path: '/Opportunities', body: { OPPORTUNITY_ID: 5004, OPPORTUNITY_NAME: 'Renamed', OPPORTUNITY_STATE: 'Won' } },
      { method: 'PUT', path: '/Opportunities/5004/PipelineStage', body: { STAGE_ID: 103 } },
    ]);
    fake.server.reset();
    const d = await prepared.execute();
    expect(writes().map((w) => `${w.method} ${w.path}`)).toEqual(['PUT /v3.1/Opportunities', 'PUT /v3.1/Opportunities/5004/PipelineStage']);
    expect(d).toMatchObject({ name: 'Renamed', status: 'won', stage: { id: '103', name: 'Proposal' } });
    expect(opportunity(5004)).toMatchObject({ OPPORTUNITY_NAME: 'Renamed', OPPORTUNITY_STATE: 'Won', STAGE_ID: 103 });
  });

  it('says exactly what happened when the stage change fails after the fields were changed', async () => {
    const prepared = await il.deals.update('5004', { name: 'Half done', stage_id: '103' }, opts);
    fake.server.inject({ kind: 'status', status: 400, body: { Message: 'The stage cannot be changed now.' } }, { match: (r) => r.path.endsWith('/PipelineStage') });
    const e = await failure(prepared.execute());
    expect(e.kind).toBe('upstream');
    expect(e.message).toBe(
      "Insightly did only part of this update of deal 'Opportunity 4' (5004): PUT /Opportunities (change its OPPORTUNITY_NAME) succeeded; " +
        'then PUT /Opportunities/5004/PipelineStage (put it in stage Proposal (103) of Sales [opportunities] (1)) failed: ' +
        'Insightly rejected the request (400): The stage cannot be changed now. Read it with get_deal, then repeat only what is missing.',
    );
    expect(opportunity(5004).OPPORTUNITY_NAME).toBe('Half done');
    expect(opportunity(5004).STAGE_ID).not.toBe(103);
  });

  it('says the create happened, with the new id, when the stage of a new deal fails', async () => {
    const prepared = await il.deals.create({ name: 'Orphan', stage_id: '101' }, opts);
    fake.server.inject({ kind: 'status', status: 503, body: { Message: 'Service Unavailable' } }, { match: (r) => r.path.endsWith('/Pipeline'), times: 10 });
    const e = await failure(prepared.execute());
    const created = [...fake.state.records.Opportunities.values()].find((o) => o.OPPORTUNITY_NAME === 'Orphan')!;
    expect(e.message).toMatch(/^Insightly did only part of this create of a deal: POST \/Opportunities \(create the deal\) succeeded; then PUT \/Opportunities\/\{OPPORTUNITY_ID\}\/Pipeline/);
    expect(e.message).toContain(`The deal exists (id ${created.OPPORTUNITY_ID}): read it with get_deal, then set its stage with update_deal; do not create it again.`);
    expect(e.kind).toBe('upstream');
    expect(e.nothingSent).toBeUndefined();
  });

  it('refuses a stage of a projects pipeline, or of another pipeline than the one given, before sending', async () => {
    const e = await failure(il.deals.update('5002', { stage_id: '302' }, opts));
    expect(e.message).toBe(
      'Stage Build (302) is in Delivery [projects] (3), which holds no opportunities; a deal moves only in a pipeline for opportunities: Sales [opportunities] (1), Partnerships [opportunities] (2).',
    );
    const e2 = await failure(il.deals.update('5002', { pipeline_id: '2', stage_id: '101' }, opts));
    expect(e2.message).toMatch(/^Stage Lead In \(101\) belongs to Sales \[opportunities\] \(1\), not to Partnerships \[opportunities\] \(2\)/);
    expect((await failure(il.deals.update('5002', { pipeline_id: '2' }, opts))).message).toMatch(/pass stage_id too/);
    expect(writes()).toEqual([]);
  });

  it('never writes PIPELINE_ID or STAGE_ID into a record body, and names a missing deal on update', async () => {
    await run(il.deals.update('5010', { amount: 10, currency: 'usd', account_id: '701', close_date: '2027-01-31', owner_id: '14' }, opts));
    expect(writes()).toEqual([
      {
        method: 'PUT',
        path: '/v3.1/Opportunities',
        query: {},
        body: { OPPORTUNITY_ID: 5010, BID_AMOUNT: 10, BID_TYPE: 'Fixed Bid', BID_CURRENCY: 'USD', RESPONSIBLE_USER_ID: 14, ORGANISATION_ID: 701, FORECAST_CLOSE_DATE: '2027-01-31 00:00:00' },
      },
    ]);
    expect(fake.state.readOnlyWrites).toEqual([]);
    const e = await failure(run(il.deals.update('77', { name: 'x' }, opts)));
    expect(e.message).toBe("No deal with id '77'. Call list_deals to see valid deal ids.");
  });
});

describe('projects', () => {
  it('lists whole projects (brief=false), filters status and stage in Insightly, name and owner here', async () => {
    const page = await il.projects.list({ limit: 5 }, opts);
    expect(sent('GET', '/v3.1/Projects')[0].query).toEqual({ brief: 'false', count_total: 'true', top: '5' });
    expect(page.items[1]).toMatchObject({ id: '8002', name: 'Project 2', status: 'deferred', tags: [{ id: 'enterprise', name: 'enterprise' }] });
    fake.server.reset();
    const inProgress = await il.projects.list({ limit: 50, status: 'in progress' }, opts);
    expect(sent('GET', '/v3.1/Projects/Search')[0].query).toEqual({ field_name: 'STATUS', field_value: 'In Progress', brief: 'false', count_total: 'true', top: '50' });
    expect(inProgress.items.length).toBe(10);
    expect(inProgress.items.every((p) => p.status === 'in progress')).toBe(true);
    fake.server.reset();
    const named = await il.projects.list({ limit: 50, name: 'project 1', stage_id: '302' }, opts);
    expect(sent('GET', '/v3.1/Projects/Search')[0].query).toMatchObject({ field_name: 'STAGE_ID', field_value: '302', top: '500' });
    expect(named.items.map((p) => p.name)).toEqual(['Project 1', 'Project 13', 'Project 17']);
  });

  it('maps a project with names, custom fields and its opportunity', async () => {
    const p = await il.projects.get('8003', opts);
    expect(p).toEqual({
      id: '8003',
      name: 'Project 3',
      status: 'cancelled',
      owner: { id: '14', name: 'Katherine Johnson' },
      stage: { id: '304', name: 'Handover' },
      custom_fields: { Budget_Code__c: 'BC-3' },
      last_activity_at: expect.stringMatching(/Z$/),
      created_at: '2026-01-01T03:00:00Z',
      updated_at: expect.stringMatching(/Z$/),
    });
    expect((await il.projects.get('8005', opts)).opportunity).toEqual([{ id: '5005' }]);
  });

  it('creates a project with a stage in two requests and refuses what Insightly cannot take', async () => {
    const prepared = await il.projects.create(
      { name: 'Rollout', status: 'not started', description: 'Phase 1', tags: [{ id: 'vip' }], owner: { id: '13' }, stage: { id: '401' } },
      opts,
    );
    expect([prepared.request, ...(prepared.then ?? [])]).toEqual([
      { method: 'POST', path: '/Projects', body: { PROJECT_NAME: 'Rollout', STATUS: 'Not Started', PROJECT_DETAILS: 'Phase 1', RESPONSIBLE_USER_ID: 13, TAGS: [{ TAG_NAME: 'vip' }] } },
      { method: 'PUT', path: '/Projects/{PROJECT_ID}/Pipeline', body: { PIPELINE_ID: 4, PIPELINE_STAGE_CHANGE: { STAGE_ID: 401 } } },
    ]);
    const p = await prepared.execute();
    expect(p).toMatchObject({ name: 'Rollout', status: 'not started', stage: { id: '401', name: 'Welcome' }, tags: [{ id: 'vip', name: 'vip' }], owner: { id: '13', name: 'Alan Turing' } });
    expect(writes().map((w) => `${w.method} ${w.path}`)).toEqual(['POST /v3.1/Projects', `PUT /v3.1/Projects/${p.id}/Pipeline`]);
    // A stage of an opportunity pipeline is no place for a project.
    const e = await failure(il.projects.create({ name: 'Wrong', status: 'deferred', stage: { id: '101' } }, opts));
    expect(e.message).toMatch(/^Stage Lead In \(101\) is in Sales \[opportunities\] \(1\), which holds no projects; a project moves only in a pipeline for projects: Delivery \[projects\] \(3\), Onboarding \[projects\] \(4\)\.$/);
    expect((await failure(il.projects.create({ name: 'No status' }, opts))).message).toMatch(/^Insightly requires `name` and `status` to create a project/);
  });

  it('updates only the fields given (PUT with PROJECT_ID), and a stage alone through PipelineStage', async () => {
    const p = await run(il.projects.update('8002', { status: 'completed', close_date: '2026-08-01', custom_fields: { Budget_Code__c: 'NEW' } }, opts));
    expect(writes()).toEqual([
      {
        method: 'PUT',
        path: '/v3.1/Projects',
        query: {},
        body: { PROJECT_ID: 8002, STATUS: 'Completed', COMPLETED_DATE: '2026-08-01 00:00:00', CUSTOMFIELDS: [{ FIELD_NAME: 'Budget_Code__c', FIELD_VALUE: 'NEW' }] },
      },
    ]);
    expect(p).toMatchObject({ status: 'completed', close_date: '2026-08-01', custom_fields: { Budget_Code__c: 'NEW' }, tags: [{ id: 'enterprise' , name: 'enterprise' }] });
    expect(project(8002).PROJECT_NAME).toBe('Project 2');
    fake.server.reset();
    await run(il.projects.update('8002', { stage: { id: '301' } }, opts));
    expect(writes()).toEqual([{ method: 'PUT', path: '/v3.1/Projects/8002/PipelineStage', query: {}, body: { STAGE_ID: 301 } }]);
    // Already there: nothing to send, said so.
    const e = await failure(il.projects.update('8002', { stage: { id: '301' } }, opts));
    expect(e.message).toMatch(/^Nothing to update: give at least one of a stage other than its current one/);
  });

  it('deletes a project: reads its name, then DELETE answering 202 without a body', async () => {
    const prepared = await il.projects.delete('8007', opts);
    expect(prepared.request).toEqual({ method: 'DELETE', path: '/Projects/8007' });
    const ref = await prepared.execute();
    expect(ref).toEqual({ id: '8007', name: 'Project 7' });
    expect(sent().map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v3.1/Projects/8007', 'DELETE /v3.1/Projects/8007']);
    expect(fake.state.records.Projects.has(8007)).toBe(false);
    const e = await failure(run(il.projects.delete('8007', opts)));
    expect(e.message).toBe("No project with id '8007'. Call list_projects to see valid project ids.");
    expect(sent('DELETE')).toHaveLength(1);
  });
});

describe('errors and limits', () => {
  it("turns Insightly's ModelState into one sentence with the argument's name", async () => {
    fake.server.inject(
      { kind: 'status', status: 400, body: { Message: 'The request is invalid.', ModelState: { 'project.PROJECT_NAME': ['The PROJECT_NAME field is required.'] } } },
      { match: (r) => r.method === 'PUT' },
    );
    const e = await failure(run(il.projects.update('8001', { name: 'x' }, opts)));
    expect(e.kind).toBe('validation');
    expect(e.message).toBe('Insightly rejected the request (400): The request is invalid. `name`: The PROJECT_NAME field is required.');
  });

  it('retries a per-second 429 as Retry-After asks, and answers a spent daily quota at once without retrying', async () => {
    fake.rateLimit(1, 0);
    expect((await il.pipelines.list({ limit: 2 }, opts)).items).toHaveLength(2);
    expect(sent('GET', '/v3.1/Pipelines')).toHaveLength(2);
    fake.server.reset();
    fake.state.used = fake.state.dailyLimit;
    const e = await failure(il.pipelines.list({ limit: 2 }, opts));
    expect(e.kind).toBe('rate_limited');
    expect(e.message).toBe("Insightly's daily API limit for this account (100,000 requests a day) is used up; it resets the next day, so retrying now will not help.");
    expect(sent()).toHaveLength(1);
  });

  it('recovers from the fake rejecting more than 10 requests a second', async () => {
    fake.state.perSecond = 10;
    const all = await Promise.all(Array.from({ length: 12 }, (_, i) => il.stages.get(String(101 + (i % 5)), opts)));
    expect(all).toHaveLength(12);
  });
});

describe('accounts (organisations)', () => {
  it('lists brief organisations by skip and top, the website read as a domain, owners by name', async () => {
    const page = await il.accounts.list({ limit: 4 }, opts);
    expect(sent('GET', '/v3.1/Organisations').map((r) => r.query)).toEqual([{ brief: 'true', count_total: 'true', top: '4' }]);
    expect(page.items).toEqual([
      { id: '700', name: 'Acme Corporation', domain: 'acme.example', owner: { id: '11', name: 'Ada Lovelace' }, created_at: '2026-01-01T01:00:00Z', updated_at: '2026-01-09T08:00:00Z' },
      { id: '701', name: 'Globex', domain: 'globex.example', owner: { id: '12', name: 'Grace Hopper' }, created_at: '2026-01-01T02:00:00Z', updated_at: '2026-01-09T09:00:00Z' },
      { id: '702', name: 'Initech', domain: 'initech.example', owner: { id: '13', name: 'Alan Turing' }, created_at: '2026-01-01T03:00:00Z', updated_at: '2026-01-09T10:00:00Z' },
      // No website: no domain (the email domains are a subcollection, not read).
      { id: '703', name: 'Umbrella', owner: { id: '14', name: 'Katherine Johnson' }, created_at: '2026-01-01T04:00:00Z', updated_at: '2026-01-09T11:00:00Z' },
    ]);
    expect(page.next_cursor).toBe('4');
  });

  it('filters by owner in Insightly and by a part of the name here', async () => {
    const mine = await il.accounts.list({ limit: 10, owner_id: '15' }, opts);
    expect(sent('GET', '/v3.1/Organisations/Search').map((r) => r.query)).toEqual([
      { field_name: 'OWNER_USER_ID', field_value: '15', brief: 'true', count_total: 'true', top: '10' },
    ]);
    expect(mine.items.map((a) => a.id)).toEqual(['704', '709']);
    fake.server.reset();
    const named = await il.accounts.list({ limit: 10, name: 'INDUSTRIES' }, opts);
    expect(sent('GET', '/v3.1/Organisations')[0].query).toEqual({ brief: 'true', count_total: 'true', top: '500' });
    expect(named.items.map((a) => a.name)).toEqual(['Stark Industries', 'Vandelay Industries', 'Wonka Industries']);
  });

  it('gets an organisation whole, and names one that does not exist', async () => {
    const a = await il.accounts.get('702', { include_remote_data: true });
    expect(sent('GET', '/v3.1/Organisations/702')[0].query).toEqual({});
    expect(a.remote_data).toMatchObject({ EMAILDOMAINS: [{ EMAIL_DOMAIN: 'initech.example' }] });
    expect((await failure(il.accounts.get('7', opts))).message).toBe("No account with id '7'. Call list_accounts or search to see valid account ids.");
  });

  it('creates in one POST after checking the owner; refuses an unknown owner before writing', async () => {
    const prepared = await il.accounts.create({ name: 'Initrode', domain: 'initrode.example', owner_id: '15' }, opts);
    expect(prepared.request).toEqual({ method: 'POST', path: '/Organisations', body: { ORGANISATION_NAME: 'Initrode', WEBSITE: 'initrode.example', OWNER_USER_ID: 15 } });
    expect(prepared.then).toBeUndefined();
    expect(sent()).toEqual([]); // preparing sends nothing
    const made = await prepared.execute();
    expect(sent().map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v3.1/Users', 'POST /v3.1/Organisations']);
    expect(made).toMatchObject({ name: 'Initrode', domain: 'initrode.example', owner: { id: '15', name: 'Ana Silva' } });
    fake.server.reset();
    const e = await failure(run(il.accounts.create({ name: 'Nobody owns me', owner_id: '99' }, opts)));
    expect(e.message).toBe("No user with id '99'. Find ids with list_users or search (types: users).");
    expect(sent('POST')).toEqual([]);
  });

  it('updates with PUT carrying the id and only the fields given', async () => {
    const updated = await run(il.accounts.update('701', { name: 'Globex Corporation', domain: 'https://globex.example/about' }, opts));
    expect(writes()).toEqual([{ method: 'PUT', path: '/v3.1/Organisations', query: {}, body: { ORGANISATION_ID: 701, ORGANISATION_NAME: 'Globex Corporation', WEBSITE: 'https://globex.example/about' } }]);
    expect(updated).toMatchObject({ id: '701', name: 'Globex Corporation', domain: 'globex.example', owner: { id: '12' } });
    expect((await failure(il.accounts.update('701', {}, opts))).message).toMatch(/^Nothing to update: give at least one of name, domain, owner_id/);
    expect((await failure(run(il.accounts.update('7', { name: 'Gone' }, opts)))).message).toBe("No account with id '7'. Call list_accounts or search to see valid account ids.");
  });
});

describe('contacts', () => {
  it('lists brief contacts with names, one email, the phone fields in order, and the organisation by name', async () => {
    const page = await il.contacts.list({ limit: 3 }, opts);
    expect(sent('GET', '/v3.1/Contacts')[0].query).toEqual({ brief: 'true', count_total: 'true', top: '3' });
    expect(page.items[0]).toEqual({
      id: '900',
      name: 'Wile Coyote',
      first_name: 'Wile',
      last_name: 'Coyote',
      emails: ['wile.coyote0@acme.example'],
      // PHONE and PHONE_MOBILE; the assistant's number stays in remote_data.
      phones: ['+1 555 0900', '+1 555 1900'],
      title: 'Head of Purchasing',
      account: { id: '700', name: 'Acme Corporation' },
      owner: { id: '11', name: 'Ada Lovelace' },
      created_at: '2026-01-01T20:00:00Z',
      updated_at: '2026-01-13T12:00:00Z',
    });
    // Each organisation named once, by a brief GET.
    expect(sent('GET').filter((r) => r.path.startsWith('/v3.1/Organisations/')).map((r) => r.rawUrl).sort()).toEqual([
      '/v3.1/Organisations/700?brief=true',
      '/v3.1/Organisations/701?brief=true',
      '/v3.1/Organisations/702?brief=true',
    ]);
  });

  it('filters by email, else organisation, else owner in Insightly, and by a part of the name here', async () => {
    const byEmail = await il.contacts.list({ limit: 10, email: 'Peter.Belson2@initech.example', owner_id: '13' }, opts);
    expect(sent('GET', '/v3.1/Contacts/Search').map((r) => r.query)).toEqual([
      { field_name: 'EMAIL_ADDRESS', field_value: 'Peter.Belson2@initech.example', brief: 'true', count_total: 'true', top: '500' },
    ]);
    expect(byEmail.items.map((c) => c.id)).toEqual(['902']);
    fake.server.reset();
    const atAcme = await il.contacts.list({ limit: 10, account_id: '700', name: 'wile' }, opts);
    expect(sent('GET', '/v3.1/Contacts/Search')[0].query).toMatchObject({ field_name: 'ORGANISATION_ID', field_value: '700' });
    expect(atAcme.items.map((c) => c.name)).toEqual(['Wile Coyote', 'Wile Coyote', 'Wile Coyote']);
  });

  it('creates after checking the organisation and owner; updates replace the phones and the email', async () => {
    const prepared = await il.contacts.create({ first_name: 'Ana', last_name: 'Pilot', emails: ['ana@pilot.example'], phones: ['+1 555 0101'], title: 'CTO', account_id: '700', owner_id: '15' }, opts);
    expect(prepared.request).toEqual({
      method: 'POST',
      path: '/Contacts',
      body: { FIRST_NAME: 'Ana', LAST_NAME: 'Pilot', EMAIL_ADDRESS: 'ana@pilot.example', PHONE: '+1 555 0101', TITLE: 'CTO', ORGANISATION_ID: 700, OWNER_USER_ID: 15 },
    });
    const made = await prepared.execute();
    expect(sent().map((r) => `${r.method} ${r.path}`).sort()).toEqual(['GET /v3.1/Organisations/700', 'GET /v3.1/Users', 'POST /v3.1/Contacts']);
    expect(made).toMatchObject({ name: 'Ana Pilot', emails: ['ana@pilot.example'], phones: ['+1 555 0101'], account: { id: '700', name: 'Acme Corporation' }, owner: { id: '15', name: 'Ana Silva' } });
    fake.server.reset();
    const changed = await run(il.contacts.update(made.id, { phones: ['+1 555 0102', '+1 555 0103'], emails: [] }, opts));
    expect(writes()).toEqual([
      { method: 'PUT', path: '/v3.1/Contacts', query: {}, body: { CONTACT_ID: Number(made.id), EMAIL_ADDRESS: null, PHONE: '+1 555 0102', PHONE_MOBILE: '+1 555 0103', PHONE_HOME: null, PHONE_OTHER: null } },
    ]);
    expect(changed.phones).toEqual(['+1 555 0102', '+1 555 0103']);
    expect(changed.emails).toBeUndefined();
    fake.server.reset();
    expect((await failure(run(il.contacts.create({ first_name: 'X', account_id: '999' }, opts)))).message).toBe(
      "No account with id '999'. Find ids with search (types: accounts) or list_accounts.",
    );
    // A check that fails for another reason is marked as having written nothing (a keyed create may be retried).
    fake.server.inject({ kind: 'status', status: 500, body: { Message: 'An error has occurred.' } }, { times: 10, match: (r) => r.path === '/v3.1/Organisations/701' });
    const broken = await failure(run(il.contacts.create({ first_name: 'X', account_id: '701' }, opts)));
    expect(broken).toMatchObject({ kind: 'upstream', nothingSent: true });
    expect((await failure(il.contacts.create({ first_name: 'X', phones: ['1', '2', '3', '4', '5'] }, opts))).message).toBe(
      'An Insightly contact has 4 phone numbers (phone, mobile, home, other); phones has 5.',
    );
    expect(sent('POST')).toEqual([]);
  });
});

describe('users', () => {
  it('lists every user, gets one, and names one that does not exist', async () => {
    const page = await il.users.list({ limit: 100 }, opts);
    expect(sent('GET', '/v3.1/Users')[0].query).toEqual({ count_total: 'true', top: '100' });
    expect(page.items.map((u) => `${u.id} ${u.name} ${u.email} ${u.active}`)).toEqual([
      '11 Ada Lovelace ada@example.com true',
      '12 Grace Hopper grace@example.com true',
      '13 Alan Turing alan@example.com true',
      '14 Katherine Johnson katherine@example.com true',
      '15 Ana Silva ana@example.com true',
      '16 Edsger Dijkstra edsger@example.com false',
    ]);
    expect(await il.users.get('12', opts)).toEqual({ id: '12', name: 'Grace Hopper', email: 'grace@example.com', active: true });
    expect((await failure(il.users.get('99', opts))).message).toBe("No user with id '99'. Call list_users to see valid user ids.");
  });
});

describe('activities (notes and tasks)', () => {
  it('maps a note and a task: ids that say which, parents from links and task fields, done, due date, owners by name', async () => {
    const note = await il.activities.get('note-3004', opts);
    expect(sent().map((r) => r.path)).toContain('/v3.1/Notes/3004');
    expect(note).toEqual({
      id: 'note-3004',
      type: 'note',
      subject: 'Note 4',
      body: 'What we heard in conversation 4.',
      owner: { id: '15', name: 'Ana Silva' },
      deal: { id: '5012' },
      contact: { id: '904' },
      created_at: '2026-01-01T08:00:00Z',
      updated_at: '2026-01-01T09:00:00Z',
    });
    const task = await il.activities.get('task-4003', opts);
    expect(task).toEqual({
      id: 'task-4003',
      type: 'task',
      subject: 'Task 3',
      body: 'Details of task 3',
      due_date: '2099-04-10',
      done: false,
      owner: { id: '14', name: 'Katherine Johnson' },
      deal: { id: '5009' },
      contact: { id: '903' },
      created_at: '2026-01-01T07:00:00Z',
      updated_at: '2026-01-01T09:00:00Z',
    });
    expect((await il.activities.get('task-4005', opts)).project).toEqual({ id: '8005' });
    expect((await failure(il.activities.get('note-4003', opts))).message).toBe("No activity with id 'note-4003'. Call list_activities to see valid activity ids.");
  });

  it("lists a deal's notes and tasks from its own endpoints, whole, merged newest first, and pages them here", async () => {
    const progress: Array<[number, string | undefined]> = [];
    const first = await il.activities.list({ limit: 3, deal_id: '5003' }, { onProgress: (done, _total, message) => void progress.push([done, message]) });
    expect(sent().filter((r) => r.path.startsWith('/v3.1/Opportunities/')).map((r) => r.rawUrl).sort()).toEqual([
      '/v3.1/Opportunities/5003/Notes?brief=false&count_total=true&top=500',
      '/v3.1/Opportunities/5003/Tasks?brief=false&count_total=true&top=500',
    ]);
    // One count of pages read across both walks, whichever answers first.
    expect(progress.map(([done]) => done)).toEqual([1, 2]);
    expect(progress.map(([, message]) => message).sort()).toEqual(['read 1 page of notes', 'read 1 page of tasks']);
    const notes = [...fake.state.records.Notes.values()].filter((n) => (n.LINKS as Row[]).some((l) => l.LINK_OBJECT_NAME === 'Opportunity' && l.LINK_OBJECT_ID === 5003));
    const tasks = [...fake.state.records.Tasks.values()].filter((t) => t.OPPORTUNITY_ID === 5003);
    const all = [...notes.map((n) => ({ id: `note-${n.NOTE_ID}`, at: String(n.DATE_CREATED_UTC) })), ...tasks.map((t) => ({ id: `task-${t.TASK_ID}`, at: String(t.DATE_CREATED_UTC) }))]
      .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
      .map((x) => x.id);
    expect(first.items.map((a) => a.id)).toEqual(all.slice(0, 3));
    expect(first.next_cursor).not.toBeNull();
    const second = await il.activities.list({ limit: 3, deal_id: '5003', cursor: first.next_cursor! }, opts);
    expect(second.items.map((a) => a.id)).toEqual(all.slice(3, 6));
    fake.server.reset();
    const onlyNotes = await il.activities.list({ limit: 50, deal_id: '5003', type: 'note' }, opts);
    expect(sent().map((r) => r.path)).toEqual(['/v3.1/Opportunities/5003/Notes']); // owners' names are cached
    expect(onlyNotes.items.every((a) => a.type === 'note')).toBe(true);
    fake.server.reset();
    const done = await il.activities.list({ limit: 50, done: true }, opts);
    expect(sent().map((r) => r.path)).toEqual(['/v3.1/Tasks']);
    expect(done.items.map((a) => a.id)).toEqual([...fake.state.records.Tasks.values()].filter((t) => t.COMPLETED).map((t) => `task-${t.TASK_ID}`).reverse());
  });

  it('creates a note under its first record and links the others, checking those first; the dry run shows every request', async () => {
    const prepared = await il.activities.create({ type: 'note', body: 'They want a pilot.\nBy March.', deal_id: '5003', account_id: '700', contact_id: '903' }, opts);
    expect(prepared.request).toEqual({ method: 'POST', path: '/Opportunities/5003/Notes', body: { TITLE: 'They want a pilot.', BODY: 'They want a pilot.\nBy March.' } });
    expect(prepared.then).toEqual([
      { method: 'POST', path: '/Notes/{NOTE_ID}/Links', body: { LINK_OBJECT_NAME: 'Contact', LINK_OBJECT_ID: 903 } },
      { method: 'POST', path: '/Notes/{NOTE_ID}/Links', body: { LINK_OBJECT_NAME: 'Organisation', LINK_OBJECT_ID: 700 } },
    ]);
    expect(sent()).toEqual([]);
    const note = await prepared.execute();
    const id = Number(note.id.replace('note-', ''));
    expect(sent().map((r) => `${r.method} ${r.path}`).slice(0, 2).sort()).toEqual(['GET /v3.1/Contacts/903', 'GET /v3.1/Organisations/700']);
    expect(writes()).toEqual([
      { method: 'POST', path: '/v3.1/Opportunities/5003/Notes', query: {}, body: prepared.request.body },
      { method: 'POST', path: `/v3.1/Notes/${id}/Links`, query: {}, body: { LINK_OBJECT_NAME: 'Contact', LINK_OBJECT_ID: 903 } },
      { method: 'POST', path: `/v3.1/Notes/${id}/Links`, query: {}, body: { LINK_OBJECT_NAME: 'Organisation', LINK_OBJECT_ID: 700 } },
    ]);
    expect(note).toMatchObject({ type: 'note', subject: 'They want a pilot.', deal: { id: '5003' }, account: { id: '700' }, contact: { id: '903' } });
    expect(sent('GET', `/v3.1/Notes/${id}`)).toHaveLength(1); // read back with its links
  });

  it('creates a task with its deal as a field and its contact as a link; a failed link says the task exists', async () => {
    const prepared = await il.activities.create({ type: 'task', subject: 'Call back', body: 'About the pilot', due_date: '2026-03-01', owner_id: '12', deal_id: '5003', contact_id: '903' }, opts);
    expect(prepared.request).toEqual({
      method: 'POST',
      path: '/Tasks',
      body: { TITLE: 'Call back', DETAILS: 'About the pilot', DUE_DATE: '2026-03-01 00:00:00', COMPLETED: false, RESPONSIBLE_USER_ID: 12, OPPORTUNITY_ID: 5003 },
    });
    expect(prepared.then).toEqual([{ method: 'POST', path: '/Tasks/{TASK_ID}/Links', body: { LINK_OBJECT_NAME: 'Contact', LINK_OBJECT_ID: 903 } }]);
    fake.server.inject({ kind: 'status', status: 500, body: { Message: 'An error has occurred.' } }, { match: (r) => r.method === 'POST' && r.path.endsWith('/Links') });
    const e = await failure(prepared.execute());
    const made = [...fake.state.records.Tasks.values()].find((t) => t.TITLE === 'Call back')!;
    expect(e.kind).toBe('upstream');
    expect(e.message).toBe(
      `Insightly did only part of this create of a task: POST /Tasks (create the task) succeeded; then POST /Tasks/{TASK_ID}/Links (link it to contact 903) failed: ` +
        `Insightly answered 500: An error has occurred. The write may or may not have happened; check with a read (get or list) before retrying. The task exists (id task-${made.TASK_ID}): add the missing records with update_activity; do not create it again.`,
    );
    expect(made).toMatchObject({ OPPORTUNITY_ID: 5003, RESPONSIBLE_USER_ID: 12, COMPLETED: false, LINKS: [] });
  });

  it('completes a task, and moves a note: the new link first, then the old one removed', async () => {
    const done = await run(il.activities.update('task-4001', { done: true }, opts));
    expect(writes()).toEqual([{ method: 'PUT', path: '/v3.1/Tasks', query: {}, body: { TASK_ID: 4001, COMPLETED: true, STATUS: 'Completed' } }]);
    expect(done).toMatchObject({ id: 'task-4001', done: true });
    fake.server.reset();
    const old = (fake.state.records.Notes.get(3001)!.LINKS as Row[])[0];
    const moved = await run(il.activities.update('note-3001', { deal_id: '5006' }, opts));
    expect(writes()).toEqual([
      { method: 'POST', path: '/v3.1/Notes/3001/Links', query: {}, body: { LINK_OBJECT_NAME: 'Opportunity', LINK_OBJECT_ID: 5006 } },
      { method: 'DELETE', path: `/v3.1/Notes/3001/Links/${old.LINK_ID}`, query: {}, body: undefined },
    ]);
    expect(moved.deal).toEqual({ id: '5006' });
    expect((await failure(il.activities.update('note-3001', { deal_id: '5006' }, opts))).message).toBe('note-3001 already hangs on deal 5006; nothing to update.');
    expect((await failure(il.activities.create({ type: 'note', deal_id: '5003' }, opts))).message).toBe(
      'Insightly needs a title for a note: give subject, or a body whose first line becomes the title.',
    );
  });
});

describe('search', () => {
  it('asks each type its own /Search on the whole name and maps the hits', async () => {
    const answer = await il.search({ query: 'Acme Corporation', types: ['deals', 'accounts', 'projects'], limit: 5 }, opts);
    expect(sent().filter((r) => r.path.endsWith('/Search')).map((r) => r.rawUrl).sort()).toEqual([
      '/v3.1/Opportunities/Search?field_name=OPPORTUNITY_NAME&field_value=Acme%20Corporation&brief=true&count_total=true&top=100',
      '/v3.1/Organisations/Search?field_name=ORGANISATION_NAME&field_value=Acme%20Corporation&brief=true&count_total=true&top=100',
      '/v3.1/Projects/Search?field_name=PROJECT_NAME&field_value=Acme%20Corporation&brief=true&count_total=true&top=100',
    ]);
    expect(answer.hits).toEqual([{ type: 'accounts', id: '700', name: 'Acme Corporation', domain: 'acme.example', owner: { id: '11', name: 'Ada Lovelace' } }]);
  });

  it('finds people by email, or by first and last name at once', async () => {
    const byEmail = await il.search({ query: 'ana@example.com', types: ['users', 'contacts'], limit: 5 }, opts);
    expect(sent().map((r) => `${r.path}?${r.query.field_name}`).sort()).toEqual(['/v3.1/Contacts/Search?EMAIL_ADDRESS', '/v3.1/Users/Search?EMAIL_ADDRESS']);
    expect(byEmail.hits).toEqual([{ type: 'users', id: '15', name: 'Ana Silva', email: 'ana@example.com' }]);
    fake.server.reset();
    const byName = await il.search({ query: 'Tony Gibbons', types: ['contacts'], limit: 5 }, opts);
    expect(sent().map((r) => `${r.query.field_name}=${r.query.field_value}`).sort()).toEqual(['FIRST_NAME=Tony', 'LAST_NAME=Gibbons']);
    expect(byName.hits.find((h) => h.id === '904')).toEqual({ type: 'contacts', id: '904', name: 'Tony Gibbons', email: 'tony.gibbons4@stark.example', account: { id: '704' } });
    // Everyone named Tony or Gibbons, each once; the tool layer puts the whole name first.
    expect(byName.hits.length).toBe(new Set(byName.hits.map((h) => h.id)).size);
    expect(byName.hits.every((h) => h.name.startsWith('Tony ') || h.name.endsWith(' Gibbons'))).toBe(true);
  });
});

// The seed as the tests above assume it.
describe('fake seed', () => {
  it('has what the tests count on', () => {
    expect(fake.state.records.Opportunities.size).toBe(300);
    expect(fake.state.records.Projects.size).toBe(60);
    expect([...fake.state.records.Organisations.keys()]).toEqual([700, 701, 702, 703, 704, 705, 706, 707, 708, 709]);
    expect(fake.state.records.Organisations.get(700)!.ORGANISATION_NAME).toBe('Acme Corporation');
    expect(fake.state.records.Contacts.size).toBe(30);
    expect(fake.state.records.Notes.size).toBe(40);
    expect(fake.state.records.Tasks.size).toBe(40);
    expect(fake.state.users.get(15)).toMatchObject({ FIRST_NAME: 'Ana', LAST_NAME: 'Silva' });
    // Every organisation an opportunity names exists.
    for (const o of fake.state.records.Opportunities.values()) if (o.ORGANISATION_ID != null) expect(fake.state.records.Organisations.has(Number(o.ORGANISATION_ID))).toBe(true);
    const p3 = project(8003) as Row;
    expect(p3.STAGE_ID).toBe(304);
  });
});
