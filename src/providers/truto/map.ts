/**
 * Truto unified CRM records <-> crm-mcp's unified model, both ways. Pure functions, no I/O.
 *
 * Truto is itself a unified API and uses the same snake_case names, so most fields map 1:1; what
 * is here is the defensive part: ids may arrive as numbers, optional fields may be missing or null,
 * enums vary per integration behind Truto, and `close_date` is a date-time at Truto but a date here.
 * Shapes follow provider-apis.md §1.4/§1.5 and the seeds 000/003/004.
 */
import { CrmError, excerpt } from '../../crm/errors.js';
import {
  PROJECT_STATUSES,
  type Account,
  type Activity,
  type ActivityType,
  type Contact,
  type Deal,
  type DealSummary,
  type Pipeline,
  type Project,
  type Ref,
  type Stage,
  type User,
} from '../../crm/model.js';
import type {
  AccountInput,
  ActivityInput,
  ContactInput,
  DealInput,
  IdRef,
  PipelineInput,
  ProjectInput,
  SearchHit,
  StageInput,
} from '../../crm/provider.js';
import { compact, tallyOpenDeals } from '../../crm/records.js';

// ---------------------------------------------------------------------------------------------
// Truto's unified shapes (only what we read; anything else stays in remote_data).

type Id = string | number;

export interface TrutoRef {
  id?: Id | null;
  name?: string | null;
  [key: string]: unknown;
}

export interface TrutoStage {
  id: Id;
  name?: string | null;
  position?: number | string | null;
  status?: string | null;
  pipeline?: TrutoRef | null;
  created_at?: string | null;
  updated_at?: string | null;
  remote_data?: Record<string, unknown> | null;
  [key: string]: unknown;
}

export interface TrutoPipeline {
  id: Id;
  name?: string | null;
  entity?: string | null;
  stages?: TrutoStage[] | null;
  created_at?: string | null;
  updated_at?: string | null;
  remote_data?: Record<string, unknown> | null;
  [key: string]: unknown;
}

export interface TrutoOpportunity {
  id: Id;
  name?: string | null;
  description?: string | null;
  amount?: number | string | null;
  currency?: string | null;
  owner?: TrutoRef | null;
  account?: TrutoRef | null;
  stage?: (TrutoRef & { pipeline?: TrutoRef | null }) | null;
  /** Not in Truto's published opportunity schema, but present for integrations with pipelines. */
  pipeline?: TrutoRef | null;
  status?: string | null;
  close_date?: string | null;
  created_at?: string | null;
  updated_at?: string | null;
  remote_data?: Record<string, unknown> | null;
  [key: string]: unknown;
}

export interface TrutoProject {
  id: Id;
  name?: string | null;
  description?: string | null;
  status?: string | null;
  amount?: number | string | null;
  currency?: string | null;
  close_date?: string | null;
  owner?: TrutoRef | null;
  account?: TrutoRef | null;
  contact?: TrutoRef[] | null;
  opportunity?: TrutoRef[] | null;
  stage?: TrutoRef | null;
  tags?: TrutoRef[] | null;
  custom_fields?: Record<string, unknown> | null;
  last_activity_at?: string | null;
  created_at?: string | null;
  updated_at?: string | null;
  remote_data?: Record<string, unknown> | null;
  [key: string]: unknown;
}

export interface MapOptions {
  /** Keep Truto's `remote_data` (the CRM's raw record); dropped otherwise (DESIGN §3). */
  include_remote_data?: boolean;
}

/**
 * Placeholder for a Deal's required pipeline/stage when Truto gives none (integrations without
 * pipelines). An empty id says "unknown" plainly instead of inventing a default pipeline.
 */
export const UNKNOWN_REF: Ref = Object.freeze({ id: '', name: '(unknown)' });

// ---------------------------------------------------------------------------------------------
// Small helpers

export function str(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** Truto ref -> Ref, or undefined when it has no usable id (Truto sends `{}` for "none"). */
export function toRef(v: unknown): Ref | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const r = v as TrutoRef;
  const id = str(r.id);
  if (id === undefined || id === '') return undefined;
  const name = str(r.name);
  return name === undefined || name === '' ? { id } : { id, name };
}

function toRefs(v: unknown): Ref[] | undefined {
  if (!Array.isArray(v)) return undefined;
  return v.map(toRef).filter((r): r is Ref => r !== undefined);
}

