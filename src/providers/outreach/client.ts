/**
 * Requests to Outreach (provider-apis.md §3 and §7, Outreach's OpenAPI spec): JSON:API throughout
 * (`application/vnd.api+json` on every request, resource objects in `data`, `included` beside
 * them), `page[size]` with `links.next` paging, `filter[...]` and `sort`, JSON:API `errors` whose
 * `source.pointer` names the argument an agent passed, 10,000 requests per hour per user, and a
 * bearer token that may be renewed while the server runs (oauth.ts).
 *
 * Every collection is read and written the same way (`Collection`): each Outreach resource crm-mcp
 * serves (stages, opportunities, accounts, prospects, users, tasks, calls, account and prospect
 * notes) is a constant here plus its mapping in map.ts.
 */
import type { Logger } from '../../log.js';
import { errorBodyReader } from '../../crm/error-body.js';
import { CrmError, isCrmError, notFound, unknownReference, whenNotFound, type ReferencedRecord } from '../../crm/errors.js';
import { HttpClient, path, type HttpTuning } from '../../crm/http.js';
import type { Ref } from '../../crm/model.js';
import { walkPages, type Walk, type WalkOptions } from '../../crm/paginate.js';
import { bodyLink, fetchPage, type NativePage } from '../../crm/paging.js';
import type { CallOptions, PreparedWrite } from '../../crm/provider.js';
import { together } from '../../crm/parallel.js';
import { afterWrite, prepareRequest } from '../../crm/writes.js';
import { document, pointerField, type Resource, type ResourceBody } from './map.js';
import { TokenRenewal, type OAuthSettings } from './oauth.js';

export const DEFAULT_BASE_URL = 'https://api.outreach.io/api/v2';

/** JSON:API's media type: Outreach answers 415 to a request without it, reads included. */
export const JSON_API = 'application/vnd.api+json';
const JSON_API_HEADERS = { 'content-type': JSON_API, accept: JSON_API };

/**
 * Largest page asked for. The spec declares no page parameters; Outreach's docs give 1,000 as the
 * largest (offset) page and 50 as the default. A server may cap it lower: pages are always
 * followed through `links.next`, whatever size they come in.
 */
export const MAX_PAGE = 1000;
/** A full scan stops here (100,000 records) rather than looping forever on a bad link. */
const MAX_SCAN_PAGES = 100;
/** Outreach's limit: 10,000 requests per hour per user (every answer says so in X-RateLimit-*). */
export const RATE_LIMIT = { capacity: 10_000, windowMs: 3_600_000 };

/** A tool's `limit` as a page size Outreach accepts. */
export const pageSize = (n: number | undefined): number => Math.min(MAX_PAGE, Math.max(1, Math.floor(n ?? 50)));

/** One kind of Outreach record: where it lives, its JSON:API type, and how messages name it. */
export interface Collection {
  path: string;
  type: string;
  /** "stage", "deal": the record in messages. */
  noun: string;
  /** Says which tool lists valid ids, after a not-found. */
  hint: string;
  /** A record other writes refer to by id: a not-found is then errors.ts's unknownReference sentence. */
  referenced?: ReferencedRecord;
}

