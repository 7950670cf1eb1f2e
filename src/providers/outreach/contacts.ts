/**
 * Outreach prospects as contacts: list (by name through Outreach's `filter[q]`, which matches the
 * start of names, by email through `filter[emails]`, by account and owner), get, create and
 * update. Every read includes the names of the prospect's account and owner.
 */
import type { Contact } from '../../crm/model.js';
import { WRITE_FIELDS, type CallOptions, type ContactInput, type ContactQuery, type CrudOperations } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { PROSPECTS, pageSize, readBack } from './client.js';
import type { Ctx } from './directory.js';
import { fromContactInput, idOf, includedOf, nativeId, toContact, PHONE_LISTS, type OrProspect } from './map.js';

/** A prospect's own fields a contact shows (it has 150 custom fields besides), and its account's and owner's names. */
const PROSPECT_FIELDS = ['name', 'firstName', 'lastName', 'emails', ...PHONE_LISTS, 'title', 'createdAt', 'updatedAt', 'account', 'owner'].join(',');

export const contactReadQuery = (opts: CallOptions) => ({
  include: 'account,owner',
  fields: { account: 'name', user: 'name', ...(opts.include_remote_data ? {} : { prospect: PROSPECT_FIELDS }) },
});

export function contactOps(ctx: Ctx): CrudOperations<Contact, ContactQuery, ContactInput> {
  const { client } = ctx;

  async function get(id: string, opts: CallOptions): Promise<Contact> {
    const pid = nativeId(id, 'contact', 'search (types: contacts) or list_contacts');
    const { data, included } = await client.read<OrProspect>(PROSPECTS, pid, id, contactReadQuery(opts), opts.signal);
    return toContact(data, includedOf(included), { remote: opts.include_remote_data });
  }

  const after = readBack('contact', 'get_contact', get);

  return {
    async list(query, opts) {
      const account = idOf(query.account_id, 'account');
      const owner = idOf(query.owner_id, 'user');
      const filter = {
        ...(query.name !== undefined ? { q: query.name.trim() } : {}),
        ...(query.email !== undefined ? { emails: query.email.trim().toLowerCase() } : {}),
        ...(account !== undefined ? { account: { id: account } } : {}),
        ...(owner !== undefined ? { owner: { id: owner } } : {}),
      };
      const page = await client.page<OrProspect>(
        PROSPECTS,
        { ...(Object.keys(filter).length ? { filter } : {}), sort: 'lastName', ...contactReadQuery(opts) },
        { size: pageSize(query.limit), cursor: query.cursor },
        opts.signal,
      );
      const names = includedOf(page.included);
      return { items: page.items.map((p) => toContact(p, names, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
    },

    get,

    async create(input, opts) {
      return client.prepareWrite(PROSPECTS, { body: fromContactInput(input, 'create'), signal: opts.signal }, after(opts));
    },

    async update(id, patch, opts) {
      const pid = nativeId(id, 'contact', 'search (types: contacts) or list_contacts');
      const body = fromContactInput(patch, 'update');
      requireChange({ ...body.attributes, ...body.relationships }, 'contact', WRITE_FIELDS.contacts);
      return client.prepareWrite(PROSPECTS, { id: { native: pid, shown: id }, body, signal: opts.signal }, after(opts));
    },
  };
}
