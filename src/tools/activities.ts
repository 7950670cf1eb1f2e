import * as z from 'zod';
import { CrmError } from '../crm/errors.js';
import {
  Activity,
  ACTIVITY_PARENTS,
  ACTIVITY_TYPES,
  boundedText,
  IsoDate,
  isOverdue,
  LIMITS,
  todayUtc,
} from '../crm/model.js';
import type { ActivityInput } from '../crm/provider.js';
import { createTool, listTool, updateTool, type ResourceSpec } from './crud.js';
import { id } from './define.js';
import { activityLine } from './format.js';

const CONCISE = [
  'id',
  'type',
  'subject',
  'body',
  'due_date',
  'done',
  'overdue',
  'owner',
  'deal',
  'account',
  'contact',
  'project',
  'created_at',
] as const;

const parents = {
  deal_id: id('Deal').optional(),
  account_id: id('Account').optional(),
  contact_id: id('Contact').optional(),
  project_id: id('Project').optional(),
};

const activities: ResourceSpec<Activity> = {
  resource: 'activities',
  singular: 'activity',
  summary: z.looseObject({ id: z.string(), type: z.string() }),
  concise: CONCISE,
  line: activityLine,
  // Overdue is derived here, the same for every CRM: not done and due before today (UTC).
  decorate: (a) => (isOverdue(a, todayUtc()) ? { ...a, overdue: true } : a),
  fields: {
    type: z.enum(ACTIVITY_TYPES).describe('Kind; allowed values vary by CRM'),
    subject: boundedText(LIMITS.name).optional().describe('Short title'),
    body: boundedText(LIMITS.text).optional().describe('Text of the note'),
    due_date: IsoDate.optional().describe('Due (tasks, calls, meetings)'),
    done: z.boolean().optional().describe('true completes it'),
    owner_id: id('User').optional(),
    ...parents,
  },
};

/** A note is a record of what happened: it has no due date and is never "done". */
function checkNote(type: string | undefined, data: ActivityInput): void {
  if (type !== 'note') return;
  const extra = (['due_date', 'done'] as const).filter((f) => data[f] !== undefined);
  if (extra.length) {
    throw new CrmError('validation', `A note has no ${extra.join(' or ')}; make it a task (type: task) to track a to-do.`);
  }
}

export const activityTools = [
  listTool(activities, {
    description:
      'Notes, tasks, calls and meetings on a deal, account, contact or project (filter by it), newest first; overdue marked.',
    filters: {
      ...parents,
      type: z.enum(ACTIVITY_TYPES).optional().describe('Kind'),
      done: z.boolean().optional().describe('Done or open'),
    },
  }),
  createTool<Activity, ActivityInput>(activities, {
    description:
      'Adds a note, task, call or meeting to a record: give at least one of deal_id, account_id, contact_id, project_id.',
    // Checked before anything is sent: an activity on no record is lost to the next conversation.
    async before(_call, data) {
      if (!ACTIVITY_PARENTS.some((p) => data[p] !== undefined)) {
        throw new CrmError(
          'validation',
          `create_activity needs at least one of ${ACTIVITY_PARENTS.join(', ')}: the record it belongs to (search finds ids by name).`,
        );
      }
      checkNote(data.type, data);
    },
  }),
  updateTool<Activity, ActivityInput>(activities, {
    description: 'Changes an activity, sending only the fields given; done: true completes a task.',
    async before(_call, data) {
      checkNote(data.type, data);
    },
  }),
];
