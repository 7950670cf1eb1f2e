/** The unified model's status values, apart from its zod schemas (model.ts) so code that needs only these loads no schema. */
export const STAGE_STATUSES = ['active', 'inactive'] as const;
export const DEAL_STATUSES = ['open', 'won', 'lost'] as const;
export const PROJECT_STATUSES = [
  'open',
  'closed',
  'not started',
  'in progress',
  'deferred',
  'cancelled',
  'abandoned',
  'completed',
] as const;
/** What an activity is; every CRM serves these or a subset (its capabilities say which). */
export const ACTIVITY_TYPES = ['note', 'task', 'call', 'meeting', 'email'] as const;
/** What `search` can look for, in the order results of equal rank are shown. */
export const SEARCH_TYPES = ['deals', 'accounts', 'contacts', 'projects', 'pipelines', 'stages', 'users'] as const;
