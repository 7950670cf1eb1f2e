/**
 * crm/merge.ts: several newest-first listings as one, paged under one cursor. Sources here are
 * in-memory listings with their own cursors (offsets), so every page a merge asks for is known.
 */
import { describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { mergedPage, type MergedSource } from '../../src/crm/merge.js';

interface Item {
  id: string;
  at: number;
}

/** A source over `items` (already newest first), paged by offset; records every page asked for. */
function source(key: string, items: Item[], asked: string[] = [], cap = Infinity): MergedSource<Item> {
  return {
    key,
    label: `${key} records`,
    async page(cursor, asked_size) {
      const from = cursor === undefined ? 0 : Number(cursor);
      asked.push(`${key}@${from}/${asked_size}`);
      // A server may serve fewer than asked (a capped page size).
      const size = Math.min(asked_size, cap);
      const next = from + size < items.length ? String(from + size) : null;
      return { items: items.slice(from, from + size), next_cursor: next };
    },
  };
}

const newest = (a: Item, b: Item) => b.at - a.at || b.id.localeCompare(a.id);
const items = (key: string, ats: number[]): Item[] => ats.map((at, i) => ({ id: `${key}${i}`, at }));

async function all(sources: MergedSource<Item>[], limit: number) {
  const out: Item[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await mergedPage(sources, { limit, cursor, order: newest });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    out.push(...page.items);
    cursor = page.next_cursor ?? undefined;
    pages++;
    expect(pages).toBeLessThan(100);
  } while (cursor);
  return { out, pages };
}

describe('mergedPage', () => {
  it('gives every record once, in the shared order, whatever the page size', async () => {
    const a = items('a', [100, 90, 55, 54, 20, 3]);
    const b = items('b', [95, 60, 59, 58, 57, 10, 9, 1]);
    const c = items('c', [99]);
    const expected = [...a, ...b, ...c].sort(newest).map((x) => x.id);
    for (const limit of [1, 2, 3, 4, 7, 50]) {
      const { out } = await all([source('a', a), source('b', b), source('c', c)], limit);
      expect(out.map((x) => x.id), `limit ${limit}`).toEqual(expected);
      const capped = await all([source('a', a, [], 2), source('b', b, [], 1), source('c', c, [], 1)], limit);
      expect(capped.out.map((x) => x.id), `limit ${limit}, capped pages`).toEqual(expected);
    }
  });

  it('a source out of records in hand reads its next page before the merge goes on; a page partly given is read again in its size', async () => {
    const a = items('a', [10, 8, 6, 4]);
    const b = items('b', [9, 7, 5, 3]);
    const asked: string[] = [];
    const first = await mergedPage([source('a', a, asked), source('b', b, asked)], { limit: 3, order: newest });
    expect(first.items.map((x) => x.at)).toEqual([10, 9, 8]);
    expect(asked).toEqual(['a@0/3', 'b@0/3']);
    const second = await mergedPage([source('a', a, asked), source('b', b, asked)], { limit: 10, cursor: first.next_cursor!, order: newest });
    expect(second.items.map((x) => x.at)).toEqual([7, 6, 5, 4, 3]);
    expect(second.next_cursor).toBeNull();
    // Both first pages had given records (a two, b one): read again as 3, those skipped; each then
    // ran out in hand and its next page was read in this call's size before the merge went on.
    expect(asked.slice(2)).toEqual(['a@0/3', 'b@0/3', 'a@3/10', 'b@3/10']);
  });

  it('a source whose cursor marks a place reads a page partly given again with the records after it, in one request', async () => {
    const a = items('a', [10, 8, 6, 4, 2, 0]);
    const b = items('b', [9, 7, 5, 3, 1]);
    const asked: string[] = [];
    const sources = [{ ...source('a', a, asked), largestPage: 100 }, source('b', b, asked)];
    const first = await mergedPage(sources, { limit: 3, order: newest });
    expect(first.items.map((x) => x.at)).toEqual([10, 9, 8]);
    const second = await mergedPage(sources, { limit: 4, cursor: first.next_cursor!, order: newest });
    expect(second.items.map((x) => x.at)).toEqual([7, 6, 5, 4]);
    // a gave two of its page: read again as those 2 and this call's 4; b, without largestPage, as
    // the 3 it was counted in, then its next page once the one left of those is given.
    expect(asked.slice(2)).toEqual(['a@0/6', 'b@0/3', 'b@3/4']);
    // No larger than largestPage.
    asked.length = 0;
    await mergedPage([{ ...source('a', a, asked), largestPage: 4 }, source('b', b)], { limit: 4, cursor: first.next_cursor!, order: newest });
    expect(asked).toEqual(['a@0/4']);
    for (const limit of [1, 2, 3]) {
      const { out } = await all([{ ...source('a', a), largestPage: 3 }, { ...source('b', b), largestPage: 3 }], limit);
      expect(out.map((x) => x.at), `limit ${limit}`).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    }
  });

  it('past a few rounds of such reads the page ends short, with a cursor, never out of order', async () => {
    const a = items('a', [10, 8, 6, 4, 2]);
    const b = items('b', [9, 7, 5, 3, 1]);
    const asked: string[] = [];
    const first = await mergedPage([source('a', a, asked, 1), source('b', b, asked, 1)], { limit: 10, order: newest });
    expect(first.items.map((x) => x.at)).toEqual([10, 9, 8, 7]);
    expect(first.next_cursor).not.toBeNull();
    expect(asked).toHaveLength(2 + 3);
  });

  it('asks an exhausted source nothing more; the end is a null cursor', async () => {
    const asked: string[] = [];
    const a = items('a', [5]);
    const b = items('b', [9, 8, 7, 6, 4, 3]);
    const first = await mergedPage([source('a', a, asked), source('b', b, asked)], { limit: 3, order: newest });
    expect(first.items.map((x) => x.at)).toEqual([9, 8, 7]);
    const second = await mergedPage([source('a', a, asked), source('b', b, asked)], { limit: 3, cursor: first.next_cursor!, order: newest });
    expect(second.items.map((x) => x.at)).toEqual([6, 5, 4]);
    const third = await mergedPage([source('a', a, asked), source('b', b, asked)], { limit: 3, cursor: second.next_cursor!, order: newest });
    expect(third.items.map((x) => x.at)).toEqual([3]);
    expect(third.next_cursor).toBeNull();
    expect(asked.filter((x) => x.startsWith('a'))).toEqual(['a@0/3', 'a@0/3']);
  });

  it('no sources, or empty ones: an empty, final page', async () => {
    expect(await mergedPage([], { limit: 5, order: newest })).toEqual({ items: [], next_cursor: null });
    expect(await mergedPage([source('a', [])], { limit: 5, order: newest })).toEqual({ items: [], next_cursor: null });
  });

  it('reports progress per source read', async () => {
    const steps: Array<[number, number | undefined, string | undefined]> = [];
    await mergedPage([source('a', items('a', [2])), source('b', items('b', [1]))], { limit: 5, order: newest, onProgress: (d, t, m) => steps.push([d, t, m]) });
    expect(steps.map(([d, t]) => [d, t])).toEqual([
      [1, 2],
      [2, 2],
    ]);
    expect(steps.map(([, , m]) => m).sort()).toEqual(['read 1 page of a records', 'read 1 page of b records']);
  });

  it('refuses a cursor of another listing, or a broken one, before reading anything', async () => {
    const asked: string[] = [];
    const sources = [source('a', items('a', [2, 1]), asked), source('b', items('b', [3]), asked)];
    const { next_cursor } = await mergedPage(sources, { limit: 1, order: newest });
    asked.length = 0;
    for (const cursor of ['nope', '[]', JSON.stringify({ a: 0 }), JSON.stringify({ a: 0, c: 0 }), JSON.stringify({ a: ['x', -1, 2], b: 0 }), JSON.stringify({ a: ['x', 0, 0], b: 0 })]) {
      const e = await mergedPage(sources, { limit: 1, cursor, order: newest }).catch((x: unknown) => x);
      expect(e, cursor).toBeInstanceOf(CrmError);
      expect((e as CrmError).message).toMatch(/^That cursor is not valid for this list/);
    }
    await expect(mergedPage([source('a', [])], { limit: 1, cursor: next_cursor!, order: newest })).rejects.toThrow(/is not valid for this list/);
    expect(asked).toEqual([]);
  });

  it('a failing source fails the page, and the others are cancelled', async () => {
    let aborted = false;
    const hanging: MergedSource<Item> = {
      key: 'slow',
      label: 'slow records',
      page: (_c, _s, signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          }),
        ),
    };
    const failing: MergedSource<Item> = { key: 'bad', label: 'bad records', page: async () => Promise.reject(new CrmError('upstream', 'broken')) };
    await expect(mergedPage([hanging, failing], { limit: 2, order: newest })).rejects.toThrow('broken');
    expect(aborted).toBe(true);
  });
});
