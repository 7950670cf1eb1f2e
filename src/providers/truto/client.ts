/**
 * Requests to Truto's unified CRM API (provider-apis.md §1): `Authorization: Bearer`, the
 * integrated account on every call, query options in qs bracket syntax, list envelopes with
 * `next_cursor`, an Idempotency-Key on every POST and PATCH so HttpClient may retry it safely,
 * Truto's limit of 50 requests per 10 s per account, and Truto's error bodies.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log.js';
import { readErrorBody } from '../../crm/error-body.js';
import { CrmError, excerpt } from '../../crm/errors.js';
import { HttpClient, path, type HttpTuning } from '../../crm/http.js';
import { incompleteListing, walkPages, type Walk } from '../../crm/paginate.js';
import { bodyCursor, fetchPage, type NativePage } from '../../crm/paging.js';
import type { CallOptions, WriteOptions } from '../../crm/provider.js';
import { prepareRequest, type PreparedRequest } from '../../crm/writes.js';
import { str } from './map.js';

export const TRUTO_DEFAULT_BASE_URL = 'https://api.truto.one';

export type TrutoResource =
  | 'stages'
  | 'pipelines'
  | 'projects'
  | 'opportunities'
  | 'accounts'
  | 'contacts'
  | 'users'
  | 'notes'
  | 'tasks'
  | 'engagements';

export interface TrutoClientOptions {
  apiToken: string;
  integratedAccountId: string;
  baseUrl: string;
  /** "Truto (Insightly)" or "Truto": the name in every message. */
  label: string;
  /** "Insightly": who said it, for remote errors. */
  integrationLabel?: string;
  logger?: Logger;
  http?: HttpTuning;
}

/** Truto's list envelope (provider-apis §1.4). `result` is an object only with truto_key_by. */
export interface TrutoListEnvelope<T> {
  result?: T[] | Record<string, T> | null;
  next_cursor?: string | null;
  prev_cursor?: string | null;
  result_count?: number;
  is_partial_response?: boolean;
}

export interface ReadOptions extends CallOptions {
  /** Extra truto_exclude_fields[] for this call. */
  exclude?: readonly string[];
}

// Truto allows 50 requests / 10 s per integrated account (provider-apis §1.4); stay under it.
const TRUTO_ACCOUNT_LIMIT = { capacity: 50, windowMs: 10_000 };

/** Cursor pages: `limit` and `next_cursor` in, `next_cursor` out (null or absent on the last page). */
const PAGING = bodyCursor({
  sizeParam: 'limit',
  cursorParam: 'next_cursor',
  next: (body) => (body as TrutoListEnvelope<unknown>).next_cursor,
});

export class TrutoClient {
  readonly http: HttpClient;
  readonly label: string;
  private readonly integratedAccountId: string;

  constructor(options: TrutoClientOptions) {
    this.label = options.label;
    this.integratedAccountId = options.integratedAccountId;
    this.http = new HttpClient({
      provider: options.label,
      baseUrl: options.baseUrl,
      headers: { authorization: `Bearer ${options.apiToken}` },
      secrets: [options.apiToken],
      limiter: TRUTO_ACCOUNT_LIMIT,
      logger: options.logger,
      describeError: (_status, body) => describeTrutoError(body, options.integrationLabel),
      ...options.http,
    });
  }

  /**
   * Query options every call carries. `truto_ignore_remote_data` keeps payloads small unless the
   * caller asked for the raw record; `remote_query` goes to the CRM untouched.
   */
  query(opts: ReadOptions, params: Record<string, unknown> = {}): Record<string, unknown> {
    const q: Record<string, unknown> = { integrated_account_id: this.integratedAccountId, ...params };
    if (!opts.include_remote_data) q.truto_ignore_remote_data = true;
    if (opts.exclude?.length) q.truto_exclude_fields = [...opts.exclude];
    if (opts.remote_query && Object.keys(opts.remote_query).length) q.remote_query = opts.remote_query;
    return q;
  }

