/** Users of the local CRM: who can own records. Read-only through crm-mcp. */
import type { User } from '../../crm/model.js';
import type { CrudOperations, UserQuery } from '../../crm/provider.js';
import { toUser, type UserRow } from './map.js';
import { byName, checkSignal, listRecords, nameContains, requireDirectory, run, type Ctx } from './store.js';

export function userOps(ctx: Ctx): CrudOperations<User, UserQuery, never> {
  const { db } = ctx;
  return {
    list: (query, opts) =>
      listRecords(db, query, opts, { select: 'SELECT * FROM users', order: byName('') }, () => [
        query.name !== undefined && nameContains('name', query.name),
        query.email !== undefined && ['email = ? COLLATE NOCASE', query.email.trim()],
      ], toUser),

    async get(id, opts) {
      checkSignal(opts.signal);
      return run(() => {
        const row = db.prepare('SELECT * FROM users WHERE id = ?').get(requireDirectory(db, 'users', id).id) as UserRow;
        return toUser(row, Boolean(opts.include_remote_data));
      });
    },
  };
}
