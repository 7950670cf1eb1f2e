/**
 * What Truto's unified CRM API offers, as data the tool layer checks before any call (DESIGN §4).
 *
 * Projects differ per integration behind Truto; their write rules are copied from the seeds:
 * 003 (POST /unified/crm/projects, per-integration supported/required matrix) and 004 (PATCH).
 * Keys are the tool's argument names (ProjectInput), so refusals echo what the agent passed.
 *
 * Where provider-apis.md §1.5 disagrees with the seeds, the seeds win for fields:
 *  - §1.5 says Capsule cannot create projects; seed 003 lists Capsule with `name` required and
 *    nine other fields supported, so Capsule create is allowed here.
 *  - §1.5 gives Teamleader statuses (open|planned|running|overdue|over_budget|closed); seeds 003/004
 *    list no status support for Teamleader, so `status` is refused for it.
 *  - §1.5 gives Pipeliner `completed|in progress`; seed 003 lists Pipeliner status as supported
 *    without a subset, so that §1.5 subset is used (the only source that names one).
 * The seeds say nothing about delete; §1.5 (delete on all but Teamleader) is followed for it.
 * Seed 004 has one unlabeled field (supported in Capsule, Insightly, Planhat) between close_date
 * and opportunity; matching 003's custom_fields support, it is read as `custom_fields`.
 */
import { DEAL_STATUSES, PROJECT_STATUSES } from '../../crm/model.js';
import { WRITE_FIELDS, type Capabilities, type FieldRules, type ResourceCapabilities } from '../../crm/provider.js';

export const TRUTO_PROJECT_INTEGRATIONS = ['capsule', 'insightly', 'pipeliner', 'planhat', 'teamleader'] as const;
export type TrutoIntegration = (typeof TRUTO_PROJECT_INTEGRATIONS)[number];

export const INTEGRATION_LABELS: Record<TrutoIntegration, string> = {
  capsule: 'Capsule',
  insightly: 'Insightly',
  pipeliner: 'Pipeliner',
  planhat: 'Planhat',
  teamleader: 'Teamleader',
};

/** Every ProjectInput field, for "let Truto decide" when the integration is not known. */
export const PROJECT_FIELDS = WRITE_FIELDS.projects;

const CAPSULE_STATUSES = ['open', 'closed'] as const;
const INSIGHTLY_STATUSES = ['not started', 'in progress', 'deferred', 'cancelled', 'abandoned', 'completed'] as const;
const PIPELINER_STATUSES = ['in progress', 'completed'] as const; // provider-apis §1.5; seeds give no subset

interface ProjectRules {
  create?: FieldRules;
  update: FieldRules;
  delete: boolean;
}

// `remote_data` is supported everywhere: Truto passes it as-is to the CRM (seeds 003/004).
export const PROJECT_RULES: Record<TrutoIntegration, ProjectRules> = {
  capsule: {
    create: {
      supported: ['name', 'account', 'close_date', 'contact', 'custom_fields', 'description', 'opportunity', 'owner', 'status', 'tags', 'remote_data'],
      required: ['name'],
      enums: { status: CAPSULE_STATUSES },
    },
    update: {
      supported: ['name', 'account', 'contact', 'description', 'tags', 'close_date', 'custom_fields', 'opportunity', 'status', 'remote_data'],
      enums: { status: CAPSULE_STATUSES },
    },
    delete: true,
  },
  insightly: {
    create: {
      supported: ['name', 'close_date', 'custom_fields', 'description', 'opportunity', 'owner', 'status', 'tags', 'remote_data'],
      required: ['name', 'status'],
      enums: { status: INSIGHTLY_STATUSES },
    },
    update: {
      supported: ['name', 'description', 'close_date', 'custom_fields', 'status', 'owner', 'remote_data'],
      enums: { status: INSIGHTLY_STATUSES },
    },
    delete: true,
  },
  pipeliner: {
    create: {
      supported: ['name', 'account', 'close_date', 'contact', 'description', 'owner', 'status', 'remote_data'],
      required: ['name', 'close_date', 'owner'],
      enums: { status: PIPELINER_STATUSES },
    },
    update: {
      supported: ['name', 'account', 'description', 'close_date', 'owner', 'remote_data'],
    },
    delete: true,
  },
  planhat: {
    create: {
      supported: ['name', 'account', 'amount', 'currency', 'custom_fields', 'remote_data'],
      required: ['name', 'account'],
    },
    update: {
      supported: ['name', 'account', 'custom_fields', 'amount', 'currency', 'remote_data'],
    },
    delete: true,
  },
  teamleader: {
    create: { supported: ['name', 'remote_data'], required: ['name'] },
    update: {
      supported: ['name', 'account', 'contact', 'description', 'opportunity', 'amount', 'currency', 'owner', 'remote_data'],
      required: ['name'],
    },
    delete: false, // provider-apis §1.5: delete on Capsule, Insightly, Pipeliner, Planhat only
  },
};

const PROJECT_FILTERS = ['name', 'status', 'owner_id', 'account_id', 'stage_id'] as const;

function projectCapabilities(integration: TrutoIntegration | undefined): ResourceCapabilities {
  if (!integration) {
    // Unknown integration: accept every unified field and let Truto (and the CRM) decide.
    // `name` is still required: all five project integrations require it (seed 003, "5 required").
    return {
      list: true,
      get: true,
      create: { supported: PROJECT_FIELDS, required: ['name'], enums: { status: PROJECT_STATUSES } },
      update: { supported: PROJECT_FIELDS, enums: { status: PROJECT_STATUSES } },
      delete: true,
      filters: PROJECT_FILTERS,
    };
  }
  const rules = PROJECT_RULES[integration];
  return {
    list: true,
    get: true,
    create: rules.create,
    update: rules.update,
    delete: rules.delete,
    filters: PROJECT_FILTERS,
  };
}

/**
 * Stages, pipelines and opportunities: what Truto's unified API declares (provider-apis §1.5).
 * The CRM behind an integrated account may still refuse an operation; that answer comes back
 * as Truto's remote error, turned into a sentence by describeTrutoError.
 */
const STAGE_FIELDS = ['pipeline_id', 'name', 'position'] as const; // Truto's stage body: name, pipeline{id}, position
const PIPELINE_FIELDS = ['name'] as const; // Truto's pipeline body: name
const DEAL_FIELDS = WRITE_FIELDS.deals;

export function trutoCapabilities(integration?: TrutoIntegration): Capabilities {
  return {
    remote_query: true,
    // Truto replays a write that repeats an Idempotency-Key.
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
      create: { supported: STAGE_FIELDS, required: ['name'] },
      update: { supported: STAGE_FIELDS },
      delete: true,
      // Sorted by crm-mcp over the whole (small) stage list, so either direction works.
      filters: ['pipeline_id', 'name', 'status', 'sort_by', 'sort_direction'],
    },
    deals: {
      list: true,
      get: true,
      // `name` is required by nearly every integration Truto lists for opportunity create.
      create: { supported: DEAL_FIELDS, required: ['name'], enums: { status: DEAL_STATUSES } },
      update: { supported: DEAL_FIELDS, enums: { status: DEAL_STATUSES } },
      // No delete: the tool contract has no delete_deal, so none is advertised.
      filters: ['pipeline_id', 'stage_id', 'status', 'owner_id'],
    },
    projects: projectCapabilities(integration),
    // No stats: Truto has no pipeline statistics; `stats` stays undefined so the tool layer says so.
  };
}
