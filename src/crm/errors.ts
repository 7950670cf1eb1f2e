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

export function notFound(what: string, id: string, hint: string): CrmError {
  return new CrmError('not_found', `No ${what} with id '${id}'. ${hint}`);
}
