/**
 * How a REST CRM says where the next page is: one small adapter per style, so a provider picks one
 * instead of writing its own loop.
 *
 * - `bodyCursor`: a cursor in the answer's body, sent back as a query parameter (Pipedrive:
 *   `additional_data.next_cursor` -> `cursor=`; Truto: `next_cursor` -> `next_cursor=`).
 * - `bodyLink`: the next page's URL in the body (JSON:API `links.next`: Outreach).
 * - `headerLink`: the next page's URL in an RFC 8288 `Link: <...>; rel="next"` header (Capsule).
 * - `offsetPaging`: a record offset and a page size (`skip`/`top`: Insightly); a short page is the last.
 *
 * The native cursor a page hands to the tool layer is the body's cursor, the next offset, or, for
 * the link styles, the link as path+query under the provider's base URL (HttpClient.linkCursor):
 * never a full URL, and a replayed one is only followed within the same listing.
 */
import { CrmError, invalidCursor } from './errors.js';
import type { HttpClient, HttpRequest } from './http.js';
import { walkPages, type Walk, type WalkOptions } from './paginate.js';

/** What a page's answer offers a style: its parsed body and its (lower-case) headers. */
export interface PageAnswer {
  body: unknown;
  headers: Record<string, string>;
}

/** The first page's request: a path built with path`` and the listing's own query (filters, sort). */
export interface ListRequest {
  path: string;
  query?: Record<string, unknown>;
  /** Headers the CRM needs on every page request, never secrets (e.g. a JSON:API Accept). */
  headers?: Record<string, string>;
  /**
   * A search sent as a POST that only reads (Capsule's `POST /{entity}/filters/results`): every
   * page, the first and each followed link, is the same POST with this body.
   */
  search?: { body: unknown };
}

export interface PagingStyle {
  /**
   * Query parameters asking for `size` records at `cursor` (undefined: the first page). A link
   * style gives only the size: its cursor replaces the whole request.
   */
  params(size: number | undefined, cursor: string | undefined): Record<string, unknown>;
  /** The cursor is a link to follow as it is (path+query under the base URL). */
  readonly links: boolean;
  /**
   * Where the page after this one is: a cursor, a link (absolute or relative URL), or null at the
   * end. `count` is how many records this page held.
   */
  next(answer: PageAnswer, page: { count: number; size: number | undefined; cursor: string | undefined }): string | null;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** A cursor the body gives (`next`), sent back as `cursorParam`; the page size goes in `sizeParam`. */
export function bodyCursor(o: { sizeParam: string; cursorParam: string; next: (body: unknown) => unknown }): PagingStyle {
  return {
    links: false,
    params: (size, cursor) => ({ [o.sizeParam]: size, [o.cursorParam]: cursor }),
    next: (answer) => text(o.next(answer.body)),
  };
}

/** The next page's URL in the body (JSON:API: `(body) => body.links?.next`); absent or null at the end. */
export function bodyLink(o: { sizeParam: string; next: (body: unknown) => unknown }): PagingStyle {
  return {
    links: true,
    params: (size) => ({ [o.sizeParam]: size }),
    next: (answer) => text(o.next(answer.body)),
  };
}

/** The next page's URL in the `Link` header's rel="next" entry; no such entry at the end. */
export function headerLink(o: { sizeParam: string }): PagingStyle {
  return {
    links: true,
    params: (size) => ({ [o.sizeParam]: size }),
    next: (answer) => nextLink(answer.headers.link) ?? null,
  };
}

/**
 * Offsets: page `cursor` starts at record `cursor` (0 first). A page shorter than the size asked
 * for is the last, so a listing whose length is a multiple of the size costs one empty page. With
 * `totalHeader` (Insightly's X-Total-Count), an answer that carries the total decides instead: a
 * CRM that serves fewer records than asked for still pages on, and the last full page is the last.
 */
export function offsetPaging(o: { sizeParam: string; offsetParam: string; totalHeader?: string }): PagingStyle {
  return {
    links: false,
    params: (size, cursor) => ({ [o.offsetParam]: cursor === undefined ? undefined : offsetOf(cursor), [o.sizeParam]: size }),
    next: (answer, page) => {
      const after = offsetOf(page.cursor ?? '0') + page.count;
      const total = o.totalHeader === undefined ? undefined : answer.headers[o.totalHeader.toLowerCase()]?.trim();
      if (total && /^\d{1,15}$/.test(total)) return page.count > 0 && after < Number(total) ? String(after) : null;
      if (page.size === undefined || page.count < page.size || page.count === 0) return null;
      return String(after);
    },
  };
}

function offsetOf(cursor: string): number {
  if (!/^\d{1,15}$/.test(cursor)) throw invalidCursor();
  return Number(cursor);
}

/**
 * The rel="next" target of an RFC 8288 Link header, e.g.
 * `<https://api.capsulecrm.com/api/v2/kases?page=4>; rel="next", <...>; rel="prev"`.
 */
export function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const m of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]*)*)/g)) {
    for (const param of m[2].split(';')) {
      const rel = /^\s*rel\s*=\s*"?([^"]*)"?\s*$/i.exec(param);
      if (rel && rel[1].toLowerCase().split(/\s+/).includes('next')) return m[1];
    }
  }
  return undefined;
}

