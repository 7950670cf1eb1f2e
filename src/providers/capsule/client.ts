/**
 * Requests to Capsule's API v2 (developer.capsulecrm.com/v2; provider-apis.md §4.1 with §7): a
 * bearer token, records wrapped in their own key (`{kase: {...}}`, `{kases: [...]}`), pages by
 * `page`/`perPage` (at most 100) with the next one in an RFC 8288 `Link` header, searches as
 * `POST /{entity}/filters/results`, 4,000 requests an hour per user, and Capsule's error bodies
 * (`{message}`, validation `{message, errors: [{resource, field, message}]}`, a 429's
 * `{error: "rate limit reached"}`). Everything goes through the shared HttpClient.
 */
import type { Logger } from '../../log.js';
import { errorBodyReader } from '../../crm/error-body.js';
import { CrmError, notFound, unknownReference, whenNotFound, type ReferencedRecord } from '../../crm/errors.js';
import { HttpClient, type HttpTuning } from '../../crm/http.js';
import type { Walk } from '../../crm/paginate.js';
import { fetchPage, headerLink, walkAll, type ListRequest, type NativePage } from '../../crm/paging.js';
import type { PreparedWrite, ProgressReporter } from '../../crm/provider.js';
import { prepareRequest } from '../../crm/writes.js';
import { argumentName, type FilterCondition } from './map.js';

export const DEFAULT_BASE_URL = 'https://api.capsulecrm.com/api/v2';

/** Largest page Capsule serves (`perPage` 1 to 100, default 50). */
export const MAX_PAGE = 100;
/** A full scan stops here (10,000 records) rather than walking a looping listing for ever. */
const MAX_SCAN_PAGES = 100;

/**
 * 4,000 requests per hour per user with a bearer token (Handling API responses: "Working within
 * API rate limits"). A token bucket of the hour's budget, refilled evenly.
 */
export const RATE_LIMIT = { capacity: 4000, windowMs: 3_600_000 };

/** `page` and `perPage` in; the next page's URL in `Link: <...>; rel="next"`, none on the last. */
export const PAGING = headerLink({ sizeParam: 'perPage' });

/** A tool's `limit` as a page size Capsule accepts. */
export const pageSize = (n: number | undefined): number => Math.min(MAX_PAGE, Math.max(1, Math.floor(n ?? 50)));

/** Capsule's error bodies, with the field of a validation error named as the argument an agent passed. */
export const describeCapsuleError = errorBodyReader({
  messageKeys: ['message', 'error'],
  errors: 'before',
  maxErrors: 3,
  fieldPlacement: 'after',
  fieldName: (field, entry) => argumentName(field, entry.resource),
});

export interface CapsuleClientOptions {
  apiToken: string;
  baseUrl?: string;
  logger?: Logger;
  /** Test and tuning hooks passed to the HttpClient (timeouts, retry budget, limiter, clock). */
  http?: HttpTuning;
}

/** How a full walk reads: its page size (a listing's own maximum), and who hears of each page. */
export interface WalkMore {
  /** Records a page (the listing's own maximum); null for a listing that takes no page size (`/users`). */
  size?: number | null;
  onProgress?: ProgressReporter;
  /** What is walked, for progress messages ("tasks"). */
  what?: string;
}

/** A listing: its first request, and the key of its records in the answer (`kases`, `milestones`). */
export interface Listing extends ListRequest {
  key: string;
}

export class CapsuleClient {
  readonly http: HttpClient;
  private readonly logger?: Logger;

  constructor(opts: CapsuleClientOptions) {
    const token = opts.apiToken?.trim();
    if (!token) {
      throw new CrmError('auth', 'Capsule needs an API token: set CAPSULE_API_TOKEN (Capsule: My Preferences > API Authentication Tokens).');
    }
    this.logger = opts.logger;
    this.http = new HttpClient({
      provider: 'Capsule',
      baseUrl: (opts.baseUrl ?? DEFAULT_BASE_URL).trim().replace(/\/+$/, ''),
      headers: { authorization: `Bearer ${token}` },
      secrets: [token],
      limiter: RATE_LIMIT,
      logger: opts.logger,
      describeError: describeCapsuleError,
      ...opts.http,
    });
  }

  /** One record: `GET path` answered `{<key>: {...}}`. */
  async get<T>(path: string, key: string, query?: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    const res = await this.http.request({ method: 'GET', path, query, signal });
    return unwrap<T>(res.body, key);
  }

