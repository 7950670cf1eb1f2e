/**
 * Names for Pipedrive's records, so deals and stages read as names instead of bare ids: pipelines,
 * stages and users as whole collections; organizations, persons and deals by id (crm/names.ts,
 * short TTL). Users, organizations and persons degrade to ids for a token that may not read them
 * (an OAuth token without users:read or contacts:read). Also the ids a write refers to, checked
 * before it is sent, and the context every resource file of this folder works with.
 */
import type { Logger } from '../../log.js';
import { replaceNotFound, unknownReference } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import { NameDirectory, NameLookup, namesOf, permissionDenied } from '../../crm/names.js';
import { together } from '../../crm/parallel.js';
import { afterWrite } from '../../crm/writes.js';
import { TOKEN_COST, type PipedriveClient } from './client.js';
import { dealId, orgId, personId, userId, type Names, type PdDeal, type PdOrganization, type PdPerson, type PdPipeline, type PdStage, type PdUser } from './map.js';

export interface Directory {
  pipelines: NameDirectory<number, PdPipeline>;
  stages: NameDirectory<number, PdStage>;
  users: NameDirectory<number, PdUser>;
  orgs: NameLookup<number>;
  persons: NameLookup<number>;
  deals: NameLookup<number>;
}

/** What every resource file of the Pipedrive provider works with. */
export interface Ctx {
  client: PipedriveClient;
  dir: Directory;
  logger?: Logger;
}

/** Records asked for in one `ids=` request (API v2's maximum). */
const IDS_BATCH = 100;

export function createDirectory(client: PipedriveClient, logger?: Logger): Directory {
  // Names only: a scan cut short leaves some ids without a name, which is shown as the bare id.
  const scan = async <T>(p: string) => (await client.walk<T>(p, {}, TOKEN_COST.v2List)).items;
  const common = { provider: 'Pipedrive', logger };
  /** Records of a v2 collection by id, one `ids=` request per batch. */
  const byIds =
    <T extends { id: number }>(p: string, tokens: number, name: (r: T) => string) =>
    async (ids: number[], signal?: AbortSignal) =>
      (await client.page<T>(p, { ids: ids.join(',') }, { size: ids.length }, tokens, signal)).items.map((r) => ({ id: r.id, name: name(r) }));
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
      batch: IDS_BATCH,
      unreadable: 'cannot read organizations; accounts will show ids only',
      fetch: byIds<PdOrganization>(path`/api/v2/organizations`, TOKEN_COST.v2OrganizationsList, (o) => o.name),
    }),
    persons: new NameLookup<number>({
      ...common,
      batch: IDS_BATCH,
      unreadable: 'cannot read persons; contacts will show ids only',
      fetch: byIds<PdPerson>(path`/api/v2/persons`, TOKEN_COST.v2PersonsList, (p) => p.name),
    }),
    deals: new NameLookup<number>({
      ...common,
      batch: IDS_BATCH,
      unreadable: 'cannot read deals; activities will show deal ids only',
      fetch: byIds<PdDeal>(path`/api/v2/deals`, TOKEN_COST.v2DealsList, (d) => d.title),
    }),
  };
}

/** Ids a write refers to, as the caller gave them. */
export interface References {
  owner_id?: string;
  account_id?: string;
  contact_id?: string;
  deal_id?: string;
}

/**
 * Refuses a write whose owner, account, contact or deal Pipedrive does not know, with the sentence
 * every CRM uses (unknownReference), before anything is written. Owners come from the user
 * directory (cached, often already loaded for names); each other id costs one GET (1 token), whose
 * name then serves the read-back. What the token may not read (403) is left for Pipedrive to judge.
 */
export async function checkReferences(ctx: Ctx, refs: References, signal?: AbortSignal): Promise<void> {
  const { client, dir } = ctx;
  /** One record by id: missing or deleted is an unknown reference; unreadable is not judged here. */
  const exists = async <T extends { id: number; is_deleted?: boolean }>(
    p: string,
    what: 'account' | 'contact' | 'deal',
    raw: string,
    remember: (r: T) => void,
    s: AbortSignal,
  ) => {
    try {
      const env = await client.read<T>(p, undefined, TOKEN_COST.v2Get, s);
      if (env.data.is_deleted) throw unknownReference(what, raw);
      remember(env.data);
    } catch (e) {
      if (permissionDenied(e)) return;
      throw replaceNotFound(e, () => unknownReference(what, raw));
    }
  };
  const checks: Array<(signal: AbortSignal) => Promise<void>> = [];
  if (refs.owner_id !== undefined) {
    const uid = userId(refs.owner_id);
    checks.push(async (s) => {
      const users = await dir.users.resolve([uid], s);
      // A company always has a user (the token's own): none means the token may not read them.
      if (users.size > 0 && !users.has(uid)) throw unknownReference('user', refs.owner_id!);
    });
  }
  if (refs.account_id !== undefined) {
    const oid = orgId(refs.account_id);
    checks.push((s) => exists<PdOrganization>(path`/api/v2/organizations/${oid}`, 'account', refs.account_id!, (o) => dir.orgs.put(o), s));
  }
  if (refs.contact_id !== undefined) {
    const pid = personId(refs.contact_id);
    checks.push((s) => exists<PdPerson>(path`/api/v2/persons/${pid}`, 'contact', refs.contact_id!, (p) => dir.persons.put(p), s));
  }
  if (refs.deal_id !== undefined) {
    const did = dealId(refs.deal_id);
    checks.push((s) => exists<PdDeal>(path`/api/v2/deals/${did}`, 'deal', refs.deal_id!, (d) => dir.deals.put({ id: d.id, name: d.title }), s));
  }
  if (checks.length) await together(signal, checks);
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

/** Ids of the users, organizations, persons and deals some records name. */
export interface NamedIds {
  users?: Array<number | null | undefined>;
  orgs?: Array<number | null | undefined>;
  persons?: Array<number | null | undefined>;
  deals?: Array<number | null | undefined>;
}

/** Names for those ids, each kind in one request at most (none when cached), all at once. */
export async function namesFor(ctx: Ctx, ids: NamedIds, signal?: AbortSignal): Promise<Names> {
  const only = (xs: NamedIds[keyof NamedIds]) => (xs ?? []).filter((x): x is number => typeof x === 'number');
  const none = Promise.resolve(undefined);
  const [users, orgs, persons, deals] = await Promise.all([
    only(ids.users).length ? ctx.dir.users.resolve(only(ids.users), signal) : none,
    only(ids.orgs).length ? ctx.dir.orgs.resolve(only(ids.orgs), signal) : none,
    only(ids.persons).length ? ctx.dir.persons.resolve(only(ids.persons), signal) : none,
    only(ids.deals).length ? ctx.dir.deals.resolve(only(ids.deals), signal) : none,
  ]);
  return { users: users && namesOf(users), orgs, persons, deals };
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
