/**
 * Deals of the local CRM. A deal's pipeline is its stage's pipeline; every stage or status change
 * appends to deal_events, the history the statistics are computed from.
 */
import { CrmError } from '../../crm/errors.js';
import type { Deal } from '../../crm/model.js';
import { DEAL_STATUSES } from '../../crm/statuses.js';
import { WRITE_FIELDS, type CrudOperations, type DealInput, type DealQuery } from '../../crm/provider.js';
import type { Db } from './client.js';
import { DEAL_SELECT, named, toDeal, type DealJoined, type PipelineRow, type StageRow } from './map.js';
import { compact, requireChange } from '../../crm/records.js';
import {
  checkAmount,
  checkCurrency,
  checkDate,
  checkEnum,
  checkName,
  checkSignal,
  prepareChange,
  prepareCreate,
  requireDeal,
  requireDirectory,
  requirePipeline,
  requireStage,
  run,
  selectPage,
  stageList,
  type Ctx,
} from './store.js';

const FIELDS = WRITE_FIELDS.deals;

type EventKind = 'created' | 'moved' | 'won' | 'lost' | 'reopened';

export function readDeal(db: Db, id: number, remote: boolean): Deal {
  return toDeal(db.prepare(`${DEAL_SELECT} WHERE d.id = ?`).get(id) as DealJoined, remote);
}

export function addEvent(
  db: Db,
  dealId: number,
  at: string,
  kind: EventKind,
  from: number | null,
  to: number | null,
): void {
  db.prepare(
    'INSERT INTO deal_events (deal_id, at, kind, from_stage_id, to_stage_id) VALUES (?, ?, ?, ?, ?)',
  ).run(dealId, at, kind, from, to);
}

const pipelineOf = (db: Db, stage: StageRow): PipelineRow =>
  db.prepare('SELECT * FROM pipelines WHERE id = ?').get(stage.pipeline_id) as PipelineRow;

function stageMismatch(db: Db, stage: StageRow, wanted: PipelineRow): CrmError {
  const owner = pipelineOf(db, stage);
  return new CrmError(
    'validation',
    `Stage '${stage.name}' (${stage.id}) belongs to pipeline ${named(owner.name, owner.id)}, not ${named(wanted.name, wanted.id)}; pass a stage_id of ${wanted.name}: ${stageList(db, wanted.id, true)}.`,
  );
}

function inactiveStage(db: Db, stage: StageRow): CrmError {
  const pipeline = pipelineOf(db, stage);
  return new CrmError(
    'validation',
    `Stage '${stage.name}' (${stage.id}) is inactive and takes no deals; pick an active stage of ${named(pipeline.name, pipeline.id)}: ${stageList(db, pipeline.id, true)}.`,
  );
}

/** The optional fields shared by create and update, validated and normalized. */
function commonFields(db: Db, input: DealInput) {
  return {
    amount: input.amount === undefined ? undefined : checkAmount(input.amount),
    currency: input.currency === undefined ? undefined : checkCurrency(input.currency),
    status: input.status === undefined ? undefined : checkEnum(input.status, 'status', DEAL_STATUSES),
    owner: input.owner_id === undefined ? undefined : requireDirectory(db, 'users', input.owner_id),
    account: input.account_id === undefined ? undefined : requireDirectory(db, 'accounts', input.account_id),
    close_date: input.close_date === undefined ? undefined : checkDate(input.close_date, 'close_date'),
  };
}

