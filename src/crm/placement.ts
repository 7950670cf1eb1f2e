/**
 * Where a deal may stand. A deal only moves to a stage of its own pipeline; an unknown or foreign
 * stage is an error that lists the pipeline's stages, never a silent "moved to the first stage".
 * Works over any provider that can list stages, so every CRM gets the same guarantee.
 */
import { CrmError, excerpt } from './errors.js';
import type { Deal, Stage } from './model.js';
import { incompleteListing, walkPages } from './paginate.js';
import type { CallOptions, CrmProvider } from './provider.js';

const MAX_STAGE_PAGES = 20;

interface PipelineStages {
  stages: Stage[];
  /** Set when the provider could not list them all: a stage missing from `stages` may still exist. */
  incomplete?: string;
}

export async function pipelineStages(provider: CrmProvider, pipelineId: string, opts: CallOptions): Promise<PipelineStages> {
  const list = provider.stages?.list;
  if (!list) return { stages: [] };
  let providerNote: string | undefined;
  const walk = await walkPages(async (cursor) => {
    const page = await list.call(
      provider.stages,
      { pipeline_id: pipelineId, limit: 500, cursor, sort_by: 'position', sort_direction: 'asc' },
      { signal: opts.signal },
    );
    // A provider that sorts locally may itself have read only part of the listing.
    providerNote ??= page.incomplete;
    return page;
  }, MAX_STAGE_PAGES);
  const stages = walk.items.filter((s) => !s.pipeline || s.pipeline.id === pipelineId).sort((a, b) => a.position - b.position);
  const incomplete =
    providerNote ?? (walk.stopped ? incompleteListing(walk, provider.label, `the stages of pipeline ${pipelineId}`) : undefined);
  return incomplete ? { stages, incomplete } : { stages };
}

const stageList = (stages: Stage[]) =>
  stages.length ? stages.map((s) => `${excerpt(s.name)} (${excerpt(s.id)})`).join(', ') : 'none (create one with create_stage)';

export interface Placement {
  pipeline_id: string;
  stage_id: string;
}

/**
 * Resolves the pipeline and stage a deal will stand in after a create or update, or throws a
 * validation error naming the valid stages.
 */
export async function resolvePlacement(
  provider: CrmProvider,
  request: { pipeline_id?: string; stage_id?: string },
  current: Deal | undefined,
  opts: CallOptions,
): Promise<Placement | undefined> {
  const { pipeline_id, stage_id } = request;
  if (pipeline_id === undefined && stage_id === undefined) {
    if (!current) {
      throw new CrmError(
        'validation',
        'create_deal needs stage_id (and optionally pipeline_id): call get_pipeline or list_stages to pick the stage the deal starts in.',
      );
    }
    return undefined;
  }
  const deal = current ? `deal ${excerpt(current.name)} (${excerpt(current.id)})` : 'the new deal';

  if (stage_id === undefined) {
    // A pipeline without a stage would leave the CRM to pick one: refuse instead of guessing.
    const { stages } = await knownStages(provider, pipeline_id!, opts);
    throw new CrmError(
      'validation',
      `To put ${deal} in pipeline ${excerpt(pipeline_id)}, also pass stage_id, one of its stages: ${stageList(stages)}.`,
    );
  }

  // Without a way to list stages nothing can be checked; every provider here has one.
  if (!provider.stages?.list) return pipeline_id === undefined ? undefined : { pipeline_id, stage_id };
  const targetPipeline = pipeline_id ?? (await stagePipeline(provider, stage_id, current, opts));
  const { stages, incomplete } = await knownStages(provider, targetPipeline, opts);
  if (!stages.some((s) => s.id === stage_id)) {
    const where =
      current && pipeline_id === undefined
        ? `${excerpt(current.pipeline.name ?? 'pipeline')} (${excerpt(targetPipeline)}), the pipeline of ${deal}`
        : `pipeline ${excerpt(targetPipeline)}`;
    if (incomplete) {
      // The stage may be on a page that could not be read: neither accept nor refuse it.
      throw new CrmError('upstream', `${incomplete} So crm-mcp cannot check that stage '${excerpt(stage_id)}' is in ${where}; nothing was changed. Try again later.`);
    }
    throw new CrmError(
      'validation',
      `Stage '${excerpt(stage_id)}' is not a stage of ${where}. Its stages: ${stageList(stages)}. ` +
        'To move a deal to another pipeline, pass pipeline_id together with a stage of that pipeline.',
    );
  }
  return { pipeline_id: targetPipeline, stage_id };
}

/**
 * The stages of a pipeline that must exist. An empty list is never taken as "anything goes": it
 * means an unknown pipeline or one without stages, and both are errors.
 */
async function knownStages(provider: CrmProvider, pipelineId: string, opts: CallOptions): Promise<PipelineStages> {
  const known = await pipelineStages(provider, pipelineId, opts);
  if (known.stages.length) return known;
  if (known.incomplete) throw new CrmError('upstream', `${known.incomplete} Try again later.`);
  const get = provider.pipelines?.get;
  if (get) await get.call(provider.pipelines, pipelineId, { signal: opts.signal }); // not_found for an unknown id
  throw new CrmError(
    'validation',
    `Pipeline '${excerpt(pipelineId)}' has no stages, so no deal can stand in it; add one with create_stage, or call list_pipelines for the others.`,
  );
}

/**
 * The pipeline a deal moves within when no pipeline_id is given: the deal's own. A deal whose
 * record names no pipeline (some CRMs behind Truto) is placed by its current stage's pipeline.
 * For a new deal, the pipeline of the stage it starts in.
 */
async function stagePipeline(
  provider: CrmProvider,
  stageId: string,
  current: Deal | undefined,
  opts: CallOptions,
): Promise<string> {
  if (current?.pipeline.id) return current.pipeline.id;
  const get = provider.stages?.get;
  const probe = current ? current.stage.id : stageId;
  const stage = get && probe ? await get.call(provider.stages, probe, { signal: opts.signal }) : undefined;
  if (!stage?.pipeline?.id) {
    const whose = current ? `deal ${excerpt(current.name)} (${excerpt(current.id)}) is in` : `stage '${excerpt(stageId)}' belongs to`;
    throw new CrmError('validation', `Cannot tell which pipeline ${whose}; pass pipeline_id together with stage_id.`);
  }
  return stage.pipeline.id;
}
