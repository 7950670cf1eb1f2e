/**
 * Requests to Insightly's REST API v3.1: the pod's base URL, HTTP Basic auth with the API key as
 * the user name and an empty password, bare JSON answers (an array for a list), `skip`/`top`
 * offset pages of at most 500 records, one field filter through `/{Collection}/Search`, the
 * per-second limiter and the daily quota, and Insightly's error bodies. Everything goes through
 * the shared HttpClient (pool, retries, limiter, redaction).
 */
import type { Logger } from '../../log.js';
import { errorBodyReader } from '../../crm/error-body.js';
import { CrmError, excerpt, notFound, whenNotFound } from '../../crm/errors.js';
import { HttpClient, type HttpTuning } from '../../crm/http.js';
import { incompleteListing, localPage, type Walk } from '../../crm/paginate.js';
import { fetchPage, offsetPaging, walkAll, type ListRequest } from '../../crm/paging.js';
import type { Page, ProgressReporter } from '../../crm/provider.js';
import { prepareRequest, type WriteRequest, type WriteStep } from '../../crm/writes.js';

/** Largest page Insightly serves (and its default is 100). */
export const MAX_PAGE = 500;
/** A full scan stops here (100,000 records at 500 a page) rather than looping on a bad upstream. */
const MAX_SCAN_PAGES = 200;
/** Insightly allows 10 requests per second per instance (all plans). */
export const REQUESTS_PER_SECOND = 10;

export const pageSize = (n: number | undefined): number => Math.min(MAX_PAGE, Math.max(1, Math.floor(n ?? 100)));

/**
 * `top` records from offset `skip`. Every listing asks for count_total, so X-Total-Count says
 * where the listing ends even if Insightly serves fewer than asked; without it a short page is the last.
 */
const PAGING = offsetPaging({ sizeParam: 'top', offsetParam: 'skip', totalHeader: 'X-Total-Count' });
const counted = (first: ListRequest): ListRequest => ({ ...first, query: { ...first.query, count_total: true } });

export const API_VERSION = 'v3.1';

/**
 * The API root: INSIGHTLY_BASE_URL as given (a root without a path gets /v3.1, what the API URL in
 * Insightly's user settings shows), else the pod's https://api.{pod}.insightly.com/v3.1.
 */
export function insightlyBaseUrl(o: { pod?: string; baseUrl?: string }): string {
  if (o.baseUrl?.trim()) {
    const raw = o.baseUrl.trim().replace(/\/+$/, '');
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new CrmError('validation', 'The Insightly base URL is not a URL (it is not shown: it may hold a token).');
    }
    if (u.pathname === '' || u.pathname === '/') return `${raw}/${API_VERSION}`;
    const version = /\/(v\d+(?:\.\d+)?)$/i.exec(u.pathname)?.[1];
    if (version && version.toLowerCase() !== API_VERSION) {
      throw new CrmError('validation', `crm-mcp speaks Insightly's API ${API_VERSION}, but the Insightly base URL ends in /${excerpt(version, 10)}; end it in /${API_VERSION}.`);
    }
    return raw;
  }
  const pod = o.pod?.trim().toLowerCase();
  if (!pod) {
    throw new CrmError(
      'auth',
      "Insightly needs its pod: set INSIGHTLY_POD to the pod of the API URL in Insightly's User Settings > API (https://api.na1.insightly.com/v3.1/ is pod na1), or INSIGHTLY_BASE_URL to that URL.",
    );
  }
  if (!/^[a-z0-9-]{1,20}$/.test(pod)) {
    throw new CrmError('validation', `INSIGHTLY_POD must be a pod name such as na1 or eu1, not '${excerpt(pod, 20)}'.`);
  }
  return `https://api.${pod}.insightly.com/${API_VERSION}`;
}

// ---------------------------------------------------------------------------------------------
// Error bodies

/** Insightly's field names as the argument names an agent passed. */
const ARGUMENT_OF: Record<string, string> = {
  PROJECT_NAME: 'name',
  OPPORTUNITY_NAME: 'name',
  STATUS: 'status',
  OPPORTUNITY_STATE: 'status',
  PROJECT_DETAILS: 'description',
  COMPLETED_DATE: 'close_date',
  FORECAST_CLOSE_DATE: 'close_date',
  RESPONSIBLE_USER_ID: 'owner',
  BID_AMOUNT: 'amount',
  BID_CURRENCY: 'currency',
  ORGANISATION_ID: 'account_id',
  STAGE_ID: 'stage_id',
  PIPELINE_ID: 'pipeline_id',
  TAGS: 'tags',
  CUSTOMFIELDS: 'custom_fields',
  ORGANISATION_NAME: 'name',
  WEBSITE: 'domain',
  FIRST_NAME: 'first_name',
  LAST_NAME: 'last_name',
  EMAIL_ADDRESS: 'emails',
  OWNER_USER_ID: 'owner_id',
  BODY: 'body',
  DETAILS: 'body',
  DUE_DATE: 'due_date',
  COMPLETED: 'done',
};