/** Truto documents `close_date` as a date-time; the unified model keeps dates as YYYY-MM-DD. */
export function toDate(v: unknown): string | undefined {
  const s = str(v);
  if (!s) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})(?:$|[T ])/.exec(s);
  return m ? m[1] : s;
}

function remote(v: unknown, opts: MapOptions): Record<string, unknown> | undefined {
  if (!opts.include_remote_data) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  return v as Record<string, unknown>;
}

function requireId(v: unknown, what: string): string {
  const id = str((v as { id?: unknown } | null)?.id);
  if (!id) throw new CrmError('upstream', `Truto returned a ${what} without an id; try again or check the integration.`);
  return id;
}

function idRef(r: IdRef | undefined): { id: string } | undefined {
  return r === undefined ? undefined : { id: r.id };
}

// ---------------------------------------------------------------------------------------------
// Stages

/** Truto's stage status is `active|inactive`; anything else (or nothing) counts as active. */
function stageStatus(v: unknown): Stage['status'] {
  return str(v)?.toLowerCase() === 'inactive' ? 'inactive' : 'active';
}

/**
 * `position` is a number at Truto and optional per integration; the model needs an integer, so
 * fractional positions are rounded and a missing one becomes `fallback` (the order Truto listed).
 */
export function stageFromTruto(s: TrutoStage, opts: MapOptions = {}, fallback?: { position?: number; pipeline?: Ref }): Stage {
  const position = num(s.position);
  return compact<Stage>({
    id: requireId(s, 'stage'),
    name: str(s.name) ?? '',
    pipeline: toRef(s.pipeline) ?? fallback?.pipeline ?? null,
    position: position === undefined ? (fallback?.position ?? 0) : Math.round(position),
    status: stageStatus(s.status),
    created_at: str(s.created_at),
    updated_at: str(s.updated_at),
    remote_data: remote(s.remote_data, opts),
  });
}

/** Truto stage write body: name, position and pipeline {id} are all Truto's stage body knows. */
export function stageToTruto(input: StageInput): Record<string, unknown> {
  return compact<Record<string, unknown>>({
    name: input.name,
    position: input.position,
    pipeline: input.pipeline_id === undefined ? undefined : { id: input.pipeline_id },
  });
}

// ---------------------------------------------------------------------------------------------
// Pipelines

export function pipelineFromTruto(p: TrutoPipeline, opts: MapOptions = {}): Pipeline {
  const id = requireId(p, 'pipeline');
  const name = str(p.name) ?? '';
  const self: Ref = name ? { id, name } : { id };
  const stages = Array.isArray(p.stages)
    ? p.stages
        // Embedded stages carry only {id} of their pipeline; the parent knows its name.
        .map((s, i) => stageFromTruto(s, opts, { position: i + 1, pipeline: self }))
        .map((s) => (s.pipeline && s.pipeline.id === id ? { ...s, pipeline: self } : s))
    : undefined;
  return compact<Pipeline>({
    id,
    name,
    stages,
    created_at: str(p.created_at),
    updated_at: str(p.updated_at),
    remote_data: remote(p.remote_data, opts),
  });
}

/** `is_deal_probability_enabled` has no Truto field; capabilities refuse it before we get here. */
export function pipelineToTruto(input: PipelineInput): Record<string, unknown> {
  return compact<Record<string, unknown>>({ name: input.name });
}

// ---------------------------------------------------------------------------------------------
// Deals (Truto "opportunities")

/**
 * Truto passes each CRM's status through its mapping; most give open/won/lost, some spell it
 * closed_won / closed-lost / WON. Anything else (e.g. "active") is still an open deal.
 */
export function dealStatus(v: unknown): Deal['status'] {
  const s = (str(v) ?? '').toLowerCase();
  if (/\bwon\b|_won\b|won$/.test(s)) return 'won';
  if (/\blost\b|_lost\b|lost$/.test(s)) return 'lost';
  return 'open';
}

