/**
 * Outreach's two fixed pipelines: `prospects` (prospect stages) and `opportunities` (opportunity
 * stages, where deals stand). Listing them costs no request; Outreach has nothing to create,
 * rename or delete, so those tools are refused by the capabilities. `get` answers with the ordered
 * stages and, for `opportunities`, the open deals per stage.
 */
import type { Pipeline, StageWithDeals } from '../../crm/model.js';
import { PARTIAL_PIPELINE, completeItems, localPage, type Walk } from '../../crm/paginate.js';
import { together } from '../../crm/parallel.js';
import type { CallOptions, CrudOperations, Page, PageQuery, PipelineInput } from '../../crm/provider.js';
import { tallyOpenDeals } from '../../crm/records.js';
import { OPPORTUNITIES, pageSize, type OutreachClient } from './client.js';
import type { Ctx } from './directory.js';
import {
  PIPELINE_KEYS,
  amountOf,
  dealStatus,
  opportunityStageId,
  pipelineKey,
  toPipeline,
  toStage,
  type OrOpportunity,
  type OrOpportunityStage,
  type OrStage,
} from './map.js';
import { STAGE_COLLECTION } from './stages.js';

/** Only what a sum needs of each open deal. */
const SUM_FIELDS = { fields: { opportunity: 'amount,amountPrecise,currencyType,opportunityStage' } };

/** Every deal in these stages (none asked for when there are none), page by page with progress when asked. */
function dealsIn(client: OutreachClient, stageIds: number[], opts: CallOptions): Promise<Walk<OrOpportunity>> {
  if (!stageIds.length) return Promise.resolve({ items: [], pages: 0 });
  return client.walk<OrOpportunity>(OPPORTUNITIES, { filter: { stage: { id: stageIds.join(',') } }, ...SUM_FIELDS }, opts.signal, {
    onProgress: opts.onProgress,
    what: 'open deals',
  });
}

export function pipelineOps(ctx: Ctx): CrudOperations<Pipeline, PageQuery, PipelineInput> {
  const { client } = ctx;

  const stagesOf = (key: 'prospects' | 'opportunities', signal?: AbortSignal) =>
    client.walk<OrStage>(STAGE_COLLECTION[key], { sort: 'order' }, signal);

  /**
   * Opportunity stages with their open deals. Outreach filters deals by stage id, not by whether
   * the stage is closed, so the open stages must be known first: from a listing of the last minute
   * (then stages and deals go out together, one round trip), or from this call's own listing.
   */
  async function opportunityPipeline(opts: CallOptions): Promise<Pipeline> {
    const guess = ctx.recentOpenStages();
    let stageWalk: Walk<OrStage>;
    let dealWalks: Array<Walk<OrOpportunity>> = [];
    if (guess) {
      const [s, d] = await together(opts.signal, [(signal) => stagesOf('opportunities', signal), (signal) => dealsIn(client, guess, { ...opts, signal })] as const);
      stageWalk = s;
      dealWalks.push(d);
    } else {
      stageWalk = await stagesOf('opportunities', opts.signal);
    }
    const stages = completeItems(stageWalk, 'Outreach', 'the stages of pipeline opportunities', PARTIAL_PIPELINE.stages) as OrOpportunityStage[];
    ctx.listedStages(stages);
    for (const s of stages) ctx.opportunityStages.put(s);
    const open = stages.filter((s) => dealStatus(s) === 'open').map((s) => s.id);
    // Stages opened since the guess (or all of them, without one).
    const unasked = open.filter((id) => !guess?.includes(id));
    if (unasked.length) dealWalks.push(await dealsIn(client, unasked, opts));
    dealWalks = dealWalks.filter((w) => w.pages > 0);
    const deals = dealWalks.flatMap((w) =>
      completeItems(w, 'Outreach', 'the open deals of pipeline opportunities', 'Their counts and values would be wrong, so none are shown; use list_deals with status open.'),
    );
    const openSet = new Set(open);
    const { byStage, total } = tallyOpenDeals(deals, (d) => {
      const stage = opportunityStageId(d);
      if (stage === undefined || !openSet.has(stage)) return undefined;
      return { stage, amount: amountOf(d.attributes ?? {}), currency: d.attributes?.currencyType };
    });
    const ordered: StageWithDeals[] = sortByOrder(stages).map((s) => ({
      ...toStage(s, 'opportunities', { remote: opts.include_remote_data }),
      open_deals: byStage.get(s.id) ?? { count: 0, values: {} },
    }));
    return { ...toPipeline('opportunities'), stages: ordered, open_deals: total };
  }

  return {
    async list(query: PageQuery): Promise<Page<Pipeline>> {
      return localPage(PIPELINE_KEYS.map(toPipeline), query.cursor, pageSize(query.limit));
    },

    async get(id: string, opts: CallOptions): Promise<Pipeline> {
      const key = pipelineKey(id);
      if (key === 'opportunities') return opportunityPipeline(opts);
      // Prospect stages hold prospects, not deals: no open deals to count.
      const stages = completeItems(await stagesOf('prospects', opts.signal), 'Outreach', 'the stages of pipeline prospects', PARTIAL_PIPELINE.stages);
      return { ...toPipeline('prospects'), stages: sortByOrder(stages).map((s) => toStage(s, 'prospects', { remote: opts.include_remote_data })) };
    },
  };
}

/** Outreach's display order, then id: the walk asked for `sort=order`, this makes ties stable. */
const sortByOrder = <T extends OrStage>(stages: T[]): T[] =>
  [...stages].sort((a, b) => (a.attributes?.order ?? 0) - (b.attributes?.order ?? 0) || a.id - b.id);
