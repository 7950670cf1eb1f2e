/**
 * Pipeline statistics computed from each deal's stage history (deal_events). The period is the
 * inclusive UTC range [start_date 00:00:00.000, end_date 23:59:59.999]; `user_id` keeps only deals
 * owned by that user. Definitions (also documented for agents in the tool descriptions):
 *
 * Conversion, for each pair of consecutive active stages A -> B (by position):
 *   entered   = deals with an event entering A ('created' into A or 'moved' into A) inside the period;
 *   converted = those deals that, after that entry and no later than the period end, entered B or any
 *               stage positioned after A in the same pipeline, or were won;
 *   conversion_rate = 100 * converted / entered, 1 decimal (0 when entered = 0).
 *   won_conversion / lost_conversion = 100 * (deals created in the pipeline during the period whose
 *   status at the period end is won / lost) / (deals created in the pipeline during the period).
 *
 * Movement:
 *   movements_between_stages.count = 'moved' events inside the period between two stages of the pipeline;
 *   new_deals = deals created in the pipeline in the period;
 *   won_deals / lost_deals = deals with a won / lost event in the period while in the pipeline;
 *   deals_left_open = deals created on/before the period end that, as of the period end, are open and
 *   stand in a stage of the pipeline; each group lists deal ids and the sum of amount per currency.
 *   average_age_in_days over the deals left open, measured at the period end or now, whichever is
 *   earlier: across_all_stages = mean(that moment - created) in days; by_stages = per stage they
 *   stand in at the period end, mean(that moment - when they last entered that stage); 1 decimal;
 *   stages without such deals are omitted.
 */
import { CrmError } from '../../crm/errors.js';
import type { ConversionStats, DealGroup, MovementStats, Period, Ref } from '../../crm/model.js';
import type { StatsOperations, StatsQuery } from '../../crm/provider.js';
import type { Db } from './client.js';
import { addValue, type PipelineRow, type StageRow } from './map.js';
import { checkDate, checkSignal, requireDirectory, requirePipeline, run, type Ctx } from './store.js';

const DAY_MS = 86_400_000;

/*
 * The figures are computed in SQL and only what the answer needs comes back (a row per figure,
 * deal ids joined into one string). A deal with no event after the period end is read from
 * deal_state (its state after its last event, kept by triggers: see client.ts); only the others'
 * histories are replayed up to the end. Histories are ordered by (at, id) and compared with the
 * period bounds as strings: every writer of deal_events.at (create/update_deal through
 * store.stamp, the demo seed) writes Date#toISOString(), 'YYYY-MM-DDTHH:MM:SS.sssZ', whose string
 * order is its time order; test/unit/local-stats-oracle.test.ts checks that the writers keep to it.
 */

interface Scope {
  pipeline: PipelineRow;
  ref: Ref;
  /** The owner the figures are restricted to, when user_id was given. */
  user?: Ref;
  period: Period;
  /** The period end (23:59:59.999 UTC) in ms. */
  endMs: number;
  /** All stages of the pipeline in position order. */
  stages: StageRow[];
  /** A statement after `WITH ps` (the pipeline's stages: id, position), its parameters named:
   * :start and :end (the period bounds as deal_events.at strings), :owner (a user id or NULL). */
  query(sql: string): { get(): Record<string, unknown>; all(): Record<string, unknown>[] };
}

export const round1 = (n: number): number => Math.round(n * 10) / 10;
const percent = (part: number, whole: number): number => (whole === 0 ? 0 : round1((100 * part) / whole));

