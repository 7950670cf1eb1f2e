/**
 * Pipedrive <-> unified model, both ways. Pure functions: no I/O, so they are unit-tested alone.
 * Native shapes follow Pipedrive's API v2 (pipelines, stages, deals, organizations, persons,
 * activities, search) and v1 (users, notes, pipeline statistics); see provider-apis.md §2 and the
 * official specs in ../shared/specs/pipedrive/.
 */
import { CrmError, excerpt } from '../../crm/errors.js';
import {
  DEAL_STATUSES,
  type Account,
  type Activity,
  type ActivityType,
  type Contact,
  type User,
  type ConversionStats,
  type Deal,
  type DealGroup,
  type DealSummary,
  type MovementStats,
  type Period,
  type Pipeline,
  type Ref,
  type Stage,
  type Values,
} from '../../crm/model.js';
import type { AccountInput, ActivityInput, ContactInput, DealInput, PipelineInput, SearchHit, StageInput } from '../../crm/provider.js';
import { compact, namedRef, positiveIntegerId, tallyOpenDeals, withRemoteData } from '../../crm/records.js';

// ---------------------------------------------------------------------------------------------
// Native shapes (only the fields we read; the rest rides along in remote_data).

export interface PdPipeline {
  id: number;
  name: string;
  order_nr?: number;
  is_selected?: boolean;
  is_deleted?: boolean;
  is_deal_probability_enabled?: boolean;
  add_time?: string | null;
  update_time?: string | null;
  [key: string]: unknown;
}

export interface PdStage {
  id: number;
  name: string;
  order_nr: number;
  pipeline_id: number;
  is_deleted?: boolean;
  deal_probability?: number | null;
  is_deal_rot_enabled?: boolean;
  days_to_rotten?: number | null;
  add_time?: string | null;
  update_time?: string | null;
  [key: string]: unknown;
}

export interface PdDeal {
  id: number;
  title: string;
  owner_id?: number | null;
  org_id?: number | null;
  person_id?: number | null;
  pipeline_id: number;
  stage_id: number;
  value?: number | null;
  currency?: string | null;
  status: string;
  is_deleted?: boolean;
  expected_close_date?: string | null;
  stage_change_time?: string | null;
  add_time?: string | null;
  update_time?: string | null;
  [key: string]: unknown;
}

export interface PdUser {
  id: number;
  name: string;
  email?: string;
  active_flag?: boolean;
  /** True for the user the API token belongs to. */
  is_you?: boolean;
  [key: string]: unknown;
}

export interface PdOrganization {
  id: number;
  name: string;
  owner_id?: number | null;
  /** A URL or a bare host name, as people type it. */
  website?: string | null;
  /** An option id of the company's industry field, not a name. */
  industry?: number | null;
  is_deleted?: boolean;
  add_time?: string | null;
  update_time?: string | null;
  [key: string]: unknown;
}

/** An email address or phone number of a person (API v2). */
export interface PdContactPoint {
  value: string;
  primary?: boolean;
  label?: string;
}

export interface PdPerson {
  id: number;
  name: string;
  first_name?: string | null;
  last_name?: string | null;
  owner_id?: number | null;
  org_id?: number | null;
  emails?: PdContactPoint[] | null;
  phones?: PdContactPoint[] | null;
  job_title?: string | null;
  is_deleted?: boolean;
  add_time?: string | null;
  update_time?: string | null;
  [key: string]: unknown;
}

/** An activity of API v2: `type` is the key of one of the company's activity types. */
export interface PdActivity {
  id: number;
  subject?: string | null;
  type: string;
  owner_id?: number | null;
  deal_id?: number | null;
  person_id?: number | null;
  org_id?: number | null;
  project_id?: number | null;
  due_date?: string | null;
  done?: boolean;
  /** The activity's note (HTML): the unified `body`. */
  note?: string | null;
  is_deleted?: boolean;
  add_time?: string | null;
  update_time?: string | null;
  [key: string]: unknown;
}

