/**
 * Pipedrive activities (API v2 /activities: tasks, calls, meetings, emails, each with a `done`
 * flag and a due date) and notes (API v1 /notes) as one list of activities, newest first.
 *
 * Pipedrive keeps the two apart: notes have their own ids (answered here as "note-<id>"), their
 * own paging (v1 offsets; activities page by v2 cursors) and their own filters. A list of both is
 * the merge of the two newest-first listings under one cursor (crm/merge.ts). The activities API
 * has no type filter: a type is matched here over whole pages (500 a request), so a page of the
 * merge may take a few requests, or stop short with a cursor, never skip a record. */
import { CrmError, unknownReference } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import { mergedPage, type MergedSource } from '../../crm/merge.js';
import { WRITE_FIELDS, type ActivityInput, type ActivityQuery, type CallOptions, type CrudOperations, type Page, type PreparedWrite } from '../../crm/provider.js';
import type { Activity } from '../../crm/model.js';
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

/** A record of either listing, as the merge hands it out. */
type Listed = { activity: PdActivity } | { note: PdNote };

const createdAt = (r: Listed): string => ('activity' in r ? r.activity.add_time : v1Time(r.note.add_time)) ?? '';

/** Newest first; the same second keeps the listings' order, activities before notes. */
const newestFirst = (x: Listed, y: Listed): number => {
  const a = createdAt(x);
  const b = createdAt(y);
  return a > b ? -1 : a < b ? 1 : 0;
};

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
      const type = query.type;
      const sources: Array<MergedSource<Listed>> = [];
      if (withActivities) {
        sources.push({
          key: 'a',
          label: 'activities',
          async page(cursor, size, signal) {
            const page = await client.page<PdActivity>(
              path`/api/v2/activities`,
              { ...parents, done: query.done, sort_by: 'add_time', sort_direction: 'desc' },
              // Types are matched here: whole pages then, for the fewest requests.
              { size: type === undefined ? size : MAX_PAGE, cursor },
              TOKEN_COST.v2ActivitiesList,
              signal,
            );
            const kept = page.items.filter((a) => !a.is_deleted && (type === undefined || activityType(a.type) === type));
            return { items: kept.map((activity) => ({ activity })), next_cursor: page.next_cursor };
          },
          largestPage: MAX_PAGE,
        });
      }
      if (withNotes) {
        sources.push({
          key: 'n',
          label: 'notes',
          async page(cursor, size, signal) {
            const page = await client.pageV1<PdNote>(
              path`/api/v1/notes`,
              { ...parents, project_id: query.project_id === undefined ? undefined : projectId(query.project_id), sort: 'add_time DESC, id DESC' },
              { size, start: cursor === undefined ? undefined : Number(cursor) },
              TOKEN_COST.v1NotesList,
              signal,
            );
            return { items: page.items.map((note) => ({ note })), next_cursor: page.next_cursor };
          },
          largestPage: MAX_PAGE,
        });
      }
      const { items: merged, next_cursor } = await mergedPage(sources, {
        limit,
        cursor: query.cursor,
        order: newestFirst,
        signal: opts.signal,
        onProgress: opts.onProgress,
      });

      const pdActivities = merged.flatMap((m) => ('activity' in m ? [m.activity] : []));
      const names = await activityNames(pdActivities, opts.signal);
      const remote = { remote: opts.include_remote_data };
      return {
        items: merged.map((m) => ('activity' in m ? toActivity(m.activity, names, remote) : noteToActivity(m.note, remote))),
        next_cursor,
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
