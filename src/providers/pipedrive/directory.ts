/**
 * Names for Pipedrive's records, so deals and stages read as names instead of bare ids: pipelines,
 * stages and users as whole collections, organizations by id (crm/names.ts, short TTL). Users and
 * organizations degrade to ids for a token that may not read them (an OAuth token without
 * users:read or contacts:read). Also the context every resource file of this folder works with.
 */
import type { Logger } from '../../log.js';
import { path } from '../../crm/http.js';
import { NameDirectory, NameLookup, namesOf } from '../../crm/names.js';
import { afterWrite } from '../../crm/writes.js';
import { TOKEN_COST, type PipedriveClient } from './client.js';
import type { Names, PdDeal, PdOrganization, PdPipeline, PdStage, PdUser } from './map.js';

export interface Directory {
  pipelines: NameDirectory<number, PdPipeline>;
  stages: NameDirectory<number, PdStage>;
  users: NameDirectory<number, PdUser>;
  orgs: NameLookup<number>;
}

/** What every resource file of the Pipedrive provider works with. */
export interface Ctx {
  client: PipedriveClient;
  dir: Directory;
  logger?: Logger;
}

/** Organizations asked for in one `ids=` request. */
const ORG_BATCH = 100;

export function createDirectory(client: PipedriveClient, logger?: Logger): Directory {
  // Names only: a scan cut short leaves some ids without a name, which is shown as the bare id.
  const scan = async <T>(p: string) => (await client.walk<T>(p, {}, TOKEN_COST.v2List)).items;
  const common = { provider: 'Pipedrive', logger };
  return {
    pipelines: new NameDirectory(() => scan<PdPipeline>(path`/api/v2/pipelines`), common),
    stages: new NameDirectory(() => scan<PdStage>(path`/api/v2/stages`), common),
    users: new NameDirectory(
      async () => {
        const env = await client.read<PdUser[]>(path`/api/v1/users`, undefined, TOKEN_COST.v1Users);
        return Array.isArray(env.data) ? env.data : [];
      },
      { ...common, unreadable: 'cannot read users; owners will show ids only' },
    ),
    // Organizations are many, so they are fetched by id and cached per id.
    orgs: new NameLookup<number>({
      ...common,
      batch: ORG_BATCH,
      unreadable: 'cannot read organizations; accounts will show ids only',
      fetch: async (ids, signal) =>
        (
          await client.page<PdOrganization>(
            path`/api/v2/organizations`,
            { ids: ids.join(',') },
            { size: ids.length },
            TOKEN_COST.v2OrganizationsList,
            signal,
          )
        ).items,
    }),
  };
}

export async function dealNames(ctx: Ctx, deals: readonly PdDeal[], signal?: AbortSignal): Promise<Names> {
  const ids = (pick: (d: PdDeal) => number | null | undefined) =>
    deals.map(pick).filter((x): x is number => typeof x === 'number');
  const [pipelines, stages, users, orgs] = await Promise.all([
    ctx.dir.pipelines.resolve(ids((d) => d.pipeline_id), signal),
    ctx.dir.stages.resolve(ids((d) => d.stage_id), signal),
    ctx.dir.users.resolve(ids((d) => d.owner_id), signal),
    ctx.dir.orgs.resolve(ids((d) => d.org_id), signal),
  ]);
  return { pipelines: namesOf(pipelines), stages: namesOf(stages), users: namesOf(users), orgs };
}

export async function stageNames(ctx: Ctx, stages: readonly PdStage[], signal?: AbortSignal): Promise<Names> {
  const pipelines = await ctx.dir.pipelines.resolve(stages.map((s) => s.pipeline_id), signal);
  return { pipelines: namesOf(pipelines) };
}

/**
 * Names for a record just written. Best effort: once Pipedrive has accepted the write, a failed
 * lookup must not turn it into an error that invites the caller to send it again.
 */
export function namesAfterWrite(ctx: Ctx, load: Promise<Names>): Promise<Names> {
  return afterWrite(load, (e) => {
    ctx.logger?.warn({ err: (e as Error).message }, 'names unavailable after a write; showing ids');
    return {};
  });
}

/** Warms the directory while the main request is in flight; failures surface on use. */
export function warm(...loads: Array<Promise<unknown>>): void {
  for (const l of loads) l.catch(() => undefined);
}
