/**
 * Stages of the local CRM. Positions are 1..n within a pipeline with no gaps: inserting or moving a
 * stage shifts its neighbours, deleting one closes the gap.
 */
import { CrmError } from '../../crm/errors.js';
import type { Stage } from '../../crm/model.js';
import { STAGE_STATUSES } from '../../crm/statuses.js';
import type { CrudOperations, StageInput, StageQuery } from '../../crm/provider.js';
import type { Db } from './client.js';
import { STAGE_SELECT, toStage, type StageJoined } from './map.js';
import { compact, requireChange } from '../../crm/records.js';
import {
  checkColor,
  checkEnum,
  checkName,
  checkPosition,
  checkProbability,
  checkSignal,
  countOf,
  likeContains,
  prepareChange,
  prepareCreate,
  requirePipeline,
  requireStage,
  run,
  selectPage,
  type Ctx,
  type SortKey,
} from './store.js';

const FIELDS = ['pipeline_id', 'name', 'position', 'probability', 'color', 'status'] as const;
const SORTS = ['position', 'name', 'created_at', 'updated_at'] as const;

export function readStage(db: Db, id: number, remote: boolean): Stage {
  return toStage(db.prepare(`${STAGE_SELECT} WHERE s.id = ?`).get(id) as StageJoined, remote);
}

/** Writes positions 1..n in the given order, touching only stages whose position changes. */
function renumber(db: Db, ids: number[], at: string): void {
  const update = db.prepare('UPDATE stages SET position = ?, updated_at = ? WHERE id = ? AND position != ?');
  ids.forEach((id, i) => update.run(i + 1, at, id, i + 1));
}

const orderedIds = (db: Db, pipelineId: number, except = -1): number[] =>
  (
    db.prepare('SELECT id FROM stages WHERE pipeline_id = ? AND id != ? ORDER BY position, id').all(
      pipelineId,
      except,
    ) as { id: number }[]
  ).map((r) => r.id);

/** Puts a stage (already in the pipeline) at `position`, or last, and renumbers the others. */
function place(db: Db, pipelineId: number, stageId: number, position: number | undefined, at: string): void {
  const ids = orderedIds(db, pipelineId, stageId);
  ids.splice(position === undefined ? ids.length : Math.min(position - 1, ids.length), 0, stageId);
  renumber(db, ids, at);
}

const stageCount = (db: Db, pipelineId: number): number =>
  countOf(db, 'SELECT COUNT(*) AS n FROM stages WHERE pipeline_id = ?', pipelineId);

