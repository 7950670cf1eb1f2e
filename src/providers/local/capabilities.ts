/** What the local CRM supports: everything, with every unified enum value. */
import { DEAL_STATUSES, PROJECT_STATUSES, STAGE_STATUSES } from '../../crm/statuses.js';
import { STORED_PROJECT_FIELDS, WRITE_FIELDS, type Capabilities } from '../../crm/provider.js';

const PIPELINE_FIELDS = WRITE_FIELDS.pipelines;
const STAGE_FIELDS = WRITE_FIELDS.stages;
const DEAL_FIELDS = WRITE_FIELDS.deals;
const PROJECT_FIELDS = STORED_PROJECT_FIELDS;

const stageEnums = { status: STAGE_STATUSES };
const dealEnums = { status: DEAL_STATUSES };
const projectEnums = { status: PROJECT_STATUSES };

export const localCapabilities: Capabilities = {
  // Keys live in the same SQLite file and are checked in the create's own transaction.
  idempotency: 'native',
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
    create: { supported: STAGE_FIELDS, required: ['pipeline_id', 'name'], enums: stageEnums },
    update: { supported: STAGE_FIELDS, enums: stageEnums },
    delete: true,
    filters: ['pipeline_id', 'name', 'status', 'sort_by', 'sort_direction'],
  },
  deals: {
    list: true,
    get: true,
    // The pipeline follows from the stage, so stage_id is required and pipeline_id optional.
    create: { supported: DEAL_FIELDS, required: ['name', 'stage_id'], enums: dealEnums },
    update: { supported: DEAL_FIELDS, enums: dealEnums },
    filters: ['pipeline_id', 'stage_id', 'status', 'owner_id'],
  },
  projects: {
    list: true,
    get: true,
    create: { supported: PROJECT_FIELDS, required: ['name'], enums: projectEnums },
    update: { supported: PROJECT_FIELDS, enums: projectEnums },
    delete: true,
    filters: ['name', 'status', 'owner_id', 'account_id', 'stage_id'],
  },
  stats: { conversion: true, movement: true },
};
