/**
 * Search from names to ids, the part every CRM shares: running one server-side search per type
 * (in parallel, cancelled together, with progress), ranking the hits the same way whatever the CRM
 * (exact name first, then prefix, word prefix, contains; case-insensitive), cutting them to a
 * limit per type, and the short detail each hit shows. Providers only make the requests.
 */
import { throwIfCancelled } from './errors.js';
import { SEARCH_TYPES, type Ref, type SearchResult, type SearchType } from './model.js';
import { together } from './parallel.js';
import type { CallOptions, SearchAnswer, SearchHit } from './provider.js';

/** Exact, prefix, word prefix, contains, other (the CRM matched on another field: an email...). */
export type MatchRank = 0 | 1 | 2 | 3 | 4;

/** Case- and spacing-insensitive form of a name or query. */
const fold = (s: string): string => s.trim().replace(/\s+/g, ' ').toLocaleLowerCase('en-US');

export function matchRank(name: string, query: string): MatchRank {
  const n = fold(name);
  const q = fold(query);
  if (!q) return 4;
  if (n === q) return 0;
  if (n.startsWith(q)) return 1;
  const at = n.indexOf(q);
  if (at < 0) return 4;
  // "Corp" in "Acme Corp" starts a word; "cme" in "Acme" does not.
  return /[\p{L}\p{N}]/u.test(n[at - 1]) ? 3 : 2;
}

/**
 * Hits in the order an agent should read them: by match rank across all types, then the closest
 * (shortest) name, then by the order of `types` (the order asked), then in the CRM's own order
 * (its relevance). At most `limit` per type; a hit the CRM returned twice counts once.
 */
export function rankHits(hits: readonly SearchHit[], query: string, types: readonly SearchType[], limit: number): SearchHit[] {
  const seen = new Set<string>();
  const typeOrder = (t: SearchType) => {
    const i = types.indexOf(t);
    return i < 0 ? types.length + SEARCH_TYPES.indexOf(t) : i;
  };
  const ranked = hits
    .filter((h) => types.includes(h.type))
    .filter((h) => {
      const key = `${h.type}\u0000${h.id}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map((hit, order) => ({ hit, order, rank: matchRank(hit.name, query), length: fold(hit.name).length }))
    .sort(
      (a, b) => a.rank - b.rank || a.length - b.length || typeOrder(a.hit.type) - typeOrder(b.hit.type) || a.order - b.order,
    );
  const perType = new Map<SearchType, number>();
  const out: SearchHit[] = [];
  for (const { hit } of ranked) {
    const n = perType.get(hit.type) ?? 0;
    if (n >= limit) continue;
    perType.set(hit.type, n + 1);
    out.push(hit);
  }
  return out;
}

const named = (r: Ref | undefined): string | undefined => (r ? (r.name ? `${r.name} (${r.id})` : `(${r.id})`) : undefined);

/** The short detail of a hit: a deal's stage and owner, a contact's account and email, ... */
export function searchDetail(hit: SearchHit): string | undefined {
  const parts: Array<string | undefined> =
    hit.type === 'deals'
      ? [named(hit.stage), hit.status && hit.status !== 'open' ? hit.status : undefined, named(hit.owner)]
      : hit.type === 'contacts'
        ? [named(hit.account), hit.email]
        : hit.type === 'projects'
          ? [hit.status, named(hit.account)]
          : hit.type === 'stages'
            ? [named(hit.pipeline)]
            : hit.type === 'accounts'
              ? [hit.domain, named(hit.owner)]
              : hit.type === 'users'
                ? [hit.email]
                : [];
  const detail = parts.filter(Boolean).join(' · ');
  return detail || undefined;
}

/** A hit as `search` answers it. */
export const toSearchResult = (hit: SearchHit): SearchResult => {
  const detail = searchDetail(hit);
  return { type: hit.type, id: hit.id, name: hit.name, ...(detail ? { detail } : {}) };
};

/**
 * One server-side search per type, in parallel: the first failure or a cancellation aborts the
 * others (their requests stop), and each finished type reports progress (done of all types).
 */
export async function searchEach(
  types: readonly SearchType[],
  opts: CallOptions,
  searchType: (type: SearchType, signal: AbortSignal) => Promise<SearchHit[]>,
): Promise<SearchAnswer> {
  throwIfCancelled(opts.signal);
  let done = 0;
  const results = await together(
    opts.signal,
    types.map((type) => async (signal: AbortSignal) => {
      const hits = await searchType(type, signal);
      throwIfCancelled(signal);
      opts.onProgress?.(++done, types.length, `searched ${type}`);
      return hits;
    }),
  );
  return { hits: results.flat() };
}
