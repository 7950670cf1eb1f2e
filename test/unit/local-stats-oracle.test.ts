/**
 * The local statistics, computed in SQL, against the implementation they replaced (kept verbatim in
 * test/helpers/stats-reference.ts, which replays every deal's history in JavaScript): the whole
 * answers must be identical, key order and every digit, on the demo database over several periods
 * and owners, and on randomized histories from a seeded PRNG (moves forward, backward and across
 * pipelines, won, lost and reopened deals, deals created before the period, events exactly on the
 * period's bounds or sharing a timestamp, inserted out of order, stages deleted or inactive, several
 * currencies, null and odd amounts, owners or none), also after events are deleted or rewritten.
 * Also: every writer of deal_events.at writes the one form the SQL compares as strings.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { StatsQuery } from '../../src/crm/provider.js';
import { openDatabase, type Db } from '../../src/providers/local/client.js';
import { createLocalProvider } from '../../src/providers/local/index.js';
import { prng } from '../../src/providers/local/seed.js';
import { conversionStats, movementStats } from '../../src/providers/local/stats.js';
import * as reference from '../helpers/stats-reference.js';
import { cleanupTempDirs, FIXED_NOW, insertPeople, steppingClock, tempDbPath, track } from './local-helpers.js';

afterAll(cleanupTempDirs);

const DAY = 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Both statistics by both implementations; identical down to key order and every digit. */
function expectSame(db: Db, q: StatsQuery, now: Date): void {
  const actual = { conversion: conversionStats(db, q), movement: movementStats(db, q, now) };
  const expected = { conversion: reference.conversionStats(db, q), movement: reference.movementStats(db, q, now) };
  const where = `${JSON.stringify(q)} now ${now.toISOString()}`;
  expect(actual, where).toStrictEqual(expected);
  expect(JSON.stringify(actual), where).toBe(JSON.stringify(expected));
}

