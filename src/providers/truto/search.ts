/**
 * Search through Truto: one list request per type with Truto's `search_term`, in parallel
 * (searchEach). Truto documents `search_term` on projects (for Capsule) and on no other resource
 * the tools search, so capabilities.search names only the types where it is documented. A CRM
 * behind Truto that ignores the term would answer an unfiltered page: hits must carry the query in
 * their name, and a page where none does is reported as no server-side search for that type.
 */
import { CrmError } from '../../crm/errors.js';
import type { SearchType } from '../../crm/model.js';
import type { CallOptions, SearchAnswer, SearchHit, SearchQuery } from '../../crm/provider.js';
import { searchEach } from '../../crm/search.js';
import type { TrutoClient, TrutoResource } from './client.js';
import { nameContains, projectHit, type TrutoProject } from './map.js';

/** Per searchable type: the resource and its records as hits. */
const SEARCHED: Partial<Record<SearchType, { resource: TrutoResource; hit: (native: unknown) => SearchHit }>> = {
  projects: { resource: 'projects', hit: (p) => projectHit(p as TrutoProject) },
};

export function searchOp(client: TrutoClient): (query: SearchQuery, opts: CallOptions) => Promise<SearchAnswer> {
  return async (query, opts) => {
    const ignored: SearchType[] = [];
    const answer = await searchEach(query.types, opts, async (type, signal) => {
      const spec = SEARCHED[type];
      if (!spec) throw new CrmError('unsupported', `${client.label} has no server-side search for ${type}.`);
      const page = await client.list<unknown>(spec.resource, { search_term: query.query }, { signal }, { size: query.limit });
      const hits = page.items.map(spec.hit);
      const named = hits.filter((h) => nameContains(h.name, query.query));
      if (hits.length && !named.length) ignored.push(type);
      return named;
    });
    return ignored.length ? { ...answer, unsupported: ignored } : answer;
  };
}
