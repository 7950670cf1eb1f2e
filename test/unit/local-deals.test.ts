import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DealInput } from '../../src/crm/provider.js';
import type { Db } from '../../src/providers/local/client.js';
import { createLocalProvider, type LocalProvider } from '../../src/providers/local/index.js';
import { cleanupTempDirs, emptyProvider, expectCrmError, insertPeople, steppingClock } from './local-helpers.js';

let provider: LocalProvider;
let db: Db;
/** Sales (1): Lead (1), Demo (2), Closing (3), Archive (4, inactive). Partners (2): Intro (5), Signed (6). */
const S = { sales: '1', partners: '2', lead: '1', demo: '2', closing: '3', archive: '4', intro: '5', signed: '6' };

beforeEach(async () => {
  ({ provider, db } = emptyProvider(steppingClock()));
  insertPeople(db);
  for (const name of ['Sales', 'Partners']) await (await provider.pipelines!.create!({ name }, {})).execute();
  for (const [pipeline_id, name] of [
    ['1', 'Lead'],
    ['1', 'Demo'],
    ['1', 'Closing'],
    ['1', 'Archive'],
    ['2', 'Intro'],
    ['2', 'Signed'],
  ]) {
    await (await provider.stages!.create!({ pipeline_id, name }, {})).execute();
  }
  await (await provider.stages!.update!(S.archive, { status: 'inactive' }, {})).execute();
});
afterEach(cleanupTempDirs);

const deals = () => provider.deals!;
const events = (dealId: string) =>
  db.prepare('SELECT kind, from_stage_id, to_stage_id FROM deal_events WHERE deal_id = ? ORDER BY id').all(Number(dealId));
const dealCount = () => (db.prepare('SELECT COUNT(*) AS n FROM deals').get() as { n: number }).n;

async function createDeal(input: DealInput) {
  return (await deals().create!(input, {})).execute();
}

describe('local deals: create', () => {
  it('creates a deal with names beside every id, and records the created event', async () => {
    const write = await deals().create!(
      { name: 'Acme – 50 seats', stage_id: S.demo, amount: 12000, currency: 'eur', owner_id: '2', account_id: '1', close_date: '2026-04-30' },
      {},
    );
    expect(write.request).toEqual({
      method: 'POST',
      path: '/deals',
      body: { name: 'Acme – 50 seats', stage_id: S.demo, amount: 12000, currency: 'EUR', owner_id: '2', account_id: '1', close_date: '2026-04-30' },
    });
    const deal = await write.execute();
    expect(deal).toMatchObject({
      id: '1',
      name: 'Acme – 50 seats',
      status: 'open',
      pipeline: { id: S.sales, name: 'Sales' },
      stage: { id: S.demo, name: 'Demo' },
      amount: 12000,
      currency: 'EUR',
      owner: { id: '2', name: 'Bob Ray' },
      account: { id: '1', name: 'Acme' },
      close_date: '2026-04-30',
    });
    expect(deal.stage_changed_at).toBe(deal.created_at);
    expect(events(deal.id)).toEqual([{ kind: 'created', from_stage_id: null, to_stage_id: 2 }]);
  });

  it('records a won event for a deal created as won', async () => {
    const deal = await createDeal({ name: 'Done deal', stage_id: S.closing, status: 'won' });
    expect(deal.status).toBe('won');
    expect(events(deal.id).map((e) => (e as { kind: string }).kind)).toEqual(['created', 'won']);
  });

  it('requires a stage and never falls back to the first stage of a pipeline', async () => {
    await expectCrmError(
      deals().create!({ name: 'X', pipeline_id: S.sales }, {}),
      'validation',
      'A new deal needs a stage_id as well as its pipeline; pass one of the stages of Sales (1): Lead (1), Demo (2), Closing (3).',
    );
    await expectCrmError(deals().create!({ name: 'X' }, {}), 'validation', /needs a stage_id.*call list_stages/);
    expect(dealCount()).toBe(0);
  });

  it('rejects a stage of another pipeline, listing the right ones', async () => {
    await expectCrmError(
      deals().create!({ name: 'X', pipeline_id: S.partners, stage_id: S.demo }, {}),
      'validation',
      "Stage 'Demo' (2) belongs to pipeline Sales (1), not Partners (2); pass a stage_id of Partners: Intro (5), Signed (6).",
    );
    expect(dealCount()).toBe(0);
  });

  it('accepts a pipeline_id that agrees with the stage', async () => {
    const deal = await createDeal({ name: 'X', pipeline_id: S.partners, stage_id: S.intro });
    expect(deal.pipeline).toEqual({ id: S.partners, name: 'Partners' });
  });

  it('names the tool for unknown stages, and the tools that find user and account ids for unknown ones', async () => {
    await expectCrmError(
      deals().create!({ name: 'X', stage_id: '99' }, {}),
      'not_found',
      "No stage with id '99'. Call list_stages to see valid stage ids.",
    );
    await expectCrmError(
      deals().create!({ name: 'X', stage_id: S.lead, owner_id: '7' }, {}),
      'not_found',
      "No user with id '7'. Find ids with list_users or search (types: users).",
    );
    await expectCrmError(
      deals().create!({ name: 'X', stage_id: S.lead, account_id: '9' }, {}),
      'not_found',
      "No account with id '9'. Find ids with search (types: accounts) or list_accounts.",
    );
  });

  it('refuses inactive stages', async () => {
    await expectCrmError(
      deals().create!({ name: 'X', stage_id: S.archive }, {}),
      'validation',
      "Stage 'Archive' (4) is inactive and takes no deals; pick an active stage of Sales (1): Lead (1), Demo (2), Closing (3).",
    );
  });

  it('validates amounts, currencies, dates and statuses', async () => {
    const base = { name: 'X', stage_id: S.lead };
    await expectCrmError(deals().create!({ ...base, amount: -1 }, {}), 'validation', /`amount` must be a number of 0 or more/);
    await expectCrmError(deals().create!({ ...base, currency: 'dollars' }, {}), 'validation', /3-letter ISO 4217/);
    await expectCrmError(deals().create!({ ...base, close_date: '2026-13-01' }, {}), 'validation', /`close_date` must be a calendar date/);
    await expectCrmError(deals().create!({ ...base, status: 'pending' as never }, {}), 'validation', '`status` must be one of: open, won, lost.');
    expect(dealCount()).toBe(0);
  });
});

