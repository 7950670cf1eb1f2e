/**
 * Names for Insightly's records, so they read as names instead of bare ids: pipelines, stages and
 * users as whole collections (crm/names.ts, short TTL), organisations by id (there are many; each
 * is one cheap request, cached). Listing every user may need an administrator's key, so users
 * degrade to ids on a 403. The checks that ids a write refers to exist, and the context every
 * resource file of this folder works with.
 */
import type { Logger } from '../../log.js';
import { isCrmError, unknownReference, type ReferencedRecord } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import { NameDirectory, NameLookup, namesOf } from '../../crm/names.js';
import { together } from '../../crm/parallel.js';
import { afterWrite } from '../../crm/writes.js';
import type { CallOptions, Page } from '../../crm/provider.js';
import type { InsightlyClient, Listing } from './client.js';
import { ownerOf, PARENT, pipelineName, userName, type IlOrganisation, type IlPipeline, type IlStage, type IlUser, type Names, type ParentKind } from './map.js';

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
  /** Organisation names by id. */
  orgs: NameLookup<number>;
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
    // No listing takes several ids, so one brief GET per organisation not yet named.
    orgs: new NameLookup<number>({
      ...common,
      batch: 1,
      unreadable: 'cannot read organisations; accounts will show ids only',
      fetch: async ([id], signal) => {
        try {
          const o = await client.get<IlOrganisation>(path`/Organisations/${id}`, signal, { brief: true });
          return [{ id, name: o.ORGANISATION_NAME }];
        } catch (e) {
          if (isCrmError(e) && e.kind === 'not_found') return [];
          throw e;
        }
      },
    }),
  };
}

export type Placed = {
  PIPELINE_ID?: number | null;
  STAGE_ID?: number | null;
  RESPONSIBLE_USER_ID?: number | null;
  OWNER_USER_ID?: number | null;
  ORGANISATION_ID?: number | null;
};

/**
 * Pipeline, stage, owner and organisation names of records, from the directories (loaded
 * together); only the directories the records refer to are asked.
 */
export async function recordNames(ctx: Ctx, records: readonly Placed[], signal?: AbortSignal): Promise<Names> {
  const ids = (pick: (r: Placed) => number | null | undefined) => records.map(pick).filter((x): x is number => typeof x === 'number');
  const some = <T>(wanted: number[], load: (wanted: number[]) => Promise<T>): Promise<T | undefined> =>
    wanted.length ? load(wanted) : Promise.resolve(undefined);
  const [pipelines, stages, users, accounts] = await Promise.all([
    some(ids((r) => r.PIPELINE_ID), (w) => ctx.dir.pipelines.resolve(w, signal)),
    some(ids((r) => r.STAGE_ID), (w) => ctx.dir.stages.resolve(w, signal)),
    some(ids(ownerOf), (w) => ctx.dir.users.resolve(w, signal)),
    some(ids((r) => r.ORGANISATION_ID), (w) => ctx.dir.orgs.resolve(w, signal)),
  ]);
  return {
    pipelines: pipelines && namesOf(pipelines),
    stages: stages && namesOf(stages),
    users: users && namesOf(users),
    accounts,
  };
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

/** The records a write refers to by id, checked to exist before anything is written. */
export interface References {
  user?: number;
  account?: number;
  contact?: number;
  deal?: number;
  project?: number;
}

const REFERENCED: Record<ParentKind, ReferencedRecord> = { deal: 'deal', account: 'account', contact: 'contact', project: 'project' };

/**
 * Refuses a write whose ids Insightly does not know, with the sentence every CRM says
 * (unknownReference), before its first request: an owner against the users directory (when the
 * key may read it), every other record with one brief GET, all at once. Run when the write is
 * sent, never for a dry run.
 */
export async function requireReferences(ctx: Ctx, refs: References, signal?: AbortSignal): Promise<void> {
  const checks: Array<(signal: AbortSignal) => Promise<void>> = [];
  if (refs.user !== undefined) {
    const user = refs.user;
    checks.push(async (s) => {
      const users = await ctx.dir.users.resolve([user], s);
      // An empty directory is one the key may not read (an instance always has a user): Insightly decides then.
      if (users.size > 0 && !users.has(user)) throw unknownReference('user', String(user));
    });
  }
  for (const kind of ['account', 'contact', 'deal', 'project'] as const) {
    const id = refs[kind];
    if (id === undefined) continue;
    checks.push(async (s) => {
      try {
        const record = await ctx.client.get<Record<string, unknown>>(`${PARENT[kind].path}${path`/${id}`}`, s, { brief: true });
        if (kind === 'account' && typeof record.ORGANISATION_NAME === 'string') ctx.dir.orgs.put({ id, name: record.ORGANISATION_NAME });
      } catch (e) {
        if (isCrmError(e) && e.kind === 'not_found') throw unknownReference(REFERENCED[kind], String(id));
        throw e;
      }
    });
  }
  if (checks.length) await together(signal, checks);
}

/** The whole-collection directories a kind of record names. */
export type Preload = 'pipelines' | 'stages' | 'users';
/** Projects and opportunities name all three. */
export const PLACED: readonly Preload[] = ['pipelines', 'stages', 'users'];

/** Starts the directory loads while the main request is in flight; failures surface on use. */
export function preload(ctx: Ctx, signal?: AbortSignal, which: readonly Preload[] = PLACED): void {
  for (const d of which) ctx.dir[d].all(signal).catch(() => undefined);
}

/**
 * One page of records with their names; the directories they name load alongside the page.
 * `placed` picks the fields that name other records (an organisation's own ORGANISATION_ID does not).
 */
export async function namedPage<N extends Placed, T>(
  ctx: Ctx,
  listing: Listing<N>,
  query: { limit: number; cursor?: string },
  opts: CallOptions,
  to: (record: N, names: Names) => T,
  preloads: readonly Preload[] = PLACED,
  placed: (record: N) => Placed = (r) => r,
): Promise<Page<T>> {
  preload(ctx, opts.signal, preloads);
  const page = await ctx.client.page(listing, query, opts.signal, opts.onProgress);
  const names = await recordNames(ctx, page.items.map(placed), opts.signal);
  return { ...page, items: page.items.map((r) => to(r, names)) };
}

/** One record with its names. */
export async function namedRecord<N extends Placed, T>(
  ctx: Ctx,
  read: Promise<N>,
  opts: CallOptions,
  to: (record: N, names: Names) => T,
  preloads: readonly Preload[] = PLACED,
  placed: (record: N) => Placed = (r) => r,
): Promise<T> {
  preload(ctx, opts.signal, preloads);
  const record = await read;
  return to(record, await recordNames(ctx, [placed(record)], opts.signal));
}
