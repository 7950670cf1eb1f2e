/**
 * Pipedrive deals (API v2 /deals): read with pipeline, stage, owner and organization names from
 * the directory, whose loads ride along with the deals request instead of after it. Writes check
 * their owner and organization ids first (unknownReference).
 */
import { CrmError } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Deal } from '../../crm/model.js';
import { WRITE_FIELDS, type CallOptions, type CrudOperations, type DealInput, type DealQuery, type Page, type PreparedWrite } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { TOKEN_COST, deletedError, orNotFound, pageSize } from './client.js';
import { checkReferences, dealNames, namesAfterWrite, warm, type Ctx } from './directory.js';
import { fromDealInput, nativeId, orgId, toDeal, userId, type PdDeal } from './map.js';

export function dealOps(ctx: Ctx): CrudOperations<Deal, DealQuery, DealInput> {
  const { client, dir } = ctx;
  const warmAll = (signal?: AbortSignal) => warm(dir.pipelines.all(signal), dir.stages.all(signal), dir.users.all(signal));

  async function readDeal(raw: PdDeal, opts: CallOptions): Promise<Deal> {
    return toDeal(raw, await dealNames(ctx, [raw], opts.signal), { remote: opts.include_remote_data });
  }

  /** Owner and account ids checked before the write is sent (unknownReference). */
  const references = (input: DealInput, signal?: AbortSignal) => () =>
    checkReferences(ctx, { owner_id: input.owner_id, account_id: input.account_id }, signal);

  async function writtenDeal(raw: PdDeal, opts: CallOptions): Promise<Deal> {
    return toDeal(raw, await namesAfterWrite(ctx, dealNames(ctx, [raw], opts.signal)), { remote: opts.include_remote_data });
  }

  return {
    async list(query: DealQuery, opts: CallOptions): Promise<Page<Deal>> {
      const q = {
        pipeline_id: query.pipeline_id === undefined ? undefined : nativeId(query.pipeline_id, 'pipeline', 'list_pipelines'),
        stage_id: query.stage_id === undefined ? undefined : nativeId(query.stage_id, 'stage', 'list_stages'),
        status: query.status,
        owner_id: query.owner_id === undefined ? undefined : userId(query.owner_id),
        org_id: query.account_id === undefined ? undefined : orgId(query.account_id),
        // Most recently updated first, as list_deals promises for every CRM.
        sort_by: 'update_time',
        sort_direction: 'desc',
      };
      // Directory loads ride along with the deals request instead of after it.
      warmAll(opts.signal);
      const page = await client.page<PdDeal>(
        path`/api/v2/deals`,
        q,
        { size: pageSize(query.limit), cursor: query.cursor },
        TOKEN_COST.v2DealsList,
        opts.signal,
      );
      const n = await dealNames(ctx, page.items, opts.signal);
      return { items: page.items.map((d) => toDeal(d, n, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
    },

    async get(id: string, opts: CallOptions): Promise<Deal> {
      const did = nativeId(id, 'deal', 'list_deals');
      warmAll(opts.signal);
      const env = await orNotFound('deal', id, client.read<PdDeal>(path`/api/v2/deals/${did}`, undefined, TOKEN_COST.v2Get, opts.signal));
      if (env.data.is_deleted) throw deletedError('deal', id);
      return readDeal(env.data, opts);
    },

    async create(input: DealInput, opts): Promise<PreparedWrite<Deal>> {
      const body = fromDealInput(input);
      if (body.title === undefined) throw new CrmError('validation', 'Pipedrive requires `name` to create a deal.');
      return client.prepareWrite(
        { method: 'POST', path: path`/api/v2/deals`, body, signal: opts.signal, before: references(input, opts.signal) },
        (raw: PdDeal) => writtenDeal(raw, opts),
      );
    },

    async update(id: string, patch: DealInput, opts): Promise<PreparedWrite<Deal>> {
      const did = nativeId(id, 'deal', 'list_deals');
      const body = fromDealInput(patch);
      requireChange(body, 'deal', WRITE_FIELDS.deals);
      const write = {
        method: 'PATCH',
        path: path`/api/v2/deals/${did}`,
        body,
        signal: opts.signal,
        record: { what: 'deal', id },
        before: references(patch, opts.signal),
      } as const;
      return client.prepareWrite(write, (raw: PdDeal) => writtenDeal(raw, opts));
    },
  };
}