/** A note of API v1, which carries the names of what it hangs on. */
export interface PdNote {
  id: number;
  content: string;
  user_id?: number | null;
  deal_id?: number | null;
  person_id?: number | null;
  org_id?: number | null;
  project_id?: number | null;
  active_flag?: boolean;
  /** v1 timestamps: "YYYY-MM-DD HH:MM:SS", UTC. */
  add_time?: string | null;
  update_time?: string | null;
  user?: { name?: string; email?: string } | null;
  deal?: { title?: string } | null;
  organization?: { name?: string } | null;
  person?: { name?: string } | null;
  project?: { title?: string } | null;
  [key: string]: unknown;
}

/** One hit of /deals/search, /organizations/search or /persons/search (API v2). */
export interface PdSearchItem {
  id: number;
  type: string;
  name?: string;
  title?: string;
  status?: string;
  owner?: { id: number } | null;
  stage?: { id: number; name?: string } | null;
  organization?: { id: number; name?: string } | null;
  emails?: string[];
  [key: string]: unknown;
}

export interface PdConversionStats {
  stage_conversions: Array<{ from_stage_id: number; to_stage_id: number; conversion_rate: number }>;
  won_conversion: number;
  lost_conversion: number;
}

export interface PdDealGroup {
  count: number;
  deals_ids: number[];
  values: Record<string, number>;
  formatted_values?: Record<string, string>;
}

export interface PdMovementStats {
  movements_between_stages: { count: number };
  new_deals: PdDealGroup;
  deals_left_open: PdDealGroup;
  won_deals: PdDealGroup;
  lost_deals: PdDealGroup;
  average_age_in_days: {
    across_all_stages: number;
    by_stages: Array<{ stage_id: number; value: number }>;
  };
}

/** Request bodies as Pipedrive v2 takes them. */
export interface PdPipelineBody {
  name?: string;
  is_deal_probability_enabled?: boolean;
}

export interface PdStageBody {
  name?: string;
  pipeline_id?: number;
  deal_probability?: number;
}

export interface PdOrganizationBody {
  name?: string;
  owner_id?: number;
  website?: string;
}

export interface PdPersonBody {
  name?: string;
  owner_id?: number;
  org_id?: number;
  emails?: PdContactPoint[];
  phones?: PdContactPoint[];
  job_title?: string;
}

export interface PdActivityBody {
  subject?: string;
  type?: string;
  owner_id?: number;
  deal_id?: number;
  org_id?: number;
  person_id?: number;
  project_id?: number;
  due_date?: string;
  done?: boolean;
  note?: string;
}

export interface PdNoteBody {
  content?: string;
  user_id?: number;
  deal_id?: number;
  org_id?: number;
  person_id?: number;
  project_id?: number;
}

export interface PdDealBody {
  title?: string;
  pipeline_id?: number;
  stage_id?: number;
  value?: number;
  currency?: string;
  status?: Deal['status'];
  owner_id?: number;
  org_id?: number;
  expected_close_date?: string;
}

// ---------------------------------------------------------------------------------------------
// Names: records read as names, not bare ids. Lookups are filled by the provider's caches.

export interface Names {
  pipelines?: ReadonlyMap<number, string>;
  stages?: ReadonlyMap<number, string>;
  users?: ReadonlyMap<number, string>;
  orgs?: ReadonlyMap<number, string>;
  persons?: ReadonlyMap<number, string>;
  deals?: ReadonlyMap<number, string>;
}

const refOf = namedRef;

const optionalRef = (id: number | null | undefined, names: ReadonlyMap<number, string> | undefined): Ref | undefined =>
  id == null ? undefined : refOf(id, names);