export const STAGES: Collection = { path: '/stages', type: 'stage', noun: 'stage', hint: 'Call list_stages to see valid stage ids.' };
export const OPPORTUNITY_STAGES: Collection = {
  path: '/opportunityStages',
  type: 'opportunityStage',
  noun: 'stage',
  hint: 'Call list_stages with pipeline_id opportunities to see valid stage ids.',
};
export const OPPORTUNITIES: Collection = { path: '/opportunities', type: 'opportunity', noun: 'deal', hint: 'Call list_deals to see valid deal ids.', referenced: 'deal' };
export const ACCOUNTS: Collection = { path: '/accounts', type: 'account', noun: 'account', hint: '', referenced: 'account' };
export const PROSPECTS: Collection = { path: '/prospects', type: 'prospect', noun: 'contact', hint: '', referenced: 'contact' };
export const USERS: Collection = { path: '/users', type: 'user', noun: 'user', hint: '', referenced: 'user' };
/** Collections of the records a write links to and checks first, by JSON:API type. */
const LINKED: Record<string, Collection> = { user: USERS, account: ACCOUNTS, prospect: PROSPECTS, opportunity: OPPORTUNITIES };
const ACTIVITY_HINT = 'Call list_activities to see valid activity ids.';
export const TASKS: Collection = { path: '/tasks', type: 'task', noun: 'activity', hint: ACTIVITY_HINT };
export const CALLS: Collection = { path: '/calls', type: 'call', noun: 'activity', hint: ACTIVITY_HINT };
export const ACCOUNT_NOTES: Collection = { path: '/accountNotes', type: 'accountNote', noun: 'activity', hint: ACTIVITY_HINT };
export const PROSPECT_NOTES: Collection = { path: '/prospectNotes', type: 'prospectNote', noun: 'activity', hint: ACTIVITY_HINT };

/** JSON:API errors: every entry's detail, its pointer as the argument name (`/data/attributes/order` -> `position:`). */
export const describeOutreachError = errorBodyReader({ errors: 'before', maxErrors: 3, fieldName: pointerField });

/** Cursor pages: `page[size]` in, the next page's URL in `links.next` (absent on the last page). */
const PAGING = bodyLink({ sizeParam: 'page[size]', next: (body) => (body as { links?: { next?: unknown } } | undefined)?.links?.next });

export interface OutreachClientOptions {
  /** A bearer token (OUTREACH_ACCESS_TOKEN); optional when `oauth` can get one. */
  accessToken?: string;
  /** Client id, secret and refresh token: crm-mcp then renews the access token itself. */
  oauth?: OAuthSettings;
  baseUrl?: string;
  logger?: Logger;
  /** Test and tuning hooks for the HttpClient; `limiter` replaces the 10,000-per-hour pacing. */
  http?: HttpTuning;
}

/** A page of records with the resources the answer included (JSON:API `include`). */
export interface JsonApiPage<T> extends NativePage<T> {
  included: Resource[];
}

interface Document {
  data?: unknown;
  included?: unknown;
}

export class OutreachClient {
  readonly http: HttpClient;

  constructor(opts: OutreachClientOptions) {
    const token = opts.accessToken?.trim() || undefined;
    if (!token && !opts.oauth) {
      throw new CrmError(
        'auth',
        'Outreach needs an access token: set OUTREACH_ACCESS_TOKEN, or OUTREACH_CLIENT_ID, OUTREACH_CLIENT_SECRET and OUTREACH_REFRESH_TOKEN to let crm-mcp get and renew one.',
      );
    }
    const baseUrl = (opts.baseUrl ?? DEFAULT_BASE_URL).trim().replace(/\/+$/, '');
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    const renewal = opts.oauth
      ? new TokenRenewal({
          settings: opts.oauth,
          apiBase: baseUrl,
          haveAccessToken: token !== undefined,
          install: (access, secrets) => this.http.setAuth(bearer(access), secrets),
          logger: opts.logger,
          tuning: opts.http,
        })
      : undefined;
    this.http = new HttpClient({
      provider: 'Outreach',
      baseUrl,
      headers: token ? bearer(token) : {},
      secrets: [token, opts.oauth?.clientSecret, opts.oauth?.refreshToken].filter((s): s is string => !!s),
      limiter: RATE_LIMIT,
      logger: opts.logger,
      describeError: describeOutreachError,
      renewal,
      ...opts.http,
    });
  }

