/**
 * Pipedrive persons as contacts (API v2 /persons): emails and phones are lists of {value,
 * primary, label} there and lists of strings here, the primary one first; `title` is the job title;
 * the account is the person's organization. Pipedrive takes a whole `name`, so changing only the
 * first or the last name reads the person first for the other half. A name or email filter goes
 * through /persons/search (an email matches whole addresses only).
 */
import { CrmError } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Contact } from '../../crm/model.js';
import { WRITE_FIELDS, type CallOptions, type ContactInput, type ContactQuery, type CrudOperations, type Page, type PreparedWrite } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { TOKEN_COST, deletedError, orNotFound, pageSize } from './client.js';
import { checkReferences, namesAfterWrite, namesFor, type Ctx } from './directory.js';
import { fromContactInput, orgId, personId, toContact, userId, type PdPerson } from './map.js';
import { searchTerm, searchedPage } from './records.js';

export function contactOps(ctx: Ctx): CrudOperations<Contact, ContactQuery, ContactInput> {
  const { client, dir } = ctx;

  const names = (persons: readonly PdPerson[], signal?: AbortSignal) =>
    namesFor(ctx, { users: persons.map((p) => p.owner_id), orgs: persons.map((p) => p.org_id) }, signal);

  const read = async (id: string, signal?: AbortSignal): Promise<PdPerson> => {
    const pid = personId(id);
    const env = await orNotFound('contact', id, client.read<PdPerson>(path`/api/v2/persons/${pid}`, undefined, TOKEN_COST.v2Get, signal));
    if (env.data.is_deleted) throw deletedError('contact', id);
    dir.persons.put(env.data);
    return env.data;
  };

  const written = (opts: CallOptions) => async (raw: PdPerson) => {
    dir.persons.put(raw);
    return toContact(raw, await namesAfterWrite(ctx, names([raw], opts.signal)), { remote: opts.include_remote_data });
  };

  const references = (input: ContactInput, signal?: AbortSignal) => () =>
    checkReferences(ctx, { owner_id: input.owner_id, account_id: input.account_id }, signal);

  return {
    async list(query: ContactQuery, opts: CallOptions): Promise<Page<Contact>> {
      const filters = {
        owner_id: query.owner_id === undefined ? undefined : userId(query.owner_id),
        org_id: query.account_id === undefined ? undefined : orgId(query.account_id),
      };
      const page = { size: pageSize(query.limit), cursor: query.cursor };
      const byEmail = query.email !== undefined;
      const found =
        query.name === undefined && !byEmail
          ? await client.page<PdPerson>(path`/api/v2/persons`, filters, page, TOKEN_COST.v2PersonsList, opts.signal)
          : await searchedPage<PdPerson>(
              ctx,
              {
                searchPath: path`/api/v2/persons/search`,
                search: byEmail
                  ? { term: searchTerm(query.email!, 'email'), fields: 'email', exact_match: true, organization_id: filters.org_id }
                  : { term: searchTerm(query.name!, 'name'), fields: 'name', organization_id: filters.org_id },
                listPath: path`/api/v2/persons`,
                filters,
                listTokens: TOKEN_COST.v2PersonsList,
              },
              page,
              opts.signal,
            );
      // Searched by email, a name filter as well is applied here.
      const name = byEmail ? query.name?.trim().toLowerCase() : undefined;
      const items = name === undefined ? found.items : found.items.filter((p) => p.name.toLowerCase().includes(name));
      for (const p of items) dir.persons.put(p);
      const n = await names(items, opts.signal);
      return { items: items.map((p) => toContact(p, n, { remote: opts.include_remote_data })), next_cursor: found.next_cursor };
    },

    async get(id: string, opts: CallOptions): Promise<Contact> {
      const person = await read(id, opts.signal);
      return toContact(person, await names([person], opts.signal), { remote: opts.include_remote_data });
    },

    async create(input: ContactInput, opts): Promise<PreparedWrite<Contact>> {
      const body = fromContactInput(input);
      if (!body.name) throw new CrmError('validation', 'Pipedrive requires `first_name` or `last_name` to create a contact.');
      return client.prepareWrite(
        { method: 'POST', path: path`/api/v2/persons`, body, signal: opts.signal, before: references(input, opts.signal) },
        written(opts),
      );
    },

    async update(id: string, patch: ContactInput, opts): Promise<PreparedWrite<Contact>> {
      const pid = personId(id);
      // Only one half of the name given: the other half is the person's own.
      const halfName = (patch.first_name === undefined) !== (patch.last_name === undefined);
      const body = fromContactInput(patch, halfName ? await read(id, opts.signal) : undefined);
      requireChange(body, 'contact', WRITE_FIELDS.contacts);
      return client.prepareWrite(
        {
          method: 'PATCH',
          path: path`/api/v2/persons/${pid}`,
          body,
          signal: opts.signal,
          record: { what: 'contact', id },
          before: references(patch, opts.signal),
        },
        written(opts),
      );
    },
  };
}
