/**
 * Insightly organisations as accounts (/Organisations): the name, the website read as a domain,
 * and the owner. Insightly filters a list on one field (/Organisations/Search): the owner; a name
 * ("contains") is checked here over the whole listing. Writes are one request answered with the
 * record; the owner they name is checked to exist first.
 */
import { path } from '../../crm/http.js';
import type { Account } from '../../crm/model.js';
import { WRITE_FIELDS, type AccountInput, type AccountQuery, type CallOptions, type CrudOperations, type PreparedWrite } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { orNotFound, type Listing } from './client.js';
import { namedPage, namedRecord, type Ctx, type References } from './directory.js';
import { accountId, fromAccountInput, toAccount, userId, type IlOrganisation, type Names } from './map.js';
import { singleWrite } from './writes.js';

const refsOf = (body: Record<string, unknown>): References => ({ user: body.OWNER_USER_ID as number | undefined });
/** An organisation names its owner; its own ORGANISATION_ID names nothing else. */
const placed = (o: IlOrganisation) => ({ OWNER_USER_ID: o.OWNER_USER_ID });

export function accountOps(ctx: Ctx): CrudOperations<Account, AccountQuery, AccountInput> {
  const { client, dir } = ctx;
  const account = (opts: CallOptions) => (o: IlOrganisation, names: Names) => {
    dir.orgs.put({ id: o.ORGANISATION_ID, name: o.ORGANISATION_NAME });
    return toAccount(o, names, { remote: opts.include_remote_data });
  };

  return {
    list(query: AccountQuery, opts: CallOptions) {
      const owner = query.owner_id === undefined ? undefined : userId(query.owner_id);
      const needle = query.name?.trim().toLowerCase();
      const listing: Listing<IlOrganisation> = {
        path: '/Organisations',
        search: owner === undefined ? undefined : { field: 'OWNER_USER_ID', value: owner },
        // Top-level fields only: a whole organisation carries its links, dates and domains.
        query: { brief: true },
        key: (o) => String(o.ORGANISATION_ID),
        what: 'organisations',
        keep: needle ? [(o) => o.ORGANISATION_NAME.toLowerCase().includes(needle)] : [],
      };
      return namedPage(ctx, listing, query, opts, account(opts), ['users'], placed);
    },

    get(id: string, opts: CallOptions) {
      const oid = accountId(id);
      return namedRecord(ctx, orNotFound('account', id, client.get<IlOrganisation>(path`/Organisations/${oid}`, opts.signal)), opts, account(opts), ['users'], placed);
    },

    async create(input: AccountInput, opts): Promise<PreparedWrite<Account>> {
      const body = fromAccountInput(input);
      return singleWrite(ctx, { request: { method: 'POST', path: '/Organisations', body }, refs: refsOf(body), signal: opts.signal, placed, toRecord: account(opts) });
    },

    async update(id: string, patch: AccountInput, opts): Promise<PreparedWrite<Account>> {
      const oid = accountId(id);
      const body = fromAccountInput(patch);
      requireChange(body, 'account', WRITE_FIELDS.accounts.filter((f) => f !== 'industry'));
      return singleWrite(ctx, {
        // v3.1 PUT changes only the fields sent; the id goes in the body.
        request: { method: 'PUT', path: '/Organisations', body: { ORGANISATION_ID: oid, ...body } },
        refs: refsOf(body),
        signal: opts.signal,
        updating: { kind: 'account', id },
        placed,
        toRecord: account(opts),
      });
    },
  };
}