/** Where an agent finds the ids of each kind of record (the same tools unknownReference names). */
export const FIND = {
  deal: 'Call list_deals or search (types: deals) to see valid deal ids.',
  user: 'Find ids with list_users or search (types: users).',
  organization: 'Find ids with search (types: accounts) or list_accounts.',
  person: 'Find ids with search (types: contacts) or list_contacts.',
  activity: 'Find ids with list_activities.',
  project: 'Pipedrive project ids are whole numbers, as Pipedrive shows them.',
} as const;

/** Pipedrive ids are positive integers; anything else cannot exist upstream. `where`: a tool name, or a sentence ending in a full stop. */
export const nativeId = (id: string, what: string, where: string): number => positiveIntegerId('Pipedrive', id, what, where);

/** A user id a request names: a whole number, or a sentence pointing at list_users. */
export const userId = (id: string): number => nativeId(id, 'user', FIND.user);
export const orgId = (id: string): number => nativeId(id, 'organization', FIND.organization);
export const personId = (id: string): number => nativeId(id, 'person', FIND.person);
export const dealId = (id: string): number => nativeId(id, 'deal', FIND.deal);
export const projectId = (id: string): number => nativeId(id, 'project', FIND.project);

/** Notes and activities are two collections in Pipedrive: a note's unified id is "note-<id>". */
export const NOTE_PREFIX = 'note-';

export type ActivityKey = { kind: 'activity' | 'note'; id: number };

export function activityKey(id: string): ActivityKey {
  const trimmed = id.trim();
  if (trimmed.toLowerCase().startsWith(NOTE_PREFIX)) {
    return { kind: 'note', id: nativeId(trimmed.slice(NOTE_PREFIX.length), 'note', FIND.activity) };
  }
  return { kind: 'activity', id: nativeId(trimmed, 'activity', FIND.activity) };
}

const withRemote = withRemoteData;

const ts = (v: string | null | undefined): string | undefined => (v ? v : undefined);

// ---------------------------------------------------------------------------------------------
// Native -> unified

export function toPipeline(p: PdPipeline, opts: { remote?: boolean } = {}): Pipeline {
  return withRemote(
    compact<Pipeline>({
      id: String(p.id),
      name: p.name,
      is_deal_probability_enabled: p.is_deal_probability_enabled,
      created_at: ts(p.add_time),
      updated_at: ts(p.update_time),
    }),
    p,
    opts.remote,
  );
}

export function toStage(s: PdStage, names: Names = {}, opts: { remote?: boolean } = {}): Stage {
  return withRemote(
    compact<Stage>({
      id: String(s.id),
      name: s.name,
      pipeline: s.pipeline_id == null ? null : refOf(s.pipeline_id, names.pipelines),
      position: s.order_nr,
      // Pipedrive soft-deletes stages; a deleted stage still answers GET, marked is_deleted.
      status: s.is_deleted ? 'inactive' : 'active',
      probability: s.deal_probability ?? undefined,
      created_at: ts(s.add_time),
      updated_at: ts(s.update_time),
    }),
    s,
    opts.remote,
  );
}

export function dealStatus(status: string): Deal['status'] {
  if ((DEAL_STATUSES as readonly string[]).includes(status)) return status as Deal['status'];
  // Only 'deleted' remains (asked for explicitly, never by us): out of the pipeline, not open.
  return 'lost';
}

export function toDeal(d: PdDeal, names: Names = {}, opts: { remote?: boolean } = {}): Deal {
  return withRemote(
    compact<Deal>({
      id: String(d.id),
      name: d.title,
      status: dealStatus(d.status),
      pipeline: refOf(d.pipeline_id, names.pipelines),
      stage: refOf(d.stage_id, names.stages),
      amount: d.value ?? undefined,
      currency: d.currency ?? undefined,
      owner: d.owner_id == null ? undefined : refOf(d.owner_id, names.users),
      account: d.org_id == null ? undefined : refOf(d.org_id, names.orgs),
      close_date: d.expected_close_date ?? undefined,
      stage_changed_at: ts(d.stage_change_time),
      created_at: ts(d.add_time),
      updated_at: ts(d.update_time),
    }),
    d,
    opts.remote,
  );
}

