/**
 * What one answer may carry. A CRM record can be any size (a 20 MB deal title, a raw record with
 * thousands of fields); what reaches the agent cannot. Every string of a record longer than
 * FIELD_LIMIT is cut and says so, in text and structuredContent alike (both are rendered from the
 * cut record), and a record still too large for OUTPUT_CAP is cut harder, then loses its raw CRM
 * record, and only then is refused with a sentence saying how to ask for less.
 */
import type { ToolOutput } from './define.js';

/** About 25,000 characters: what Claude Code accepts from one tool call without truncating it. */
export const OUTPUT_CAP = 25_000;

/**
 * Longest string an answer carries whole. Concise answers show names and short fields; detailed
 * ones carry descriptions, as long as a caller may write one (LIMITS.text).
 */
export const FIELD_LIMIT = { concise: 2_000, detailed: 10_000 } as const;
/** Harder cuts, tried in turn when a record with cut fields is still over the cap. */
const HARDER = [500, 100];
/** Object keys longer than this are cut too (raw CRM records can have any keys). */
const KEY_LIMIT = 200;
/** Nesting kept in raw CRM records; deeper is cut (and never walked, so never overflows the stack). */
const MAX_DEPTH = 16;

const count = (n: number) => n.toLocaleString('en-US');

/** Size of a part of an answer as it travels: UTF-8 bytes of its JSON (escapes included). */
export const wireSize = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? '');

/** Characters JSON.stringify escapes in a string (a surrogate, paired or not, is left to it too). */
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/** wireSize of a string, without building its JSON when nothing in it is escaped. */
export const textWireSize = (text: string): number =>
  ESCAPED.test(text) ? wireSize(text) : Buffer.byteLength(text) + 2;

export interface WireSizes {
  text: number;
  structured: number;
}

// Sizes of answers already measured, by identity: a copy or a new answer is measured afresh.
const measured = new WeakMap<ToolOutput, WireSizes>();

/** Records the exact wire sizes of `out` (as `sizesOf` would measure them), so no one measures it again. */
export function withSizes(out: ToolOutput, sizes: WireSizes): ToolOutput {
  measured.set(out, sizes);
  return out;
}

/** wireSize of an answer's text and of its structuredContent. */
export const sizesOf = (out: ToolOutput): WireSizes =>
  measured.get(out) ?? withSizesOf(out, { text: wireSize(out.text), structured: wireSize(out.structured) });

const withSizesOf = (out: ToolOutput, sizes: WireSizes): WireSizes => (measured.set(out, sizes), sizes);

export const fits = (out: ToolOutput, cap = OUTPUT_CAP): boolean => {
  const sizes = sizesOf(out);
  return sizes.text <= cap && sizes.structured <= cap;
};

/** `text` cut to `max` characters, saying how long it was. Never splits a surrogate pair. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
  return `${text.slice(0, end)}…[cut: ${count(text.length)} characters in all]`;
}

/** `value` with every string longer than `max` cut; unchanged parts are shared, not copied. */
export function cutStrings<T>(value: T, max: number): T {
  return cut(value, max, 0) as T;
}

// Every record of every answer is walked: loops over indices and keys, no array of entries per object.
function cut(value: unknown, max: number, depth: number): unknown {
  if (typeof value === 'string') return cutText(value, max);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) return `[cut: nested deeper than ${MAX_DEPTH} levels]`;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i += 1) {
      if (!(i in value)) continue; // a hole stays a hole
      const item: unknown = value[i];
      const c = cut(item, max, depth + 1);
      if (c !== item) (copy ??= value.slice())[i] = c;
    }
    return copy ?? value;
  }
  const record = value as Record<string, unknown>;
  const keyMax = Math.min(max, KEY_LIMIT);
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(record)) {
    const item = record[key];
    const c = cut(item, max, depth + 1);
    const k = cutText(key, keyMax);
    if (c === item && k === key) continue;
    copy ??= { ...record };
    if (k !== key) delete copy[key];
    copy[k] = c;
  }
  return copy ?? value;
}

/**
 * Renders `record` cut to fit one answer: fields cut at the response format's limit, then harder,
 * then without its raw CRM record. Undefined when even that is too large (e.g. a pipeline with
 * thousands of stages); the caller decides what to say.
 */
export function fitRecord<T>(record: T, detailed: boolean, render: (record: T) => ToolOutput, cap = OUTPUT_CAP): ToolOutput | undefined {
  for (const max of [detailed ? FIELD_LIMIT.detailed : FIELD_LIMIT.concise, ...HARDER]) {
    const out = render(cutStrings(record, max));
    if (fits(out, cap)) return out;
  }
  const raw = (record as { remote_data?: unknown } | null)?.remote_data;
  if (typeof raw === 'object' && raw !== null) {
    const note = `[cut: the raw CRM record is ${count(wireSize(raw))} bytes as JSON, too large for one answer]`;
    return fitRecord({ ...record, remote_data: note } as T, detailed, render, cap);
  }
  return undefined;
}

/** Why an answer was withheld, and how to ask for less. */
export function tooLargeText(what: string, detailed: boolean, withRemoteData: boolean): string {
  const less = [detailed && 'response_format concise', withRemoteData && 'no include_remote_data'].filter(Boolean);
  return (
    `${what} is too large for one answer (more than ${count(OUTPUT_CAP)} characters even with long fields cut)` +
    (less.length ? `; ask for less: ${less.join(', ')}.` : '; it can only be read in the CRM itself.')
  );
}
