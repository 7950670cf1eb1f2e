/** Small pieces every mapper from a CRM's records to the unified model needs. */
import { CrmError, excerpt } from './errors.js';
import type { DealSummary, Ref } from './model.js';

/** A reference to record `id` of a CRM with numeric ids, named when `names` knows it. */
export function namedRef(id: number, names: ReadonlyMap<number, string> | undefined): Ref {
  const name = names?.get(id);
  return name === undefined ? { id: String(id) } : { id: String(id), name };
}

/** `record` with the CRM's own record as `remote_data`, only when the caller asked for it. */
export const withRemoteData = <T extends object>(record: T, native: object, include: boolean | undefined): T =>
  include ? { ...record, remote_data: { ...native } } : record;

/** A copy without undefined members, so records carry only what the CRM said (and `toEqual` is exact). */
export function compact<T extends object>(o: T): T {
  // A loop, not Object.fromEntries(Object.entries(...)): two arrays per member for every record mapped.
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(o)) {
    const value = (o as Record<string, unknown>)[key];
    if (value === undefined) continue;
    // An assignment to __proto__ would set the prototype; fromEntries made it a member.
    if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out as T;
}

// Money sums in floating point drift (0.1 + 0.2); cents are what people read.
const round2 = (n: number): number => Math.round(n * 100) / 100;

/** What an open deal adds to its stage's summary. */
export interface OpenDeal<K> {
  stage: K;
  amount?: number | null;
  currency?: string | null;
}

/**
 * Count and value per currency of open deals, per stage and for the whole pipeline (get_pipeline).
 * `pick` returns undefined for a deal that does not count (not open, deleted, another pipeline).
 * A deal without a currency counts but adds no value.
 */
export function tallyOpenDeals<D, K>(
  deals: Iterable<D>,
  pick: (deal: D) => OpenDeal<K> | undefined,
): { byStage: Map<K, DealSummary>; total: DealSummary } {
  const byStage = new Map<K, DealSummary>();
  const total: DealSummary = { count: 0, values: {} };
  const add = (s: DealSummary, d: OpenDeal<K>) => {
    s.count += 1;
    if (d.currency) s.values[d.currency] = round2((s.values[d.currency] ?? 0) + (d.amount ?? 0));
  };
  for (const deal of deals) {
    const d = pick(deal);
    if (!d) continue;
    let s = byStage.get(d.stage);
    if (!s) byStage.set(d.stage, (s = { count: 0, values: {} }));
    add(s, d);
    add(total, d);
  }
  return { byStage, total };
}

/** An update that would change nothing is refused, naming what it could change, rather than sent as a no-op. */
export function requireChange(body: object, noun: string, fields: readonly string[]): void {
  if (Object.keys(body).length === 0) {
    throw new CrmError('validation', `Nothing to update: give at least one of ${fields.join(', ')} for the ${noun}.`);
  }
}

/**
 * A CRM id that is a positive whole number (Pipedrive, Insightly, Capsule): anything else cannot
 * exist upstream, so it is refused before a request, naming where valid ids are found: the tool
 * that lists them, or a whole sentence ending in a full stop ("Find ids with list_users or search (types: users).").
 */
export function positiveIntegerId(crm: string, id: string, what: string, where: string): number {
  const trimmed = id.trim();
  if (!/^[1-9][0-9]{0,15}$/.test(trimmed)) {
    const hint = where.endsWith('.') ? where : `Call ${where} to see valid ${what} ids.`;
    throw new CrmError('validation', `'${excerpt(id)}' is not ${/^[aeiou]/i.test(crm) ? 'an' : 'a'} ${crm} ${what} id (they are positive whole numbers). ${hint}`);
  }
  return Number(trimmed);
}
