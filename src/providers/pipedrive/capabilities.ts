/**
 * What Pipedrive really does, as data the tool layer checks before any call (DESIGN §4).
 * Sources: Pipedrive API v2 spec (pipelines, stages, deals) and v1 statistics (provider-apis §2).
 */
import { DEAL_STATUSES } from '../../crm/model.js';
import type { Capabilities } from '../../crm/provider.js';

const PIPELINE_FIELDS = ['name', 'is_deal_probability_enabled'] as const;
// No `color` (Pipedrive stages have none), no `position` (order_nr is read-only in v2), no
// `status` (a stage only becomes inactive by being deleted).
const STAGE_FIELDS = ['pipeline_id', 'name', 'probability'] as const;
const DEAL_FIELDS = [
  'name',
  'pipeline_id',
  'stage_id',
  'amount',
  'currency',
  'status',
  'owner_id',
  'account_id',
  'close_date',
] as const;

export const PIPEDRIVE_CAPABILITIES: Capabilities = {
  pipelines: {
    list: true,
    get: true,
    create: { supported: PIPELINE_FIELDS, required: ['name'] },
    update: { supported: PIPELINE_FIELDS },
    delete: true,
    filters: [],
  },
  stages: {
    list: true,
    get: true,
    create: { supported: STAGE_FIELDS, required: ['name', 'pipeline_id'] },
    update: { supported: STAGE_FIELDS },
    delete: true,
    // pipeline_id and sort_by position/created_at/updated_at are native; name (filter and sort)
    // is applied client-side over the full stage list. No status: lists never show deleted stages.
    filters: ['pipeline_id', 'name', 'sort_by', 'sort_direction'],
  },
  deals: {
    list: true,
    get: true,
    create: { supported: DEAL_FIELDS, required: ['name'], enums: { status: DEAL_STATUSES } },
    update: { supported: DEAL_FIELDS, enums: { status: DEAL_STATUSES } },
    filters: ['pipeline_id', 'stage_id', 'status', 'owner_id'],
  },
  stats: { conversion: true, movement: true },
};
