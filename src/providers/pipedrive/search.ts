/**
 * Names to ids with Pipedrive's own search, one request per type (API v2 /deals/search,
 * /organizations/search, /persons/search: 20 tokens each), whose hits already carry what the
 * detail needs: a deal's stage and status, a person's organization and emails, an owner's id
 * (named from the user directory). Users are matched against the user directory, which is the
 * whole of v1 /users in one unpaged request (cached; /users/find would cost 40 tokens a call).
 * Pipedrive has no search for pipelines or stages, so they are not offered (list_pipelines,
 * list_stages and get_pipeline name them).
 */
import { path } from '../../crm/http.js';
import type { SearchType } from '../../crm/model.js';
import type { CallOptions, SearchAnswer, SearchHit, SearchQuery } from '../../crm/provider.js';
import { searchEach } from '../../crm/search.js';
import { namesFor, warm, type Ctx } from './directory.js';
import { toSearchHit, type PdSearchItem } from './map.js';

/** The types Pipedrive searches (capabilities.search). */
export const SEARCHED = ['deals', 'accounts', 'contacts', 'users'] as const satisfies readonly SearchType[];

const ENDPOINT: Record<Exclude<(typeof SEARCHED)[number], 'users'>, { path: string; fields: string }> = {
  deals: { path: path`/api/v2/deals/search`, fields: 'title' },
  accounts: { path: path`/api/v2/organizations/search`, fields: 'name' },
  contacts: { path: path`/api/v2/persons/search`, fields: 'name,email' },
};

/** Hits asked for per type: twice what is kept, so the ranking has the closest names to choose from. */
const CANDIDATES = (limit: number) => Math.min(100, limit * 2);

export function searchOp(ctx: Ctx): (query: SearchQuery, opts: CallOptions) => Promise<SearchAnswer> {
  const { client, dir } = ctx;
  return (query, opts) => {
    // Owners are named from the user directory: its load rides along with the searches.
    warm(dir.users.all(opts.signal));
    return searchEach(query.types, opts, async (type, signal): Promise<SearchHit[]> => {
      if (type === 'users') {
        const needle = query.query.toLowerCase();
        return [...(await dir.users.all(signal)).values()]
          .filter((u) => u.name.toLowerCase().includes(needle) || u.email?.toLowerCase().includes(needle))
          .map((u) => ({ type: 'users', id: String(u.id), name: u.name, ...(u.email ? { email: u.email } : {}) }));
      }
      const endpoint = ENDPOINT[type as keyof typeof ENDPOINT];
      if (!endpoint) return [];
      const page = await client.search(endpoint.path, { term: query.query, fields: endpoint.fields }, { size: CANDIDATES(query.limit) }, signal);
      const names = await namesFor(ctx, { users: page.items.map((i: PdSearchItem) => i.owner?.id) }, signal);
      return page.items.map((i) => toSearchHit(i, names)).filter((h): h is SearchHit => h !== undefined && h.type === type);
    });
  };
}