  /** One page of a collection: `size` records from `cursor` (a `links.next` kept as path+query). */
  async page<T extends Resource>(
    c: Collection,
    query: Record<string, unknown>,
    page: { size: number; cursor?: string },
    signal?: AbortSignal,
  ): Promise<JsonApiPage<T>> {
    const included: Resource[] = [];
    const items = (body: unknown): T[] => {
      const doc = jsonApi(body);
      if (!Array.isArray(doc.data)) throw malformed();
      if (Array.isArray(doc.included)) included.push(...(doc.included as Resource[]));
      return doc.data as T[];
    };
    // count=false: Outreach's docs recommend it (counting is slow); newer apps get no count anyway.
    const first = { path: c.path, query: { ...query, count: 'false' }, headers: JSON_API_HEADERS };
    const res = await fetchPage<T>(this.http, PAGING, first, { ...page, signal, items });
    return { ...res, included };
  }

  /**
   * Every record of a collection at the largest page size; a repeated link stops it (`stopped`).
   * Cancellation is checked between pages, and each page reports progress when asked.
   */
  walk<T extends Resource>(c: Collection, query: Record<string, unknown>, signal?: AbortSignal, progress: Omit<WalkOptions, 'signal'> = {}): Promise<Walk<T>> {
    return walkPages((cursor) => this.page<T>(c, query, { size: MAX_PAGE, cursor }, signal), MAX_SCAN_PAGES, { ...progress, signal });
  }

  /**
   * One page like `page`, resumed from Outreach's own cursor token (`page[after]` of the previous
   * page's `links.next`) instead of the whole link: a few characters instead of a few hundred,
   * for listings whose cursor holds several of them (merged activities). A next link without that
   * token is kept whole (`link:` + path and query).
   */
  async pageAfter<T extends Resource>(
    c: Collection,
    query: Record<string, unknown>,
    page: { size: number; after?: string },
    signal?: AbortSignal,
  ): Promise<JsonApiPage<T>> {
    const link = page.after?.startsWith('link:') ? page.after.slice('link:'.length) : undefined;
    const res = link
      ? await this.page<T>(c, query, { size: page.size, cursor: link }, signal)
      : await this.page<T>(c, page.after === undefined ? query : { ...query, page: { after: page.after } }, { size: page.size }, signal);
    if (res.next_cursor === null) return res;
    const q = res.next_cursor.indexOf('?');
    const after = q < 0 ? null : new URLSearchParams(res.next_cursor.slice(q + 1)).get('page[after]');
    return { ...res, next_cursor: after ? after : `link:${res.next_cursor}` };
  }

