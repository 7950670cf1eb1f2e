/**
 * What the Capsule resource files share: the client; a short-lived directory of every sales
 * milestone with its pipeline and place (an opportunity names its milestone but not its pipeline,
 * so deals read their pipeline from here; so do get_stage, status changes and the stage filter of
 * list_deals); a directory of the account's users (Capsule lists them whole, in one answer); and
 * the check of the ids a write refers to, made when it is sent.
 */
import type { Logger } from '../../log.js';
import { CrmError, excerpt, unknownReference } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import { together } from '../../crm/parallel.js';
import { completeItems } from '../../crm/paginate.js';
import { NameDirectory } from '../../crm/names.js';
import type { Ref } from '../../crm/model.js';
import { afterWrite } from '../../crm/writes.js';
import { orUnknown, type CapsuleClient } from './client.js';
import { nativeId, type CapsuleMilestone, type CapsulePartyRecord, type CapsulePipeline, type CapsuleUserRecord, type MilestoneEntry } from './map.js';

export interface Ctx {
  client: CapsuleClient;
  milestones: NameDirectory<number, MilestoneEntry>;
  /** Every user, with its own party (embed=party) for the email address. */
  users: NameDirectory<number, CapsuleUserRecord>;
  logger?: Logger;
}

/** The users of the account: `GET /users` answers them all at once (User docs: no paging). */
export async function loadUsers(client: CapsuleClient, signal?: AbortSignal): Promise<CapsuleUserRecord[]> {
  const walk = await client.walk<CapsuleUserRecord>({ path: path`/users`, key: 'users', query: { embed: 'party' } }, signal, { size: null });
  return completeItems(walk, 'Capsule', 'users', 'Try again later.');
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
  return {
    client,
    logger,
    milestones: new NameDirectory(() => loadMilestones(client), { provider: 'Capsule', logger }),
    users: new NameDirectory(() => loadUsers(client), { provider: 'Capsule', logger }),
  };
}

/**
 * Ids a write refers to, checked when it is sent (a dry run reads nothing): a user among the
 * account's users; a party, deal or project by reading it. `organisation` is a party that must be
 * an organisation (a person's employer). An unknown id is refused with the sentence every CRM
 * gives (unknownReference), before anything is written.
 */
export interface References {
  owner?: string;
  /** An account (any party: Capsule's deals and projects may be on a person). */
  party?: { id: string; as: 'account' | 'contact' };
  organisation?: string;
  deal?: string;
  project?: string;
}

export async function checkReferences(ctx: Ctx, refs: References, signal?: AbortSignal): Promise<void> {
  const { client } = ctx;
  const party = (id: string, as: 'account' | 'contact', s: AbortSignal) =>
    orUnknown(as, id, client.get<CapsulePartyRecord>(path`/parties/${nativeId(id, 'party', 'search')}`, 'party', undefined, s));
  const checks: Array<(signal: AbortSignal) => Promise<unknown>> = [];
  if (refs.owner !== undefined) {
    const id = refs.owner;
    checks.push(async (s) => {
      const uid = nativeId(id, 'user', 'list_users');
      if (!(await ctx.users.resolve([uid], s)).has(uid)) throw unknownReference('user', id);
    });
  }
  if (refs.party) {
    const { id, as } = refs.party;
    checks.push((s) => party(id, as, s));
  }
  if (refs.organisation !== undefined) {
    const id = refs.organisation;
    checks.push(async (s) => {
      const p = await party(id, 'account', s);
      if (p.type !== 'organisation') {
        throw new CrmError('validation', `Party '${excerpt(id)}' is a person in Capsule, not an organisation: account_id takes an organisation (search with types: accounts).`);
      }
    });
  }
  if (refs.deal !== undefined) {
    const id = refs.deal;
    checks.push((s) => orUnknown('deal', id, client.get(path`/opportunities/${nativeId(id, 'deal', 'list_deals')}`, 'opportunity', undefined, s)));
  }
  if (refs.project !== undefined) {
    const id = refs.project;
    checks.push((s) => orUnknown('project', id, client.get(path`/kases/${nativeId(id, 'project', 'list_projects')}`, 'kase', undefined, s)));
  }
  if (checks.length) await together(signal, checks);
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
