/**
 * Requests to Truto's unified CRM API (provider-apis.md §1): `Authorization: Bearer`, the
 * integrated account on every call, query options in qs bracket syntax, list envelopes with
 * `next_cursor`, and an Idempotency-Key on every POST and PATCH so HttpClient may retry it safely.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log.js';
import { CrmError, excerpt } from '../../crm/errors.js';
import { HttpClient, path, type HttpClientOptions } from '../../crm/http.js';
import type { CallOptions, UpstreamRequest, WriteOptions } from '../../crm/provider.js';
import { describeTrutoError } from './map.js';

export const TRUTO_DEFAULT_BASE_URL = 'https://api.truto.one';

export type TrutoResource = 'stages' | 'pipelines' | 'projects' | 'opportunities';

/** Knobs tests (and unusual deployments) may tune; production uses HttpClient's defaults. */
export type TrutoHttpTuning = Pick<
  HttpClientOptions,
  'retryBaseMs' | 'maxRetryWaitMs' | 'maxAttempts' | 'timeouts' | 'clock' | 'limiter' | 'deadlineMs' | 'maxResponseBytes'
>;

export interface TrutoClientOptions {
  apiToken: string;
  integratedAccountId: string;
  baseUrl: string;
  /** "Truto (Insightly)" or "Truto": the name in every message. */
  label: string;
  /** "Insightly": who said it, for remote errors. */
  integrationLabel?: string;
  logger?: Logger;
  http?: TrutoHttpTuning;
}

/** Truto's list envelope (provider-apis §1.4). `result` is an object only with truto_key_by. */
export interface TrutoListEnvelope<T> {
  result?: T[] | Record<string, T> | null;
  next_cursor?: string | null;
  prev_cursor?: string | null;
  result_count?: number;
  is_partial_response?: boolean;
}

export interface TrutoPage<T> {
  items: T[];
  next_cursor: string | null;
  /** Truto says list items lack fields that only `get` returns. */
  partial: boolean;
}

/** A write ready to send: what a dry run shows, and how to send exactly that. */
export interface TrutoPreparedRequest {
  request: UpstreamRequest;
  send<T>(): Promise<T>;
}

export interface ReadOptions extends CallOptions {
  /** Extra truto_exclude_fields[] for this call. */
  exclude?: readonly string[];
}

// Truto allows 50 requests / 10 s per integrated account (provider-apis §1.4); stay under it.
const TRUTO_ACCOUNT_LIMIT = { capacity: 50, windowMs: 10_000 };

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

  async list<T>(resource: TrutoResource, params: Record<string, unknown>, opts: ReadOptions): Promise<TrutoPage<T>> {
    const res = await this.http.request<TrutoListEnvelope<T>>({
      method: 'GET',
      path: collectionPath(resource),
      query: this.query(opts, params),
      signal: opts.signal,
    });
    const env = res.body;
    if (typeof env !== 'object' || env === null) {
      throw new CrmError('upstream', `${this.label} answered a list of ${resource} without a body; try again.`, {
        provider: this.label,
      });
    }
    const result = env.result;
    const items = Array.isArray(result) ? result : result && typeof result === 'object' ? Object.values(result) : [];
    const next = typeof env.next_cursor === 'string' && env.next_cursor !== '' ? env.next_cursor : null;
    return { items, next_cursor: next, partial: env.is_partial_response === true };
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
  ): TrutoPreparedRequest {
    const p = id === undefined ? collectionPath(resource) : recordPath(resource, id);
    const query = this.query(opts);
    const request: TrutoPreparedRequest['request'] = { method, path: this.http.shownPath({ path: p, query }) };
    if (body !== undefined) request.body = body;
    const keyable = method !== 'DELETE';
    const callerKey = (keyable && opts.idempotency_key?.trim()) || undefined;
    if (callerKey) request.headers = { 'Idempotency-Key': callerKey };
    const key = callerKey ?? (keyable ? randomUUID() : undefined);
    return {
      request,
      send: async <T>() => {
        const res = await this.http.request<T>({
          method,
          path: p,
          query,
          body,
          signal: opts.signal,
          idempotencyKey: key,
          idempotencyKeyGenerated: key !== undefined && !callerKey,
        });
        return res.body;
      },
    };
  }
}

export function collectionPath(resource: TrutoResource): string {
  return `/unified/crm/${resource}`;
}

export function recordPath(resource: TrutoResource, id: string): string {
  return path`/unified/crm/${resource}/${id}`;
}
