/**
 * Capsule organisations as accounts. Capsule keeps people and organisations together as parties,
 * so a list is always a structured search (`POST /parties/filters/results`, type organisation,
 * with name and owner), a read of a person's id is refused as no account, and an update reads the
 * organisation first (its kind, and the web address a domain rewrites).
 */
import { CrmError, excerpt } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Account } from '../../crm/model.js';
import { WRITE_FIELDS, type AccountInput, type AccountQuery, type CrudOperations, type PreparedWrite, type WriteOptions } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { orUnknown, pageSize, search, unwrap } from './client.js';
import { checkReferences, type Ctx } from './directory.js';
import { fromAccountInput, nativeId, partyConditions, toAccount, type CapsulePartyRecord } from './map.js';

/** A party read by its id that must be an organisation. */
export async function readOrganisation(ctx: Ctx, id: string, signal?: AbortSignal): Promise<CapsulePartyRecord> {
  const pid = nativeId(id, 'party (account)', 'search (types: accounts)');
  const p = await orUnknown('account', id, ctx.client.get<CapsulePartyRecord>(path`/parties/${pid}`, 'party', undefined, signal));
  if (p.type !== 'organisation') {
    throw new CrmError('not_found', `No account with id '${excerpt(id)}': in Capsule it is a person; get_contact reads it.`);
  }
  return p;
}

export function accountOps(ctx: Ctx): CrudOperations<Account, AccountQuery, AccountInput> {
  const { client } = ctx;
  const written = (answer: unknown, opts: WriteOptions) => toAccount(unwrap<CapsulePartyRecord>(answer, 'party'), { remote: opts.include_remote_data });

  return {
    async list(query, opts) {
      const page = await client.page<CapsulePartyRecord>(search('parties', 'parties', partyConditions('organisation', query)), {
        size: pageSize(query.limit),
        cursor: query.cursor,
      }, opts.signal);
      return { items: page.items.map((p) => toAccount(p, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
    },

    async get(id, opts) {
      return toAccount(await readOrganisation(ctx, id, opts.signal), { remote: opts.include_remote_data });
    },

    async create(input, opts): Promise<PreparedWrite<Account>> {
      const body = fromAccountInput(input);
      if (body.name === undefined) throw new CrmError('validation', 'Capsule requires `name` to create an account.');
      return client.prepareWrite(
        { method: 'POST', path: path`/parties`, body: { party: body }, signal: opts.signal, before: () => checkReferences(ctx, { owner: input.owner_id }, opts.signal) },
        (a) => written(a, opts),
      );
    },

    async update(id, patch, opts): Promise<PreparedWrite<Account>> {
      const current = await readOrganisation(ctx, id, opts.signal);
      const body = fromAccountInput(patch, current);
      requireChange(body, 'account', WRITE_FIELDS.accounts.filter((f) => f !== 'industry'));
      return client.prepareWrite(
        {
          method: 'PUT',
          path: path`/parties/${current.id}`,
          body: { party: body },
          signal: opts.signal,
          record: { what: 'account', id },
          before: () => checkReferences(ctx, { owner: patch.owner_id }, opts.signal),
        },
        (a) => written(a, opts),
      );
    },
  };
}
