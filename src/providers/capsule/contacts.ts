/**
 * Capsule people as contacts. Lists are a structured search on parties (type person, with name,
 * email and owner), except an organisation's people, which only `GET /parties/{id}/people` lists,
 * so account_id is served alone. Emails and phones replace the lists on update: the person is
 * read first and the addresses to drop are sent with `_delete` (Party docs).
 */
import { CrmError, excerpt } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Contact } from '../../crm/model.js';
import { WRITE_FIELDS, type ContactInput, type ContactQuery, type CrudOperations, type PreparedWrite, type WriteOptions } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { orUnknown, pageSize, search, unwrap, type Listing } from './client.js';
import { checkReferences, type Ctx } from './directory.js';
import { fromContactInput, nativeId, partyConditions, toContact, type CapsulePartyRecord } from './map.js';

const FILTERS = ['name', 'email', 'owner_id'] as const;

export function contactOps(ctx: Ctx): CrudOperations<Contact, ContactQuery, ContactInput> {
  const { client } = ctx;
  const written = (answer: unknown, opts: WriteOptions) => toContact(unwrap<CapsulePartyRecord>(answer, 'party'), { remote: opts.include_remote_data });

  async function readPerson(id: string, signal?: AbortSignal): Promise<CapsulePartyRecord> {
    const pid = nativeId(id, 'party (contact)', 'search (types: contacts)');
    const p = await orUnknown('contact', id, client.get<CapsulePartyRecord>(path`/parties/${pid}`, 'party', undefined, signal));
    if (p.type !== 'person') {
      throw new CrmError('not_found', `No contact with id '${excerpt(id)}': in Capsule it is an organisation; get_account reads it.`);
    }
    return p;
  }

  function listing(q: ContactQuery): Listing {
    if (q.account_id === undefined) return search('parties', 'parties', partyConditions('person', q));
    const others = FILTERS.filter((f) => q[f] !== undefined);
    if (others.length) {
      throw new CrmError(
        'unsupported',
        `Capsule lists an organisation's people only without other filters: pass account_id alone, or ${others.map((f) => `\`${f}\``).join(', ')} without account_id.`,
      );
    }
    return { path: path`/parties/${nativeId(q.account_id, 'party (account)', 'search (types: accounts)')}/people`, key: 'parties' };
  }

  return {
    async list(query, opts) {
      const first = listing(query);
      const read = client.page<CapsulePartyRecord>(first, { size: pageSize(query.limit), cursor: query.cursor }, opts.signal);
      const page = await (query.account_id === undefined ? read : orUnknown('account', query.account_id, read));
      return { items: page.items.map((p) => toContact(p, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
    },

    async get(id, opts) {
      return toContact(await readPerson(id, opts.signal), { remote: opts.include_remote_data });
    },

    async create(input, opts): Promise<PreparedWrite<Contact>> {
      const body = fromContactInput(input);
      if (body.firstName === undefined && body.lastName === undefined) {
        throw new CrmError('validation', 'Capsule requires `first_name` or `last_name` to create a contact.');
      }
      return client.prepareWrite(
        {
          method: 'POST',
          path: path`/parties`,
          body: { party: body },
          signal: opts.signal,
          before: () => checkReferences(ctx, { owner: input.owner_id, organisation: input.account_id }, opts.signal),
        },
        (a) => written(a, opts),
      );
    },

    async update(id, patch, opts): Promise<PreparedWrite<Contact>> {
      const current = await readPerson(id, opts.signal);
      const body = fromContactInput(patch, current);
      requireChange(body, 'contact', WRITE_FIELDS.contacts);
      return client.prepareWrite(
        {
          method: 'PUT',
          path: path`/parties/${current.id}`,
          body: { party: body },
          signal: opts.signal,
          record: { what: 'contact', id },
          before: () => checkReferences(ctx, { owner: patch.owner_id, organisation: patch.account_id }, opts.signal),
        },
        (a) => written(a, opts),
      );
    },
  };
}
