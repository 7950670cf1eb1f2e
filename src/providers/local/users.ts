/** Users of the local CRM: who can own records. Read-only through crm-mcp. */
import type { User } from '../../crm/model.js';
import type { CrudOperations, UserQuery } from '../../crm/provider.js';
import { toUser, type UserRow } from './map.js';
import { checkSignal, likeContains, requireDirectory, run, selectPage, type Ctx } from './store.js';

export function userOps(ctx: Ctx): CrudOperations<User, UserQuery, never> {
  const { db } = ctx;
  return {
    async list(query, opts) {
      checkSignal(opts.signal);
      return run(() => {
        const where: string[] = [];
        const params: unknown[] = [];
        if (query.name !== undefined) {
          where.push("name LIKE ? ESCAPE '\\'");
          params.push(likeContains(query.name));
        }
        if (query.email !== undefined) {
          where.push('email = ? COLLATE NOCASE');
          params.push(query.email.trim());
        }
        const order = [
          { expr: 'name', field: 'name', nocase: true },
          { expr: 'id', field: 'id' },
        ];
        return selectPage(db, { select: 'SELECT * FROM users', where, params, order }, query, (rows: UserRow[]) =>
          rows.map((r) => toUser(r, Boolean(opts.include_remote_data))),
        );
      });
    },

    async get(id, opts) {
      checkSignal(opts.signal);
      return run(() => {
        const row = db.prepare('SELECT * FROM users WHERE id = ?').get(requireDirectory(db, 'users', id).id) as UserRow;
        return toUser(row, Boolean(opts.include_remote_data));
      });
    },
  };
}
