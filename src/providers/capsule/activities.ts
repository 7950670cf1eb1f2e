/**
 * Capsule entries (notes and recorded emails) and tasks as activities. Each hangs on one party,
 * opportunity or project; their ids carry a prefix ("entry-12", "task-493") because Capsule numbers
 * them apart.
 *
 * A list merges both, newest first, under one cursor: Capsule lists a record's entries
 * (`GET /{parties|opportunities|kases}/{id}/entries`) but its tasks only account-wide
 * (`GET /tasks`, by status), so both are read whole (every page, at once) and merged, sorted and
 * paged here; a walk cut short says so instead of passing for the whole list. Notes and emails
 * are listed one record at a time; tasks also across the account. The completed-task entries
 * Capsule adds to a timeline are left out: the task itself is listed.
 */
import { CrmError, type ReferencedRecord } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Activity } from '../../crm/model.js';
import { incompleteListing, localPage, sortLocally, type Walk } from '../../crm/paginate.js';
import { together } from '../../crm/parallel.js';
import type { ActivityInput, ActivityQuery, CallOptions, CrudOperations, Page, PreparedWrite, ProgressReporter } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { orUnknown, unwrap } from './client.js';
import { checkReferences, type Ctx, type References } from './directory.js';
import {
  activityParent,
  entryToActivity,
  entryType,
  fromEntryPatch,
  fromNoteInput,
  fromTaskInput,
  hangsOn,
  parseActivityId,
  taskStatuses,
  taskToActivity,
  type ActivityParent,
  type CapsuleEntry,
  type CapsuleTask,
} from './map.js';

/** A record's entries come 1 to 50 a page (Entry docs); other listings take 100. */
const ENTRY_PAGE = 50;
const COLLECTION: Record<ActivityParent['key'], string> = { party: 'parties', opportunity: 'opportunities', kase: 'kases' };

/** The check that the record an activity names exists, as a reference of the write or filter. */
function parentReference(p: ActivityParent): References {
  switch (p.field) {
    case 'deal_id':
      return { deal: p.given };
    case 'project_id':
      return { project: p.given };
    case 'account_id':
      return { party: { id: p.given, as: 'account' } };
    case 'contact_id':
      return { party: { id: p.given, as: 'contact' } };
  }
}

/** What an unknown parent id is called in the sentence that refuses it. */
const PARENT_RECORD = { deal_id: 'deal', project_id: 'project', account_id: 'account', contact_id: 'contact' } as const satisfies Record<
  ActivityParent['field'],
  ReferencedRecord
>;

/** Progress of walks made at the same time, counted together so the count only grows. */
function countedTogether(report: ProgressReporter | undefined): ProgressReporter | undefined {
  let done = 0;
  return report && ((_page, _total, message) => report(++done, undefined, message));
}

const numericId = (a: Activity) => Number(a.id.slice(a.id.indexOf('-') + 1));

