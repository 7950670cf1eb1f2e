/**
 * Name directories (src/crm/names.ts): one shared load for concurrent callers, a short TTL, one
 * refresh for an unknown id, unknown ids remembered, batches by id, and ids instead of names (one
 * warning, no error) when the token may not read the collection.
 */
import { describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { NameDirectory, NameLookup, namesOf } from '../../src/crm/names.js';
import type { Logger } from '../../src/log.js';

interface Rec {
  id: number;
  name: string;
}

const forbidden = () => new CrmError('auth', 'TestCRM denied permission (403).', { status: 403 });

function clock() {
  const c = { t: 1_000, now: () => c.t };
  return c;
}

function recordingLogger() {
  const warnings: unknown[][] = [];
  const logger = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Logger;
  return { logger, warnings };
}

/** A load that counts its calls and resolves when the test says so. */
function controlledLoad(rows: () => Rec[]) {
  const state = { calls: 0, release: [] as Array<() => void> };
  const load = () => {
    state.calls += 1;
    return new Promise<Rec[]>((resolve) => state.release.push(() => resolve(rows())));
  };
  return { state, load, releaseAll: () => state.release.splice(0).forEach((r) => r()) };
}

describe('NameDirectory', () => {
  it('concurrent callers share one load, and a fresh copy serves without loading', async () => {
    const c = clock();
    const { state, load, releaseAll } = controlledLoad(() => [{ id: 1, name: 'Sales' }]);
    const dir = new NameDirectory<number, Rec>(load, { provider: 'TestCRM', now: c.now, ttlMs: 100 });
    const a = dir.all();
    const b = dir.resolve([1]);
    releaseAll();
    expect(namesOf(await a)).toEqual(new Map([[1, 'Sales']]));
    expect((await b).get(1)?.name).toBe('Sales');
    expect(state.calls).toBe(1);
    await dir.all();
    expect(state.calls).toBe(1);
    c.t += 100; // TTL over: the next use loads again
    const again = dir.all();
    releaseAll();
    await again;
    expect(state.calls).toBe(2);
  });

  it('an unknown id refreshes a fresh copy once; still unknown, it is remembered until the TTL', async () => {
    const c = clock();
    let rows: Rec[] = [{ id: 1, name: 'Sales' }];
    let calls = 0;
    const dir = new NameDirectory<number, Rec>(
      async () => {
        calls += 1;
        return rows;
      },
      { provider: 'TestCRM', now: c.now, ttlMs: 100 },
    );
    await dir.all();
    rows = [...rows, { id: 2, name: 'Partners' }];
    expect((await dir.resolve([2])).get(2)?.name).toBe('Partners');
    expect(calls).toBe(2);
    expect((await dir.resolve([9])).has(9)).toBe(false);
    expect(calls).toBe(3);
    await dir.resolve([9]); // remembered as missing: no reload
    expect(calls).toBe(3);
    dir.put({ id: 9, name: 'Created just now' });
    expect((await dir.resolve([9])).get(9)?.name).toBe('Created just now');
    expect(calls).toBe(3);
  });

  it('a 403 with `unreadable` set degrades to ids with one warning; without it, it is an error', async () => {
    const { logger, warnings } = recordingLogger();
    const degrading = new NameDirectory<number, Rec>(() => Promise.reject(forbidden()), {
      provider: 'TestCRM',
      logger,
      unreadable: 'cannot read users; owners will show ids only',
    });
    expect((await degrading.resolve([1, 2])).size).toBe(0);
    expect(warnings).toEqual([[{ provider: 'TestCRM' }, 'cannot read users; owners will show ids only']]);
    await degrading.resolve([1, 2]); // the empty copy is fresh: no second load, no second warning
    expect(warnings).toHaveLength(1);

    const strict = new NameDirectory<number, Rec>(() => Promise.reject(forbidden()), { provider: 'TestCRM' });
    await expect(strict.all()).rejects.toThrow(/403/);
    const other = new NameDirectory<number, Rec>(() => Promise.reject(new CrmError('upstream', 'TestCRM answered 503.')), {
      provider: 'TestCRM',
      unreadable: 'never said',
    });
    await expect(other.all()).rejects.toThrow(/503/);
  });

  it('a caller whose signal aborts walks away; the shared load still serves the others', async () => {
    const { state, load, releaseAll } = controlledLoad(() => [{ id: 1, name: 'Sales' }]);
    const dir = new NameDirectory<number, Rec>(load, { provider: 'TestCRM' });
    const ac = new AbortController();
    const leaving = dir.all(ac.signal);
    const staying = dir.all();
    ac.abort();
    await expect(leaving).rejects.toMatchObject({ kind: 'cancelled', message: 'The request to TestCRM was cancelled.' });
    releaseAll();
    expect((await staying).get(1)?.name).toBe('Sales');
    expect(state.calls).toBe(1);
  });
});

describe('NameLookup', () => {
  it('asks in batches, caches each id for the TTL, and remembers ids the CRM did not show', async () => {
    const c = clock();
    const asked: number[][] = [];
    const lookup = new NameLookup<number>({
      provider: 'TestCRM',
      now: c.now,
      ttlMs: 100,
      batch: 2,
      fetch: async (ids) => {
        asked.push(ids);
        return ids.filter((id) => id !== 3).map((id) => ({ id, name: `Org ${id}` }));
      },
    });
    const first = await lookup.resolve([1, 2, 3, 1]);
    expect(first).toEqual(new Map([[1, 'Org 1'], [2, 'Org 2']]));
    expect(asked).toEqual([[1, 2], [3]]);
    await lookup.resolve([1, 3]);
    expect(asked).toHaveLength(2);
    c.t += 100;
    await lookup.resolve([1]);
    expect(asked).toEqual([[1, 2], [3], [1]]);
  });

  it('a 403 shows ids only and asks nothing more until the TTL runs out', async () => {
    const c = clock();
    const { logger, warnings } = recordingLogger();
    let calls = 0;
    const lookup = new NameLookup<number>({
      provider: 'TestCRM',
      now: c.now,
      ttlMs: 100,
      batch: 100,
      logger,
      unreadable: 'cannot read organizations; accounts will show ids only',
      fetch: async () => {
        calls += 1;
        throw forbidden();
      },
    });
    expect((await lookup.resolve([5])).size).toBe(0);
    expect((await lookup.resolve([6])).size).toBe(0);
    expect(calls).toBe(1);
    expect(warnings).toHaveLength(1);
    c.t += 100;
    await lookup.resolve([6]);
    expect(calls).toBe(2);
  });

  it('other failures are errors', async () => {
    const lookup = new NameLookup<number>({
      provider: 'TestCRM',
      batch: 10,
      unreadable: 'never said',
      fetch: async () => {
        throw new CrmError('upstream', 'TestCRM answered 500.');
      },
    });
    await expect(lookup.resolve([1])).rejects.toThrow(/500/);
  });
});
