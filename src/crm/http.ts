/**
 * The one upstream HTTP client every remote provider uses: a shared undici pool per origin,
 * timeouts, a client-side token-bucket limiter, a retry policy that never repeats a write blindly,
 * mapping of failures to CrmError kinds, and redaction of every secret from messages and logs.
 */
import { Pool } from 'undici';
import qs from 'qs';
import type { Logger } from '../log.js';
import { CrmError, type CrmErrorKind } from './errors.js';
import { readErrorBody, type ErrorBodyReading } from './error-body.js';

export interface RateLimitRule {
  capacity: number;
  windowMs: number;
} // token bucket: `capacity` tokens refilled evenly over windowMs

/** Time source for the limiter and backoff; injectable so tests can drive it without real waits. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects with signal.reason when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface HttpClientOptions {
  provider: string; // label for messages, e.g. "Pipedrive"
  baseUrl: string; // origin plus optional base path
  headers?: Record<string, string>; // sent on every request (auth); every value is treated as a secret
  secrets?: string[]; // more strings to redact
  limiter?: RateLimitRule;
  timeouts?: { connectMs?: number; headersMs?: number; bodyMs?: number }; // defaults 5s / 15s / 15s
  /** Most bytes read from one answer, default 8 MB: a CRM record of any size cannot balloon memory or an answer. */
  maxResponseBytes?: number;
  maxRetryWaitMs?: number; // bounded total backoff wait per call, default 8000 (below a client's tool timeout)
  /** Wall time one call may take, attempts and waits together, default 25000: a tool answers before a client gives up. */
  deadlineMs?: number;
  maxAttempts?: number; // default 4
  logger?: Logger;
  /** Pulls the provider's own human message out of an error body (e.g. Pipedrive {error, error_info}, Truto {message, truto_error_insight}). */
  describeError?: (status: number, body: unknown) => string | undefined;
  /**
   * Reads a 429's headers for a quota that no wait within a call brings back (a day's requests:
   * Insightly's X-RateLimit-Remaining: 0) and gives the sentence to answer at once, unretried.
   */
  quotaExhausted?: (headers: Record<string, string>) => string | undefined;
  /** Base of the full-jitter exponential backoff, default 300 ms (tests make it small). */
  retryBaseMs?: number;
  /** Time source for the limiter and retry waits, default the real clock. */
  clock?: Clock;
  /** Credentials that change while the server runs (an OAuth token that expires); see AuthRenewal. */
  renewal?: AuthRenewal;
}

/**
 * Renews credentials that expire (OAuth). `beforeRequest` runs before each request (renew ahead of
 * a known expiry); `afterUnauthorized` runs at most once per request, after a 401, and resolves true
 * when new credentials are in place: the request is then sent once more (a 401 means the CRM did
 * nothing, so a write too may be repeated). Both install the credentials with `setAuth`; a failure
 * is a CrmError whose sentence the client redacts before it goes anywhere.
 */
export interface AuthRenewal {
  beforeRequest?(signal?: AbortSignal): Promise<void>;
  afterUnauthorized(signal?: AbortSignal): Promise<boolean>;
}

/** What a provider lets tests (and unusual deployments) tune; production uses the defaults. */
export type HttpTuning = Pick<
  HttpClientOptions,
  'timeouts' | 'maxRetryWaitMs' | 'maxAttempts' | 'retryBaseMs' | 'clock' | 'deadlineMs' | 'maxResponseBytes' | 'limiter'
>;

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string; // already encoded, built with `path` below
  query?: Record<string, unknown>; // qs.stringify with arrayFormat 'brackets', undefined skipped
  /** A query string sent as it is instead of `query`: a next-page link's, from `linkCursor`. */
  search?: string;
  body?: unknown; // JSON
  headers?: Record<string, string>; // e.g. content-type override (application/vnd.api+json)
  signal?: AbortSignal; // MCP request's abort signal: aborts the upstream request and any wait
  cost?: number; // limiter tokens, default 1
  /**
   * Sent as Idempotency-Key on POST and PATCH, and makes them safe to retry. Other methods ignore
   * it: the key's semantics (Truto, the IETF draft) are defined for POST and PATCH only.
   */
  idempotencyKey?: string;
  /** The key was made up for this one call, so the caller cannot repeat it: advice must not say it can. */
  idempotencyKeyGenerated?: boolean;
  /** A POST that only reads (a CRM's search or filter endpoint): retried and reported like a GET. */
  readOnly?: boolean;
  /** A form body (application/x-www-form-urlencoded, e.g. an OAuth token request) instead of JSON `body`. */
  form?: Record<string, string>;
}

type PathAndQuery = Pick<HttpRequest, 'path' | 'query' | 'search'>;

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Record<string, string>;
  body: T;
}

const DEFAULT_CONNECT_MS = 5_000;
const DEFAULT_HEADERS_MS = 15_000;
const DEFAULT_BODY_MS = 15_000;
const DEFAULT_MAX_RETRY_WAIT_MS = 8_000;
const DEFAULT_DEADLINE_MS = 25_000;
/** No retry starts with less time than this left before the deadline. */
const MIN_ATTEMPT_MS = 1_000;
const DEFAULT_MAX_ATTEMPTS = 4;
const DEFAULT_RETRY_BASE_MS = 300;
const MAX_BACKOFF_MS = 4_000;
const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/** An error answer is read only this far: its message is all that is used. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const MESSAGE_EXCERPT_CHARS = 300;
/** What of a provider's text is redacted before the excerpt is cut from it (a bound on the work). */
const REDACTION_WINDOW_CHARS = 4 * MESSAGE_EXCERPT_CHARS;
const REDACTED = '[REDACTED]';
/** Renewed credentials kept for redaction: older ones expired long ago (an OAuth token lives hours). */
const MAX_RENEWED_SECRETS = 64;
/** Any run of this many characters of a secret counts as the secret (a cut token, a half-echo). */
const MIN_SECRET_FRAGMENT = 8;

