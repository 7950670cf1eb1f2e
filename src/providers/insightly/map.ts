/**
 * Insightly (API v3.1) <-> unified model, both ways. Pure functions: no I/O, so they are
 * unit-tested alone. Native shapes are Insightly's UPPER_SNAKE records (only the fields read; the
 * rest rides along in remote_data); capabilities.ts says where each fact comes from.
 */
import { CrmError, excerpt } from '../../crm/errors.js';
import { DEAL_STATUSES, type Deal, type Pipeline, type Project, type Ref, type Stage } from '../../crm/model.js';
import type { DealInput, ProjectInput } from '../../crm/provider.js';
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

export interface Names {
  pipelines?: ReadonlyMap<number, string>;
  stages?: ReadonlyMap<number, string>;
  users?: ReadonlyMap<number, string>;
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
      // Organisation names come with the organisations of issue 9; until then the id alone.
      account: o.ORGANISATION_ID == null ? undefined : { id: String(o.ORGANISATION_ID) },
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
    RESPONSIBLE_USER_ID: input.owner_id === undefined ? undefined : nativeId(input.owner_id, 'user', 'list_deals (each deal names its owner)'),
    ORGANISATION_ID: input.account_id === undefined ? undefined : nativeId(input.account_id, 'organisation', 'list_deals (each deal names its account)'),
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
    RESPONSIBLE_USER_ID: input.owner === undefined ? undefined : nativeId(input.owner.id, 'user', 'list_projects (each project names its owner)'),
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
