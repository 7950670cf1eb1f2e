/**
 * Insightly opportunities as deals (/Opportunities). Insightly filters a list on one field
 * (/Opportunities/Search): a stage, else a pipeline, else the Won state; the other filters (owner,
 * open and lost, which are two states each) are applied here over the whole filtered list. Stage
 * moves go through the pipeline endpoints (writes.ts).
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
import { CrmError, excerpt } from '../../crm/errors.js';
import { requireChange } from '../../crm/records.js';
import { OPPORTUNITIES, orNotFound, type Listing } from './client.js';
import { preload, recordNames, type Ctx } from './directory.js';
import { dealStatus, fromDealInput, nativeId, ownerOf, toDeal, type IlOpportunity } from './map.js';
import { recordWrite, targetStage, type Placement } from './writes.js';

export function dealOps(ctx: Ctx): CrudOperations<Deal, DealQuery, DealInput> {
  const { client } = ctx;
  const c = OPPORTUNITIES;

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
      const owner = query.owner_id === undefined ? undefined : nativeId(query.owner_id, 'user', 'list_deals (each deal names its owner)');
      // The one field Insightly filters on, the most selective first; the rest is checked here.
      const search =
        stage !== undefined
          ? { field: 'STAGE_ID', value: stage }
          : pipeline !== undefined
            ? { field: 'PIPELINE_ID', value: pipeline }
            : query.status === 'won'
              ? { field: 'OPPORTUNITY_STATE', value: 'Won' }
              : undefined;
      const on = search?.field;
      const checks: Array<(o: IlOpportunity) => boolean> = [];
      if (pipeline !== undefined && on !== 'PIPELINE_ID') checks.push((o) => o.PIPELINE_ID === pipeline);
      if (stage !== undefined && on !== 'STAGE_ID') checks.push((o) => o.STAGE_ID === stage);
      if (owner !== undefined) checks.push((o) => ownerOf(o) === owner);
      if (query.status !== undefined && on !== 'OPPORTUNITY_STATE') checks.push((o) => dealStatus(o.OPPORTUNITY_STATE) === query.status);
      const listing: Listing<IlOpportunity> = {
        path: c.path,
        search,
        query: { brief: true },
        key: (o) => String(o.OPPORTUNITY_ID),
        what: 'opportunities',
        keep: checks.length ? (o) => checks.every((check) => check(o)) : undefined,
      };
      preload(ctx, opts.signal);
      const page = await client.page(listing, query, opts.signal);
      const names = await recordNames(ctx, page.items, opts.signal);
      return { ...page, items: page.items.map((o) => toDeal(o, names, { remote: opts.include_remote_data })) };
    },

    async get(id: string, opts: CallOptions): Promise<Deal> {
      preload(ctx, opts.signal);
      const o = await read(id, opts.signal);
      return toDeal(o, await recordNames(ctx, [o], opts.signal), { remote: opts.include_remote_data });
    },

    async create(input: DealInput, opts): Promise<PreparedWrite<Deal>> {
      const body = fromDealInput(input);
      if (body.OPPORTUNITY_NAME === undefined) throw new CrmError('validation', 'Insightly requires `name` to create a deal.');
      const move = await placement(input, opts.signal);
      return recordWrite<IlOpportunity, Deal>(ctx, {
        c,
        body,
        move,
        label: 'a new deal',
        signal: opts.signal,
        toRecord: (o, names) => toDeal(o, names, { remote: opts.include_remote_data }),
      });
    },

    async update(id: string, patch: DealInput, opts): Promise<PreparedWrite<Deal>> {
      const oid = nativeId(id, 'deal', 'list_deals');
      const body = fromDealInput(patch);
      const move = await placement(patch, opts.signal);
      if (!move) requireChange(body, 'deal', WRITE_FIELDS.deals);
      // The deal's pipeline decides which endpoint moves it (and a move to where it is is no move).
      const current = move ? await read(id, opts.signal) : undefined;
      const moving = move && current?.STAGE_ID !== move.stageId ? move : undefined;
      if (move && !moving) requireChange(body, 'deal', ['a stage other than its current one', ...WRITE_FIELDS.deals.filter((f) => f !== 'stage_id')]);
      return recordWrite<IlOpportunity, Deal>(ctx, {
        c,
        id: oid,
        current,
        body,
        move: moving,
        label: current ? `deal '${excerpt(current.OPPORTUNITY_NAME)}' (${oid})` : `deal ${oid}`,
        signal: opts.signal,
        toRecord: (o, names) => toDeal(o, names, { remote: opts.include_remote_data }),
      });
    },
  };
}
