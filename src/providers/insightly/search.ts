/**
 * Search with Insightly's own field search (`GET /{Collection}/Search?field_name=&field_value=`),
 * one type at a time through searchEach (parallel, cancelled together, progress per type).
 * Insightly matches a field's whole value (not a part of it), so a search finds records named
 * exactly as asked, whatever the case: deals by OPPORTUNITY_NAME, accounts by ORGANISATION_NAME,
 * projects by PROJECT_NAME; contacts and users by EMAIL_ADDRESS when the query is an address,
 * else by first or last name (one word), or by the last word as last name and the first as first
 * name (several), both at once. Pipelines and stages have no search endpoint: the tool layer says
 * so instead of scanning them.
 */
import type { SearchType } from '../../crm/model.js';
import { namesOf } from '../../crm/names.js';
import { together } from '../../crm/parallel.js';
import type { CallOptions, SearchAnswer, SearchHit, SearchQuery } from '../../crm/provider.js';
import { searchEach } from '../../crm/search.js';
import type { Listing } from './client.js';
import type { Ctx } from './directory.js';
import {
  accountHit,
  contactHit,
  dealHit,
  ownerOf,
  projectHit,
  userHit,
  type IlContact,
  type IlOpportunity,
  type IlOrganisation,
  type IlProject,
  type IlUser,
} from './map.js';

/** The types Insightly searches server-side. */
export const INSIGHTLY_SEARCH: readonly SearchType[] = ['deals', 'accounts', 'contacts', 'projects', 'users'];

/** Records asked for per search request: whole-value matches are few; the tool layer cuts to `limit`. */
const SEARCH_TOP = 100;

/** The fields a person (contact or user) is searched on for `query`: its email, else its names. */
export function personFields(query: string): Array<{ field: string; value: string }> {
  const q = query.trim();
  if (q.includes('@')) return [{ field: 'EMAIL_ADDRESS', value: q }];
  const words = q.split(/\s+/);
  if (words.length === 1) return [{ field: 'FIRST_NAME', value: q }, { field: 'LAST_NAME', value: q }];
  return [
    { field: 'LAST_NAME', value: words[words.length - 1] },
    { field: 'FIRST_NAME', value: words[0] },
  ];
}

export function searchOp(ctx: Ctx): (query: SearchQuery, opts: CallOptions) => Promise<SearchAnswer> {
  const { client, dir } = ctx;

  /** One page of `path`/Search on `field`. */
  const find = async <T>(path: string, field: string, value: string, key: (r: T) => string, signal: AbortSignal): Promise<T[]> => {
    const listing: Listing<T> = { path, search: { field, value }, query: { brief: true }, key, what: path.slice(1).toLowerCase() };
    return (await client.page(listing, { limit: SEARCH_TOP }, signal)).items;
  };

  /** A person search: one request per field, together; the same record found twice counts once. */
  const people = async <T>(path: string, query: string, key: (r: T) => string, signal: AbortSignal): Promise<T[]> => {
    const found = await together(
      signal,
      personFields(query).map(({ field, value }) => (s: AbortSignal) => find<T>(path, field, value, key, s)),
    );
    const seen = new Set<string>();
    return found.flat().filter((r) => !seen.has(key(r)) && Boolean(seen.add(key(r))));
  };

  const users = async (ids: number[], signal: AbortSignal) => (ids.length ? namesOf(await dir.users.resolve(ids, signal)) : undefined);
  const ids = (xs: Array<number | null | undefined>) => xs.filter((x): x is number => typeof x === 'number');

  const byType: Record<string, (q: string, signal: AbortSignal) => Promise<SearchHit[]>> = {
    async deals(q, signal) {
      const found = await find<IlOpportunity>('/Opportunities', 'OPPORTUNITY_NAME', q, (o) => String(o.OPPORTUNITY_ID), signal);
      // Stage and owner names from the directories (one load each, usually cached): no request per hit.
      const [stages, owners] = await Promise.all([
        found.length ? dir.stages.resolve(ids(found.map((o) => o.STAGE_ID)), signal).then(namesOf) : undefined,
        users(ids(found.map(ownerOf)), signal),
      ]);
      return found.map((o) => dealHit(o, { stages, users: owners }));
    },
    async accounts(q, signal) {
      const found = await find<IlOrganisation>('/Organisations', 'ORGANISATION_NAME', q, (o) => String(o.ORGANISATION_ID), signal);
      for (const o of found) dir.orgs.put({ id: o.ORGANISATION_ID, name: o.ORGANISATION_NAME });
      const owners = await users(ids(found.map((o) => o.OWNER_USER_ID)), signal);
      return found.map((o) => accountHit(o, { users: owners }));
    },
    async contacts(q, signal) {
      return (await people<IlContact>('/Contacts', q, (c) => String(c.CONTACT_ID), signal)).map(contactHit);
    },
    async projects(q, signal) {
      return (await find<IlProject>('/Projects', 'PROJECT_NAME', q, (p) => String(p.PROJECT_ID), signal)).map(projectHit);
    },
    async users(q, signal) {
      return (await people<IlUser>('/Users', q, (u) => String(u.USER_ID), signal)).map(userHit);
    },
  };

  return (query, opts) => searchEach(query.types, opts, (type, signal) => byType[type](query.query, signal));
}
