/**
 * Insightly pipeline stages (GET /PipelineStages, /PipelineStages/{id}: read-only in the API).
 * Insightly lists every stage of every pipeline and filters by nothing, so the list is read whole
 * (a handful of pages at most) and filtered, sorted and paged here.
 */
import { CrmError } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Stage } from '../../crm/model.js';
import { namesOf } from '../../crm/names.js';
import { incompleteListing, localPage, sortLocally } from '../../crm/paginate.js';
import type { CallOptions, CrudOperations, Page, StageInput, StageQuery } from '../../crm/provider.js';
import { orNotFound, pageSize } from './client.js';
import { stageEntry, type Ctx } from './directory.js';
import { nativeId, toStage, type IlStage } from './map.js';

export function stageOps(ctx: Ctx): CrudOperations<Stage, StageQuery, StageInput> {
  const { client, dir } = ctx;

  const named = async (stages: readonly IlStage[], opts: CallOptions): Promise<Stage[]> => {
    const pipelines = namesOf(await dir.pipelines.resolve(stages.map((s) => s.PIPELINE_ID), opts.signal));
    return stages.map((s) => toStage(s, { pipelines }, { remote: opts.include_remote_data }));
  };

  return {
    async list(query: StageQuery, opts: CallOptions): Promise<Page<Stage>> {
      if (query.sort_by === 'created_at' || query.sort_by === 'updated_at') {
        throw new CrmError('unsupported', 'Insightly pipeline stages carry no dates; sort_by takes position or name.');
      }
      const pid = query.pipeline_id === undefined ? undefined : nativeId(query.pipeline_id, 'pipeline', 'list_pipelines');
      // Pipeline names load while the stages are read.
      dir.pipelines.all(opts.signal).catch(() => undefined);
      const walk = await client.walk<IlStage>({ path: '/PipelineStages' }, (s) => String(s.STAGE_ID), opts.signal);
      for (const s of walk.items) dir.stages.put(stageEntry(s));
      const needle = query.name?.trim().toLowerCase();
      const matched = walk.items.filter(
        (s) =>
          (pid === undefined || s.PIPELINE_ID === pid) &&
          (needle === undefined || s.STAGE_NAME.toLowerCase().includes(needle)) &&
          // Every Insightly stage is active: there is no other state.
          (query.status === undefined || query.status === 'active'),
      );
      const sorted = sortLocally(
        matched,
        (s) => (query.sort_by === 'name' ? s.STAGE_NAME.toLowerCase() : query.sort_by === 'position' ? s.STAGE_ORDER : undefined),
        query.sort_direction,
        // Unsorted: by pipeline, then position, as Insightly's settings show them.
        (a, b) => a.PIPELINE_ID - b.PIPELINE_ID || a.STAGE_ORDER - b.STAGE_ORDER || a.STAGE_ID - b.STAGE_ID,
      );
      const page = localPage(sorted, query.cursor, pageSize(query.limit));
      return {
        items: await named(page.items, opts),
        next_cursor: page.next_cursor,
        ...(walk.stopped ? { incomplete: incompleteListing(walk, 'Insightly', 'stages') } : {}),
      };
    },

    async get(id: string, opts: CallOptions): Promise<Stage> {
      const sid = nativeId(id, 'stage', 'list_stages');
      dir.pipelines.all(opts.signal).catch(() => undefined);
      const stage = await orNotFound('stage', id, client.get<IlStage>(path`/PipelineStages/${sid}`, opts.signal));
      dir.stages.put(stageEntry(stage));
      return (await named([stage], opts))[0];
    },
  };
}
