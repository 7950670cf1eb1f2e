/**
 * Capsule users: who can own records. `GET /users` answers every user at once, so the list is the
 * users directory (shared with the owner checks of writes), filtered and paged here: by name
 * (contains) and email (the user's own party's first address, with embed=party).
 */
import type { User } from '../../crm/model.js';
import { localPage } from '../../crm/paginate.js';
import type { CrudOperations, UserQuery } from '../../crm/provider.js';
import { unknownReference } from '../../crm/errors.js';
import type { Ctx } from './directory.js';
import { nativeId, toUser } from './map.js';

const folded = (s: string) => s.trim().toLocaleLowerCase('en-US');

export function userOps(ctx: Ctx): CrudOperations<User, UserQuery, never> {
  return {
    async list(query, opts) {
      const users = [...(await ctx.users.all(opts.signal)).values()].map((u) => toUser(u, { remote: opts.include_remote_data }));
      const matching = users.filter(
        (u) =>
          (query.name === undefined || folded(u.name).includes(folded(query.name))) &&
          (query.email === undefined || (u.email !== undefined && folded(u.email) === folded(query.email))),
      );
      return localPage(matching, query.cursor, query.limit);
    },

    async get(id, opts) {
      const uid = nativeId(id, 'user', 'list_users');
      const user = (await ctx.users.resolve([uid], opts.signal)).get(uid);
      if (!user) throw unknownReference('user', id);
      return toUser(user, { remote: opts.include_remote_data });
    },
  };
}
