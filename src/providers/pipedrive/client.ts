/**
 * Requests to Pipedrive (provider-apis.md §2): the company root as base URL, the `x-api-token`
 * header, the burst limiter, `{success, data, additional_data}` envelopes with cursor pages, token
 * costs per endpoint, and Pipedrive's error bodies. Everything goes through the shared HttpClient
 * (pool, retries, limiter, redaction).
 */
import type { Logger } from '../../log.js';
import { errorBodyReader } from '../../crm/error-body.js';
import { CrmError, excerpt, notFound, nothingWritten, unknownReference, whenNotFound, type ReferencedRecord } from '../../crm/errors.js';
import { HttpClient, type HttpTuning } from '../../crm/http.js';
import { walkPages, type Walk, type WalkOptions } from '../../crm/paginate.js';
import { bodyCursor, fetchPage, type NativePage } from '../../crm/paging.js';
import type { Ref } from '../../crm/model.js';
import type { PdSearchItem } from './map.js';
import type { PreparedWrite } from '../../crm/provider.js';
import { prepareRequest } from '../../crm/writes.js';

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
  v2PersonsList: 10,
  v2ActivitiesList: 10,
  /** /deals/search, /organizations/search, /persons/search. */
  v2Search: 20,
  v1Users: 20,
  v1Stats: 40,
  v1NotesList: 20,
  v1NoteGet: 2,
  v1NoteWrite: 10,
} as const;

/** Largest page Pipedrive serves. */
export const MAX_PAGE = 500;
/** A full scan stops here (100,000 records at 500 a page) rather than looping forever on a bad cursor. */
const MAX_SCAN_PAGES = 200;

/** A tool's `limit` as a page size Pipedrive accepts. */
export const pageSize = (n: number | undefined): number => Math.min(MAX_PAGE, Math.max(1, Math.floor(n ?? 100)));

export interface PipedriveClientOptions {
  apiToken: string;
  baseUrl?: string;
  logger?: Logger;
  /** Requests per rolling 2 s window for this token; Lite plan 20, Growth 40, Premium 100, Ultimate 120. */
  burstLimit?: number;
  /** Test and tuning hooks passed to the HttpClient (timeouts, retry budget, backoff base, clock); the burst limit is `burstLimit`. */
  http?: Omit<HttpTuning, 'limiter'>;
}

interface Envelope<T> {
  success?: boolean;
  data: T;
  additional_data?: {
    next_cursor?: string | null;
    /** API v1 lists: offsets. */
    pagination?: { start?: number; limit?: number; more_items_in_collection?: boolean; next_start?: number };
  } | null;
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
export const describePipedriveError = errorBodyReader({
  messageKeys: ['error'],
  detailKey: 'error_info',
  skipDetail: /check developers\.pipedrive\.com/i,
  errors: 'none',
});

/** Cursor pages: `limit` and `cursor` in, `additional_data.next_cursor` out (null on the last page). */
const PAGING = bodyCursor({
  sizeParam: 'limit',
  cursorParam: 'cursor',
  next: (body) => (body as Envelope<unknown>).additional_data?.next_cursor,
});

/**
 * API v1 lists page by offset: `start` and `limit` in, `additional_data.pagination` out, whose
 * `next_start` is the next page's offset while `more_items_in_collection` is true.
 */
const V1_PAGING = bodyCursor({
  sizeParam: 'limit',
  cursorParam: 'start',
  next: (body) => {
    const p = (body as Envelope<unknown>).additional_data?.pagination;
    return p?.more_items_in_collection && typeof p.next_start === 'number' ? String(p.next_start) : null;
  },
});

/** A POST, PATCH or PUT (API v1 updates) of one record. */
export interface RecordWrite {
  method: 'POST' | 'PATCH' | 'PUT';
  path: string;
  body: unknown;
  signal?: AbortSignal;
  /** For an update: a 404 then names the record and the tool listing valid ids. */
  record?: { what: Kind; id: string };
  /** Daily-budget tokens of the write (API v2 writes cost 5, v1 note writes 10). */
  tokens?: number;
  /**
   * Runs when `execute` is called, before the write is sent: the checks that need requests (ids
   * the write refers to), so a dry run sends nothing at all.
   */
  before?: () => Promise<void>;
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

  private spend(tokens: number): void {
    this.tokensSpent += tokens;
    this.logger?.debug({ provider: 'Pipedrive', tokens, tokensSpent: this.tokensSpent }, 'daily-budget tokens');
  }

  async read<T>(p: string, query: Record<string, unknown> | undefined, tokens: number, signal?: AbortSignal): Promise<Envelope<T>> {
    this.spend(tokens);
    // Undefined parameters are left out of the query string (qs skips them).
    const res = await this.http.request<Envelope<T>>({ method: 'GET', path: p, query, signal });
    return envelope(res.body);
  }

  /** One page of a v2 listing: `size` records from `cursor` (the first page without one). */
  async page<T>(
    p: string,
    query: Record<string, unknown>,
    page: { size: number; cursor?: string },
    tokens: number,
    signal?: AbortSignal,
  ): Promise<NativePage<T>> {
    this.spend(tokens);
    return fetchPage<T>(this.http, PAGING, { path: p, query }, { ...page, signal, items: listItems<T> });
  }

  /**
   * One page of a v2 search (/deals/search, /organizations/search, /persons/search): its hits'
   * `item`s, best first, with the cursor of the next page.
   */
  async search(p: string, query: Record<string, unknown>, page: { size: number; cursor?: string }, signal?: AbortSignal): Promise<NativePage<PdSearchItem>> {
    this.spend(TOKEN_COST.v2Search);
    return fetchPage<PdSearchItem>(this.http, PAGING, { path: p, query }, { ...page, signal, items: searchItems });
  }