// ---------------------------------------------------------------------------------------------
// Paths

/** Tagged template that encodeURIComponent-s every interpolated value and rejects '', '.' and '..' ids: path`/api/v2/pipelines/${id}` */
export function path(strings: TemplateStringsArray, ...ids: Array<string | number>): string {
  let out = strings[0];
  ids.forEach((id, i) => {
    if (typeof id === 'number' && !Number.isFinite(id)) {
      throw new CrmError('validation', `Invalid id '${String(id)}': ids must be finite numbers or strings.`);
    }
    const s = String(id);
    if (s === '' || s === '.' || s === '..') {
      throw new CrmError('validation', `Invalid id '${s}': an id cannot be empty, '.' or '..'.`);
    }
    out += encodeURIComponent(s) + strings[i + 1];
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pools: one per origin, shared by every client in the process so keep-alive sockets are reused.

const pools = new Map<string, Pool>();

function poolFor(origin: string, connectMs: number): Pool {
  // connectTimeout is a pool setting, so clients asking for another one get their own pool.
  const key = `${origin}|${connectMs}`;
  let pool = pools.get(key);
  if (!pool) {
    // Answer size is bounded per client while reading (maxResponseBytes), not per pool.
    pool = new Pool(origin, {
      connectTimeout: connectMs,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
    });
    pools.set(key, pool);
  }
  return pool;
}

export async function closeAllPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.allSettled(all.map((p) => p.destroy()));
}

// ---------------------------------------------------------------------------------------------
// Clock and limiter

const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

interface Waiter {
  cost: number;
  resolve: () => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** FIFO token bucket: waiters are served in arrival order so a big request is not starved. */
class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly queue: Waiter[] = [];
  private timerPending = false;
  private readonly ratePerMs: number;

  constructor(
    private readonly rule: RateLimitRule,
    private readonly clock: Clock,
  ) {
    if (!(rule.capacity > 0) || !(rule.windowMs > 0)) {
      throw new CrmError('validation', 'A rate limit needs a positive capacity and window.');
    }
    this.tokens = rule.capacity;
    this.last = clock.now();
    this.ratePerMs = rule.capacity / rule.windowMs;
  }

  private clamp(cost: number): number {
    // A cost above capacity could never be served; treat it as "the whole bucket".
    return Math.min(Math.max(cost, 0), this.rule.capacity);
  }

  /**
   * How long a request of `cost` asked for now would wait: waiters are served in order, so it is
   * served once the tokens of everyone queued before it and its own have refilled.
   */
  waitMs(cost: number): number {
    this.refill();
    const queued = this.queue.reduce((sum, w) => sum + w.cost, 0);
    const deficit = queued + this.clamp(cost) - this.tokens;
    return deficit <= 0 ? 0 : Math.ceil(deficit / this.ratePerMs);
  }

  /** "20 requests per 2 s": the rule in words, for messages. */
  describe(): string {
    return `${this.rule.capacity} requests per ${seconds(this.rule.windowMs)}`;
  }

  take(cost: number, signal?: AbortSignal): Promise<void> {
    const c = this.clamp(cost);
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.refill();
    if (this.queue.length === 0 && this.tokens >= c) {
      this.tokens -= c;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { cost: c, resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(signal.reason);
          this.pump(); // the next waiter may be cheaper
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.pump();
    });
  }

  private refill(): void {
    const now = this.clock.now();
    if (now > this.last) {
      this.tokens = Math.min(this.rule.capacity, this.tokens + (now - this.last) * this.ratePerMs);
      this.last = now;
    }
  }

  private pump(): void {
    this.refill();
    while (this.queue.length > 0 && this.tokens >= this.queue[0].cost) {
      const w = this.queue.shift()!;
      this.tokens -= w.cost;
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.resolve();
    }
    if (this.queue.length === 0 || this.timerPending) return;
    const deficit = this.queue[0].cost - this.tokens;
    const ms = Math.max(1, Math.ceil(deficit / this.ratePerMs));
    this.timerPending = true;
    this.clock.sleep(ms).then(
      () => {
        this.timerPending = false;
        this.pump();
      },
      () => {
        this.timerPending = false;
        this.pump();
      },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Redaction

/** The spellings in which an upstream may echo a secret: as is, URL-encoded, JSON-escaped. */
function spellings(s: string): string[] {
  const enc = encodeURIComponent(s);
  return [s, enc, enc.replace(/%20/g, '+'), JSON.stringify(s).slice(1, -1), s.replace(/\//g, '\\/')];
}

/**
 * Secret strings to redact. `whole` are removed wherever they occur; `material` (the credentials
 * themselves, not their "Bearer " prefix, which ordinary text may contain) is also removed in
 * fragments of MIN_SECRET_FRAGMENT characters or more.
 */
function secretStrings(headerValues: string[], others: string[]): { whole: string[]; material: string[] } {
  const whole = new Set<string>();
  const material = new Set<string>();
  const add = (s: string, asMaterial = true) => {
    // Very short strings would shred ordinary text; auth material is never that short.
    if (s.length < 4) return;
    for (const v of spellings(s)) {
      whole.add(v);
      if (asMaterial) material.add(v);
    }
  };
  for (const v of others) if (v) add(v);
  for (const v of headerValues) {
    if (!v) continue;
    // "Bearer abc" / "Basic xyz": the credential alone is what an upstream would echo back.
    const m = /^(\S+)\s+(.+)$/.exec(v.trim());
    add(v, !m);
    if (!m) continue;
    add(m[2]);
    if (m[1].toLowerCase() === 'basic') {
      const decoded = Buffer.from(m[2], 'base64').toString('utf8');
      add(decoded);
      const colon = decoded.indexOf(':');
      if (colon >= 0) {
        add(decoded.slice(0, colon));
        add(decoded.slice(colon + 1));
      }
    }
  }
  // Longest first so a secret that contains another is removed whole.
  return { whole: [...whole].sort((a, b) => b.length - a.length), material: [...material] };
}

const safeDecode = (s: string): string => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/**
 * A path segment long and mixed enough to be a token (`/t/pdTOK3N-9f8e7d6c`), not a word like
 * `api`, `v2` or `pipedrive-eu-west-1` whose fragments would shred ordinary messages.
 */
const tokenLike = (s: string): boolean => s.length >= 32 || (s.length >= 16 && (s.match(/\d/g)?.length ?? 0) >= 3 && /[a-z]/i.test(s));

/**
 * What a configured base URL may carry that must never be shown: user and password, query values,
 * and path segments that look like tokens (some proxies take the token in the path).
 */
function baseUrlSecrets(baseUrl: string): string[] {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const part of [u.username, u.password]) if (part) out.push(part, safeDecode(part));
  for (const pair of u.search.slice(1).split('&')) {
    const value = pair.slice(pair.indexOf('=') + 1);
    if (pair.includes('=') && value) out.push(value, safeDecode(value.replace(/\+/g, ' ')));
  }
  for (const seg of u.pathname.split('/')) if (tokenLike(safeDecode(seg))) out.push(seg, safeDecode(seg));
  return out;
}

/**
 * Removes secrets from text: every whole occurrence, and every run of MIN_SECRET_FRAGMENT or more
 * characters of one (a token cut by an excerpt, or echoed half by the upstream), wherever it stands.
 */
function makeRedactor(headerValues: string[], others: string[] = []): (s: string) => string {
  const { whole, material } = secretStrings(headerValues, others);
  const grams = new Set<string>();
  for (const m of material) {
    for (let i = 0; i + MIN_SECRET_FRAGMENT <= m.length; i++) grams.add(m.slice(i, i + MIN_SECRET_FRAGMENT));
  }
  if (whole.length === 0) return (s) => s;
  return (s) => {
    let r = s;
    for (const secret of whole) if (r.includes(secret)) r = r.split(secret).join(REDACTED);
    if (grams.size === 0 || r.length < MIN_SECRET_FRAGMENT) return r;
    let marks: Uint8Array | undefined;
    for (let i = 0; i + MIN_SECRET_FRAGMENT <= r.length; i++) {
      if (grams.has(r.slice(i, i + MIN_SECRET_FRAGMENT))) (marks ??= new Uint8Array(r.length)).fill(1, i, i + MIN_SECRET_FRAGMENT);
    }
    if (!marks) return r;
    let out = '';
    for (let i = 0; i < r.length; ) {
      let j = i;
      while (j < r.length && marks[j] === marks[i]) j++;
      out += marks[i] ? REDACTED : r.slice(i, j);
      i = j;
    }
    return out;
  };
}

/**
 * An excerpt of at most `max` characters of already redacted text. The cut never splits a
 * [REDACTED] marker; it ends with "…" when something was left out.
 */
function excerpt(redacted: string, max = MESSAGE_EXCERPT_CHARS): string {
  if (redacted.length <= max) return redacted;
  let cut = max - 1;
  const marker = redacted.lastIndexOf(REDACTED, cut);
  if (marker >= 0 && marker < cut && marker + REDACTED.length > cut) cut = marker;
  return `${redacted.slice(0, cut).trimEnd()}…`;
}

// ---------------------------------------------------------------------------------------------
// Failure classification

/** Connection failures that prove the request never left this process. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);
/** Transient connection failures worth retrying (for reads, or writes that were not sent). */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function errorCodes(err: unknown, depth = 0, acc: string[] = []): string[] {
  if (depth > 4 || typeof err !== 'object' || err === null) return acc;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string') acc.push(e.code);
  if (e.cause) errorCodes(e.cause, depth + 1, acc);
  if (Array.isArray(e.errors)) for (const sub of e.errors) errorCodes(sub, depth + 1, acc);
  return acc;
}

function describeConnectionFailure(codes: string[], provider: string, timeouts: Required<NonNullable<HttpClientOptions['timeouts']>>): string {
  const has = (c: string) => codes.includes(c);
  if (has('ECONNREFUSED')) return `Could not connect to ${provider} (connection refused)`;
  if (has('UND_ERR_CONNECT_TIMEOUT')) return `Could not connect to ${provider} within ${seconds(timeouts.connectMs)}`;
  if (has('ENOTFOUND')) return `Could not resolve ${provider}'s host name (check the base URL)`;
  if (has('EAI_AGAIN')) return `Could not resolve ${provider}'s host name (DNS lookup failed)`;
  if (has('UND_ERR_HEADERS_TIMEOUT')) return `${provider} did not answer within ${seconds(timeouts.headersMs)}`;
  if (has('UND_ERR_BODY_TIMEOUT')) return `${provider} stopped sending its answer for ${seconds(timeouts.bodyMs)}`;
  if (has('ECONNRESET') || has('UND_ERR_SOCKET') || has('EPIPE')) return `The connection to ${provider} was closed before it answered`;
  return `The request to ${provider} failed on the network`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** "12 s", "3 min", "5 h": how an agent should read a retry delay. */
function humanDelay(sec: number): string {
  if (sec < 90) return `${Math.max(1, Math.ceil(sec))} s`;
  if (sec < 90 * 60) return `${Math.ceil(sec / 60)} min`;
  return `${Math.ceil(sec / 3600)} h`;
}

/** Server-requested wait in ms from Retry-After (seconds or HTTP-date), or x-ratelimit-reset on 429. */
function serverWaitMs(status: number, headers: Record<string, string>, now: number): number | undefined {
  const ra = headers['retry-after']?.trim();
  if (ra) {
    if (/^\d+(\.\d+)?$/.test(ra)) return Number(ra) * 1000;
    const at = Date.parse(ra);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  // Rate-limit windows are sent on every answer (Outreach), so only a 429 means "wait for it".
  const reset = headers['x-ratelimit-reset']?.trim();
  if (status === 429 && reset && /^\d+(\.\d+)?$/.test(reset)) {
    const n = Number(reset);
    // Pipedrive sends seconds left in the window; others send an epoch time (seconds or ms).
    if (n >= 1e12) return Math.max(0, n - now);
    if (n >= 1e9) return Math.max(0, n * 1000 - now);
    return n * 1000;
  }
  return undefined;
}

function flattenHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function sentence(s: string): string {
  const t = s.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

const BODY_TEXT_READING: ErrorBodyReading = { messageKeys: ['message', 'error_description', 'error', 'detail', 'title'], errors: 'none' };

/** The text of an error body a message may quote, when the provider's describeError has nothing. */
function bodyText(body: unknown): string | undefined {
  if (body === undefined || body === null || body === '') return undefined;
  if (typeof body === 'string') return body;
  if (typeof body === 'object') {
    const said = readErrorBody(body, BODY_TEXT_READING);
    if (said) return said;
    try {
      return JSON.stringify(body);
    } catch {
      return undefined;
    }
  }
  return String(body);
}

function parseMaybeJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** "8 MB", "64 KB": a byte limit as people read it. */
function sizeText(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  if (mb >= 1) return `${Math.round(mb * 10) / 10} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

// ---------------------------------------------------------------------------------------------
// The client

type Attempt =
  | { ok: true; response: HttpResponse<unknown> }
  | { ok: false; kind: 'status'; status: number; headers: Record<string, string>; body: unknown }
  | { ok: false; kind: 'malformed'; status: number }
  | { ok: false; kind: 'oversize'; status: number }
  | { ok: false; kind: 'network'; codes: string[]; sent: boolean }
  | { ok: false; kind: 'aborted' };

type Failure = Exclude<Attempt, { ok: true }>;

/** A GET, or a POST the provider marked as a read (a search): safe to repeat, changes nothing. */
const isRead = (req: HttpRequest) => req.method === 'GET' || req.readOnly === true;

/** POST and PATCH with a key are idempotent upstream; a key means nothing to other methods. */
const keyed = (req: HttpRequest) => !!req.idempotencyKey && (req.method === 'POST' || req.method === 'PATCH');

/** Whether the caller holds the idempotency key and so may safely repeat the write itself. */
const callerCanRepeat = (req: HttpRequest) => keyed(req) && !req.idempotencyKeyGenerated;

const WRITE_UNCERTAIN =
  'The write may or may not have happened; check with a read (get or list) before retrying.';

export class HttpClient {
  private readonly provider: string;
  private readonly origin: string;
  private readonly basePath: string;
  private headers: Record<string, string>;
  private redact: (s: string) => string;
  /** What the redactor is built from: the configured secrets, and those set since (setAuth). */
  private readonly configured: { headerValues: string[]; others: string[] };
  private renewed: { headerValues: string[]; others: string[] } = { headerValues: [], others: [] };
  /** Bumped by setAuth: a 401 to a request sent with older credentials is retried without renewing. */
  private authGeneration = 0;
  private readonly renewal?: AuthRenewal;
  private readonly limiter?: TokenBucket;
  private readonly timeouts: { connectMs: number; headersMs: number; bodyMs: number };
  private readonly maxResponseBytes: number;
  private readonly maxRetryWaitMs: number;
  private readonly deadlineMs: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly clock: Clock;
  private readonly logger?: Logger;
  private readonly describeError?: (status: number, body: unknown) => string | undefined;
  private readonly quotaExhausted?: (headers: Record<string, string>) => string | undefined;

  constructor(options: HttpClientOptions) {
    this.provider = options.provider;
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new CrmError('validation', `${options.provider} base URL is not a valid URL.`, { provider: options.provider });
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new CrmError('validation', `${options.provider} base URL must start with http:// or https://.`, {
        provider: options.provider,
      });
    }
    this.origin = base.origin;
    this.basePath = base.pathname.replace(/\/+$/, '');
    this.headers = {};
    for (const [k, v] of Object.entries(options.headers ?? {})) this.headers[k.toLowerCase()] = v;
    this.configured = {
      headerValues: Object.values(options.headers ?? {}),
      others: [...(options.secrets ?? []), ...baseUrlSecrets(options.baseUrl)],
    };
    this.redact = makeRedactor(this.configured.headerValues, this.configured.others);
    this.renewal = options.renewal;
    this.clock = options.clock ?? realClock;
    this.limiter = options.limiter ? new TokenBucket(options.limiter, this.clock) : undefined;
    this.timeouts = {
      connectMs: options.timeouts?.connectMs ?? DEFAULT_CONNECT_MS,
      headersMs: options.timeouts?.headersMs ?? DEFAULT_HEADERS_MS,
      bodyMs: options.timeouts?.bodyMs ?? DEFAULT_BODY_MS,
    };
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? DEFAULT_MAX_RETRY_WAIT_MS;
    this.deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    this.retryBaseMs = options.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
    this.logger = options.logger;
    this.describeError = options.describeError;
    this.quotaExhausted = options.quotaExhausted;
  }

  /**
   * Replaces the auth headers (a renewed OAuth token) and redacts their values, and `secrets` (a
   * rotated refresh token), from now on; secrets set before stay redacted.
   */
  setAuth(headers: Record<string, string>, secrets: string[] = []): void {
    this.remember(Object.values(headers), secrets);
    this.headers = {};
    for (const [k, v] of Object.entries(headers)) this.headers[k.toLowerCase()] = v;
    this.authGeneration += 1;
  }

  /** Redacts more strings from now on (credentials learnt after construction). */
  addSecrets(secrets: string[]): void {
    this.remember([], secrets);
  }

  private remember(headerValues: string[], others: string[]): void {
    const recent = (xs: string[]) => xs.filter(Boolean).slice(-MAX_RENEWED_SECRETS);
    this.renewed = {
      headerValues: recent([...this.renewed.headerValues, ...headerValues]),
      others: recent([...this.renewed.others, ...others]),
    };
    const { configured, renewed } = this;
    this.redact = makeRedactor([...configured.headerValues, ...renewed.headerValues], [...configured.others, ...renewed.others]);
  }

  /** The path+query string exactly as `request` sends it, base path included. */
  target(req: PathAndQuery): string {
    return `${this.basePath}${this.relative(req)}`;
  }

  /**
   * A link the CRM gave (a next page: JSON:API `links.next`, a `Link` header) as path+query under
   * the base URL, the form a native cursor keeps and `request` follows. A link to another origin or
   * outside the base path is refused: a cursor must never carry the token elsewhere.
   */
  linkCursor(link: string): string {
    let u: URL | undefined;
    try {
      u = new URL(link, `${this.origin}${this.basePath}/`);
    } catch {
      u = undefined;
    }
    const under = u !== undefined && u.origin === this.origin && (u.pathname === this.basePath || u.pathname.startsWith(`${this.basePath}/`));
    if (!u || !under) {
      throw new CrmError('upstream', `${this.provider} gave a next-page link outside its base URL, so crm-mcp did not follow it; check the base URL.`, {
        provider: this.provider,
      });
    }
    return `${u.pathname.slice(this.basePath.length) || '/'}${u.search}`;
  }

  /**
   * The path+query under the configured base, as a dry run shows it: exactly what `request` sends
   * after the base, never the base's own path (a proxy's path may carry a token).
   */
  shownPath(req: PathAndQuery): string {
    return this.redact(this.relative(req));
  }

  private relative(req: PathAndQuery): string {
    if (typeof req.path !== 'string' || !req.path.startsWith('/')) {
      throw new CrmError('validation', `Internal error: ${this.provider} request path must start with '/'.`);
    }
    if (/[?#\s\u0000-\u001f\u007f]/.test(req.path)) {
      throw new CrmError('validation', `Internal error: ${this.provider} request path must be built with path\`\`.`);
    }
    for (const seg of req.path.split('/')) {
      const s = seg.toLowerCase().replace(/%2e/g, '.');
      if (s === '.' || s === '..') {
        throw new CrmError('validation', `Refusing a ${this.provider} request path with '.' or '..' segments.`);
      }
    }
    if (req.search !== undefined && /[#\s\u0000-\u001f\u007f]/.test(req.search)) {
      throw new CrmError('validation', `Refusing a ${this.provider} query string with spaces, control characters or '#'.`);
    }
    const q = req.search !== undefined ? req.search.replace(/^\?/, '') : req.query ? qs.stringify(req.query, { arrayFormat: 'brackets' }) : '';
    return `${req.path}${q ? `?${q}` : ''}`;
  }

  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const relative = this.relative(req);
    const target = `${this.basePath}${relative}`;
    // Defence in depth: whatever the path holds, the request may only go to the configured origin.
    if (new URL(target, this.origin).origin !== this.origin) {
      throw new CrmError('validation', `Refusing to send a request outside ${this.provider}'s base URL.`, {
        provider: this.provider,
      });
    }
    const logPath = this.redact(relative);
    const deadline = this.clock.now() + this.deadlineMs;
    if (this.renewal?.beforeRequest) await this.renewing(() => this.renewal!.beforeRequest!(req.signal), req);
    let body: string | undefined;
    if (req.form !== undefined) body = new URLSearchParams(req.form).toString();
    else if (req.body !== undefined) body = JSON.stringify(req.body);
    let sentWith = this.authGeneration;
    let headers = this.requestHeaders(req, body);
    let renewed = false;

    let waited = 0;
    let last: Failure | undefined;
    for (let attempt = 1; ; attempt++) {
      // The deadline covers the limiter's queue too: a wait that would outlive it fails now, unsent.
      const queueMs = this.limiter?.waitMs(req.cost ?? 1) ?? 0;
      if (queueMs > 0 && this.clock.now() + queueMs + MIN_ATTEMPT_MS > deadline) {
        throw last ? this.budgetError(last, req, queueMs, false) : this.limiterError(queueMs);
      }
      await this.abortable(() => this.limiter?.take(req.cost ?? 1, req.signal), req, attempt);
      const left = deadline - this.clock.now();
      if (left <= 0) {
        // Never send after the deadline (a clock jump or a slow queue): say when to come back.
        throw last ? this.budgetError(last, req, MIN_ATTEMPT_MS, false) : this.limiterError(MIN_ATTEMPT_MS);
      }
      const started = performance.now();
      // Each attempt gets at most the time left, so slow answers cannot stack past the deadline.
      const result = await this.once(req, target, headers, body, left);
      const ms = Math.round(performance.now() - started);
      this.logger?.debug(
        {
          provider: this.provider,
          method: req.method,
          path: logPath,
          status: 'status' in result ? result.status : undefined,
          error: result.ok ? undefined : result.kind === 'network' ? result.codes[0] : result.kind,
          attempt,
          ms,
        },
        'upstream request',
      );
      if (result.ok) return result.response as HttpResponse<T>;
      if (result.kind === 'aborted') throw this.cancelled(req, true);
      last = result;
      const spent = result.kind === 'status' && result.status === 429 ? this.quotaExhausted?.(result.headers) : undefined;
      if (spent) throw this.err('rate_limited', spent, { status: 429 });

      if (result.kind === 'status' && result.status === 401 && this.renewal && !renewed) {
        // Once per request: new credentials (another request may have renewed them already), then again.
        renewed = true;
        const fresh = sentWith !== this.authGeneration || (await this.renewing(() => this.renewal!.afterUnauthorized(req.signal), req));
        if (fresh) {
          sentWith = this.authGeneration;
          headers = this.requestHeaders(req, body);
          continue;
        }
      }

      const retryable = this.isRetryable(result, req);
      if (!retryable || attempt >= this.maxAttempts) throw this.finalError(result, req, attempt, retryable);

      const hint = result.kind === 'status' ? serverWaitMs(result.status, result.headers, this.clock.now()) : undefined;
      const backoff = Math.random() * Math.min(MAX_BACKOFF_MS, this.retryBaseMs * 2 ** (attempt - 1));
      const wait = Math.ceil(hint ?? backoff);
      if (waited + wait > this.maxRetryWaitMs || this.clock.now() + wait + MIN_ATTEMPT_MS > deadline) {
        // Waiting longer would outlive the caller's tool timeout: say when to come back instead.
        throw this.budgetError(result, req, wait, hint !== undefined);
      }
      this.logger?.warn(
        {
          provider: this.provider,
          method: req.method,
          path: logPath,
          status: result.kind === 'status' || result.kind === 'malformed' ? result.status : undefined,
          error: result.kind === 'network' ? result.codes[0] : result.kind === 'malformed' ? 'malformed' : undefined,
          attempt,
          waitMs: wait,
        },
        'upstream retry',
      );
      await this.abortable(() => this.clock.sleep(wait, req.signal), req, attempt + 1);
      waited += wait;
    }
  }

  /** What every attempt of `req` sends: the current auth headers, the body's type, the request's own. */
  private requestHeaders(req: HttpRequest, body: string | undefined): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.headers };
    if (body !== undefined) headers['content-type'] = req.form !== undefined ? 'application/x-www-form-urlencoded' : 'application/json';
    for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
    if (keyed(req)) headers['idempotency-key'] = req.idempotencyKey!;
    return headers;
  }

  /** Runs a renewal of the credentials; its failure reaches the caller redacted, as every message does. */
  private async renewing<R>(run: () => Promise<R>, req: HttpRequest): Promise<R> {
    if (req.signal?.aborted) throw this.cancelled(req, false);
    try {
      return await run();
    } catch (e) {
      if (req.signal?.aborted) throw this.cancelled(req, false);
      if (e instanceof CrmError) {
        throw new CrmError(e.kind, this.redact(e.message), {
          status: e.status,
          retryAfterSeconds: e.retryAfterSeconds,
          provider: this.provider,
          nothingSent: true,
        });
      }
      throw this.err('auth', `Renewing the ${this.provider} credentials failed; nothing was sent.`, { nothingSent: true });
    }
  }

  /** Runs a wait (limiter or backoff) and turns an abort into a cancelled CrmError. */
  private async abortable(fn: () => Promise<void> | undefined, req: HttpRequest, attempt: number): Promise<void> {
    if (req.signal?.aborted) throw this.cancelled(req, attempt > 1);
    try {
      await fn();
    } catch (e) {
      if (req.signal?.aborted) throw this.cancelled(req, attempt > 1);
      throw e;
    }
  }

  private async once(
    req: HttpRequest,
    target: string,
    headers: Record<string, string>,
    body: string | undefined,
    leftMs: number,
  ): Promise<Attempt> {
    const pool = poolFor(this.origin, this.timeouts.connectMs);
    let status: number;
    let resHeaders: Record<string, string>;
    let read: { text: string; cut: boolean };
    let responded = false;
    try {
      const res = await pool.request({
        path: target,
        method: req.method,
        headers,
        body,
        signal: req.signal,
        headersTimeout: Math.min(this.timeouts.headersMs, leftMs),
        bodyTimeout: Math.min(this.timeouts.bodyMs, leftMs),
      });
      responded = true;
      status = res.statusCode;
      resHeaders = flattenHeaders(res.headers);
      const ok = status >= 200 && status < 300;
      // A success is read up to the client's bound (not at all when it says it is larger); an error
      // answer only as far as its message needs.
      read = ok
        ? await readBounded(res.body, this.maxResponseBytes, Number(resHeaders['content-length']))
        : await readBounded(res.body, MAX_ERROR_BODY_BYTES);
    } catch (err) {
      if (req.signal?.aborted) return { ok: false, kind: 'aborted' };
      const codes = errorCodes(err);
      const sent = responded || !codes.some((c) => NOT_SENT_CODES.has(c));
      return { ok: false, kind: 'network', codes, sent };
    }
    if (status >= 200 && status < 300) {
      if (read.cut) return { ok: false, kind: 'oversize', status };
      const text = read.text;
      if (text.trim() === '') return { ok: true, response: { status, headers: resHeaders, body: undefined } };
      try {
        return { ok: true, response: { status, headers: resHeaders, body: JSON.parse(text) as unknown } };
      } catch {
        return { ok: false, kind: 'malformed', status };
      }
    }
    return { ok: false, kind: 'status', status, headers: resHeaders, body: read.cut ? read.text : parseMaybeJson(read.text) };
  }

  private isRetryable(f: Failure, req: HttpRequest): boolean {
    // A write may be repeated only when the key makes it idempotent or the failure proves nothing was written.
    const safeToRepeat = isRead(req) || keyed(req);
    if (f.kind === 'status') {
      if (f.status === 429) return true;
      return safeToRepeat && (f.status === 408 || f.status >= 500);
    }
    if (f.kind === 'network') {
      if (!f.codes.some((c) => RETRYABLE_CODES.has(c))) return false;
      return safeToRepeat || !f.sent;
    }
    // A garbled answer is transient like a 502; a write's garbled answer hides whether it happened.
    if (f.kind === 'malformed') return isRead(req);
    return false;
  }

  /** The provider's own words about a failure: redacted first, then cut to a short excerpt. */
  private providerMessage(status: number, body: unknown): string | undefined {
    let m: string | undefined;
    try {
      m = this.describeError?.(status, body);
    } catch {
      m = undefined;
    }
    const raw = m?.trim() ? m : bodyText(body);
    if (!raw) return undefined;
    const text = oneLine(raw);
    if (text.startsWith('<')) return 'an HTML error page';
    return excerpt(this.redact(text.slice(0, REDACTION_WINDOW_CHARS)));
  }

  private err(
    kind: CrmErrorKind,
    message: string,
    opts: { status?: number; retryAfterSeconds?: number; nothingSent?: boolean } = {},
  ): CrmError {
    return new CrmError(kind, this.redact(message), { ...opts, provider: this.provider });
  }

  private cancelled(req: HttpRequest, maybeSent: boolean): CrmError {
    const tail = !isRead(req) && maybeSent ? ` ${WRITE_UNCERTAIN}` : '';
    return this.err('cancelled', `The request to ${this.provider} was cancelled.${tail}`, { nothingSent: !maybeSent });
  }

  /** The client-side limiter would hold the first attempt past the deadline: nothing was sent. */
  private limiterError(waitMs: number): CrmError {
    const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
    const rule = this.limiter ? ` (${this.limiter.describe()})` : '';
    return this.err(
      'rate_limited',
      `crm-mcp is pacing requests to ${this.provider} to stay within its rate limit${rule}, and this call would wait longer than a tool call may take; nothing was sent. Retry in about ${humanDelay(retryAfterSeconds)}.`,
      { retryAfterSeconds, nothingSent: true },
    );
  }

  private budgetError(f: Failure, req: HttpRequest, waitMs: number, serverAsked: boolean): CrmError {
    const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
    const when = `retry in about ${humanDelay(retryAfterSeconds)}.`;
    if (f.kind === 'status' && f.status === 429) {
      const pm = this.providerMessage(429, f.body);
      return this.err('rate_limited', `${this.provider} is rate limiting this token; ${when}${pm ? ` (${this.provider}: ${sentence(pm)})` : ''}`, {
        status: 429,
        retryAfterSeconds,
      });
    }
    const base = this.failureSentence(f);
    const tail = !isRead(req) && !callerCanRepeat(req) && this.maybeWritten(f) ? ` ${WRITE_UNCERTAIN}` : '';
    const advice = serverAsked ? `${this.provider} asks to ${when}` : `Please ${when}`;
    return this.err('upstream', `${base} ${advice}${tail}`, {
      status: f.kind === 'status' || f.kind === 'malformed' ? f.status : undefined,
      retryAfterSeconds,
      nothingSent: f.kind === 'network' && !f.sent ? true : undefined,
    });
  }

  /** Whether a failed write might have been applied upstream. */
  private maybeWritten(f: Failure): boolean {
    if (f.kind === 'status') return f.status >= 500 || f.status === 408;
    if (f.kind === 'network') return f.sent;
    return f.kind === 'malformed' || f.kind === 'oversize';
  }

  private tooLarge(): string {
    return `${this.provider} answered with more than ${sizeText(this.maxResponseBytes)}`;
  }

  /** One sentence describing a failure without advice. */
  private failureSentence(f: Failure): string {
    if (f.kind === 'network') return `${describeConnectionFailure(f.codes, this.provider, this.timeouts)}.`;
    if (f.kind === 'malformed') return `${this.provider} answered ${f.status} with a body that is not valid JSON.`;
    if (f.kind === 'oversize') return `${this.tooLarge()}.`;
    if (f.kind === 'status') {
      const pm = this.providerMessage(f.status, f.body);
      return `${this.provider} answered ${f.status}${pm ? `: ${sentence(pm)}` : '.'}`;
    }
    return `The request to ${this.provider} was cancelled.`;
  }

  private finalError(f: Failure, req: HttpRequest, attempts: number, retryable: boolean): CrmError {
    const isWrite = !isRead(req);
    const after = retryable && attempts > 1 ? ` (after ${attempts} attempts)` : '';
    if (f.kind === 'status') {
      const s = f.status;
      const pm = this.providerMessage(s, f.body);
      const said = pm ? `: ${sentence(pm)}` : '.';
      const opts = { status: s };
      if (s === 400 || s === 422 || s === 413 || s === 415) {
        return this.err('validation', `${this.provider} rejected the request (${s})${said}`, opts);
      }
      if (s === 401) {
        return this.err('auth', `${this.provider} rejected the credentials (401)${said} Check the API token.`, opts);
      }
      if (s === 402) {
        return this.err('auth', `${this.provider} refused the request because of the account's plan or billing state (402)${said}`, opts);
      }
      if (s === 403) {
        return this.err(
          'auth',
          `${this.provider} denied permission (403)${said} The token was accepted but lacks access to this record or action; check its scopes or the user's permissions.`,
          opts,
        );
      }
      if (s === 404 || s === 410) return this.err('not_found', `${this.provider} found no such record (${s})${said}`, opts);
      if (s === 405) return this.err('unsupported', `${this.provider} does not allow this operation here (405)${said}`, opts);
      if (s === 409) return this.err('conflict', `${this.provider} reported a conflict (409)${said}`, opts);
      if (s === 429) {
        const hint = serverWaitMs(s, f.headers, this.clock.now());
        const retryAfterSeconds = Math.max(1, Math.ceil((hint ?? this.retryBaseMs * 2 ** attempts) / 1000));
        return this.err(
          'rate_limited',
          `${this.provider} is rate limiting this token; retry in about ${humanDelay(retryAfterSeconds)}.${pm ? ` (${this.provider}: ${sentence(pm)})` : ''}`,
          { status: 429, retryAfterSeconds },
        );
      }
      if (s >= 500) {
        if (isWrite && !keyed(req)) {
          return this.err('upstream', `${this.provider} answered ${s}${said} ${WRITE_UNCERTAIN}`, opts);
        }
        const keyNote = !isWrite
          ? ' Try again shortly.'
          : req.idempotencyKeyGenerated
            ? ` ${WRITE_UNCERTAIN} Pass idempotency_key next time to make such retries safe.`
            : ' Retrying with the same idempotency key is safe.';
        return this.err('upstream', `${this.provider} answered ${s}${after}${said}${keyNote}`, opts);
      }
      if (s >= 300 && s < 400) {
        return this.err('upstream', `${this.provider} answered with an unexpected redirect (${s}); check the base URL.`, opts);
      }
      return this.err('validation', `${this.provider} rejected the request (${s})${said}`, opts);
    }
    if (f.kind === 'malformed') {
      const opts = { status: f.status };
      if (!isWrite) {
        return this.err('upstream', `${this.provider} answered ${f.status} with a body that is not valid JSON${after}. Try again shortly.`, opts);
      }
      // Not retried: the write may have been applied, and only the answer is garbled.
      const check = callerCanRepeat(req)
        ? 'The write may or may not have happened; repeating it with the same idempotency_key is safe, or check with a read (get or list).'
        : WRITE_UNCERTAIN;
      return this.err('upstream', `${this.provider} answered ${f.status} with a body that is not valid JSON. ${check}`, opts);
    }
    if (f.kind === 'oversize') {
      const opts = { status: f.status };
      if (!isWrite) return this.err('upstream', `${this.tooLarge()}; narrow the request (limit, filters).`, opts);
      return this.err(
        'upstream',
        `${this.provider} accepted the request (${f.status}) but its answer was larger than ${sizeText(this.maxResponseBytes)}, so crm-mcp did not read it. ${WRITE_UNCERTAIN}`,
        opts,
      );
    }
    if (f.kind === 'network') {
      const what = describeConnectionFailure(f.codes, this.provider, this.timeouts);
      if (isWrite && !callerCanRepeat(req)) {
        const tail = f.sent ? WRITE_UNCERTAIN : 'Nothing was written; it is safe to retry.';
        return this.err('upstream', `${what}. ${tail}`, { nothingSent: !f.sent });
      }
      return this.err('upstream', `${what}${after}. Try again shortly.`);
    }
    return this.cancelled(req, true);
  }
}

/**
 * Reads a response body as text, at most `limit` bytes: a larger answer is cut there and the rest
 * is never read, so one huge record cannot balloon memory. One whose declared length is already
 * larger is not read at all.
 */
async function readBounded(
  body: AsyncIterable<Uint8Array> & { destroy(err?: Error): unknown },
  limit: number,
  declared = Number.NaN,
): Promise<{ text: string; cut: boolean }> {
  if (Number.isFinite(declared) && declared > limit) {
    body.destroy();
    return { text: '', cut: true };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = Buffer.from(chunk);
    if (size + b.length > limit) {
      chunks.push(b.subarray(0, limit - size));
      // Leaving the loop destroys the stream: the rest of the answer is never read.
      return { text: Buffer.concat(chunks).toString('utf8'), cut: true };
    }
    chunks.push(b);
    size += b.length;
  }
  return { text: Buffer.concat(chunks).toString('utf8'), cut: false };
}
