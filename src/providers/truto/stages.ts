/**
 * Stages through Truto. Sorted here, never upstream: seed 000 documents `sort_by` for four
 * integrations only, without naming them, and a CRM that ignores it would return its own order as
 * if sorted. A pipeline's stages are few, so they are read whole and sorted and paged locally.
 */
import type { Stage } from '../../crm/model.js';
import { incompleteListing, localPage, sortLocally } from '../../crm/paginate.js';
import type { CallOptions, CrudOperations, Page, StageInput, StageQuery } from '../../crm/provider.js';
import { compact } from '../../crm/records.js';
import type { TrutoClient } from './client.js';
import { stageFromTruto, stageToTruto, type TrutoStage } from './map.js';
import { SCAN_PAGE, trutoResource } from './resource.js';

export const MAX_STAGE_PAGES = 20;

const stageFilters = (q: StageQuery) =>
  compact({
    pipeline: q.pipeline_id === undefined ? undefined : { id: q.pipeline_id },
    name: q.name,
    status: q.status,
  });

export function stageOps(client: TrutoClient): CrudOperations<Stage, StageQuery, StageInput> {
  return {
    ...trutoResource<Stage, TrutoStage, StageInput, StageQuery>(client, {
      resource: 'stages',
      noun: 'stage',
      listTool: 'list_stages',
      fromTruto: (s, o) => stageFromTruto(s, o),
      toTruto: stageToTruto,
      listParams: stageFilters,
    }),

    async list(q: StageQuery, opts: CallOptions): Promise<Page<Stage>> {
      const walk = await client.walk<TrutoStage>('stages', stageFilters(q), opts, SCAN_PAGE, MAX_STAGE_PAGES);
      const sortBy = q.sort_by ?? 'position';
      const key = (s: Stage): string | number | undefined =>
        sortBy === 'name' ? s.name.toLowerCase() : sortBy === 'position' ? s.position : s[sortBy];
      // Ties keep Truto's order (the sort is stable).
      const sorted = sortLocally(walk.items.map((s) => stageFromTruto(s, opts)), key, q.sort_direction, () => 0);
      const page = localPage(sorted, q.cursor, q.limit);
      return walk.stopped ? { ...page, incomplete: incompleteListing(walk, client.label, 'stages') } : page;
    },
  };
}
