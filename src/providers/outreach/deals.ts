/**
 * Outreach opportunities as deals, in the fixed pipeline `opportunities`. One request per read:
 * the answer includes the opportunity's stage (name, isClosed), owner and account (their names
 * only, through sparse fieldsets), which give the deal its names and its status. Writes set the
 * stage through the writable `opportunityStage` relationship (`stage` is read-only) and are read
 * back the same way.
 */
import { CrmError, excerpt, isCrmError } from '../../crm/errors.js';
import type { Deal } from '../../crm/model.js';
import { WRITE_FIELDS, type CallOptions, type CrudOperations, type DealInput, type DealQuery, type Page, type PreparedWrite } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { afterWrite } from '../../crm/writes.js';
import { OPPORTUNITIES, pageSize } from './client.js';
import type { Ctx } from './directory.js';
import {
  fromDealInput,
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

export function dealOps(ctx: Ctx): CrudOperations<Deal, DealQuery, DealInput> {
  const { client } = ctx;

  /** Deals with names from what their answer included; a stage it left out comes from the directory. */
  async function toDeals(raw: OrOpportunity[], included: Resource[], opts: CallOptions): Promise<Deal[]> {
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

  async function get(id: string, opts: CallOptions): Promise<Deal> {
    const did = nativeId(id, 'deal', 'list_deals');
    const { data, included } = await client.read<OrOpportunity>(OPPORTUNITIES, did, id, readQuery(opts), opts.signal);
    return (await toDeals([data], included, opts))[0];
  }

  /** The deal as read back after a write Outreach accepted; a failed read must not look like a failed write. */
  const readBack = (opts: CallOptions) => (answer: OrOpportunity) =>
    afterWrite(get(String(answer.id), { signal: opts.signal, include_remote_data: opts.include_remote_data }), (e) => {
      const why = isCrmError(e) ? ` (${e.message})` : '';
      throw new CrmError(
        'upstream',
        `Outreach saved the deal (id ${answer.id}) but reading it back failed${why}; it exists, so do not send it again: read it with get_deal.`,
        { provider: 'Outreach' },
      );
    });

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
        ...(query.owner_id !== undefined ? { owner: { id: nativeId(query.owner_id, 'user', 'list_deals (each deal names its owner)') } } : {}),
      };
      const page = await client.page<OrOpportunity>(
        OPPORTUNITIES,
        // Most recently updated first, as list_deals promises for every CRM.
        { ...(Object.keys(filter).length ? { filter } : {}), sort: '-updatedAt', ...readQuery(opts) },
        { size: pageSize(query.limit), cursor: query.cursor },
        opts.signal,
      );
      return { items: await toDeals(page.items, page.included, opts), next_cursor: page.next_cursor };
    },

    get,

    async create(input: DealInput, opts): Promise<PreparedWrite<Deal>> {
      if (input.name === undefined) throw new CrmError('validation', 'Outreach requires `name` to create a deal.');
      return client.prepareWrite(OPPORTUNITIES, { body: fromDealInput(input), signal: opts.signal }, readBack(opts));
    },

    async update(id: string, patch: DealInput, opts): Promise<PreparedWrite<Deal>> {
      const did = nativeId(id, 'deal', 'list_deals');
      const body = fromDealInput(patch);
      requireChange({ ...body.attributes, ...body.relationships }, 'deal', WRITE_FIELDS.deals.filter((f) => f !== 'status'));
      return client.prepareWrite(OPPORTUNITIES, { id: { native: did, shown: id }, body, signal: opts.signal }, readBack(opts));
    },
  };
}