function load(db: Db, q: StatsQuery): Scope {
  const pipeline = requirePipeline(db, q.pipeline_id);
  const startDate = checkDate(q.start_date, 'start_date');
  const endDate = checkDate(q.end_date, 'end_date');
  if (startDate > endDate) {
    throw new CrmError(
      'validation',
      `start_date ${startDate} is after end_date ${endDate}; pass a start_date on or before the end_date.`,
    );
  }
  const ownerRow = q.user_id === undefined ? undefined : requireDirectory(db, 'users', q.user_id);
  const stages = db
    .prepare('SELECT * FROM stages WHERE pipeline_id = ? ORDER BY position, id')
    .all(pipeline.id) as StageRow[];
  const end = `${endDate}T23:59:59.999Z`;
  const values: Record<string, unknown> = {
    pipeline: pipeline.id,
    start: `${startDate}T00:00:00.000Z`,
    end,
    owner: ownerRow?.id ?? null,
  };
  const query = (sql: string) => {
    const params: unknown[] = [];
    const statement = db.prepare(
      `WITH ps AS (SELECT id, position FROM stages WHERE pipeline_id = ?) ${sql.replace(/:(\w+)/g, (_, name: string) => {
        if (!(name in values)) throw new Error(`unbound SQL parameter :${name}`);
        params.push(values[name]);
        return '?';
      })}`,
    );
    return {
      get: () => statement.get(pipeline.id, ...params) as Record<string, unknown>,
      all: () => statement.all(pipeline.id, ...params) as Record<string, unknown>[],
    };
  };
  return {
    pipeline,
    ref: { id: String(pipeline.id), name: pipeline.name },
    ...(ownerRow ? { user: { id: String(ownerRow.id), name: ownerRow.name } } : {}),
    period: { start_date: startDate, end_date: endDate },
    endMs: Date.parse(end),
    stages,
    query,
  };
}

// ---- SQL building blocks (see Scope.query)

const ENTRY = "kind IN ('created', 'moved')";
const IN_PIPELINE = (stage: string) => `${stage} IN (SELECT id FROM ps)`;
const IN_PERIOD = (at: string) => `${at} BETWEEN :start AND :end`;
const OWNED = (deal: string) => `(:owner IS NULL OR ${deal} IN (SELECT id FROM deals WHERE owner_id = :owner))`;
/** Event `x` comes after event `e` in its deal's history. */
const AFTER = (x: string, e: string) => `(${x}.at, ${x}.id) > (${e}.at, ${e}.id)`;
/** Milliseconds since the epoch of an at string: julianday keeps whole milliseconds, round() undoes
 * the float error (well under 1 ms until year 9999), so this equals Date.parse. */
const EPOCH_MS = (at: string) => `CAST(round((julianday(${at}) - 2440587.5) * 86400000.0) AS INTEGER)`;

/** Deals created in the pipeline during the period. */
const CREATED_IN_PERIOD = `SELECT DISTINCT e.deal_id FROM deal_events e
  WHERE e.kind = 'created' AND ${IN_PIPELINE('e.to_stage_id')} AND ${IN_PERIOD('e.at')} AND ${OWNED('e.deal_id')}`;

/** Deals with a won (or lost) event in the period while standing in the pipeline: the stage the
 * event records, else the one the deal last entered before it. */
const CLOSED_IN_PERIOD = (kind: 'won' | 'lost') => `SELECT DISTINCT e.deal_id FROM deal_events e
  WHERE e.kind = '${kind}' AND ${IN_PERIOD('e.at')} AND ${OWNED('e.deal_id')}
    AND ${IN_PIPELINE(`coalesce(e.to_stage_id, (SELECT x.to_stage_id FROM deal_events x
          WHERE x.deal_id = e.deal_id AND x.${ENTRY} AND x.to_stage_id IS NOT NULL AND ${AFTER('e', 'x')}
          ORDER BY x.at DESC, x.id DESC LIMIT 1))`)}`;

/** Deals that at the period end exist (were created by then), are open and stand in a stage of the
 * pipeline (the one they last entered by then), with that stage and when (ms) they entered it and
 * were created. Those with no later event are as deal_state has them; the others are replayed. */
