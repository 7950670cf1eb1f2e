/**
 * Insightly (API v3.1) <-> unified model, both ways. Pure functions: no I/O, so they are
 * unit-tested alone. Native shapes are Insightly's UPPER_SNAKE records (only the fields read; the
 * rest rides along in remote_data); capabilities.ts says where each fact comes from.
 */
import { CrmError, excerpt } from '../../crm/errors.js';
import { DEAL_STATUSES, type Account, type Activity, type Contact, type Deal, type Pipeline, type Project, type Ref, type Stage, type User } from '../../crm/model.js';
import type { AccountInput, ActivityInput, ContactInput, DealInput, ProjectInput, SearchHit } from '../../crm/provider.js';
import { compact, namedRef, positiveIntegerId, tallyOpenDeals, withRemoteData } from '../../crm/records.js';

// ---------------------------------------------------------------------------------------------
// Native shapes

export interface IlPipeline {
  PIPELINE_ID: number;
  PIPELINE_NAME: string;
  FOR_OPPORTUNITIES?: boolean;
  FOR_PROJECTS?: boolean;
  OWNER_USER_ID?: number | null;
  [key: string]: unknown;
}

export interface IlStage {
  STAGE_ID: number;
  PIPELINE_ID: number;
  STAGE_NAME: string;
  STAGE_ORDER: number;
  ACTIVITYSET_ID?: number | null;
  OWNER_USER_ID?: number | null;
  [key: string]: unknown;
}

export interface IlUser {
  USER_ID: number;
  FIRST_NAME?: string | null;
  LAST_NAME?: string | null;
  EMAIL_ADDRESS?: string | null;
  ACTIVE?: boolean;
  [key: string]: unknown;
}

export interface IlCustomField {
  FIELD_NAME: string;
  FIELD_VALUE: unknown;
}

export interface IlTag {
  TAG_NAME: string;
}

export interface IlOpportunity {
  OPPORTUNITY_ID: number;
  OPPORTUNITY_NAME: string;
  OPPORTUNITY_STATE?: string | null;
  RESPONSIBLE_USER_ID?: number | null;
  OWNER_USER_ID?: number | null;
  BID_AMOUNT?: number | null;
  BID_CURRENCY?: string | null;
  BID_TYPE?: string | null;
  OPPORTUNITY_VALUE?: number | null;
  FORECAST_CLOSE_DATE?: string | null;
  PIPELINE_ID?: number | null;
  STAGE_ID?: number | null;
  ORGANISATION_ID?: number | null;
  DATE_CREATED_UTC?: string | null;
  DATE_UPDATED_UTC?: string | null;
  [key: string]: unknown;
}