  /** One page of an API v1 listing: `size` records from offset `start` (0 first); its cursor is the next offset. */
  async pageV1<T>(
    p: string,
    query: Record<string, unknown>,
    page: { size: number; start?: number },
    tokens: number,
    signal?: AbortSignal,
  ): Promise<NativePage<T>> {
    this.spend(tokens);
    const cursor = page.start ? String(page.start) : undefined;
    return fetchPage<T>(this.http, V1_PAGING, { path: p, query }, { size: page.size, cursor, signal, items: listItems<T> });
  }

  /**
   * Every page at the largest page size, following next_cursor; stops on a repeated cursor or the
   * page cap and says so in `stopped` (each caller decides whether a partial scan may be used).
   * `opts.onProgress` hears of every page.
   */
  async walk<T>(p: string, query: Record<string, unknown>, tokens: number, opts: WalkOptions = {}): Promise<Walk<T>> {
    const walk = await walkPages((cursor) => this.page<T>(p, query, { size: MAX_PAGE, cursor }, tokens, opts.signal), MAX_SCAN_PAGES, opts);
    if (walk.stopped) this.logger?.warn({ provider: 'Pipedrive', path: p, records: walk.items.length, stopped: walk.stopped }, 'full scan incomplete');
    return walk;
  }

  /**
   * A write ready to send: `request` is what a dry run shows; `execute` sends exactly that, once
   * (no idempotency key: Pipedrive has none, and one would let HttpClient resend the write), and
   * turns Pipedrive's answer into the record with `then`.
   */
  prepareWrite<T, R>(w: RecordWrite, then: (answer: T) => R | Promise<R>): PreparedWrite<R> {
    const send = this.sender<T>(w.method, w.path, w.body, w.tokens ?? TOKEN_COST.v2Write);
    return {
      request: send.request,
      execute: async () => {
        // What fails before the write is sent left nothing behind: an idempotency key may be reused.
        await w.before?.().catch((e: unknown) => {
          throw nothingWritten(e);
        });
        return then(await (w.record ? orNotFound(w.record.what, w.record.id, send.send(w.signal)) : send.send(w.signal)));
      },
    };
  }

  /**
   * A DELETE answered with the record's id and name. Pipedrive's answer is only {id}, so the record
   * is read first: a 404, or a record already deleted, stops there with nothing sent.
   */
  prepareDelete(
    what: Kind,
    /** The id as the caller gave it (for messages), and as Pipedrive knows it. */
    id: string,
    nid: number,
    p: string,
    opts: { signal?: AbortSignal; deleted: () => void },
  ): PreparedWrite<Ref> {
    const send = this.sender('DELETE', p, undefined, TOKEN_COST.v2Delete);
    return {
      request: send.request,
      execute: async () => {
        const current = await orNotFound(what, id, this.read<{ name: string; is_deleted?: boolean }>(p, undefined, TOKEN_COST.v2Get, opts.signal));
        if (current.data.is_deleted) throw deletedError(what, id);
        await orNotFound(what, id, send.send(opts.signal));
        opts.deleted();
        return { id: String(nid), name: current.data.name };
      },
    };
  }

  /** The request a dry run shows, and a send of exactly that which spends its tokens and unwraps the envelope. */
  private sender<T>(method: 'POST' | 'PATCH' | 'PUT' | 'DELETE', p: string, body: unknown, tokens: number) {
    const prepared = prepareRequest(this.http, { method, path: p, body });
    return {
      request: prepared.request,
      send: async (signal?: AbortSignal): Promise<T> => {
        this.spend(tokens);
        const res = await prepared.send(signal);
        return envelope(res.body as Envelope<T> | undefined).data;
      },
    };
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

function searchItems(body: unknown): PdSearchItem[] {
  const { data } = envelope(body as Envelope<{ items?: Array<{ item?: PdSearchItem }> }> | undefined);
  return (data?.items ?? []).map((hit) => hit.item).filter((item): item is PdSearchItem => typeof item?.id === 'number');
}

function listItems<T>(body: unknown): T[] {
  const { data } = envelope(body as Envelope<T[]> | undefined);
  return Array.isArray(data) ? data : [];
}

// ---------------------------------------------------------------------------------------------
// Answers that name the record

export const HINT = {
  pipeline: 'Call list_pipelines to see valid pipeline ids.',
  stage: 'Call list_stages (optionally with pipeline_id) to see valid stage ids.',
  deal: 'Call list_deals to see valid deal ids.',
};

/** Records a request names by id: those with a HINT, and those found by name through search (errors.ts). */
export type Kind = keyof typeof HINT | Exclude<ReferencedRecord, 'deal' | 'project'>;

const hinted = (what: Kind): what is keyof typeof HINT => what in HINT;

/** Rewrites Pipedrive's 404 into a not_found that names the record and the tool to call. */
export const orNotFound = <T>(what: Kind, id: string, p: Promise<T>): Promise<T> =>
  whenNotFound(p, () => (hinted(what) ? notFound(what, id, HINT[what]) : unknownReference(what, id)));

/** Pipedrive keeps soft-deleted records readable by id; to an agent they are gone. */
export const deletedError = (what: Kind, id: string) =>
  hinted(what) ? new CrmError('not_found', `The ${what} with id '${excerpt(id)}' was deleted in Pipedrive. ${HINT[what]}`) : unknownReference(what, id);
