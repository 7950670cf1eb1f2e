/**
 * The one page walker (src/crm/paginate.ts) and the deal placement check that uses it: a repeated
 * cursor or the page cap stops the walk and the caller hears the listing is incomplete.
 */
import { describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import type { Stage } from '../../src/crm/model.js';
import { completeItems, incompleteListing, localPage, sortLocally, walkPages } from '../../src/crm/paginate.js';
import { resolvePlacement } from '../../src/crm/placement.js';
import type { CrmProvider, Page, StageQuery } from '../../src/crm/provider.js';

/** An upstream of `total` records served `size` a page, whose cursor after page `loopAt` repeats. */
function upstream(total: number, size: number, loopAt?: number) {
  const calls: Array<string | undefined> = [];
  const fetch = async (cursor: string | undefined) => {
    calls.push(cursor);
    const page = cursor === undefined ? 0 : Number(cursor.slice(1));
    const items = Array.from({ length: Math.max(0, Math.min(size, total - page * size)) }, (_, i) => page * size + i);
    const last = (page + 1) * size >= total;
    const next = last ? null : loopAt !== undefined && page >= loopAt ? (cursor ?? null) : `p${page + 1}`;
    return { items, next_cursor: next };
  };
  return { fetch, calls };
}

describe('walkPages', () => {
  it('reports each page read, and stops between pages once cancelled (no further request)', async () => {
    const u = upstream(50, 10);
    const controller = new AbortController();
    const reports: Array<[number, number | undefined, string | undefined]> = [];
    const walking = walkPages(u.fetch, 100, {
      signal: controller.signal,
      what: 'deals',
      onProgress: (done, total, message) => {
        reports.push([done, total, message]);
        if (done === 2) controller.abort();
      },
    });
    await expect(walking).rejects.toMatchObject({ kind: 'cancelled' });
    expect(u.calls).toEqual([undefined, 'p1']);
    expect(reports).toEqual([
      [1, undefined, 'read 1 page of deals'],
      [2, undefined, 'read 2 pages of deals'],
    ]);
  });

  it('reads every page to the end', async () => {
    const u = upstream(25, 10);
    const walk = await walkPages(u.fetch, 100);
    expect(walk).toEqual({ items: Array.from({ length: 25 }, (_, i) => i), pages: 3 });
    expect(u.calls).toEqual([undefined, 'p1', 'p2']);
  });

  it('stops at the first cursor it was given before, instead of looping to the cap', async () => {
    const u = upstream(10_000, 10, 2);
    const walk = await walkPages(u.fetch, 200);
    expect(walk.stopped).toBe('repeated_cursor');
    expect(u.calls).toEqual([undefined, 'p1', 'p2']);
    expect(walk.items).toHaveLength(30);
    expect(incompleteListing(walk, 'Pipedrive', 'deals')).toBe(
      'Pipedrive gave the same page cursor twice while listing deals, so only its first 3 pages (30 records) were read: the listing is incomplete.',
    );
    expect(() => completeItems(walk, 'Pipedrive', 'deals', 'Try again.')).toThrow(CrmError);
  });

  it('stops at the page cap and says so', async () => {
    const walk = await walkPages(upstream(1000, 10).fetch, 5);
    expect(walk.stopped).toBe('page_cap');
    expect(walk.items).toHaveLength(50);
    expect(incompleteListing(walk, 'Truto', 'stages')).toMatch(/^Listing stages stopped at crm-mcp's cap of 5 pages \(50 records\)/);
  });
});

describe('local pages and sorting', () => {
  it('cuts offset pages and refuses a foreign cursor', () => {
    const all = Array.from({ length: 7 }, (_, i) => i);
    expect(localPage(all, undefined, 3)).toEqual({ items: [0, 1, 2], next_cursor: 'offset:3' });
    expect(localPage(all, 'offset:6', 3)).toEqual({ items: [6], next_cursor: null });
    expect(() => localPage(all, 'eyJpZCI6MX0', 3)).toThrow(/cursor is not valid/);
  });

  it('sorts either way with missing keys last, ties by the tie-breaker', () => {
    const rows = [{ k: 2, id: 1 }, { k: undefined, id: 2 }, { k: 1, id: 3 }, { k: 2, id: 0 }];
    const asc = sortLocally(rows, (r) => r.k, 'asc', (a, b) => a.id - b.id).map((r) => r.id);
    const desc = sortLocally(rows, (r) => r.k, 'desc', (a, b) => a.id - b.id).map((r) => r.id);
    expect(asc).toEqual([3, 0, 1, 2]);
    expect(desc).toEqual([1, 0, 3, 2]);
  });
});

describe('deal placement over an incomplete stage listing', () => {
  /** A provider whose stage list repeats its cursor from the second page on. */
  function loopingStages(): { provider: CrmProvider; calls: () => number } {
    let calls = 0;
    const stage = (i: number): Stage => ({ id: String(i), name: `S${i}`, pipeline: { id: '1' }, position: i, status: 'active' });
    const provider = {
      kind: 'stub',
      label: 'Stub CRM',
      remote: true,
      capabilities: {},
      stages: {
        async list(q: StageQuery): Promise<Page<Stage>> {
          calls++;
          const page = q.cursor === undefined ? 0 : 1;
          return { items: [stage(page * 2 + 1), stage(page * 2 + 2)], next_cursor: 'c1' };
        },
      },
    } as CrmProvider;
    return { provider, calls: () => calls };
  }

  it('accepts a stage it did read, after two pages instead of twenty', async () => {
    const { provider, calls } = loopingStages();
    await expect(resolvePlacement(provider, { pipeline_id: '1', stage_id: '3' }, undefined, {})).resolves.toEqual({ pipeline_id: '1', stage_id: '3' });
    expect(calls()).toBe(2);
  });

  it('neither accepts nor refuses a stage it could not read: says the listing is incomplete', async () => {
    const { provider } = loopingStages();
    const e = await resolvePlacement(provider, { pipeline_id: '1', stage_id: '99' }, undefined, {}).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CrmError);
    expect((e as CrmError).kind).toBe('upstream');
    expect((e as CrmError).message).toMatch(/^Stub CRM gave the same page cursor twice while listing the stages of pipeline 1.*cannot check that stage '99' is in pipeline 1; nothing was changed/);
  });
});