// ---------------------------------------------------------------------------------------------
// Organizations, persons, users, activities, notes

/**
 * The host name of an organization's website ("https://www.acme.com/about" -> "acme.com"): what
 * the unified `domain` means. Text that is no URL is kept as typed.
 */
export function domainOf(website: string | null | undefined): string | undefined {
  const text = website?.trim();
  if (!text) return undefined;
  try {
    const host = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`).hostname;
    return host.replace(/^www\./i, '') || text;
  } catch {
    return text;
  }
}

export function toAccount(o: PdOrganization, names: Names = {}, opts: { remote?: boolean } = {}): Account {
  return withRemote(
    compact<Account>({
      id: String(o.id),
      name: o.name,
      domain: domainOf(o.website),
      owner: optionalRef(o.owner_id, names.users),
      created_at: ts(o.add_time),
      updated_at: ts(o.update_time),
    }),
    o,
    opts.remote,
  );
}

/** Values of a person's emails or phones, the primary one first. */
function contactPoints(list: PdContactPoint[] | null | undefined): string[] | undefined {
  const values = (list ?? []).filter((p) => typeof p?.value === 'string' && p.value.trim() !== '');
  if (!values.length) return undefined;
  return [...values.filter((p) => p.primary), ...values.filter((p) => !p.primary)].map((p) => p.value);
}

export function toContact(p: PdPerson, names: Names = {}, opts: { remote?: boolean } = {}): Contact {
  return withRemote(
    compact<Contact>({
      id: String(p.id),
      name: p.name,
      first_name: p.first_name || undefined,
      last_name: p.last_name || undefined,
      emails: contactPoints(p.emails),
      phones: contactPoints(p.phones),
      title: p.job_title || undefined,
      account: optionalRef(p.org_id, names.orgs),
      owner: optionalRef(p.owner_id, names.users),
      created_at: ts(p.add_time),
      updated_at: ts(p.update_time),
    }),
    p,
    opts.remote,
  );
}

export function toUser(u: PdUser, opts: { remote?: boolean } = {}): User {
  return withRemote(
    compact<User>({ id: String(u.id), name: u.name, email: u.email || undefined, active: u.active_flag }),
    u,
    opts.remote,
  );
}

/**
 * Activity types. Pipedrive's are per company (/activityTypes), each with a `key_string`; every
 * company starts with call, meeting, task, deadline, email and lunch. The unified types are sent
 * as the standard key of the same name. Read back, deadline counts as a task, lunch as a meeting,
 * and a company's own types as tasks (a dated to-do that can be done), their key in remote_data.
 * Notes are not activities in Pipedrive: they live in /v1/notes.
 */
const TYPE_KEYS: Record<Exclude<ActivityType, 'note'>, string> = { task: 'task', call: 'call', meeting: 'meeting', email: 'email' };
const READ_TYPES: Record<string, Exclude<ActivityType, 'note'>> = {
  call: 'call',
  meeting: 'meeting',
  lunch: 'meeting',
  email: 'email',
  task: 'task',
  deadline: 'task',
};

export const activityType = (key: string): Exclude<ActivityType, 'note'> => READ_TYPES[key] ?? 'task';
export const activityTypeKey = (type: Exclude<ActivityType, 'note'>): string => TYPE_KEYS[type];

/** A v1 timestamp ("2026-11-20 12:00:01", UTC) as ISO 8601, like API v2's. */
export function v1Time(v: string | null | undefined): string | undefined {
  if (!v) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})/.exec(v);
  return m ? `${m[1]}T${m[2]}Z` : v;
}

export function toActivity(a: PdActivity, names: Names = {}, opts: { remote?: boolean } = {}): Activity {
  return withRemote(
    compact<Activity>({
      id: String(a.id),
      type: activityType(a.type),
      subject: a.subject || undefined,
      body: a.note || undefined,
      due_date: a.due_date || undefined,
      done: Boolean(a.done),
      owner: optionalRef(a.owner_id, names.users),
      deal: optionalRef(a.deal_id, names.deals),
      account: optionalRef(a.org_id, names.orgs),
      contact: optionalRef(a.person_id, names.persons),
      project: optionalRef(a.project_id, undefined),
      created_at: ts(a.add_time),
      updated_at: ts(a.update_time),
    }),
    a,
    opts.remote,
  );
}

const named = (id: number | null | undefined, name: string | undefined): Ref | undefined =>
  id == null ? undefined : name ? { id: String(id), name } : { id: String(id) };

/** A note as an activity of type note; v1 answers carry the names of its deal, organization, person and author. */
export function noteToActivity(n: PdNote, opts: { remote?: boolean } = {}): Activity {
  return withRemote(
    compact<Activity>({
      id: `${NOTE_PREFIX}${n.id}`,
      type: 'note',
      body: n.content || undefined,
      owner: named(n.user_id, n.user?.name),
      deal: named(n.deal_id, n.deal?.title),
      account: named(n.org_id, n.organization?.name),
      contact: named(n.person_id, n.person?.name),
      project: named(n.project_id, n.project?.title),
      created_at: v1Time(n.add_time),
      updated_at: v1Time(n.update_time),
    }),
    n,
    opts.remote,
  );
}

const SEARCH_KIND = { deal: 'deals', organization: 'accounts', person: 'contacts' } as const;

/** One hit of a per-type search, with what its answer carries (owner names from `names.users`). */
export function toSearchHit(item: PdSearchItem, names: Names = {}): SearchHit | undefined {
  const type = SEARCH_KIND[item.type as keyof typeof SEARCH_KIND];
  const name = item.title ?? item.name;
  if (!type || typeof name !== 'string') return undefined;
  return compact<SearchHit>({
    type,
    id: String(item.id),
    name,
    status: type === 'deals' ? item.status : undefined,
    stage: item.stage ? named(item.stage.id, item.stage.name) : undefined,
    owner: item.owner ? refOf(item.owner.id, names.users) : undefined,
    account: item.organization ? named(item.organization.id, item.organization.name) : undefined,
    email: item.emails?.find((e) => typeof e === 'string' && e !== ''),
  });
}

/** Count and value per currency of open deals, per stage and for the whole pipeline. */
export function summarizeOpenDeals(deals: readonly PdDeal[]): {
  byStage: Map<number, DealSummary>;
  total: DealSummary;
} {
  return tallyOpenDeals(deals, (d) =>
    d.status !== 'open' || d.is_deleted ? undefined : { stage: d.stage_id, amount: d.value, currency: d.currency },
  );
}

export function toConversionStats(
  s: PdConversionStats,
  ctx: { pipeline: Ref; period: Period; stages?: ReadonlyMap<number, string> },
): ConversionStats {
  return {
    pipeline: ctx.pipeline,
    period: ctx.period,
    stage_conversions: s.stage_conversions.map((c) => ({
      from_stage: refOf(c.from_stage_id, ctx.stages),
      to_stage: refOf(c.to_stage_id, ctx.stages),
      conversion_rate: c.conversion_rate,
    })),
    won_conversion: s.won_conversion,
    lost_conversion: s.lost_conversion,
  };
}

function toDealGroup(g: PdDealGroup | undefined): DealGroup {
  return {
    count: g?.count ?? 0,
    deal_ids: (g?.deals_ids ?? []).map(String),
    values: { ...(g?.values ?? {}) } as Values,
  };
}

export function toMovementStats(
  s: PdMovementStats,
  ctx: { pipeline: Ref; period: Period; stages?: ReadonlyMap<number, string> },
): MovementStats {
  return {
    pipeline: ctx.pipeline,
    period: ctx.period,
    movements_between_stages: { count: s.movements_between_stages?.count ?? 0 },
    new_deals: toDealGroup(s.new_deals),
    deals_left_open: toDealGroup(s.deals_left_open),
    won_deals: toDealGroup(s.won_deals),
    lost_deals: toDealGroup(s.lost_deals),
    average_age_in_days: {
      across_all_stages: s.average_age_in_days?.across_all_stages ?? 0,
      by_stages: (s.average_age_in_days?.by_stages ?? []).map((b) => ({
        stage: refOf(b.stage_id, ctx.stages),
        value: b.value,
      })),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Unified -> native (request bodies). Only the fields the caller gave are sent.

function refuse(label: string, fields: string[], supported: string): never {
  throw new CrmError(
    'unsupported',
    `Pipedrive does not support ${fields.map((f) => `\`${f}\``).join(', ')} when writing a ${label}; supported fields: ${supported}.`,
  );
}

export function fromPipelineInput(input: PipelineInput): PdPipelineBody {
  const extra = Object.keys(input).filter(
    (k) => !['name', 'is_deal_probability_enabled'].includes(k) && (input as Record<string, unknown>)[k] !== undefined,
  );
  if (extra.length) refuse('pipeline', extra, 'name, is_deal_probability_enabled');
  return compact<PdPipelineBody>({
    name: input.name,
    is_deal_probability_enabled: input.is_deal_probability_enabled,
  });
}

export function fromStageInput(input: StageInput): PdStageBody {
  // order_nr is read-only in v2, stages have no colour, and deletion is the only "status" change.
  const extra = (['position', 'color', 'status'] as const).filter((k) => input[k] !== undefined);
  if (extra.length) refuse('stage', [...extra], 'pipeline_id, name, probability');
  if (input.probability !== undefined && !(Number.isInteger(input.probability) && input.probability >= 0 && input.probability <= 100)) {
    throw new CrmError(
      'validation',
      `Pipedrive stage probability must be a whole number from 0 to 100, not ${input.probability}.`,
    );
  }
  return compact<PdStageBody>({
    name: input.name,
    pipeline_id: input.pipeline_id === undefined ? undefined : nativeId(input.pipeline_id, 'pipeline', 'list_pipelines'),
    deal_probability: input.probability,
  });
}

/** A calendar date as Pipedrive takes it (and the unified model keeps it). */
export const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function fromDealInput(input: DealInput): PdDealBody {
  if (input.close_date !== undefined && !DATE.test(input.close_date)) {
    throw new CrmError('validation', `close_date must be a date as YYYY-MM-DD, not '${excerpt(input.close_date)}'.`);
  }
  if (input.status !== undefined && !(DEAL_STATUSES as readonly string[]).includes(input.status)) {
    throw new CrmError('validation', `Pipedrive does not accept deal status '${excerpt(input.status)}'; allowed: ${DEAL_STATUSES.join(', ')}.`);
  }
  if (input.currency !== undefined && !/^[A-Za-z]{3}$/.test(input.currency)) {
    throw new CrmError('validation', `currency must be a 3-letter code such as USD or EUR, not '${excerpt(input.currency)}'.`);
  }
  return compact<PdDealBody>({
    title: input.name,
    pipeline_id: input.pipeline_id === undefined ? undefined : nativeId(input.pipeline_id, 'pipeline', 'list_pipelines'),
    stage_id: input.stage_id === undefined ? undefined : nativeId(input.stage_id, 'stage', 'list_stages'),
    value: input.amount,
    currency: input.currency?.toUpperCase(),
    status: input.status,
    owner_id: input.owner_id === undefined ? undefined : userId(input.owner_id),
    org_id: input.account_id === undefined ? undefined : orgId(input.account_id),
    expected_close_date: input.close_date,
  });
}

/** Text a write sends: trimmed, and not empty. */
function text(value: string | undefined, field: string): string | undefined {
  if (value === undefined) return undefined;
  const t = value.trim();
  if (!t) throw new CrmError('validation', `\`${field}\` must not be empty.`);
  return t;
}