  /** One page of a listing: `size` records (Truto's default when undefined) from `cursor`. */
  list<T>(resource: TrutoResource, params: Record<string, unknown>, opts: ReadOptions, page: { size?: number; cursor?: string }): Promise<NativePage<T>> {
    return fetchPage<T>(this.http, PAGING, { path: collectionPath(resource), query: this.query(opts, params) }, {
      ...page,
      signal: opts.signal,
      items: (body) => this.items<T>(body, resource),
    });
  }

  /**
   * Every page of a listing, `size` records a page, at most `maxPages` pages: no further page once
   * the call is cancelled, and progress after each page when the caller asked for it.
   */
  walk<T>(resource: TrutoResource, params: Record<string, unknown>, opts: ReadOptions, size: number, maxPages: number): Promise<Walk<T>> {
    return walkPages((cursor) => this.list<T>(resource, params, opts, { size, cursor }), maxPages, {
      signal: opts.signal,
      onProgress: opts.onProgress,
      what: resource,
    });
  }

  /**
   * The records of a listing that pass `keep`, read page after page from `cursor` until `wanted`
   * of them are found, the listing ends, or `maxPages` pages were read: for filters Truto may not
   * apply (or may apply differently). `next_cursor` resumes after the last page read, so nothing is
   * skipped; a repeated cursor ends the scan and says so.
   */
  async scan<T, R>(
    resource: TrutoResource,
    params: Record<string, unknown>,
    opts: ReadOptions,
    reading: { size: number; cursor?: string; wanted: number; maxPages: number; map: (native: T) => R; keep: (record: R) => boolean },
  ): Promise<{ items: R[]; next_cursor: string | null; incomplete?: string }> {
    let found = 0;
    let next: string | null = null;
    const walk = await walkPages(
      async (cursor) => {
        const page = await this.list<T>(resource, params, opts, { size: reading.size, cursor: cursor ?? reading.cursor });
        const items = page.items.map(reading.map).filter(reading.keep);
        found += items.length;
        next = page.next_cursor;
        // Enough found: end the walk here; the listing itself goes on at `next`.
        return { items, next_cursor: found >= reading.wanted ? null : page.next_cursor };
      },
      reading.maxPages,
      { signal: opts.signal, onProgress: opts.onProgress, what: resource },
    );
    if (walk.stopped === 'repeated_cursor') {
      return { items: walk.items, next_cursor: null, incomplete: incompleteListing(walk, this.label, resource) };
    }
    return { items: walk.items, next_cursor: next };
  }

  private items<T>(env: unknown, resource: TrutoResource): T[] {
    if (typeof env !== 'object' || env === null) {
      throw new CrmError('upstream', `${this.label} answered a list of ${resource} without a body; try again.`, {
        provider: this.label,
      });
    }
    const result = (env as TrutoListEnvelope<T>).result;
    return Array.isArray(result) ? result : result && typeof result === 'object' ? Object.values(result) : [];
  }

  async get<T>(resource: TrutoResource, id: string, opts: ReadOptions): Promise<T> {
    const res = await this.http.request<T>({
      method: 'GET',
      path: recordPath(resource, id),
      query: this.query(opts),
      signal: opts.signal,
    });
    if (typeof res.body !== 'object' || res.body === null) {
      throw new CrmError('upstream', `${this.label} answered a read of ${resource} '${excerpt(id)}' without a record; try again.`, {
        provider: this.label,
      });
    }
    return res.body;
  }

