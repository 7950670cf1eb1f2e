/**
 * Insightly pipelines (GET /Pipelines, /Pipelines/{id}: read-only in the API). A pipeline holds
 * either opportunities or projects (FOR_OPPORTUNITIES / FOR_PROJECTS), and its name says which.
 * `get` answers with the pipeline, its ordered stages and, for an opportunity pipeline, its open
 * deals per stage, in one round trip of wall time.
 */
import { path } from '../../crm/http.js';
import type { Pipeline, StageWithDeals } from '../../crm/model.js';
import { PARTIAL_PIPELINE, completeItems } from '../../crm/paginate.js';
import { together } from '../../crm/parallel.js';
import type { CallOptions, CrudOperations, Page, PageQuery, PipelineInput } from '../../crm/provider.js';
import { OPPORTUNITIES, orNotFound } from './client.js';
import { pipelineEntry, stageEntry, type Ctx } from './directory.js';
import { nativeId, summarizeOpenDeals, toPipeline, toStage, type IlOpportunity, type IlPipeline, type IlStage } from './map.js';

export function pipelineOps(ctx: Ctx): CrudOperations<Pipeline, PageQuery, PipelineInput> {
  const { client, dir } = ctx;
  return {
    async list(query: PageQuery, opts: CallOptions): Promise<Page<Pipeline>> {
      const page = await client.page<IlPipeline>(
        { path: '/Pipelines', key: (p) => String(p.PIPELINE_ID), what: 'pipelines' },
        query,
        opts.signal,
      );
      for (const p of page.items) dir.pipelines.put(pipelineEntry(p));
      return { ...page, items: page.items.map((p) => toPipeline(p, { remote: opts.include_remote_data })) };
    },

    async get(id: string, opts: CallOptions): Promise<Pipeline> {
      const pid = nativeId(id, 'pipeline', 'list_pipelines');
      // The pipeline, every stage (Insightly filters stages by nothing) and the pipeline's
      // opportunities, together: a projects pipeline simply has none.
      const [pipeline, stageWalk, dealWalk] = await together(opts.signal, [
        (signal) => orNotFound('pipeline', id, client.get<IlPipeline>(path`/Pipelines/${pid}`, signal)),
        (signal) => client.walk<IlStage>({ path: '/PipelineStages' }, (s) => String(s.STAGE_ID), signal),
        (signal) =>
          client.walk<IlOpportunity>(
            { path: '/Opportunities/Search', query: { field_name: 'PIPELINE_ID', field_value: pid, brief: true } },
            (o) => String(o.OPPORTUNITY_ID),
            signal,
          ),
      ] as const);
      // Partial stages or sums would read as the truth: refuse them instead.
      const stages = completeItems(stageWalk, 'Insightly', 'pipeline stages', `Try get_pipeline again later, or list_stages with pipeline_id ${id}.`);
      dir.pipelines.put(pipelineEntry(pipeline));
      for (const s of stages) dir.stages.put(stageEntry(s));
      const forDeals = pipeline[OPPORTUNITIES.pipelineFlag] === true;
      const tally = forDeals
        ? summarizeOpenDeals(
            completeItems(dealWalk, 'Insightly', `the opportunities of pipeline ${id}`, PARTIAL_PIPELINE.openDeals),
            pid,
          )
        : undefined;
      const self = toPipeline(pipeline, { remote: opts.include_remote_data });
      const names = { pipelines: new Map([[pid, self.name]]) };
      const ordered: StageWithDeals[] = stages
        .filter((s) => s.PIPELINE_ID === pid)
        .sort((a, b) => a.STAGE_ORDER - b.STAGE_ORDER || a.STAGE_ID - b.STAGE_ID)
        .map((s) => ({
          ...toStage(s, names, { remote: opts.include_remote_data }),
          ...(tally ? { open_deals: tally.byStage.get(s.STAGE_ID) ?? { count: 0, values: {} } } : {}),
        }));
      return { ...self, stages: ordered, ...(tally ? { open_deals: tally.total } : {}) };
    },
  };
}
