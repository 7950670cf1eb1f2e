/**
 * Outreach accounts: list (by owner, and by name through Outreach's `filter[q]`, which matches the
 * start of names), get, create and update. Every read includes the owner's name; a create is
 * `named`, so Outreach lists it (only named accounts show in its collection).
 */
import type { Account } from '../../crm/model.js';
import { WRITE_FIELDS, type AccountInput, type AccountQuery, type CallOptions, type CrudOperations } from '../../crm/provider.js';
import { ACCOUNTS } from './client.js';
import type { Ctx } from './directory.js';
import { fromAccountInput, idOf, toAccount, type OrAccount } from './map.js';
import { resourceOps } from './resource.js';

/** The owner's name only, and an account's own fields (it has 150 custom fields besides) unless remote_data is asked for. */
export const accountReadQuery = (opts: CallOptions) => ({
  include: 'owner',
  fields: { user: 'name', ...(opts.include_remote_data ? {} : { account: 'name,domain,industry,createdAt,updatedAt,owner' }) },
});

export function accountOps(ctx: Ctx): CrudOperations<Account, AccountQuery, AccountInput> {
  return resourceOps<Account, AccountQuery, AccountInput, OrAccount>(ctx, {
    collection: ACCOUNTS,
    noun: 'account',
    findIds: 'search (types: accounts) or list_accounts',
    getTool: 'get_account',
    fields: WRITE_FIELDS.accounts,
    readQuery: accountReadQuery,
    sort: 'name',
    filter: (query) => {
      const owner = idOf(query.owner_id, 'user');
      return { ...(query.name !== undefined ? { q: query.name.trim() } : {}), ...(owner !== undefined ? { owner: { id: owner } } : {}) };
    },
    toRecord: toAccount,
    toBody: fromAccountInput,
  });
}