describe('local deals: update', () => {
  let id: string;
  beforeEach(async () => {
    id = (await createDeal({ name: 'Globex renewal', stage_id: S.lead, amount: 500, owner_id: '1' })).id;
  });

  it('moves within the pipeline: a moved event and a new stage_changed_at', async () => {
    const before = await deals().get!(id, {});
    const write = await deals().update!(id, { stage_id: S.closing }, {});
    expect(write.request).toEqual({ method: 'PATCH', path: `/deals/${id}`, body: { stage_id: S.closing } });
    const after = await write.execute();
    expect(after.stage).toEqual({ id: S.closing, name: 'Closing' });
    expect(after.stage_changed_at! > before.stage_changed_at!).toBe(true);
    expect(after).toMatchObject({ amount: 500, owner: { id: '1', name: 'Ann Lee' }, name: 'Globex renewal' });
    expect(events(id)).toEqual([
      { kind: 'created', from_stage_id: null, to_stage_id: 1 },
      { kind: 'moved', from_stage_id: 1, to_stage_id: 3 },
    ]);
  });

  it('leaves stage_changed_at alone when the stage does not change', async () => {
    const before = await deals().get!(id, {});
    const after = await (await deals().update!(id, { amount: 750, stage_id: S.lead }, {})).execute();
    expect(after.amount).toBe(750);
    expect(after.stage_changed_at).toBe(before.stage_changed_at);
    expect(after.updated_at! > before.updated_at!).toBe(true);
    expect(events(id)).toHaveLength(1);
  });

  it('refuses a stage of another pipeline unless pipeline_id says so', async () => {
    await expectCrmError(
      deals().update!(id, { stage_id: S.intro }, {}),
      'validation',
      "Stage 'Intro' (5) belongs to pipeline Partners (2), not this deal's pipeline Sales (1); pick one of Sales's stages (Lead (1), Demo (2), Closing (3)), or also pass pipeline_id '2' to move the deal to Partners.",
    );
    const moved = await (await deals().update!(id, { pipeline_id: S.partners, stage_id: S.intro }, {})).execute();
    expect(moved.pipeline).toEqual({ id: S.partners, name: 'Partners' });
    expect(moved.stage).toEqual({ id: S.intro, name: 'Intro' });
  });

  it('refuses disagreeing pipeline_id and stage_id, and a new pipeline without a stage', async () => {
    await expectCrmError(
      deals().update!(id, { pipeline_id: S.partners, stage_id: S.demo }, {}),
      'validation',
      "Stage 'Demo' (2) belongs to pipeline Sales (1), not Partners (2); pass a stage_id of Partners: Intro (5), Signed (6).",
    );
    await expectCrmError(
      deals().update!(id, { pipeline_id: S.partners }, {}),
      'validation',
      'To move the deal to pipeline Partners (2) also pass stage_id, one of its stages: Intro (5), Signed (6).',
    );
    // Naming the deal's own pipeline changes nothing and is fine.
    expect((await (await deals().update!(id, { pipeline_id: S.sales, name: 'Renamed' }, {})).execute()).name).toBe('Renamed');
    expect((await deals().get!(id, {})).stage.id).toBe(S.lead);
  });

  it('records won, lost and reopened as status changes', async () => {
    await (await deals().update!(id, { status: 'won' }, {})).execute();
    await (await deals().update!(id, { status: 'lost' }, {})).execute();
    const reopened = await (await deals().update!(id, { status: 'open', stage_id: S.demo }, {})).execute();
    expect(reopened.status).toBe('open');
    expect(events(id)).toEqual([
      { kind: 'created', from_stage_id: null, to_stage_id: 1 },
      { kind: 'won', from_stage_id: null, to_stage_id: 1 },
      { kind: 'lost', from_stage_id: null, to_stage_id: 1 },
      { kind: 'moved', from_stage_id: 1, to_stage_id: 2 },
      { kind: 'reopened', from_stage_id: null, to_stage_id: 2 },
    ]);
  });

  it('refuses unknown deals, inactive stages and empty updates', async () => {
    await expectCrmError(deals().update!('404', { name: 'x' }, {}), 'not_found', "No deal with id '404'. Call list_deals to see valid deal ids.");
    await expectCrmError(deals().update!(id, { stage_id: S.archive }, {}), 'validation', /is inactive/);
    await expectCrmError(deals().update!(id, {}, {}), 'validation', /^Nothing to update: give at least one of name, pipeline_id, stage_id/);
  });

  it('validates in prepare and writes nothing until execute', async () => {
    const write = await deals().update!(id, { stage_id: S.closing }, {});
    expect((await deals().get!(id, {})).stage.id).toBe(S.lead);
    expect(events(id)).toHaveLength(1);
    await write.execute();
    expect((await deals().get!(id, {})).stage.id).toBe(S.closing);
  });

  it('re-validates inside the write: a stage deleted after prepare is reported, not half-written', async () => {
    const extra = await (await provider.stages!.create!({ pipeline_id: S.sales, name: 'Temp' }, {})).execute();
    const write = await deals().update!(id, { stage_id: extra.id }, {});
    await (await provider.stages!.delete!(extra.id, {})).execute();
    await expectCrmError(write.execute(), 'not_found', /No stage with id/);
    expect(events(id)).toHaveLength(1);
  });
});

