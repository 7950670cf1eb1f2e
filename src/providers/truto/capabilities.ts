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
 *
 * The records around a deal (accounts, contacts, users, notes, tasks, engagements) follow Truto's
 * unified CRM docs as stored on 2026-11 (truto.one/docs/api-reference/unified-crm-api/...): the
 * object pages (accounts, contacts, users, notes, tasks, engagements), the method pages' lists of
 * integrations, the integration pages and the integration-coverage page. Where those pages do not
 * say (the newest create pages of tasks and the list pages of accounts and contacts were not in
 * the store), RECORD_COVERAGE says what the general unified API has and the note beside it says
 * so; the CRM's own refusal then comes back as Truto's remote error, in one sentence.
 */
import { DEAL_STATUSES, PROJECT_STATUSES, type ActivityType, type SearchType } from '../../crm/model.js';
import { WRITE_FIELDS, type Capabilities, type FieldRules, type ReadOp, type ResourceCapabilities, type WriteOp } from '../../crm/provider.js';

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

// ---------------------------------------------------------------------------------------------
// The records around a deal

/** Truto's unified resources behind accounts, contacts, users and activities. */
export type TrutoRecordResource = 'accounts' | 'contacts' | 'users' | 'notes' | 'tasks' | 'engagements';
type RecordOp = ReadOp | Exclude<WriteOp, 'delete'>;

/** What one integration (or the general unified API) serves of those resources. */
export interface RecordCoverage {
  ops: Partial<Record<TrutoRecordResource, readonly RecordOp[]>>;
  /** Engagement types served as activities (Truto's engagement_type: call, meeting, email). */
  engagementTypes: readonly ActivityType[];
  /** Types with a documented server-side search (search_term). */
  search: readonly SearchType[];
}

const FULL = ['list', 'get', 'create', 'update'] as const;
const READ = ['list', 'get'] as const;
const ENGAGEMENT_TYPES = ['call', 'meeting', 'email'] as const;

/**
 * The general unified coverage, for an account whose integration is not named: every resource
 * with every method the tools use. Which of them the CRM behind the account really serves varies
 * (the tables below); a method it lacks comes back as Truto's error, in one sentence.
 * `search_term` is documented on the projects list only (provider-apis §1.5, Capsule); accounts,
 * contacts, opportunities and users document no search query in the pages read, so only projects
 * are searched, and a search Truto answers with records that do not match is reported unsupported.
 */
export const UNIFIED_COVERAGE: RecordCoverage = {
  ops: { accounts: FULL, contacts: FULL, users: READ, notes: FULL, tasks: FULL, engagements: FULL },
  engagementTypes: ENGAGEMENT_TYPES,
  search: ['projects'],
};

/**
 * Per integration, from Truto's method pages (their "Integrations supported" lists):
 * - users: list and get for all five (users/list, users/get).
 * - notes: list for Capsule, Insightly, Pipeliner, Planhat; create for Capsule, Pipeliner, Planhat
 *   (not Insightly); update for Capsule, Insightly, Pipeliner, Planhat. None for Teamleader (its
 *   integration page lists no Notes). Get is assumed where list is (read back only).
 * - tasks: list, get and update for Capsule, Insightly, Planhat, Teamleader; create confirmed for
 *   Capsule only (tasks/create as stored lists Capsule, Close, Salesforce). None for Pipeliner (its
 *   integration page lists no Tasks).
 * - engagements: list for Capsule, Pipeliner, Planhat, Teamleader (not Insightly); create for
 *   Capsule and Planhat; Capsule's engagement types are call, meeting and note, and its note
 *   engagements are left out (Capsule's notes come from /notes). Update is taken where create is.
 * - accounts and contacts: Capsule list, get, create, update, delete (integration-coverage page);
 *   the other four list Accounts and Contacts on their integration pages, without methods: the
 *   general coverage is assumed for them.
 * - search: projects' `search_term` is documented for Capsule only.
 */
export const RECORD_COVERAGE: Record<TrutoIntegration, RecordCoverage> = {
  capsule: {
    ops: { accounts: FULL, contacts: FULL, users: READ, notes: FULL, tasks: FULL, engagements: FULL },
    engagementTypes: ['call', 'meeting'],
    search: ['projects'],
  },
  insightly: {
    ops: { accounts: FULL, contacts: FULL, users: READ, notes: ['list', 'get', 'update'], tasks: ['list', 'get', 'update'] },
    engagementTypes: [],
    search: [],
  },
  pipeliner: {
    ops: { accounts: FULL, contacts: FULL, users: READ, notes: FULL, engagements: READ },
    engagementTypes: ENGAGEMENT_TYPES,
    search: [],
  },
  planhat: {
    ops: { accounts: FULL, contacts: FULL, users: READ, notes: FULL, tasks: ['list', 'get', 'update'], engagements: FULL },
    engagementTypes: ENGAGEMENT_TYPES,
    search: [],
  },
  teamleader: {
    ops: { accounts: FULL, contacts: FULL, users: READ, tasks: ['list', 'get', 'update'], engagements: READ },
    engagementTypes: ENGAGEMENT_TYPES,
    search: [],
  },
};