export interface IlProject {
  PROJECT_ID: number;
  PROJECT_NAME: string;
  STATUS?: string | null;
  PROJECT_DETAILS?: string | null;
  OPPORTUNITY_ID?: number | null;
  COMPLETED_DATE?: string | null;
  RESPONSIBLE_USER_ID?: number | null;
  OWNER_USER_ID?: number | null;
  PIPELINE_ID?: number | null;
  STAGE_ID?: number | null;
  DATE_CREATED_UTC?: string | null;
  DATE_UPDATED_UTC?: string | null;
  LAST_ACTIVITY_DATE_UTC?: string | null;
  CUSTOMFIELDS?: IlCustomField[] | null;
  TAGS?: IlTag[] | null;
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// Enums

/** Project statuses: the unified values (seed 003's Insightly subset) and how v3.1 spells them. */
export const PROJECT_STATUS_NATIVE = {
  'not started': 'Not Started',
  'in progress': 'In Progress',
  deferred: 'Deferred',
  cancelled: 'Cancelled',
  abandoned: 'Abandoned',
  completed: 'Completed',
} as const;
export type InsightlyProjectStatus = keyof typeof PROJECT_STATUS_NATIVE;
export const INSIGHTLY_PROJECT_STATUSES = Object.keys(PROJECT_STATUS_NATIVE) as InsightlyProjectStatus[];

/** A project status as Insightly answers it (title case in v3.1, upper case in older answers). */
export function projectStatus(native: string | null | undefined): InsightlyProjectStatus | undefined {
  const s = native?.trim().toLowerCase();
  return s && s in PROJECT_STATUS_NATIVE ? (s as InsightlyProjectStatus) : undefined;
}

/** Deal statuses as written: each unified status is exactly one of Insightly's states. */
export const DEAL_STATE_NATIVE: Record<Deal['status'], string> = { open: 'Open', won: 'Won', lost: 'Lost' };

/**
 * An opportunity state read as a deal status. Insightly has five: OPEN, WON and LOST map as they
 * are; ABANDONED is closed without a win, so it reads as lost; SUSPENDED is on hold but still in
 * its stage, neither won nor lost, so it reads as open (and counts among open deals). The native
 * state stays in remote_data; crm-mcp never writes ABANDONED or SUSPENDED.
 */
export function dealStatus(state: string | null | undefined): Deal['status'] {
  const s = state?.trim().toLowerCase();
  if (s === 'won') return 'won';
  if (s === 'lost' || s === 'abandoned') return 'lost';
  return 'open';
}

// ---------------------------------------------------------------------------------------------
// Ids, names, dates

export const nativeId = (id: string, what: string, listTool: string): number => positiveIntegerId('Insightly', id, what, listTool);
/** Ids of the records writes refer to, each checked as Insightly spells them. */
export const userId = (id: string): number => nativeId(id, 'user', 'list_users');
export const accountId = (id: string): number => nativeId(id, 'account', 'list_accounts');
export const contactId = (id: string): number => nativeId(id, 'contact', 'list_contacts');

export interface Names {
  pipelines?: ReadonlyMap<number, string>;
  stages?: ReadonlyMap<number, string>;
  users?: ReadonlyMap<number, string>;
  /** Organisations. */
  accounts?: ReadonlyMap<number, string>;
}

const refOf = namedRef;

/** An opportunity outside every pipeline: the unified Deal needs a pipeline and a stage, so these say "none" plainly. */
export const NO_PIPELINE: Ref = Object.freeze({ id: '', name: '(no pipeline)' });
export const NO_STAGE: Ref = Object.freeze({ id: '', name: '(no stage)' });

/** A user's name as Insightly's users directory gives it. */
export function userName(u: IlUser): string {
  const full = [u.FIRST_NAME, u.LAST_NAME].filter((x) => x && x.trim()).join(' ').trim();
  return full || u.EMAIL_ADDRESS?.trim() || `User ${u.USER_ID}`;
}

/** Which records a pipeline holds: Insightly keeps separate pipelines for opportunities and for projects. */
export function pipelineKind(p: Pick<IlPipeline, 'FOR_OPPORTUNITIES' | 'FOR_PROJECTS'>): string | undefined {
  const kinds = [p.FOR_OPPORTUNITIES && 'opportunities', p.FOR_PROJECTS && 'projects'].filter(Boolean);
  return kinds.length ? kinds.join(', ') : undefined;
}

/**
 * A pipeline's name as crm-mcp shows it: Insightly's name and, in brackets, the records it holds
 * ("Delivery [projects]"), so every answer that names it says which kind of record moves in it.
 */
export function pipelineName(p: IlPipeline): string {
  const kind = pipelineKind(p);
  return kind ? `${p.PIPELINE_NAME} [${kind}]` : p.PIPELINE_NAME;
}

/** Insightly's "yyyy-MM-dd HH:mm:ss" (UTC) as an ISO timestamp. */
export function timestamp(v: string | null | undefined): string | undefined {
  if (!v) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(v.trim());
  if (!m) return v;
  return `${m[1]}T${m[2]}${m[4] ?? 'Z'}`;
}

/** The calendar date of an Insightly date field. */
export const dateOf = (v: string | null | undefined): string | undefined => (v && /^\d{4}-\d{2}-\d{2}/.test(v) ? v.slice(0, 10) : undefined);

/** A YYYY-MM-DD date as Insightly's object bodies take dates. */
export function nativeDate(field: string, date: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) {
    throw new CrmError('validation', `${field} must be a date as YYYY-MM-DD, not '${excerpt(date)}'.`);
  }
  return `${date} 00:00:00`;
}

const withRemote = withRemoteData;

// ---------------------------------------------------------------------------------------------
// Native -> unified

export function toPipeline(p: IlPipeline, opts: { remote?: boolean } = {}): Pipeline {
  return withRemote(compact<Pipeline>({ id: String(p.PIPELINE_ID), name: pipelineName(p) }), p, opts.remote);
}

export function toStage(s: IlStage, names: Names = {}, opts: { remote?: boolean } = {}): Stage {
  return withRemote(
    compact<Stage>({
      id: String(s.STAGE_ID),
      name: s.STAGE_NAME,
      pipeline: s.PIPELINE_ID == null ? null : refOf(s.PIPELINE_ID, names.pipelines),
      position: s.STAGE_ORDER,
      // Insightly has no inactive stages: a stage exists in its pipeline or not at all.
      status: 'active',
    }),
    s,
    opts.remote,
  );
}

/** The person working a record: its responsible user, else its record owner (OWNER_USER_ID). */
export const ownerOf = (r: { RESPONSIBLE_USER_ID?: number | null; OWNER_USER_ID?: number | null }): number | undefined =>
  r.RESPONSIBLE_USER_ID ?? r.OWNER_USER_ID ?? undefined;