const LEFT_OPEN = `SELECT s.deal_id, s.stage_id AS stage, s.entered_ms, s.created_ms FROM deal_state s
  WHERE ${IN_PIPELINE('s.stage_id')} AND s.last_at <= :end AND s.status IN ('created', 'reopened')
    AND s.created_ms IS NOT NULL AND ${OWNED('s.deal_id')}
  UNION ALL
  SELECT deal_id, stage, ${EPOCH_MS('entered_at')}, ${EPOCH_MS('created_at')} FROM (
    SELECT e.deal_id, e.to_stage_id AS stage, e.at AS entered_at,
      (SELECT z.kind FROM deal_events z WHERE z.deal_id = e.deal_id AND z.kind <> 'moved' AND z.at <= :end
       ORDER BY z.at DESC, z.id DESC LIMIT 1) AS status,
      (SELECT MAX(c.at) FROM deal_events c WHERE c.deal_id = e.deal_id AND c.kind = 'created' AND c.at <= :end) AS created_at
    FROM deal_state s CROSS JOIN deal_events e ON e.deal_id = s.deal_id
    WHERE s.last_at > :end AND e.${ENTRY} AND ${IN_PIPELINE('e.to_stage_id')} AND e.at <= :end AND ${OWNED('e.deal_id')}
      AND NOT EXISTS (SELECT 1 FROM deal_events x WHERE x.deal_id = e.deal_id AND x.${ENTRY}
                      AND x.to_stage_id IS NOT NULL AND x.at <= :end AND ${AFTER('x', 'e')}))
  WHERE status IN ('created', 'reopened') AND created_at IS NOT NULL`;

/** A deal's amount in cents when it is a whole number of them (0 to 10^13; then cents / 100 in JS
 * is the very double stored), else false: such a group's values are added from the rows. */
const CENTS = `CASE WHEN d.amount IS NULL THEN 'null'
  WHEN d.amount >= 0 AND d.amount < 1e13 AND CAST(d.amount * 100 + 0.5 AS INTEGER) / 100.0 = d.amount
  THEN CAST(d.amount * 100 + 0.5 AS INTEGER) ELSE 'false' END`;
/** Numbers (or NULLs) joined with commas, read back with one JSON.parse. */
const NUMBERS = (x: string) => `'[' || coalesce(group_concat(coalesce(${x}, 'null')), '') || ']'`;

/**
 * A group of deals (`members`: distinct deal_id, maybe with more columns) with, in id order, the
 * numbers `extras` (SQL over those columns) give for each deal. Ids, amounts (in cents) and
 * currencies come in one row; the values are then added by addValue in id order, as the list of
 * deals would add them.
 */
function groupOf(scope: Scope, members: string, extras: string[] = []): { group: DealGroup; extras: number[][] } {
  const row = scope
    .query(
      `SELECT COUNT(*) AS n, group_concat(d.id) AS ids,
         ${NUMBERS(CENTS)} AS cents, json_group_array(d.currency) AS currencies
         ${extras.map((x, i) => `, ${NUMBERS(x)} AS x${i}`).join('')}
       FROM (${members}) m JOIN deals d ON d.id = m.deal_id`,
    )
    .get() as Record<string, string> & { n: number };
  if (row.n === 0) return { group: { count: 0, deal_ids: [], values: {} }, extras: extras.map(() => []) };
  let ids = row.ids.split(',');
  let columns = [row.cents, row.currencies, ...extras.map((_, i) => row[`x${i}`])].map((json) => JSON.parse(json) as unknown[]);
  // group_concat keeps no promised order: put the deals (and their columns alike) in id order.
  const numeric = ids.map(Number);
  if (numeric.some((id, i) => i > 0 && id < numeric[i - 1])) {
    const order = numeric.map((_, i) => i).sort((a, b) => numeric[a] - numeric[b]);
    ids = order.map((i) => ids[i]);
    columns = columns.map((c) => order.map((i) => c[i]));
  }
  const [cents, currencies, ...rest] = columns as [(number | null | false)[], (string | null)[], ...number[][]];
  const values: Record<string, number> = {};
  if (!cents.includes(false)) {
    for (let i = 0; i < cents.length; i++) addValue(values, cents[i] === null ? null : (cents[i] as number) / 100, currencies[i]);
  } else {
    const amounts = scope
      .query(`SELECT d.amount, d.currency FROM (${members}) m JOIN deals d ON d.id = m.deal_id ORDER BY d.id`)
      .all() as { amount: number | null; currency: string | null }[];
    for (const r of amounts) addValue(values, r.amount, r.currency);
  }
  return { group: { count: row.n, deal_ids: ids, values }, extras: rest };
}

