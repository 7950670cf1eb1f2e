/**
 * The unified CRM model (snake_case, as in Truto's unified CRM pages). All ids are strings.
 * These schemas are the single source for provider results, tool output schemas and tests.
 */
import * as z from 'zod';
import { ACTIVITY_TYPES, DEAL_STATUSES, PROJECT_STATUSES, SEARCH_TYPES, STAGE_STATUSES } from './statuses.js';

export const Ref = z.object({ id: z.string(), name: z.string().optional() });
export type Ref = z.infer<typeof Ref>;

const RemoteData = z.record(z.string(), z.unknown());
const Timestamp = z.string();
/** Money per currency code, e.g. {"USD": 12000, "EUR": 300}. */
export const Values = z.record(z.string(), z.number());
export type Values = z.infer<typeof Values>;

export { ACTIVITY_TYPES, DEAL_STATUSES, PROJECT_STATUSES, SEARCH_TYPES, STAGE_STATUSES };

export const Stage = z.object({
  id: z.string(),
  name: z.string(),
  pipeline: Ref.nullable(),
  position: z.number().int(),
  status: z.enum(STAGE_STATUSES),
  probability: z.number().optional(),
  color: z.string().optional(),
  created_at: Timestamp.optional(),
  updated_at: Timestamp.optional(),
  remote_data: RemoteData.optional(),
});
export type Stage = z.infer<typeof Stage>;

/** Open deals standing in one stage: how many and how much, per currency. */
export const DealSummary = z.object({ count: z.number().int(), values: Values });
export type DealSummary = z.infer<typeof DealSummary>;

export const Pipeline = z.object({
  id: z.string(),
  name: z.string(),
  stages: z.array(Stage.extend({ open_deals: DealSummary.optional() })).optional(),
  is_deal_probability_enabled: z.boolean().optional(),
  /** Open deals across the whole pipeline (get_pipeline only, where deals are available). */
  open_deals: DealSummary.optional(),
  created_at: Timestamp.optional(),
  updated_at: Timestamp.optional(),
  remote_data: RemoteData.optional(),
});
export type Pipeline = z.infer<typeof Pipeline>;
export type StageWithDeals = Stage & { open_deals?: DealSummary };

export const Deal = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(DEAL_STATUSES),
  pipeline: Ref,
  stage: Ref,
  amount: z.number().optional(),
  currency: z.string().optional(),
  owner: Ref.optional(),
  account: Ref.optional(),
  close_date: z.string().optional(),
  stage_changed_at: Timestamp.optional(),
  created_at: Timestamp.optional(),
  updated_at: Timestamp.optional(),
  remote_data: RemoteData.optional(),
});
export type Deal = z.infer<typeof Deal>;

export const Project = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().optional(),
  status: z.enum(PROJECT_STATUSES).optional(),
  amount: z.number().optional(),
  currency: z.string().optional(),
  close_date: z.string().optional(),
  owner: Ref.optional(),
  account: Ref.optional(),
  contact: z.array(Ref).optional(),
  opportunity: z.array(Ref).optional(),
  stage: Ref.optional(),
  tags: z.array(Ref).optional(),
  custom_fields: z.record(z.string(), z.unknown()).optional(),
  last_activity_at: Timestamp.optional(),
  created_at: Timestamp.optional(),
  updated_at: Timestamp.optional(),
  remote_data: RemoteData.optional(),
});
export type Project = z.infer<typeof Project>;

/** An organization, company or party. */
export const Account = z.object({
  id: z.string(),
  name: z.string(),
  domain: z.string().optional(),
  industry: z.string().optional(),
  owner: Ref.optional(),
  created_at: Timestamp.optional(),
  updated_at: Timestamp.optional(),
  remote_data: RemoteData.optional(),
});
export type Account = z.infer<typeof Account>;

/** A person (prospect). `name` is the CRM's full name, or first and last name joined. */
export const Contact = z.object({
  id: z.string(),
  name: z.string(),
  first_name: z.string().optional(),
  last_name: z.string().optional(),
  emails: z.array(z.string()).optional(),
  phones: z.array(z.string()).optional(),
  title: z.string().optional(),
  account: Ref.optional(),
  owner: Ref.optional(),
  created_at: Timestamp.optional(),
  updated_at: Timestamp.optional(),
  remote_data: RemoteData.optional(),
});
export type Contact = z.infer<typeof Contact>;

/** Someone who can own records. */
export const User = z.object({
  id: z.string(),
  name: z.string(),
  email: z.string().optional(),
  active: z.boolean().optional(),
  remote_data: RemoteData.optional(),
});
export type User = z.infer<typeof User>;

export type ActivityType = (typeof ACTIVITY_TYPES)[number];

/**
 * A note, task, call, meeting or email, always on at least one record (deal, account, contact or
 * project): a note that belongs to nothing is lost to the next conversation. `overdue` is never
 * stored nor sent by a CRM: the tool layer derives it (see isOverdue).
 */
