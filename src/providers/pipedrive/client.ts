/**
 * Requests to Pipedrive: envelopes, cursor pages, token costs, and the short-lived name directory
 * (pipelines, stages, users, organizations) that lets records read as names instead of bare ids.
 * Everything goes through the shared HttpClient (pool, retries, limiter, redaction).
 */
import type { Logger } from '../../log.js';
import { CrmError, isCrmError } from '../../crm/errors.js';
import { HttpClient, path, type HttpClientOptions } from '../../crm/http.js';
import { walkPages, type Walk } from '../../crm/paginate.js';
import type { PdOrganization, PdPipeline, PdStage, PdUser } from './map.js';

/**
 * Token cost per endpoint (provider-apis §2.8, the specs' x-token-cost). They count against the
 * company's daily budget, not the burst window, so they are tallied here rather than fed to the
 * burst limiter (which counts requests).
 */
export const TOKEN_COST = {
  v2List: 5,
  v2Get: 1,
  v2Write: 5,
  v2Delete: 3,
  v2DealsList: 10,
  v2OrganizationsList: 10,
  v1Users: 20,
  v1Stats: 40,
} as const;

/** Largest page Pipedrive serves. */
export const MAX_PAGE = 500;
/** A full scan stops here (100,000 records at 500 a page) rather than looping forever on a bad cursor. */
const MAX_SCAN_PAGES = 200;

export interface PipedriveClientOptions {
  apiToken: string;
  baseUrl?: string;
  logger?: Logger;
  /** Requests per rolling 2 s window for this token; Lite plan 20, Growth 40, Premium 100, Ultimate 120. */
  burstLimit?: number;
  /** Test and tuning hooks passed to the HttpClient (timeouts, retry budget, backoff base, clock). */
  http?: Pick<
    HttpClientOptions,
    'timeouts' | 'maxRetryWaitMs' | 'maxAttempts' | 'retryBaseMs' | 'clock' | 'deadlineMs' | 'maxResponseBytes'
  >;
}

interface Envelope<T> {
  success?: boolean;
  data: T;
  additional_data?: { next_cursor?: string | null } | null;
}

export interface ListResult<T> {
  items: T[];
  next_cursor: string | null;
}

export const DEFAULT_BASE_URL = 'https://api.pipedrive.com';

/**
 * The base is the company root. People paste API roots too (".../api/v2", ".../v1"), so those
 * tails are dropped rather than producing ".../api/v2/api/v2/...".
 */
export function companyRoot(baseUrl: string | undefined): string {
  const raw = (baseUrl ?? DEFAULT_BASE_URL).trim().replace(/\/+$/, '');
  return raw.replace(/\/(api\/v[12]|v1)$/i, '');
}

/** Pipedrive errors are {success:false, error, error_info}; error_info is usually a generic pointer. */
export function describePipedriveError(_status: number, body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as { error?: unknown; error_info?: unknown };
  const error = typeof b.error === 'string' ? b.error : undefined;
  const info =
    typeof b.error_info === 'string' && !/check developers\.pipedrive\.com/i.test(b.error_info) ? b.error_info : undefined;
  if (!error) return info;
  return info ? `${error} (${info})` : error;
}

export class PipedriveClient {
  readonly http: HttpClient;
  /** Daily-budget tokens spent by this instance (for logs and diagnostics). */
  tokensSpent = 0;
  private readonly logger?: Logger;

  constructor(opts: PipedriveClientOptions) {
    if (!opts.apiToken || !opts.apiToken.trim()) {
      throw new CrmError('auth', 'Pipedrive needs an API token: set PIPEDRIVE_API_TOKEN (Settings > Personal preferences > API in Pipedrive).');
    }
    const burst = opts.burstLimit ?? 20;
    if (!(Number.isFinite(burst) && burst > 0)) {
      throw new CrmError('validation', `Pipedrive burst limit must be a positive number of requests per 2 seconds, not ${burst}.`);
    }
    this.logger = opts.logger;
    this.http = new HttpClient({
      provider: 'Pipedrive',
      baseUrl: companyRoot(opts.baseUrl),
      headers: { 'x-api-token': opts.apiToken.trim() },
      secrets: [opts.apiToken],
      limiter: { capacity: burst, windowMs: 2000 },
      logger: opts.logger,
      describeError: describePipedriveError,
      ...opts.http,
    });
  }

