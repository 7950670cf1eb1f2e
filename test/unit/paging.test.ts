/**
 * The four paging styles of src/crm/paging.ts, each against a real HTTP server on 127.0.0.1 that
 * pages one listing of records the way a CRM of that style does: a body cursor (Pipedrive, Truto),
 * a JSON:API links.next URL (Outreach), an RFC 8288 Link header (Capsule), skip/top offsets
 * (Insightly). Also: links are kept as path+query under the base URL and never followed elsewhere.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { HttpClient, closeAllPools } from '../../src/crm/http.js';
import { bodyCursor, bodyLink, fetchPage, headerLink, nextLink, offsetPaging, pageRequest, walkAll, type PagingStyle } from '../../src/crm/paging.js';
import { FakeServer, type FakeResponse, type RecordedRequest } from '../fakes/server.js';

const RECORDS = Array.from({ length: 7 }, (_, i) => ({ id: i + 1, name: `Stage ${i + 1}` }));
const BASE_PATH = '/api/v2';

let origin = '';
let listing = RECORDS;
/** What the next link points at, for the link styles (default: this server under the base path). */
let linkTo = (query: string) => `${origin}${BASE_PATH}/stages?${query}`;

const int = (v: unknown, fallback: number) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : fallback);

function serve(r: RecordedRequest): FakeResponse {
  const q = r.query as Record<string, any>;
  switch (r.path) {
    case '/cursor/stages': {
      // Pipedrive: limit + cursor in, additional_data.next_cursor out (base64 of the next offset).
      const start = q.cursor ? Number(Buffer.from(q.cursor, 'base64').toString()) : 0;
      const size = int(q.limit, 100);
      const next = start + size < listing.length ? Buffer.from(String(start + size)).toString('base64') : null;
      return { status: 200, body: { success: true, data: listing.slice(start, start + size), additional_data: { next_cursor: next } } };
    }
    case '/stages': {
      if (q.page?.size !== undefined || q.page?.after !== undefined) {
        // Outreach (JSON:API): page[size], page[after]; links.next is a full URL, absent at the end.
        const start = q.page?.after ? Number(Buffer.from(q.page.after, 'base64').toString()) : 0;
        const size = int(q.page?.size, 50);
        const end = start + size;
        const links: Record<string, string> = { first: linkTo(`page%5Bsize%5D=${size}`) };
        if (end < listing.length) links.next = linkTo(`page%5Bafter%5D=${encodeURIComponent(Buffer.from(String(end)).toString('base64'))}&page%5Bsize%5D=${size}`);
        return { status: 200, body: { data: listing.slice(start, end).map((s) => ({ type: 'stage', id: s.id, attributes: { name: s.name } })), links } };
      }
      // Capsule: perPage + page (1-based); a Link header with rel="next" while there is more.
      const page = int(q.page, 1);
      const size = int(q.perPage, 50);
      const start = (page - 1) * size;
      const headers: Record<string, string> = {};
      const rels = [];
      if (page > 1) rels.push(`<${linkTo(`page=${page - 1}&perPage=${size}`)}>; rel="prev"`);
      if (start + size < listing.length) rels.push(`<${linkTo(`page=${page + 1}&perPage=${size}`)}>; rel="next"`);
      if (rels.length) headers.link = rels.join(', ');
      return { status: 200, headers, body: { kases: listing.slice(start, start + size) } };
    }
    case '/kases/filters/results': {
      // Capsule's structured search: a POST with the conditions, paged like its listings.
      const page = int(q.page, 1);
      const size = int(q.perPage, 50);
      const start = (page - 1) * size;
      const next = start + size < listing.length ? { link: `<${origin}${BASE_PATH}/kases/filters/results?page=${page + 1}&perPage=${size}>; rel="next"` } : undefined;
      return { status: 200, headers: next, body: { kases: listing.slice(start, start + size) } };
    }
    case '/Projects': {
      // Insightly: skip + top, a bare array.
      const skip = int(q.skip, 0);
      return { status: 200, body: listing.slice(skip, skip + int(q.top, 100)) };
    }
    case '/CappedProjects': {
      // Serves at most 2 whatever `top` asks, and the total in X-Total-Count.
      const skip = int(q.skip, 0);
      return { status: 200, headers: { 'X-Total-Count': String(listing.length) }, body: listing.slice(skip, skip + Math.min(2, int(q.top, 100))) };
    }
    case '/StuckProjects':
      // Ignores skip: the first page again and again.
      return { status: 200, body: listing.slice(0, int(q.top, 100)) };
    default:
      return { status: 404, body: { message: 'no such path' } };
  }
}