const dealCount = (db: Db, stageId: number): number =>
  countOf(db, 'SELECT COUNT(*) AS n FROM deals WHERE stage_id = ?', stageId);

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function stageOps(ctx: Ctx): CrudOperations<Stage, StageQuery, StageInput> {
  const { db } = ctx;

  return {
    async list(query, opts) {
      checkSignal(opts.signal);
      return run(() => {
        const where: string[] = [];
        const params: unknown[] = [];
        if (query.pipeline_id !== undefined) {
          where.push('s.pipeline_id = ?');
          params.push(requirePipeline(db, query.pipeline_id).id);
        }
        if (query.name !== undefined) {
          where.push("s.name LIKE ? ESCAPE '\\'");
          params.push(likeContains(query.name));
        }
        if (query.status !== undefined) {
          where.push('s.status = ?');
          params.push(checkEnum(query.status, 'status', STAGE_STATUSES));
        }
        const sortBy = query.sort_by === undefined ? 'position' : checkEnum(query.sort_by, 'sort_by', SORTS);
        const desc =
          query.sort_direction !== undefined &&
          checkEnum(query.sort_direction, 'sort_direction', ['asc', 'desc'] as const) === 'desc';
        const byId: SortKey = { expr: 's.id', field: 'id', desc };
        const order: SortKey[] =
          sortBy === 'position'
            ? [{ expr: 's.pipeline_id', field: 'pipeline_id' }, { expr: 's.position', field: 'position', desc }, byId]
            : [{ expr: `s.${sortBy}`, field: sortBy, desc, nocase: sortBy === 'name' }, byId];
        return selectPage(db, { select: STAGE_SELECT, where, params, order }, query, (rows: StageJoined[]) =>
          rows.map((r) => toStage(r, Boolean(opts.include_remote_data))),
        );
      });
    },

    async get(id, opts) {
      checkSignal(opts.signal);
      return run(() => readStage(db, requireStage(db, id).id, Boolean(opts.include_remote_data)));
    },

    async create(input, opts) {
      return prepareCreate(ctx, {
        scope: 'stages',
        noun: 'stage',
        path: '/stages',
        input,
        opts,
        plan() {
          if (input.pipeline_id === undefined) {
            throw new CrmError(
              'validation',
              '`pipeline_id` is required to create a stage; call list_pipelines to see valid pipeline ids.',
            );
          }
          const pipeline = requirePipeline(db, input.pipeline_id);
          const name = checkName(input.name);
          const count = stageCount(db, pipeline.id);
          const position = input.position === undefined ? undefined : checkPosition(input.position, count + 1);
          const probability = input.probability === undefined ? undefined : checkProbability(input.probability);
          const color = input.color === undefined ? undefined : checkColor(input.color);
          const status = input.status === undefined ? undefined : checkEnum(input.status, 'status', STAGE_STATUSES);
          return {
            body: compact({ pipeline_id: input.pipeline_id, name, position, probability, color, status }),
            insert(at) {
              const id = Number(
                db
                  .prepare(
                    `INSERT INTO stages (pipeline_id, name, position, status, probability, color, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
                  )
                  .run(pipeline.id, name, count + 1, status ?? 'active', probability ?? null, color ?? null, at, at)
                  .lastInsertRowid,
              );
              if (position !== undefined) place(db, pipeline.id, id, position, at);
              return id;
            },
          };
        },
        read: (id) => readStage(db, id, false),
      });
    },

    async update(id, patch, opts) {
      return prepareChange(ctx, 'PATCH', `/stages/${id}`, opts, () => {
        const stage = requireStage(db, id);
        const target = patch.pipeline_id === undefined ? undefined : requirePipeline(db, patch.pipeline_id);
        const moving = target !== undefined && target.id !== stage.pipeline_id;
        if (moving) {
          const deals = dealCount(db, stage.id);
          if (deals > 0) {
            throw new CrmError(
              'conflict',
              `Stage '${stage.name}' (${stage.id}) still holds ${plural(deals, 'deal')}, so it cannot move to another pipeline; move the deals to other stages with update_deal first, or leave pipeline_id out.`,
            );
          }
        }
        const pipelineId = moving ? target.id : stage.pipeline_id;
        const max = stageCount(db, pipelineId) + (moving ? 1 : 0);
        const body = compact({
          pipeline_id: patch.pipeline_id,
          name: patch.name === undefined ? undefined : checkName(patch.name),
          position: patch.position === undefined ? undefined : checkPosition(patch.position, max),
          probability: patch.probability === undefined ? undefined : checkProbability(patch.probability),
          color: patch.color === undefined ? undefined : checkColor(patch.color),
          status: patch.status === undefined ? undefined : checkEnum(patch.status, 'status', STAGE_STATUSES),
        });
        requireChange(body, 'stage', FIELDS);
        return {
          body,
          apply(at) {
            db.prepare(
              `UPDATE stages SET pipeline_id = ?, name = COALESCE(?, name), probability = COALESCE(?, probability),
                 color = COALESCE(?, color), status = COALESCE(?, status), updated_at = ?
               WHERE id = ?`,
            ).run(
              pipelineId,
              body.name ?? null,
              body.probability ?? null,
              body.color ?? null,
              body.status ?? null,
              at,
              stage.id,
            );
            if (moving) {
              place(db, pipelineId, stage.id, body.position, at);
              renumber(db, orderedIds(db, stage.pipeline_id), at);
            } else if (body.position !== undefined) {
              place(db, pipelineId, stage.id, body.position, at);
            }
            return readStage(db, stage.id, false);
          },
        };
      });
    },

    async delete(id, opts) {
      return prepareChange(ctx, 'DELETE', `/stages/${id}`, opts, () => {
        const stage = requireStage(db, id);
        const deals = dealCount(db, stage.id);
        if (deals > 0) {
          throw new CrmError(
            'conflict',
            `Stage '${stage.name}' (${stage.id}) still holds ${plural(deals, 'deal')}; move ${deals === 1 ? 'it' : 'them'} to another stage with update_deal first (list_deals with stage_id '${stage.id}' shows ${deals === 1 ? 'it' : 'them'}).`,
          );
        }
        return {
          apply(at) {
            db.prepare('DELETE FROM stages WHERE id = ?').run(stage.id);
            renumber(db, orderedIds(db, stage.pipeline_id), at);
            return { id: String(stage.id), name: stage.name };
          },
        };
      });
    },
  };
}