describe('local deals: read', () => {
  it('lists by updated_at desc then id desc, with filters', async () => {
    const a = await createDeal({ name: 'A', stage_id: S.lead, owner_id: '1' });
    await createDeal({ name: 'B', stage_id: S.demo, owner_id: '2' });
    await createDeal({ name: 'C', stage_id: S.intro, owner_id: '1', status: 'won' });
    // Touch A last so it comes first.
    await (await deals().update!(a.id, { amount: 1 }, {})).execute();
    const names = async (q: object) => (await deals().list!({ limit: 50, ...q }, {})).items.map((d) => d.name);
    expect(await names({})).toEqual(['A', 'C', 'B']);
    expect(await names({ pipeline_id: S.sales })).toEqual(['A', 'B']);
    expect(await names({ stage_id: S.demo })).toEqual(['B']);
    expect(await names({ status: 'won' })).toEqual(['C']);
    expect(await names({ owner_id: '1' })).toEqual(['A', 'C']);
    // Same updated_at: the higher id first.
    db.prepare("UPDATE deals SET updated_at = '2026-05-01T00:00:00.000Z'").run();
    expect(await names({})).toEqual(['C', 'B', 'A']);
    const page = await deals().list!({ limit: 2 }, {});
    expect(page.next_cursor).not.toBeNull();
    const rest = await deals().list!({ limit: 2, cursor: page.next_cursor! }, {});
    expect(rest.items.map((d) => d.id)).toEqual([a.id]);
    expect(rest.next_cursor).toBeNull();
    await expectCrmError(deals().list!({ limit: 2, cursor: '2' }, {}), 'validation', /cursor is not valid/);
    await expectCrmError(deals().list!({ limit: 5, owner_id: '9' }, {}), 'not_found', /Find ids with list_users or search/);
    await expectCrmError(deals().list!({ limit: 5, stage_id: '99' }, {}), 'not_found', /Call list_stages/);
  });

  it('returns the raw row as remote_data only when asked', async () => {
    const d = await createDeal({ name: 'Raw', stage_id: S.lead, amount: 10 });
    const plain = await deals().get!(d.id, {});
    expect(plain.remote_data).toBeUndefined();
    expect(plain.currency).toBe('USD');
    const raw = await deals().get!(d.id, { include_remote_data: true });
    expect(raw.remote_data).toMatchObject({ id: 1, name: 'Raw', stage_id: 1, amount: 10, currency: null, owner_id: null });
    expect(Object.keys(raw.remote_data!).some((k) => k.startsWith('j_'))).toBe(false);
  });
});

describe('paging while changing what is paged', () => {
  it('skips no deal when the deals of one page are updated before the next is read', async () => {
    const provider = createLocalProvider({ path: ':memory:' });
    try {
      const deals = provider.deals!;
      const all = await deals.list!({ limit: 1000, status: 'open' }, {});
      const page = await deals.list!({ limit: 3, status: 'open' }, {});
      expect(page.items.map((d) => d.id)).toEqual(all.items.slice(0, 3).map((d) => d.id));
      // An agent working through open deals closes each one it has seen.
      for (const d of page.items) await (await deals.update!(d.id, { status: 'won' }, {})).execute();
      const next = await deals.list!({ limit: 3, status: 'open', cursor: page.next_cursor! }, {});
      expect(next.items.map((d) => d.id)).toEqual(all.items.slice(3, 6).map((d) => d.id));
    } finally {
      await provider.close();
    }
  });
});
