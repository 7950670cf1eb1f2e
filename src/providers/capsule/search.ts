/**
 * Search through Capsule's own search endpoints, the global search of its web app
 * (`GET /{opportunities|kases|parties}/search?q=`): deals, projects, and parties, which answer for
 * both accounts (organisations) and contacts (people) in one request shared by the two types.
 * Users, pipelines and stages have no search in Capsule: the tool layer says so.
 */
import { path } from '../../crm/http.js';
import type { CallOptions, SearchAnswer, SearchHit, SearchQuery } from '../../crm/provider.js';
import { searchEach } from '../../crm/search.js';
import { MAX_PAGE, type CapsuleClient } from './client.js';
import type { Ctx } from './directory.js';
import { kaseHit, opportunityHit, partyHit, type CapsuleKase, type CapsuleOpportunity, type CapsulePartyRecord } from './map.js';

/** Hits read per search: Capsule's best first; the tool layer ranks and keeps `limit` per type. */
const PER_SEARCH = 50;

const searchPage = <T>(client: CapsuleClient, entity: string, key: string, q: string, size: number, signal: AbortSignal) =>
  client.page<T>({ path: path`/${entity}/search`, key, query: { q } }, { size }, signal);

export function searchOp(ctx: Ctx): (query: SearchQuery, opts: CallOptions) => Promise<SearchAnswer> {
  const { client } = ctx;
  return (query, opts) => {
    // People and organisations come from one search, read once for both types.
    let parties: Promise<CapsulePartyRecord[]> | undefined;
    const partiesOnce = (signal: AbortSignal) =>
      (parties ??= searchPage<CapsulePartyRecord>(client, 'parties', 'parties', query.query, MAX_PAGE, signal).then((p) => p.items));
    return searchEach(query.types, opts, async (type, signal): Promise<SearchHit[]> => {
      switch (type) {
        case 'deals':
          return (await searchPage<CapsuleOpportunity>(client, 'opportunities', 'opportunities', query.query, PER_SEARCH, signal)).items.map(opportunityHit);
        case 'projects':
          return (await searchPage<CapsuleKase>(client, 'kases', 'kases', query.query, PER_SEARCH, signal)).items.map(kaseHit);
        case 'accounts':
        case 'contacts':
          return (await partiesOnce(signal)).map(partyHit).filter((h) => h.type === type);
        default:
          return [];
      }
    });
  };
}