const server = new FakeServer(serve);
server.basePath = BASE_PATH;
let http: HttpClient;

beforeAll(async () => {
  origin = await server.start();
  http = new HttpClient({ provider: 'TestCRM', baseUrl: `${origin}${BASE_PATH}`, headers: { authorization: 'Bearer tok-PAGING-0123456789' }, retryBaseMs: 1 });
});
afterEach(() => {
  server.reset();
  listing = RECORDS;
  linkTo = (query) => `${origin}${BASE_PATH}/stages?${query}`;
});
afterAll(async () => {
  await closeAllPools();
  await server.stop();
});

interface Case {
  name: string;
  style: PagingStyle;
  path: string;
  items: (body: unknown) => Array<{ id: number }>;
  /** The page-position parameters each request carried, in order. */
  sent: (r: RecordedRequest) => unknown;
}

const CASES: Case[] = [
  {
    name: 'body cursor (Pipedrive)',
    style: bodyCursor({ sizeParam: 'limit', cursorParam: 'cursor', next: (b) => (b as any).additional_data?.next_cursor }),
    path: '/cursor/stages',
    items: (b) => (b as any).data,
    sent: (r) => [r.query.limit, r.query.cursor],
  },
  {
    name: 'JSON:API links.next (Outreach)',
    style: bodyLink({ sizeParam: 'page[size]', next: (b) => (b as any).links?.next }),
    path: '/stages',
    items: (b) => (b as any).data.map((d: { id: number }) => ({ id: d.id })),
    sent: (r) => [(r.query.page as any)?.size, (r.query.page as any)?.after],
  },
  {
    name: 'Link header (Capsule)',
    style: headerLink({ sizeParam: 'perPage' }),
    path: '/stages',
    items: (b) => (b as any).kases,
    sent: (r) => [r.query.perPage, r.query.page],
  },
  {
    name: 'skip/top offsets (Insightly)',
    style: offsetPaging({ sizeParam: 'top', offsetParam: 'skip' }),
    path: '/Projects',
    items: (b) => b as Array<{ id: number }>,
    sent: (r) => [r.query.top, r.query.skip],
  },
];

