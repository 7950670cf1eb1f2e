/**
 * Pipedrive users (API v1 /users: the whole company in one unpaged answer, 20 tokens), from the
 * same cached directory that names owners, so list_users and the owner checks of writes share one
 * request. Name and email filters are applied here: /users has none.
 */
import { CrmError, unknownReference } from '../../crm/errors.js';
import type { User } from '../../crm/model.js';
import { localPage } from '../../crm/paginate.js';
import type { CallOptions, CrudOperations, Page, UserQuery } from '../../crm/provider.js';
import { pageSize } from './client.js';
import type { Ctx } from './directory.js';
import { toUser, userId, type PdUser } from './map.js';

export function userOps(ctx: Ctx): CrudOperations<User, UserQuery, never> {
  const { dir } = ctx;

  async function all(opts: CallOptions): Promise<PdUser[]> {
    const users = [...(await dir.users.all(opts.signal)).values()];
    // A company always has a user (the token's own): none means the token may not read them.
    if (!users.length) {
      throw new CrmError('auth', 'This Pipedrive token may not read users (an OAuth token needs the users:read scope); owners show as ids only.', {
        provider: 'Pipedrive',
      });
    }
    return users.sort((a, b) => a.id - b.id);
  }

  return {
    async list(query: UserQuery, opts: CallOptions): Promise<Page<User>> {
      const name = query.name?.trim().toLowerCase();
      const email = query.email?.trim().toLowerCase();
      const matched = (await all(opts)).filter(
        (u) => (name === undefined || u.name.toLowerCase().includes(name)) && (email === undefined || u.email?.toLowerCase() === email),
      );
      const page = localPage(matched, query.cursor, pageSize(query.limit));
      return { items: page.items.map((u) => toUser(u, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
    },

    async get(id: string, opts: CallOptions): Promise<User> {
      const uid = userId(id);
      const user = (await dir.users.resolve([uid], opts.signal)).get(uid);
      if (!user) throw unknownReference('user', id);
      return toUser(user, { remote: opts.include_remote_data });
    },
  };
}