  /** One page of a listing: `size` records from `cursor` (a Link of a previous page; none for the first). */
  page<T>(listing: Listing, page: { size: number; cursor?: string }, signal?: AbortSignal): Promise<NativePage<T>> {
    return fetchPage<T>(this.http, PAGING, listing, { ...page, signal, items: (body) => listItems<T>(body, listing.key) });
  }

  /**
   * Every page at the largest page size; stops on a repeated link or the page cap and says so in
   * `stopped` (each caller decides whether a partial listing may be used).
   */
  async walk<T>(listing: Listing, signal?: AbortSignal, more: WalkMore = {}): Promise<Walk<T>> {
    const walk = await walkAll<T>(this.http, PAGING, listing, {
      size: more.size === null ? undefined : (more.size ?? MAX_PAGE),
      signal,
      maxPages: MAX_SCAN_PAGES,
      onProgress: more.onProgress,
      what: more.what,
      items: (body) => listItems<T>(body, listing.key),
    });
    if (walk.stopped) this.logger?.warn({ provider: 'Capsule', path: listing.path, records: walk.items.length, stopped: walk.stopped }, 'full scan incomplete');
    return walk;
  }

  /**
   * A write ready to send: `request` is what a dry run shows; `execute` sends exactly that, once
   * (Capsule has no idempotency keys: the tool layer keeps them), and turns the answer into the
   * record with `then`. A 404 names the record (`record`) and the tool listing valid ids.
   */
  prepareWrite<R>(
    w: {
      method: 'POST' | 'PUT' | 'DELETE';
      path: string;
      body?: unknown;
      signal?: AbortSignal;
      record?: { what: Kind | ReferencedRecord; id: string };
      /** Runs first when the write is sent, never on a dry run: the checks of the ids it refers to. */
      before?: () => Promise<void>;
    },
    then: (answer: unknown) => R | Promise<R>,
  ): PreparedWrite<R> {
    const prepared = prepareRequest(this.http, { method: w.method, path: w.path, body: w.body });
    return {
      request: prepared.request,
      execute: async () => {
        await w.before?.();
        const sent = prepared.send(w.signal);
        const res = await (w.record ? orMissing(w.record.what, w.record.id, sent) : sent);
        return then(res.body);
      },
    };
  }
}

/** A search (Capsule's structured filters): the listing's first request, sent as a POST that only reads. */
export function search(entity: 'opportunities' | 'kases' | 'parties', key: string, conditions: FilterCondition[]): Listing {
  return { path: `/${entity}/filters/results`, key, search: { body: { filter: { conditions } } } };
}

/** The record in `{<key>: {...}}`; anything else is not Capsule's answer. */
export function unwrap<T>(body: unknown, key: string): T {
  const inner = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw envelopeError(key);
  return inner as T;
}

function listItems<T>(body: unknown, key: string): T[] {
  const inner = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;
  if (!Array.isArray(inner)) throw envelopeError(`${key}: [...]`);
  return inner as T[];
}

const envelopeError = (key: string) =>
  new CrmError('upstream', `Capsule answered without the expected {${key}} envelope. Try again shortly.`, { provider: 'Capsule' });

// ---------------------------------------------------------------------------------------------
// Answers that name the record

export const HINT = {
  pipeline: 'Call list_pipelines to see valid pipeline ids (project boards are board-<id>).',
  stage: 'Call list_stages (optionally with pipeline_id) to see valid stage ids.',
  deal: 'Call list_deals to see valid deal ids.',
  project: 'Call list_projects to see valid project ids.',
};

export type Kind = keyof typeof HINT;

/** Rewrites Capsule's 404 into a not_found that names the record and the tool to call. */
export const orNotFound = <T>(what: Kind, id: string, p: Promise<T>): Promise<T> => whenNotFound(p, () => notFound(what, id, HINT[what]));

/** Rewrites Capsule's 404 for a record named by id into the sentence every CRM gives (unknownReference). */
export const orUnknown = <T>(what: ReferencedRecord, id: string, p: Promise<T>): Promise<T> => whenNotFound(p, () => unknownReference(what, id));

const orMissing = <T>(what: Kind | ReferencedRecord, id: string, p: Promise<T>): Promise<T> =>
  what in HINT ? orNotFound(what as Kind, id, p) : orUnknown(what as ReferencedRecord, id, p);
