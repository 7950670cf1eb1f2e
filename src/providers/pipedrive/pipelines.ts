/**
 * Pipedrive pipelines (API v2). `get` answers with the pipeline, its ordered stages and its open
 * deals per stage in one round trip of wall time.
 */
import { CrmError } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Pipeline, Ref, StageWithDeals } from '../../crm/model.js';
import { PARTIAL_PIPELINE, completeItems } from '../../crm/paginate.js';
import { together } from '../../crm/parallel.js';
import { requireChange } from '../../crm/records.js';
import type { CallOptions, CrudOperations, Page, PageQuery, PipelineInput, PreparedWrite } from '../../crm/provider.js';
import { TOKEN_COST, deletedError, orNotFound, pageSize } from './client.js';
import type { Ctx } from './directory.js';
import {
  fromPipelineInput,
  nativeId,
  summarizeOpenDeals,
  toPipeline,
  toStage,
  type PdDeal,
  type PdPipeline,
  type PdStage,
} from './map.js';

export function pipelineOps(ctx: Ctx): CrudOperations<Pipeline, PageQuery, PipelineInput> {
  const { client, dir } = ctx;
  return {
    async list(query: PageQuery, opts: CallOptions): Promise<Page<Pipeline>> {
      const page = await client.page<PdPipeline>(
        path`/api/v2/pipelines`,
        {},
        { size: pageSize(query.limit), cursor: query.cursor },
        TOKEN_COST.v2List,
        opts.signal,
      );
      for (const p of page.items) dir.pipelines.put(p);
      return { items: page.items.map((p) => toPipeline(p, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
    },

    async get(id: string, opts: CallOptions): Promise<Pipeline> {
      const pid = nativeId(id, 'pipeline', 'list_pipelines');
      // Pipeline, its stages and its open deals in one round trip of wall time. API v2 has no
      // per-stage deal summary (v1 /pipelines/{id}/deals?get_summary is out of support and
      // /v1/deals/summary has no per-stage split), so open deals are summed from /api/v2/deals.
      const [pipeline, stageWalk, dealWalk] = await together(opts.signal, [
        (signal) => orNotFound('pipeline', id, client.read<PdPipeline>(path`/api/v2/pipelines/${pid}`, undefined, TOKEN_COST.v2Get, signal)),
        (signal) =>
          client.walk<PdStage>(path`/api/v2/stages`, { pipeline_id: pid, sort_by: 'order_nr', sort_direction: 'asc' }, TOKEN_COST.v2List, {
            signal,
            onProgress: opts.onProgress,
            what: `the stages of pipeline ${pid}`,
          }),
        // Summing open deals may take many pages: each one is reported.
        (signal) =>
          client.walk<PdDeal>(path`/api/v2/deals`, { pipeline_id: pid, status: 'open' }, TOKEN_COST.v2DealsList, {
            signal,
            onProgress: opts.onProgress,
            what: `the open deals of pipeline ${pid}`,
          }),
      ] as const);
      const p = pipeline.data;
      if (p.is_deleted) throw deletedError('pipeline', id);
      // Partial stages or sums would read as the truth: refuse them instead.
      const stages = completeItems(stageWalk, 'Pipedrive', `the stages of pipeline ${id}`, PARTIAL_PIPELINE.stages);
      const openDeals = completeItems(dealWalk, 'Pipedrive', `the open deals of pipeline ${id}`, PARTIAL_PIPELINE.openDeals);
      dir.pipelines.put(p);
      const { byStage, total } = summarizeOpenDeals(openDeals);
      const ref = new Map([[p.id, p.name]]);
      const ordered: StageWithDeals[] = stages
        .filter((s) => s.pipeline_id === p.id)
        .sort((a, b) => a.order_nr - b.order_nr || a.id - b.id)
        .map((s) => ({
          ...toStage(s, { pipelines: ref }, { remote: opts.include_remote_data }),
          open_deals: byStage.get(s.id) ?? { count: 0, values: {} },
        }));
      return { ...toPipeline(p, { remote: opts.include_remote_data }), stages: ordered, open_deals: total };
    },

    async create(input: PipelineInput, opts): Promise<PreparedWrite<Pipeline>> {
      const body = fromPipelineInput(input);
      if (body.name === undefined) {
        throw new CrmError('validation', 'Pipedrive requires `name` to create a pipeline.');
      }
      return client.prepareWrite({ method: 'POST', path: path`/api/v2/pipelines`, body, signal: opts.signal }, (created: PdPipeline) => {
        dir.pipelines.put(created);
        return toPipeline(created, { remote: opts.include_remote_data });
      });
    },

    async update(id: string, patch: PipelineInput, opts): Promise<PreparedWrite<Pipeline>> {
      const pid = nativeId(id, 'pipeline', 'list_pipelines');
      const body = fromPipelineInput(patch);
      requireChange(body, 'pipeline', ['name', 'is_deal_probability_enabled']);
      const write = { method: 'PATCH', path: path`/api/v2/pipelines/${pid}`, body, signal: opts.signal, record: { what: 'pipeline', id } } as const;
      return client.prepareWrite(write, (updated: PdPipeline) => {
        dir.pipelines.put(updated);
        return toPipeline(updated, { remote: opts.include_remote_data });
      });
    },

    async delete(id: string, opts): Promise<PreparedWrite<Ref>> {
      const pid = nativeId(id, 'pipeline', 'list_pipelines');
      return client.prepareDelete('pipeline', id, pid, path`/api/v2/pipelines/${pid}`, {
        signal: opts.signal,
        deleted: () => {
          dir.pipelines.invalidate();
          dir.stages.invalidate();
        },
      });
    },
  };
}
