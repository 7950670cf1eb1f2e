/**
 * Search in the local CRM: one LIKE query per type (wildcards in the query escaped), best
 * candidates first (exact name, then prefix, then the shortest names), so a limit never cuts an
 * exact match off. Ranking across types is the tool layer's (src/crm/search.ts).
 */
import type { SearchAnswer, SearchHit, SearchQuery, CallOptions } from '../../crm/provider.js';
import type { SearchType } from '../../crm/model.js';
import { searchEach } from '../../crm/search.js';
import { idOf } from './map.js';
import { checkSignal, likeContains, run, type Ctx } from './store.js';

interface Found {
  id: number;
  name: string;
  status?: string | null;
  stage_id?: number | null;
  stage_name?: string | null;
  pipeline_id?: number | null;
  pipeline_name?: string | null;
  owner_id?: number | null;
  owner_name?: string | null;
  account_id?: number | null;
  account_name?: string | null;
  email?: string | null;
  domain?: string | null;
}

/** Per type: what to select and which columns the query matches besides the name. */
const SQL: Record<SearchType, { from: string; select: string; name: string; also?: string[] }> = {
  deals: {
    from: `deals t JOIN stages s ON s.id = t.stage_id LEFT JOIN users u ON u.id = t.owner_id`,
    select: 't.id, t.name, t.status, s.id AS stage_id, s.name AS stage_name, u.id AS owner_id, u.name AS owner_name',
    name: 't.name',
  },
  accounts: {
    from: 'accounts t LEFT JOIN users u ON u.id = t.owner_id',
    select: 't.id, t.name, t.domain, u.id AS owner_id, u.name AS owner_name',
    name: 't.name',
    also: ['t.domain'],
  },
  contacts: {
    from: 'contacts t LEFT JOIN accounts a ON a.id = t.account_id',
    select: "t.id, t.name, a.id AS account_id, a.name AS account_name, json_extract(t.emails, '$[0]') AS email",
    name: 't.name',
    // The JSON text of the list: an address contains no character JSON escapes.
    also: ['t.emails'],
  },
  projects: {
    from: 'projects t LEFT JOIN accounts a ON a.id = t.account_id',
    select: 't.id, t.name, t.status, a.id AS account_id, a.name AS account_name',
    name: 't.name',
  },
  pipelines: { from: 'pipelines t', select: 't.id, t.name', name: 't.name' },
  stages: {
    from: 'stages t JOIN pipelines p ON p.id = t.pipeline_id',
    select: 't.id, t.name, p.id AS pipeline_id, p.name AS pipeline_name',
    name: 't.name',
  },
  users: { from: 'users t', select: 't.id, t.name, t.email', name: 't.name', also: ['t.email'] },
};

const ref = (id: number | null | undefined, name: string | null | undefined) =>
  id === null || id === undefined ? undefined : { id: idOf(id), ...(name ? { name } : {}) };

function toHit(type: SearchType, r: Found): SearchHit {
  const hit: SearchHit = {
    type,
    id: idOf(r.id),
    name: r.name,
    status: r.status ?? undefined,
    stage: ref(r.stage_id, r.stage_name),
    pipeline: ref(r.pipeline_id, r.pipeline_name),
    owner: ref(r.owner_id, r.owner_name),
    account: ref(r.account_id, r.account_name),
    email: r.email ?? undefined,
    domain: r.domain ?? undefined,
  };
  for (const k of Object.keys(hit) as (keyof SearchHit)[]) if (hit[k] === undefined) delete hit[k];
  return hit;
}

export function searchOp(ctx: Ctx): (query: SearchQuery, opts: CallOptions) => Promise<SearchAnswer> {
  const { db } = ctx;
  return (query, opts) =>
    searchEach(query.types, opts, async (type, signal) => {
      checkSignal(signal);
      const q = SQL[type];
      const columns = [q.name, ...(q.also ?? [])];
      const like = likeContains(query.query);
      const rows = run(
        () =>
          db
            .prepare(
              `SELECT ${q.select} FROM ${q.from}
               WHERE ${columns.map((c) => `${c} LIKE ? ESCAPE '\\'`).join(' OR ')}
               ORDER BY CASE WHEN ${q.name} = ? COLLATE NOCASE THEN 0 WHEN ${q.name} LIKE ? ESCAPE '\\' THEN 1 ELSE 2 END,
                 length(${q.name}), t.id
               LIMIT ?`,
            )
            .all(...columns.map(() => like), query.query, like.slice(1), query.limit) as Found[],
      );
      return rows.map((r) => toHit(type, r));
    });
}
