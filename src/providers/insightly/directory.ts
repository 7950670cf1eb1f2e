/**
 * Names for Insightly's records, so projects and deals read as names instead of bare ids:
 * pipelines, stages and users as whole collections (crm/names.ts, short TTL). Listing every user
 * may need an administrator's key, so users degrade to ids on a 403. Also the context every
 * resource file of this folder works with.
 */
import type { Logger } from '../../log.js';
import { NameDirectory, namesOf } from '../../crm/names.js';
import { afterWrite } from '../../crm/writes.js';
import type { CallOptions, Page } from '../../crm/provider.js';
import type { InsightlyClient, Listing } from './client.js';
import { ownerOf, pipelineName, userName, type IlPipeline, type IlStage, type IlUser, type Names } from './map.js';

export interface PipelineEntry {
  id: number;
  name: string;
  native: IlPipeline;
}

export interface StageEntry {
  id: number;
  name: string;
  native: IlStage;
}

export interface Directory {
  pipelines: NameDirectory<number, PipelineEntry>;
  stages: NameDirectory<number, StageEntry>;
  users: NameDirectory<number, { id: number; name: string }>;
}

/** What every resource file of the Insightly provider works with. */
export interface Ctx {
  client: InsightlyClient;
  dir: Directory;
  logger?: Logger;
}

export const pipelineEntry = (p: IlPipeline): PipelineEntry => ({ id: p.PIPELINE_ID, name: pipelineName(p), native: p });
export const stageEntry = (s: IlStage): StageEntry => ({ id: s.STAGE_ID, name: s.STAGE_NAME, native: s });

export function createDirectory(client: InsightlyClient, logger?: Logger): Directory {
  // Names only: a scan cut short leaves some ids without a name, which show as the bare id.
  const scan = async <T>(p: string, key: (x: T) => number) => (await client.walk<T>({ path: p }, (x) => String(key(x)))).items;
  const common = { provider: 'Insightly', logger };
  return {
    pipelines: new NameDirectory(async () => (await scan<IlPipeline>('/Pipelines', (p) => p.PIPELINE_ID)).map(pipelineEntry), common),
    stages: new NameDirectory(async () => (await scan<IlStage>('/PipelineStages', (s) => s.STAGE_ID)).map(stageEntry), common),
    users: new NameDirectory(
      async () => (await scan<IlUser>('/Users', (u) => u.USER_ID)).map((u) => ({ id: u.USER_ID, name: userName(u) })),
      { ...common, unreadable: 'cannot list users (an administrator key may be needed); owners will show ids only' },
    ),
  };
}

type Placed = { PIPELINE_ID?: number | null; STAGE_ID?: number | null; RESPONSIBLE_USER_ID?: number | null; OWNER_USER_ID?: number | null };

/** Pipeline, stage and owner names of projects or opportunities, from the directories (loaded together). */
export async function recordNames(ctx: Ctx, records: readonly Placed[], signal?: AbortSignal): Promise<Names> {
  const ids = (pick: (r: Placed) => number | null | undefined) => records.map(pick).filter((x): x is number => typeof x === 'number');
  const [pipelines, stages, users] = await Promise.all([
    ctx.dir.pipelines.resolve(ids((r) => r.PIPELINE_ID), signal),
    ctx.dir.stages.resolve(ids((r) => r.STAGE_ID), signal),
    ctx.dir.users.resolve(ids(ownerOf), signal),
  ]);
  return { pipelines: namesOf(pipelines), stages: namesOf(stages), users: namesOf(users) };
}

/**
 * Names for a record just written. Best effort: once Insightly has accepted the write, a failed
 * lookup must not turn it into an error that invites the caller to send it again.
 */
export function namesAfterWrite(ctx: Ctx, records: readonly Placed[], signal?: AbortSignal): Promise<Names> {
  return afterWrite(recordNames(ctx, records, signal), (e) => {
    ctx.logger?.warn({ err: (e as Error).message }, 'names unavailable after a write; showing ids');
    return {};
  });
}

/** Starts the directory loads while the main request is in flight; failures surface on use. */
export function preload(ctx: Ctx, signal?: AbortSignal): void {
  for (const load of [ctx.dir.pipelines.all(signal), ctx.dir.stages.all(signal), ctx.dir.users.all(signal)]) load.catch(() => undefined);
}

/** One page of projects or opportunities with their names; the directories load alongside the page. */
export async function namedPage<N extends Placed, T>(
  ctx: Ctx,
  listing: Listing<N>,
  query: { limit: number; cursor?: string },
  opts: CallOptions,
  to: (record: N, names: Names) => T,
): Promise<Page<T>> {
  preload(ctx, opts.signal);
  const page = await ctx.client.page(listing, query, opts.signal);
  const names = await recordNames(ctx, page.items, opts.signal);
  return { ...page, items: page.items.map((r) => to(r, names)) };
}

/** One project or opportunity with its names. */
export async function namedRecord<N extends Placed, T>(ctx: Ctx, read: Promise<N>, opts: CallOptions, to: (record: N, names: Names) => T): Promise<T> {
  preload(ctx, opts.signal);
  const record = await read;
  return to(record, await recordNames(ctx, [record], opts.signal));
}
