/**
 * The CRM's own words from an error answer's body, read one way for every CRM and configured per
 * provider: a message field (`message`, `error`, `detail`, ...), optionally a detail field shown
 * beside it (Pipedrive's `error_info`), and a list of errors (JSON:API `errors[]` with
 * `source.pointer`, Capsule's `errors[]` with `field`) whose field names a provider can turn back
 * into the argument names an agent passed. HttpClient quotes the result after "X answered 422: ",
 * redacted and cut to an excerpt; when it finds nothing, HttpClient falls back to the body itself.
 */

export interface ErrorBodyReading {
  /** Fields that may hold the message, in order of preference. */
  messageKeys?: readonly string[];
  /** A field with more detail, shown as "message (detail)"; alone when there is no message. */
  detailKey?: string;
  /** Details that say nothing (a generic "see the docs" pointer) are left out. */
  skipDetail?: RegExp;
  /** Where `errors: [...]` is read: after the message keys (default), before them, or not at all. */
  errors?: 'after' | 'before' | 'none';
  /** How many entries of `errors` are quoted (default 1), joined with "; ". */
  maxErrors?: number;
  /**
   * The name an agent knows for a native field or a JSON pointer (e.g. Outreach's
   * `/data/attributes/closeDate` -> `close_date`); undefined keeps the native one. `entry` is the
   * whole error entry, for CRMs whose field names depend on the record (Capsule's `resource`).
   */
  fieldName?: (native: string, entry: Record<string, unknown>) => string | undefined;
  /**
   * Where an entry's field goes: before its message (default: "name is required"), or after it in
   * parentheses, for CRMs whose messages already say the field in words ("party is required (account)";
   * left out when the message starts with it: "name is required").
   */
  fieldPlacement?: 'before' | 'after';
}

export const DEFAULT_MESSAGE_KEYS = ['message', 'error_description', 'detail', 'title', 'error'] as const;

const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** One entry of an `errors` list: "field message", or the message alone. */
function errorEntry(entry: unknown, reading: ErrorBodyReading): string | undefined {
  if (typeof entry === 'string') return entry;
  if (!isObject(entry)) return undefined;
  const pointer = isObject(entry.source) ? entry.source.pointer : undefined;
  const native = textOf(entry.field) ?? textOf(pointer);
  const field = native ? (reading.fieldName?.(native, entry) ?? native) : undefined;
  const message = textOf(entry.message) ?? textOf(entry.detail) ?? textOf(entry.title);
  if (reading.fieldPlacement === 'after' && field && message) return message.startsWith(`${field} `) ? message : `${message} (${field})`;
  return [field, message].filter(Boolean).join(' ') || undefined;
}

function textOf(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function fromErrors(body: Record<string, unknown>, reading: ErrorBodyReading): string | undefined {
  if (!Array.isArray(body.errors) || !body.errors.length) return undefined;
  const said = body.errors
    .slice(0, reading.maxErrors ?? 1)
    .map((e) => errorEntry(e, reading))
    .filter((s): s is string => !!s);
  return said.length ? said.join('; ') : undefined;
}

function fromKeys(body: Record<string, unknown>, reading: ErrorBodyReading): string | undefined {
  let message: string | undefined;
  for (const k of reading.messageKeys ?? DEFAULT_MESSAGE_KEYS) {
    message = nonEmpty(body[k]);
    if (message) break;
  }
  const detail = reading.detailKey === undefined ? undefined : nonEmpty(body[reading.detailKey]);
  const shownDetail = detail && !reading.skipDetail?.test(detail) ? detail : undefined;
  if (!message) return shownDetail;
  return shownDetail ? `${message} (${shownDetail})` : message;
}

/** What an error body says, or undefined when it says nothing readable. */
export function readErrorBody(body: unknown, reading: ErrorBodyReading = {}): string | undefined {
  if (typeof body === 'string') return body.trim() || undefined;
  if (!isObject(body) || Array.isArray(body)) return undefined;
  const order = reading.errors ?? 'after';
  if (order === 'before') return fromErrors(body, reading) ?? fromKeys(body, reading);
  const said = fromKeys(body, reading);
  return said ?? (order === 'after' ? fromErrors(body, reading) : undefined);
}

/** A provider's `describeError` hook for HttpClient, from its reading of error bodies. */
export const errorBodyReader =
  (reading: ErrorBodyReading) =>
  (_status: number, body: unknown): string | undefined =>
    readErrorBody(body, reading);