export function dealOps(ctx: Ctx): CrudOperations<Deal, DealQuery, DealInput> {
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
        if (query.stage_id !== undefined) {
          where.push('d.stage_id = ?');
          params.push(requireStage(db, query.stage_id).id);
        }
        if (query.status !== undefined) {
          where.push('d.status = ?');
          params.push(checkEnum(query.status, 'status', DEAL_STATUSES));
        }
        if (query.owner_id !== undefined) {
          where.push('d.owner_id = ?');
          params.push(requireDirectory(db, 'users', query.owner_id).id);
        }
        if (query.account_id !== undefined) {
          where.push('d.account_id = ?');
          params.push(requireDirectory(db, 'accounts', query.account_id).id);
        }
        const order = [
          { expr: 'd.updated_at', field: 'updated_at', desc: true },
          { expr: 'd.id', field: 'id', desc: true },
        ];
        return selectPage(db, { select: DEAL_SELECT, where, params, order }, query, (rows: DealJoined[]) =>
          rows.map((r) => toDeal(r, Boolean(opts.include_remote_data))),
        );
      });
    },

    async get(id, opts) {
      checkSignal(opts.signal);
      return run(() => readDeal(db, requireDeal(db, id).id, Boolean(opts.include_remote_data)));
    },

    async create(input, opts) {
      return prepareCreate(ctx, {
        scope: 'deals',
        noun: 'deal',
        path: '/deals',
        input,
        opts,
        plan() {
          const name = checkName(input.name);
          const pipeline = input.pipeline_id === undefined ? undefined : requirePipeline(db, input.pipeline_id);
          if (input.stage_id === undefined) {
            // No silent "first stage" fallback: the caller picks the stage.
            throw new CrmError(
              'validation',
              pipeline
                ? `A new deal needs a stage_id as well as its pipeline; pass one of the stages of ${named(pipeline.name, pipeline.id)}: ${stageList(db, pipeline.id, true)}.`
                : "A new deal needs a stage_id (the deal's pipeline is its stage's pipeline); call list_stages to see valid stage ids.",
            );
          }
          const stage = requireStage(db, input.stage_id);
          if (pipeline && stage.pipeline_id !== pipeline.id) throw stageMismatch(db, stage, pipeline);
          if (stage.status !== 'active') throw inactiveStage(db, stage);
          const f = commonFields(db, input);
          const status = f.status ?? 'open';
          return {
            body: compact({
              name,
              pipeline_id: input.pipeline_id,
              stage_id: input.stage_id,
              amount: f.amount,
              currency: f.currency,
              status: f.status,
              owner_id: input.owner_id,
              account_id: input.account_id,
              close_date: f.close_date,
            }),
            insert(at) {
              const id = Number(
                db
                  .prepare(
                    `INSERT INTO deals (name, stage_id, status, amount, currency, owner_id, account_id, close_date,
                       stage_changed_at, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
                  )
                  .run(
                    name,
                    stage.id,
                    status,
                    f.amount ?? null,
                    f.currency ?? null,
                    f.owner?.id ?? null,
                    f.account?.id ?? null,
                    f.close_date ?? null,
                    at,
                    at,
                    at,
                  ).lastInsertRowid,
              );
              addEvent(db, id, at, 'created', null, stage.id);
              if (status !== 'open') addEvent(db, id, at, status, null, stage.id);
              return id;
            },
          };
        },
        read: (id) => readDeal(db, id, false),
      });
    },

    async update(id, patch, opts) {
      return prepareChange(ctx, 'PATCH', `/deals/${id}`, opts, () => {
        const deal = requireDeal(db, id);
        const current = requireStage(db, String(deal.stage_id));
        const currentPipeline = pipelineOf(db, current);
        const pipeline = patch.pipeline_id === undefined ? undefined : requirePipeline(db, patch.pipeline_id);

        let target = current;
        if (patch.stage_id !== undefined) {
          target = requireStage(db, patch.stage_id);
          if (pipeline && target.pipeline_id !== pipeline.id) throw stageMismatch(db, target, pipeline);
          if (!pipeline && target.pipeline_id !== current.pipeline_id) {
            const other = pipelineOf(db, target);
            throw new CrmError(
              'validation',
              `Stage '${target.name}' (${target.id}) belongs to pipeline ${named(other.name, other.id)}, not this deal's pipeline ${named(currentPipeline.name, currentPipeline.id)}; pick one of ${currentPipeline.name}'s stages (${stageList(db, currentPipeline.id, true)}), or also pass pipeline_id '${other.id}' to move the deal to ${other.name}.`,
            );
          }
          if (target.id !== current.id && target.status !== 'active') throw inactiveStage(db, target);
        } else if (pipeline && pipeline.id !== current.pipeline_id) {
          throw new CrmError(
            'validation',
            `To move the deal to pipeline ${named(pipeline.name, pipeline.id)} also pass stage_id, one of its stages: ${stageList(db, pipeline.id, true)}.`,
          );
        }

        const f = commonFields(db, patch);
        const body = compact({
          name: patch.name === undefined ? undefined : checkName(patch.name),
          pipeline_id: patch.pipeline_id,
          stage_id: patch.stage_id,
          amount: f.amount,
          currency: f.currency,
          status: f.status,
          owner_id: patch.owner_id,
          account_id: patch.account_id,
          close_date: f.close_date,
        });
        requireChange(body, 'deal', FIELDS);

        return {
          body,
          apply(at) {
            const moved = target.id !== deal.stage_id;
            const status = f.status ?? deal.status;
            db.prepare(
              `UPDATE deals SET name = COALESCE(?, name), stage_id = ?, status = ?, amount = COALESCE(?, amount),
                 currency = COALESCE(?, currency), owner_id = COALESCE(?, owner_id), account_id = COALESCE(?, account_id),
                 close_date = COALESCE(?, close_date), stage_changed_at = ?, updated_at = ?
               WHERE id = ?`,
            ).run(
              body.name ?? null,
              target.id,
              status,
              f.amount ?? null,
              f.currency ?? null,
              f.owner?.id ?? null,
              f.account?.id ?? null,
              f.close_date ?? null,
              moved ? at : deal.stage_changed_at,
              at,
              deal.id,
            );
            if (moved) addEvent(db, deal.id, at, 'moved', deal.stage_id, target.id);
            if (status !== deal.status) {
              addEvent(db, deal.id, at, status === 'open' ? 'reopened' : status, null, target.id);
            }
            return readDeal(db, deal.id, false);
          },
        };
      });
    },
  };
}