export function toDeal(o: IlOpportunity, names: Names = {}, opts: { remote?: boolean } = {}): Deal {
  const owner = ownerOf(o);
  return withRemote(
    compact<Deal>({
      id: String(o.OPPORTUNITY_ID),
      name: o.OPPORTUNITY_NAME,
      status: dealStatus(o.OPPORTUNITY_STATE),
      pipeline: o.PIPELINE_ID == null ? { ...NO_PIPELINE } : refOf(o.PIPELINE_ID, names.pipelines),
      stage: o.STAGE_ID == null ? { ...NO_STAGE } : refOf(o.STAGE_ID, names.stages),
      // OPPORTUNITY_VALUE is the whole value (a per-period bid times its duration); BID_AMOUNT one period's.
      amount: o.OPPORTUNITY_VALUE ?? o.BID_AMOUNT ?? undefined,
      currency: o.BID_CURRENCY ?? undefined,
      owner: owner === undefined ? undefined : refOf(owner, names.users),
      account: o.ORGANISATION_ID == null ? undefined : refOf(o.ORGANISATION_ID, names.accounts),
      close_date: dateOf(o.FORECAST_CLOSE_DATE),
      created_at: timestamp(o.DATE_CREATED_UTC),
      updated_at: timestamp(o.DATE_UPDATED_UTC),
    }),
    o,
    opts.remote,
  );
}

export function toProject(p: IlProject, names: Names = {}, opts: { remote?: boolean } = {}): Project {
  const owner = ownerOf(p);
  const tags = (p.TAGS ?? []).filter((t) => t && typeof t.TAG_NAME === 'string');
  const fields = (p.CUSTOMFIELDS ?? []).filter((f) => f && typeof f.FIELD_NAME === 'string');
  return withRemote(
    compact<Project>({
      id: String(p.PROJECT_ID),
      name: p.PROJECT_NAME,
      description: p.PROJECT_DETAILS ?? undefined,
      status: projectStatus(p.STATUS),
      close_date: dateOf(p.COMPLETED_DATE),
      owner: owner === undefined ? undefined : refOf(owner, names.users),
      opportunity: p.OPPORTUNITY_ID == null ? undefined : [{ id: String(p.OPPORTUNITY_ID) }],
      stage: p.STAGE_ID == null ? undefined : refOf(p.STAGE_ID, names.stages),
      // A tag is its name in Insightly: the name is also its id.
      tags: tags.length ? tags.map((t) => ({ id: t.TAG_NAME, name: t.TAG_NAME })) : undefined,
      custom_fields: fields.length ? Object.fromEntries(fields.map((f) => [f.FIELD_NAME, f.FIELD_VALUE])) : undefined,
      last_activity_at: timestamp(p.LAST_ACTIVITY_DATE_UTC),
      created_at: timestamp(p.DATE_CREATED_UTC),
      updated_at: timestamp(p.DATE_UPDATED_UTC),
    }),
    p,
    opts.remote,
  );
}

/** Count and value of open deals (as dealStatus reads them) per stage and for the whole pipeline. */
export function summarizeOpenDeals(deals: readonly IlOpportunity[], pipelineId: number) {
  return tallyOpenDeals(deals, (o) =>
    o.PIPELINE_ID !== pipelineId || o.STAGE_ID == null || dealStatus(o.OPPORTUNITY_STATE) !== 'open'
      ? undefined
      : { stage: o.STAGE_ID, amount: o.OPPORTUNITY_VALUE ?? o.BID_AMOUNT, currency: o.BID_CURRENCY },
  );
}

// ---------------------------------------------------------------------------------------------
// Unified -> native (request bodies). Only the fields the caller gave; pipeline and stage never go
// in a body (read-only on the record: they change through /Pipeline and /PipelineStage).

/** Longest PROJECT_DETAILS Insightly stores (v3.1 spec: maxLength 4000). */
export const MAX_DETAILS = 4000;

/** Opportunity body fields of a deal write (the record's own fields: no pipeline, no stage). */
export function fromDealInput(input: DealInput): Record<string, unknown> {
  if (input.status !== undefined && !(DEAL_STATUSES as readonly string[]).includes(input.status)) {
    throw new CrmError('validation', `Insightly does not accept deal status '${excerpt(input.status)}'; allowed: ${DEAL_STATUSES.join(', ')}.`);
  }
  if (input.currency !== undefined && !/^[A-Za-z]{3}$/.test(input.currency)) {
    throw new CrmError('validation', `currency must be a 3-letter code such as USD or EUR, not '${excerpt(input.currency)}'.`);
  }
  return compact<Record<string, unknown>>({
    OPPORTUNITY_NAME: input.name,
    OPPORTUNITY_STATE: input.status === undefined ? undefined : DEAL_STATE_NATIVE[input.status],
    // The amount is the deal's whole value: a fixed bid, so Insightly's OPPORTUNITY_VALUE equals it.
    BID_AMOUNT: input.amount,
    BID_TYPE: input.amount === undefined ? undefined : 'Fixed Bid',
    BID_CURRENCY: input.currency?.toUpperCase(),
    RESPONSIBLE_USER_ID: input.owner_id === undefined ? undefined : userId(input.owner_id),
    ORGANISATION_ID: input.account_id === undefined ? undefined : accountId(input.account_id),
    FORECAST_CLOSE_DATE: input.close_date === undefined ? undefined : nativeDate('close_date', input.close_date),
  });
}

