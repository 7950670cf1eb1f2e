/**
 * The unified CRM model (snake_case, as in Truto's unified CRM pages). All ids are strings.
 * These schemas are the single source for provider results, tool output schemas and tests.
 */
import * as z from 'zod';
import { DEAL_STATUSES, PROJECT_STATUSES, STAGE_STATUSES } from './statuses.js';

export const Ref = z.object({ id: z.string(), name: z.string().optional() });
export type Ref = z.infer<typeof Ref>;

const RemoteData = z.record(z.string(), z.unknown());
const Timestamp = z.string();
/** Money per currency code, e.g. {"USD": 12000, "EUR": 300}. */
export const Values = z.record(z.string(), z.number());
export type Values = z.infer<typeof Values>;

export { DEAL_STATUSES, PROJECT_STATUSES, STAGE_STATUSES };

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
