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

function str(v: unknown): string | undefined {
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

/** Drops undefined keys so records stay compact and `toEqual` in tests is exact. */
function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
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
// Errors

interface TrutoInsight {
  description?: unknown;
  value?: unknown;
}

const INSIGHT_PHRASES: Record<string, [singular: string, plural: string]> = {
  missing_required_body_fields: ['missing required body field', 'missing required body fields'],
  missing_required_query_parameters: ['missing required query parameter', 'missing required query parameters'],
  conditionally_required_body_fields: ['conditionally required body field', 'conditionally required body fields'],
  conditionally_required_query_parameters: [
    'conditionally required query parameter',
    'conditionally required query parameters',
  ],
};

function valueList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
  if (typeof v === 'string') return [v];
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.missing_scopes)) return valueList(o.missing_scopes);
    return Object.keys(o);
  }
  return [];
}

function insightSentence(key: string, insight: TrutoInsight): string | undefined {
  const phrase = INSIGHT_PHRASES[key];
  const values = valueList(insight?.value);
  if (phrase && values.length) return `${values.length === 1 ? phrase[0] : phrase[1]} ${values.join(', ')}`;
  if (key === 'forbidden_error' && values.length) return `missing scopes ${values.join(', ')}`;
  const d = str(insight?.description);
  return d || undefined;
}

/** The CRM's own words from a Truto remote error's raw_response, when it has any. */
function rawMessage(raw: unknown): string | undefined {
  if (typeof raw === 'string') return raw.trim() || undefined;
  if (typeof raw !== 'object' || raw === null) return undefined;
  const o = raw as Record<string, unknown>;
  for (const k of ['message', 'error_description', 'detail', 'title', 'error']) {
    if (typeof o[k] === 'string' && o[k]) return o[k] as string;
  }
  if (Array.isArray(o.errors) && o.errors.length) {
    const first = o.errors[0] as Record<string, unknown> | string;
    if (typeof first === 'string') return first;
    const parts = [str(first.field) ?? str((first.source as Record<string, unknown> | undefined)?.pointer), str(first.message) ?? str(first.detail) ?? str(first.title)];
    const m = parts.filter(Boolean).join(' ');
    if (m) return m;
  }
  return undefined;
}

/**
 * Truto error body -> one sentence for HttpClient to embed after "Truto (X) rejected the request
 * (422): ". Remote errors name the CRM that said it ("Insightly says: ..."), and Truto's
 * `truto_error_insight` hints (e.g. missing_required_body_fields) become plain words, so an agent
 * knows which field to add.
 */
export function describeTrutoError(body: unknown, integrationLabel?: string): string | undefined {
  if (typeof body !== 'object' || body === null) return typeof body === 'string' && body.trim() ? body.trim() : undefined;
  const b = body as Record<string, unknown>;
  const message = str(b.message);
  const parts: string[] = [];
  const insights = b.truto_error_insight;
  if (typeof insights === 'object' && insights !== null) {
    for (const [key, insight] of Object.entries(insights as Record<string, TrutoInsight>)) {
      const s = insightSentence(key, insight);
      if (s && !parts.includes(s)) parts.push(s);
    }
  }
  const isRemote = b.truto_is_remote_error === true;
  const raw = isRemote ? rawMessage(b.raw_response) : undefined;
  const said = [...parts];
  if (raw && !said.some((p) => p.includes(raw))) said.push(raw);
  if (!said.length && message) said.push(message);
  else if (message && !isRemote && !said.includes(message)) said.unshift(message);
  if (!said.length) return undefined;
  const who = isRemote ? `${integrationLabel ?? 'the CRM behind Truto'} says: ` : '';
  return `${who}${said.join('; ')}`;
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
  const byStage = new Map<string, DealSummary>();
  const total: DealSummary = { count: 0, values: {} };
  const add = (s: DealSummary, d: Deal) => {
    s.count += 1;
    if (d.currency) s.values[d.currency] = round2((s.values[d.currency] ?? 0) + (d.amount ?? 0));
  };
  for (const d of deals) {
    if (d.status !== 'open') continue;
    const inPipeline = d.pipeline.id === pipelineId || (d.pipeline.id === '' && stageIds.has(d.stage.id));
    if (!inPipeline) continue;
    let s = byStage.get(d.stage.id);
    if (!s) byStage.set(d.stage.id, (s = { count: 0, values: {} }));
    add(s, d);
    add(total, d);
  }
  return { byStage, total };
}

// Money sums in floating point drift (0.1 + 0.2); cents are what people read.
const round2 = (n: number): number => Math.round(n * 100) / 100;
