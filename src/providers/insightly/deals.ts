/**
 * Insightly opportunities as deals (/Opportunities). Insightly filters a list on one field
 * (/Opportunities/Search): a stage, else an organisation, else a pipeline, else the Won state; the
 * other filters (owner, open and lost, which are two states each) are applied here over the whole
 * filtered list. Stage moves go through the pipeline endpoints (writes.ts); the owner and the
 * organisation a write names are checked to exist before it is sent.
 */
import { path } from '../../crm/http.js';
import type { Deal } from '../../crm/model.js';
import {
  WRITE_FIELDS,
  type CallOptions,
  type CrudOperations,
  type DealInput,
  type DealQuery,
  type Page,
  type PreparedWrite,
} from '../../crm/provider.js';
import { CrmError } from '../../crm/errors.js';
import { OPPORTUNITIES, orNotFound, type Listing } from './client.js';
import { namedPage, namedRecord, type Ctx, type References } from './directory.js';
import { accountId, dealStatus, fromDealInput, nativeId, ownerOf, toDeal, userId, type IlOpportunity, type Names } from './map.js';
import { recordUpdate, recordWrite, targetStage, type Placement } from './writes.js';

/** The owner and organisation a deal write names, to check before it is sent. */
const refsOf = (body: Record<string, unknown>): References => ({
  user: body.RESPONSIBLE_USER_ID as number | undefined,
  account: body.ORGANISATION_ID as number | undefined,
});

export function dealOps(ctx: Ctx): CrudOperations<Deal, DealQuery, DealInput> {
  const { client } = ctx;
  const c = OPPORTUNITIES;

  const deal = (opts: CallOptions) => (o: IlOpportunity, names: Names) => toDeal(o, names, { remote: opts.include_remote_data });
  const read = async (id: string, signal?: AbortSignal): Promise<IlOpportunity> => {
    const oid = nativeId(id, 'deal', 'list_deals');
    return orNotFound('deal', id, client.get<IlOpportunity>(path`/Opportunities/${oid}`, signal));
  };

  /** Where a deal write puts the deal: nowhere new, or a checked stage. */
  async function placement(input: DealInput, signal?: AbortSignal): Promise<Placement | undefined> {
    if (input.stage_id === undefined) {
      if (input.pipeline_id !== undefined) {
        throw new CrmError('validation', 'To move a deal to another Insightly pipeline, pass stage_id too: a stage of that pipeline (list_stages with pipeline_id).');
      }
      return undefined;
    }
    const pid = input.pipeline_id === undefined ? undefined : nativeId(input.pipeline_id, 'pipeline', 'list_pipelines');
    return targetStage(ctx, c, nativeId(input.stage_id, 'stage', 'list_stages'), pid, signal);
  }

  return {
    async list(query: DealQuery, opts: CallOptions): Promise<Page<Deal>> {
      const stage = query.stage_id === undefined ? undefined : nativeId(query.stage_id, 'stage', 'list_stages');
      const pipeline = query.pipeline_id === undefined ? undefined : nativeId(query.pipeline_id, 'pipeline', 'list_pipelines');
      const owner = query.owner_id === undefined ? undefined : userId(query.owner_id);
      const account = query.account_id === undefined ? undefined : accountId(query.account_id);
      // The one field Insightly filters on, the most selective first; the rest is checked here.
      const search =
        stage !== undefined
          ? { field: 'STAGE_ID', value: stage }
          : account !== undefined
            ? { field: 'ORGANISATION_ID', value: account }
            : pipeline !== undefined
            ? { field: 'PIPELINE_ID', value: pipeline }
            : query.status === 'won'
              ? { field: 'OPPORTUNITY_STATE', value: 'Won' }
              : undefined;
      const on = search?.field;
      const checks: Array<(o: IlOpportunity) => boolean> = [];
      if (pipeline !== undefined && on !== 'PIPELINE_ID') checks.push((o) => o.PIPELINE_ID === pipeline);
      if (stage !== undefined && on !== 'STAGE_ID') checks.push((o) => o.STAGE_ID === stage);
      if (account !== undefined && on !== 'ORGANISATION_ID') checks.push((o) => o.ORGANISATION_ID === account);
      if (owner !== undefined) checks.push((o) => ownerOf(o) === owner);
      if (query.status !== undefined && on !== 'OPPORTUNITY_STATE') checks.push((o) => dealStatus(o.OPPORTUNITY_STATE) === query.status);
      const listing: Listing<IlOpportunity> = {
        path: c.path,
        search,
        query: { brief: true },
        key: (o) => String(o.OPPORTUNITY_ID),
        what: 'opportunities',
        keep: checks,
      };
      return namedPage(ctx, listing, query, opts, deal(opts));
    },

    get: (id: string, opts: CallOptions): Promise<Deal> => namedRecord(ctx, read(id, opts.signal), opts, deal(opts)),

    async create(input: DealInput, opts): Promise<PreparedWrite<Deal>> {
      const body = fromDealInput(input);
      if (body.OPPORTUNITY_NAME === undefined) throw new CrmError('validation', 'Insightly requires `name` to create a deal.');
      const move = await placement(input, opts.signal);
      return recordWrite<IlOpportunity, Deal>(ctx, {
        c,
        body,
        move,
        label: 'a new deal',
        refs: refsOf(body),
        signal: opts.signal,
        toRecord: deal(opts),
      });
    },

    async update(id: string, patch: DealInput, opts): Promise<PreparedWrite<Deal>> {
      const body = fromDealInput(patch);
      return recordUpdate<IlOpportunity, Deal>(ctx, {
        c,
        id: nativeId(id, 'deal', 'list_deals'),
        body,
        move: await placement(patch, opts.signal),
        fields: WRITE_FIELDS.deals,
        read: () => read(id, opts.signal),
        name: (o) => o.OPPORTUNITY_NAME,
        refs: refsOf(body),
        signal: opts.signal,
        toRecord: deal(opts),
      });
    },
  };
}
