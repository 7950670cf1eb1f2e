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