export const Activity = z.object({
  id: z.string(),
  type: z.enum(ACTIVITY_TYPES),
  subject: z.string().optional(),
  body: z.string().optional(),
  due_date: z.string().optional(),
  done: z.boolean().optional(),
  overdue: z.boolean().optional(),
  owner: Ref.optional(),
  deal: Ref.optional(),
  account: Ref.optional(),
  contact: Ref.optional(),
  project: Ref.optional(),
  created_at: Timestamp.optional(),
  updated_at: Timestamp.optional(),
  remote_data: RemoteData.optional(),
});
export type Activity = z.infer<typeof Activity>;

/** The records an activity can hang on, as write fields and as the model's references. */
export const ACTIVITY_PARENTS = ['deal_id', 'account_id', 'contact_id', 'project_id'] as const;
export const ACTIVITY_PARENT_REFS = ['deal', 'account', 'contact', 'project'] as const;

/** Today's date in UTC, YYYY-MM-DD: what "overdue" is measured against. */
export const todayUtc = (now: Date = new Date()): string => now.toISOString().slice(0, 10);

/**
 * Overdue: not done, and due before today (UTC). Notes have no due date, so never; a call or
 * meeting planned for yesterday and not marked done is overdue like a task.
 */
export const isOverdue = (a: Pick<Activity, 'done' | 'due_date'>, today: string = todayUtc()): boolean =>
  a.done === false && a.due_date !== undefined && a.due_date.slice(0, 10) < today;

export type SearchType = (typeof SEARCH_TYPES)[number];

/** One answer of `search`: a name to an id, with a short detail (a deal's stage and owner...). */
export const SearchResult = z.object({
  type: z.enum(SEARCH_TYPES),
  id: z.string(),
  name: z.string(),
  detail: z.string().optional(),
});
export type SearchResult = z.infer<typeof SearchResult>;

/** Which connection answered: in every structuredContent, so several CRMs are never confused. */
export const ConnectionRef = z.object({ name: z.string(), provider: z.string() });
export type ConnectionRef = z.infer<typeof ConnectionRef>;

export const Period = z.object({ start_date: z.string(), end_date: z.string() });
export type Period = z.infer<typeof Period>;

export const ConversionStats = z.object({
  pipeline: Ref,
  period: Period,
  /** Whose deals were counted; absent = every owner's. */
  user: Ref.optional(),
  stage_conversions: z.array(
    z.object({ from_stage: Ref, to_stage: Ref, conversion_rate: z.number() }),
  ),
  won_conversion: z.number(),
  lost_conversion: z.number(),
  remote_data: RemoteData.optional(),
});
export type ConversionStats = z.infer<typeof ConversionStats>;

export const DealGroup = z.object({ count: z.number().int(), deal_ids: z.array(z.string()), values: Values });
export type DealGroup = z.infer<typeof DealGroup>;

export const MovementStats = z.object({
  pipeline: Ref,
  period: Period,
  /** Whose deals were counted; absent = every owner's. */
  user: Ref.optional(),
  movements_between_stages: z.object({ count: z.number().int() }),
  new_deals: DealGroup,
  deals_left_open: DealGroup,
  won_deals: DealGroup,
  lost_deals: DealGroup,
  average_age_in_days: z.object({
    across_all_stages: z.number(),
    by_stages: z.array(z.object({ stage: Ref, value: z.number() })),
  }),
  remote_data: RemoteData.optional(),
});
export type MovementStats = z.infer<typeof MovementStats>;

export const Connection = z.object({
  name: z.string(),
  provider: z.string(),
  default: z.boolean(),
  /** Operation names per resource, e.g. {"stages": ["list","get"]}. */
  supports: z.record(z.string(), z.array(z.string())),
});
export type Connection = z.infer<typeof Connection>;

// ---------------------------------------------------------------------------------------------
// Arguments: what a caller may send. Every string, list and free-form object has a bound, so no
// request carries (and no answer echoes) unbounded input. Bounds only a broken or hostile caller
// reaches are checked but not written into the JSON Schema (refinements are not exported): every
// byte of tools/list is paid in each conversation. Messages are predicates: the tool layer puts
// the argument's name before them ("`deal_id` is too long: ...").

export const LIMITS = {
  /**
   * Ids: Pipedrive, Capsule and Insightly use integers, Salesforce 18 characters, Zoho 19 digits,
   * Dynamics and Attio 36-character UUIDs; 128 leaves room for the composite ids some unified APIs
   * build.
   */
  id: 128,
  /** Names and titles: the single-line text field of most CRMs holds 255 (Pipedrive, HubSpot). */
  name: 255,
  /**
   * Free text (descriptions): about four pages. CRMs take more (Salesforce long text 32,768,
   * Pipedrive large text 65,000) but an agent writing more into one field is almost surely wrong,
   * and the record has to come back whole in a detailed answer.
   */
  text: 10_000,
  /** Connection names, as a config file may name them ([A-Za-z0-9_-]{1,64}). */
  connection: 64,
  /** Our cursors wrap the CRM's own, which run to a few hundred characters (Truto's). */
  cursor: 2_048,
  /** Idempotency keys: Stripe's convention (255), which agents and SDKs follow. */
  key: 255,
  /** Items of a list of references (a project's contacts, deals, tags). */
  refs: 100,
  /** A contact's email addresses or phone numbers: CRMs keep a handful (Pipedrive, HubSpot). */
  contactPoints: 20,
  /** An email address: RFC 5321's 254 characters. */
  email: 254,
  /** A phone number as written, extension and punctuation included. */
  phone: 64,
  /** Free-form objects (custom_fields, remote_data, remote_query): CRMs store flat name -> value fields. */
  freeForm: { depth: 5, values: 200, json: 20_000 },
} as const;

