/**
 * Name directories: records read as names ("Proposal (4)", "Ana Silva (2)") instead of bare ids,
 * without a request per record. Two kinds, both cached for a short TTL:
 *
 * - `NameDirectory`: a whole, small collection (pipelines, stages, users) loaded in one go.
 *   Concurrent callers share one load; an unknown id triggers at most one refresh per call; ids
 *   still unknown after it are remembered until the TTL runs out, so a deleted owner does not cost
 *   a reload on every list.
 * - `NameLookup`: a large collection (organizations) asked for by id, in batches, cached per id.
 *
 * Both degrade to ids when the token may not read the collection at all (a 403: an OAuth token
 * without that scope can still read deals): one warning, then ids only until the TTL runs out.
 */
import type { Logger } from '../log.js';
import { isCrmError } from './errors.js';
import { raceAbort } from './parallel.js';

export const NAME_TTL_MS = 60_000;

/** A 403: the token works but may not read this kind of record (an OAuth token without a scope). */
export const permissionDenied = (e: unknown): boolean => isCrmError(e) && e.kind === 'auth' && e.status === 403;

export interface DirectoryOptions {
  /** The CRM's name, for log lines and cancellations. */
  provider: string;
  ttlMs?: number;
  now?: () => number;
  logger?: Logger;
  /**
   * The warning logged when the token may not read the collection (403), e.g. "cannot read users;
   * owners will show ids only". Without it a 403 is an error like any other.
   */
  unreadable?: string;
}

export class NameDirectory<K, T extends { id: K }> {
  private items?: Map<K, T>;
  private loadedAt = 0;
  private inflight?: Promise<Map<K, T>>;
  private missing = new Set<K>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    /** The whole collection; shared by every waiting caller, so it takes no caller's signal. */
    private readonly load: () => Promise<T[]>,
    private readonly options: DirectoryOptions,
  ) {
    this.ttlMs = options.ttlMs ?? NAME_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  private fresh(): boolean {
    return this.items !== undefined && this.now() - this.loadedAt < this.ttlMs;
  }

  private async loadOrDegrade(): Promise<T[]> {
    try {
      return await this.load();
    } catch (e) {
      const { unreadable, logger, provider } = this.options;
      if (unreadable === undefined || !permissionDenied(e)) throw e;
      logger?.warn({ provider }, unreadable);
      return [];
    }
  }

  private reload(): Promise<Map<K, T>> {
    this.inflight ??= this.loadOrDegrade()
      .then((rows) => {
        this.items = new Map(rows.map((r) => [r.id, r]));
        this.loadedAt = this.now();
        this.missing = new Set();
        return this.items;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  /** The cached collection, loading it when absent or stale. */
  async all(signal?: AbortSignal): Promise<Map<K, T>> {
    if (this.fresh()) return this.items!;
    return raceAbort(this.reload(), signal, this.options.provider);
  }

  /** The collection, refreshed once if any of `ids` is unknown and the copy predates this call. */
  async resolve(ids: Iterable<K>, signal?: AbortSignal): Promise<Map<K, T>> {
    const wasFresh = this.fresh();
    let items = await this.all(signal);
    const unknown = [...new Set(ids)].filter((id) => !items.has(id) && !this.missing.has(id));
    if (unknown.length && wasFresh) {
      items = await raceAbort(this.reload(), signal, this.options.provider);
    }
    for (const id of unknown) if (!items.has(id)) this.missing.add(id);
    return items;
  }

  /** Records a record just read or written, so names stay current without a reload. */
  put(item: T): void {
    if (this.items) {
      this.items.set(item.id, item);
      this.missing.delete(item.id);
    }
  }

  invalidate(): void {
    this.items = undefined;
  }
}

export interface LookupOptions<K> extends DirectoryOptions {
  /** The records among `ids` the CRM shows (one request; missing or deleted ones are left out). */
  fetch: (ids: K[], signal?: AbortSignal) => Promise<Iterable<{ id: K; name: string }>>;
  /** Most ids in one fetch. */
  batch: number;
}

export class NameLookup<K> {
  private readonly names = new Map<K, { name: string | undefined; at: number }>();
  /** The collection is not asked for until then: the token may not read it (403). */
  private deniedUntil = Number.NEGATIVE_INFINITY;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: LookupOptions<K>) {
    this.ttlMs = options.ttlMs ?? NAME_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  async resolve(ids: Iterable<K>, signal?: AbortSignal): Promise<Map<K, string>> {
    const wanted = [...new Set(ids)];
    const t = this.now();
    const stale =
      t < this.deniedUntil
        ? []
        : wanted.filter((id) => {
            const hit = this.names.get(id);
            return !hit || t - hit.at >= this.ttlMs;
          });
    const chunks: K[][] = [];
    for (let i = 0; i < stale.length; i += this.options.batch) chunks.push(stale.slice(i, i + this.options.batch));
    try {
      await Promise.all(
        chunks.map(async (chunk) => {
          const found = new Map([...(await this.options.fetch(chunk, signal))].map((r) => [r.id, r.name]));
          // Not visible or deleted: remember that too, so it is not asked again until the TTL.
          for (const id of chunk) this.names.set(id, { name: found.get(id), at: t });
        }),
      );
    } catch (e) {
      const { unreadable, logger, provider } = this.options;
      if (unreadable === undefined || !permissionDenied(e)) throw e;
      this.deniedUntil = t + this.ttlMs;
      logger?.warn({ provider }, unreadable);
    }
    const out = new Map<K, string>();
    for (const id of wanted) {
      const name = this.names.get(id)?.name;
      if (name !== undefined) out.set(id, name);
    }
    return out;
  }

  put(record: { id: K; name: string }): void {
    this.names.set(record.id, { name: record.name, at: this.now() });
  }
}

/** id -> name of a directory's records. */
export const namesOf = <K, T extends { id: K; name: string }>(m: ReadonlyMap<K, T>): Map<K, string> =>
  new Map([...m.values()].map((x) => [x.id, x.name]));