/** Runs the several statements of one answer on one snapshot of the file (a read transaction: in
 * WAL mode it blocks no writer), so a write from another process cannot fall between them. */
function inOneSnapshot<T>(db: Db, fn: () => T): T {
  db.exec('SAVEPOINT stats');
  try {
    return fn();
  } finally {
    db.exec('RELEASE stats');
  }
}

export const conversionStats = (db: Db, q: StatsQuery): ConversionStats => inOneSnapshot(db, () => conversion(db, q));
export const movementStats = (db: Db, q: StatsQuery, now: Date = new Date()): MovementStats =>
  inOneSnapshot(db, () => movement(db, q, now));

function conversion(db: Db, q: StatsQuery): ConversionStats {
  const scope = load(db, q);
  const active = scope.stages.filter((s) => s.status === 'active');

  // Per stage A of the pipeline: the deals that entered A in the period, and those of them that
  // later (by the period end) were won or entered a stage positioned after A. Counted from the
  // later events, which are few: a deal converted if any of its entries into A in the period comes
  // before one of them (then its first entry does too).
  const counts = scope
    .query(
      `SELECT 'entered' AS what, e.to_stage_id AS stage, COUNT(DISTINCT e.deal_id) AS n FROM deal_events e
       WHERE e.${ENTRY} AND ${IN_PIPELINE('e.to_stage_id')} AND ${IN_PERIOD('e.at')} AND ${OWNED('e.deal_id')}
       GROUP BY e.to_stage_id
       UNION ALL
       SELECT 'converted', a.id, COUNT(DISTINCT p.deal_id)
       FROM (SELECT p.deal_id, p.at, p.id, target.position FROM deal_events p JOIN ps target ON target.id = p.to_stage_id
             WHERE p.${ENTRY} AND ${IN_PERIOD('p.at')} AND ${OWNED('p.deal_id')}
               AND p.to_stage_id IN (SELECT id FROM ps WHERE position > (SELECT MIN(position) FROM ps))
             UNION ALL
             SELECT p.deal_id, p.at, p.id, NULL FROM deal_events p
             WHERE p.kind = 'won' AND ${IN_PERIOD('p.at')} AND ${OWNED('p.deal_id')}) p
         CROSS JOIN ps a ON p.position IS NULL OR p.position > a.position
       WHERE EXISTS (SELECT 1 FROM deal_events f WHERE f.deal_id = p.deal_id AND f.${ENTRY} AND f.to_stage_id = a.id
                     AND f.at >= :start AND ${AFTER('p', 'f')})
       GROUP BY a.id`,
    )
    .all() as { what: 'entered' | 'converted'; stage: number; n: number }[];
  const count = (what: string, stage: number) => counts.find((c) => c.what === what && c.stage === stage)?.n ?? 0;

  const stage_conversions = active.slice(0, -1).map((from, i) => {
    const to = active[i + 1];
    return {
      from_stage: { id: String(from.id), name: from.name },
      to_stage: { id: String(to.id), name: to.name },
      conversion_rate: percent(count('converted', from.id), count('entered', from.id)),
    };
  });

  // Deals created in the period, and those of them whose last won, lost, reopened or created event
  // by the period end is a won (lost) one.
  const closedAtEnd = (kind: 'won' | 'lost') => `SELECT COUNT(*) FROM deal_events w
    WHERE w.kind = '${kind}' AND w.at <= :end AND ${OWNED('w.deal_id')}
      AND NOT EXISTS (SELECT 1 FROM deal_events z WHERE z.deal_id = w.deal_id AND z.kind <> 'moved'
                      AND z.at <= :end AND ${AFTER('z', 'w')})
      AND EXISTS (SELECT 1 FROM deal_events c WHERE c.deal_id = w.deal_id AND c.kind = 'created'
                  AND ${IN_PIPELINE('c.to_stage_id')} AND ${IN_PERIOD('c.at')})`;
  const outcome = scope
    .query(
      `SELECT (SELECT COUNT(*) FROM (${CREATED_IN_PERIOD})) AS created,
              (${closedAtEnd('won')}) AS won, (${closedAtEnd('lost')}) AS lost`,
    )
    .get() as { created: number; won: number; lost: number };
  return {
    pipeline: scope.ref,
    ...(scope.user ? { user: scope.user } : {}),
    period: scope.period,
    stage_conversions,
    won_conversion: percent(outcome.won, outcome.created),
    lost_conversion: percent(outcome.lost, outcome.created),
  };
}

