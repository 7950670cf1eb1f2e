/**
 * Contacts through Truto's unified `contacts`: emails and phones are Truto's `email_addresses`
 * and `phone_numbers` lists. Name and email filters are matched here over Truto's pages (Truto
 * documents no contact email query); account and owner go to Truto as account[id] and owner[id]
 * and are checked here too.
 */
import type { Contact } from '../../crm/model.js';
import type { ContactInput, ContactQuery, CrudOperations } from '../../crm/provider.js';
import { compact } from '../../crm/records.js';
import type { TrutoClient } from './client.js';
import { contactFromTruto, contactToTruto, emailIs, nameContains, type TrutoContact } from './map.js';
import { trutoResource, type ReferenceCheck } from './resource.js';

export function contactOps(client: TrutoClient, check: ReferenceCheck): CrudOperations<Contact, ContactQuery, ContactInput> {
  return trutoResource<Contact, TrutoContact, ContactInput, ContactQuery>(client, {
    resource: 'contacts',
    noun: 'contact',
    listTool: 'list_contacts',
    fromTruto: (c, o) => contactFromTruto(c, o),
    toTruto: contactToTruto,
    listParams: (q) =>
      compact({
        account: q.account_id === undefined ? undefined : { id: q.account_id },
        owner: q.owner_id === undefined ? undefined : { id: q.owner_id },
      }),
    localFilter: (q) =>
      q.name === undefined && q.email === undefined && q.account_id === undefined && q.owner_id === undefined
        ? undefined
        : (c) =>
            nameContains(c.name, q.name) &&
            (q.email === undefined || (c.emails ?? []).some((e) => emailIs(e, q.email))) &&
            (q.account_id === undefined || c.account?.id === q.account_id) &&
            (q.owner_id === undefined || c.owner?.id === q.owner_id),
    references: (input) => ({ account: input.account_id, user: input.owner_id }),
    check,
  });
}
