/**
 * Pipelines through Truto. `get` answers with the pipeline, its ordered stages and, where the CRM
 * behind Truto has opportunities, the count and value of open deals per stage (DESIGN §5).
 */
import { isCrmError } from '../../crm/errors.js';
import type { Deal, Pipeline, Ref, Stage, StageWithDeals } from '../../crm/model.js';
import { PARTIAL_PIPELINE, completeItems } from '../../crm/paginate.js';
import { together } from '../../crm/parallel.js';
import type { CallOptions, CrudOperations, PageQuery, PipelineInput } from '../../crm/provider.js';
import type { TrutoClient } from './client.js';
import {
  OPPORTUNITY_UNUSED_FIELDS,
  dealFromTruto,
  pipelineFromTruto,
  pipelineToTruto,
  stageFromTruto,
  summarizeOpenDeals,
  type TrutoOpportunity,
  type TrutoPipeline,
  type TrutoStage,
} from './map.js';
import { SCAN_PAGE, trutoResource } from './resource.js';
import { MAX_STAGE_PAGES } from './stages.js';

/** Counting open deals is skipped beyond this many pages rather than reported wrong. */
const MAX_DEAL_PAGES = 10;

export function pipelineOps(client: TrutoClient): CrudOperations<Pipeline, PageQuery, PipelineInput> {
  const label = client.label;
  const records = trutoResource<Pipeline, TrutoPipeline, PipelineInput, PageQuery>(client, {
    resource: 'pipelines',
    noun: 'pipeline',
    listTool: 'list_pipelines',
    fromTruto: (p, o) => pipelineFromTruto(p, o),
    toTruto: pipelineToTruto,
    listParams: () => ({}),
  });

  /** Every stage of a pipeline, in order, for a pipeline whose record does not embed them. */
  async function allStages(pipelineId: string, pipeline: Ref, opts: CallOptions): Promise<Stage[]> {
    const walk = await client.walk<TrutoStage>(
      'stages',
      { pipeline: { id: pipelineId } },
      { signal: opts.signal, include_remote_data: opts.include_remote_data },
      SCAN_PAGE,
      MAX_STAGE_PAGES,
    );
    const raw = completeItems(walk, label, `the stages of pipeline ${pipelineId}`, PARTIAL_PIPELINE.stages);
    const out = raw.map((s, j) => stageFromTruto(s, opts, { position: j + 1, pipeline }));
    return out.filter((s) => !s.pipeline || s.pipeline.id === pipelineId).sort((a, b) => a.position - b.position);
  }

  /**
   * Open opportunities of a pipeline, or undefined when they cannot be counted exactly: the
   * integration has no opportunities, or there are more than MAX_DEAL_PAGES pages of them. A
   * repeated cursor is an error rather than a silent omission: the upstream is misbehaving.
   */
  async function openDeals(pipelineId: string, opts: CallOptions): Promise<Deal[] | undefined> {
    let walk;
    try {
      walk = await client.walk<TrutoOpportunity>(
        'opportunities',
        { pipeline: { id: pipelineId }, status: 'open' },
        // Progress follows the deals' pages: the one walk of get_pipeline that may be long.
        { signal: opts.signal, onProgress: opts.onProgress, exclude: OPPORTUNITY_UNUSED_FIELDS },
        SCAN_PAGE,
        MAX_DEAL_PAGES,
      );
    } catch (e) {
      // The CRM behind Truto may have no opportunities; the pipeline itself is still worth showing.
      if (isCrmError(e) && (e.kind === 'not_found' || e.kind === 'unsupported' || e.kind === 'validation')) return undefined;
      throw e;
    }
    if (walk.stopped === 'page_cap') return undefined;
    const raw = completeItems(walk, label, `the open deals of pipeline ${pipelineId}`, PARTIAL_PIPELINE.openDeals);
    return raw.map((o) => dealFromTruto(o));
  }

  return {
    ...records,
    async get(id: string, opts: CallOptions): Promise<Pipeline> {
      const [pipeline, open] = await together(opts.signal, [
        (signal) => records.get(id, { ...opts, signal }),
        (signal) => openDeals(id, { ...opts, signal }),
      ] as const);
      const self: Ref = pipeline.name ? { id: pipeline.id, name: pipeline.name } : { id: pipeline.id };
      const stageList = pipeline.stages ?? (await allStages(id, self, opts));
      const ordered = [...stageList].sort((a, b) => a.position - b.position);
      if (!open) return { ...pipeline, stages: ordered };
      const { byStage, total } = summarizeOpenDeals(open, id, new Set(ordered.map((s) => s.id)));
      const withDeals: StageWithDeals[] = ordered.map((s) => ({
        ...s,
        open_deals: byStage.get(s.id) ?? { count: 0, values: {} },
      }));
      return { ...pipeline, stages: withDeals, open_deals: total };
    },
  };
}
