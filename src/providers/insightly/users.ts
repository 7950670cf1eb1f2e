/**
 * Insightly users (/Users: read-only here), who own records: name, email, active. Insightly
 * filters a list on one field (/Users/Search): an email address; a name ("contains") is checked
 * here over the whole (short) listing. Listing every user may need an administrator's key.
 */
import { path } from '../../crm/http.js';
import type { User } from '../../crm/model.js';
import type { CallOptions, CrudOperations, Page, UserQuery } from '../../crm/provider.js';
import { orNotFound, type Listing } from './client.js';
import type { Ctx } from './directory.js';
import { toUser, userId, userName, type IlUser } from './map.js';

export function userOps(ctx: Ctx): CrudOperations<User, UserQuery, never> {
  const { client, dir } = ctx;
  const user = (opts: CallOptions) => (u: IlUser) => {
    dir.users.put({ id: u.USER_ID, name: userName(u) });
    return toUser(u, { remote: opts.include_remote_data });
  };
  return {
    async list(query: UserQuery, opts: CallOptions): Promise<Page<User>> {
      const email = query.email?.trim();
      const needle = query.name?.trim().toLowerCase();
      const listing: Listing<IlUser> = {
        path: '/Users',
        search: email === undefined ? undefined : { field: 'EMAIL_ADDRESS', value: email },
        key: (u) => String(u.USER_ID),
        what: 'users',
        keep: needle ? [(u) => userName(u).toLowerCase().includes(needle)] : [],
      };
      const page = await client.page(listing, query, opts.signal, opts.onProgress);
      return { ...page, items: page.items.map(user(opts)) };
    },

    async get(id: string, opts: CallOptions): Promise<User> {
      const uid = userId(id);
      return user(opts)(await orNotFound('user', id, client.get<IlUser>(path`/Users/${uid}`, opts.signal)));
    },
  };
}
