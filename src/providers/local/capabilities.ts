/** What the local CRM supports: everything, with every unified enum value. */
import { ACTIVITY_TYPES, DEAL_STATUSES, PROJECT_STATUSES, SEARCH_TYPES, STAGE_STATUSES } from '../../crm/statuses.js';
import { STORED_PROJECT_FIELDS, WRITE_FIELDS, type Capabilities } from '../../crm/provider.js';

const PIPELINE_FIELDS = WRITE_FIELDS.pipelines;
const STAGE_FIELDS = WRITE_FIELDS.stages;
const DEAL_FIELDS = WRITE_FIELDS.deals;
const PROJECT_FIELDS = STORED_PROJECT_FIELDS;

const stageEnums = { status: STAGE_STATUSES };
const dealEnums = { status: DEAL_STATUSES };
const projectEnums = { status: PROJECT_STATUSES };
const activityEnums = { type: ACTIVITY_TYPES };

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
    filters: ['pipeline_id', 'stage_id', 'status', 'owner_id', 'account_id'],
  },
  projects: {
    list: true,
    get: true,
    create: { supported: PROJECT_FIELDS, required: ['name'], enums: projectEnums },
    update: { supported: PROJECT_FIELDS, enums: projectEnums },
    delete: true,
    filters: ['name', 'status', 'owner_id', 'account_id', 'stage_id'],
  },
  accounts: {
    list: true,
    get: true,
    create: { supported: WRITE_FIELDS.accounts, required: ['name'] },
    update: { supported: WRITE_FIELDS.accounts },
    filters: ['name', 'owner_id'],
  },
  contacts: {
    list: true,
    get: true,
    // A first or a last name is required; the tool layer checks that one of the two is given.
    create: { supported: WRITE_FIELDS.contacts },
    update: { supported: WRITE_FIELDS.contacts },
    filters: ['name', 'email', 'account_id', 'owner_id'],
  },
  users: { list: true, get: true, filters: ['name', 'email'] },
  activities: {
    list: true,
    get: true,
    create: { supported: WRITE_FIELDS.activities, required: ['type'], enums: activityEnums },
    update: { supported: WRITE_FIELDS.activities, enums: activityEnums },
    filters: ['deal_id', 'account_id', 'contact_id', 'project_id', 'type', 'done'],
  },
  stats: { conversion: true, movement: true },
  search: SEARCH_TYPES,
};