export function fromAccountInput(input: AccountInput): PdOrganizationBody {
  // Pipedrive's industry is an option of a company-defined list, not free text.
  if (input.industry !== undefined) refuse('account', ['industry'], 'name, domain, owner_id');
  return compact<PdOrganizationBody>({
    name: text(input.name, 'name'),
    owner_id: input.owner_id === undefined ? undefined : userId(input.owner_id),
    website: text(input.domain, 'domain'),
  });
}

/** Emails or phones as Pipedrive keeps them: the first one primary, all labelled "work". */
const toContactPoints = (values: string[] | undefined): PdContactPoint[] | undefined =>
  values?.map((value, i) => ({ value: value.trim(), primary: i === 0, label: 'work' }));

/** First and last name joined, as Pipedrive's `name` (it splits them again itself). */
export const joinName = (first: string | undefined | null, last: string | undefined | null): string =>
  [first, last].map((s) => s?.trim()).filter(Boolean).join(' ');

/**
 * A person's body. Pipedrive takes a whole `name`, so a change of only the first or the last name
 * needs the other one from `current`.
 */
export function fromContactInput(input: ContactInput, current?: Pick<PdPerson, 'first_name' | 'last_name' | 'name'>): PdPersonBody {
  const first = text(input.first_name, 'first_name');
  const last = text(input.last_name, 'last_name');
  let name: string | undefined;
  if (first !== undefined || last !== undefined) {
    name = joinName(first ?? current?.first_name, last ?? current?.last_name);
  }
  return compact<PdPersonBody>({
    name,
    owner_id: input.owner_id === undefined ? undefined : userId(input.owner_id),
    org_id: input.account_id === undefined ? undefined : orgId(input.account_id),
    emails: toContactPoints(input.emails),
    phones: toContactPoints(input.phones),
    job_title: text(input.title, 'title'),
  });
}

