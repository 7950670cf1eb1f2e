/**
 * Insightly contacts (/Contacts): first and last name, one email address, four phone fields, a
 * title, the organisation (ORGANISATION_ID) and the owner. Insightly filters a list on one field
 * (/Contacts/Search): an email address, else an organisation, else an owner; the rest, and a name
 * ("contains"), are checked here over the whole filtered listing. Writes are one request answered
 * with the record; the organisation and owner they name are checked to exist first.
 */
import { path } from '../../crm/http.js';
import type { Contact } from '../../crm/model.js';
import { WRITE_FIELDS, type CallOptions, type ContactInput, type ContactQuery, type CrudOperations, type PreparedWrite } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { orNotFound, type Listing } from './client.js';
import { namedPage, namedRecord, type Ctx, type References } from './directory.js';
import { accountId, contactId, contactName, fromContactInput, toContact, userId, type IlContact, type Names } from './map.js';
import { singleWrite } from './writes.js';

const refsOf = (body: Record<string, unknown>): References => ({
  user: body.OWNER_USER_ID as number | undefined,
  account: body.ORGANISATION_ID as number | undefined,
});

export function contactOps(ctx: Ctx): CrudOperations<Contact, ContactQuery, ContactInput> {
  const { client } = ctx;
  const contact = (opts: CallOptions) => (c: IlContact, names: Names) => toContact(c, names, { remote: opts.include_remote_data });

  return {
    list(query: ContactQuery, opts: CallOptions) {
      const email = query.email?.trim();
      const account = query.account_id === undefined ? undefined : accountId(query.account_id);
      const owner = query.owner_id === undefined ? undefined : userId(query.owner_id);
      const needle = query.name?.trim().toLowerCase();
      // The one field Insightly filters on, the most selective first; the rest is checked here.
      const search =
        email !== undefined
          ? { field: 'EMAIL_ADDRESS', value: email }
          : account !== undefined
            ? { field: 'ORGANISATION_ID', value: account }
            : owner !== undefined
              ? { field: 'OWNER_USER_ID', value: owner }
              : undefined;
      const on = search?.field;
      const checks: Array<(c: IlContact) => boolean> = [];
      if (account !== undefined && on !== 'ORGANISATION_ID') checks.push((c) => c.ORGANISATION_ID === account);
      if (owner !== undefined && on !== 'OWNER_USER_ID') checks.push((c) => c.OWNER_USER_ID === owner);
      if (needle) checks.push((c) => contactName(c).toLowerCase().includes(needle));
      const listing: Listing<IlContact> = {
        path: '/Contacts',
        search,
        query: { brief: true },
        key: (c) => String(c.CONTACT_ID),
        what: 'contacts',
        keep: checks,
      };
      return namedPage(ctx, listing, query, opts, contact(opts), ['users']);
    },

    get(id: string, opts: CallOptions) {
      const cid = contactId(id);
      return namedRecord(ctx, orNotFound('contact', id, client.get<IlContact>(path`/Contacts/${cid}`, opts.signal)), opts, contact(opts), ['users']);
    },

    async create(input: ContactInput, opts): Promise<PreparedWrite<Contact>> {
      const body = fromContactInput(input, 'create');
      return singleWrite(ctx, { request: { method: 'POST', path: '/Contacts', body }, refs: refsOf(body), signal: opts.signal, toRecord: contact(opts) });
    },

    async update(id: string, patch: ContactInput, opts): Promise<PreparedWrite<Contact>> {
      const cid = contactId(id);
      const body = fromContactInput(patch, 'update');
      requireChange(body, 'contact', WRITE_FIELDS.contacts);
      return singleWrite(ctx, {
        request: { method: 'PUT', path: '/Contacts', body: { CONTACT_ID: cid, ...body } },
        refs: refsOf(body),
        signal: opts.signal,
        updating: { kind: 'contact', id },
        toRecord: contact(opts),
      });
    },
  };
}
