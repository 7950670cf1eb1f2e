/**
 * Canonical JSON: the one way crm-mcp turns a value into a stable string for fingerprints
 * (idempotency keys, cursor filters, the local store's keys). Object keys are sorted by UTF-16 code
 * unit at every depth and undefined members dropped, so key order never changes a fingerprint; array
 * order is kept, and an undefined array element reads as null, as in JSON.stringify.
 *
 * It walks the value with an explicit stack instead of recursion, so input nested 100,000 deep is
 * serialised like any other instead of overflowing the call stack; a cycle is an error.
 */
import { CrmError } from './errors.js';
import { sha256 } from './hash.js';

interface Frame {
  container: object;
  /** Sorted keys of an object; null for an array. */
  keys: string[] | null;
  next: number;
}

export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  const stack: Frame[] = [];
  const onPath = new Set<object>();

  const emit = (v: unknown): void => {
    if (v === null || typeof v !== 'object') {
      // Primitives only here, so JSON.stringify never recurses; functions and symbols read as null.
      out.push(JSON.stringify(v) ?? 'null');
      return;
    }
    if (onPath.has(v)) throw new CrmError('validation', 'A value refers to itself, so it cannot be written as JSON.');
    onPath.add(v);
    if (Array.isArray(v)) {
      out.push('[');
      stack.push({ container: v, keys: null, next: 0 });
    } else {
      const o = v as Record<string, unknown>;
      out.push('{');
      stack.push({ container: v, keys: Object.keys(o).filter((k) => o[k] !== undefined).sort(), next: 0 });
    }
  };

  emit(value);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    const size = frame.keys ? frame.keys.length : (frame.container as unknown[]).length;
    if (frame.next >= size) {
      out.push(frame.keys ? '}' : ']');
      stack.pop();
      onPath.delete(frame.container);
      continue;
    }
    const i = frame.next++;
    if (i > 0) out.push(',');
    if (frame.keys) {
      const key = frame.keys[i];
      out.push(`${JSON.stringify(key)}:`);
      emit((frame.container as Record<string, unknown>)[key]);
    } else {
      const element = (frame.container as unknown[])[i];
      if (element === undefined) out.push('null');
      else emit(element);
    }
  }
  return out.join('');
}

/** SHA-256 (hex) of the canonical JSON of `value`: equal for equal data whatever the key order. */
export function canonicalHash(value: unknown): string {
  return sha256(canonicalJson(value), 'hex');
}
