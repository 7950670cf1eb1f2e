/**
 * Capsule opportunities as deals. An opportunity names its milestone; its pipeline comes from the
 * milestone directory, loaded beside the request. Filters go to Capsule's structured search
 * (`POST /opportunities/filters/results`); won and lost are Capsule's closing milestones, so a
 * status change is a move to the deal's pipeline's Won or Lost milestone (or back to the last open
 * one), never to another pipeline's.
 */
import { CrmError, excerpt } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Deal } from '../../crm/model.js';
import { together } from '../../crm/parallel.js';
import { WRITE_FIELDS, type CallOptions, type CrudOperations, type DealInput, type DealQuery, type Page, type PreparedWrite } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { orNotFound, orUnknown, pageSize, search, unwrap, type Listing } from './client.js';
import { checkReferences, pipelinesAfterWrite, pipelinesOf, type Ctx, type References } from './directory.js';
import {
  dealConditions,
  dealMatches,
  dealStatus,
  fromDealInput,
  milestoneId,
  milestoneStatus,
  nativeId,
  salesPipelineId,
  toDeal,
  type CapsuleOpportunity,
  type MilestoneEntry,
  type OpportunityBody,
} from './map.js';

const ALL: Listing = { path: '/opportunities', key: 'opportunities' };

/** The owner and account a deal write names, checked when it is sent. */
const references = (input: DealInput): References => ({
  owner: input.owner_id,
  party: input.account_id === undefined ? undefined : { id: input.account_id, as: 'account' },
});

