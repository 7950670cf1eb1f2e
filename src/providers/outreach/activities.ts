/**
 * Outreach activities: tasks (`/tasks`), logged calls (`/calls`), and notes, which Outreach keeps
 * per record (`/accountNotes`, `/prospectNotes`). Ids say their collection: t12, c12, an12, pn12.
 *
 * - Lists merge the collections a query asks for, newest first, under one cursor (crm/merge.ts):
 *   each is filtered by Outreach itself (a parent through `filter[<relationship>][id]`, a task's
 *   state), then merged. A collection that can hang on the parent asked for but that Outreach
 *   cannot filter by it (calls by account, notes by deal) is left out and the answer says so.
 * - Parents, as Outreach holds them: a task has one subject (a deal, an account or a prospect); a
 *   call is logged with a prospect and/or on an opportunity; a note is on an account or on a
 *   prospect. Anything else is refused in one sentence before sending (map.ts).
 * - `done: true` completes a task through Outreach's markComplete action (a task's state is
 *   read-only); a create with done true is the create, then that action.
 */
import { CrmError } from '../../crm/errors.js';
import { mergedPage, type MergedSource } from '../../crm/merge.js';
import type { Activity, ActivityType } from '../../crm/model.js';
import {
  WRITE_FIELDS,
  type ActivityInput,
  type ActivityQuery,
  type CallOptions,
  type CrudOperations,
  type Page,
  type PreparedWrite,
} from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { preparedSequence } from '../../crm/writes.js';
import { ACCOUNT_NOTES, CALLS, PROSPECT_NOTES, TASKS, pageSize, readBack, type Collection } from './client.js';
import type { Ctx } from './directory.js';
import {
  ACTIVITY_KINDS,
  ACTIVITY_KIND_LIST,
  activityCreate,
  activityId,
  activityUpdate,
  idOf,
  includedOf,
  parseActivityId,
  toActivity,
  type ActivityKind,
  type OrActivity,
  type OrTask,
} from './map.js';

const COLLECTION: Record<ActivityKind, Collection> = { task: TASKS, call: CALLS, accountNote: ACCOUNT_NOTES, prospectNote: PROSPECT_NOTES };

/** The related records each kind includes, for the names of its owner and parents (their names only). */
const INCLUDE: Record<ActivityKind, string> = {
  task: 'owner,account,prospect,opportunity',
  call: 'user,prospect,opportunity',
  accountNote: 'creator,account,opportunity',
  prospectNote: 'creator,prospect,opportunity',
};
const NAMES_ONLY = { user: 'name', account: 'name', prospect: 'name', opportunity: 'name' };
const readQuery = (kind: ActivityKind) => ({ include: INCLUDE[kind], fields: NAMES_ONLY });

type Parent = 'deal' | 'account' | 'contact';

/** The relationship each kind is filtered by, per parent (spec: the relationships' filter notes). */
const FILTER_BY: Record<ActivityKind, Partial<Record<Parent, string>>> = {
  task: { deal: 'opportunity', account: 'account', contact: 'prospect' },
  call: { deal: 'opportunity', contact: 'prospect' },
  accountNote: { account: 'account' },
  prospectNote: { contact: 'prospect' },
};

/**
 * Parents a kind can hang on that Outreach cannot filter it by (read-only relationships that are
 * "not a filter" in the spec): a listing by that parent leaves those records out, and says so.
 */
const UNFILTERABLE: Partial<Record<ActivityKind, Partial<Record<Parent, string>>>> = {
  call: { account: 'Outreach cannot filter calls by account, so calls are not in this list: list them by contact_id or deal_id.' },
  accountNote: { deal: "Outreach cannot filter notes by deal, so notes are not in this list: list the notes of the deal's account with account_id." },
  prospectNote: { deal: "Outreach cannot filter notes by deal, so notes are not in this list: list the notes of the deal's account with account_id." },
};

const KINDS_OF: Record<ActivityType, readonly ActivityKind[]> = {
  task: ['task'],
  call: ['call'],
  note: ['accountNote', 'prospectNote'],
  meeting: [],
  email: [],
};

/** Newest first; the same instant by id, descending, as each collection's own `-createdAt` order. */
const newestFirst = (a: Activity, b: Activity): number =>
  (b.created_at ?? '').localeCompare(a.created_at ?? '') || b.id.localeCompare(a.id, 'en', { numeric: true });

