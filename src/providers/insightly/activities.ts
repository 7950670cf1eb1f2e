/**
 * Insightly notes (/Notes) and tasks (/Tasks) as activities, each hung on the records it belongs
 * to. Notes and tasks are two collections with their own ids, so an activity id says which
 * ("note-12", "task-40").
 *
 * - Parents. A note is created on one record (`POST /{Opportunities|Projects|Contacts|Organisations}/{id}/Notes`:
 *   /Notes has no POST) and linked to the others (`POST /Notes/{id}/Links`). A task is created by
 *   `POST /Tasks`; its deal and project are fields of the task (OPPORTUNITY_ID, PROJECT_ID), its
 *   contact and account are links (`POST /Tasks/{id}/Links`). A write in several requests is one
 *   preparedSequence: the dry run shows every request, a failure after the first says what was
 *   done. An update that changes a parent links the new record first, then removes the old link,
 *   so an activity never hangs on nothing.
 * - Listing. On a record: its own `/{Collection}/{id}/Notes` and `/Tasks`; otherwise all of /Notes
 *   and /Tasks. Insightly lists them by id with no sort, so both are read whole (every page, with
 *   progress, stopped by cancellation), merged newest first (created_at, then id) and paged here:
 *   a scan cut short says so. Further parents and `done` are checked here.
 * - The ids a write refers to (owner, parents) are checked to exist when it is sent, before its
 *   first request.
 */
import { CrmError, unknownReference, whenNotFound } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Activity } from '../../crm/model.js';
import { namesOf } from '../../crm/names.js';
import { incompleteListing, localPage, type Walk } from '../../crm/paginate.js';
import { together } from '../../crm/parallel.js';
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
import { afterWrite, preparedSequence, type WriteStep } from '../../crm/writes.js';
import { answeredId, orNotFound, pageSize } from './client.js';
import type { Ctx, References } from './directory.js';
import {
  ACTIVITY,
  ACTIVITY_KINDS,
  activityId,
  fromNoteInput,
  fromTaskInput,
  linkBody,
  ownerOf,
  PARENT,
  parentIds,
  parentsOf,
  parseActivityId,
  timestamp,
  toActivity,
  type ActivityKind,
  type IlNote,
  type IlTask,
  type Names,
  type ParentKind,
} from './map.js';
import { checkedFirst } from './writes.js';

type Native = IlNote | IlTask;

const nativeIdOf = (kind: ActivityKind, r: Native): number => (kind === 'note' ? (r as IlNote).NOTE_ID : (r as IlTask).TASK_ID);

function activityKind(type: string | undefined, what: string): ActivityKind | undefined {
  if (type === undefined) return undefined;
  if (!(ACTIVITY_KINDS as readonly string[]).includes(type)) {
    throw new CrmError('validation', `Insightly's activities are notes and tasks; ${what} takes note or task.`);
  }
  return type as ActivityKind;
}

/** Newest first: created_at, then the native id, descending; notes before tasks on a tie. */
function newestFirst(a: { kind: ActivityKind; r: Native }, b: { kind: ActivityKind; r: Native }): number {
  const ta = timestamp(a.r.DATE_CREATED_UTC) ?? '';
  const tb = timestamp(b.r.DATE_CREATED_UTC) ?? '';
  if (ta !== tb) return ta < tb ? 1 : -1;
  return nativeIdOf(b.kind, b.r) - nativeIdOf(a.kind, a.r) || a.kind.localeCompare(b.kind);
}

