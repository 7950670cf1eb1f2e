/**
 * Outreach opportunities as deals, in the fixed pipeline `opportunities`. One request per read:
 * the answer includes the opportunity's stage (name, isClosed), owner and account (their names
 * only, through sparse fieldsets), which give the deal its names and its status. Writes set the
 * stage through the writable `opportunityStage` relationship (`stage` is read-only) and are read
 * back the same way.
 */
import { CrmError, excerpt } from '../../crm/errors.js';
import type { Deal } from '../../crm/model.js';
import { WRITE_FIELDS, type CallOptions, type CrudOperations, type DealInput, type DealQuery, type Page, type PreparedWrite } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { OPPORTUNITIES, pageSize, readBack } from './client.js';
import type { Ctx } from './directory.js';
import {
  fromDealInput,
  idOf,
  includedOf,
  nativeId,
  opportunityStageId,
  parseStageId,
  pipelineKey,
  stagesWithStatus,
  toDeal,
  type OrOpportunity,
  type Resource,
} from './map.js';

/** The related records a deal is read with, and only the fields of theirs it shows. */
const RELATED = {
  include: 'opportunityStage,owner,account',
  fields: { opportunityStage: 'name,isClosed', user: 'name', account: 'name' },
};
/** An opportunity's own fields a deal shows (it has 150 custom fields besides); all of it for remote_data. */
const DEAL_FIELDS = 'name,amount,amountPrecise,currencyType,closeDate,createdAt,updatedAt,opportunityStage,owner,account';

const readQuery = (opts: CallOptions) => ({
  ...RELATED,
  fields: opts.include_remote_data ? RELATED.fields : { ...RELATED.fields, opportunity: DEAL_FIELDS },
});

/** Deals with names from what their answer included; a stage it left out comes from the directory. */
async function toDeals(ctx: Ctx, raw: OrOpportunity[], included: Resource[], opts: CallOptions): Promise<Deal[]> {
  const names = includedOf(included);
  const missing = raw.map(opportunityStageId).filter((id): id is number => id !== undefined && !names.stages.has(id));
  if (missing.length) {
    const known = await ctx.opportunityStages.resolve(missing, opts.signal);
    for (const id of missing) {
      const s = known.get(id);
      if (s) (names.stages as Map<number, typeof s>).set(id, s);
    }
  }
  return raw.map((o) => toDeal(o, names, { remote: opts.include_remote_data }));
}

/** The deals named exactly `name` (Outreach's only name filter for opportunities), most recently updated first: search's deals. */
export async function dealsNamed(ctx: Ctx, name: string, size: number, signal?: AbortSignal): Promise<Deal[]> {
  const page = await ctx.client.page<OrOpportunity>(OPPORTUNITIES, { filter: { name }, sort: '-updatedAt', ...readQuery({}) }, { size }, signal);
  return toDeals(ctx, page.items, page.included, { signal });
}

export function dealOps(ctx: Ctx): CrudOperations<Deal, DealQuery, DealInput> {
  const { client } = ctx;

  async function get(id: string, opts: CallOptions): Promise<Deal> {
    const did = nativeId(id, 'deal', 'search (types: deals) or list_deals');
    const { data, included } = await client.read<OrOpportunity>(OPPORTUNITIES, did, id, readQuery(opts), opts.signal);
    return (await toDeals(ctx, [data], included, opts))[0];
  }

  const after = readBack('deal', 'get_deal', get);

  return {
    async list(query: DealQuery, opts: CallOptions): Promise<Page<Deal>> {
      if (query.pipeline_id !== undefined && pipelineKey(query.pipeline_id) !== 'opportunities') {
        throw new CrmError('validation', "Pipeline 'prospects' holds prospect stages, not deals: Outreach opportunities are in pipeline 'opportunities'.");
      }
      let stageIds: number[] | undefined;
      if (query.stage_id !== undefined) {
        const stage = parseStageId(query.stage_id);
        if (stage.pipeline !== 'opportunities') {
          throw new CrmError('validation', `Stage '${excerpt(query.stage_id)}' is a prospect stage and holds no deals; deals stand in opportunity stages ('o' ids).`);
        }
        stageIds = [stage.id];
      }
      if (query.status !== undefined) {
        // Outreach knows no deal status: the stages of that status stand for it.
        const byStatus = stagesWithStatus((await ctx.opportunityStages.all(opts.signal)).values(), query.status);
        stageIds = stageIds === undefined ? byStatus : stageIds.filter((id) => byStatus.includes(id));
        if (!stageIds.length) return { items: [], next_cursor: null };
      }
      const filter = {
        ...(stageIds ? { stage: { id: stageIds.join(',') } } : {}),
        ...(query.owner_id !== undefined ? { owner: { id: idOf(query.owner_id, 'user') } } : {}),
        ...(query.account_id !== undefined ? { account: { id: idOf(query.account_id, 'account') } } : {}),
      };
      const page = await client.page<OrOpportunity>(
        OPPORTUNITIES,
        // Most recently updated first, as list_deals promises for every CRM.
        { ...(Object.keys(filter).length ? { filter } : {}), sort: '-updatedAt', ...readQuery(opts) },
        { size: pageSize(query.limit), cursor: query.cursor },
        opts.signal,
      );
      return { items: await toDeals(ctx, page.items, page.included, opts), next_cursor: page.next_cursor };
    },

    get,

    async create(input: DealInput, opts): Promise<PreparedWrite<Deal>> {
      if (input.name === undefined) throw new CrmError('validation', 'Outreach requires `name` to create a deal.');
      return client.prepareWrite(OPPORTUNITIES, { body: fromDealInput(input), signal: opts.signal }, after(opts));
    },

    async update(id: string, patch: DealInput, opts): Promise<PreparedWrite<Deal>> {
      const did = nativeId(id, 'deal', 'search (types: deals) or list_deals');
      const body = fromDealInput(patch);
      requireChange({ ...body.attributes, ...body.relationships }, 'deal', WRITE_FIELDS.deals.filter((f) => f !== 'status'));
      return client.prepareWrite(OPPORTUNITIES, { id: { native: did, shown: id }, body, signal: opts.signal }, after(opts));
    },
  };
}
