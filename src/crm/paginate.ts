/**
 * Opaque cursors. A tool cursor wraps the provider's native cursor for the start of a page plus how
 * many records of that page were already returned (the output cap can cut a page short), and a
 * fingerprint of the filters, so a cursor replayed with other filters is refused instead of
 * silently paging through a different result set.
 */
import { CrmError } from './errors.js';
import { sha256 } from './hash.js';

interface CursorState {
  /** Provider-native cursor of the page start (absent for the first page). */
  n?: string;
  /** Records of that page already returned. */
  s?: number;
  /** Filter fingerprint. */
  f: string;
}

export interface DecodedCursor {
  native?: string;
  skip: number;
}

export function filterFingerprint(scope: string, filters: Record<string, unknown>): string {
  const canonical = JSON.stringify(
    Object.keys(filters)
      .filter((k) => filters[k] !== undefined)
      .sort()
      .map((k) => [k, filters[k]]),
  );
  return sha256(`${scope}\u0000${canonical}`, 'base64url').slice(0, 10);
}

export function encodeCursor(fingerprint: string, native: string | undefined, skip = 0): string {
  const state: CursorState = { f: fingerprint };
  if (native !== undefined) state.n = native;
  if (skip > 0) state.s = skip;
  return Buffer.from(JSON.stringify(state), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, fingerprint: string): DecodedCursor {
  let state: CursorState;
  try {
    state = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorState;
    if (typeof state !== 'object' || state === null || typeof state.f !== 'string') throw new Error();
  } catch {
    throw new CrmError(
      'validation',
      'That cursor is not valid: pass back the next_cursor of the previous answer unchanged, or omit cursor to start from the first page.',
    );
  }
  if (state.f !== fingerprint) {
    throw new CrmError(
      'validation',
      'That cursor belongs to a list with other filters: repeat the same filters as the call that returned it, or omit cursor to start again.',
    );
  }
  return { native: state.n, skip: Math.max(0, Number(state.s ?? 0) | 0) };
}
