import { afterEach, describe, expect, it } from 'vitest';
import { ConversionStats, Deal, MovementStats, Pipeline, Project, PROJECT_STATUSES, Stage } from '../../src/crm/model.js';
import { openDatabase, type Db } from '../../src/providers/local/client.js';
import { createLocalProvider } from '../../src/providers/local/index.js';
import { cleanupTempDirs, FIXED_NOW, tempDbPath, track } from './local-helpers.js';

afterEach(cleanupTempDirs);

const DAY = 86_400_000;
const count = (db: Db, sql: string, ...params: unknown[]) => (db.prepare(sql).get(...params) as { n: number }).n;

function seeded(now = FIXED_NOW): { db: Db; path: string } {
  const path = tempDbPath();
  track(createLocalProvider({ path, now: () => now }));
  return { db: track(openDatabase(path)), path };
}

describe('local demo seed', () => {
  it('fills a brand-new database with the promised volume', () => {
    const { db } = seeded();
    expect(count(db, 'SELECT COUNT(*) AS n FROM users')).toBe(8);
    expect(count(db, 'SELECT COUNT(*) AS n FROM accounts')).toBe(30);
    expect(count(db, 'SELECT COUNT(*) AS n FROM contacts')).toBeGreaterThanOrEqual(30);
    expect(count(db, 'SELECT COUNT(*) AS n FROM tags')).toBe(10);
    expect(count(db, 'SELECT COUNT(*) AS n FROM pipelines')).toBeGreaterThanOrEqual(2);
    expect(count(db, 'SELECT COUNT(*) AS n FROM stages WHERE probability IS NOT NULL')).toBeGreaterThanOrEqual(10);
    expect(count(db, "SELECT COUNT(*) AS n FROM stages s JOIN pipelines p ON p.id = s.pipeline_id WHERE p.name = 'Sales'")).toBe(6);
    expect(count(db, 'SELECT COUNT(*) AS n FROM deals')).toBeGreaterThanOrEqual(150);
    expect(count(db, 'SELECT COUNT(*) AS n FROM projects')).toBe(20);
  });

  it('has deals in every status, histories spanning ~180 days, and some backward moves', () => {
    const { db } = seeded();
    for (const status of ['open', 'won', 'lost']) {
      expect(count(db, 'SELECT COUNT(*) AS n FROM deals WHERE status = ?', status)).toBeGreaterThanOrEqual(15);
    }
    const span = db.prepare('SELECT MIN(at) AS first, MAX(at) AS last FROM deal_events').get() as {
      first: string;
      last: string;
    };
    expect(FIXED_NOW.getTime() - Date.parse(span.first)).toBeGreaterThanOrEqual(170 * DAY);
    expect(FIXED_NOW.getTime() - Date.parse(span.first)).toBeLessThanOrEqual(181 * DAY);
    expect(FIXED_NOW.getTime() - Date.parse(span.last)).toBeLessThanOrEqual(14 * DAY);
    expect(Date.parse(span.last)).toBeLessThan(FIXED_NOW.getTime());
    // Creation dates are spread over the whole window, not bunched.
    for (const [from, to] of [
      [0, 60],
      [60, 120],
      [120, 180],
    ]) {
      const n = count(
        db,
        "SELECT COUNT(*) AS n FROM deal_events WHERE kind = 'created' AND at > ? AND at <= ?",
        new Date(FIXED_NOW.getTime() - to * DAY).toISOString(),
        new Date(FIXED_NOW.getTime() - from * DAY).toISOString(),
      );
      expect(n).toBeGreaterThanOrEqual(20);
    }
    const backward = count(
      db,
      `SELECT COUNT(*) AS n FROM deal_events e JOIN stages a ON a.id = e.from_stage_id JOIN stages b ON b.id = e.to_stage_id
       WHERE e.kind = 'moved' AND b.position < a.position`,
    );
    const forward = count(
      db,
      `SELECT COUNT(*) AS n FROM deal_events e JOIN stages a ON a.id = e.from_stage_id JOIN stages b ON b.id = e.to_stage_id
       WHERE e.kind = 'moved' AND b.position > a.position`,
    );
    expect(backward).toBeGreaterThan(0);
    expect(forward).toBeGreaterThan(backward * 3);
  });

  it('keeps every deal consistent with its own history', () => {
    const { db } = seeded();
    const deals = db.prepare('SELECT * FROM deals').all() as {
      id: number;
      name: string;
      stage_id: number;
      status: string;
      stage_changed_at: string;
      created_at: string;
      updated_at: string;
    }[];
    const eventsOf = db.prepare('SELECT * FROM deal_events WHERE deal_id = ? ORDER BY at, id');
    const pipelineOf = db.prepare('SELECT pipeline_id FROM stages WHERE id = ?');
    for (const deal of deals) {
      const events = eventsOf.all(deal.id) as { at: string; kind: string; from_stage_id: number | null; to_stage_id: number }[];
      expect(events[0].kind).toBe('created');
      expect(events[0].at).toBe(deal.created_at);
      expect(events.filter((e) => e.kind === 'created')).toHaveLength(1);
      let stage = events[0].to_stage_id;
      let stageAt = events[0].at;
      let status = 'open';
      for (const e of events.slice(1)) {
        if (e.kind === 'moved') {
          expect(e.from_stage_id).toBe(stage);
          stage = e.to_stage_id;
          stageAt = e.at;
        }
        if (e.kind === 'won' || e.kind === 'lost') status = e.kind;
        if (e.kind === 'reopened') status = 'open';
      }
      expect(deal.stage_id).toBe(stage);
      expect(deal.stage_changed_at).toBe(stageAt);
      expect(deal.status).toBe(status);
      expect(deal.updated_at).toBe(events[events.length - 1].at);
      // Every move stays within one pipeline.
      const pipelines = new Set(events.map((e) => (pipelineOf.get(e.to_stage_id) as { pipeline_id: number }).pipeline_id));
      expect(pipelines.size).toBe(1);
      // Short names keep a one-line listing under 120 characters.
      expect(deal.name.length).toBeLessThanOrEqual(60);
    }
    expect(new Set(deals.map((d) => d.name)).size).toBe(deals.length);
  });

  it('covers all eight project statuses with owners, accounts, stages, tags, contacts and opportunities', async () => {
    const path = tempDbPath();
    const provider = track(createLocalProvider({ path, now: () => FIXED_NOW }));
    const { items } = await provider.projects!.list!({ limit: 100 }, {});
    expect(items).toHaveLength(20);
    expect(new Set(items.map((p) => p.status))).toEqual(new Set(PROJECT_STATUSES));
    expect(items.every((p) => p.owner?.name && p.account?.name)).toBe(true);
    expect(items.filter((p) => p.stage?.name).length).toBeGreaterThanOrEqual(10);
    expect(items.every((p) => (p.tags?.length ?? 0) >= 1 && (p.contact?.length ?? 0) >= 1)).toBe(true);
    expect(items.some((p) => (p.opportunity?.length ?? 0) > 0)).toBe(true);
    expect(items.every((p) => p.custom_fields && typeof p.custom_fields.priority === 'string')).toBe(true);
  });

  it('is deterministic for a given clock', () => {
    const dump = (db: Db) =>
      JSON.stringify([
        db.prepare('SELECT * FROM deals ORDER BY id').all(),
        db.prepare('SELECT * FROM deal_events ORDER BY id').all(),
        db.prepare('SELECT * FROM projects ORDER BY id').all(),
        db.prepare('SELECT * FROM project_tags ORDER BY project_id, tag_id').all(),
      ]);
    expect(dump(seeded().db)).toBe(dump(seeded().db));
    // Dates follow the clock: a later "now" gives a history ending later.
    const later = seeded(new Date(FIXED_NOW.getTime() + 30 * DAY)).db;
    const last = (later.prepare('SELECT MAX(at) AS m FROM deal_events').get() as { m: string }).m;
    expect(Date.parse(last)).toBeGreaterThan(FIXED_NOW.getTime());
  });

  it('seeds only a brand-new database, once', async () => {
    const path = tempDbPath();
    const first = createLocalProvider({ path, now: () => FIXED_NOW });
    await first.close();
    track(createLocalProvider({ path, now: () => FIXED_NOW }));
    const raw = track(openDatabase(path));
    expect(count(raw, 'SELECT COUNT(*) AS n FROM deals')).toBe(150);
    expect(count(raw, 'SELECT COUNT(*) AS n FROM pipelines')).toBe(3);
  });

  it('never seeds a database first opened with seed: false, even after it is emptied or reopened', async () => {
    const path = tempDbPath();
    const bare = createLocalProvider({ path, seed: false });
    expect((await bare.pipelines!.list!({ limit: 10 }, {})).items).toEqual([]);
    await bare.close();
    track(createLocalProvider({ path }));
    const raw = track(openDatabase(path));
    expect(count(raw, 'SELECT COUNT(*) AS n FROM pipelines')).toBe(0);
    expect(count(raw, 'SELECT COUNT(*) AS n FROM users')).toBe(0);
  });

  it('gives get_pipeline open-deal counts and values per stage that add up', async () => {
    const provider = track(createLocalProvider({ path: tempDbPath(), now: () => FIXED_NOW }));
    const sales = await provider.pipelines!.get!('1', {});
    expect(sales.stages!.map((s) => s.position)).toEqual([1, 2, 3, 4, 5, 6]);
    const total = sales.stages!.reduce((n, s) => n + s.open_deals!.count, 0);
    expect(sales.open_deals!.count).toBe(total);
    const open = await provider.deals!.list!({ limit: 1000, pipeline_id: '1', status: 'open' }, {});
    expect(open.items).toHaveLength(total);
    const usd = open.items.filter((d) => d.currency === 'USD').reduce((n, d) => n + (d.amount ?? 0), 0);
    expect(sales.open_deals!.values.USD).toBe(usd);
  });

  it('emits records that satisfy the unified model schemas exactly', async () => {
    const provider = track(createLocalProvider({ path: tempDbPath(), now: () => FIXED_NOW }));
    const opts = { include_remote_data: true };
    const strictly = <T>(schema: { strict(): { parse(v: unknown): T } }, v: unknown) => schema.strict().parse(v);
    for (const p of (await provider.pipelines!.list!({ limit: 100 }, opts)).items) strictly(Pipeline, p);
    strictly(Pipeline, await provider.pipelines!.get!('1', opts));
    for (const s of (await provider.stages!.list!({ limit: 100 }, opts)).items) strictly(Stage, s);
    for (const d of (await provider.deals!.list!({ limit: 1000 }, opts)).items) strictly(Deal, d);
    for (const p of (await provider.projects!.list!({ limit: 100 }, opts)).items) strictly(Project, p);
    const q = { pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-06-15' };
    strictly(ConversionStats, await provider.stats!.conversion!(q, {}));
    strictly(MovementStats, await provider.stats!.movement!(q, {}));
  });
});
