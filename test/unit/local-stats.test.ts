/**
 * Statistics on a hand-made history whose answers are worked out by hand below. All events are at
 * 00:00Z on the given day, so an age at the end of March (31 Mar 23:59:59.999) is "days until
 * 1 April" minus one millisecond.
 *
 * Pipeline Test (1): S1 (11, pos 1), S2 (12, pos 2), X (13, pos 3, inactive), S3 (14, pos 4).
 * Pipeline Other (2): Q1 (21). Users: Ann Lee (1), Bob Ray (2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/providers/local/client.js';
import type { LocalProvider } from '../../src/providers/local/index.js';
import { cleanupTempDirs, emptyProvider, expectCrmError, insertPeople, steppingClock } from './local-helpers.js';

type Kind = 'created' | 'moved' | 'won' | 'lost' | 'reopened';
type Ev = [day: string, kind: Kind, from: number | null, to: number | null];

interface DealSpec {
  id: number;
  owner: 1 | 2;
  amount: number;
  currency: string;
  events: Ev[];
}

const c = (day: string, to: number): Ev => [day, 'created', null, to];
const m = (day: string, from: number, to: number): Ev => [day, 'moved', from, to];
const s = (day: string, kind: 'won' | 'lost' | 'reopened', at: number): Ev => [day, kind, null, at];

const DEALS: DealSpec[] = [
  { id: 1, owner: 1, amount: 1000, currency: 'USD', events: [c('02-20', 11), m('03-05', 11, 12), m('03-10', 12, 14), s('03-20', 'won', 14)] },
  { id: 2, owner: 1, amount: 2000, currency: 'USD', events: [c('03-02', 11), m('03-04', 11, 12), s('03-15', 'lost', 12)] },
  { id: 3, owner: 2, amount: 3000, currency: 'EUR', events: [c('03-03', 11)] },
  { id: 4, owner: 2, amount: 500, currency: 'USD', events: [c('03-06', 12), m('03-08', 12, 11), m('03-12', 11, 12)] },
  { id: 5, owner: 1, amount: 4000, currency: 'USD', events: [c('03-10', 11), s('03-25', 'won', 11)] },
  { id: 6, owner: 1, amount: 700, currency: 'USD', events: [c('03-28', 11), m('04-02', 11, 12)] },
  { id: 7, owner: 2, amount: 800, currency: 'GBP', events: [c('01-10', 11), m('02-01', 11, 12), m('04-05', 12, 14)] },
  { id: 8, owner: 1, amount: 900, currency: 'USD', events: [c('03-05', 12), m('03-15', 12, 21)] },
  { id: 9, owner: 2, amount: 100, currency: 'USD', events: [c('03-01', 21), m('03-07', 21, 11), s('03-09', 'lost', 11), s('03-11', 'reopened', 11)] },
  { id: 10, owner: 1, amount: 5000, currency: 'USD', events: [c('02-01', 11), s('02-15', 'won', 11)] },
  { id: 11, owner: 1, amount: 600, currency: 'USD', events: [c('03-20', 11), s('03-22', 'won', 11), s('03-24', 'reopened', 11)] },
  { id: 12, owner: 2, amount: 1500, currency: 'USD', events: [c('03-15', 11), m('03-18', 11, 14)] },
  { id: 13, owner: 1, amount: 250, currency: 'GBP', events: [c('03-16', 12), m('03-19', 12, 13), s('03-25', 'lost', 13)] },
];

const at = (day: string) => `2026-${day}T00:00:00.000Z`;

function insertHistory(db: Db): void {
  insertPeople(db);
  const t = '2025-12-01T00:00:00.000Z';
  db.prepare('INSERT INTO pipelines (id, name, created_at, updated_at) VALUES (1, ?, ?, ?), (2, ?, ?, ?)').run('Test', t, t, 'Other', t, t);
  const stage = db.prepare(
    'INSERT INTO stages (id, pipeline_id, name, position, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  stage.run(11, 1, 'S1', 1, 'active', t, t);
  stage.run(12, 1, 'S2', 2, 'active', t, t);
  stage.run(13, 1, 'X', 3, 'inactive', t, t);
  stage.run(14, 1, 'S3', 4, 'active', t, t);
  stage.run(21, 2, 'Q1', 1, 'active', t, t);
  const deal = db.prepare(
    `INSERT INTO deals (id, name, stage_id, status, amount, currency, owner_id, stage_changed_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const event = db.prepare(
    'INSERT INTO deal_events (deal_id, at, kind, from_stage_id, to_stage_id) VALUES (?, ?, ?, ?, ?)',
  );
  for (const d of DEALS) {
    let stageId = 0;
    let stageAt = '';
    let status = 'open';
    for (const [day, kind, , to] of d.events) {
      if (kind === 'created' || kind === 'moved') {
        stageId = to as number;
        stageAt = at(day);
      }
      if (kind === 'won' || kind === 'lost') status = kind;
      if (kind === 'reopened') status = 'open';
    }
    const last = at(d.events[d.events.length - 1][0]);
    deal.run(d.id, `Deal ${d.id}`, stageId, status, d.amount, d.currency, d.owner, stageAt, at(d.events[0][0]), last);
    for (const [day, kind, from, to] of d.events) event.run(d.id, at(day), kind, from, to);
  }
}

let provider: LocalProvider;
const MARCH = { pipeline_id: '1', start_date: '2026-03-01', end_date: '2026-03-31' };
const ids = (...n: number[]) => n.map(String);

beforeAll(() => {
  // "Now" is mid-June: March is wholly in the past, the rest of the year is not.
  const env = emptyProvider(steppingClock('2026-06-15T12:00:00.000Z'));
  provider = env.provider;
  insertHistory(env.db);
});
afterAll(cleanupTempDirs);

describe('local conversion statistics', () => {
  it('computes stage-to-stage conversion over active stages, skipping inactive ones', async () => {
    const stats = await provider.stats!.conversion!(MARCH, {});
    expect(stats.pipeline).toEqual({ id: '1', name: 'Test' });
    expect(stats.period).toEqual({ start_date: '2026-03-01', end_date: '2026-03-31' });
    expect(stats.stage_conversions).toEqual([
      // Entered S1 in March: 2, 3, 4 (moved back in 03-08), 5, 6, 9 (from Other), 11, 12 = 8.
      // Converted: 2 (-> S2), 4 (-> S2 on 03-12), 5 (won), 11 (won, reopened later), 12 (skipped to S3) = 5.
      { from_stage: { id: '11', name: 'S1' }, to_stage: { id: '12', name: 'S2' }, conversion_rate: 62.5 },
      // Entered S2 in March: 1, 2, 4 (created there), 8, 13 = 5. Not 6 (April) nor 7 (February).
      // Converted: 1 (-> S3), 13 (-> X, positioned after S2) = 2; 4 only went back and forth, 8 left for Other.
      { from_stage: { id: '12', name: 'S2' }, to_stage: { id: '14', name: 'S3' }, conversion_rate: 40 },
    ]);
    // Created in Test during March: 2, 3, 4, 5, 6, 8, 11, 12, 13 = 9 (9 was created in Other).
    // Status at 31 March: won 5 (11 was reopened), lost 2 and 13.
    expect(stats.won_conversion).toBe(11.1);
    expect(stats.lost_conversion).toBe(22.2);
  });

  it('counts progress only up to the period end', async () => {
    const stats = await provider.stats!.conversion!({ pipeline_id: '1', start_date: '2026-02-01', end_date: '2026-02-28' }, {});
    // Entered S1 in February: 1 (moves on only in March), 10 (won 02-15) -> 50%.
    // Entered S2 in February: 7, which moves to S3 only in April -> 0%.
    expect(stats.stage_conversions.map((x) => x.conversion_rate)).toEqual([50, 0]);
    // Created in February: 1 (open at 28 Feb) and 10 (won) -> 50% won, 0% lost.
    expect(stats.won_conversion).toBe(50);
    expect(stats.lost_conversion).toBe(0);
  });

  it('measures ages at now, not at a period end still in the future', async () => {
    const stats = await provider.stats!.movement!({ pipeline_id: '1', start_date: '2026-03-01', end_date: '2026-12-31' }, {});
    // The same seven deals are open; ages run to 15 June 12:00 (now), not to 31 December.
    expect(stats.deals_left_open.deal_ids).toEqual(ids(3, 4, 6, 7, 9, 11, 12));
    // 3: 104.5, 4: 101.5, 6: 79.5, 7: 156.5, 9: 106.5, 11: 87.5, 12: 92.5 -> 728.5 / 7 = 104.07.
    expect(stats.average_age_in_days.across_all_stages).toBe(104.1);
    expect(stats.average_age_in_days.by_stages).toEqual([
      // S1: 3 (03-03), 9 (03-07), 11 (03-20); S2: 4 (03-12), 6 (04-02); S3: 7 (04-05), 12 (03-18).
      { stage: { id: '11', name: 'S1' }, value: 97.5 },
      { stage: { id: '12', name: 'S2' }, value: 85 },
      { stage: { id: '14', name: 'S3' }, value: 80.5 },
    ]);
  });

  it('filters by deal owner', async () => {
    const stats = await provider.stats!.conversion!({ ...MARCH, user_id: '2' }, {});
    // Bob's deals: 3, 4, 7, 9, 12. S1 entered by 3, 4, 9, 12; converted 4, 12. S2 entered by 4 only.
    expect(stats.stage_conversions.map((x) => x.conversion_rate)).toEqual([50, 0]);
    expect(stats.won_conversion).toBe(0);
    expect(stats.lost_conversion).toBe(0);
  });

  it('answers zeros for a quiet period', async () => {
    const stats = await provider.stats!.conversion!({ pipeline_id: '1', start_date: '2025-06-01', end_date: '2025-06-30' }, {});
    expect(stats.stage_conversions.map((x) => x.conversion_rate)).toEqual([0, 0]);
    expect(stats.won_conversion).toBe(0);
    expect(stats.lost_conversion).toBe(0);
  });
});

describe('local movement statistics', () => {
  it('counts moves, new, won, lost and open deals with their values', async () => {
    const stats = await provider.stats!.movement!(MARCH, {});
    expect(stats.pipeline).toEqual({ id: '1', name: 'Test' });
    // Moves inside March between two Test stages: 1 x2, 2, 4 x2, 12, 13 = 7 (8's and 9's cross pipelines).
    expect(stats.movements_between_stages).toEqual({ count: 7 });
    expect(stats.new_deals).toEqual({
      count: 9,
      deal_ids: ids(2, 3, 4, 5, 6, 8, 11, 12, 13),
      values: { USD: 10200, EUR: 3000, GBP: 250 },
    });
    expect(stats.won_deals).toEqual({ count: 3, deal_ids: ids(1, 5, 11), values: { USD: 5600 } });
    expect(stats.lost_deals).toEqual({ count: 3, deal_ids: ids(2, 9, 13), values: { USD: 2100, GBP: 250 } });
    // Open on 31 March in a Test stage: 3, 4, 6 (moves in April), 7, 9 (reopened), 11 (reopened), 12.
    expect(stats.deals_left_open).toEqual({
      count: 7,
      deal_ids: ids(3, 4, 6, 7, 9, 11, 12),
      values: { USD: 3400, EUR: 3000, GBP: 800 },
    });
  });

  it('averages the age of the deals left open, overall and per stage', async () => {
    const stats = await provider.stats!.movement!(MARCH, {});
    // Days from creation to 1 April: 3: 29, 4: 26, 6: 4, 7: 81, 9: 31, 11: 12, 12: 17 -> 200 / 7 = 28.57.
    expect(stats.average_age_in_days.across_all_stages).toBe(28.6);
    expect(stats.average_age_in_days.by_stages).toEqual([
      // S1: 3 (since 03-03) 29, 6 (03-28) 4, 9 (03-07) 25, 11 (03-20) 12 -> 17.5.
      { stage: { id: '11', name: 'S1' }, value: 17.5 },
      // S2: 4 (since 03-12) 20, 7 (since 02-01) 59 -> 39.5.
      { stage: { id: '12', name: 'S2' }, value: 39.5 },
      // S3: 12 (since 03-18) 14. X holds no open deal and is omitted.
      { stage: { id: '14', name: 'S3' }, value: 14 },
    ]);
  });

  it('filters by deal owner', async () => {
    const stats = await provider.stats!.movement!({ ...MARCH, user_id: '2' }, {});
    expect(stats.movements_between_stages.count).toBe(3);
    expect(stats.new_deals.deal_ids).toEqual(ids(3, 4, 12));
    expect(stats.won_deals).toEqual({ count: 0, deal_ids: [], values: {} });
    expect(stats.lost_deals.deal_ids).toEqual(ids(9));
    expect(stats.deals_left_open.deal_ids).toEqual(ids(3, 4, 7, 9, 12));
  });

  it('answers empty groups and zero ages for a quiet period', async () => {
    const stats = await provider.stats!.movement!({ pipeline_id: '1', start_date: '2025-06-01', end_date: '2025-06-30' }, {});
    expect(stats.movements_between_stages.count).toBe(0);
    expect(stats.new_deals).toEqual({ count: 0, deal_ids: [], values: {} });
    expect(stats.deals_left_open.count).toBe(0);
    expect(stats.average_age_in_days).toEqual({ across_all_stages: 0, by_stages: [] });
  });

  it('reports the other pipeline from its own point of view', async () => {
    const stats = await provider.stats!.movement!({ pipeline_id: '2', start_date: '2026-03-01', end_date: '2026-03-31' }, {});
    expect(stats.new_deals.deal_ids).toEqual(ids(9));
    expect(stats.deals_left_open.deal_ids).toEqual(ids(8));
    expect(stats.movements_between_stages.count).toBe(0);
  });
});

describe('local statistics validation', () => {
  it('rejects an unknown pipeline', async () => {
    await expectCrmError(
      provider.stats!.movement!({ ...MARCH, pipeline_id: '99' }, {}),
      'not_found',
      "No pipeline with id '99'. Call list_pipelines to see valid pipeline ids.",
    );
  });

  it('rejects a start after the end', async () => {
    await expectCrmError(
      provider.stats!.conversion!({ pipeline_id: '1', start_date: '2026-04-01', end_date: '2026-03-01' }, {}),
      'validation',
      'start_date 2026-04-01 is after end_date 2026-03-01; pass a start_date on or before the end_date.',
    );
  });

  it('rejects malformed dates and unknown users', async () => {
    await expectCrmError(
      provider.stats!.conversion!({ pipeline_id: '1', start_date: '2026-02-30', end_date: '2026-03-01' }, {}),
      'validation',
      /start_date.*YYYY-MM-DD/,
    );
    await expectCrmError(
      provider.stats!.movement!({ ...MARCH, user_id: '42' }, {}),
      'not_found',
      "No user with id '42'. Find ids with list_users or search (types: users).",
    );
  });
});
