/**
 * Capsule stages, read only: the milestones of its sales pipelines (ids "5") and the stages of
 * its project boards ("stage-149"). Listings are short (a pipeline holds a handful), so they are
 * read whole, filtered by name and sorted here, and paged with crm-mcp's own cursor.
 */
import { CrmError } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Stage } from '../../crm/model.js';
import { incompleteListing, localPage, sortLocally, type Walk } from '../../crm/paginate.js';
import { together } from '../../crm/parallel.js';
import type { CallOptions, CrudOperations, Page, StageInput, StageQuery } from '../../crm/provider.js';
import { orNotFound, pageSize } from './client.js';
import { loadMilestones, type Ctx } from './directory.js';
import {
  parsePipelineId,
  parseStageId,
  toBoardStage,
  toMilestoneStage,
  type CapsuleMilestone,
  type CapsuleStage,
  type MilestoneEntry,
} from './map.js';

export function stageOps(ctx: Ctx): CrudOperations<Stage, StageQuery, StageInput> {
  const { client } = ctx;

  /** The stages a query asks for, as Capsule lists them, and a sentence when a listing was cut short. */
  async function read(query: StageQuery, opts: CallOptions): Promise<{ stages: Stage[]; incomplete?: string }> {
    const remote = { remote: opts.include_remote_data };
    const cut = (w: Walk<unknown>, what: string) => (w.stopped ? incompleteListing(w, 'Capsule', what) : undefined);
    if (query.pipeline_id !== undefined) {
      const key = parsePipelineId(query.pipeline_id);
      if (key.kind === 'board') {
        const walk = await orNotFound('pipeline', query.pipeline_id, client.walk<CapsuleStage>({ path: path`/boards/${key.id}/stages`, key: 'stages' }, opts.signal));
        return { stages: walk.items.map((s) => toBoardStage(s, remote)), incomplete: cut(walk, `the stages of board ${query.pipeline_id}`) };
      }
      const walk = await orNotFound('pipeline', query.pipeline_id, client.walk<CapsuleMilestone>({ path: path`/pipelines/${key.id}/milestones`, key: 'milestones' }, opts.signal));
      const entries = walk.items.map((m, i): MilestoneEntry => ({ ...m, pipeline: { id: key.id, name: m.pipeline?.name }, position: i + 1 }));
      return { stages: entries.map((m) => toMilestoneStage(m, remote)), incomplete: cut(walk, `the milestones of pipeline ${query.pipeline_id}`) };
    }
    // Every stage: all pipelines' milestones (read fresh, and kept for deals) and every board's stages.
    const [milestones, boardStages] = await together(opts.signal, [
      (signal) => loadMilestones(client, signal),
      (signal) => client.walk<CapsuleStage>({ path: path`/stages`, key: 'stages' }, signal),
    ] as const);
    for (const m of milestones) ctx.milestones.put(m);
    return {
      stages: [...milestones.map((m) => toMilestoneStage(m, remote)), ...boardStages.items.map((s) => toBoardStage(s, remote))],
      incomplete: cut(boardStages, 'the stages of project boards'),
    };
  }

  return {
    async list(query: StageQuery, opts: CallOptions): Promise<Page<Stage>> {
      if (query.status !== undefined) {
        throw new CrmError('unsupported', 'Capsule cannot filter stages by `status`: its listings hold only active milestones and board stages.');
      }
      const { stages, incomplete } = await read(query, opts);
      const needle = query.name?.trim().toLowerCase();
      const matched = needle === undefined ? stages : stages.filter((s) => s.name.toLowerCase().includes(needle));
      const order = new Map(stages.map((s, i) => [s.id, i]));
      // A position means something within its pipeline: sorted by it, pipelines stay together.
      const pipelines = [...new Set(stages.map((s) => s.pipeline?.id))];
      const place = (s: Stage) => pipelines.indexOf(s.pipeline?.id) * 1e6 + s.position;
      const key = (s: Stage): string | number | undefined =>
        query.sort_by === 'name' ? s.name.toLowerCase() : query.sort_by === 'created_at' ? s.created_at : query.sort_by === 'updated_at' ? s.updated_at : place(s);
      const sorted = sortLocally(matched, key, query.sort_direction, (a, b) => order.get(a.id)! - order.get(b.id)!);
      const page = localPage(sorted, query.cursor, pageSize(query.limit));
      return incomplete ? { ...page, incomplete } : page;
    },

    async get(id: string, opts: CallOptions): Promise<Stage> {
      const key = parseStageId(id);
      const remote = { remote: opts.include_remote_data };
      if (key.kind === 'boardStage') {
        return toBoardStage(await orNotFound('stage', id, client.get<CapsuleStage>(path`/stages/${key.id}`, 'stage', undefined, opts.signal)), remote);
      }
      // The milestone itself, and its place in its pipeline from the directory, together.
      const [m, dir] = await together(opts.signal, [
        (signal) => orNotFound('stage', id, client.get<CapsuleMilestone>(path`/milestones/${key.id}`, 'milestone', undefined, signal)),
        (signal) => ctx.milestones.resolve([key.id], signal),
      ] as const);
      const known = dir.get(key.id);
      const pipeline = known?.pipeline ?? (m.pipeline ? { id: m.pipeline.id, name: m.pipeline.name } : undefined);
      if (!pipeline) {
        const stage = toMilestoneStage({ ...m, pipeline: { id: 0 }, position: 0 }, remote);
        return { ...stage, pipeline: null };
      }
      return toMilestoneStage({ ...m, pipeline, position: known?.position ?? 0 }, remote);
    },
  };
}
