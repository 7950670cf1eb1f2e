/**
 * Deals through Truto: its unified `opportunities`, without the fields a Deal never shows. An
 * account filter goes as account[id] (the form Truto documents for projects) and is checked here
 * on every deal too, so a CRM that ignores it still answers only that account's deals.
 */
import type { Deal } from '../../crm/model.js';
import type { CrudOperations, DealInput, DealQuery } from '../../crm/provider.js';
import { compact } from '../../crm/records.js';
import type { TrutoClient } from './client.js';
import { OPPORTUNITY_UNUSED_FIELDS, dealFromTruto, dealToTruto, type TrutoOpportunity } from './map.js';
import { trutoResource, type ReferenceCheck } from './resource.js';

export function dealOps(client: TrutoClient, check: ReferenceCheck): CrudOperations<Deal, DealQuery, DealInput> {
  return trutoResource<Deal, TrutoOpportunity, DealInput, DealQuery>(client, {
    resource: 'opportunities',
    noun: 'deal',
    listTool: 'list_deals',
    fromTruto: (o, opts) => dealFromTruto(o, opts),
    toTruto: dealToTruto,
    exclude: OPPORTUNITY_UNUSED_FIELDS,
    listParams: (q) =>
      compact({
        pipeline: q.pipeline_id === undefined ? undefined : { id: q.pipeline_id },
        stage: q.stage_id === undefined ? undefined : { id: q.stage_id },
        status: q.status,
        owner: q.owner_id === undefined ? undefined : { id: q.owner_id },
        account: q.account_id === undefined ? undefined : { id: q.account_id },
      }),
    localFilter: (q) => (q.account_id === undefined ? undefined : (d) => d.account?.id === q.account_id),
    references: (input) => ({ user: input.owner_id, account: input.account_id }),
    check,
  });
}