function movement(db: Db, q: StatsQuery, now: Date): MovementStats {
  const scope = load(db, q);

  const moves = scope
    .query(
      `SELECT COUNT(*) AS n FROM deal_events e
       WHERE e.kind = 'moved' AND ${IN_PIPELINE('e.to_stage_id')} AND ${IN_PIPELINE('e.from_stage_id')}
         AND ${IN_PERIOD('e.at')} AND ${OWNED('e.deal_id')}`,
    )
    .get().n as number;

  const open = groupOf(scope, LEFT_OPEN, ['m.created_ms', 'm.entered_ms', 'm.stage']);
  const [createdAt, enteredAt, stageOf] = open.extras;
  // Ages are measured at the period end, or now when the period ends in the future: days that have
  // not happened yet must not inflate them. Means are summed in deal id order.
  const asOf = Math.min(scope.endMs, now.getTime());
  const meanAge = (times: number[]) =>
    times.length ? round1(times.reduce((sum, t) => sum + Math.max(0, asOf - t) / DAY_MS, 0) / times.length) : 0;
  const enteredByStage = new Map<number, number[]>();
  stageOf.forEach((stage, i) => {
    const times = enteredByStage.get(stage);
    if (times) times.push(enteredAt[i]);
    else enteredByStage.set(stage, [enteredAt[i]]);
  });
  const by_stages = scope.stages
    .filter((stage) => enteredByStage.has(stage.id))
    .map((stage) => ({ stage: { id: String(stage.id), name: stage.name }, value: meanAge(enteredByStage.get(stage.id)!) }));

  return {
    pipeline: scope.ref,
    ...(scope.user ? { user: scope.user } : {}),
    period: scope.period,
    movements_between_stages: { count: moves },
    new_deals: groupOf(scope, CREATED_IN_PERIOD).group,
    deals_left_open: open.group,
    won_deals: groupOf(scope, CLOSED_IN_PERIOD('won')).group,
    lost_deals: groupOf(scope, CLOSED_IN_PERIOD('lost')).group,
    average_age_in_days: { across_all_stages: meanAge(createdAt), by_stages },
  };
}

/** The statistics as the provider serves them: cancellable before they start, SQLite errors mapped. */
export function statsOps(ctx: Ctx): StatsOperations {
  return {
    async conversion(query, opts) {
      checkSignal(opts.signal);
      return run(() => conversionStats(ctx.db, query));
    },
    async movement(query, opts) {
      checkSignal(opts.signal);
      return run(() => movementStats(ctx.db, query, ctx.now()));
    },
  };
}
