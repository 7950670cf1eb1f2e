/**
 * Outreach users, read-only: from the users directory (directory.ts), since Outreach filters users
 * only by an exact first name, last name or email and a company's users fit in a page or two. The
 * name filter (contains) and the email filter (the whole address) are applied here, case-insensitively.
 */
import type { User } from '../../crm/model.js';
import { localPage } from '../../crm/paginate.js';
import type { CrudOperations, UserQuery } from '../../crm/provider.js';
import { pageSize } from './client.js';
import type { Ctx } from './directory.js';
import { personName, toUser, type OrUser } from './map.js';

const fold = (s: string) => s.trim().toLocaleLowerCase('en-US');

/** The users whose name contains `name` and whose email is `email` (either may be absent), by name. */
export function usersMatching(all: Iterable<OrUser>, query: { name?: string; email?: string }): OrUser[] {
  const name = query.name === undefined ? undefined : fold(query.name);
  const email = query.email === undefined ? undefined : fold(query.email);
  return [...all]
    .filter((u) => name === undefined || fold(personName(u.attributes)).includes(name))
    .filter((u) => email === undefined || fold(u.attributes?.email ?? '') === email)
    .sort((a, b) => personName(a.attributes).localeCompare(personName(b.attributes), 'en') || a.id - b.id);
}

export function userOps(ctx: Ctx): CrudOperations<User, UserQuery, never> {
  return {
    async list(query, opts) {
      const matching = usersMatching((await ctx.users.all(opts.signal)).values(), query);
      const page = localPage(matching, query.cursor, pageSize(query.limit));
      return { items: page.items.map((u) => toUser(u, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
    },
  };
}