  /** path+query exactly as sent under the company root, for dry runs. */
  shownPath(p: string, query?: Record<string, unknown>): string {
    return this.http.shownPath({ path: p, query });
  }

  private spend(tokens: number): void {
    this.tokensSpent += tokens;
    this.logger?.debug({ provider: 'Pipedrive', tokens, tokensSpent: this.tokensSpent }, 'daily-budget tokens');
  }

  async read<T>(p: string, query: Record<string, unknown> | undefined, tokens: number, signal?: AbortSignal): Promise<Envelope<T>> {
    this.spend(tokens);
    const res = await this.http.request<Envelope<T>>({ method: 'GET', path: p, query: clean(query), signal });
    return envelope(res.body);
  }

  async list<T>(p: string, query: Record<string, unknown>, tokens: number, signal?: AbortSignal): Promise<ListResult<T>> {
    const env = await this.read<T[]>(p, query, tokens, signal);
    return { items: Array.isArray(env.data) ? env.data : [], next_cursor: env.additional_data?.next_cursor ?? null };
  }

  /**
   * Every page at the largest page size, following next_cursor; stops on a repeated cursor or the
   * page cap and says so in `stopped` (each caller decides whether a partial scan may be used).
   */
  async walk<T>(p: string, query: Record<string, unknown>, tokens: number, signal?: AbortSignal): Promise<Walk<T>> {
    const walk = await walkPages((cursor) => this.list<T>(p, { ...query, limit: MAX_PAGE, cursor }, tokens, signal), MAX_SCAN_PAGES);
    if (walk.stopped) this.logger?.warn({ provider: 'Pipedrive', path: p, records: walk.items.length, stopped: walk.stopped }, 'full scan incomplete');
    return walk;
  }

  async write<T>(
    method: 'POST' | 'PATCH' | 'DELETE',
    p: string,
    body: unknown,
    tokens: number,
    signal?: AbortSignal,
  ): Promise<T> {
    this.spend(tokens);
    // No idempotencyKey: Pipedrive has none, and passing one would let HttpClient resend the write.
    const res = await this.http.request<Envelope<T>>({ method, path: p, body, signal });
    return envelope(res.body).data;
  }
}

function envelope<T>(body: Envelope<T> | undefined): Envelope<T> {
  if (!body || typeof body !== 'object' || !('data' in body) || body.success === false) {
    throw new CrmError('upstream', 'Pipedrive answered without the expected {success, data} envelope. Try again shortly.', {
      provider: 'Pipedrive',
    });
  }
  return body;
}

function clean(q: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!q) return undefined;
  const out = Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined));
  return Object.keys(out).length ? out : undefined;
}