/** The parents of an activity or note, as Pipedrive names them. */
function parentsOf(input: ActivityInput) {
  return {
    deal_id: input.deal_id === undefined ? undefined : dealId(input.deal_id),
    org_id: input.account_id === undefined ? undefined : orgId(input.account_id),
    person_id: input.contact_id === undefined ? undefined : personId(input.contact_id),
    project_id: input.project_id === undefined ? undefined : projectId(input.project_id),
  };
}

export function fromActivityInput(input: ActivityInput): PdActivityBody {
  if (input.due_date !== undefined && !DATE.test(input.due_date)) {
    throw new CrmError('validation', `due_date must be a date as YYYY-MM-DD, not '${excerpt(input.due_date)}'.`);
  }
  return compact<PdActivityBody>({
    subject: text(input.subject, 'subject'),
    type: input.type === undefined || input.type === 'note' ? undefined : activityTypeKey(input.type),
    owner_id: input.owner_id === undefined ? undefined : userId(input.owner_id),
    ...parentsOf(input),
    due_date: input.due_date,
    done: input.done,
    note: input.body,
  });
}

/**
 * A note's body. Notes have no subject, due date or state: a subject becomes the note's first
 * line, so nothing the agent wrote is lost; owner_id is the note's author (user_id).
 */
export function fromNoteInput(input: ActivityInput): PdNoteBody {
  const extra = (['due_date', 'done'] as const).filter((k) => input[k] !== undefined);
  if (extra.length) {
    throw new CrmError('validation', `A note has no ${extra.join(' or ')}; make it a task (type: task) to track a to-do.`);
  }
  const subject = text(input.subject, 'subject');
  const body = input.body?.trim() ? input.body : undefined;
  return compact<PdNoteBody>({
    content: subject !== undefined && body !== undefined ? `${subject}\n\n${body}` : (subject ?? body),
    user_id: input.owner_id === undefined ? undefined : userId(input.owner_id),
    ...parentsOf(input),
  });
}
