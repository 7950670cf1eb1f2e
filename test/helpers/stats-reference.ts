// The local statistics as they were before they moved into SQL (commit e0a2145), kept verbatim
// (only the import paths differ) as the oracle the new implementation is compared against in
// test/unit/local-stats-oracle.test.ts. Do not "fix" this file: it defines the expected answers.
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
import { CrmError } from '../../src/crm/errors.js';
import type { ConversionStats, DealGroup, MovementStats, Period, Ref } from '../../src/crm/model.js';
import type { StatsOperations, StatsQuery } from '../../src/crm/provider.js';
import type { Db } from '../../src/providers/local/client.js';
import { addValue, type DealEventRow, type PipelineRow, type StageRow } from '../../src/providers/local/map.js';
import { checkDate, checkSignal, requireDirectory, requirePipeline, run, type Ctx } from '../../src/providers/local/store.js';

const DAY_MS = 86_400_000;

interface Ev {
  id: number;
  t: number;
  kind: DealEventRow['kind'];
  from: number | null;
  to: number | null;
}

interface DealHistory {
  id: number;
  amount: number | null;
  currency: string | null;
  events: Ev[];
}

interface Scope {
  pipeline: PipelineRow;
  ref: Ref;
  /** The owner the figures are restricted to, when user_id was given. */
  user?: Ref;
  period: Period;
  start: number;
  end: number;
  /** All stages of the pipeline in position order. */
  stages: StageRow[];
  position: Map<number, number>;
  deals: DealHistory[];
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
  const owner = ownerRow?.id;
  const stages = db
    .prepare('SELECT * FROM stages WHERE pipeline_id = ? ORDER BY position, id')
    .all(pipeline.id) as StageRow[];

  // Every deal that ever stood in this pipeline, with its whole history (later moves elsewhere count).
  const rows = db
    .prepare(
      `WITH ps AS (SELECT id FROM stages WHERE pipeline_id = ?),
            touched AS (SELECT DISTINCT deal_id FROM deal_events
                        WHERE to_stage_id IN (SELECT id FROM ps) OR from_stage_id IN (SELECT id FROM ps))
       SELECT e.*, d.amount AS amount, d.currency AS currency
       FROM deal_events e JOIN deals d ON d.id = e.deal_id
       WHERE e.deal_id IN (SELECT deal_id FROM touched) ${owner === undefined ? '' : 'AND d.owner_id = ?'}`,
    )
    .all(...(owner === undefined ? [pipeline.id] : [pipeline.id, owner])) as (DealEventRow & {
    amount: number | null;
    currency: string | null;
  })[];

  const byDeal = new Map<number, DealHistory>();
  for (const r of rows) {
    let deal = byDeal.get(r.deal_id);
    if (!deal) {
      deal = { id: r.deal_id, amount: r.amount, currency: r.currency, events: [] };
      byDeal.set(r.deal_id, deal);
    }
    // Parsed, not string-compared, so timestamps written in any ISO 8601 form order correctly.
    deal.events.push({ id: r.id, t: Date.parse(r.at), kind: r.kind, from: r.from_stage_id, to: r.to_stage_id });
  }
  const deals = [...byDeal.values()].sort((a, b) => a.id - b.id);
  for (const d of deals) d.events.sort((a, b) => a.t - b.t || a.id - b.id);

  return {
    pipeline,
    ref: { id: String(pipeline.id), name: pipeline.name },
    ...(ownerRow ? { user: { id: String(ownerRow.id), name: ownerRow.name } } : {}),
    period: { start_date: startDate, end_date: endDate },
    start: Date.parse(`${startDate}T00:00:00.000Z`),
    end: Date.parse(`${endDate}T23:59:59.999Z`),
    stages,
    position: new Map(stages.map((s) => [s.id, s.position])),
    deals,
  };
}

const isEntry = (e: Ev): boolean => e.kind === 'created' || e.kind === 'moved';

/** A deal's state right after the last event at or before `until`. */
interface State {
  exists: boolean;
  status: 'open' | 'won' | 'lost';
  stage: number | null;
  createdAt: number;
  enteredStageAt: number;
}

function stateAt(deal: DealHistory, until: number): State {
  const s: State = { exists: false, status: 'open', stage: null, createdAt: NaN, enteredStageAt: NaN };
  for (const e of deal.events) {
    if (e.t > until) break;
    if (e.kind === 'created') {
      s.exists = true;
      s.status = 'open';
      s.createdAt = e.t;
    }
    if (isEntry(e) && e.to !== null) {
      s.stage = e.to;
      s.enteredStageAt = e.t;
    }
    if (e.kind === 'won' || e.kind === 'lost') s.status = e.kind;
    if (e.kind === 'reopened') s.status = 'open';
  }
  return s;
}

