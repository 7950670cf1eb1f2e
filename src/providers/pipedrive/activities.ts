/**
 * Pipedrive activities (API v2 /activities: tasks, calls, meetings, emails, each with a `done`
 * flag and a due date) and notes (API v1 /notes) as one list of activities, newest first.
 *
 * Pipedrive keeps the two apart: notes have their own ids (answered here as "note-<id>"), their
 * own paging (v1 offsets; activities page by v2 cursors) and their own filters. A list of both
 * merges the two newest-first listings; its cursor says where it stands in each (the activity
 * page's cursor and how many of its records were passed, the next note offset). A merge only
 * hands out a record once the other listing has shown it nothing newer can come, so a page may
 * stop short of `limit` (with a next_cursor), never skip a record. The activities API has no type
 * filter: a type is matched here over whole pages (500 a request), and each call reads at most
 * MAX_REQUESTS pages before answering with what it has and a cursor.
 */
import { CrmError, throwIfCancelled, unknownReference } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import { WRITE_FIELDS, type ActivityInput, type ActivityQuery, type CallOptions, type CrudOperations, type Page, type PreparedWrite } from '../../crm/provider.js';
import type { Activity } from '../../crm/model.js';
import type { NativePage } from '../../crm/paging.js';
import { together } from '../../crm/parallel.js';
import { requireChange } from '../../crm/records.js';
import { MAX_PAGE, TOKEN_COST, orNotFound, pageSize } from './client.js';
import { checkReferences, namesAfterWrite, namesFor, type Ctx } from './directory.js';
import {
  activityKey,
  activityType,
  dealId,
  fromActivityInput,
  fromNoteInput,
  noteToActivity,
  orgId,
  personId,
  projectId,
  toActivity,
  v1Time,
  type PdActivity,
  type PdNote,
} from './map.js';

/** Page requests one list call makes at most after its first ones, before answering with a cursor. */
const MAX_REQUESTS = 4;

/** Where a list stands: in the activity listing (its page cursor, records of it passed) and the note listing (next offset); null once read to the end. */
interface Position {
  a?: { c?: string; s: number } | null;
  n?: { s: number } | null;
}

const badCursor = () =>
  new CrmError('validation', 'That cursor is not valid for this list: repeat the same filters, or omit cursor to start again.');

function decodePosition(cursor: string): Position {
  try {
    const p = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Position;
    const okA = p.a === undefined || p.a === null || (Number.isInteger(p.a.s) && p.a.s >= 0 && (p.a.c === undefined || typeof p.a.c === 'string'));
    const okN = p.n === undefined || p.n === null || (Number.isInteger(p.n.s) && p.n.s >= 0);
    if (typeof p !== 'object' || p === null || !okA || !okN) throw new Error();
    return p;
  } catch {
    throw badCursor();
  }
}

const encodePosition = (p: Position): string | null =>
  p.a || p.n ? Buffer.from(JSON.stringify(p), 'utf8').toString('base64url') : null;

/** One newest-first listing read page by page: its next record, and where it stands. */
interface Listing<T> {
  head(): T | undefined;
  take(): void;
  /** Records beyond the page read. */
  more(): boolean;
  /** Reads the next page (once this one is used up). */
  next(): Promise<void>;
  position(): { c?: string; s: number } | { s: number } | null;
}

/** The activity listing from `at`: pages of v2 cursors, records not matching `keep` passed over. */
function activityListing(
  fetch: (cursor: string | undefined, size: number, signal?: AbortSignal) => Promise<NativePage<PdActivity>>,
  at: { c?: string; s: number },
  size: number,
  keep: (a: PdActivity) => boolean,
): Listing<PdActivity> & { first(signal: AbortSignal): Promise<void> } {
  let cursor = at.c;
  let page: NativePage<PdActivity> = { items: [], next_cursor: null };
  let i = at.s;
  const skip = () => {
    while (i < page.items.length && !keep(page.items[i])) i++;
  };
  return {
    async first(signal) {
      page = await fetch(cursor, Math.min(MAX_PAGE, at.s + size), signal);
      skip();
    },
    head: () => (skip(), page.items[i]),
    take: () => void i++,
    more: () => page.next_cursor !== null,
    async next() {
      cursor = page.next_cursor ?? undefined;
      i = 0;
      page = await fetch(cursor, size);
      skip();
    },
    position() {
      skip();
      if (i < page.items.length) return { c: cursor, s: i };
      return page.next_cursor ? { c: page.next_cursor, s: 0 } : null;
    },
  };
}