export function dealFromTruto(o: TrutoOpportunity, opts: MapOptions = {}): Deal {
  const stage = toRef(o.stage);
  const pipeline = toRef(o.pipeline) ?? toRef(o.stage?.pipeline);
  return compact<Deal>({
    id: requireId(o, 'opportunity'),
    name: str(o.name) ?? '',
    status: dealStatus(o.status),
    pipeline: pipeline ?? { ...UNKNOWN_REF },
    stage: stage ?? { ...UNKNOWN_REF },
    amount: num(o.amount),
    currency: str(o.currency) || undefined,
    owner: toRef(o.owner),
    account: toRef(o.account),
    close_date: toDate(o.close_date),
    created_at: str(o.created_at),
    updated_at: str(o.updated_at),
    remote_data: remote(o.remote_data, opts),
  });
}

export function dealToTruto(input: DealInput): Record<string, unknown> {
  return compact<Record<string, unknown>>({
    name: input.name,
    amount: input.amount,
    currency: input.currency,
    status: input.status,
    close_date: input.close_date,
    stage: input.stage_id === undefined ? undefined : { id: input.stage_id },
    pipeline: input.pipeline_id === undefined ? undefined : { id: input.pipeline_id },
    owner: input.owner_id === undefined ? undefined : { id: input.owner_id },
    account: input.account_id === undefined ? undefined : { id: input.account_id },
  });
}

/**
 * Fields of Truto's opportunity that the unified Deal never shows; asking Truto to leave them out
 * (truto_exclude_fields[]) saves it computing them and us reading them.
 */
export const OPPORTUNITY_UNUSED_FIELDS = ['description', 'contact', 'tags', 'custom_fields', 'last_activity_at'] as const;

// ---------------------------------------------------------------------------------------------
// Projects

/**
 * Teamleader's project statuses (via Truto, provider-apis §1.5) are outside the unified enum;
 * these are the nearest unified words. Unknown values are left out (the raw value stays in
 * remote_data) rather than guessed.
 */
const PROJECT_STATUS_SYNONYMS: Record<string, NonNullable<Project['status']>> = {
  planned: 'not started',
  running: 'in progress',
  overdue: 'in progress',
  'over budget': 'in progress',
  active: 'in progress',
  done: 'completed',
  canceled: 'cancelled',
};

export function projectStatus(v: unknown): Project['status'] {
  const s = str(v)?.toLowerCase().replace(/[_-]+/g, ' ').replace(/\s+/g, ' ').trim();
  if (!s) return undefined;
  if ((PROJECT_STATUSES as readonly string[]).includes(s)) return s as Project['status'];
  return PROJECT_STATUS_SYNONYMS[s];
}

export function projectFromTruto(p: TrutoProject, opts: MapOptions = {}): Project {
  const custom = p.custom_fields;
  return compact<Project>({
    id: requireId(p, 'project'),
    name: str(p.name) ?? '',
    description: str(p.description),
    status: projectStatus(p.status),
    amount: num(p.amount),
    currency: str(p.currency) || undefined,
    close_date: toDate(p.close_date),
    owner: toRef(p.owner),
    account: toRef(p.account),
    contact: toRefs(p.contact),
    opportunity: toRefs(p.opportunity),
    stage: toRef(p.stage),
    tags: toRefs(p.tags),
    custom_fields:
      typeof custom === 'object' && custom !== null && !Array.isArray(custom) ? custom : undefined,
    last_activity_at: str(p.last_activity_at),
    created_at: str(p.created_at),
    updated_at: str(p.updated_at),
    remote_data: remote(p.remote_data, opts),
  });
}

/** Project write body: Truto's unified names; `remote_data` goes through as-is (Truto merges it). */
export function projectToTruto(input: ProjectInput): Record<string, unknown> {
  return compact<Record<string, unknown>>({
    name: input.name,
    description: input.description,
    status: input.status,
    amount: input.amount,
    currency: input.currency,
    close_date: input.close_date,
    owner: idRef(input.owner),
    account: idRef(input.account),
    stage: idRef(input.stage),
    contact: input.contact?.map((r) => ({ id: r.id })),
    opportunity: input.opportunity?.map((r) => ({ id: r.id })),
    tags: input.tags?.map((r) => ({ id: r.id })),
    custom_fields: input.custom_fields,
    remote_data: input.remote_data,
  });
}

// ---------------------------------------------------------------------------------------------
// Open deals per stage (get_pipeline)

/**
 * Count and value per currency of open deals, per stage and in total. A deal counts for the
 * pipeline when Truto names that pipeline, or names none and stands in one of its stages (some
 * integrations give opportunities a stage only).
 */