export function activityOps(ctx: Ctx): CrudOperations<Activity, ActivityQuery, ActivityInput> {
  const { client } = ctx;

  const recordPath = (kind: ActivityKind, id: number) => `${ACTIVITY[kind].path}${path`/${id}`}`;
  const read = (kind: ActivityKind, id: number, signal?: AbortSignal): Promise<Native> =>
    orNotFound('activity', activityId(kind, id), client.get<Native>(recordPath(kind, id), signal));

  /** Owner names of these notes and tasks (the only names an activity carries besides parent ids). */
  async function ownerNames(records: readonly Native[], signal?: AbortSignal): Promise<Names> {
    const ids = records.map((r) => ownerOf(r)).filter((x): x is number => typeof x === 'number');
    return ids.length ? { users: namesOf(await ctx.dir.users.resolve(ids, signal)) } : {};
  }

  const toRecord = (kind: ActivityKind, opts: CallOptions) => async (r: Native) =>
    toActivity(kind, r, await ownerNames([r], opts.signal), { remote: opts.include_remote_data });

  /** The record after a write: read back (its links included); if that fails, what the writes answered. */
  const readBack = (kind: ActivityKind, id: number, fallback: Native, opts: CallOptions): Promise<Activity> =>
    afterWrite(read(kind, id, opts.signal), (e) => {
      ctx.logger?.warn({ err: (e as Error).message }, 'read-back after an activity write failed; answering with what was written');
      return fallback;
    }).then(async (r) => toActivity(kind, r, await afterWrite(ownerNames([r], opts.signal), () => ({})), { remote: opts.include_remote_data }));

  const parentPath = (p: { kind: ParentKind; id: number }) => `${PARENT[p.kind].path}${path`/${p.id}`}`;

  return {
    async list(query: ActivityQuery, opts: CallOptions): Promise<Page<Activity>> {
      const type = activityKind(query.type, 'type');
      // Notes are never done, so a `done` filter lists tasks alone.
      const kinds = (type ? [type] : [...ACTIVITY_KINDS]).filter((k) => query.done === undefined || k === 'task');
      const [primary, ...others] = parentIds(query);
      // Both walks report into one count of pages read.
      let pages = 0;
      const onProgress = opts.onProgress && ((_done: number, _total?: number, message?: string) => opts.onProgress!(++pages, undefined, message));
      const walks: Array<Walk<Native>> = await together(
        opts.signal,
        kinds.map((kind) => (signal: AbortSignal) => {
          const listing = primary ? `${parentPath(primary)}/${ACTIVITY[kind].sub}` : ACTIVITY[kind].path;
          const walk = client.walk<Native>({ path: listing, query: { brief: false } }, (r) => String(nativeIdOf(kind, r)), signal, {
            onProgress,
            what: `${kind}s`,
          });
          // The record filtered on does not exist: the same sentence as a write naming it.
          return primary ? whenNotFound(walk, () => unknownReference(primary.kind, String(primary.id))) : walk;
        }),
      );
      const rows = walks
        .flatMap((w, i) => w.items.map((r) => ({ kind: kinds[i], r })))
        .filter(({ kind, r }) => others.every((p) => parentsOf(kind, r).some((x) => x.kind === p.kind && x.id === p.id)))
        .filter(({ kind, r }) => query.done === undefined || toActivity(kind, r).done === query.done)
        .sort(newestFirst);
      const page = localPage(rows, query.cursor, pageSize(query.limit));
      const names = await ownerNames(page.items.map((x) => x.r), opts.signal);
      const stopped = walks.find((w) => w.stopped);
      return {
        items: page.items.map(({ kind, r }) => toActivity(kind, r, names, { remote: opts.include_remote_data })),
        next_cursor: page.next_cursor,
        ...(stopped ? { incomplete: incompleteListing(stopped, 'Insightly', 'notes and tasks') } : {}),
      };
    },

    async get(id: string, opts: CallOptions): Promise<Activity> {
      const { kind, id: nid } = parseActivityId(id);
      return toRecord(kind, opts)(await read(kind, nid, opts.signal));
    },

    async create(input: ActivityInput, opts): Promise<PreparedWrite<Activity>> {
      const kind = activityKind(input.type, 'type') ?? 'note';
      const parents = parentIds(input);
      if (!parents.length) {
        throw new CrmError('validation', 'An Insightly note or task needs at least one of deal_id, account_id, contact_id, project_id: the record it belongs to.');
      }
      const a = ACTIVITY[kind];
      const steps: WriteStep[] = [];
      // The records a note is linked to after its first; a task's contact and account.
      let linked: typeof parents;
      const refs: References = {};
      if (kind === 'note') {
        const body = fromNoteInput(input, 'create');
        const [first, ...rest] = parents;
        const create = client.step({ method: 'POST', path: `${parentPath(first)}/Notes`, body }, `add the note to ${first.kind} ${first.id}`);
        // The first parent is checked by Insightly itself: the note is posted under it.
        steps.push({ ...create, send: (answers, signal) => whenNotFound(create.send(answers, signal), () => unknownReference(first.kind, String(first.id))) });
        linked = rest;
        refs.user = body.OWNER_USER_ID as number | undefined;
      } else {
        const body = fromTaskInput(input, 'create');
        steps.push(client.step({ method: 'POST', path: '/Tasks', body }, 'create the task'));
        linked = parents.filter((p) => p.kind === 'contact' || p.kind === 'account');
        refs.user = body.RESPONSIBLE_USER_ID as number | undefined;
        refs.deal = body.OPPORTUNITY_ID as number | undefined;
        refs.project = body.PROJECT_ID as number | undefined;
      }
      for (const p of linked) {
        refs[p.kind] = p.id;
        steps.push(
          client.laterStep(`${a.path}/{${a.idKey}}/Links`, { method: 'POST', body: linkBody(p) }, `link it to ${p.kind} ${p.id}`, (answers) =>
            `${recordPath(kind, answeredId(answers[0], a))}/Links`,
          ),
        );
      }
      const sequence = preparedSequence(
        {
          provider: 'Insightly',
          what: `this create of a ${kind}`,
          signal: opts.signal,
          recovery: (answers) => {
            let made = 'not given in its answer';
            try {
              made = activityId(kind, answeredId(answers[0], a));
            } catch {
              // The answer lacked the id: said as such.
            }
            return `The ${kind} exists (id ${made}): add the missing records with update_activity; do not create it again.`;
          },
        },
        steps,
        (answers) => {
          const made = answers[0] as Native;
          return readBack(kind, answeredId(made, a), made, opts);
        },
      );
      return checkedFirst(ctx, sequence, refs, opts.signal);
    },

    async update(id: string, patch: ActivityInput, opts): Promise<PreparedWrite<Activity>> {
      const { kind, id: nid } = parseActivityId(id);
      const type = activityKind(patch.type, 'type');
      if (type !== undefined && type !== kind) {
        throw new CrmError('validation', `Insightly keeps notes and tasks apart: ${activityId(kind, nid)} is a ${kind} and cannot become a ${type}.`);
      }
      const a = ACTIVITY[kind];
      const body = kind === 'note' ? fromNoteInput(patch, 'update') : fromTaskInput(patch, 'update');
      // A note's parents are all links; a task's deal and project are fields of its body.
      const relink = parentIds(patch).filter((p) => kind === 'note' || p.kind === 'contact' || p.kind === 'account');
      if (!relink.length) requireChange(body, 'activity', WRITE_FIELDS.activities.filter((f) => f !== 'type'));
      const guard = (s: WriteStep): WriteStep => ({ ...s, send: (answers, signal) => orNotFound('activity', id, s.send(answers, signal)) });
      const steps: WriteStep[] = [];
      if (Object.keys(body).length) {
        steps.push(guard(client.step({ method: 'PUT', path: a.path, body: { [a.idKey]: nid, ...body } }, `change its ${Object.keys(body).join(', ')}`)));
      }
      const refs: References = {
        user: (body.OWNER_USER_ID ?? body.RESPONSIBLE_USER_ID) as number | undefined,
        deal: body.OPPORTUNITY_ID as number | undefined,
        project: body.PROJECT_ID as number | undefined,
      };
      if (relink.length) {
        // Which links to add and which to remove: the activity as it stands.
        const current = parentsOf(kind, await read(kind, nid, opts.signal));
        for (const p of relink) {
          refs[p.kind] = p.id;
          const same = current.filter((x) => x.kind === p.kind);
          // The new parent first, then the old links of that kind: never an activity on nothing.
          if (!same.some((x) => x.id === p.id)) {
            steps.push(guard(client.step({ method: 'POST', path: `${recordPath(kind, nid)}/Links`, body: linkBody(p) }, `link it to ${p.kind} ${p.id}`)));
          }
          for (const old of same.filter((x) => x.id !== p.id && x.linkId !== undefined)) {
            steps.push(guard(client.step({ method: 'DELETE', path: `${recordPath(kind, nid)}/Links${path`/${old.linkId!}`}` }, `unlink ${old.kind} ${old.id}`)));
          }
        }
      }
      if (!steps.length) {
        throw new CrmError('validation', `${activityId(kind, nid)} already hangs on ${relink.map((p) => `${p.kind} ${p.id}`).join(' and ')}; nothing to update.`);
      }
      const sequence = preparedSequence(
        {
          provider: 'Insightly',
          what: `this update of ${activityId(kind, nid)}`,
          signal: opts.signal,
          recovery: () => 'Read it with list_activities, then repeat only what is missing.',
        },
        steps,
        async (answers) => {
          const answered = answers.find((x): x is Native => !!x && typeof x === 'object' && (x as Record<string, unknown>)[a.idKey] === nid);
          return readBack(kind, nid, answered ?? ({ [a.idKey]: nid } as unknown as Native), opts);
        },
      );
      return checkedFirst(ctx, sequence, refs, opts.signal);
    },
  };
}
