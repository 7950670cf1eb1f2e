/**
 * Truto unified CRM records <-> crm-mcp's unified model, both ways. Pure functions, no I/O.
 *
 * Truto is itself a unified API and uses the same snake_case names, so most fields map 1:1; what
 * is here is the defensive part: ids may arrive as numbers, optional fields may be missing or null,
 * enums vary per integration behind Truto, and `close_date` is a date-time at Truto but a date here.
 * Shapes follow provider-apis.md §1.4/§1.5 and the seeds 000/003/004.
 */
import { CrmError } from '../../crm/errors.js';
import {
  PROJECT_STATUSES,
  type Deal,
  type DealSummary,
  type Pipeline,
  type Project,
  type Ref,
  type Stage,
} from '../../crm/model.js';
import type { DealInput, IdRef, PipelineInput, ProjectInput, StageInput } from '../../crm/provider.js';
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