  /** One record, with what `query` asks to include; a 404 names the record and the tool listing valid ids. */
  async read<T extends Resource>(
    c: Collection,
    id: number,
    shownId: string,
    query?: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<{ data: T; included: Resource[] }> {
    const res = await this.orNotFound(
      c,
      shownId,
      this.http.request({ method: 'GET', path: `${c.path}${path`/${id}`}`, query, headers: JSON_API_HEADERS, signal }),
    );
    return record<T>(res.body);
  }

  /**
   * A create (POST) or update (PATCH, `type` and integer `id` in the body) ready to send: `request`
   * is what a dry run shows, `execute` first refuses a user, account, prospect or opportunity the
   * body links to that Outreach does not have (`requireLinked`), then sends exactly `request`,
   * once (Outreach has no idempotency key), and turns Outreach's answer into the record with `then`.
   */
  prepareWrite<T extends Resource, R>(
    c: Collection,
    w: { id?: { native: number; shown: string }; body: ResourceBody; signal?: AbortSignal },
    then: (answer: T) => R | Promise<R>,
  ): PreparedWrite<R> {
    const prepared = prepareRequest(this.http, {
      method: w.id ? 'PATCH' : 'POST',
      path: w.id ? `${c.path}${path`/${w.id.native}`}` : c.path,
      body: document(c.type, w.body, w.id?.native),
      headers: JSON_API_HEADERS,
    });
    return {
      request: prepared.request,
      execute: async () => {
        await this.requireLinked(w.body, w.signal);
        const sent = prepared.send(w.signal);
        const res = await (w.id ? this.orNotFound(c, w.id.shown, sent) : sent);
        return then(record<T>(res.body).data);
      },
    };
  }

  /**
   * A DELETE answered with the record's id and name. Outreach answers 204 without a body, so the
   * record is read first: a 404 stops there, with nothing deleted.
   */
  prepareDelete(c: Collection, id: number, shown: string, signal: AbortSignal | undefined, deleted: () => void): PreparedWrite<Ref> {
    const p = `${c.path}${path`/${id}`}`;
    const prepared = prepareRequest(this.http, { method: 'DELETE', path: p, headers: JSON_API_HEADERS });
    return {
      request: prepared.request,
      execute: async () => {
        const current = await this.read<Resource<{ name?: string | null }>>(c, id, shown, undefined, signal);
        await this.orNotFound(c, shown, prepared.send(signal));
        deleted();
        return { id: shown, name: current.data.attributes?.name ?? '' };
      },
    };
  }

  /**
   * Refuses a write that links to a user, account, prospect or opportunity Outreach does not have,
   * before it is sent: one small read per linked record, together, and errors.ts's unknownReference
   * sentence for a missing one (the same on every CRM, never a directory listed inline).
   */
  async requireLinked(body: ResourceBody, signal?: AbortSignal): Promise<void> {
    const linked = Object.values(body.relationships ?? {}).flatMap((r) => (r?.data && LINKED[r.data.type] ? [r.data] : []));
    await together(
      signal,
      linked.map((l) => (s: AbortSignal) => this.read(LINKED[l.type], l.id, String(l.id), { fields: { [l.type]: 'name' } }, s)),
    );
  }

  /**
   * An action on one record (POST /tasks/{id}/actions/markComplete), ready to send; its
   * parameters go in the query as `actionParams[...]`, as Outreach's docs give them.
   */
  prepareAction<T extends Resource>(c: Collection, id: number, shown: string, action: string, signal?: AbortSignal) {
    const prepared = prepareRequest(this.http, { method: 'POST', path: `${c.path}${path`/${id}/actions/${action}`}`, headers: JSON_API_HEADERS });
    return {
      request: prepared.request,
      send: async (): Promise<T> => record<T>((await this.orNotFound(c, shown, prepared.send(signal))).body).data,
    };
  }

  private orNotFound<T>(c: Collection, shownId: string, p: Promise<T>): Promise<T> {
    return whenNotFound(p, () => (c.referenced ? unknownReference(c.referenced, shownId) : notFound(c.noun, shownId, c.hint)));
  }
}

/**
 * What a write resolves to: the record as read back (with the names its answer includes) after
 * Outreach accepted it. A failed read must not look like a failed write, which would invite a resend.
 */
export function readBack<T>(noun: string, readTool: string, get: (id: string, opts: CallOptions) => Promise<T>, shown: (id: number) => string = String) {
  return (opts: CallOptions) =>
    (answer: Resource): Promise<T> =>
      afterWrite(get(shown(answer.id), { signal: opts.signal, include_remote_data: opts.include_remote_data }), (e) => {
        const why = isCrmError(e) ? ` (${e.message})` : '';
        throw new CrmError(
          'upstream',
          `Outreach saved the ${noun} (id ${shown(answer.id)}) but reading it back failed${why}; it exists, so do not send it again: read it with ${readTool}.`,
          { provider: 'Outreach' },
        );
      });
}

function malformed(): CrmError {
  return new CrmError('upstream', 'Outreach answered without the JSON:API {data} document it documents. Try again shortly.', { provider: 'Outreach' });
}

function jsonApi(body: unknown): Document {
  if (!body || typeof body !== 'object' || Array.isArray(body) || !('data' in body)) throw malformed();
  return body as Document;
}

function record<T extends Resource>(body: unknown): { data: T; included: Resource[] } {
  const doc = jsonApi(body);
  const data = doc.data as T | null;
  if (!data || typeof data !== 'object' || Array.isArray(data) || !Number.isSafeInteger(data.id)) throw malformed();
  return { data, included: Array.isArray(doc.included) ? (doc.included as Resource[]) : [] };
}