/** The note listing from offset `at`. */
function noteListing(
  fetch: (start: number, size: number, signal?: AbortSignal) => Promise<NativePage<PdNote>>,
  at: number,
  size: number,
): Listing<PdNote> & { first(signal: AbortSignal): Promise<void> } {
  let start = at;
  let page: NativePage<PdNote> = { items: [], next_cursor: null };
  let i = 0;
  return {
    async first(signal) {
      page = await fetch(start, size, signal);
    },
    head: () => page.items[i],
    take: () => void i++,
    more: () => page.next_cursor !== null,
    async next() {
      start = Number(page.next_cursor);
      i = 0;
      page = await fetch(start, size);
    },
    position() {
      if (i < page.items.length) return { s: start + i };
      return page.next_cursor ? { s: Number(page.next_cursor) } : null;
    },
  };
}

/** Newest first: created_at, then id, descending (an activity before a note created the same second). */
const newer = (a: PdActivity, n: PdNote): boolean => (a.add_time ?? '') >= (v1Time(n.add_time) ?? '');

export function activityOps(ctx: Ctx): CrudOperations<Activity, ActivityQuery, ActivityInput> {
  const { client } = ctx;

  const activityNames = (items: readonly PdActivity[], signal?: AbortSignal) =>
    namesFor(
      ctx,
      {
        users: items.map((a) => a.owner_id),
        orgs: items.map((a) => a.org_id),
        persons: items.map((a) => a.person_id),
        deals: items.map((a) => a.deal_id),
      },
      signal,
    );

  const readBack = (opts: CallOptions) => async (raw: PdActivity) =>
    toActivity(raw, await namesAfterWrite(ctx, activityNames([raw], opts.signal)), { remote: opts.include_remote_data });

  const references = (input: ActivityInput, signal?: AbortSignal) => () =>
    checkReferences(ctx, { owner_id: input.owner_id, account_id: input.account_id, contact_id: input.contact_id, deal_id: input.deal_id }, signal);

  return {
    async list(query: ActivityQuery, opts: CallOptions): Promise<Page<Activity>> {
      const limit = pageSize(query.limit);
      // Notes are never done, and are only of type note; activities are of every other type.
      const withNotes = (query.type === undefined || query.type === 'note') && query.done === undefined;
      const withActivities = query.type !== 'note';
      if (query.project_id !== undefined && withActivities) {
        throw new CrmError(
          'unsupported',
          "Pipedrive lists a project's notes but not its other activities (its activities API has no project filter): add type: note.",
        );
      }
      const parents = {
        deal_id: query.deal_id === undefined ? undefined : dealId(query.deal_id),
        org_id: query.account_id === undefined ? undefined : orgId(query.account_id),
        person_id: query.contact_id === undefined ? undefined : personId(query.contact_id),
      };
      const at: Position = query.cursor
        ? decodePosition(query.cursor)
        : { a: withActivities ? { s: 0 } : undefined, n: withNotes ? { s: 0 } : undefined };
      if ((at.a !== undefined) !== withActivities || (at.n !== undefined) !== withNotes) throw badCursor();

      const type = query.type;
      const activities = at.a
        ? activityListing(
            (cursor, size, signal = opts.signal) =>
              client.page<PdActivity>(
                path`/api/v2/activities`,
                { ...parents, done: query.done, sort_by: 'add_time', sort_direction: 'desc' },
                { size, cursor },
                TOKEN_COST.v2ActivitiesList,
                signal,
              ),
            at.a,
            // Types are matched here: whole pages then, for the fewest requests.
            type === undefined ? limit : MAX_PAGE,
            (a) => !a.is_deleted && (type === undefined || activityType(a.type) === type),
          )
        : undefined;
      const notes = at.n
        ? noteListing(
            (start, size, signal = opts.signal) =>
              client.pageV1<PdNote>(
                path`/api/v1/notes`,
                { ...parents, project_id: query.project_id === undefined ? undefined : projectId(query.project_id), sort: 'add_time DESC, id DESC' },
                { size, start },
                TOKEN_COST.v1NotesList,
                signal,
              ),
            at.n.s,
            limit,
          )
        : undefined;

      // Both listings' first pages together (one failing cancels the other), then the merge.
      await together(opts.signal, [...(activities ? [(s: AbortSignal) => activities.first(s)] : []), ...(notes ? [(s: AbortSignal) => notes.first(s)] : [])]);
      const merged: Array<{ activity: PdActivity } | { note: PdNote }> = [];
      let requests = 0;
      while (merged.length < limit) {
        const a = activities?.head();
        const n = notes?.head();
        // A listing whose page is used up but that goes on: read on before choosing, or stop here.
        const refill = a === undefined && activities?.more() ? activities : n === undefined && notes?.more() ? notes : undefined;
        if (refill) {
          if (requests++ >= MAX_REQUESTS) break;
          throwIfCancelled(opts.signal);
          await refill.next();
          opts.onProgress?.(requests, undefined, 'read one more page of activities and notes');
          continue;
        }
        if (a === undefined && n === undefined) break;
        if (a !== undefined && (n === undefined || newer(a, n))) {
          merged.push({ activity: a });
          activities!.take();
        } else {
          merged.push({ note: n! });
          notes!.take();
        }
      }
      // A listing read to the end stays in the cursor as null, so the next call knows it is done.
      const position: Position = {};
      if (withActivities) position.a = activities ? (activities.position() as Position['a']) : null;
      if (withNotes) position.n = notes ? (notes.position() as Position['n']) : null;

      const pdActivities = merged.flatMap((m) => ('activity' in m ? [m.activity] : []));
      const names = await activityNames(pdActivities, opts.signal);
      const remote = { remote: opts.include_remote_data };
      return {
        items: merged.map((m) => ('activity' in m ? toActivity(m.activity, names, remote) : noteToActivity(m.note, remote))),
        next_cursor: encodePosition(position),
      };
    },

    async get(id: string, opts: CallOptions): Promise<Activity> {
      const key = activityKey(id);
      const remote = { remote: opts.include_remote_data };
      if (key.kind === 'note') {
        const env = await orNotFound('activity', id, client.read<PdNote>(path`/api/v1/notes/${key.id}`, undefined, TOKEN_COST.v1NoteGet, opts.signal));
        if (env.data.active_flag === false) throw unknownReference('activity', id);
        return noteToActivity(env.data, remote);
      }
      const env = await orNotFound('activity', id, client.read<PdActivity>(path`/api/v2/activities/${key.id}`, undefined, TOKEN_COST.v2Get, opts.signal));
      if (env.data.is_deleted) throw unknownReference('activity', id);
      return toActivity(env.data, await activityNames([env.data], opts.signal), remote);
    },

    async create(input: ActivityInput, opts): Promise<PreparedWrite<Activity>> {
      const before = references(input, opts.signal);
      if (input.type === 'note') {
        const body = fromNoteInput(input);
        if (body.content === undefined) throw new CrmError('validation', 'A note needs a `body`: the text to keep.');
        return client.prepareWrite(
          { method: 'POST', path: path`/api/v1/notes`, body, signal: opts.signal, tokens: TOKEN_COST.v1NoteWrite, before },
          (raw: PdNote) => noteToActivity(raw, { remote: opts.include_remote_data }),
        );
      }
      const body = fromActivityInput(input);
      return client.prepareWrite({ method: 'POST', path: path`/api/v2/activities`, body, signal: opts.signal, before }, readBack(opts));
    },

    async update(id: string, patch: ActivityInput, opts): Promise<PreparedWrite<Activity>> {
      const key = activityKey(id);
      const before = references(patch, opts.signal);
      const fields = WRITE_FIELDS.activities.filter((f) => f !== 'type');
      if (key.kind === 'note') {
        if (patch.type !== undefined && patch.type !== 'note') {
          throw new CrmError('unsupported', `Pipedrive keeps notes apart from activities: a note cannot become a ${patch.type}; create_activity a new one instead.`);
        }
        if (patch.subject !== undefined) {
          throw new CrmError('unsupported', 'A Pipedrive note has no subject: send its whole new text as `body`.');
        }
        const body = fromNoteInput(patch);
        requireChange(body, 'note', ['body', 'owner_id', 'deal_id', 'account_id', 'contact_id', 'project_id']);
        return client.prepareWrite(
          {
            method: 'PUT',
            path: path`/api/v1/notes/${key.id}`,
            body,
            signal: opts.signal,
            tokens: TOKEN_COST.v1NoteWrite,
            record: { what: 'activity', id },
            before,
          },
          (raw: PdNote) => noteToActivity(raw, { remote: opts.include_remote_data }),
        );
      }
      if (patch.type === 'note') {
        throw new CrmError('unsupported', 'Pipedrive keeps notes apart from activities: an activity cannot become a note; create_activity a note instead.');
      }
      const body = fromActivityInput(patch);
      requireChange(body, 'activity', fields);
      return client.prepareWrite(
        { method: 'PATCH', path: path`/api/v2/activities/${key.id}`, body, signal: opts.signal, record: { what: 'activity', id }, before },
        readBack(opts),
      );
    },
  };
}
