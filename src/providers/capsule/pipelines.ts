/**
 * Capsule pipelines: its sales pipelines (ids "12") and its project boards ("board-34"), read
 * only. `get` answers with the pipeline and its ordered stages, and for a sales pipeline its open
 * deals per milestone, in one round trip of wall time.
 */
import { path } from '../../crm/http.js';
import type { Pipeline, StageWithDeals } from '../../crm/model.js';
import { PARTIAL_PIPELINE, completeItems, incompleteListing, localPage } from '../../crm/paginate.js';
import { together } from '../../crm/parallel.js';
import type { CallOptions, CrudOperations, Page, PageQuery, PipelineInput } from '../../crm/provider.js';
import { tallyOpenDeals } from '../../crm/records.js';
import { orNotFound, pageSize, search } from './client.js';
import type { Ctx } from './directory.js';
import {
  dealConditions,
  parsePipelineId,
  toBoardPipeline,
  toBoardStage,
  toMilestoneStage,
  toPipeline,
  type CapsuleBoard,
  type CapsuleMilestone,
  type CapsuleOpportunity,
  type CapsulePipeline,
  type CapsuleStage,
} from './map.js';

export function pipelineOps(ctx: Ctx): CrudOperations<Pipeline, PageQuery, PipelineInput> {
  const { client } = ctx;

  async function salesPipeline(pid: number, id: string, opts: CallOptions): Promise<Pipeline> {
    const [pipeline, milestoneWalk, dealWalk] = await together(opts.signal, [
      (signal) => orNotFound('pipeline', id, client.get<CapsulePipeline>(path`/pipelines/${pid}`, 'pipeline', undefined, signal)),
      (signal) => client.walk<CapsuleMilestone>({ path: path`/pipelines/${pid}/milestones`, key: 'milestones' }, signal),
      (signal) => client.walk<CapsuleOpportunity>(search('opportunities', 'opportunities', dealConditions({ pipeline_id: id, status: 'open' })), signal),
    ] as const);
    // Partial stages or sums would read as the truth: refuse them instead.
    const milestones = completeItems(milestoneWalk, 'Capsule', `the milestones of pipeline ${id}`, PARTIAL_PIPELINE.stages);
    const open = completeItems(dealWalk, 'Capsule', `the open deals of pipeline ${id}`, PARTIAL_PIPELINE.openDeals);
    const own = new Set(milestones.map((m) => m.id));
    const { byStage, total } = tallyOpenDeals(open, (d) =>
      d.closedOn || !own.has(d.milestone.id) ? undefined : { stage: d.milestone.id, amount: d.value?.amount, currency: d.value?.currency },
    );
    const self = { id: pipeline.id, name: pipeline.name };
    const stages: StageWithDeals[] = milestones.map((m, i) => {
      const entry = { ...m, pipeline: self, position: i + 1 };
      ctx.milestones.put(entry);
      return { ...toMilestoneStage(entry, { remote: opts.include_remote_data }), open_deals: byStage.get(m.id) ?? { count: 0, values: {} } };
    });
    return { ...toPipeline(pipeline, { remote: opts.include_remote_data }), stages, open_deals: total };
  }

  async function board(bid: number, id: string, opts: CallOptions): Promise<Pipeline> {
    const [b, stageWalk] = await together(opts.signal, [
      (signal) => orNotFound('pipeline', id, client.get<CapsuleBoard>(path`/boards/${bid}`, 'board', undefined, signal)),
      (signal) => client.walk<CapsuleStage>({ path: path`/boards/${bid}/stages`, key: 'stages' }, signal),
    ] as const);
    const stages = completeItems(stageWalk, 'Capsule', `the stages of board ${id}`, PARTIAL_PIPELINE.stages)
      .map((s) => toBoardStage(s, { remote: opts.include_remote_data }))
      .sort((a, c) => a.position - c.position);
    // A board holds projects, not deals: no open deals to count.
    return { ...toBoardPipeline(b, { remote: opts.include_remote_data }), stages };
  }

  return {
    /** Sales pipelines first, then project boards; both are short, so listed whole and paged here. */
    async list(query: PageQuery, opts: CallOptions): Promise<Page<Pipeline>> {
      const [pipelines, boards] = await together(opts.signal, [
        (signal) => client.walk<CapsulePipeline>({ path: path`/pipelines`, key: 'pipelines' }, signal),
        (signal) => client.walk<CapsuleBoard>({ path: path`/boards`, key: 'boards' }, signal),
      ] as const);
      const all = [
        ...pipelines.items.map((p) => toPipeline(p, { remote: opts.include_remote_data })),
        ...boards.items.map((b) => toBoardPipeline(b, { remote: opts.include_remote_data })),
      ];
      const page = localPage(all, query.cursor, pageSize(query.limit));
      const cut = pipelines.stopped ? incompleteListing(pipelines, 'Capsule', 'pipelines') : boards.stopped ? incompleteListing(boards, 'Capsule', 'boards') : undefined;
      return cut ? { ...page, incomplete: cut } : page;
    },

    async get(id: string, opts: CallOptions): Promise<Pipeline> {
      const key = parsePipelineId(id);
      return key.kind === 'board' ? board(key.id, id, opts) : salesPipeline(key.id, id, opts);
    },
  };
}
