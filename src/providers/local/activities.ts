/**
 * Activities of the local CRM: notes, tasks, calls, meetings and emails, each on at least one deal,
 * account, contact or project. Notes are never "done" (stored NULL); the others are open (0) or
 * done (1). Lists run newest first.
 */
import { CrmError } from '../../crm/errors.js';
import { ACTIVITY_PARENTS, ACTIVITY_TYPES, LIMITS, type Activity } from '../../crm/model.js';
import { WRITE_FIELDS, type ActivityInput, type ActivityQuery, type CrudOperations } from '../../crm/provider.js';
import type { Db } from './client.js';
import { ACTIVITY_SELECT, toActivity, type ActivityJoined, type ActivityRow } from './map.js';
import {
  checkBoolean,
  checkDate,
  checkEnum,
  checkName,
  checkSignal,
  checkText,
  prepareChange,
  prepareCreate,
  requireActivity,
  requireDeal,
  requireDirectory,
  requireProject,
  run,
  listRecords,
  type Ctx,
} from './store.js';
import { compact, requireChange } from '../../crm/records.js';

export const readActivity = (db: Db, id: number, remote: boolean): Activity =>
  toActivity(db.prepare(`${ACTIVITY_SELECT} WHERE x.id = ?`).get(id) as ActivityJoined, remote);

/** The parent ids given, each checked to exist. */
function parents(db: Db, input: ActivityInput) {
  return {
    deal: input.deal_id === undefined ? undefined : requireDeal(db, input.deal_id).id,
    account: input.account_id === undefined ? undefined : requireDirectory(db, 'accounts', input.account_id).id,
    contact: input.contact_id === undefined ? undefined : requireDirectory(db, 'contacts', input.contact_id).id,
    project: input.project_id === undefined ? undefined : requireProject(db, input.project_id).id,
  };
}

/** The fields of create and update, validated; a note takes neither due_date nor done. */
function fields(db: Db, input: ActivityInput, type: Activity['type']) {
  if (type === 'note' && (input.due_date !== undefined || input.done !== undefined)) {
    throw new CrmError('validation', 'A note has no due_date or done; make it a task (type: task) to track a to-do.');
  }
  return {
    subject: input.subject === undefined ? undefined : checkName(input.subject, 'subject', LIMITS.name),
    body: input.body === undefined ? undefined : checkText(input.body, 'body', LIMITS.text),
    due_date: input.due_date === undefined ? undefined : checkDate(input.due_date, 'due_date'),
    done: input.done === undefined ? undefined : checkBoolean(input.done, 'done'),
    owner: input.owner_id === undefined ? undefined : requireDirectory(db, 'users', input.owner_id).id,
    ...parents(db, input),
  };
}

const NEWEST_FIRST = [
  { expr: 'x.created_at', field: 'created_at', desc: true },
  { expr: 'x.id', field: 'id', desc: true },
];

/** Owner and parents as the INSERT and UPDATE statements take them. */
const links = (f: ReturnType<typeof fields>) => [f.owner ?? null, f.deal ?? null, f.account ?? null, f.contact ?? null, f.project ?? null];

const bodyOf = (input: ActivityInput, f: ReturnType<typeof fields>) =>
  compact({
    type: input.type,
    subject: f.subject,
    body: f.body,
    due_date: f.due_date,
    done: f.done,
    owner_id: input.owner_id,
    deal_id: input.deal_id,
    account_id: input.account_id,
    contact_id: input.contact_id,
    project_id: input.project_id,
  });

export function activityOps(ctx: Ctx): CrudOperations<Activity, ActivityQuery, ActivityInput> {
  const { db } = ctx;
  return {
    list: (query, opts) =>
      listRecords(db, query, opts, { select: ACTIVITY_SELECT, order: NEWEST_FIRST }, () => {
        const p = parents(db, query);
        return [
          p.deal !== undefined && ['x.deal_id = ?', p.deal],
          p.account !== undefined && ['x.account_id = ?', p.account],
          p.contact !== undefined && ['x.contact_id = ?', p.contact],
          p.project !== undefined && ['x.project_id = ?', p.project],
          query.type !== undefined && ['x.type = ?', checkEnum(query.type, 'type', ACTIVITY_TYPES)],
          // Notes are never done, so neither value lists them.
          query.done !== undefined && ['x.done = ?', checkBoolean(query.done, 'done') ? 1 : 0],
        ];
      }, toActivity),

    async get(id, opts) {
      checkSignal(opts.signal);
      return run(() => readActivity(db, requireActivity(db, id).id, Boolean(opts.include_remote_data)));
    },

    async create(input, opts) {
      return prepareCreate(ctx, {
        scope: 'activities',
        noun: 'activity',
        path: '/activities',
        input,
        opts,
        plan() {
          const type = checkEnum(input.type, 'type', ACTIVITY_TYPES);
          const f = fields(db, input, type);
          if ([f.deal, f.account, f.contact, f.project].every((p) => p === undefined)) {
            throw new CrmError('validation', `A new activity needs at least one of ${ACTIVITY_PARENTS.join(', ')}: the record it belongs to.`);
          }
          return {
            body: bodyOf({ ...input, type }, f),
            insert: (at) =>
              Number(
                db
                  .prepare(
                    `INSERT INTO activities (type, subject, body, due_date, done, owner_id, deal_id, account_id, contact_id, project_id,
                       created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
                  )
                  .run(
                    type,
                    f.subject ?? null,
                    f.body ?? null,
                    f.due_date ?? null,
                    type === 'note' ? null : f.done ? 1 : 0,
                    ...links(f),
                    at,
                    at,
                  ).lastInsertRowid,
              ),
          };
        },
        read: (id) => readActivity(db, id, false),
      });
    },

    async update(id, patch, opts) {
      return prepareChange(ctx, 'PATCH', `/activities/${id}`, opts, () => {
        const current: ActivityRow = requireActivity(db, id);
        const type = patch.type === undefined ? current.type : checkEnum(patch.type, 'type', ACTIVITY_TYPES);
        const f = fields(db, patch, type);
        const body = bodyOf(patch, f);
        requireChange(body, 'activity', WRITE_FIELDS.activities);
        // Turning a task into a note drops its due date and state; a note becoming a task starts open.
        const done = type === 'note' ? null : f.done !== undefined ? Number(f.done) : (current.done ?? 0);
        const due = type === 'note' ? null : (f.due_date ?? current.due_date);
        return {
          body,
          apply(at) {
            db.prepare(
              `UPDATE activities SET type = ?, subject = COALESCE(?, subject), body = COALESCE(?, body), due_date = ?, done = ?,
                 owner_id = COALESCE(?, owner_id), deal_id = COALESCE(?, deal_id), account_id = COALESCE(?, account_id),
                 contact_id = COALESCE(?, contact_id), project_id = COALESCE(?, project_id), updated_at = ?
               WHERE id = ?`,
            ).run(
              type,
              f.subject ?? null,
              f.body ?? null,
              due,
              done,
              ...links(f),
              at,
              current.id,
            );
            return readActivity(db, current.id, false);
          },
        };
      });
    },
  };
}
