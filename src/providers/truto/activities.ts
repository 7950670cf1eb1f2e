/**
 * Activities through Truto: its unified `notes` (type note), `tasks` (type task; done from the
 * task's status) and `engagements` (calls, meetings and emails; due date from the start time).
 * They are three resources with their own ids, so an activity id names its resource
 * ("note:12", "task:7", "engagement:31"), and a record never changes resource: a note cannot
 * become a task.
 *
 * list_activities reads every resource the type and done filters allow, whole (up to
 * MAX_ACTIVITY_PAGES pages each, in parallel), keeps what hangs on the records asked for (checked
 * here too: Truto passes opportunity[id], account[id], contact[id] and project[id] to each CRM as
 * it can), merges them newest first, and pages the merge under one cursor. Nothing is left out
 * silently: a resource cut at the cap, or one Truto does not serve for the account, is said.
 */
import { CrmError, isCrmError, unknownReference } from '../../crm/errors.js';
import { type Activity, type ActivityType } from '../../crm/model.js';
import { incompleteListing, localPage, sortLocally, type Walk } from '../../crm/paginate.js';
import { together } from '../../crm/parallel.js';
import {
  WRITE_FIELDS,
  type ActivityInput,
  type ActivityQuery,
  type CallOptions,
  type CrudOperations,
  type Page,
  type PreparedWrite,
  type WriteOptions,
} from '../../crm/provider.js';
import { compact, requireChange } from '../../crm/records.js';
import { serves, type RecordCoverage } from './capabilities.js';
import type { TrutoClient } from './client.js';
import {
  ACTIVITY_RESOURCES,
  activityId,
  activityLinked,
  engagementFromTruto,
  engagementToTruto,
  engagementType,
  noteFromTruto,
  noteToTruto,
  parseActivityId,
  taskFromTruto,
  taskToTruto,
  type ActivityKind,
  type MapOptions,
  type TrutoActivity,
  type TrutoEngagement,
} from './map.js';
import { SCAN_PAGE, datedRecord, trutoResource, type ReferenceCheck, type ResourceOperations } from './resource.js';

/** A listing of activities reads at most this many pages of each resource before saying it is cut short. */
export const MAX_ACTIVITY_PAGES = 10;

interface Stream {
  kind: ActivityKind;
  resource: (typeof ACTIVITY_RESOURCES)[ActivityKind];
  /** The activity types this resource holds. */
  types: readonly ActivityType[];
  /** What the types are called in a sentence. */
  label: string;
  fromTruto: (native: TrutoActivity, opts: MapOptions) => Activity;
  toTruto: (input: ActivityInput) => Record<string, unknown>;
  /** Native records that are activities here (engagements: calls, meetings and emails only). */
  keep: (native: TrutoActivity) => boolean;
  ops: ResourceOperations<Activity, ActivityQuery, ActivityInput>;
}

/** What a write to one resource cannot carry, as the sentence that says so (before anything is sent). */
function refuseFields(kind: ActivityKind, input: ActivityInput): void {
  if (kind !== 'engagement' && input.project_id !== undefined) {
    throw new CrmError(
      'validation',
      "Truto's notes and tasks cannot hang on a project (only calls and meetings can); give deal_id, account_id or contact_id instead.",
    );
  }
  if (kind === 'note' && (input.due_date !== undefined || input.done !== undefined)) {
    const extra = (['due_date', 'done'] as const).filter((f) => input[f] !== undefined);
    throw new CrmError('validation', `A note has no ${extra.join(' or ')}: add a task with create_activity (type: task) to track a to-do.`);
  }
  if (kind === 'engagement' && input.done !== undefined) {
    throw new CrmError(
      'validation',
      "Truto's calls, meetings and emails have no done state: change due_date, or add a task (type: task) to track a to-do.",
    );
  }
}

