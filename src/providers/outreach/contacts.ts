/**
 * Outreach prospects as contacts: list (by name through Outreach's `filter[q]`, which matches the
 * start of names, by email through `filter[emails]`, by account and owner), get, create and
 * update. Every read includes the names of the prospect's account and owner.
 */
import type { Contact } from '../../crm/model.js';
import { WRITE_FIELDS, type CallOptions, type ContactInput, type ContactQuery, type CrudOperations } from '../../crm/provider.js';
import { PROSPECTS } from './client.js';
import type { Ctx } from './directory.js';
import { fromContactInput, idOf, toContact, PHONE_LISTS, type OrProspect } from './map.js';
import { resourceOps } from './resource.js';

/** A prospect's own fields a contact shows (it has 150 custom fields besides), and its account's and owner's names. */
const PROSPECT_FIELDS = ['name', 'firstName', 'lastName', 'emails', ...PHONE_LISTS, 'title', 'createdAt', 'updatedAt', 'account', 'owner'].join(',');

export const contactReadQuery = (opts: CallOptions) => ({
  include: 'account,owner',
  fields: { account: 'name', user: 'name', ...(opts.include_remote_data ? {} : { prospect: PROSPECT_FIELDS }) },
});

export function contactOps(ctx: Ctx): CrudOperations<Contact, ContactQuery, ContactInput> {
  return resourceOps<Contact, ContactQuery, ContactInput, OrProspect>(ctx, {
    collection: PROSPECTS,
    noun: 'contact',
    findIds: 'search (types: contacts) or list_contacts',
    getTool: 'get_contact',
    fields: WRITE_FIELDS.contacts,
    readQuery: contactReadQuery,
    sort: 'lastName',
    filter: (query) => {
      const account = idOf(query.account_id, 'account');
      const owner = idOf(query.owner_id, 'user');
      return {
        ...(query.name !== undefined ? { q: query.name.trim() } : {}),
        ...(query.email !== undefined ? { emails: query.email.trim().toLowerCase() } : {}),
        ...(account !== undefined ? { account: { id: account } } : {}),
        ...(owner !== undefined ? { owner: { id: owner } } : {}),
      };
    },
    toRecord: toContact,
    toBody: fromContactInput,
  });
}
