/**
 * Accounts through Truto's unified `accounts`. The domain is the host of Truto's `website`. A
 * name filter is matched here (contains, any case) over the pages Truto gives: its own `name`
 * query is passed to each CRM as that CRM matches names, often whole names only.
 */
import type { Account } from '../../crm/model.js';
import type { AccountInput, AccountQuery, CrudOperations } from '../../crm/provider.js';
import { compact } from '../../crm/records.js';
import type { TrutoClient } from './client.js';
import { accountFromTruto, accountToTruto, nameContains, type TrutoAccount } from './map.js';
import { trutoResource, type ReferenceCheck } from './resource.js';

export function accountOps(client: TrutoClient, check: ReferenceCheck): CrudOperations<Account, AccountQuery, AccountInput> {
  return trutoResource<Account, TrutoAccount, AccountInput, AccountQuery>(client, {
    resource: 'accounts',
    noun: 'account',
    listTool: 'list_accounts',
    fromTruto: (a, o) => accountFromTruto(a, o),
    toTruto: accountToTruto,
    listParams: (q) => compact({ owner: q.owner_id === undefined ? undefined : { id: q.owner_id } }),
    localFilter: (q) =>
      q.name === undefined && q.owner_id === undefined
        ? undefined
        : (a) => nameContains(a.name, q.name) && (q.owner_id === undefined || a.owner?.id === q.owner_id),
    references: (input) => ({ user: input.owner_id }),
    check,
  });
}
