/** Accounts (organizations) of the local CRM. */
import type { Account } from '../../crm/model.js';
import { WRITE_FIELDS, type AccountInput, type AccountQuery, type CrudOperations } from '../../crm/provider.js';
import type { Db } from './client.js';
import { ACCOUNT_SELECT, toAccount, type AccountJoined } from './map.js';
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

export const readAccount = (db: Db, id: number, remote: boolean): Account =>
  toAccount(db.prepare(`${ACCOUNT_SELECT} WHERE a.id = ?`).get(id) as AccountJoined, remote);

/** The optional fields of create and update, validated. */
function fields(db: Db, input: AccountInput) {
  return {
    domain: input.domain === undefined ? undefined : checkName(input.domain, 'domain', 255),
    industry: input.industry === undefined ? undefined : checkName(input.industry, 'industry', 255),
    owner: input.owner_id === undefined ? undefined : requireDirectory(db, 'users', input.owner_id),
  };
}

export function accountOps(ctx: Ctx): CrudOperations<Account, AccountQuery, AccountInput> {
  const { db } = ctx;
  return {
    list: (query, opts) =>
      listRecords(db, query, opts, { select: ACCOUNT_SELECT, order: byName('a.') }, () => [
        query.name !== undefined && nameContains('a.name', query.name),
        query.owner_id !== undefined && ['a.owner_id = ?', requireDirectory(db, 'users', query.owner_id).id],
      ], toAccount),

    async get(id, opts) {
      checkSignal(opts.signal);
      return run(() => readAccount(db, requireDirectory(db, 'accounts', id).id, Boolean(opts.include_remote_data)));
    },

    async create(input, opts) {
      return prepareCreate(ctx, {
        scope: 'accounts',
        noun: 'account',
        path: '/accounts',
        input,
        opts,
        plan() {
          const name = checkName(input.name, 'name', 255);
          const f = fields(db, input);
          return {
            body: compact({ name, domain: f.domain, industry: f.industry, owner_id: input.owner_id }),
            insert: (at) =>
              Number(
                db
                  .prepare('INSERT INTO accounts (name, domain, industry, owner_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
                  .run(name, f.domain ?? null, f.industry ?? null, f.owner?.id ?? null, at, at).lastInsertRowid,
              ),
          };
        },
        read: (id) => readAccount(db, id, false),
      });
    },

    async update(id, patch, opts) {
      return prepareChange(ctx, 'PATCH', `/accounts/${id}`, opts, () => {
        const account = requireDirectory(db, 'accounts', id);
        const f = fields(db, patch);
        const body = compact({
          name: patch.name === undefined ? undefined : checkName(patch.name, 'name', 255),
          domain: f.domain,
          industry: f.industry,
          owner_id: patch.owner_id,
        });
        requireChange(body, 'account', WRITE_FIELDS.accounts);
        return {
          body,
          apply(at) {
            db.prepare(
              `UPDATE accounts SET name = COALESCE(?, name), domain = COALESCE(?, domain), industry = COALESCE(?, industry),
                 owner_id = COALESCE(?, owner_id), updated_at = ? WHERE id = ?`,
            ).run(body.name ?? null, f.domain ?? null, f.industry ?? null, f.owner?.id ?? null, at, account.id);
            return readAccount(db, account.id, false);
          },
        };
      });
    },
  };
}
