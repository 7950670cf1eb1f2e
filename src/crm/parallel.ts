/** Upstream calls that run at the same time: sent together, or one load shared by several callers. */
import { CrmError } from './errors.js';

/**
 * Independent upstream calls sent together. The first failure cancels the others: their answer
 * could no longer be used, so they must not go on retrying against the CRM's rate limit.
 */
export async function together<T extends readonly unknown[]>(
  signal: AbortSignal | undefined,
  calls: { readonly [K in keyof T]: (signal: AbortSignal) => Promise<T[K]> },
): Promise<T> {
  const shared = new AbortController();
  const follow = () => shared.abort(signal?.reason);
  if (signal?.aborted) follow();
  else signal?.addEventListener('abort', follow, { once: true });
  try {
    return (await Promise.all(
      (calls as ReadonlyArray<(s: AbortSignal) => Promise<unknown>>).map((call) =>
        call(shared.signal).catch((e: unknown) => {
          shared.abort();
          throw e;
        }),
      ),
    )) as unknown as T;
  } finally {
    signal?.removeEventListener('abort', follow);
  }
}

/**
 * Waits for a promise other callers share (a directory load), but lets this caller walk away when
 * its own signal aborts; the shared work goes on for the others.
 */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined, provider: string): Promise<T> {
  if (!signal) return p;
  const cancelled = () => new CrmError('cancelled', `The request to ${provider} was cancelled.`, { provider });
  if (signal.aborted) return Promise.reject(cancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
