/**
 * Opaque cursors. A tool cursor wraps the provider's native cursor for the start of a page plus how
 * many records of that page were already returned (the output cap can cut a page short), and a
 * fingerprint of the filters, so a cursor replayed with other filters is refused instead of
 * silently paging through a different result set.
 */
import { canonicalJson } from './canonical.js';
import { CrmError, invalidCursor, throwIfCancelled } from './errors.js';
import type { ProgressReporter } from './provider.js';
import { sha256 } from './hash.js';

interface CursorState {
  /** Provider-native cursor of the page start (absent for the first page). */
  n?: string;
  /** Records of that page already returned. */
  s?: number;
  /** Filter fingerprint. */
  f: string;
}

export interface DecodedCursor {
  native?: string;
  skip: number;
}

/**
 * Filters as [[name, value], ...] sorted by name, each value canonical at every depth, so nested
 * `remote_query` key order never changes a cursor; flat filters give the same string as before.
 */
export function filterFingerprint(scope: string, filters: Record<string, unknown>): string {
  const canonical = canonicalJson(
    Object.keys(filters)
      .filter((k) => filters[k] !== undefined)
      .sort()
      .map((k) => [k, filters[k]]),
  );
  return sha256(`${scope}\u0000${canonical}`, 'base64url').slice(0, 10);
}

export function encodeCursor(fingerprint: string, native: string | undefined, skip = 0): string {
  const state: CursorState = { f: fingerprint };
  if (native !== undefined) state.n = native;
  if (skip > 0) state.s = skip;
  return Buffer.from(JSON.stringify(state), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, fingerprint: string): DecodedCursor {
  let state: CursorState;
  try {
    state = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorState;
    if (typeof state !== 'object' || state === null || typeof state.f !== 'string') throw new Error();
  } catch {
    throw invalidCursor();
  }
  if (state.f !== fingerprint) {
    throw new CrmError(
      'validation',
      'That cursor belongs to a list with other filters: repeat the same filters as the call that returned it, or omit cursor to start again.',
    );
  }
  return { native: state.n, skip: Math.max(0, Number(state.s ?? 0) | 0) };
}

// ---------------------------------------------------------------------------------------------
// Walking every page of an upstream listing

export interface PageOf<T> {
  items: T[];
  next_cursor: string | null | undefined;
}

export interface Walk<T> {
  items: T[];
  pages: number;
  /** Why the walk stopped before the end, if it did: the listing is then incomplete. */
  stopped?: 'repeated_cursor' | 'page_cap';
}

export interface WalkOptions {
  /** Checked before every page after the first: a cancelled walk sends no further request. */
  signal?: AbortSignal;
  /** Called after every page with the pages read so far (the total is unknown until the end). */
  onProgress?: ProgressReporter;
  /** What is being listed, for the progress message ("deals of pipeline 3"). */
  what?: string;
}

/**
 * Follows next_cursor from the first page to the last, at most `maxPages` pages. A cursor the
 * upstream already gave once would loop (the same pages again), so the walk stops there, as at the
 * cap, and says so in `stopped`: each caller decides whether a partial listing may be shown.
 */
export async function walkPages<T>(
  fetchPage: (cursor: string | undefined) => Promise<PageOf<T>>,
  maxPages: number,
  opts: WalkOptions = {},
): Promise<Walk<T>> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let pages = 1; ; pages++) {
    if (pages > 1) throwIfCancelled(opts.signal);
    const page = await fetchPage(cursor);
    items.push(...page.items);
    opts.onProgress?.(pages, undefined, `read ${pages} page${pages === 1 ? '' : 's'}${opts.what ? ` of ${opts.what}` : ''}`);
    const next = page.next_cursor || undefined;
    if (next === undefined) return { items, pages };
    if (seen.has(next)) return { items, pages, stopped: 'repeated_cursor' };
    if (pages >= maxPages) return { items, pages, stopped: 'page_cap' };
    seen.add(next);
    cursor = next;
  }
}

/**
 * One sentence saying a listing is incomplete and why, e.g. "Pipedrive gave the same page cursor
 * twice while listing stages, so only its first 3 pages (1,500 records) were read."
 */
export function incompleteListing(walk: Walk<unknown>, source: string, what: string): string {
  const read = `${walk.pages} page${walk.pages === 1 ? '' : 's'} (${walk.items.length.toLocaleString('en-US')} records)`;
  return walk.stopped === 'repeated_cursor'
    ? `${source} gave the same page cursor twice while listing ${what}, so only its first ${read} were read: the listing is incomplete.`
    : `Listing ${what} stopped at crm-mcp's cap of ${read}: the listing is incomplete.`;
}

/** What get_pipeline advises when it could not read all of a pipeline's stages, or all its open deals. */
export const PARTIAL_PIPELINE = {
  stages: 'Try get_pipeline again later, or list_stages with pipeline_id.',
  openDeals: 'Their counts and values would be wrong, so none are shown; use list_deals with pipeline_id and status open.',
} as const;

/** The items of a walk that must be complete (sums, validations); an incomplete one is an error. */
export function completeItems<T>(walk: Walk<T>, source: string, what: string, advice: string): T[] {
  if (!walk.stopped) return walk.items;
  throw new CrmError('upstream', `${incompleteListing(walk, source, what)} ${advice}`, { provider: source });
}

// ---------------------------------------------------------------------------------------------
// Pages cut locally (lists sorted or filtered by crm-mcp over a full scan)

const OFFSET_PREFIX = 'offset:';

/** One page of a list crm-mcp sorted or filtered itself; its cursor is the offset of the next page. */
export function localPage<T>(all: readonly T[], cursor: string | undefined, limit: number): { items: T[]; next_cursor: string | null } {
  const offset = parseOffset(cursor);
  const items = all.slice(offset, offset + limit);
  return { items, next_cursor: offset + limit < all.length ? `${OFFSET_PREFIX}${offset + limit}` : null };
}

function parseOffset(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const m = cursor.startsWith(OFFSET_PREFIX) ? /^\d+$/.exec(cursor.slice(OFFSET_PREFIX.length)) : null;
  if (!m) throw invalidCursor();
  return Number(m[0]);
}

/**
 * Sorts a copy by `key` (missing values last), then by `tie`, in `direction`: how crm-mcp orders
 * a list the CRM cannot sort itself.
 */
export function sortLocally<T>(
  items: readonly T[],
  key: (item: T) => string | number | undefined,
  direction: 'asc' | 'desc' | undefined,
  tie: (a: T, b: T) => number,
): T[] {
  const sign = direction === 'desc' ? -1 : 1;
  return [...items].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka === undefined || kb === undefined) {
      if (ka !== kb) return ka === undefined ? 1 : -1;
      return tie(a, b) * sign;
    }
    const c = ka < kb ? -1 : ka > kb ? 1 : tie(a, b);
    return c * sign;
  });
}