export function dealOps(ctx: Ctx): CrudOperations<Deal, DealQuery, DealInput> {
  const { client } = ctx;

  /** A milestone the directory knows, or not_found naming list_stages. */
  async function milestone(id: number, asGiven: string, signal?: AbortSignal): Promise<MilestoneEntry> {
    const m = (await ctx.milestones.resolve([id], signal)).get(id);
    if (!m) throw new CrmError('not_found', `No stage with id '${excerpt(asGiven)}' in any Capsule sales pipeline. Call list_stages to see valid stage ids.`);
    return m;
  }

  const pipelineLabel = (m: MilestoneEntry) => (m.pipeline.name ? `${m.pipeline.name} (${m.pipeline.id})` : `pipeline ${m.pipeline.id}`);

  /** Refuses a milestone outside the pipeline the caller named: Capsule itself would move the deal across. */
  function samePipeline(m: MilestoneEntry, pipelineId: string | undefined, stageId: string): void {
    if (pipelineId !== undefined && m.pipeline.id !== salesPipelineId(pipelineId)) {
      throw new CrmError('validation', `Stage '${excerpt(stageId)}' is a milestone of ${pipelineLabel(m)}, not of pipeline ${excerpt(pipelineId)}. Call get_pipeline to see its milestones.`);
    }
  }

  async function written(answer: unknown, opts: CallOptions): Promise<Deal> {
    const o = unwrap<CapsuleOpportunity>(answer, 'opportunity');
    const names = await pipelinesAfterWrite(ctx, [o.milestone.id], opts.signal);
    return toDeal(o, names.get(o.milestone.id), { remote: opts.include_remote_data });
  }

  /**
   * The milestone a status change moves a deal to, within the deal's own pipeline: its Won or Lost
   * milestone, or back to the milestone it last stood in while open.
   */
  async function statusMilestone(dealId: number, id: string, status: Deal['status'], signal?: AbortSignal): Promise<number | undefined> {
    const current = await orNotFound('deal', id, client.get<CapsuleOpportunity>(path`/opportunities/${dealId}`, 'opportunity', undefined, signal));
    if (status === 'open') {
      if (dealStatus(current) === 'open') return undefined;
      if (current.lastOpenMilestone) return current.lastOpenMilestone.id;
      throw new CrmError('validation', `Deal ${excerpt(current.name)} (${id}) is closed and Capsule names no milestone it was open in: pass stage_id, an open milestone of its pipeline (get_pipeline lists them).`);
    }
    const here = await milestone(current.milestone.id, String(current.milestone.id), signal);
    const dir = await ctx.milestones.all(signal);
    const targets = [...dir.values()].filter((m) => m.pipeline.id === here.pipeline.id && milestoneStatus(m) === status);
    if (targets.length === 1) return targets[0].id;
    const closing = [...dir.values()].filter((m) => m.pipeline.id === here.pipeline.id && m.complete).map((m) => `${m.name} (${m.id}, ${milestoneStatus(m)})`);
    throw new CrmError(
      'validation',
      targets.length === 0
        ? `${pipelineLabel(here)} has no ${status === 'won' ? 'Won' : 'Lost'} milestone, so Capsule cannot mark a deal ${status} there. Its closing milestones: ${closing.join(', ') || 'none'}.`
        : `${pipelineLabel(here)} has several ${status} milestones: pass stage_id, one of ${closing.join(', ')}.`,
    );
  }

  return {
    async list(query: DealQuery, opts: CallOptions): Promise<Page<Deal>> {
      let stage: MilestoneEntry | undefined;
      if (query.stage_id !== undefined) {
        stage = await milestone(milestoneId(query.stage_id), query.stage_id, opts.signal);
        samePipeline(stage, query.pipeline_id, query.stage_id);
      }
      // An account's deals: Capsule's filters have no party field, so its own listing, filtered
      // here page by page with the other filters (a page may then hold fewer deals than asked).
      const account = query.account_id;
      const conditions = dealConditions(query, stage);
      const matches = account === undefined ? undefined : dealMatches(query);
      const listing: Listing =
        account !== undefined
          ? { path: path`/parties/${nativeId(account, 'party (account)', 'search (types: accounts)')}/opportunities`, key: 'opportunities' }
          : conditions.length
            ? search('opportunities', 'opportunities', conditions)
            : ALL;
      // The milestone directory loads beside the page instead of after it.
      const [page, dir] = await together(opts.signal, [
        (signal) => {
          const read = client.page<CapsuleOpportunity>(listing, { size: pageSize(query.limit), cursor: query.cursor }, signal);
          return account === undefined ? read : orUnknown('account', account, read);
        },
        (signal) => ctx.milestones.all(signal),
      ] as const);
      // The search names the milestone by name; a same-named milestone elsewhere is not this stage.
      const items = page.items.filter((o) => (!stage || o.milestone.id === stage.id) && (!matches || matches(o, (m) => dir.get(m)?.pipeline.id)));
      const names = await pipelinesOf(ctx, items.map((o) => o.milestone.id), opts.signal);
      return { items: items.map((o) => toDeal(o, names.get(o.milestone.id), { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
    },

    async get(id: string, opts: CallOptions): Promise<Deal> {
      const did = nativeId(id, 'deal', 'list_deals');
      const [o] = await together(opts.signal, [
        (signal) => orNotFound('deal', id, client.get<CapsuleOpportunity>(path`/opportunities/${did}`, 'opportunity', undefined, signal)),
        (signal) => ctx.milestones.all(signal),
      ] as const);
      const names = await pipelinesOf(ctx, [o.milestone.id], opts.signal);
      return toDeal(o, names.get(o.milestone.id), { remote: opts.include_remote_data });
    },

    async create(input: DealInput, opts): Promise<PreparedWrite<Deal>> {
      if (input.status !== undefined) {
        throw new CrmError('unsupported', 'Capsule creates a deal open at its stage: leave out `status`, or give the stage_id of a Won or Lost milestone.');
      }
      const body = fromDealInput(input);
      const missing = (['name', 'party', 'milestone'] as const).filter((k) => body[k] === undefined);
      if (missing.length) {
        throw new CrmError('validation', 'Capsule requires `name`, `stage_id` (a milestone) and `account_id` (the party) to create a deal.');
      }
      if (input.pipeline_id !== undefined) samePipeline(await milestone(body.milestone!.id, input.stage_id!, opts.signal), input.pipeline_id, input.stage_id!);
      return client.prepareWrite(
        { method: 'POST', path: path`/opportunities`, body: { opportunity: body }, signal: opts.signal, before: () => checkReferences(ctx, references(input), opts.signal) },
        (a) => written(a, opts),
      );
    },

    async update(id: string, patch: DealInput, opts): Promise<PreparedWrite<Deal>> {
      const did = nativeId(id, 'deal', 'list_deals');
      const body: OpportunityBody = fromDealInput(patch);
      if (body.milestone) {
        const m = await milestone(body.milestone.id, patch.stage_id!, opts.signal);
        samePipeline(m, patch.pipeline_id, patch.stage_id!);
        if (patch.status !== undefined && milestoneStatus(m) !== patch.status) {
          throw new CrmError('validation', `Stage ${m.name} (${m.id}) is ${milestoneStatus(m) === 'open' ? 'an open' : `a ${milestoneStatus(m)}`} milestone, so the deal cannot be ${patch.status} there: pass status or stage_id alone, or both agreeing.`);
        }
      } else if (patch.status !== undefined) {
        const target = await statusMilestone(did, id, patch.status, opts.signal);
        if (target !== undefined) body.milestone = { id: target };
        else if (Object.keys(body).length === 0) throw new CrmError('validation', `Deal ${excerpt(id)} is already open: nothing to update.`);
      }
      requireChange(body, 'deal', WRITE_FIELDS.deals);
      return client.prepareWrite(
        {
          method: 'PUT',
          path: path`/opportunities/${did}`,
          body: { opportunity: body },
          signal: opts.signal,
          record: { what: 'deal', id },
          before: () => checkReferences(ctx, references(patch), opts.signal),
        },
        (a) => written(a, opts),
      );
    },
  };
}