/** The request for one page: the first request with the style's parameters, or the link a previous page gave. */
export function pageRequest(
  style: PagingStyle,
  first: ListRequest,
  size: number | undefined,
  cursor: string | undefined,
): Pick<HttpRequest, 'path' | 'query' | 'search' | 'headers'> {
  const headers = first.headers;
  if (!style.links || cursor === undefined) return { path: first.path, query: { ...first.query, ...style.params(size, cursor) }, headers };
  const q = cursor.indexOf('?');
  const path = q < 0 ? cursor : cursor.slice(0, q);
  if (path !== first.path) {
    // A link cursor from another listing (or made up): never a request to another collection.
    throw new CrmError('validation', 'That cursor belongs to another list: repeat the same call that returned it, or omit cursor to start again.');
  }
  return q < 0 ? { path, headers } : { path, search: cursor.slice(q + 1), headers };
}

export interface PageReading<T> {
  /** Records per page asked for (the style's size parameter); undefined leaves it to the CRM. */
  size?: number;
  cursor?: string;
  signal?: AbortSignal;
  /** Limiter tokens of one page request (default 1). */
  cost?: number;
  /** The records of a page's body; throws on a body that is not the CRM's list envelope. */
  items: (body: unknown) => T[];
}

/** A page of a CRM's records, with the native cursor of the next page (null at the end). */
export interface NativePage<T> {
  items: T[];
  next_cursor: string | null;
}

/** One page of a listing through `http`. */
export async function fetchPage<T>(http: HttpClient, style: PagingStyle, first: ListRequest, reading: PageReading<T>): Promise<NativePage<T>> {
  const req = pageRequest(style, first, reading.size, reading.cursor);
  const method = first.search ? { method: 'POST' as const, body: first.search.body, readOnly: true } : { method: 'GET' as const };
  const res = await http.request({ ...method, ...req, signal: reading.signal, cost: reading.cost });
  const items = reading.items(res.body);
  const next = style.next(res, { count: items.length, size: reading.size, cursor: reading.cursor });
  return { items, next_cursor: next !== null && style.links ? http.linkCursor(next) : next };
}

/**
 * Every page of a listing, `size` records a page, at most `maxPages` pages; stops early on a
 * repeated cursor and says so in `stopped` (paginate.walkPages). With `key`, a page that starts
 * and ends with the same records as the one before also stops it as a repeat: an offset is never
 * given twice, but a CRM (or a proxy) that ignores it serves the same page again and again.
 * A cancelled `signal` stops it between pages; `onProgress` hears of every page read (walkPages).
 */
export function walkAll<T>(
  http: HttpClient,
  style: PagingStyle,
  first: ListRequest,
  reading: Omit<PageReading<T>, 'cursor'> & { maxPages: number; key?: (item: T) => string } & Pick<WalkOptions, 'onProgress' | 'what'>,
): Promise<Walk<T>> {
  let previous: string | undefined;
  return walkPages(async (cursor) => {
    const page = await fetchPage(http, style, first, { ...reading, cursor });
    if (!reading.key || !page.items.length) return page;
    const mark = `${reading.key(page.items[0])}\u0000${reading.key(page.items[page.items.length - 1])}`;
    // The cursor just followed, given back: walkPages has seen it, so it stops there as repeated.
    if (cursor !== undefined && mark === previous) return { items: [], next_cursor: cursor };
    previous = mark;
    return page;
  }, reading.maxPages, { signal: reading.signal, onProgress: reading.onProgress, what: reading.what });
}
