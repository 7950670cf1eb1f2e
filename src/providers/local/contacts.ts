/**
 * Contacts (people) of the local CRM. The stored `name` is first and last name joined, kept in step
 * by every write; emails and phones are JSON arrays, replaced whole by an update.
 */
import { CrmError } from '../../crm/errors.js';
import { LIMITS, type Contact } from '../../crm/model.js';
import { WRITE_FIELDS, type ContactInput, type ContactQuery, type CrudOperations } from '../../crm/provider.js';
import type { Db } from './client.js';
import { CONTACT_SELECT, fullName, toContact, type ContactJoined, type ContactRow } from './map.js';
import {
  byName,
  checkName,
  checkSignal,
  listRecords,
  nameContains,
  prepareChange,
  prepareCreate,
  requireDirectory,
  run,
  type Ctx,
} from './store.js';
import { compact, requireChange } from '../../crm/records.js';

export const readContact = (db: Db, id: number, remote: boolean): Contact =>
  toContact(db.prepare(`${CONTACT_SELECT} WHERE c.id = ?`).get(id) as ContactJoined, remote);

const invalid = (message: string) => new CrmError('validation', message);

/** A list of emails or phones: trimmed, without repeats, each checked. */
function checkList(value: unknown, field: 'emails' | 'phones'): string[] {
  if (!Array.isArray(value) || value.length > LIMITS.contactPoints) {
    throw invalid(`\`${field}\` must be a list of at most ${LIMITS.contactPoints} ${field === 'emails' ? 'email addresses' : 'phone numbers'}.`);
  }
  const out: string[] = [];
  for (const item of value) {
    const text = typeof item === 'string' ? item.trim() : '';
    const ok =
      field === 'emails'
        ? text.length <= LIMITS.email && /^[^\s@]+@[^\s@]+$/.test(text)
        : text.length <= LIMITS.phone && /\d/.test(text);
    if (!ok) throw invalid(`Every item of \`${field}\` must be ${field === 'emails' ? 'an email address such as ana@example.com' : 'a phone number with digits'}.`);
    if (!out.some((o) => o.toLowerCase() === text.toLowerCase())) out.push(text);
  }
  return out;
}

/** The optional fields of create and update, validated. */
function fields(db: Db, input: ContactInput) {
  return {
    first_name: input.first_name === undefined ? undefined : checkName(input.first_name, 'first_name', 255),
    last_name: input.last_name === undefined ? undefined : checkName(input.last_name, 'last_name', 255),
    emails: input.emails === undefined ? undefined : checkList(input.emails, 'emails'),
    phones: input.phones === undefined ? undefined : checkList(input.phones, 'phones'),
    title: input.title === undefined ? undefined : checkName(input.title, 'title', 255),
    account: input.account_id === undefined ? undefined : requireDirectory(db, 'accounts', input.account_id),
    owner: input.owner_id === undefined ? undefined : requireDirectory(db, 'users', input.owner_id),
  };
}

type Fields = ReturnType<typeof fields>;

/** What a create or update sends: the caller's fields, normalized. */
const bodyOf = (f: Fields, input: ContactInput) =>
  compact({
    first_name: f.first_name,
    last_name: f.last_name,
    emails: f.emails,
    phones: f.phones,
    title: f.title,
    account_id: input.account_id,
    owner_id: input.owner_id,
  });

export function contactOps(ctx: Ctx): CrudOperations<Contact, ContactQuery, ContactInput> {
  const { db } = ctx;
  return {
    list: (query, opts) =>
      listRecords(db, query, opts, { select: CONTACT_SELECT, order: byName('c.') }, () => [
        query.name !== undefined && nameContains('c.name', query.name),
        query.email !== undefined && ['EXISTS (SELECT 1 FROM json_each(c.emails) e WHERE e.value = ? COLLATE NOCASE)', query.email.trim()],
        query.account_id !== undefined && ['c.account_id = ?', requireDirectory(db, 'accounts', query.account_id).id],
        query.owner_id !== undefined && ['c.owner_id = ?', requireDirectory(db, 'users', query.owner_id).id],
      ], toContact),

    async get(id, opts) {
      checkSignal(opts.signal);
      return run(() => readContact(db, requireDirectory(db, 'contacts', id).id, Boolean(opts.include_remote_data)));
    },

    async create(input, opts) {
      return prepareCreate(ctx, {
        scope: 'contacts',
        noun: 'contact',
        path: '/contacts',
        input,
        opts,
        plan() {
          const f = fields(db, input);
          const name = fullName(f.first_name, f.last_name);
          if (!name) throw invalid('A new contact needs first_name or last_name (or both).');
          return {
            body: bodyOf(f, input),
            insert: (at) =>
              Number(
                db
                  .prepare(
                    `INSERT INTO contacts (name, first_name, last_name, emails, phones, title, account_id, owner_id, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
                  )
                  .run(
                    name,
                    f.first_name ?? null,
                    f.last_name ?? null,
                    JSON.stringify(f.emails ?? []),
                    JSON.stringify(f.phones ?? []),
                    f.title ?? null,
                    f.account?.id ?? null,
                    f.owner?.id ?? null,
                    at,
                    at,
                  ).lastInsertRowid,
              ),
          };
        },
        read: (id) => readContact(db, id, false),
      });
    },

    async update(id, patch, opts) {
      return prepareChange(ctx, 'PATCH', `/contacts/${id}`, opts, () => {
        const contact = db.prepare('SELECT * FROM contacts WHERE id = ?').get(requireDirectory(db, 'contacts', id).id) as ContactRow;
        const f = fields(db, patch);
        const body = bodyOf(f, patch);
        requireChange(body, 'contact', WRITE_FIELDS.contacts);
        const first = f.first_name ?? contact.first_name;
        const last = f.last_name ?? contact.last_name;
        // A contact stored with only a full name (a file from before first/last names) keeps it.
        const name = f.first_name === undefined && f.last_name === undefined ? contact.name : fullName(first, last);
        return {
          body,
          apply(at) {
            db.prepare(
              `UPDATE contacts SET name = ?, first_name = ?, last_name = ?, emails = COALESCE(?, emails), phones = COALESCE(?, phones),
                 title = COALESCE(?, title), account_id = COALESCE(?, account_id), owner_id = COALESCE(?, owner_id), updated_at = ?
               WHERE id = ?`,
            ).run(
              name,
              first,
              last,
              f.emails === undefined ? null : JSON.stringify(f.emails),
              f.phones === undefined ? null : JSON.stringify(f.phones),
              f.title ?? null,
              f.account?.id ?? null,
              f.owner?.id ?? null,
              at,
              contact.id,
            );
            return readContact(db, contact.id, false);
          },
        };
      });
    },
  };
}