/** The stage a deal stood in when event `index` happened (its own target for entries). */
function stageAtEvent(deal: DealHistory, index: number): number | null {
  let stage: number | null = null;
  for (let i = 0; i <= index; i++) {
    const e = deal.events[i];
    if (isEntry(e) && e.to !== null) stage = e.to;
  }
  return deal.events[index].to ?? stage;
}

function createdInPeriod(scope: Scope, deal: DealHistory): boolean {
  return deal.events.some(
    (e) => e.kind === 'created' && e.to !== null && scope.position.has(e.to) && e.t >= scope.start && e.t <= scope.end,
  );
}

function group(deals: DealHistory[]): DealGroup {
  const values: Record<string, number> = {};
  for (const d of deals) addValue(values, d.amount, d.currency);
  return { count: deals.length, deal_ids: deals.map((d) => String(d.id)), values };
}

export function conversionStats(db: Db, q: StatsQuery): ConversionStats {
  const scope = load(db, q);
  const active = scope.stages.filter((s) => s.status === 'active');

  const stage_conversions = active.slice(0, -1).map((from, i) => {
    const to = active[i + 1];
    let entered = 0;
    let converted = 0;
    for (const deal of scope.deals) {
      // The earliest entry in the period: progress after any later entry also follows this one.
      const first = deal.events.findIndex(
        (e) => isEntry(e) && e.to === from.id && e.t >= scope.start && e.t <= scope.end,
      );
      if (first < 0) continue;
      entered++;
      const progressed = deal.events
        .slice(first + 1)
        .some(
          (e) =>
            e.t <= scope.end &&
            (e.kind === 'won' ||
              (isEntry(e) && e.to !== null && (scope.position.get(e.to) ?? -Infinity) > from.position)),
        );
      if (progressed) converted++;
    }
    return {
      from_stage: { id: String(from.id), name: from.name },
      to_stage: { id: String(to.id), name: to.name },
      conversion_rate: percent(converted, entered),
    };
  });

  const created = scope.deals.filter((d) => createdInPeriod(scope, d));
  const statusAtEnd = created.map((d) => stateAt(d, scope.end).status);
  return {
    pipeline: scope.ref,
    ...(scope.user ? { user: scope.user } : {}),
    period: scope.period,
    stage_conversions,
    won_conversion: percent(statusAtEnd.filter((s) => s === 'won').length, created.length),
    lost_conversion: percent(statusAtEnd.filter((s) => s === 'lost').length, created.length),
  };
}

export function movementStats(db: Db, q: StatsQuery, now: Date = new Date()): MovementStats {
  const scope = load(db, q);
  const inPeriod = (e: Ev) => e.t >= scope.start && e.t <= scope.end;
  const inPipeline = (stage: number | null) => stage !== null && scope.position.has(stage);

  let moves = 0;
  const won: DealHistory[] = [];
  const lost: DealHistory[] = [];
  for (const deal of scope.deals) {
    let wasWon = false;
    let wasLost = false;
    deal.events.forEach((e, i) => {
      if (!inPeriod(e)) return;
      if (e.kind === 'moved' && inPipeline(e.from) && inPipeline(e.to)) moves++;
      if ((e.kind === 'won' || e.kind === 'lost') && inPipeline(stageAtEvent(deal, i))) {
        if (e.kind === 'won') wasWon = true;
        else wasLost = true;
      }
    });
    if (wasWon) won.push(deal);
    if (wasLost) lost.push(deal);
  }

  const open: { deal: DealHistory; state: State }[] = [];
  for (const deal of scope.deals) {
    const state = stateAt(deal, scope.end);
    if (state.exists && state.status === 'open' && inPipeline(state.stage)) open.push({ deal, state });
  }

  // Ages are measured at the period end, or now when the period ends in the future: days that have
  // not happened yet must not inflate them.
  const asOf = Math.min(scope.end, now.getTime());
  const ageDays = (from: number) => Math.max(0, asOf - from) / DAY_MS;
  const mean = (xs: number[]) => (xs.length ? round1(xs.reduce((a, b) => a + b, 0) / xs.length) : 0);
  const by_stages = scope.stages
    .map((stage) => {
      const ages = open.filter((o) => o.state.stage === stage.id).map((o) => ageDays(o.state.enteredStageAt));
      return { stage: { id: String(stage.id), name: stage.name }, value: mean(ages), n: ages.length };
    })
    .filter((s) => s.n > 0)
    .map(({ stage, value }) => ({ stage, value }));

  return {
    pipeline: scope.ref,
    ...(scope.user ? { user: scope.user } : {}),
    period: scope.period,
    movements_between_stages: { count: moves },
    new_deals: group(scope.deals.filter((d) => createdInPeriod(scope, d))),
    deals_left_open: group(open.map((o) => o.deal)),
    won_deals: group(won),
    lost_deals: group(lost),
    average_age_in_days: {
      across_all_stages: mean(open.map((o) => ageDays(o.state.createdAt))),
      by_stages,
    },
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
