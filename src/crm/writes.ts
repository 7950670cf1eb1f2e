/**
 * Writes prepared before they are sent (DESIGN §5, dry_run): one description gives both what a dry
 * run shows and what `send` puts on the wire, so the two cannot drift apart. What follows a write
 * the CRM accepted (a read-back, names) is best effort.
 */
import { CrmError, isCrmError } from './errors.js';
import type { HttpClient, HttpResponse } from './http.js';
import type { PreparedWrite, UpstreamRequest } from './provider.js';

export interface WriteRequest {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Built with path``, under the provider's base URL. */
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
  /** Headers the CRM needs on this request, never secrets (e.g. JSON:API's content type); not shown in a dry run. */
  headers?: Record<string, string>;
  /**
   * Sent as Idempotency-Key on POST and PATCH, which lets HttpClient retry the write. Shown in the
   * dry run only when the caller chose it: a generated key would differ on the real send.
   */
  idempotencyKey?: { key: string; chosenByCaller: boolean };
}

export interface PreparedRequest {
  /** What a dry run shows: method, path+query under the base URL, body, the caller's key. Never a secret. */
  request: UpstreamRequest;
  /** Sends exactly `request` (HttpClient retries only what is safe to repeat). */
  send(signal?: AbortSignal): Promise<HttpResponse<unknown>>;
}

export function prepareRequest(http: HttpClient, w: WriteRequest): PreparedRequest {
  const request: UpstreamRequest = { method: w.method, path: http.shownPath(w) };
  if (w.body !== undefined) request.body = w.body;
  if (w.idempotencyKey?.chosenByCaller) request.headers = { 'Idempotency-Key': w.idempotencyKey.key };
  return {
    request,
    send: (signal) =>
      http.request({
        method: w.method,
        path: w.path,
        query: w.query,
        body: w.body,
        headers: w.headers,
        signal,
        idempotencyKey: w.idempotencyKey?.key,
        idempotencyKeyGenerated: w.idempotencyKey !== undefined && !w.idempotencyKey.chosenByCaller,
      }),
  };
}

/**
 * What follows a write the CRM accepted: names for the record, or the record read back. Best
 * effort: a failure here must not read as a failed write, which would invite the caller to send it
 * again. `otherwise` gives the answer to use instead (or throws a sentence that says the write
 * happened).
 */
export async function afterWrite<T>(follow: Promise<T>, otherwise: (e: unknown) => T): Promise<T> {
  try {
    return await follow;
  } catch (e) {
    return otherwise(e);
  }
}

// ---------------------------------------------------------------------------------------------
// Writes the CRM takes in several requests

/** One request of a write the CRM takes in several (fields, then the stage through its own endpoint). */
export interface WriteStep {
  /** What a dry run shows for this request. */
  request: UpstreamRequest;
  /** What it does, for the sentence after a partial failure: "change the project's fields". */
  purpose: string;
  /** Sends it. `answers` are those of the requests before it (a create's carries the new id). */
  send(answers: readonly unknown[], signal?: AbortSignal): Promise<unknown>;
}

export interface SequenceOptions {
  /** The CRM's name, e.g. "Insightly". */
  provider: string;
  /** The write as a noun phrase: "this update of project 'Onboarding' (5)". */
  what: string;
  /**
   * What the caller should do after a partial failure ("Read it with get_project, then ..."),
   * from the answers of the requests that succeeded (a create's names the new id).
   */
  recovery: (answers: readonly unknown[]) => string;
  signal?: AbortSignal;
}

/**
 * A write sent as several requests, in order: the dry run shows every one (`request`, then
 * `then`), `execute` sends them one after the other and stops at the first failure. A failure of
 * the first request is the CRM's own error: nothing was done. A failure of a later one says which
 * requests succeeded, which failed and which were not sent, so a partial write is never reported
 * as failed-and-nothing-done, nor as done. Its kind is 'upstream' (never a refusal), so a keyed
 * create is not forgotten as if nothing existed. `finish` turns the answers into the record.
 */
export function preparedSequence<T>(
  o: SequenceOptions,
  steps: readonly WriteStep[],
  finish: (answers: unknown[]) => Promise<T>,
): PreparedWrite<T> {
  if (!steps.length) throw new CrmError('validation', `Internal error: a ${o.provider} write with no request.`);
  return {
    request: steps[0].request,
    ...(steps.length > 1 ? { then: steps.slice(1).map((s) => s.request) } : {}),
    async execute() {
      const answers: unknown[] = [];
      for (const [i, step] of steps.entries()) {
        try {
          answers.push(await step.send(answers, o.signal));
        } catch (e) {
          if (i === 0) throw e;
          throw partialWrite(o, steps, i, e, answers);
        }
      }
      return finish(answers);
    },
  };
}

const shown = (s: WriteStep) => `${s.request.method} ${s.request.path} (${s.purpose})`;

function partialWrite(o: SequenceOptions, steps: readonly WriteStep[], failed: number, cause: unknown, answers: readonly unknown[]): CrmError {
  const done = steps.slice(0, failed).map(shown).join(', then ');
  const why = isCrmError(cause) ? cause.message : 'it failed unexpectedly';
  const rest = steps.slice(failed + 1);
  return new CrmError(
    'upstream',
    `${o.provider} did only part of ${o.what}: ${done} succeeded; then ${shown(steps[failed])} failed: ${why}` +
      `${/[.!?]$/.test(why) ? '' : '.'}${rest.length ? ` Not sent: ${rest.map(shown).join(', ')}.` : ''} ${o.recovery(answers)}`,
    {
      provider: o.provider,
      status: isCrmError(cause) ? cause.status : undefined,
      retryAfterSeconds: isCrmError(cause) ? cause.retryAfterSeconds : undefined,
      cause,
    },
  );
}
