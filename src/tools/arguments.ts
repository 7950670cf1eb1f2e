/**
 * Tool arguments are validated here, not by the SDK: zod's own messages quote unknown keys and
 * object keys whole and read like a validator dump. Here every problem becomes a short sentence
 * an agent can act on ("`deal_id` is too long: 1,048,576 characters, at most 128"), quoting at
 * most an excerpt of anything the caller sent.
 */
import type * as z from 'zod';
import { excerpt } from '../crm/errors.js';
import { describeKind } from '../crm/model.js';

/**
 * Values (list items and object entries, at every level) one call may carry. A real call carries
 * a few dozen; the largest valid one (three lists of 100 references, two free-form objects of 200
 * values) about 1,000. The bound keeps a hostile one from costing the validator a million issues.
 */
export const MAX_ARGUMENT_VALUES = 2_000;
/** Problems one answer lists; the rest are counted. */
const MAX_PROBLEMS = 3;
/** How much of a key (an unknown argument, a field name in custom_fields) a message quotes. */
const KEY_EXCERPT = 40;

const count = (n: number) => n.toLocaleString('en-US');

const EXPECTED: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  record: 'an object',
  array: 'a list',
};

/** zod's issues as predicates that follow the argument's name; schema-level messages win over these. */
const predicate: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? 'is required'
        : `must be ${EXPECTED[issue.expected] ?? issue.expected} (got ${describeKind(issue.input)})`;
    case 'too_big': {
      const max = count(Number(issue.maximum));
      if (issue.origin === 'string') return `is too long: ${count(String(issue.input).length)} characters, at most ${max}`;
      if (issue.origin === 'array') return `has too many items: ${count((issue.input as unknown[]).length)}, at most ${max}`;
      return issue.inclusive ? `must be at most ${max}` : `must be less than ${max}`;
    }
    case 'too_small': {
      const min = count(Number(issue.minimum));
      if (issue.origin === 'string') return Number(issue.minimum) === 1 ? 'must not be empty' : `must have at least ${min} characters`;
      if (issue.origin === 'array') return `needs at least ${min} item${min === '1' ? '' : 's'}`;
      return issue.inclusive ? `must be at least ${min}` : `must be more than ${min}`;
    }
    case 'invalid_value':
      return `${issue.input === undefined ? 'is required, one of' : 'must be one of'}: ${issue.values.map(String).join(', ')}`;
    case 'invalid_format':
      return 'is not in the expected format';
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_union':
      return 'matches none of the accepted forms';
    case 'invalid_key':
    case 'invalid_element':
      return 'holds a value that is not accepted';
    default:
      return undefined; // custom refinements carry their own sentence
  }
};

/** `custom_fields.stage`, `contact[2].id`: where a problem is, each key cut to an excerpt. */
function where(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${excerpt(String(p), KEY_EXCERPT)}`))
    .join('');
}

function sentence(issue: z.core.$ZodIssue, accepted: readonly string[]): string {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.slice(0, MAX_PROBLEMS).map((k) => `\`${excerpt(k, KEY_EXCERPT)}\``);
    const more = issue.keys.length > MAX_PROBLEMS ? ` and ${count(issue.keys.length - MAX_PROBLEMS)} more` : '';
    const inside = issue.path.length ? ` in \`${where(issue.path)}\`` : '';
    const takes = issue.path.length ? '' : `; it takes ${accepted.join(', ') || 'no arguments'}`;
    return `unknown argument${issue.keys.length === 1 ? '' : 's'} ${keys.join(', ')}${more}${inside}${takes}`;
  }
  if (!issue.path.length) return `arguments ${issue.message}`;
  return `\`${where(issue.path)}\` ${issue.message}`;
}

/** Counts values (list items and object entries) up to `limit + 1`, without recursion. */
export function countValues(root: unknown, limit: number): number {
  let n = 0;
  const stack: unknown[] = [root];
  while (stack.length && n <= limit) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      n++;
      if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return n;
}

export type Parsed<T> = { success: true; data: T } | { success: false; message: string };

/** Validates a call's arguments; on failure, one sentence naming each problem (at most three). */
export function parseArguments<S extends z.ZodObject>(tool: string, schema: S, raw: unknown): Parsed<z.output<S>> {
  const values = countValues(raw, MAX_ARGUMENT_VALUES);
  if (values > MAX_ARGUMENT_VALUES) {
    return {
      success: false,
      message: `Invalid arguments for ${tool}: more than ${count(MAX_ARGUMENT_VALUES)} values in all (list items and object fields); send only what the call needs.`,
    };
  }
  const result = schema.safeParse(raw ?? {}, { error: predicate });
  if (result.success) return { success: true, data: result.data };
  const accepted = Object.keys(schema.shape);
  // Unknown arguments first: most often a typo, whose value would otherwise be lost.
  const issues = [...result.error.issues].sort(
    (a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'),
  );
  const more = issues.length > MAX_PROBLEMS ? `; and ${count(issues.length - MAX_PROBLEMS)} more` : '';
  const problems = issues.slice(0, MAX_PROBLEMS).map((i) => sentence(i, accepted));
  return { success: false, message: `Invalid arguments for ${tool}: ${problems.join('; ')}${more}.` };
}