/** Native fields crm-mcp sets itself or that Insightly keeps read-only: never taken from remote_data. */
const MANAGED_PROJECT_FIELDS = ['PROJECT_ID', 'PIPELINE_ID', 'STAGE_ID', 'DATE_CREATED_UTC', 'DATE_UPDATED_UTC'];

/** Project body fields of a write (no pipeline, no stage). `op` decides what a field may be. */
export function fromProjectInput(input: ProjectInput, op: 'create' | 'update'): Record<string, unknown> {
  if (input.description !== undefined && input.description.length > MAX_DETAILS) {
    throw new CrmError(
      'validation',
      `Insightly stores at most ${MAX_DETAILS.toLocaleString('en-US')} characters of project details; description has ${input.description.length.toLocaleString('en-US')}.`,
    );
  }
  if (input.status !== undefined && !(input.status in PROJECT_STATUS_NATIVE)) {
    throw new CrmError(
      'validation',
      `Insightly does not accept project status '${excerpt(input.status)}'; allowed: ${INSIGHTLY_PROJECT_STATUSES.join(', ')}.`,
    );
  }
  if (input.opportunity !== undefined && (op === 'update' || input.opportunity.length > 1)) {
    throw new CrmError(
      'validation',
      op === 'update'
        ? 'Insightly sets a project\'s opportunity when the project is made from it; it cannot be changed afterwards.'
        : `An Insightly project comes from at most one opportunity; opportunity has ${input.opportunity.length}.`,
    );
  }
  const body = compact<Record<string, unknown>>({
    PROJECT_NAME: input.name,
    STATUS: input.status === undefined ? undefined : PROJECT_STATUS_NATIVE[input.status as InsightlyProjectStatus],
    PROJECT_DETAILS: input.description,
    COMPLETED_DATE: input.close_date === undefined ? undefined : nativeDate('close_date', input.close_date),
    RESPONSIBLE_USER_ID: input.owner === undefined ? undefined : userId(input.owner.id),
    OPPORTUNITY_ID: input.opportunity?.length ? nativeId(input.opportunity[0].id, 'opportunity', 'list_deals') : undefined,
    TAGS: input.tags === undefined ? undefined : input.tags.map((t) => ({ TAG_NAME: tagName(t.id) })),
    CUSTOMFIELDS:
      input.custom_fields === undefined
        ? undefined
        : Object.entries(input.custom_fields).map(([FIELD_NAME, FIELD_VALUE]) => ({ FIELD_NAME, FIELD_VALUE })),
  });
  for (const [key, value] of Object.entries(input.remote_data ?? {})) {
    if (MANAGED_PROJECT_FIELDS.includes(key)) {
      throw new CrmError(
        'validation',
        `remote_data cannot set ${key}: ${key === 'STAGE_ID' || key === 'PIPELINE_ID' ? 'pass stage instead (crm-mcp moves the project through its pipeline endpoints)' : 'Insightly sets it'}.`,
      );
    }
    if (key in body) throw new CrmError('validation', `remote_data sets ${excerpt(key)}, which another argument already sets; give it once.`);
    body[key] = value;
  }
  return body;
}

function tagName(id: string): string {
  const name = id.trim();
  if (!name) throw new CrmError('validation', 'A tag id is the tag\'s name in Insightly and cannot be empty.');
  return name;
}

// ---------------------------------------------------------------------------------------------
// Organisations, contacts, users

export interface IlOrganisation {
  ORGANISATION_ID: number;
  ORGANISATION_NAME: string;
  WEBSITE?: string | null;
  OWNER_USER_ID?: number | null;
  DATE_CREATED_UTC?: string | null;
  DATE_UPDATED_UTC?: string | null;
  [key: string]: unknown;
}

export interface IlContact {
  CONTACT_ID: number;
  FIRST_NAME?: string | null;
  LAST_NAME?: string | null;
  EMAIL_ADDRESS?: string | null;
  PHONE?: string | null;
  PHONE_MOBILE?: string | null;
  PHONE_HOME?: string | null;
  PHONE_OTHER?: string | null;
  TITLE?: string | null;
  ORGANISATION_ID?: number | null;
  OWNER_USER_ID?: number | null;
  DATE_CREATED_UTC?: string | null;
  DATE_UPDATED_UTC?: string | null;
  [key: string]: unknown;
}

