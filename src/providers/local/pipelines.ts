/** Pipelines of the local CRM; `get` adds the ordered stages with their open deals. */
import { CrmError } from '../../crm/errors.js';
import type { DealSummary, Pipeline, StageWithDeals } from '../../crm/model.js';
import type { CrudOperations, PageQuery, PipelineInput } from '../../crm/provider.js';
import {
  addValue,
  emptySummary,
  STAGE_SELECT,
  toPipeline,
  toStage,
  type PipelineRow,
  type StageJoined,
} from './map.js';
import { compact, requireChange } from '../../crm/records.js';
import {
  checkBoolean,
  checkName,
  checkSignal,
  countOf,
  prepareChange,
  prepareCreate,
  requirePipeline,
  run,
  selectPage,
  type Ctx,
} from './store.js';

const FIELDS = ['name', 'is_deal_probability_enabled'] as const;

export function readPipeline(ctx: Ctx, id: number, remote: boolean): Pipeline {
  const { db } = ctx;
  const row = db.prepare('SELECT * FROM pipelines WHERE id = ?').get(id) as PipelineRow;
  const stageRows = db
    .prepare(`${STAGE_SELECT} WHERE s.pipeline_id = ? ORDER BY s.position, s.id`)
    .all(id) as StageJoined[];
  const sums = db
    .prepare(
      `SELECT d.stage_id AS stage_id, d.currency AS currency, COUNT(*) AS n, SUM(d.amount) AS total
       FROM deals d JOIN stages s ON s.id = d.stage_id
       WHERE s.pipeline_id = ? AND d.status = 'open'
       GROUP BY d.stage_id, d.currency`,
    )
    .all(id) as { stage_id: number; currency: string | null; n: number; total: number | null }[];

  const perStage = new Map<number, DealSummary>();
  const overall = emptySummary();
  for (const s of sums) {
    const summary = perStage.get(s.stage_id) ?? emptySummary();
    perStage.set(s.stage_id, summary);
    summary.count += s.n;
    overall.count += s.n;
    addValue(summary.values, s.total, s.currency);
    addValue(overall.values, s.total, s.currency);
  }
  const stages: StageWithDeals[] = stageRows.map((s) => ({
    ...toStage(s, remote),
    open_deals: perStage.get(s.id) ?? emptySummary(),
  }));
  return { ...toPipeline(row, remote), stages, open_deals: overall };
}

export function pipelineOps(ctx: Ctx): CrudOperations<Pipeline, PageQuery, PipelineInput> {
  const { db } = ctx;

  return {
    async list(query, opts) {
      checkSignal(opts.signal);
      return run(() => {
        return selectPage(db, { select: 'SELECT * FROM pipelines', order: [{ expr: 'id', field: 'id' }] }, query, (rows: PipelineRow[]) =>
          rows.map((r) => toPipeline(r, Boolean(opts.include_remote_data))),
        );
      });
    },

    async get(id, opts) {
      checkSignal(opts.signal);
      return run(() => readPipeline(ctx, requirePipeline(db, id).id, Boolean(opts.include_remote_data)));
    },

    async create(input, opts) {
      return prepareCreate(ctx, {
        scope: 'pipelines',
        noun: 'pipeline',
        path: '/pipelines',
        input,
        opts,
        plan() {
          const name = checkName(input.name);
          const enabled =
            input.is_deal_probability_enabled === undefined
              ? undefined
              : checkBoolean(input.is_deal_probability_enabled, 'is_deal_probability_enabled');
          return {
            body: compact({ name, is_deal_probability_enabled: enabled }),
            insert: (at) =>
              Number(
                db
                  .prepare(
                    'INSERT INTO pipelines (name, is_deal_probability_enabled, created_at, updated_at) VALUES (?, ?, ?, ?)',
                  )
                  .run(name, enabled === false ? 0 : 1, at, at).lastInsertRowid,
              ),
          };
        },
        read: (id) => readPipeline(ctx, id, false),
      });
    },

    async update(id, patch, opts) {
      return prepareChange(ctx, 'PATCH', `/pipelines/${id}`, opts, () => {
        const row = requirePipeline(db, id);
        const body = compact({
          name: patch.name === undefined ? undefined : checkName(patch.name),
          is_deal_probability_enabled:
            patch.is_deal_probability_enabled === undefined
              ? undefined
              : checkBoolean(patch.is_deal_probability_enabled, 'is_deal_probability_enabled'),
        });
        requireChange(body, 'pipeline', FIELDS);
        return {
          body,
          apply(at) {
            db.prepare(
              `UPDATE pipelines SET name = COALESCE(?, name),
                 is_deal_probability_enabled = COALESCE(?, is_deal_probability_enabled), updated_at = ?
               WHERE id = ?`,
            ).run(
              body.name ?? null,
              body.is_deal_probability_enabled === undefined ? null : Number(body.is_deal_probability_enabled),
              at,
              row.id,
            );
            return readPipeline(ctx, row.id, false);
          },
        };
      });
    },

    async delete(id, opts) {
      return prepareChange(ctx, 'DELETE', `/pipelines/${id}`, opts, () => {
        const row = requirePipeline(db, id);
        const deals = countOf(
          db,
          'SELECT COUNT(*) AS n FROM deals d JOIN stages s ON s.id = d.stage_id WHERE s.pipeline_id = ?',
          row.id,
        );
        if (deals > 0) {
          throw new CrmError(
            'conflict',
            `Pipeline '${row.name}' (${row.id}) still holds ${deals} deal${deals === 1 ? '' : 's'}; move ${deals === 1 ? 'it' : 'them'} to a stage of another pipeline with update_deal first (list_deals with pipeline_id '${row.id}' shows ${deals === 1 ? 'it' : 'them'}).`,
          );
        }
        return {
          apply() {
            // Its stages are empty (checked above); projects pointing at them lose the stage.
            db.prepare('DELETE FROM stages WHERE pipeline_id = ?').run(row.id);
            db.prepare('DELETE FROM pipelines WHERE id = ?').run(row.id);
            return { id: String(row.id), name: row.name };
          },
        };
      });
    },
  };
}
