/**
 * Pipedrive <-> unified model, both ways. Pure functions: no I/O, so they are unit-tested alone.
 * Native shapes follow Pipedrive's API v2 (pipelines, stages, deals, organizations) and v1
 * (users, pipeline statistics); see provider-apis.md §2.
 */
import { CrmError, excerpt } from '../../crm/errors.js';
import {
  DEAL_STATUSES,
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
import type { DealInput, PipelineInput, StageInput } from '../../crm/provider.js';
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
}

const refOf = namedRef;

/** Pipedrive ids are positive integers; anything else cannot exist upstream. */
export const nativeId = (id: string, what: string, listTool: string): number => positiveIntegerId('Pipedrive', id, what, listTool);

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
    owner_id: input.owner_id === undefined ? undefined : nativeId(input.owner_id, 'user', 'list_deals (each deal names its owner)'),
    org_id: input.account_id === undefined ? undefined : nativeId(input.account_id, 'organization', 'list_deals (each deal names its account)'),
    expected_close_date: input.close_date,
  });
}