export function activityOps(ctx: Ctx): CrudOperations<Activity, ActivityQuery, ActivityInput> {
  const { client } = ctx;

  async function get(id: string, opts: CallOptions): Promise<Activity> {
    const at = parseActivityId(id);
    const { data, included } = await client.read<OrActivity>(COLLECTION[at.kind], at.id, id, readQuery(at.kind), opts.signal);
    return toActivity(at.kind, data, includedOf(included), { remote: opts.include_remote_data });
  }

  const after = (kind: ActivityKind) => readBack('activity', 'list_activities', get, (id) => activityId(kind, id));

  /** The collections a query reads, each with its Outreach filter, and the sentences for those it cannot. */
  function plan(query: ActivityQuery) {
    if (query.type !== undefined && !KINDS_OF[query.type].length) {
      throw new CrmError('unsupported', `Outreach has no ${query.type} activities; its activities are tasks, calls and notes.`);
    }
    const parents: Partial<Record<Parent, number>> = {
      deal: idOf(query.deal_id, 'deal'),
      account: idOf(query.account_id, 'account'),
      contact: idOf(query.contact_id, 'contact'),
    };
    const asked = (Object.keys(parents) as Parent[]).filter((p) => parents[p] !== undefined);
    const sources: Array<{ kind: ActivityKind; filter: Record<string, unknown> }> = [];
    const missing = new Set<string>();
    for (const kind of query.type ? KINDS_OF[query.type] : ACTIVITY_KIND_LIST) {
      // A note is never done; a logged call always is.
      if (query.done !== undefined && ACTIVITY_KINDS[kind].type === 'note') continue;
      if (query.done === false && kind === 'call') continue;
      const unfilterable = asked.map((p) => UNFILTERABLE[kind]?.[p]).find((s) => s !== undefined);
      if (unfilterable) {
        missing.add(unfilterable);
        continue;
      }
      // A parent this kind cannot hang on at all: none of its records can match.
      if (asked.some((p) => !FILTER_BY[kind][p])) continue;
      const filter: Record<string, unknown> = Object.fromEntries(asked.map((p) => [FILTER_BY[kind][p], { id: parents[p] }]));
      if (kind === 'task' && query.done !== undefined) filter.state = query.done ? 'complete' : 'incomplete,pending';
      sources.push({ kind, filter });
    }
    return { sources, missing: [...missing] };
  }

  return {
    async list(query, opts): Promise<Page<Activity>> {
      const { sources, missing } = plan(query);
      // Nothing Outreach can filter this way: a list would look complete and be empty.
      if (!sources.length && missing.length) throw new CrmError('unsupported', missing[0]);
      const merged: Array<MergedSource<Activity>> = sources.map(({ kind, filter }) => ({
        key: ACTIVITY_KINDS[kind].prefix,
        label: ACTIVITY_KINDS[kind].label,
        async page(cursor, size, signal) {
          const query = { ...(Object.keys(filter).length ? { filter } : {}), sort: '-createdAt', ...readQuery(kind) };
          const page = await client.pageAfter<OrActivity>(COLLECTION[kind], query, { size: pageSize(size), after: cursor }, signal);
          const names = includedOf(page.included);
          return { items: page.items.map((r) => toActivity(kind, r, names, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
        },
      }));
      const page = await mergedPage(merged, {
        limit: pageSize(query.limit),
        cursor: query.cursor,
        order: newestFirst,
        signal: opts.signal,
        onProgress: opts.onProgress,
      });
      return missing.length ? { ...page, incomplete: missing.join(' ') } : page;
    },

    get,

    async create(input, opts): Promise<PreparedWrite<Activity>> {
      const w = activityCreate(input);
      const c = COLLECTION[w.kind];
      if (!w.complete) return client.prepareWrite(c, { body: w.body, signal: opts.signal }, after(w.kind)(opts));
      // A task created done: the create, then Outreach's action that completes it.
      const created = client.prepareWrite<OrTask, OrTask>(c, { body: w.body, signal: opts.signal }, (answer) => answer);
      return preparedSequence(
        {
          provider: 'Outreach',
          what: 'this create of a completed task',
          recovery: (answers) =>
            `The task exists (${activityId('task', (answers[0] as OrTask).id)}), still open: complete it with update_activity and done: true; do not create it again.`,
          signal: opts.signal,
        },
        [
          { request: created.request, purpose: 'create the task', send: () => created.execute() },
          {
            request: { method: 'POST', path: '/tasks/{TASK_ID}/actions/markComplete' },
            purpose: 'mark it complete',
            send: (answers) => {
              const id = (answers[0] as OrTask).id;
              return client.prepareAction<OrTask>(c, id, activityId('task', id), 'markComplete', opts.signal).send();
            },
          },
        ],
        (answers) => after('task')(opts)(answers[0] as OrTask),
      );
    },

    async update(id, patch, opts): Promise<PreparedWrite<Activity>> {
      const at = parseActivityId(id);
      const u = activityUpdate(at, id, patch);
      const c = COLLECTION[at.kind];
      const changes = { ...u.body.attributes, ...u.body.relationships };
      if (!u.complete) requireChange(changes, 'activity', WRITE_FIELDS.activities.filter((f) => f !== 'type' && f !== 'project_id'));
      const target = { native: at.id, shown: id };
      if (!u.complete) return client.prepareWrite(c, { id: target, body: u.body, signal: opts.signal }, after(at.kind)(opts));
      const complete = client.prepareAction<OrTask>(c, at.id, id, 'markComplete', opts.signal);
      if (!Object.keys(changes).length) {
        return { request: complete.request, execute: async () => after('task')(opts)(await complete.send()) };
      }
      const patched = client.prepareWrite<OrTask, OrTask>(c, { id: target, body: u.body, signal: opts.signal }, (answer) => answer);
      return preparedSequence(
        {
          provider: 'Outreach',
          what: `this update of task ${id}`,
          recovery: () => `Its changes were saved but it is still open: send update_activity with only done: true to complete it.`,
          signal: opts.signal,
        },
        [
          { request: patched.request, purpose: 'change the task', send: () => patched.execute() },
          { request: complete.request, purpose: 'mark it complete', send: () => complete.send() },
        ],
        (answers) => after('task')(opts)(answers[1] as OrTask),
      );
    },
  };
}