const count = (n: number) => n.toLocaleString('en-US');

/** What a wrong value was, without echoing it: "a list", "text", "-1". */
export const describeKind = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'a list'
      : typeof v === 'string'
        ? 'text'
        : typeof v === 'number'
          ? String(v)
          : typeof v === 'object'
            ? 'an object'
            : `a ${typeof v}`;

/** Text of at most `max` characters; too long is an error that says by how much, never echoes it. */
export const boundedText = (max: number) =>
  z.string().refine((s) => s.length <= max, {
    error: (iss) => `is too long: ${count((iss.input as string).length)} characters, at most ${count(max)}`,
  });

/** A list of at most `max` items. */
export const boundedList = <T extends z.ZodType>(item: T, max: number) =>
  z.array(item).refine((a) => a.length <= max, {
    error: (iss) => `has too many items: ${count((iss.input as unknown[]).length)}, at most ${count(max)}`,
  });

/** Name-like text: not empty ("minLength": 1 is advertised), at most 255 characters. */
export const NameArg = boundedText(LIMITS.name).min(1);

/** An email address: something@somewhere, no spaces, at most 254 characters. */
export const EmailArg = boundedText(LIMITS.email).refine((s) => s.length > LIMITS.email || /^[^\s@]+@[^\s@]+$/.test(s), {
  error: 'must be an email address such as ana@example.com',
});

/** A phone number as written: at least one digit, at most 64 characters. */
export const PhoneArg = boundedText(LIMITS.phone).refine((s) => s.length > LIMITS.phone || /\d/.test(s), {
  error: 'must be a phone number with digits, e.g. +1 555 0100',
});

/**
 * An id as a caller sends it: text, or a whole number (LLMs and CLIs send `"deal_id": 5`), used as
 * its decimal string. The JSON Schema says `"type": "string"`, what every model sends by default:
 * `["string", "integer"]` would cost 12 bytes per id in tools/list (400 in all) and trips clients
 * that turn tool schemas into single-type dialects. `missing` completes "is required" with where to
 * find one.
 */
export function idArg(missing?: string) {
  return z.preprocess(
    (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : v),
    z
      .string({
        error: (iss) =>
          iss.input === undefined
            ? `is required${missing ? `: ${missing}` : ''}`
            : `must be an id: text, or a whole number of 0 or more (got ${describeKind(iss.input)})`,
      })
      .refine((s) => s.length >= 1 && s.length <= LIMITS.id, {
        error: (iss) =>
          (iss.input as string).length === 0
            ? 'must not be empty'
            : `is too long for an id: ${count((iss.input as string).length)} characters, at most ${LIMITS.id}`,
      }),
  );
}

/** ISO 4217 code; the JSON Schema keeps the pattern, the message says it in words. */
export const CurrencyArg = z
  .string()
  .regex(/^[A-Z]{3}$/, { error: 'must be a 3-letter ISO 4217 code in capitals, e.g. EUR' })
  .describe('ISO 4217');

/** A real calendar date written YYYY-MM-DD (2026-02-30 is not one). */
export function isCalendarDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/** Every date argument, checked once here; the JSON Schema says `"format": "date"`. */
export const IsoDate = z
  .string()
  .refine(isCalendarDate, { error: 'must be a calendar date written YYYY-MM-DD, e.g. 2026-03-31' })
  .meta({ format: 'date' });

/**
 * Where a free-form object breaks the bounds of LIMITS.freeForm, as a predicate; undefined when
 * it fits. Walks with an explicit stack: the input may be nested thousands of levels deep.
 */
export function freeFormProblem(root: object): string | undefined {
  const { depth: maxDepth, values: maxValues, json: maxJson } = LIMITS.freeForm;
  let values = 0;
  const stack: Array<[object, number]> = [[root, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (depth > maxDepth) {
      return `is nested more than ${maxDepth} levels deep; CRM fields are flat: send field names with plain values (a value may be a list or a small object)`;
    }
    const children = Array.isArray(node) ? node : Object.values(node);
    values += children.length;
    if (values > maxValues) return `holds more than ${maxValues} values in all; send only the fields to set`;
    for (const child of children) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  const size = JSON.stringify(root).length;
  if (size > maxJson) return `is ${count(size)} characters as JSON, more than ${count(maxJson)}; send only the fields to set`;
  return undefined;
}

/** custom_fields, remote_data, remote_query: field names to values, bounded in depth and size. */
export const FreeForm = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  const problem = freeFormProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