export function activityOps(
  client: TrutoClient,
  coverage: RecordCoverage,
  check: ReferenceCheck,
  integrationKnown: boolean,
): CrudOperations<Activity, ActivityQuery, ActivityInput> {
  const label = client.label;
  const resourceOps = (kind: ActivityKind, fromTruto: Stream['fromTruto'], toTruto: Stream['toTruto']) =>
    trutoResource<Activity, TrutoActivity, ActivityInput, ActivityQuery>(client, {
      resource: ACTIVITY_RESOURCES[kind],
      noun: kind === 'engagement' ? 'call or meeting' : kind,
      listTool: 'list_activities',
      fromTruto,
      toTruto,
      listParams: () => ({}),
      // Notes and tasks have no name: a write answer with dates is the record itself.
      complete: datedRecord,
      notFound: (native) => unknownReference('activity', activityId(kind, native)),
      references: (input) => ({ user: input.owner_id, account: input.account_id, contact: input.contact_id, deal: input.deal_id }),
      check,
    });

  const all: Stream[] = [
    {
      kind: 'note',
      resource: 'notes',
      types: ['note'],
      label: 'notes',
      fromTruto: (n, o) => noteFromTruto(n, o),
      toTruto: noteToTruto,
      keep: () => true,
      ops: resourceOps('note', noteFromTruto, noteToTruto),
    },
    {
      kind: 'task',
      resource: 'tasks',
      types: ['task'],
      label: 'tasks',
      fromTruto: (n, o) => taskFromTruto(n, o),
      toTruto: taskToTruto,
      keep: () => true,
      ops: resourceOps('task', taskFromTruto, taskToTruto),
    },
    {
      kind: 'engagement',
      resource: 'engagements',
      types: coverage.engagementTypes,
      label: 'calls and meetings',
      fromTruto: (n, o) => engagementFromTruto(n as TrutoEngagement, o),
      toTruto: engagementToTruto,
      keep: (n) => {
        const type = engagementType((n as TrutoEngagement).engagement_type);
        return type !== undefined && coverage.engagementTypes.includes(type);
      },
      ops: resourceOps('engagement', (n, o) => engagementFromTruto(n as TrutoEngagement, o), engagementToTruto),
    },
  ];
  const streams = all.filter((s) => coverage.ops[s.resource] !== undefined && s.types.length > 0);

  const byKind = (kind: ActivityKind): Stream => {
    const stream = streams.find((s) => s.kind === kind);
    if (!stream) throw new CrmError('unsupported', `${label} serves no ${ACTIVITY_RESOURCES[kind]} for this account.`);
    return stream;
  };
  const served = (s: Stream, op: 'list' | 'get' | 'create' | 'update'): boolean => serves(coverage, s.resource, op);
  const refuse = (verb: string, s: Stream): CrmError =>
    new CrmError('unsupported', `${label} does not support ${verb} ${s.label}; list_connections shows what this connection supports.`);

  /** What Truto is asked for: the records an activity hangs on, and a task's state. */
  const listParams = (q: ActivityQuery, s: Stream) =>
    compact({
      opportunity: q.deal_id === undefined ? undefined : { id: q.deal_id },
      account: q.account_id === undefined ? undefined : { id: q.account_id },
      contact: q.contact_id === undefined ? undefined : { id: q.contact_id },
      project: s.kind === 'engagement' && q.project_id !== undefined ? { id: q.project_id } : undefined,
      status: s.kind === 'task' && q.done !== undefined ? (q.done ? 'completed' : 'open') : undefined,
    });

  /** Whether a resource can hold what the query asks for (a project, a done state, a type). */
  const answers = (s: Stream, q: ActivityQuery): boolean =>
    served(s, 'list') &&
    (q.type === undefined || s.types.includes(q.type)) &&
    // Only tasks have a done state; only Truto's engagements link a project.
    (q.done === undefined || s.kind === 'task') &&
    (q.project_id === undefined || s.kind === 'engagement');

  const withId = async <T>(id: string, run: (s: Stream, native: string) => Promise<T>): Promise<T> => {
    const { kind, id: native } = parseActivityId(id);
    return run(byKind(kind), native);
  };

  return {
    async list(q: ActivityQuery, opts: CallOptions): Promise<Page<Activity>> {
      const chosen = streams.filter((s) => answers(s, q));
      // One count over every resource's pages, so progress only goes up.
      let pages = 0;
      const onProgress = opts.onProgress && ((_: number, __?: number, message?: string) => opts.onProgress!(++pages, undefined, message));
      const walks = await together(
        opts.signal,
        chosen.map((s) => async (signal: AbortSignal): Promise<{ s: Stream; walk?: Walk<TrutoActivity> }> => {
          try {
            const walk = await client.walk<TrutoActivity>(s.resource, listParams(q, s), { ...opts, signal, onProgress }, SCAN_PAGE, MAX_ACTIVITY_PAGES);
            return { s, walk };
          } catch (e) {
            // An account whose integration is not named may have no such resource at Truto.
            if (!integrationKnown && isCrmError(e) && (e.kind === 'not_found' || e.kind === 'unsupported')) return { s };
            throw e;
          }
        }),
      );
      const items = walks.flatMap(({ s, walk }) =>
        (walk?.items ?? [])
          .filter((n) => s.keep(n) && activityLinked(n, q))
          .map((n) => s.fromTruto(n, opts))
          .filter((a) => (q.type === undefined || a.type === q.type) && (q.done === undefined || a.done === q.done)),
      );
      const newestFirst = sortLocally(items, (a) => a.created_at, 'desc', (a, b) =>
        a.id.localeCompare(b.id, 'en', { numeric: true }),
      );
      const notes = walks.flatMap(({ s, walk }) =>
        !walk
          ? [`${label} serves no ${s.resource} for this account, so its ${s.label} are not listed.`]
          : walk.stopped
            ? [incompleteListing(walk, label, s.resource)]
            : [],
      );
      const page = localPage(newestFirst, q.cursor, q.limit);
      return notes.length ? { ...page, incomplete: notes.join(' ') } : page;
    },

    get: (id: string, opts: CallOptions) =>
      withId(id, (s, native) => {
        if (!served(s, 'get')) throw refuse('reading', s);
        return s.ops.get(native, opts);
      }),

    async create(input: ActivityInput, opts: WriteOptions): Promise<PreparedWrite<Activity>> {
      const s = streams.find((x) => input.type !== undefined && x.types.includes(input.type) && served(x, 'create'));
      if (!s) throw new CrmError('unsupported', `${label} does not support creating activities of type ${input.type ?? '(none)'}.`);
      refuseFields(s.kind, input);
      return s.ops.create(input, opts);
    },

    update: (id: string, patch: ActivityInput, opts: WriteOptions) =>
      withId(id, async (s, native) => {
        if (!served(s, 'update')) throw refuse('updating', s);
        if (patch.type !== undefined && !s.types.includes(patch.type)) {
          throw new CrmError(
            'validation',
            `Activity ${id} is one of ${label}'s ${s.label}, which cannot become a ${patch.type}: add a new one with create_activity instead.`,
          );
        }
        refuseFields(s.kind, patch);
        requireChange(s.toTruto(patch), 'activity', WRITE_FIELDS.activities);
        return s.ops.update(native, patch, opts);
      }),
  };
}