export function activityOps(ctx: Ctx): CrudOperations<Activity, ActivityQuery, ActivityInput> {
  const { client } = ctx;
  const remote = (opts: CallOptions) => ({ remote: opts.include_remote_data });

  return {
    async list(query, opts): Promise<Page<Activity>> {
      if (query.type === 'call' || query.type === 'meeting') {
        throw new CrmError('validation', `Capsule's activities are notes, emails and tasks: it has no type '${query.type}' (Capsule logs calls and meetings as notes).`);
      }
      const parent = activityParent(query, 'list');
      // Notes are never done, so a done filter lists tasks only.
      const entries = query.done === undefined && query.type !== 'task';
      const tasks = query.type === undefined || query.type === 'task';
      if (entries && !parent) {
        throw new CrmError(
          'validation',
          'Capsule lists notes and emails one record at a time: pass deal_id, account_id, contact_id or project_id (or type: task for tasks across the account).',
        );
      }
      const onProgress = countedTogether(opts.onProgress);
      const none = async (): Promise<Walk<never> | undefined> => undefined;
      const [entryWalk, taskWalk] = await together(opts.signal, [
        entries && parent
          ? (signal: AbortSignal) =>
              orUnknown(
                PARENT_RECORD[parent.field],
                parent.given,
                client.walk<CapsuleEntry>({ path: path`/${COLLECTION[parent.key]}/${parent.id}/entries`, key: 'entries' }, signal, {
                  size: ENTRY_PAGE,
                  onProgress,
                  what: 'notes and emails',
                }),
              )
          : none,
        tasks
          ? (signal: AbortSignal) =>
              client.walk<CapsuleTask>({ path: path`/tasks`, key: 'tasks', query: { status: taskStatuses(query.done) } }, signal, { onProgress, what: 'tasks' })
          : none,
        // A record named only for its tasks is read, so an unknown id is not an empty list.
        parent && !entries ? (signal: AbortSignal) => checkReferences(ctx, parentReference(parent), signal) : none,
      ] as const);

      const found: Activity[] = [
        ...(entryWalk?.items ?? [])
          .filter((e) => entryType(e) !== undefined && (query.type === undefined || entryType(e) === query.type))
          .map((e) => entryToActivity(e, remote(opts))),
        ...(taskWalk?.items ?? [])
          .filter((t) => t.status !== 'PENDING' && (!parent || hangsOn(t, parent)))
          .map((t) => taskToActivity(t, remote(opts))),
      ];
      const newestFirst = sortLocally(found, (a) => a.created_at, 'desc', (a, b) => numericId(a) - numericId(b) || a.id.localeCompare(b.id));
      const page: Page<Activity> = localPage(newestFirst, query.cursor, query.limit);
      const cut = [
        entryWalk?.stopped && incompleteListing(entryWalk, 'Capsule', 'notes and emails'),
        taskWalk?.stopped && incompleteListing(taskWalk, 'Capsule', 'tasks'),
      ].filter(Boolean);
      return cut.length ? { ...page, incomplete: cut.join(' ') } : page;
    },

    async get(id, opts) {
      const key = parseActivityId(id);
      if (key.kind === 'entry') {
        return entryToActivity(await orUnknown('activity', id, client.get<CapsuleEntry>(path`/entries/${key.id}`, 'entry', undefined, opts.signal)), remote(opts));
      }
      return taskToActivity(await orUnknown('activity', id, client.get<CapsuleTask>(path`/tasks/${key.id}`, 'task', undefined, opts.signal)), remote(opts));
    },

    async create(input, opts): Promise<PreparedWrite<Activity>> {
      const parent = activityParent(input, 'create');
      if (!parent) throw new CrmError('validation', 'create_activity needs one of deal_id, account_id, contact_id, project_id: the record it belongs to.');
      const before = () => checkReferences(ctx, { owner: input.owner_id, ...parentReference(parent) }, opts.signal);
      if (input.type === 'note') {
        const entry = fromNoteInput(input, parent);
        return client.prepareWrite({ method: 'POST', path: path`/entries`, body: { entry }, signal: opts.signal, before }, (a) =>
          entryToActivity(unwrap<CapsuleEntry>(a, 'entry'), remote(opts)),
        );
      }
      if (input.type === 'task') {
        const task = fromTaskInput(input, parent);
        if (task.description === undefined || task.dueOn === undefined) {
          throw new CrmError('validation', "Capsule requires `subject` (the task's description) and `due_date` to create a task.");
        }
        return client.prepareWrite({ method: 'POST', path: path`/tasks`, body: { task }, signal: opts.signal, before }, (a) =>
          taskToActivity(unwrap<CapsuleTask>(a, 'task'), remote(opts)),
        );
      }
      throw new CrmError('unsupported', `Capsule's API creates notes and tasks only, not ${String(input.type)}s.`);
    },

    async update(id, patch, opts): Promise<PreparedWrite<Activity>> {
      const key = parseActivityId(id);
      if (key.kind === 'entry') {
        // Only a subject needs to know whether the entry is a note or an email.
        const kind =
          patch.subject === undefined
            ? undefined
            : entryType(await orUnknown('activity', id, client.get<CapsuleEntry>(path`/entries/${key.id}`, 'entry', undefined, opts.signal)));
        const entry = fromEntryPatch(patch, kind);
        requireChange(entry, 'note', ['subject', 'body']);
        return client.prepareWrite(
          { method: 'PUT', path: path`/entries/${key.id}`, body: { entry }, signal: opts.signal, record: { what: 'activity', id } },
          (a) => entryToActivity(unwrap<CapsuleEntry>(a, 'entry'), remote(opts)),
        );
      }
      const task = fromTaskInput(patch);
      requireChange(task, 'task', ['subject', 'body', 'due_date', 'done', 'owner_id']);
      return client.prepareWrite(
        {
          method: 'PUT',
          path: path`/tasks/${key.id}`,
          body: { task },
          signal: opts.signal,
          record: { what: 'activity', id },
          before: () => checkReferences(ctx, { owner: patch.owner_id }, opts.signal),
        },
        (a) => taskToActivity(unwrap<CapsuleTask>(a, 'task'), remote(opts)),
      );
    },
  };
}
