/**
 * What the accounts and contacts files share: a list filtered by name (or email) goes through
 * Pipedrive's search, whose hits are then read whole in one `ids=` request (with the other filters),
 * in the search's order; records that are gone are refused like unknown ids.
 */
import { CrmError } from '../../crm/errors.js';
import type { NativePage } from '../../crm/paging.js';
import type { Ctx } from './directory.js';

/** Most records of one `ids=` request, so a searched page is read whole in one request. */
export const SEARCHED_PAGE = 100;

export interface SearchedList {
  /** /organizations/search or /persons/search. */
  searchPath: string;
  /** Their search's own parameters: term, fields, exact_match, organization_id... */
  search: Record<string, unknown>;
  /** The collection read by id, and its other filters. */
  listPath: string;
  filters: Record<string, unknown>;
  listTokens: number;
}

/** A search term as Pipedrive takes it: 2 characters at least. */
export function searchTerm(value: string, field: string): string {
  const term = value.trim();
  if (term.length < 2) {
    throw new CrmError('validation', `Pipedrive searches by \`${field}\` with 2 characters or more; give a longer one, or none to list all.`);
  }
  return term;
}

/** One page of search hits, read whole and filtered by the list's other filters. */
export async function searchedPage<T extends { id: number }>(
  ctx: Ctx,
  list: SearchedList,
  page: { size: number; cursor?: string },
  signal?: AbortSignal,
): Promise<NativePage<T>> {
  const hits = await ctx.client.search(list.searchPath, list.search, { size: Math.min(page.size, SEARCHED_PAGE), cursor: page.cursor }, signal);
  if (!hits.items.length) return { items: [], next_cursor: hits.next_cursor };
  const ids = hits.items.map((h) => h.id);
  const records = await ctx.client.page<T>(list.listPath, { ...list.filters, ids: ids.join(',') }, { size: ids.length }, list.listTokens, signal);
  const byId = new Map(records.items.map((r) => [r.id, r]));
  return { items: ids.map((id) => byId.get(id)).filter((r): r is T => r !== undefined), next_cursor: hits.next_cursor };
}