const readMessage = errorBodyReader({ messageKeys: ['Message', 'message', 'error'], errors: 'none' });

/**
 * Insightly's error answers: ASP.NET Web API's `{"Message": ...}`, with `ModelState` (field ->
 * messages) on a rejected body, or a bare string. The first field error is quoted with the
 * argument name an agent passed.
 */
export function describeInsightlyError(status: number, body: unknown): string | undefined {
  const message = readMessage(status, body);
  const state = body && typeof body === 'object' ? (body as { ModelState?: unknown }).ModelState : undefined;
  if (!state || typeof state !== 'object') return message;
  const first = Object.entries(state as Record<string, unknown>).find(([, v]) => Array.isArray(v) && typeof v[0] === 'string');
  if (!first) return message;
  const native = first[0].split('.').pop() ?? first[0];
  const detail = `\`${ARGUMENT_OF[native] ?? native}\`: ${(first[1] as string[])[0]}`;
  return message ? `${message} ${detail}` : detail;
}

/**
 * A 429 with X-RateLimit-Remaining: 0 is the plan's daily quota (1,000 to 100,000 requests a day
 * per instance), not the per-second limit: nothing will succeed until the next day.
 */
export function dailyQuotaSpent(headers: Record<string, string>): string | undefined {
  if (headers['x-ratelimit-remaining']?.trim() !== '0') return undefined;
  const limit = Number(headers['x-ratelimit-limit']);
  const of = Number.isFinite(limit) && limit > 0 ? ` (${limit.toLocaleString('en-US')} requests a day)` : '';
  return `Insightly's daily API limit for this account${of} is used up; it resets the next day, so retrying now will not help.`;
}

// ---------------------------------------------------------------------------------------------
// Collections

/** A record collection of Insightly that crm-mcp reads and writes. */
export interface Collection {
  /** '/Projects' */
  path: '/Projects' | '/Opportunities';
  idKey: 'PROJECT_ID' | 'OPPORTUNITY_ID';
  /** The unified noun: 'project', 'deal'. */
  noun: 'project' | 'deal';
  listTool: 'list_projects' | 'list_deals';
  /** The pipeline flag that says a pipeline holds these records. */
  pipelineFlag: 'FOR_PROJECTS' | 'FOR_OPPORTUNITIES';
  /** Insightly's own word for them, in messages. */
  native: 'projects' | 'opportunities';
}

export const PROJECTS: Collection = {
  path: '/Projects',
  idKey: 'PROJECT_ID',
  noun: 'project',
  listTool: 'list_projects',
  pipelineFlag: 'FOR_PROJECTS',
  native: 'projects',
};
export const OPPORTUNITIES: Collection = {
  path: '/Opportunities',
  idKey: 'OPPORTUNITY_ID',
  noun: 'deal',
  listTool: 'list_deals',
  pipelineFlag: 'FOR_OPPORTUNITIES',
  native: 'opportunities',
};

export const HINT = {
  pipeline: 'Call list_pipelines to see valid pipeline ids.',
  stage: 'Call list_stages (optionally with pipeline_id) to see valid stage ids.',
  deal: 'Call list_deals to see valid deal ids.',
  project: 'Call list_projects to see valid project ids.',
  account: 'Call list_accounts or search to see valid account ids.',
  contact: 'Call list_contacts or search to see valid contact ids.',
  user: 'Call list_users to see valid user ids.',
  activity: 'Call list_activities to see valid activity ids.',
};
export type Kind = keyof typeof HINT;

/** Rewrites Insightly's 404 into a not_found that names the record and the tool to call. */
export const orNotFound = <T>(what: Kind, id: string, p: Promise<T>): Promise<T> => whenNotFound(p, () => notFound(what, id, HINT[what]));

/** One listing: a collection, maybe one field Insightly filters on, and what only crm-mcp can filter. */
export interface Listing<T> {
  path: string;
  /** The one field a `/Search` request filters on (Insightly takes one field_name/field_value). */
  search?: { field: string; value: string | number };
  /** Other query parameters (brief). */
  query?: Record<string, unknown>;
  /** Filters Insightly cannot apply: with any, the listing is read whole, filtered and cut into pages here. */
  keep?: ReadonlyArray<(item: T) => boolean>;
  /** A record's id, to see a page served twice. */
  key: (item: T) => string;
  /** The records, for messages: "opportunities". */
  what: string;
}

export interface InsightlyClientOptions {
  apiKey: string;
  pod?: string;
  baseUrl?: string;
  logger?: Logger;
  http?: HttpTuning;
}

function arrayBody<T>(body: unknown): T[] {
  if (!Array.isArray(body)) {
    throw new CrmError('upstream', 'Insightly answered a list request with something other than a JSON array. Try again shortly.', { provider: 'Insightly' });
  }
  return body as T[];
}

export class InsightlyClient {
  readonly http: HttpClient;
  private readonly logger?: Logger;

