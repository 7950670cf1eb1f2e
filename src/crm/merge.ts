/**
 * One listing over several upstream listings that share an order (a CRM's tasks, calls and notes,
 * each newest first): a k-way merge paged under one cursor, never a silently partial list.
 *
 * Each call reads one page of every source not yet exhausted (together: one round trip of wall
 * time), then takes records in the shared order only as long as every source still has records in
 * hand or has none left: once a source's page is used up and it has a next page, that page may hold
 * records that belong before the others' remaining ones, so it is read (a few rounds at most) before
 * the merge goes on; past those rounds the page ends there, shorter than the limit, with a cursor.
 * The cursor keeps, per source, the native cursor of the page in hand, how many of its records were
 * already given, and the page size they were counted in, so a resumed page is read again exactly as
 * before (or, where the cursor marks a place in the listing, with this call's records after them).
 */
import { invalidCursor } from './errors.js';
import { together } from './parallel.js';
import type { NativePage } from './paging.js';
import type { Page, ProgressReporter } from './provider.js';

export interface MergedSource<T> {
  /** Short and stable: it names the source in the cursor. */
  key: string;
  /** What the source lists, for progress messages ("tasks"). */
  label: string;
  /** One page of `size` records from `cursor` (undefined: the first page), in the shared order. */
  page(cursor: string | undefined, size: number, signal: AbortSignal): Promise<NativePage<T>>;
  /**
   * For a source whose cursor marks a place in its listing (a keyset or an offset, not a page
   * number), the largest page it serves: a page partly given is then read again from that place
   * with this call's records after the given ones, in one request rather than two.
   */
  largestPage?: number;
}

export interface MergeOptions<T> {
  limit: number;
  /** The merged listing's cursor from a previous page (the provider-native one the tool layer unwraps). */
  cursor?: string;
  /** The shared order: negative when `a` comes before `b`. */
  order: (a: T, b: T) => number;
  signal?: AbortSignal;
  onProgress?: ProgressReporter;
}

/** Where a source stands: its page's native cursor, records of it already given, that page's size; 0 when it is exhausted. */
type SourceState = [cursor: string | null, skip: number, size: number] | 0;


function decode(cursor: string | undefined, keys: readonly string[]): Map<string, SourceState> {
  const states = new Map<string, SourceState>();
  if (cursor === undefined) return states;
  let parsed: unknown;
  try {
    parsed = JSON.parse(cursor);
  } catch {
    throw invalidCursor();
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidCursor();
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length !== keys.length || entries.some(([k]) => !keys.includes(k))) throw invalidCursor();
  for (const [k, v] of entries) {
    const ok =
      v === 0 ||
      (Array.isArray(v) &&
        v.length === 3 &&
        (v[0] === null || typeof v[0] === 'string') &&
        Number.isSafeInteger(v[1]) &&
        v[1] >= 0 &&
        Number.isSafeInteger(v[2]) &&
        v[2] > 0);
    if (!ok) throw invalidCursor();
    states.set(k, v as SourceState);
  }
  return states;
}

/** More rounds of reads a page may take to fill up after its first (one per source that ran short). */
const MAX_MORE_ROUNDS = 3;

/** One page of the merged listing; `next_cursor` is null once every source is exhausted. */
export async function mergedPage<T>(sources: readonly MergedSource<T>[], o: MergeOptions<T>): Promise<Page<T>> {
  const states = decode(o.cursor, sources.map((s) => s.key));
  const active = sources.filter((s) => states.get(s.key) !== 0);
  let done = 0;
  const pagesOf = new Map<string, number>();
  // Worded like walkPages' steps: "read 2 pages of tasks".
  const step = (source: MergedSource<T>, total?: number) => {
    const pages = (pagesOf.get(source.key) ?? 0) + 1;
    pagesOf.set(source.key, pages);
    o.onProgress?.(++done, total, `read ${pages} ${pages === 1 ? 'page' : 'pages'} of ${source.label}`);
  };
  const read = await together(
    o.signal,
    active.map((s) => async (signal: AbortSignal) => {
      const state = states.get(s.key) as Exclude<SourceState, 0> | undefined;
      const [cursor, skip, counted] = state ?? [null, 0, o.limit];
      // A page partly given is read again in the size it was counted in (or, from a place, grown by
      // this call's limit); a fresh one in this call's.
      const size = skip === 0 ? o.limit : s.largestPage ? Math.min(s.largestPage, skip + o.limit) : counted;
      const page = await s.page(cursor ?? undefined, size, signal);
      step(s, active.length);
      return { source: s, cursor, size, page: page.items, pos: skip, next: page.next_cursor };
    }),
  );
  const items: T[] = [];
  const starving = () => read.filter((r) => r.pos >= r.page.length && r.next !== null);
  for (let round = 0; ; round++) {
    while (items.length < o.limit) {
      // A source out of records in hand but not exhausted: its next page may hold what comes first.
      if (starving().length) break;
      let best: (typeof read)[number] | undefined;
      for (const r of read) {
        if (r.pos >= r.page.length) continue;
        if (!best || o.order(r.page[r.pos], best.page[best.pos]) < 0) best = r;
      }
      if (!best) break;
      items.push(best.page[best.pos++]);
    }
    const short = starving();
    if (items.length >= o.limit || !short.length || round >= MAX_MORE_ROUNDS) break;
    // Fill the page: the next page of each source that ran short, then merge on.
    await together(
      o.signal,
      short.map((r) => async (signal: AbortSignal) => {
        const page = await r.source.page(r.next!, o.limit, signal);
        step(r.source);
        Object.assign(r, { cursor: r.next, size: o.limit, page: page.items, pos: 0, next: page.next_cursor });
      }),
    );
  }
  const next: Record<string, SourceState> = {};
  for (const s of sources) next[s.key] = states.get(s.key) === 0 ? 0 : [null, 0, o.limit];
  for (const r of read) {
    next[r.source.key] = r.pos < r.page.length ? [r.cursor, r.pos, r.size] : r.next === null ? 0 : [r.next, 0, o.limit];
  }
  const exhausted = Object.values(next).every((s) => s === 0);
  return { items, next_cursor: exhausted ? null : JSON.stringify(next) };
}
