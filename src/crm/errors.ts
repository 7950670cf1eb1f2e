/**
 * Typed failures of the unified CRM layer. Every message is one sentence an agent can act on:
 * what was wrong, the valid options, and which tool to call next. Never a stack trace or a secret.
 */
export type CrmErrorKind =
  | 'not_found'
  | 'validation'
  | 'unsupported'
  | 'auth'
  | 'rate_limited'
  | 'upstream'
  | 'conflict'
  | 'cancelled';

export interface CrmErrorOptions {
  /** Seconds after which a retry may succeed (rate limits, bounded retry budget exhausted). */
  retryAfterSeconds?: number;
  /** HTTP status of the upstream answer, when there was one. */
  status?: number;
  /** The provider that failed, for messages like "Pipedrive answered 503". */
  provider?: string;
  /** Proven that no request reached the CRM (refused connection, cancelled before sending). */
  nothingSent?: boolean;
  cause?: unknown;
}

export class CrmError extends Error {
  readonly kind: CrmErrorKind;
  readonly retryAfterSeconds?: number;
  readonly status?: number;
  readonly provider?: string;
  readonly nothingSent?: boolean;

  constructor(kind: CrmErrorKind, message: string, options: CrmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CrmError';
    this.kind = kind;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.status = options.status;
    this.provider = options.provider;
    this.nothingSent = options.nothingSent;
  }
}

export const isCrmError = (e: unknown): e is CrmError => e instanceof CrmError;

/** How much of a value a message quotes: enough to recognise it, never enough to flood an answer. */
export const EXCERPT_LENGTH = 60;

/**
 * A value as a message quotes it: whole when short, otherwise its first characters and its length,
 * e.g. `AAAA…(1,048,576 characters)`. Every message that quotes a caller's or a CRM's value goes
 * through here, so no answer echoes unbounded input.
 */
export function excerpt(value: unknown, max = EXCERPT_LENGTH): string {
  const text = typeof value === 'string' ? value : stringify(value);
  if (text.length <= max) return text;
  // Never split a surrogate pair: half a character is not valid text.
  const end = isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}…(${text.length.toLocaleString('en-US')} characters)`;
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

function stringify(value: unknown): string {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Array.isArray(value) ? '[a list]' : '[a value]'; // too deep or circular
  }
}

export function notFound(what: string, id: string, hint: string): CrmError {
  return new CrmError('not_found', `No ${what} with id '${excerpt(id)}'. ${hint}`);
}

/** `e`, or `replace(e)` when it is a not_found: a sentence naming the record and the tool listing valid ids. */
export function replaceNotFound(e: unknown, replace: (e: CrmError) => CrmError): unknown {
  return isCrmError(e) && e.kind === 'not_found' ? replace(e) : e;
}

/** Awaits `p`; a not_found from it becomes `replace(e)`. */
export async function whenNotFound<T>(p: Promise<T>, replace: (e: CrmError) => CrmError): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw replaceNotFound(e, replace);
  }
}

/** Records a write refers to by id, and where an agent finds their ids. */
const FIND_IDS = {
  user: 'list_users or search (types: users)',
  account: 'search (types: accounts) or list_accounts',
  contact: 'search (types: contacts) or list_contacts',
  deal: 'search (types: deals) or list_deals',
  project: 'search (types: projects) or list_projects',
  activity: 'list_activities',
} as const;
export type ReferencedRecord = keyof typeof FIND_IDS;

/**
 * An id a write or filter refers to that the CRM does not know: the same sentence on every CRM,
 * pointing to the tools that find ids by name, never a directory listed inline (which does not
 * scale past a demo). E.g. "No user with id '99'. Find ids with list_users or search (types: users)."
 */
export function unknownReference(what: ReferencedRecord, id: string): CrmError {
  return notFound(what, id, `Find ids with ${FIND_IDS[what]}.`);
}

/**
 * The same failure, marked as proven to have written nothing: for checks that run before a write
 * (ids it refers to), so a keyed create they stop leaves its idempotency key free for a retry.
 */
export function nothingWritten(e: unknown): unknown {
  if (!isCrmError(e) || e.nothingSent) return e;
  return new CrmError(e.kind, e.message, { status: e.status, provider: e.provider, retryAfterSeconds: e.retryAfterSeconds, nothingSent: true, cause: e });
}

/** Stops work the caller cancelled: between pages, between the parts of multi-request work. */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CrmError('cancelled', 'The request was cancelled; nothing more was sent.', { nothingSent: true });
}

/**
 * A cursor this list did not hand out (changed, or from another list or filters): one sentence on
 * every list, whichever layer finds it.
 */
export const invalidCursor = (): CrmError =>
  new CrmError(
    'validation',
    'That cursor is not valid for this list: pass back the next_cursor of the previous answer unchanged, with the same filters, or omit cursor to start from the first page.',
  );
