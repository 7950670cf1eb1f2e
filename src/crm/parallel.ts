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