describe('local statistics on the demo database, against the reference', () => {
  const path = tempDbPath();
  const provider = track(createLocalProvider({ path, now: () => FIXED_NOW }));
  const db = track(openDatabase(path));
  const now = FIXED_NOW.getTime();
  const periods: [string, number, number][] = [
    ['the last 7 days', now - 7 * DAY, now],
    ['the last 30 days', now - 30 * DAY, now],
    ['the last 180 days', now - 180 * DAY, now],
    ['a past quarter', now - 150 * DAY, now - 60 * DAY],
    ['a past day', now - 40 * DAY, now - 40 * DAY],
    ['a period ending next year', now - 90 * DAY, now + 365 * DAY],
    ['a period before any history', now - 400 * DAY, now - 300 * DAY],
  ];

  it('has the demo data', async () => {
    expect((await provider.pipelines!.list!({ limit: 10 }, {})).items).toHaveLength(3);
  });

  for (const [label, start, end] of periods) {
    it(`gives the same answers for ${label}, each pipeline, each owner and none`, () => {
      const users = db.prepare('SELECT id FROM users ORDER BY id').all() as { id: number }[];
      for (const pipeline of ['1', '2', '3']) {
        for (const user of [undefined, ...users.map((u) => String(u.id))]) {
          const q: StatsQuery = { pipeline_id: pipeline, start_date: day(start), end_date: day(end), user_id: user };
          expectSame(db, q, FIXED_NOW);
          // Seen from a moment inside the period too (ages then run to now).
          expectSame(db, q, new Date(Math.min(end, now) - 3 * DAY + 12_345));
        }
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Randomized histories

const BASE = Date.UTC(2026, 0, 1);
const DAYS = 60;

interface Stage {
  id: number;
  pipeline: number;
  position: number;
}

/** A database with random pipelines, stages and deal histories; returns what queries can name. */
function randomHistory(db: Db, rand: () => number): { pipelines: number[]; stages: Stage[] } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const chance = (p: number) => rand() < p;
  insertPeople(db);
  const t0 = new Date(BASE - 100 * DAY).toISOString();
  const pipelines = [1, 2, 3].slice(0, 2 + Math.floor(rand() * 2));
  const stages: Stage[] = [];
  let stageId = 10;
  for (const p of pipelines) {
    db.prepare('INSERT INTO pipelines (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)').run(p, `P${p}`, t0, t0);
    const count = 2 + Math.floor(rand() * 4);
    for (let i = 0; i < count; i++) {
      // Positions may repeat or leave gaps; a few stages are inactive.
      const position = chance(0.15) && i > 0 ? stages[stages.length - 1].position : i + 1 + (chance(0.2) ? 3 : 0);
      stageId++;
      db.prepare(
        'INSERT INTO stages (id, pipeline_id, name, position, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(stageId, p, `S${stageId}`, position, chance(0.15) ? 'inactive' : 'active', t0, t0);
      stages.push({ id: stageId, pipeline: p, position });
    }
  }
  // A stage that history still names but that no longer exists.
  const GONE = 999;

  // Times: mostly on day bounds (the period's edges) or shared with the previous event.
  const timeOn = (d: number) => {
    const at = BASE + d * DAY;
    const r = rand();
    if (r < 0.25) return at; // 00:00:00.000
    if (r < 0.5) return at + DAY - 1; // 23:59:59.999
    return at + Math.floor(rand() * DAY);
  };
  const amounts = () => {
    const r = rand();
    if (r < 0.1) return null;
    if (r < 0.55) return Math.floor(rand() * 100_000);
    if (r < 0.9) return Math.floor(rand() * 10_000_000) / 100;
    if (r < 0.93) return 0;
    return pick([0.1 + 0.2, 1 / 3, 12.345, 1e13 + 0.5, 2.5e15, 123456789.123]);
  };
  const currencies = ['USD', 'USD', 'EUR', 'GBP', null];

  const dealCount = 20 + Math.floor(rand() * 40);
  for (let d = 1; d <= dealCount; d++) {
    const home = pick(stages);
    db.prepare(
      `INSERT INTO deals (id, name, stage_id, amount, currency, owner_id, stage_changed_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(d, `D${d}`, home.id, amounts(), pick(currencies), pick([1, 2, null]), t0, t0, t0);

    const events: [number, string, number | null, number | null][] = [];
    let stage: Stage = home;
    let t = timeOn(Math.floor(rand() * DAYS) - 10);
    if (!chance(0.05)) events.push([t, 'created', null, stage.id]); // a few histories start elsewhere
    const steps = Math.floor(rand() * 8);
    for (let s = 0; s < steps; s++) {
      t = chance(0.3) ? t : chance(0.3) ? timeOn(Math.floor((t - BASE) / DAY) + 1 + Math.floor(rand() * 10)) : t + Math.floor(rand() * 5 * DAY);
      const r = rand();
      const same = stages.filter((x) => x.pipeline === stage.pipeline);
      if (r < 0.4) {
        const to = chance(0.15) ? pick(stages) : pick(same); // now and then across pipelines
        events.push([t, 'moved', chance(0.9) ? stage.id : pick(stages).id, to.id]);
        stage = to;
      } else if (r < 0.55) {
        events.push([t, 'won', null, chance(0.75) ? stage.id : null]);
      } else if (r < 0.7) {
        events.push([t, 'lost', null, chance(0.75) ? stage.id : null]);
      } else if (r < 0.85) {
        events.push([t, 'reopened', null, chance(0.85) ? stage.id : null]);
      } else if (r < 0.9) {
        events.push([t, 'created', null, chance(0.7) ? pick(stages).id : null]);
      } else if (r < 0.95) {
        events.push([t, 'moved', stage.id, GONE]);
      } else {
        events.push([t, 'moved', stage.id, null]);
      }
    }
    // Half the histories are inserted out of order: ids then disagree with time.
    if (chance(0.5)) events.sort(() => rand() - 0.5);
    for (const [at, kind, from, to] of events) {
      db.prepare('INSERT INTO deal_events (deal_id, at, kind, from_stage_id, to_stage_id) VALUES (?, ?, ?, ?, ?)').run(
        d,
        new Date(at).toISOString(),
        kind,
        from,
        to,
      );
    }
  }
  return { pipelines, stages };
}

function randomQueries(db: Db, rand: () => number, pipelines: number[], count: number): void {
  for (let i = 0; i < count; i++) {
    const start = Math.floor(rand() * (DAYS + 20)) - 15;
    const end = start + (rand() < 0.2 ? 0 : Math.floor(rand() * 40));
    const q: StatsQuery = {
      pipeline_id: String(pipelines[Math.floor(rand() * pipelines.length)]),
      start_date: day(BASE + start * DAY),
      end_date: day(BASE + end * DAY),
      user_id: [undefined, '1', '2'][Math.floor(rand() * 3)],
    };
    // Now before, inside or after the period's end.
    const now = new Date(BASE + (end + Math.floor(rand() * 20) - 10) * DAY + Math.floor(rand() * DAY));
    expectSame(db, q, now);
  }
}

/** deal_state, kept by triggers, must be what its view derives from scratch. */
function expectStateCurrent(db: Db): void {
  const kept = db.prepare('SELECT * FROM deal_state ORDER BY deal_id').all();
  const derived = db.prepare('SELECT * FROM deal_state_derived WHERE last_at IS NOT NULL ORDER BY deal_id').all();
  expect(kept).toStrictEqual(derived);
}

describe('local statistics on randomized histories, against the reference', () => {
  const SEEDS = 40;
  const QUERIES = 12;

  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`history ${seed}: same answers, also after events are deleted and rewritten`, () => {
      const rand = prng(seed * 7919);
      const db = track(openDatabase(tempDbPath()));
      const { pipelines } = randomHistory(db, rand);
      expectStateCurrent(db);
      randomQueries(db, rand, pipelines, QUERIES);

      // Later writes: events removed, moved in time or to another deal, a deal deleted with its history.
      const ids = (db.prepare('SELECT id FROM deal_events ORDER BY id').all() as { id: number }[]).map((r) => r.id);
      for (const id of ids.filter(() => rand() < 0.1)) db.prepare('DELETE FROM deal_events WHERE id = ?').run(id);
      for (const id of ids.filter(() => rand() < 0.1)) {
        db.prepare('UPDATE deal_events SET at = ?, deal_id = ? WHERE id = ?').run(
          new Date(BASE + Math.floor(rand() * DAYS * DAY)).toISOString(),
          1 + Math.floor(rand() * 20),
          id,
        );
      }
      db.prepare('DELETE FROM deals WHERE id = ?').run(1 + Math.floor(rand() * 20));
      expectStateCurrent(db);
      randomQueries(db, rand, pipelines, QUERIES / 2);
    });
  }
});

describe('the form of deal_events.at', () => {
  // The SQL orders and bounds events by comparing these strings: that is only time order while
  // every writer writes Date#toISOString() (24 characters, UTC, milliseconds).
  const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

  it('is Date#toISOString() from the demo seed and from every deal write', async () => {
    const path = tempDbPath();
    const provider = track(createLocalProvider({ path, now: steppingClock('2026-05-01T10:00:00.000Z').now }));
    const deal = await (await provider.deals!.create!({ name: 'Form', stage_id: '1', status: 'won' }, {})).execute();
    await (await provider.deals!.update!(deal.id, { stage_id: '2', status: 'open' }, {})).execute();
    await (await provider.deals!.update!(deal.id, { status: 'lost' }, {})).execute();
    const db = track(openDatabase(path));
    const ats = (db.prepare('SELECT at FROM deal_events').all() as { at: string }[]).map((r) => r.at);
    expect(ats.length).toBeGreaterThan(150);
    expect(ats.filter((at) => !CANONICAL.test(at) || new Date(at).toISOString() !== at)).toEqual([]);
    const mine = db.prepare('SELECT kind FROM deal_events WHERE deal_id = ? ORDER BY id').all(Number(deal.id));
    expect(mine.map((r) => (r as { kind: string }).kind)).toEqual(['created', 'won', 'moved', 'reopened', 'lost']);
  });
});