describe.each(CASES)('$name', (c) => {
  it('walks every page, 3 records a page, in order', async () => {
    const walk = await walkAll(http, c.style, { path: c.path, query: { sort: 'name' } }, { size: 3, maxPages: 10, items: c.items });
    expect(walk.items.map((s) => s.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(walk.stopped).toBeUndefined();
    expect(walk.pages).toBe(3);
    expect(server.requests).toHaveLength(3);
    for (const r of server.requests) expect(r.rawUrl.startsWith(`${BASE_PATH}${c.path}?`)).toBe(true);
    // The listing's own query rides on the first request; a link style then follows the link as given.
    expect(server.requests[0].query.sort).toBe('name');
    const positions = server.requests.map(c.sent);
    expect(positions[0]).toEqual(['3', undefined]);
    expect(new Set(positions.map((p) => JSON.stringify(p))).size).toBe(3);
  });

  it('pages one at a time: a native cursor from one call starts the next, and the last page has none', async () => {
    const ids: number[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 5; i++) {
      const page = await fetchPage(http, c.style, { path: c.path }, { size: 4, cursor, items: c.items });
      ids.push(...page.items.map((s) => s.id));
      if (page.next_cursor === null) break;
      // A cursor never carries the origin or the base path: it is a position, or path+query under the base.
      expect(page.next_cursor).not.toContain(origin);
      expect(page.next_cursor).not.toContain(BASE_PATH);
      cursor = page.next_cursor;
    }
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(server.requests).toHaveLength(2);
  });

  it('stops at the page cap and says so', async () => {
    const walk = await walkAll(http, c.style, { path: c.path }, { size: 2, maxPages: 2, items: c.items });
    expect(walk.items.map((s) => s.id)).toEqual([1, 2, 3, 4]);
    expect(walk.stopped).toBe('page_cap');
  });
});

describe('offsets', () => {
  it('a listing that fills its last page costs one empty page, and ends there', async () => {
    listing = RECORDS.slice(0, 6);
    const walk = await walkAll(http, offsetPaging({ sizeParam: 'top', offsetParam: 'skip' }), { path: '/Projects' }, { size: 3, maxPages: 10, items: (b) => b as Array<{ id: number }> });
    expect(walk.items).toHaveLength(6);
    expect(server.requests.map((r) => r.query.skip)).toEqual([undefined, '3', '6']);
  });

  it('with a total-count header, pages on past short pages and ends at the total', async () => {
    const style = offsetPaging({ sizeParam: 'top', offsetParam: 'skip', totalHeader: 'X-Total-Count' });
    const walk = await walkAll(http, style, { path: '/CappedProjects' }, { size: 5, maxPages: 10, items: (b) => b as Array<{ id: number }> });
    expect(walk.items.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(server.requests.map((r) => r.query.skip)).toEqual([undefined, '2', '4', '6']);
    expect(walk.stopped).toBeUndefined();
  });

  it('with `key`, stops at a page served twice (an ignored offset) and says so', async () => {
    const walk = await walkAll(http, offsetPaging({ sizeParam: 'top', offsetParam: 'skip' }), { path: '/StuckProjects' }, {
      size: 3,
      maxPages: 10,
      items: (b) => b as Array<{ id: number }>,
      key: (r) => String(r.id),
    });
    expect(walk.items.map((r) => r.id)).toEqual([1, 2, 3]);
    expect(walk.stopped).toBe('repeated_cursor');
    expect(server.requests).toHaveLength(2);
  });

  it('refuses an offset cursor that is not a whole number', () => {
    expect(() => pageRequest(offsetPaging({ sizeParam: 'top', offsetParam: 'skip' }), { path: '/Projects' }, 3, '-1')).toThrow(CrmError);
    expect(() => pageRequest(offsetPaging({ sizeParam: 'top', offsetParam: 'skip' }), { path: '/Projects' }, 3, 'abc')).toThrow(/cursor is not valid/);
  });
});

describe('links are followed only under the base URL', () => {
  const jsonApi = bodyLink({ sizeParam: 'page[size]', next: (b) => (b as any).links?.next });
  const items = (b: unknown) => (b as any).data;

  it('a next link to another origin is refused before anything is sent there', async () => {
    linkTo = (query) => `http://attacker.example${BASE_PATH}/stages?${query}`;
    const err = await fetchPage(http, jsonApi, { path: '/stages' }, { size: 3, items }).catch((e) => e);
    expect(err).toBeInstanceOf(CrmError);
    expect(err.kind).toBe('upstream');
    expect(err.message).toMatch(/next-page link outside its base URL/);
    expect(err.message).not.toContain('attacker');
  });

  it('a next link outside the base path is refused', async () => {
    linkTo = (query) => `${origin}/other/stages?${query}`;
    await expect(fetchPage(http, jsonApi, { path: '/stages' }, { size: 3, items })).rejects.toThrow(/outside its base URL/);
  });

  it('a relative next link is resolved against the base', async () => {
    linkTo = (query) => `${BASE_PATH}/stages?${query}`;
    const page = await fetchPage(http, jsonApi, { path: '/stages' }, { size: 3, items });
    expect(page.next_cursor).toMatch(/^\/stages\?page%5Bafter%5D=/);
  });

  it("the listing's own headers go with every page, the followed links too", async () => {
    const accept = { accept: 'application/vnd.api+json' };
    await walkAll(http, jsonApi, { path: '/stages', headers: accept }, { size: 3, maxPages: 10, items });
    expect(server.requests).toHaveLength(3);
    for (const r of server.requests) expect(r.headers.accept).toBe('application/vnd.api+json');
  });

  it('a link cursor is sent exactly as the CRM gave it', async () => {
    const page = await fetchPage(http, jsonApi, { path: '/stages' }, { size: 3, items });
    server.reset();
    await fetchPage(http, jsonApi, { path: '/stages' }, { size: 3, cursor: page.next_cursor!, items });
    expect(`${BASE_PATH}${page.next_cursor}`).toBe(server.requests[0].rawUrl);
  });

  it('a link cursor of another listing, or with a fragment, is refused', async () => {
    expect(() => pageRequest(jsonApi, { path: '/stages' }, 3, '/users?page=2')).toThrow(/belongs to another list/);
    await expect(fetchPage(http, jsonApi, { path: '/stages' }, { size: 3, cursor: '/stages?page=2#x', items })).rejects.toThrow(/'#'/);
    expect(server.requests).toHaveLength(0);
  });
});

describe('a search sent as a POST that only reads (Capsule filters)', () => {
  const capsule = headerLink({ sizeParam: 'perPage' });
  const search = { path: '/kases/filters/results', search: { body: { filter: { conditions: [{ field: 'name', operator: 'contains', value: 'x' }] } } } };
  const items = (b: unknown) => (b as any).kases;

  it('every page is the same POST with the same body, the followed links too', async () => {
    const walk = await walkAll<{ id: number }>(http, capsule, search, { size: 3, maxPages: 10, items });
    expect(walk.items.map((s) => s.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(server.requests.map((r) => [r.method, r.query.page, r.query.perPage])).toEqual([
      ['POST', undefined, '3'],
      ['POST', '2', '3'],
      ['POST', '3', '3'],
    ]);
    for (const r of server.requests) expect(r.body).toEqual(search.search.body);
  });

  it('is retried after a 503 like a GET (a plain POST is not: it may have written)', async () => {
    server.inject({ kind: 'status', status: 503, body: { message: 'busy' } }, { times: 2 });
    const page = await fetchPage(http, capsule, search, { size: 3, items });
    expect(page.items).toHaveLength(3);
    expect(server.requests).toHaveLength(3);
    server.reset();
    server.inject({ kind: 'status', status: 503, body: { message: 'busy' } });
    const err = await http.request({ method: 'POST', path: '/kases/filters/results', body: search.search.body }).catch((e) => e);
    expect(err).toBeInstanceOf(CrmError);
    expect(err.message).toMatch(/may or may not have happened/);
    expect(server.requests).toHaveLength(1);
  });
});

describe('nextLink (RFC 8288)', () => {
  it('finds rel="next" wherever it stands, quoted or not, among other relations', () => {
    expect(nextLink('<https://x.test/a?page=2>; rel="next"')).toBe('https://x.test/a?page=2');
    expect(nextLink('<https://x.test/a?page=1>; rel="prev", <https://x.test/a?page=3>; rel="next"')).toBe('https://x.test/a?page=3');
    expect(nextLink('<https://x.test/a?page=3>; rel=next; title="more"')).toBe('https://x.test/a?page=3');
    expect(nextLink('<https://x.test/a?ids=1,2,3>; rel="prev next"')).toBe('https://x.test/a?ids=1,2,3');
    expect(nextLink('<https://x.test/a?page=1>; rel="prev"')).toBeUndefined();
    expect(nextLink('<https://x.test/a?page=1>; rel="nextish"')).toBeUndefined();
    expect(nextLink(undefined)).toBeUndefined();
  });
});
