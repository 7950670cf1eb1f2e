/**
 * Writes prepared before they are sent (DESIGN §5, dry_run): one description gives both what a dry
 * run shows and what `send` puts on the wire, so the two cannot drift apart. What follows a write
 * the CRM accepted (a read-back, names) is best effort.
 */
import type { HttpClient, HttpResponse } from './http.js';
import type { UpstreamRequest } from './provider.js';

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
