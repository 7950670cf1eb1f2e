/**
 * Pipedrive organizations as accounts (API v2 /organizations). `domain` is the organization's
 * website as a host name; Pipedrive's industry is an option of a company-defined list, so it is
 * neither read nor written. A name filter goes through /organizations/search.
 */
import { CrmError } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Account } from '../../crm/model.js';
import { WRITE_FIELDS, type AccountInput, type AccountQuery, type CallOptions, type CrudOperations, type Page, type PreparedWrite } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { TOKEN_COST, deletedError, orNotFound, pageSize } from './client.js';
import { checkReferences, namesAfterWrite, namesFor, type Ctx } from './directory.js';
import { fromAccountInput, orgId, toAccount, userId, type PdOrganization } from './map.js';
import { searchTerm, searchedPage } from './records.js';

export function accountOps(ctx: Ctx): CrudOperations<Account, AccountQuery, AccountInput> {
  const { client, dir } = ctx;

  const names = (orgs: readonly PdOrganization[], signal?: AbortSignal) => namesFor(ctx, { users: orgs.map((o) => o.owner_id) }, signal);

  const written = (opts: CallOptions) => async (raw: PdOrganization) => {
    dir.orgs.put(raw);
    return toAccount(raw, await namesAfterWrite(ctx, names([raw], opts.signal)), { remote: opts.include_remote_data });
  };

  return {
    async list(query: AccountQuery, opts: CallOptions): Promise<Page<Account>> {
      const filters = { owner_id: query.owner_id === undefined ? undefined : userId(query.owner_id) };
      const page = { size: pageSize(query.limit), cursor: query.cursor };
      const found =
        query.name === undefined
          ? await client.page<PdOrganization>(path`/api/v2/organizations`, filters, page, TOKEN_COST.v2OrganizationsList, opts.signal)
          : await searchedPage<PdOrganization>(
              ctx,
              {
                searchPath: path`/api/v2/organizations/search`,
                search: { term: searchTerm(query.name, 'name'), fields: 'name' },
                listPath: path`/api/v2/organizations`,
                filters,
                listTokens: TOKEN_COST.v2OrganizationsList,
              },
              page,
              opts.signal,
            );
      for (const o of found.items) dir.orgs.put(o);
      const n = await names(found.items, opts.signal);
      return { items: found.items.map((o) => toAccount(o, n, { remote: opts.include_remote_data })), next_cursor: found.next_cursor };
    },

    async get(id: string, opts: CallOptions): Promise<Account> {
      const oid = orgId(id);
      const env = await orNotFound('account', id, client.read<PdOrganization>(path`/api/v2/organizations/${oid}`, undefined, TOKEN_COST.v2Get, opts.signal));
      if (env.data.is_deleted) throw deletedError('account', id);
      dir.orgs.put(env.data);
      return toAccount(env.data, await names([env.data], opts.signal), { remote: opts.include_remote_data });
    },

    async create(input: AccountInput, opts): Promise<PreparedWrite<Account>> {
      const body = fromAccountInput(input);
      if (body.name === undefined) throw new CrmError('validation', 'Pipedrive requires `name` to create an account.');
      return client.prepareWrite(
        { method: 'POST', path: path`/api/v2/organizations`, body, signal: opts.signal, before: () => checkReferences(ctx, { owner_id: input.owner_id }, opts.signal) },
        written(opts),
      );
    },

    async update(id: string, patch: AccountInput, opts): Promise<PreparedWrite<Account>> {
      const oid = orgId(id);
      const body = fromAccountInput(patch);
      requireChange(body, 'account', WRITE_FIELDS.accounts.filter((f) => f !== 'industry'));
      return client.prepareWrite(
        {
          method: 'PATCH',
          path: path`/api/v2/organizations/${oid}`,
          body,
          signal: opts.signal,
          record: { what: 'account', id },
          before: () => checkReferences(ctx, { owner_id: patch.owner_id }, opts.signal),
        },
        written(opts),
      );
    },
  };
}