export function summarizeOpenDeals(
  deals: readonly Deal[],
  pipelineId: string,
  stageIds: ReadonlySet<string>,
): { byStage: Map<string, DealSummary>; total: DealSummary } {
  return tallyOpenDeals(deals, (d) => {
    const inPipeline = d.pipeline.id === pipelineId || (d.pipeline.id === '' && stageIds.has(d.stage.id));
    return d.status === 'open' && inPipeline ? { stage: d.stage.id, amount: d.amount, currency: d.currency } : undefined;
  });
}

// ---------------------------------------------------------------------------------------------
// Write answers

/**
 * A write answer that cannot stand for the record: nothing but an id (Teamleader answers
 * `{type, id}`), or no name. A full unified record always carries its name.
 */
export function isPartialRecord(rec: Record<string, unknown>): boolean {
  const keys = Object.keys(rec).filter((k) => k !== 'id' && k !== 'type' && k !== 'remote_data');
  return keys.length === 0 || rec.name === undefined || rec.name === null;
}

// ---------------------------------------------------------------------------------------------
// Accounts, contacts, users (Truto's unified CRM object pages)

const folded = (s: string): string => s.trim().replace(/\s+/g, ' ').toLocaleLowerCase('en-US');

/** The name filter of every list: the name contains the text, in any case (no text: any name). */
export const nameContains = (name: string, text: string | undefined): boolean =>
  text === undefined || folded(name).includes(folded(text));

/** The email filter of every list: the whole address, in any case. */
export const emailIs = (email: string | undefined, wanted: string | undefined): boolean =>
  wanted === undefined || (email !== undefined && folded(email) === folded(wanted));

export interface TrutoAccount {
  id: Id;
  name?: string | null;
  industry?: string | null;
  website?: string | null;
  owner?: TrutoRef | null;
  created_at?: string | null;
  updated_at?: string | null;
  remote_data?: Record<string, unknown> | null;
  [key: string]: unknown;
}

export interface TrutoContact {
  id: Id;
  name?: string | null;
  first_name?: string | null;
  last_name?: string | null;
  title?: string | null;
  account?: TrutoRef | null;
  owner?: TrutoRef | null;
  email_addresses?: Array<{ email?: string | null; type?: string | null }> | null;
  phone_numbers?: Array<{ number?: string | null; extension?: string | null; type?: string | null }> | null;
  created_at?: string | null;
  updated_at?: string | null;
  remote_data?: Record<string, unknown> | null;
  [key: string]: unknown;
}

export interface TrutoUser {
  id: Id;
  name?: string | null;
  email?: string | null;
  is_active?: boolean | null;
  remote_data?: Record<string, unknown> | null;
  [key: string]: unknown;
}

/**
 * An account's domain is the host of Truto's `website` ("https://www.acme.com/about" ->
 * "acme.com"); a website that is no URL is kept as written.
 */
