/**
 * What Pipedrive really does, as data the tool layer checks before any call (DESIGN §4).
 * Sources: Pipedrive's official OpenAPI specs (../shared/specs/pipedrive/, v1 and v2) and
 * provider-apis.md §2. Where Pipedrive differs from the unified notes:
 *
 * - Accounts are organizations: `domain` is the organization's website (read as its host name);
 *   `industry` is an option id of a company-defined list in Pipedrive, so it is not supported.
 * - Contacts are persons: Pipedrive writes a whole `name` (first and last name joined); emails and
 *   phones are lists of {value, primary, label}, the first one given is primary. A name or email
 *   filter goes through /persons/search (2+ characters; an email matches whole addresses).
 * - Users are v1 /users: read only, the whole company in one request; filters applied here.
 * - Activities are v2 activities (task, call, meeting, email: the standard type keys every company
 *   starts with; a company's own types read as tasks) and v1 notes (type note, ids "note-<id>").
 *   A note has no subject (a subject given on create becomes its first line), due date or state.
 *   Activities cannot be filtered by project in Pipedrive: `project_id` lists notes only.
 * - Search uses Pipedrive's per-type search for deals, accounts and contacts, and the user list
 *   for users; Pipedrive cannot search pipelines or stages.
 * - Unknown owner, account, contact and deal ids a write refers to are refused before it is sent.
 */
import { ACTIVITY_TYPES, DEAL_STATUSES } from '../../crm/model.js';
import { WRITE_FIELDS, type Capabilities } from '../../crm/provider.js';
import { SEARCHED } from './search.js';

const PIPELINE_FIELDS = ['name', 'is_deal_probability_enabled'] as const;
// No `color` (Pipedrive stages have none), no `position` (order_nr is read-only in v2), no
// `status` (a stage only becomes inactive by being deleted).
const STAGE_FIELDS = ['pipeline_id', 'name', 'probability'] as const;
const DEAL_FIELDS = WRITE_FIELDS.deals;
const ACCOUNT_FIELDS = ['name', 'domain', 'owner_id'] as const;
const activityEnums = { type: ACTIVITY_TYPES };

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
    filters: ['pipeline_id', 'stage_id', 'status', 'owner_id', 'account_id'],
  },
  accounts: {
    list: true,
    get: true,
    create: { supported: ACCOUNT_FIELDS, required: ['name'] },
    update: { supported: ACCOUNT_FIELDS },
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
  search: SEARCHED,
};
