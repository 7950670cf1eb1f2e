/**
 * Outreach stages: prospect stages (`/stages`, pipeline `prospects`) and opportunity stages
 * (`/opportunityStages`, pipeline `opportunities`), both with list, get, create, update and
 * delete. One pipeline's stages are listed, sorted and paged by Outreach; a name filter (Outreach
 * filters names by equality only) or both pipelines at once are done here over the whole lists,
 * which are short.
 */
import { CrmError } from '../../crm/errors.js';
import type { Ref, Stage } from '../../crm/model.js';
import { incompleteListing, localPage, sortLocally, type Walk } from '../../crm/paginate.js';
import { together } from '../../crm/parallel.js';
import type { CallOptions, CrudOperations, Page, PreparedWrite, StageInput, StageQuery } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { OPPORTUNITY_STAGES, STAGES, pageSize, type Collection } from './client.js';
import type { Ctx } from './directory.js';
import {
  PIPELINE_KEYS,
  fromStageInput,
  parseStageId,
  pipelineKey,
  stageId,
  toStage,
  type OrOpportunityStage,
  type OrStage,
  type PipelineKey,
} from './map.js';

/** Where each pipeline's stages live. */
export const STAGE_COLLECTION: Record<PipelineKey, Collection> = { prospects: STAGES, opportunities: OPPORTUNITY_STAGES };

/** The unified sort keys as Outreach's sortable stage attributes. */
const SORT: Record<NonNullable<StageQuery['sort_by']>, string> = {
  position: 'order',
  name: 'name',
  created_at: 'createdAt',
  updated_at: 'updatedAt',
};

const UPDATABLE = ['name', 'position', 'color'];

export function stageOps(ctx: Ctx): CrudOperations<Stage, StageQuery, StageInput> {
  const { client } = ctx;

  /** A whole listing of one pipeline's stages, in Outreach's order; opportunity stages also refresh the directory. */
  async function walkStages(key: PipelineKey, signal?: AbortSignal): Promise<Walk<OrStage>> {
    const walk = await client.walk<OrStage>(STAGE_COLLECTION[key], { sort: 'order' }, signal);
    if (key === 'opportunities' && !walk.stopped) ctx.listedStages(walk.items as OrOpportunityStage[]);
    return walk;
  }

  const written = (key: PipelineKey, opts: CallOptions) => (raw: OrStage) => {
    if (key === 'opportunities') ctx.opportunityStages.put(raw as OrOpportunityStage);
    return toStage(raw, key, { remote: opts.include_remote_data });
  };

  return {
    async list(query: StageQuery, opts: CallOptions): Promise<Page<Stage>> {
      if (query.status !== undefined) {
        throw new CrmError('unsupported', 'Outreach cannot filter stages by `status`: its stages have none (a stage exists or is deleted).');
      }
      const keys = query.pipeline_id === undefined ? PIPELINE_KEYS : [pipelineKey(query.pipeline_id)];
      const remote = opts.include_remote_data;
      if (keys.length === 1 && query.name === undefined) {
        const [key] = keys;
        const by = SORT[query.sort_by ?? 'position'];
        const page = await client.page<OrStage>(
          STAGE_COLLECTION[key],
          { sort: query.sort_direction === 'desc' ? `-${by}` : by },
          { size: pageSize(query.limit), cursor: query.cursor },
          opts.signal,
        );
        if (key === 'opportunities') for (const s of page.items) ctx.opportunityStages.put(s as OrOpportunityStage);
        return { items: page.items.map((s) => toStage(s, key, { remote })), next_cursor: page.next_cursor };
      }

      // Both pipelines, or a name filter: the whole lists, filtered, sorted and paged here.
      const walks = await together(
        opts.signal,
        keys.map((key) => (signal: AbortSignal) => walkStages(key, signal)),
      );
      const needle = query.name?.trim().toLowerCase();
      const all = keys.flatMap((key, i) => walks[i].items.map((s) => toStage(s, key, { remote })));
      const matched = needle === undefined ? all : all.filter((s) => s.name.toLowerCase().includes(needle));
      const sortBy = query.sort_by ?? 'position';
      const key = (s: Stage): string | number | undefined =>
        sortBy === 'name' ? s.name.toLowerCase() : sortBy === 'position' ? s.position : sortBy === 'created_at' ? s.created_at : s.updated_at;
      // Ties: prospect stages before opportunity stages, then by Outreach id.
      const tie = (a: Stage, b: Stage) => keys.indexOf(pipelineKey(a.pipeline!.id)) - keys.indexOf(pipelineKey(b.pipeline!.id)) || parseStageId(a.id).id - parseStageId(b.id).id;
      const page = localPage(sortLocally(matched, key, query.sort_direction, tie), query.cursor, pageSize(query.limit));
      const stopped = walks.find((w) => w.stopped);
      return { ...page, ...(stopped ? { incomplete: incompleteListing(stopped, 'Outreach', 'stages') } : {}) };
    },

    async get(id: string, opts: CallOptions): Promise<Stage> {
      const { pipeline, id: nid } = parseStageId(id);
      const { data } = await client.read<OrStage>(STAGE_COLLECTION[pipeline], nid, id, undefined, opts.signal);
      if (pipeline === 'opportunities') ctx.opportunityStages.put(data as OrOpportunityStage);
      return toStage(data, pipeline, { remote: opts.include_remote_data });
    },

    async create(input: StageInput, opts): Promise<PreparedWrite<Stage>> {
      if (input.pipeline_id === undefined || input.name === undefined) {
        throw new CrmError('validation', 'Outreach requires `pipeline_id` (prospects or opportunities) and `name` to create a stage.');
      }
      const key = pipelineKey(input.pipeline_id);
      const body = fromStageInput({ ...input, pipeline_id: undefined });
      return client.prepareWrite(STAGE_COLLECTION[key], { body, signal: opts.signal }, written(key, opts));
    },

    async update(id: string, patch: StageInput, opts): Promise<PreparedWrite<Stage>> {
      const { pipeline, id: nid } = parseStageId(id);
      if (patch.pipeline_id !== undefined) {
        throw new CrmError('unsupported', 'Outreach cannot move a stage to the other pipeline: create it there and delete this one.');
      }
      const body = fromStageInput(patch);
      requireChange(body.attributes ?? {}, 'stage', UPDATABLE);
      return client.prepareWrite(STAGE_COLLECTION[pipeline], { id: { native: nid, shown: id }, body, signal: opts.signal }, written(pipeline, opts));
    },

    async delete(id: string, opts): Promise<PreparedWrite<Ref>> {
      const { pipeline, id: nid } = parseStageId(id);
      return client.prepareDelete(STAGE_COLLECTION[pipeline], nid, stageId(pipeline, nid), opts.signal, () => {
        if (pipeline === 'opportunities') ctx.opportunityStages.invalidate();
      });
    },
  };
}