  constructor(opts: InsightlyClientOptions) {
    const key = opts.apiKey?.trim();
    if (!key) {
      throw new CrmError('auth', "Insightly needs an API key: set INSIGHTLY_API_KEY (Insightly: User Settings > API).");
    }
    this.logger = opts.logger;
    this.http = new HttpClient({
      provider: 'Insightly',
      baseUrl: insightlyBaseUrl(opts),
      // The key is the Basic user name, with an empty password.
      headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
      secrets: [key],
      limiter: { capacity: REQUESTS_PER_SECOND, windowMs: 1000 },
      logger: opts.logger,
      describeError: describeInsightlyError,
      quotaExhausted: dailyQuotaSpent,
      ...opts.http,
    });
  }

  async get<T>(p: string, signal?: AbortSignal, query?: Record<string, unknown>): Promise<T> {
    const res = await this.http.request<T>({ method: 'GET', path: p, query, signal });
    if (!res.body || typeof res.body !== 'object') {
      throw new CrmError('upstream', 'Insightly answered without the record. Try again shortly.', { provider: 'Insightly' });
    }
    return res.body;
  }

  /**
   * Every page of a listing at the largest page size; stops on a page served twice or the page
   * cap, and between pages once `signal` aborts. `progress` hears of each page read.
   */
  async walk<T>(first: ListRequest, key: (item: T) => string, signal?: AbortSignal, progress?: { onProgress?: ProgressReporter; what?: string }): Promise<Walk<T>> {
    const walk = await walkAll<T>(this.http, PAGING, counted(first), {
      size: MAX_PAGE,
      signal,
      items: arrayBody<T>,
      key,
      maxPages: MAX_SCAN_PAGES,
      onProgress: progress?.onProgress,
      what: progress?.what,
    });
    if (walk.stopped) this.logger?.warn({ provider: 'Insightly', path: first.path, records: walk.items.length, stopped: walk.stopped }, 'full scan incomplete');
    return walk;
  }

  /**
   * One page of a listing. Insightly pages it (`skip`/`top`) when it can apply every filter;
   * otherwise the listing is read whole, filtered here and cut into pages, and a scan cut short
   * says so in `incomplete`.
   */
  async page<T>(l: Listing<T>, q: { limit: number; cursor?: string }, signal?: AbortSignal, onProgress?: ProgressReporter): Promise<Page<T>> {
    const first: ListRequest = l.search
      ? { path: `${l.path}/Search`, query: { field_name: l.search.field, field_value: l.search.value, ...l.query } }
      : { path: l.path, ...(l.query ? { query: l.query } : {}) };
    const keep = l.keep ?? [];
    if (!keep.length) {
      return fetchPage<T>(this.http, PAGING, counted(first), { size: pageSize(q.limit), cursor: q.cursor, signal, items: arrayBody<T> });
    }
    const walk = await this.walk<T>(first, l.key, signal, { onProgress, what: l.what });
    const page = localPage(walk.items.filter((item) => keep.every((check) => check(item))), q.cursor, pageSize(q.limit));
    return walk.stopped ? { ...page, incomplete: incompleteListing(walk, 'Insightly', l.what) } : page;
  }

  /** A write request of a multi-request write: what the dry run shows, and a send of exactly that. */
  step(w: WriteRequest, purpose: string): WriteStep {
    const prepared = prepareRequest(this.http, w);
    return { request: prepared.request, purpose, send: async (_answers, signal) => (await prepared.send(signal)).body };
  }

  /**
   * A request whose path names an id Insightly has not given yet (a new record's): the dry run
   * shows `shownPath` ("/Projects/{PROJECT_ID}/Pipeline"), the send builds the real path from the
   * answers before it.
   */
  laterStep(
    shownPath: string,
    w: Omit<WriteRequest, 'path'>,
    purpose: string,
    pathOf: (answers: readonly unknown[]) => string,
  ): WriteStep {
    const request = { method: w.method, path: this.http.shownPath({ path: shownPath }), ...(w.body === undefined ? {} : { body: w.body }) };
    return { request, purpose, send: async (answers, signal) => (await prepareRequest(this.http, { ...w, path: pathOf(answers) }).send(signal)).body };
  }
}

/** The id of a record an answer carries, or an error saying the write happened but its answer lacks the id. */
export function answeredId(answer: unknown, c: { idKey: string }): number {
  const id = answer && typeof answer === 'object' ? (answer as Record<string, unknown>)[c.idKey] : undefined;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    throw new CrmError('upstream', `Insightly's answer to the create carried no ${c.idKey}, so the next request could not be sent.`, { provider: 'Insightly' });
  }
  return id;
}

/** The record of `c` with id `id` when the answer is one (Insightly answers pipeline changes with the record). */
export function recordIn<T>(answer: unknown, c: Collection, id: number): T | undefined {
  return answer && typeof answer === 'object' && (answer as Record<string, unknown>)[c.idKey] === id ? (answer as T) : undefined;
}

