/**
 * What the Capsule resource files share: the client, and a short-lived directory of every sales
 * milestone with its pipeline and place. An opportunity names its milestone but not its pipeline,
 * so deals read their pipeline from here; so do get_stage (a milestone's place), status changes
 * (a pipeline's Won and Lost milestones) and the stage filter of list_deals.
 */
import type { Logger } from '../../log.js';
import { path } from '../../crm/http.js';
import { completeItems } from '../../crm/paginate.js';
import { NameDirectory } from '../../crm/names.js';
import type { Ref } from '../../crm/model.js';
import { afterWrite } from '../../crm/writes.js';
import type { CapsuleClient } from './client.js';
import type { CapsuleMilestone, CapsulePipeline, MilestoneEntry } from './map.js';

export interface Ctx {
  client: CapsuleClient;
  milestones: NameDirectory<number, MilestoneEntry>;
  logger?: Logger;
}

/** Every pipeline's milestones, listed by pipeline (one listing, then one per pipeline, together). */
export async function loadMilestones(client: CapsuleClient, signal?: AbortSignal): Promise<MilestoneEntry[]> {
  const what = 'Try again later, or list_stages with pipeline_id.';
  const pipelines = completeItems(await client.walk<CapsulePipeline>({ path: path`/pipelines`, key: 'pipelines' }, signal), 'Capsule', 'pipelines', what);
  const lists = await Promise.all(
    pipelines.map(async (p) => {
      const walk = await client.walk<CapsuleMilestone>({ path: path`/pipelines/${p.id}/milestones`, key: 'milestones' }, signal);
      return completeItems(walk, 'Capsule', `the milestones of pipeline ${p.id}`, what).map(
        (m, i): MilestoneEntry => ({ ...m, pipeline: { id: p.id, name: m.pipeline?.name ?? p.name }, position: i + 1 }),
      );
    }),
  );
  return lists.flat();
}

export function createCtx(client: CapsuleClient, logger?: Logger): Ctx {
  return { client, logger, milestones: new NameDirectory(() => loadMilestones(client), { provider: 'Capsule', logger }) };
}

/** The pipeline of each milestone among `ids`, by name (a refresh when one is unknown). */
export async function pipelinesOf(ctx: Ctx, ids: Iterable<number>, signal?: AbortSignal): Promise<Map<number, Ref>> {
  const dir = await ctx.milestones.resolve(ids, signal);
  return new Map(
    [...dir.values()].map((m) => [m.id, m.pipeline.name ? { id: String(m.pipeline.id), name: m.pipeline.name } : { id: String(m.pipeline.id) }]),
  );
}

/**
 * Pipelines for records just written. Best effort: once Capsule has accepted the write, a failed
 * lookup must not turn it into an error that invites the caller to send it again.
 */
export function pipelinesAfterWrite(ctx: Ctx, ids: number[], signal?: AbortSignal): Promise<Map<number, Ref>> {
  return afterWrite(pipelinesOf(ctx, ids, signal), (e) => {
    ctx.logger?.warn({ err: (e as Error).message }, 'pipelines unavailable after a write; showing the deal without one');
    return new Map();
  });
}