export function domainOf(website: unknown): string | undefined {
  const w = str(website)?.trim();
  if (!w) return undefined;
  const m = /^(?:[a-z][a-z0-9+.-]*:\/\/)?([^/?#\s]+)/i.exec(w);
  const host = m ? m[1].replace(/^www\./i, '').toLowerCase() : w;
  return host || w;
}

export function accountFromTruto(a: TrutoAccount, opts: MapOptions = {}): Account {
  return compact<Account>({
    id: requireId(a, 'account'),
    name: str(a.name) ?? '',
    domain: domainOf(a.website),
    industry: str(a.industry) || undefined,
    owner: toRef(a.owner),
    created_at: str(a.created_at),
    updated_at: str(a.updated_at),
    remote_data: remote(a.remote_data, opts),
  });
}

/** Truto has no domain field: the domain goes in `website`, as given. */
export function accountToTruto(input: AccountInput): Record<string, unknown> {
  return compact<Record<string, unknown>>({
    name: input.name,
    website: input.domain,
    industry: input.industry,
    owner: input.owner_id === undefined ? undefined : { id: input.owner_id },
  });
}

const texts = <T>(list: T[] | null | undefined, pick: (item: T) => unknown): string[] =>
  (Array.isArray(list) ? list : []).map((i) => str(pick(i))?.trim()).filter((v): v is string => Boolean(v));

export function contactFromTruto(c: TrutoContact, opts: MapOptions = {}): Contact {
  const first = str(c.first_name) || undefined;
  const last = str(c.last_name) || undefined;
  const emails = texts(c.email_addresses, (e) => e?.email);
  const phones = texts(c.phone_numbers, (p) => p?.number);
  return compact<Contact>({
    id: requireId(c, 'contact'),
    name: str(c.name) || [first, last].filter(Boolean).join(' '),
    first_name: first,
    last_name: last,
    emails: emails.length ? emails : undefined,
    phones: phones.length ? phones : undefined,
    title: str(c.title) || undefined,
    account: toRef(c.account),
    owner: toRef(c.owner),
    created_at: str(c.created_at),
    updated_at: str(c.updated_at),
    remote_data: remote(c.remote_data, opts),
  });
}

/** Emails and phones become Truto's lists of objects, replacing the CRM's lists. */
export function contactToTruto(input: ContactInput): Record<string, unknown> {
  return compact<Record<string, unknown>>({
    first_name: input.first_name,
    last_name: input.last_name,
    title: input.title,
    email_addresses: input.emails?.map((email) => ({ email })),
    phone_numbers: input.phones?.map((number) => ({ number })),
    account: input.account_id === undefined ? undefined : { id: input.account_id },
    owner: input.owner_id === undefined ? undefined : { id: input.owner_id },
  });
}

export function userFromTruto(u: TrutoUser, opts: MapOptions = {}): User {
  return compact<User>({
    id: requireId(u, 'user'),
    name: str(u.name) ?? '',
    email: str(u.email) || undefined,
    active: typeof u.is_active === 'boolean' ? u.is_active : undefined,
    remote_data: remote(u.remote_data, opts),
  });
}

// ---------------------------------------------------------------------------------------------
// Activities: Truto's notes, tasks and engagements

/** The Truto resource behind each kind of activity id. */
export type ActivityKind = 'note' | 'task' | 'engagement';
export const ACTIVITY_RESOURCES = { note: 'notes', task: 'tasks', engagement: 'engagements' } as const;

/** Links every one of Truto's notes, tasks and engagements may carry. */
interface TrutoLinks {
  id: Id;
  owner?: TrutoRef | null;
  account?: TrutoRef | null;
  contact?: TrutoRef[] | null;
  opportunity?: TrutoRef[] | null;
  created_at?: string | null;
  updated_at?: string | null;
  remote_data?: Record<string, unknown> | null;
  [key: string]: unknown;
}

export interface TrutoNote extends TrutoLinks {
  title?: string | null;
  content?: string | null;
}

export interface TrutoTask extends TrutoLinks {
  subject?: string | null;
  content?: string | null;
  due_date?: string | null;
  completed_at?: string | null;
  /** open | completed */
  status?: string | null;
}

export interface TrutoEngagement extends TrutoLinks {
  subject?: string | null;
  content?: string | null;
  /** call, email, meeting, or the CRM's own word */
  engagement_type?: string | null;
  start_time?: string | null;
  project?: TrutoRef | null;
}

export type TrutoActivity = TrutoNote | TrutoTask | TrutoEngagement;

/**
 * Notes, tasks and engagements are separate records at Truto, each with its own ids, so an
 * activity id says which it is: "note:12", "task:7", "engagement:31".
 */
export const activityId = (kind: ActivityKind, id: string): string => `${kind}:${id}`;

export function parseActivityId(id: string): { kind: ActivityKind; id: string } {
  const at = id.indexOf(':');
  const kind = id.slice(0, at) as ActivityKind;
  const rest = id.slice(at + 1);
  if (at < 1 || !Object.hasOwn(ACTIVITY_RESOURCES, kind) || !rest) {
    throw new CrmError(
      'not_found',
      `No activity with id '${excerpt(id)}': Truto activity ids look like note:12, task:7 or engagement:31. Find ids with list_activities.`,
    );
  }
  return { kind, id: rest };
}

/** Truto's engagement_type as an activity type; other kinds (notes, chats, the CRM's own words) are none. */
export function engagementType(v: unknown): ActivityType | undefined {
  const t = str(v)?.toLowerCase();
  return t === 'call' || t === 'meeting' || t === 'email' ? t : undefined;
}

const firstRef = (v: unknown): Ref | undefined => toRefs(v)?.[0];

function links(n: TrutoLinks, opts: MapOptions) {
  return {
    owner: toRef(n.owner),
    deal: firstRef(n.opportunity),
    account: toRef(n.account),
    contact: firstRef(n.contact),
    created_at: str(n.created_at),
    updated_at: str(n.updated_at),
    remote_data: remote(n.remote_data, opts),
  };
}

export function noteFromTruto(n: TrutoNote, opts: MapOptions = {}): Activity {
  return compact<Activity>({
    id: activityId('note', requireId(n, 'note')),
    type: 'note',
    subject: str(n.title) || undefined,
    body: str(n.content) || undefined,
    ...links(n, opts),
  });
}

/** A task is done when Truto says `completed` (or gives a completion time without a status). */
export function taskDone(t: TrutoTask): boolean {
  const s = str(t.status)?.toLowerCase();
  return s ? s === 'completed' : Boolean(str(t.completed_at));
}

export function taskFromTruto(t: TrutoTask, opts: MapOptions = {}): Activity {
  return compact<Activity>({
    id: activityId('task', requireId(t, 'task')),
    type: 'task',
    subject: str(t.subject) || undefined,
    body: str(t.content) || undefined,
    due_date: toDate(t.due_date),
    done: taskDone(t),
    ...links(t, opts),
  });
}

/** An engagement's start is its due date; Truto gives engagements no done state. */
export function engagementFromTruto(e: TrutoEngagement, opts: MapOptions = {}): Activity {
  const type = engagementType(e.engagement_type);
  if (!type) {
    throw new CrmError('upstream', `Truto returned an engagement of type '${excerpt(str(e.engagement_type) ?? '')}', which is not a call, meeting or email.`);
  }
  return compact<Activity>({
    id: activityId('engagement', requireId(e, 'engagement')),
    type,
    subject: str(e.subject) || undefined,
    body: str(e.content) || undefined,
    due_date: toDate(e.start_time),
    project: toRef(e.project),
    ...links(e, opts),
  });
}

/** Owner and parents as Truto's notes, tasks and engagements take them (contacts and deals are lists). */
function linksToTruto(input: ActivityInput): Record<string, unknown> {
  return {
    owner: input.owner_id === undefined ? undefined : { id: input.owner_id },
    account: input.account_id === undefined ? undefined : { id: input.account_id },
    contact: input.contact_id === undefined ? undefined : [{ id: input.contact_id }],
    opportunity: input.deal_id === undefined ? undefined : [{ id: input.deal_id }],
  };
}

export function noteToTruto(input: ActivityInput): Record<string, unknown> {
  return compact<Record<string, unknown>>({ title: input.subject, content: input.body, ...linksToTruto(input) });
}

export function taskToTruto(input: ActivityInput): Record<string, unknown> {
  return compact<Record<string, unknown>>({
    subject: input.subject,
    content: input.body,
    due_date: input.due_date,
    status: input.done === undefined ? undefined : input.done ? 'completed' : 'open',
    ...linksToTruto(input),
  });
}

export function engagementToTruto(input: ActivityInput): Record<string, unknown> {
  return compact<Record<string, unknown>>({
    engagement_type: input.type,
    subject: input.subject,
    content: input.body,
    start_time: input.due_date,
    project: input.project_id === undefined ? undefined : { id: input.project_id },
    ...linksToTruto(input),
  });
}

/** Whether a note, task or engagement as Truto gave it hangs on each record asked for. */
export function activityLinked(
  n: TrutoActivity,
  q: { deal_id?: string; account_id?: string; contact_id?: string; project_id?: string },
): boolean {
  const has = (list: unknown, id: string) => (toRefs(list) ?? []).some((r) => r.id === id);
  return (
    (q.deal_id === undefined || has(n.opportunity, q.deal_id)) &&
    (q.account_id === undefined || toRef(n.account)?.id === q.account_id) &&
    (q.contact_id === undefined || has(n.contact, q.contact_id)) &&
    (q.project_id === undefined || toRef((n as TrutoEngagement).project)?.id === q.project_id)
  );
}

// ---------------------------------------------------------------------------------------------
// Search hits

export function projectHit(p: TrutoProject): SearchHit {
  return compact<SearchHit>({
    type: 'projects',
    id: requireId(p, 'project'),
    name: str(p.name) ?? '',
    status: projectStatus(p.status),
    account: toRef(p.account),
  });
}
