/**
 * Users through Truto's unified `users` (list and get; read-only here). Truto documents an `email`
 * query on users, sent as such and checked here; names are matched here (contains, any case).
 */
import type { User } from '../../crm/model.js';
import type { CrudOperations, UserQuery } from '../../crm/provider.js';
import { compact } from '../../crm/records.js';
import type { TrutoClient } from './client.js';
import { emailIs, nameContains, userFromTruto, type TrutoUser } from './map.js';
import { trutoResource } from './resource.js';

export function userOps(client: TrutoClient): CrudOperations<User, UserQuery, never> {
  const { list, get } = trutoResource<User, TrutoUser, never, UserQuery>(client, {
    resource: 'users',
    noun: 'user',
    listTool: 'list_users',
    fromTruto: (u, o) => userFromTruto(u, o),
    toTruto: () => ({}),
    listParams: (q) => compact({ email: q.email?.trim() }),
    localFilter: (q) =>
      q.name === undefined && q.email === undefined
        ? undefined
        : (u) => nameContains(u.name, q.name) && (q.email === undefined || emailIs(u.email, q.email)),
  });
  return { list, get };
}