  /**
   * Prepares a POST/PATCH/DELETE. A POST or PATCH carries an Idempotency-Key: the caller's key when
   * it gave one (a repeat returns Truto's first answer), else one random key per prepared write, so
   * HttpClient may retry a 5xx or a dropped connection without applying it twice. Truto documents
   * the key for POST and PATCH only, so a DELETE carries none and is never retried blindly. The
   * dry-run view shows the header only when the caller chose the key; a generated one is an
   * implementation detail that would differ on the real send.
   */
  prepare(
    method: 'POST' | 'PATCH' | 'DELETE',
    resource: TrutoResource,
    id: string | undefined,
    body: Record<string, unknown> | undefined,
    opts: WriteOptions,
  ): PreparedRequest {
    const callerKey = (method !== 'DELETE' && opts.idempotency_key?.trim()) || undefined;
    return prepareRequest(this.http, {
      method,
      path: id === undefined ? collectionPath(resource) : recordPath(resource, id),
      query: this.query(opts),
      body,
      idempotencyKey:
        method === 'DELETE' ? undefined : callerKey ? { key: callerKey, chosenByCaller: true } : { key: randomUUID(), chosenByCaller: false },
    });
  }
}

export function collectionPath(resource: TrutoResource): string {
  return `/unified/crm/${resource}`;
}

export function recordPath(resource: TrutoResource, id: string): string {
  return path`/unified/crm/${resource}/${id}`;
}

// ---------------------------------------------------------------------------------------------
// Error bodies

interface TrutoInsight {
  description?: unknown;
  value?: unknown;
}

const INSIGHT_PHRASES: Record<string, [singular: string, plural: string]> = {
  missing_required_body_fields: ['missing required body field', 'missing required body fields'],
  missing_required_query_parameters: ['missing required query parameter', 'missing required query parameters'],
  conditionally_required_body_fields: ['conditionally required body field', 'conditionally required body fields'],
  conditionally_required_query_parameters: [
    'conditionally required query parameter',
    'conditionally required query parameters',
  ],
};

function valueList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
  if (typeof v === 'string') return [v];
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.missing_scopes)) return valueList(o.missing_scopes);
    return Object.keys(o);
  }
  return [];
}

function insightSentence(key: string, insight: TrutoInsight): string | undefined {
  const phrase = INSIGHT_PHRASES[key];
  const values = valueList(insight?.value);
  if (phrase && values.length) return `${values.length === 1 ? phrase[0] : phrase[1]} ${values.join(', ')}`;
  if (key === 'forbidden_error' && values.length) return `missing scopes ${values.join(', ')}`;
  const d = str(insight?.description);
  return d || undefined;
}

/**
 * Truto error body -> one sentence for HttpClient to embed after "Truto (X) rejected the request
 * (422): ". Remote errors name the CRM that said it ("Insightly says: ..."), in the CRM's own words
 * from `raw_response` (read like any CRM's error body), and Truto's `truto_error_insight` hints
 * (e.g. missing_required_body_fields) become plain words, so an agent knows which field to add.
 */
export function describeTrutoError(body: unknown, integrationLabel?: string): string | undefined {
  if (typeof body !== 'object' || body === null) return typeof body === 'string' && body.trim() ? body.trim() : undefined;
  const b = body as Record<string, unknown>;
  const message = str(b.message);
  const parts: string[] = [];
  const insights = b.truto_error_insight;
  if (typeof insights === 'object' && insights !== null) {
    for (const [key, insight] of Object.entries(insights as Record<string, TrutoInsight>)) {
      const s = insightSentence(key, insight);
      if (s && !parts.includes(s)) parts.push(s);
    }
  }
  const isRemote = b.truto_is_remote_error === true;
  const raw = isRemote ? readErrorBody(b.raw_response) : undefined;
  const said = [...parts];
  if (raw && !said.some((p) => p.includes(raw))) said.push(raw);
  if (!said.length && message) said.push(message);
  else if (message && !isRemote && !said.includes(message)) said.unshift(message);
  if (!said.length) return undefined;
  const who = isRemote ? `${integrationLabel ?? 'the CRM behind Truto'} says: ` : '';
  return `${who}${said.join('; ')}`;
}