/** Waits for a shared promise, but lets this caller walk away when its own signal aborts. */
export function raceAbort<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(cancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

const cancelled = () => new CrmError('cancelled', 'The request to Pipedrive was cancelled.', { provider: 'Pipedrive' });

// ---------------------------------------------------------------------------------------------
// Name directory

export const NAME_TTL_MS = 60_000;

/**
 * A whole-collection lookup (all pipelines, all stages, all users) cached for a short TTL.
 * Concurrent callers share one load; an unknown id triggers at most one refresh per call, and ids
 * still unknown after a refresh are remembered until the TTL runs out, so a deleted owner does not
 * cost a refetch on every list.
 */
export class CollectionCache<T extends { id: number }> {
  private items?: Map<number, T>;
  private loadedAt = 0;
  private inflight?: Promise<Map<number, T>>;
  private missing = new Set<number>();

  constructor(
    private readonly load: () => Promise<T[]>,
    private readonly ttlMs = NAME_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  private fresh(): boolean {
    return this.items !== undefined && this.now() - this.loadedAt < this.ttlMs;
  }

  private reload(): Promise<Map<number, T>> {
    this.inflight ??= this.load()
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
  async all(signal?: AbortSignal): Promise<Map<number, T>> {
    if (this.fresh()) return this.items!;
    return raceAbort(this.reload(), signal);
  }

  /** The collection, refreshed once if any of `ids` is unknown and the copy predates this call. */
  async resolve(ids: Iterable<number>, signal?: AbortSignal): Promise<Map<number, T>> {
    const wasFresh = this.fresh();
    let items = await this.all(signal);
    const unknown = [...new Set(ids)].filter((id) => !items.has(id) && !this.missing.has(id));
    if (unknown.length && wasFresh) {
      items = await raceAbort(this.reload(), signal);
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

/** A 403: the token works but may not read this kind of record (an OAuth token without a scope). */
const permissionDenied = (e: unknown): boolean => isCrmError(e) && e.kind === 'auth' && e.status === 403;

/** Organizations are many, so they are fetched by id (`ids=`, 100 at a time) and cached per id. */
export class OrgCache {
  private readonly names = new Map<number, { name: string | undefined; at: number }>();
  /** Organizations are not asked for until then: the token may not read them (403). */
  private deniedUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly client: PipedriveClient,
    private readonly ttlMs = NAME_TTL_MS,
    private readonly now: () => number = Date.now,
    private readonly logger?: Logger,
  ) {}

  async resolve(ids: Iterable<number>, signal?: AbortSignal): Promise<Map<number, string>> {
    const wanted = [...new Set(ids)];
    const t = this.now();
    const stale =
      t < this.deniedUntil
        ? []
        : wanted.filter((id) => {
            const hit = this.names.get(id);
            return !hit || t - hit.at >= this.ttlMs;
          });
    const chunks: number[][] = [];
    for (let i = 0; i < stale.length; i += 100) chunks.push(stale.slice(i, i + 100));
    try {
      await Promise.all(
        chunks.map(async (chunk) => {
          const page = await this.client.list<PdOrganization>(
            path`/api/v2/organizations`,
            { ids: chunk.join(','), limit: chunk.length },
            TOKEN_COST.v2OrganizationsList,
            signal,
          );
          const found = new Map(page.items.map((o) => [o.id, o.name]));
          // Not visible or deleted: remember that too, so it is not asked again until the TTL.
          for (const id of chunk) this.names.set(id, { name: found.get(id), at: t });
        }),
      );
    } catch (e) {
      // An OAuth token without contacts:read can still read deals: show account ids, not an error.
      if (!permissionDenied(e)) throw e;
      this.deniedUntil = t + this.ttlMs;
      this.logger?.warn({ provider: 'Pipedrive' }, 'cannot read organizations; accounts will show ids only');
    }
    const out = new Map<number, string>();
    for (const id of wanted) {
      const name = this.names.get(id)?.name;
      if (name !== undefined) out.set(id, name);
    }
    return out;
  }

  put(org: { id: number; name: string }): void {
    this.names.set(org.id, { name: org.name, at: this.now() });
  }
}

export interface Directory {
  pipelines: CollectionCache<PdPipeline>;
  stages: CollectionCache<PdStage>;
  users: CollectionCache<PdUser>;
  orgs: OrgCache;
}

export function createDirectory(client: PipedriveClient, logger?: Logger): Directory {
  // Names only: a scan cut short leaves some ids without a name, which is shown as the bare id.
  const scan = async <T>(p: string) => (await client.walk<T>(p, {}, TOKEN_COST.v2List)).items;
  return {
    pipelines: new CollectionCache(() => scan<PdPipeline>(path`/api/v2/pipelines`)),
    stages: new CollectionCache(() => scan<PdStage>(path`/api/v2/stages`)),
    users: new CollectionCache(async () => {
      try {
        const env = await client.read<PdUser[]>(path`/api/v1/users`, undefined, TOKEN_COST.v1Users);
        return Array.isArray(env.data) ? env.data : [];
      } catch (e) {
        // An OAuth token without users:read can still read deals: show owner ids, not an error.
        if (permissionDenied(e)) {
          logger?.warn({ provider: 'Pipedrive' }, 'cannot read users; owners will show ids only');
          return [];
        }
        throw e;
      }
    }),
    orgs: new OrgCache(client, NAME_TTL_MS, Date.now, logger),
  };
}

export const names = <T extends { id: number; name: string }>(m: ReadonlyMap<number, T>): Map<number, string> =>
  new Map([...m.values()].map((x) => [x.id, x.name]));