export function recordCoverage(integration: TrutoIntegration | undefined): RecordCoverage {
  return integration ? RECORD_COVERAGE[integration] : UNIFIED_COVERAGE;
}

export const serves = (c: RecordCoverage, resource: TrutoRecordResource, op: RecordOp): boolean =>
  c.ops[resource]?.includes(op) ?? false;

/** The activity types an operation reaches: notes, tasks and the engagement types. */
export function activityTypes(c: RecordCoverage, op: RecordOp): ActivityType[] {
  return [
    ...(serves(c, 'notes', op) ? (['note'] as const) : []),
    ...(serves(c, 'tasks', op) ? (['task'] as const) : []),
    ...(serves(c, 'engagements', op) ? c.engagementTypes : []),
  ];
}

const ACCOUNT_FIELDS = WRITE_FIELDS.accounts;
const CONTACT_FIELDS = WRITE_FIELDS.contacts;
/** Fields every activity takes; the others follow from the types (a due date needs a task or an engagement). */
const ACTIVITY_BASE = ['type', 'subject', 'body', 'owner_id', 'deal_id', 'account_id', 'contact_id'] as const;

function activityRules(types: readonly ActivityType[], required?: readonly string[]): FieldRules | undefined {
  if (!types.length) return undefined;
  const engagement = types.some((t) => t !== 'note' && t !== 'task');
  const supported = [
    ...ACTIVITY_BASE,
    ...(types.includes('task') || engagement ? ['due_date'] : []),
    ...(types.includes('task') ? ['done'] : []),
    // Only Truto's engagements link a project; notes and tasks have no such field.
    ...(engagement ? ['project_id'] : []),
  ];
  return { supported, ...(required ? { required } : {}), enums: { type: types } };
}

function recordCapabilities(c: RecordCoverage): Pick<Capabilities, 'accounts' | 'contacts' | 'users' | 'activities' | 'search'> {
  const resource = (r: TrutoRecordResource, rules: { create?: FieldRules; update?: FieldRules; filters: readonly string[] }) =>
    c.ops[r]
      ? {
          list: serves(c, r, 'list'),
          get: serves(c, r, 'get'),
          ...(serves(c, r, 'create') && rules.create ? { create: rules.create } : {}),
          ...(serves(c, r, 'update') && rules.update ? { update: rules.update } : {}),
          filters: rules.filters,
        }
      : undefined;
  const listed = activityTypes(c, 'list');
  const create = activityRules(activityTypes(c, 'create'), ['type']);
  const update = activityRules(activityTypes(c, 'update'));
  return {
    accounts: resource('accounts', {
      // "Either name or website is required" (accounts/create); a name is what every tool shows.
      create: { supported: ACCOUNT_FIELDS, required: ['name'] },
      update: { supported: ACCOUNT_FIELDS },
      filters: ['name', 'owner_id'],
    }),
    contacts: resource('contacts', {
      create: { supported: CONTACT_FIELDS },
      update: { supported: CONTACT_FIELDS },
      filters: ['name', 'email', 'account_id', 'owner_id'],
    }),
    users: resource('users', { filters: ['name', 'email'] }),
    activities: listed.length || create || update
      ? {
          list: listed.length > 0,
          get: serves(c, 'notes', 'get') || serves(c, 'tasks', 'get') || serves(c, 'engagements', 'get'),
          ...(create ? { create } : {}),
          ...(update ? { update } : {}),
          filters: [
            'deal_id',
            'account_id',
            'contact_id',
            ...(serves(c, 'engagements', 'list') ? ['project_id'] : []),
            'type',
            ...(serves(c, 'tasks', 'list') ? ['done'] : []),
          ],
        }
      : undefined,
    search: c.search,
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
      // account_id goes as account[id] (the form Truto documents for projects) and is checked here too.
      filters: ['pipeline_id', 'stage_id', 'status', 'owner_id', 'account_id'],
    },
    projects: projectCapabilities(integration),
    ...recordCapabilities(recordCoverage(integration)),
    // No stats: Truto has no pipeline statistics; `stats` stays undefined so the tool layer says so.
  };
}
