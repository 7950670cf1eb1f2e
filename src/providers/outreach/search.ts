/**
 * Search in Outreach, one request per type (crm/search.ts runs them together, cancels them
 * together and reports progress per type):
 * - accounts: `filter[q]`, Outreach's name search for accounts (its docs: the start of names);
 * - contacts: `filter[q]` on prospects, or `filter[emails]` when the query is an email address;
 * - deals: `filter[name]`, the only name filter Outreach has for opportunities: the whole name;
 * - users: the users directory (directory.ts; Outreach filters users by an exact first name, last
 *   name or email only), matched here by name or email.
 * Each hit carries what its answer already holds (an account's domain and owner, a contact's
 * account and first email, a deal's stage, status and owner, a user's email).
 */
import type { SearchType } from '../../crm/model.js';
import type { CallOptions, SearchAnswer, SearchHit, SearchQuery } from '../../crm/provider.js';
import { searchEach } from '../../crm/search.js';
import { ACCOUNTS, PROSPECTS, pageSize } from './client.js';
import { contactReadQuery } from './contacts.js';
import type { Ctx } from './directory.js';
import { dealsNamed } from './deals.js';
import { includedOf, personName, toAccount, toContact, type OrAccount, type OrProspect } from './map.js';

/** The types Outreach can search server-side (capabilities.search). */
export const OUTREACH_SEARCH: readonly SearchType[] = ['deals', 'accounts', 'contacts', 'users'];

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function searchOp(ctx: Ctx): (query: SearchQuery, opts: CallOptions) => Promise<SearchAnswer> {
  const { client } = ctx;
  const size = (limit: number) => pageSize(limit);

  const byType: Record<'deals' | 'accounts' | 'contacts' | 'users', (q: SearchQuery, signal: AbortSignal) => Promise<SearchHit[]>> = {
    async accounts(q, signal) {
      const page = await client.page<OrAccount>(
        ACCOUNTS,
        { filter: { q: q.query }, include: 'owner', fields: { user: 'name', account: 'name,domain,owner' } },
        { size: size(q.limit) },
        signal,
      );
      const names = includedOf(page.included);
      return page.items.map((a) => {
        const x = toAccount(a, names);
        return { type: 'accounts', id: x.id, name: x.name, domain: x.domain, owner: x.owner };
      });
    },
    async contacts(q, signal) {
      const filter = EMAIL.test(q.query) ? { emails: q.query.toLowerCase() } : { q: q.query };
      const page = await client.page<OrProspect>(PROSPECTS, { filter, ...contactReadQuery({}) }, { size: size(q.limit) }, signal);
      const names = includedOf(page.included);
      return page.items.map((p) => {
        const c = toContact(p, names);
        return { type: 'contacts', id: c.id, name: c.name, account: c.account, email: c.emails?.[0] };
      });
    },
    async deals(q, signal) {
      const found = await dealsNamed(ctx, q.query, size(q.limit), signal);
      return found.map((d) => ({ type: 'deals', id: d.id, name: d.name, stage: d.stage, status: d.status, owner: d.owner }));
    },
    async users(q, signal) {
      const needle = q.query.toLocaleLowerCase('en-US');
      const all = [...(await ctx.users.all(signal)).values()];
      return all
        .filter((u) => personName(u.attributes).toLocaleLowerCase('en-US').includes(needle) || (u.attributes?.email ?? '').toLowerCase().includes(needle))
        .map((u) => ({ type: 'users', id: String(u.id), name: personName(u.attributes), email: u.attributes?.email ?? undefined }));
    },
  };

  return (query, opts) =>
    searchEach(query.types, opts, (type, signal) => byType[type as keyof typeof byType](query, signal));
}