/**
 * The phone fields a contact's `phones` list reads from and writes to, in this order. The
 * assistant's and fax numbers are not the contact's own phones: they stay in remote_data.
 */
export const CONTACT_PHONES = ['PHONE', 'PHONE_MOBILE', 'PHONE_HOME', 'PHONE_OTHER'] as const;

/** An organisation's website as a domain: no scheme, no path, no leading www. */
export function domainOf(website: string | null | undefined): string | undefined {
  const w = website?.trim();
  if (!w) return undefined;
  const host = w.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split(/[/?#]/)[0].replace(/^www\./i, '');
  return host || undefined;
}

export function toAccount(o: IlOrganisation, names: Names = {}, opts: { remote?: boolean } = {}): Account {
  return withRemote(
    compact<Account>({
      id: String(o.ORGANISATION_ID),
      name: o.ORGANISATION_NAME,
      domain: domainOf(o.WEBSITE),
      owner: o.OWNER_USER_ID == null ? undefined : refOf(o.OWNER_USER_ID, names.users),
      created_at: timestamp(o.DATE_CREATED_UTC),
      updated_at: timestamp(o.DATE_UPDATED_UTC),
    }),
    o,
    opts.remote,
  );
}

/** A contact's name: first and last joined, else its email, else "Contact {id}". */
export function contactName(c: Pick<IlContact, 'CONTACT_ID' | 'FIRST_NAME' | 'LAST_NAME' | 'EMAIL_ADDRESS'>): string {
  const full = [c.FIRST_NAME, c.LAST_NAME].filter((x) => x && x.trim()).join(' ').trim();
  return full || c.EMAIL_ADDRESS?.trim() || `Contact ${c.CONTACT_ID}`;
}

const text = (v: string | null | undefined): string | undefined => (v && v.trim() ? v : undefined);

export function toContact(c: IlContact, names: Names = {}, opts: { remote?: boolean } = {}): Contact {
  const phones = CONTACT_PHONES.map((f) => text(c[f])).filter((p): p is string => p !== undefined);
  const email = text(c.EMAIL_ADDRESS);
  return withRemote(
    compact<Contact>({
      id: String(c.CONTACT_ID),
      name: contactName(c),
      first_name: text(c.FIRST_NAME),
      last_name: text(c.LAST_NAME),
      emails: email ? [email] : undefined,
      phones: phones.length ? phones : undefined,
      title: text(c.TITLE),
      account: c.ORGANISATION_ID == null ? undefined : refOf(c.ORGANISATION_ID, names.accounts),
      owner: c.OWNER_USER_ID == null ? undefined : refOf(c.OWNER_USER_ID, names.users),
      created_at: timestamp(c.DATE_CREATED_UTC),
      updated_at: timestamp(c.DATE_UPDATED_UTC),
    }),
    c,
    opts.remote,
  );
}

export function toUser(u: IlUser, opts: { remote?: boolean } = {}): User {
  return withRemote(
    compact<User>({ id: String(u.USER_ID), name: userName(u), email: text(u.EMAIL_ADDRESS), active: typeof u.ACTIVE === 'boolean' ? u.ACTIVE : undefined }),
    u,
    opts.remote,
  );
}

/** Longest ORGANISATION_NAME, WEBSITE, names and titles Insightly stores (v3.1 spec: maxLength 255). */
export const MAX_FIELD = 255;

function fits(field: string, value: string | undefined, max = MAX_FIELD): string | undefined {
  if (value !== undefined && value.length > max) {
    throw new CrmError('validation', `Insightly stores at most ${max.toLocaleString('en-US')} characters of ${field}; it has ${value.length.toLocaleString('en-US')}.`);
  }
  return value;
}

/** Organisation body fields of an account write. Industry has no field in Insightly (capabilities refuse it). */
export function fromAccountInput(input: AccountInput): Record<string, unknown> {
  return compact<Record<string, unknown>>({
    ORGANISATION_NAME: fits('name', input.name),
    WEBSITE: fits('domain', input.domain),
    OWNER_USER_ID: input.owner_id === undefined ? undefined : userId(input.owner_id),
  });
}

/**
 * Contact body fields of a write. A contact has one email address and the four phone fields of
 * CONTACT_PHONES; a list replaces them all, so an update sends null for the ones it empties.
 */
export function fromContactInput(input: ContactInput, op: 'create' | 'update'): Record<string, unknown> {
  if (input.emails !== undefined && input.emails.length > 1) {
    throw new CrmError('validation', `An Insightly contact has one email address; emails has ${input.emails.length}.`);
  }
  if (input.phones !== undefined && input.phones.length > CONTACT_PHONES.length) {
    throw new CrmError(
      'validation',
      `An Insightly contact has ${CONTACT_PHONES.length} phone numbers (phone, mobile, home, other); phones has ${input.phones.length}.`,
    );
  }
  const phones =
    input.phones === undefined
      ? {}
      : Object.fromEntries(
          CONTACT_PHONES.map((f, i) => [f, fits('a phone number', input.phones![i]) ?? (op === 'update' ? null : undefined)]),
        );
  return compact<Record<string, unknown>>({
    FIRST_NAME: fits('first_name', input.first_name),
    LAST_NAME: fits('last_name', input.last_name),
    EMAIL_ADDRESS: input.emails === undefined ? undefined : (fits('an email address', input.emails[0]) ?? (op === 'update' ? null : undefined)),
    ...phones,
    TITLE: fits('title', input.title),
    ORGANISATION_ID: input.account_id === undefined ? undefined : accountId(input.account_id),
    OWNER_USER_ID: input.owner_id === undefined ? undefined : userId(input.owner_id),
  });
}

// ---------------------------------------------------------------------------------------------
// Notes and tasks as activities, and the links that hang them on records

/** A link between two records, seen from either end (v3.1: OBJECT_* is one end, LINK_OBJECT_* the other). */
export interface IlLink {
  LINK_ID?: number | null;
  OBJECT_NAME?: string | null;
  OBJECT_ID?: number | null;
  LINK_OBJECT_NAME?: string | null;
  LINK_OBJECT_ID?: number | null;
  [key: string]: unknown;
}

export interface IlNote {
  NOTE_ID: number;
  TITLE?: string | null;
  BODY?: string | null;
  OWNER_USER_ID?: number | null;
  DATE_CREATED_UTC?: string | null;
  DATE_UPDATED_UTC?: string | null;
  LINKS?: IlLink[] | null;
  [key: string]: unknown;
}

export interface IlTask {
  TASK_ID: number;
  TITLE?: string | null;
  DETAILS?: string | null;
  DUE_DATE?: string | null;
  COMPLETED?: boolean | null;
  STATUS?: string | null;
  RESPONSIBLE_USER_ID?: number | null;
  OWNER_USER_ID?: number | null;
  OPPORTUNITY_ID?: number | null;
  PROJECT_ID?: number | null;
  DATE_CREATED_UTC?: string | null;
  DATE_UPDATED_UTC?: string | null;
  LINKS?: IlLink[] | null;
  [key: string]: unknown;
}

/** The records an activity hangs on, by the unified name of their kind. */
export type ParentKind = 'deal' | 'account' | 'contact' | 'project';
export const PARENT_KINDS: readonly ParentKind[] = ['deal', 'project', 'contact', 'account'];

/** Each parent kind in Insightly: its collection, and its (singular) name in a link. */
export const PARENT: Record<ParentKind, { path: '/Opportunities' | '/Organisations' | '/Contacts' | '/Projects'; object: string; listTool: string }> = {
  deal: { path: '/Opportunities', object: 'Opportunity', listTool: 'list_deals' },
  account: { path: '/Organisations', object: 'Organisation', listTool: 'list_accounts' },
  contact: { path: '/Contacts', object: 'Contact', listTool: 'list_contacts' },
  project: { path: '/Projects', object: 'Project', listTool: 'list_projects' },
};

const KIND_OF_OBJECT: Record<string, ParentKind> = { opportunity: 'deal', organisation: 'account', organization: 'account', contact: 'contact', project: 'project' };

/** The activity kinds Insightly has, each its own collection with its own ids. */
export type ActivityKind = 'note' | 'task';
export const ACTIVITY_KINDS: readonly ActivityKind[] = ['note', 'task'];
export const ACTIVITY: Record<ActivityKind, { path: '/Notes' | '/Tasks'; sub: 'Notes' | 'Tasks'; idKey: 'NOTE_ID' | 'TASK_ID'; object: string }> = {
  note: { path: '/Notes', sub: 'Notes', idKey: 'NOTE_ID', object: 'Note' },
  task: { path: '/Tasks', sub: 'Tasks', idKey: 'TASK_ID', object: 'Task' },
};

/** Notes and tasks have separate ids in Insightly, so an activity's id says which: "note-12", "task-40". */
export const activityId = (kind: ActivityKind, id: number): string => `${kind}-${id}`;

export function parseActivityId(id: string): { kind: ActivityKind; id: number } {
  const m = /^(note|task)-([1-9][0-9]{0,15})$/.exec(id.trim().toLowerCase());
  if (!m) {
    throw new CrmError(
      'validation',
      `'${excerpt(id)}' is not an Insightly activity id: they are note-<number> or task-<number>. Call list_activities to see valid activity ids.`,
    );
  }
  return { kind: m[1] as ActivityKind, id: Number(m[2]) };
}

/** Every record a note or task is linked to, by kind (a link can be seen from either end). */
export function linkedParents(links: readonly IlLink[] | null | undefined, self: { object: string; id: number }): Array<{ kind: ParentKind; id: number; linkId?: number }> {
  const out: Array<{ kind: ParentKind; id: number; linkId?: number }> = [];
  for (const l of links ?? []) {
    if (!l || typeof l !== 'object') continue;
    const isSelf = (name: unknown, id: unknown) => String(name ?? '').toLowerCase() === self.object.toLowerCase() && id === self.id;
    const [name, id] = isSelf(l.LINK_OBJECT_NAME, l.LINK_OBJECT_ID) ? [l.OBJECT_NAME, l.OBJECT_ID] : [l.LINK_OBJECT_NAME, l.LINK_OBJECT_ID];
    const kind = KIND_OF_OBJECT[String(name ?? '').toLowerCase()];
    if (kind && typeof id === 'number') out.push({ kind, id, ...(typeof l.LINK_ID === 'number' ? { linkId: l.LINK_ID } : {}) });
  }
  return out;
}

/** Parents of a note (links only) or a task (OPPORTUNITY_ID and PROJECT_ID fields, then links). */
export function parentsOf(kind: ActivityKind, r: IlNote | IlTask): Array<{ kind: ParentKind; id: number; linkId?: number }> {
  const own = kind === 'note' ? (r as IlNote).NOTE_ID : (r as IlTask).TASK_ID;
  const linked = linkedParents(r.LINKS, { object: ACTIVITY[kind].object, id: own });
  if (kind === 'note') return linked;
  const t = r as IlTask;
  const fields = [
    ...(t.OPPORTUNITY_ID == null ? [] : [{ kind: 'deal' as const, id: t.OPPORTUNITY_ID }]),
    ...(t.PROJECT_ID == null ? [] : [{ kind: 'project' as const, id: t.PROJECT_ID }]),
  ];
  return [...fields, ...linked.filter((l) => !fields.some((f) => f.kind === l.kind && f.id === l.id))];
}

const firstOf = (parents: ReturnType<typeof parentsOf>, kind: ParentKind): Ref | undefined => {
  const p = parents.find((x) => x.kind === kind);
  return p ? { id: String(p.id) } : undefined;
};

/** A task's state as Insightly spells it when crm-mcp completes or reopens it. */
export const TASK_DONE = 'Completed';
export const TASK_OPEN = 'Not Started';

export function toActivity(kind: ActivityKind, r: IlNote | IlTask, names: Names = {}, opts: { remote?: boolean } = {}): Activity {
  const parents = parentsOf(kind, r);
  const common = {
    deal: firstOf(parents, 'deal'),
    account: firstOf(parents, 'account'),
    contact: firstOf(parents, 'contact'),
    project: firstOf(parents, 'project'),
    created_at: timestamp(r.DATE_CREATED_UTC),
    updated_at: timestamp(r.DATE_UPDATED_UTC),
  };
  if (kind === 'note') {
    const n = r as IlNote;
    return withRemote(
      compact<Activity>({
        id: activityId('note', n.NOTE_ID),
        type: 'note',
        subject: text(n.TITLE),
        body: text(n.BODY),
        owner: n.OWNER_USER_ID == null ? undefined : refOf(n.OWNER_USER_ID, names.users),
        ...common,
      }),
      n,
      opts.remote,
    );
  }
  const t = r as IlTask;
  const owner = ownerOf(t);
  return withRemote(
    compact<Activity>({
      id: activityId('task', t.TASK_ID),
      type: 'task',
      subject: text(t.TITLE),
      body: text(t.DETAILS),
      due_date: dateOf(t.DUE_DATE),
      done: typeof t.COMPLETED === 'boolean' ? t.COMPLETED : t.STATUS?.trim().toLowerCase() === TASK_DONE.toLowerCase(),
      owner: owner === undefined ? undefined : refOf(owner, names.users),
      ...common,
    }),
    t,
    opts.remote,
  );
}

/** Longest note title (Insightly: 255), task title (500) and task details (4,000) Insightly stores. */
export const MAX_NOTE_TITLE = 255;
export const MAX_TASK_TITLE = 500;
export const MAX_TASK_DETAILS = 4000;

/**
 * Insightly needs a title on every note and task; the unified subject is optional. Without one,
 * the title is the body's first line, cut at a word to fit (the dry run shows it).
 */
export function titleOf(input: Pick<ActivityInput, 'subject' | 'body'>, max: number, kind: ActivityKind): string | undefined {
  if (input.subject !== undefined) return fits(`a ${kind}'s subject`, input.subject, max);
  const line = input.body?.split(/\r?\n/).find((l) => l.trim())?.trim();
  if (!line) return undefined;
  if (line.length <= max) return line;
  const cut = line.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** A note's own fields (TITLE, BODY, owner); its parents are links. */
export function fromNoteInput(input: ActivityInput, op: 'create' | 'update'): Record<string, unknown> {
  if (input.due_date !== undefined || input.done !== undefined) {
    throw new CrmError('validation', 'An Insightly note has no due_date or done; make it a task (type: task) to track a to-do.');
  }
  const title = op === 'create' || input.subject !== undefined ? titleOf(input, MAX_NOTE_TITLE, 'note') : undefined;
  if (op === 'create' && title === undefined) {
    throw new CrmError('validation', 'Insightly needs a title for a note: give subject, or a body whose first line becomes the title.');
  }
  return compact<Record<string, unknown>>({
    TITLE: title,
    BODY: input.body,
    OWNER_USER_ID: input.owner_id === undefined ? undefined : userId(input.owner_id),
  });
}

/**
 * A task's own fields. Its deal and project are fields of the task (OPPORTUNITY_ID, PROJECT_ID);
 * its contact and account are links. `done` sets COMPLETED and the STATUS that goes with it.
 */
export function fromTaskInput(input: ActivityInput, op: 'create' | 'update'): Record<string, unknown> {
  const title = op === 'create' || input.subject !== undefined ? titleOf(input, MAX_TASK_TITLE, 'task') : undefined;
  if (op === 'create' && title === undefined) {
    throw new CrmError('validation', 'Insightly needs a title for a task: give subject (or a body whose first line becomes the title).');
  }
  const done = input.done ?? (op === 'create' ? false : undefined);
  return compact<Record<string, unknown>>({
    TITLE: title,
    DETAILS: fits('a task body', input.body, MAX_TASK_DETAILS),
    DUE_DATE: input.due_date === undefined ? undefined : nativeDate('due_date', input.due_date),
    COMPLETED: done,
    STATUS: done === true ? TASK_DONE : input.done === false ? TASK_OPEN : undefined,
    RESPONSIBLE_USER_ID: input.owner_id === undefined ? undefined : userId(input.owner_id),
    OPPORTUNITY_ID: input.deal_id === undefined ? undefined : nativeId(input.deal_id, 'deal', 'list_deals'),
    PROJECT_ID: input.project_id === undefined ? undefined : nativeId(input.project_id, 'project', 'list_projects'),
  });
}

/** The parents a write names, as Insightly ids, in the order a note is hung on them (the first gets the note). */
export function parentIds(input: Pick<ActivityInput, 'deal_id' | 'account_id' | 'contact_id' | 'project_id'>): Array<{ kind: ParentKind; id: number }> {
  const given: Record<ParentKind, string | undefined> = { deal: input.deal_id, project: input.project_id, contact: input.contact_id, account: input.account_id };
  return PARENT_KINDS.filter((k) => given[k] !== undefined).map((kind) => ({ kind, id: nativeId(given[kind]!, kind, PARENT[kind].listTool) }));
}

/** A link to add from a note or task to `parent`: singular object names, as v3.1 takes them. */
export const linkBody = (parent: { kind: ParentKind; id: number }) => ({ LINK_OBJECT_NAME: PARENT[parent.kind].object, LINK_OBJECT_ID: parent.id });

// ---------------------------------------------------------------------------------------------
// Search hits

export const dealHit = (o: IlOpportunity, names: Names): SearchHit =>
  compact<SearchHit>({
    type: 'deals',
    id: String(o.OPPORTUNITY_ID),
    name: o.OPPORTUNITY_NAME,
    status: dealStatus(o.OPPORTUNITY_STATE),
    stage: o.STAGE_ID == null ? undefined : refOf(o.STAGE_ID, names.stages),
    owner: ownerOf(o) === undefined ? undefined : refOf(ownerOf(o)!, names.users),
  });

export const accountHit = (o: IlOrganisation, names: Names): SearchHit =>
  compact<SearchHit>({
    type: 'accounts',
    id: String(o.ORGANISATION_ID),
    name: o.ORGANISATION_NAME,
    domain: domainOf(o.WEBSITE),
    owner: o.OWNER_USER_ID == null ? undefined : refOf(o.OWNER_USER_ID, names.users),
  });

export const contactHit = (c: IlContact): SearchHit =>
  compact<SearchHit>({
    type: 'contacts',
    id: String(c.CONTACT_ID),
    name: contactName(c),
    email: text(c.EMAIL_ADDRESS),
    account: c.ORGANISATION_ID == null ? undefined : { id: String(c.ORGANISATION_ID) },
  });

export const projectHit = (p: IlProject): SearchHit =>
  compact<SearchHit>({ type: 'projects', id: String(p.PROJECT_ID), name: p.PROJECT_NAME, status: projectStatus(p.STATUS) });

export const userHit = (u: IlUser): SearchHit => compact<SearchHit>({ type: 'users', id: String(u.USER_ID), name: userName(u), email: text(u.EMAIL_ADDRESS) });
