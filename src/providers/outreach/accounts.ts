/**
 * Outreach accounts: list (by owner, and by name through Outreach's `filter[q]`, which matches the
 * start of names), get, create and update. Every read includes the owner's name; a create is
 * `named`, so Outreach lists it (only named accounts show in its collection).
 */
import type { Account } from '../../crm/model.js';
import { WRITE_FIELDS, type AccountInput, type AccountQuery, type CallOptions, type CrudOperations } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { ACCOUNTS, pageSize, readBack } from './client.js';
import type { Ctx } from './directory.js';
import { fromAccountInput, idOf, includedOf, nativeId, toAccount, type OrAccount } from './map.js';

/** The owner's name only, and an account's own fields (it has 150 custom fields besides) unless remote_data is asked for. */
const readQuery = (opts: CallOptions) => ({
  include: 'owner',
  fields: { user: 'name', ...(opts.include_remote_data ? {} : { account: 'name,domain,industry,createdAt,updatedAt,owner' }) },
});

export function accountOps(ctx: Ctx): CrudOperations<Account, AccountQuery, AccountInput> {
  const { client } = ctx;

  async function get(id: string, opts: CallOptions): Promise<Account> {
    const { data, included } = await client.read<OrAccount>(ACCOUNTS, nativeId(id, 'account', 'search (types: accounts) or list_accounts'), id, readQuery(opts), opts.signal);
    return toAccount(data, includedOf(included), { remote: opts.include_remote_data });
  }

  const after = readBack('account', 'get_account', get);

  return {
    async list(query, opts) {
      const owner = idOf(query.owner_id, 'user');
      const filter = { ...(query.name !== undefined ? { q: query.name.trim() } : {}), ...(owner !== undefined ? { owner: { id: owner } } : {}) };
      const page = await client.page<OrAccount>(
        ACCOUNTS,
        { ...(Object.keys(filter).length ? { filter } : {}), sort: 'name', ...readQuery(opts) },
        { size: pageSize(query.limit), cursor: query.cursor },
        opts.signal,
      );
      const names = includedOf(page.included);
      return { items: page.items.map((a) => toAccount(a, names, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
    },

    get,

    async create(input, opts) {
      return client.prepareWrite(ACCOUNTS, { body: fromAccountInput(input, 'create'), signal: opts.signal }, after(opts));
    },

    async update(id, patch, opts) {
      const aid = nativeId(id, 'account', 'search (types: accounts) or list_accounts');
      const body = fromAccountInput(patch, 'update');
      requireChange({ ...body.attributes, ...body.relationships }, 'account', WRITE_FIELDS.accounts);
      return client.prepareWrite(ACCOUNTS, { id: { native: aid, shown: id }, body, signal: opts.signal }, after(opts));
    },
  };
}
