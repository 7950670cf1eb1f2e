/**
 * Projects of the local CRM. Contacts, opportunities (deals) and tags live in join tables; an
 * update that gives one of those lists replaces it, and custom_fields merge key by key (null removes).
 */
import { CrmError } from '../../crm/errors.js';
import type { Project, Ref } from '../../crm/model.js';
import { PROJECT_STATUSES } from '../../crm/statuses.js';
import { STORED_PROJECT_FIELDS, type CrudOperations, type ProjectInput, type ProjectQuery } from '../../crm/provider.js';
import type { Db } from './client.js';
import { parseCustomFields, PROJECT_SELECT, toProject, type ProjectJoined, type ProjectLinks } from './map.js';
import { compact, requireChange } from '../../crm/records.js';
import {
  checkAmount,
  checkCurrency,
  checkDate,
  checkEnum,
  checkJsonObject,
  checkName,
  checkSignal,
  checkText,
  likeContains,
  prepareChange,
  prepareCreate,
  requireDeal,
  requireDirectory,
  requireProject,
  requireStage,
  run,
  selectPage,
  type Ctx,
} from './store.js';

const FIELDS = STORED_PROJECT_FIELDS;

const LINKS = [
  { field: 'contact', table: 'project_contacts', column: 'contact_id', source: 'contacts' },
  { field: 'opportunity', table: 'project_deals', column: 'deal_id', source: 'deals' },
  { field: 'tags', table: 'project_tags', column: 'tag_id', source: 'tags' },
] as const;

/** Join-table links of many projects in three queries. */
function loadLinks(db: Db, ids: number[]): Map<number, ProjectLinks> {
  const out = new Map<number, ProjectLinks>(ids.map((id) => [id, { contact: [], opportunity: [], tags: [] }]));
  if (!ids.length) return out;
  const json = JSON.stringify(ids);
  for (const link of LINKS) {
    const rows = db
      .prepare(
        `SELECT j.project_id AS project_id, x.id AS id, x.name AS name
         FROM ${link.table} j JOIN ${link.source} x ON x.id = j.${link.column}
         WHERE j.project_id IN (SELECT value FROM json_each(?))
         ORDER BY j.project_id, x.id`,
      )
      .all(json) as { project_id: number; id: number; name: string }[];
    for (const r of rows) out.get(r.project_id)?.[link.field].push({ id: String(r.id), name: r.name });
  }
  return out;
}

function toProjects(db: Db, rows: ProjectJoined[], remote: boolean): Project[] {
  const links = loadLinks(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toProject(r, links.get(r.id) as ProjectLinks, remote));
}

export function readProject(db: Db, id: number, remote: boolean): Project {
  const row = db.prepare(`${PROJECT_SELECT} WHERE pr.id = ?`).get(id) as ProjectJoined;
  return toProjects(db, [row], remote)[0];
}

function refId(value: unknown, field: string): string {
  const id = (value as { id?: unknown } | null)?.id;
  if (value === null || typeof value !== 'object' || (typeof id !== 'string' && typeof id !== 'number')) {
    throw new CrmError('validation', `\`${field}\` must look like {"id": "12"}.`);
  }
  return String(id);
}

function refIds(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) throw new CrmError('validation', `\`${field}\` must be a list like [{"id": "12"}].`);
  return [...new Set(value.map((v) => refId(v, `${field}[]`)))];
}

interface Resolved {
  body: Record<string, unknown>;
  owner?: number;
  account?: number;
  stage?: number;
  links: Partial<Record<(typeof LINKS)[number]['field'], number[]>>;
  custom_fields?: Record<string, unknown>;
}

/** Validates every given field; unknown ids name the tool or list the known records. */
function resolve(db: Db, input: ProjectInput): Resolved {
  if (input.remote_data !== undefined) {
    throw new CrmError(
      'unsupported',
      'The local CRM has no remote fields to pass through, so `remote_data` cannot be written; put extra fields in custom_fields instead.',
    );
  }
  const owner = input.owner === undefined ? undefined : refId(input.owner, 'owner');
  const account = input.account === undefined ? undefined : refId(input.account, 'account');
  const stage = input.stage === undefined ? undefined : refId(input.stage, 'stage');
  const contact = input.contact === undefined ? undefined : refIds(input.contact, 'contact');
  const opportunity = input.opportunity === undefined ? undefined : refIds(input.opportunity, 'opportunity');
  const tags = input.tags === undefined ? undefined : refIds(input.tags, 'tags');

  const out: Resolved = { body: {}, links: {} };
  if (owner !== undefined) out.owner = requireDirectory(db, 'users', owner).id;
  if (account !== undefined) out.account = requireDirectory(db, 'accounts', account).id;
  if (stage !== undefined) out.stage = requireStage(db, stage).id;
  if (contact) out.links.contact = contact.map((id) => requireDirectory(db, 'contacts', id).id);
  if (opportunity) out.links.opportunity = opportunity.map((id) => requireDeal(db, id).id);
  if (tags) out.links.tags = tags.map((id) => requireDirectory(db, 'tags', id).id);
  if (input.custom_fields !== undefined) out.custom_fields = checkJsonObject(input.custom_fields, 'custom_fields');

  const asRefs = (ids: string[] | undefined): Ref[] | undefined => ids?.map((id) => ({ id }));
  out.body = compact({
    name: input.name === undefined ? undefined : checkName(input.name),
    description: input.description === undefined ? undefined : checkText(input.description, 'description', 10_000),
    status: input.status === undefined ? undefined : checkEnum(input.status, 'status', PROJECT_STATUSES),
    amount: input.amount === undefined ? undefined : checkAmount(input.amount),
    currency: input.currency === undefined ? undefined : checkCurrency(input.currency),
    close_date: input.close_date === undefined ? undefined : checkDate(input.close_date, 'close_date'),
    owner: owner === undefined ? undefined : { id: owner },
    account: account === undefined ? undefined : { id: account },
    stage: stage === undefined ? undefined : { id: stage },
    contact: asRefs(contact),
    opportunity: asRefs(opportunity),
    tags: asRefs(tags),
    custom_fields: out.custom_fields,
  });
  return out;
}

function writeLinks(db: Db, projectId: number, links: Resolved['links'], replace: boolean): void {
  for (const link of LINKS) {
    const ids = links[link.field];
    if (ids === undefined) continue;
    if (replace) db.prepare(`DELETE FROM ${link.table} WHERE project_id = ?`).run(projectId);
    const insert = db.prepare(`INSERT INTO ${link.table} (project_id, ${link.column}) VALUES (?, ?)`);
    for (const id of ids) insert.run(projectId, id);
  }
}

/** Merges a custom_fields patch: given keys overwrite, null removes. */
function mergeCustomFields(
  current: Record<string, unknown> | undefined,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...(current ?? {}) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  return merged;
}

export function projectOps(ctx: Ctx): CrudOperations<Project, ProjectQuery, ProjectInput> {
  const { db } = ctx;

  return {
    async list(query, opts) {
      checkSignal(opts.signal);
      return run(() => {
        const where: string[] = [];
        const params: unknown[] = [];
        if (query.name !== undefined) {
          where.push("pr.name LIKE ? ESCAPE '\\'");
          params.push(likeContains(query.name));
        }
        if (query.status !== undefined) {
          where.push('pr.status = ?');
          params.push(checkEnum(query.status, 'status', PROJECT_STATUSES));
        }
        if (query.owner_id !== undefined) {
          where.push('pr.owner_id = ?');
          params.push(requireDirectory(db, 'users', query.owner_id).id);
        }
        if (query.account_id !== undefined) {
          where.push('pr.account_id = ?');
          params.push(requireDirectory(db, 'accounts', query.account_id).id);
        }
        if (query.stage_id !== undefined) {
          where.push('pr.stage_id = ?');
          params.push(requireStage(db, query.stage_id).id);
        }
        // Links are loaded for the page's projects only.
        return selectPage(db, { select: PROJECT_SELECT, where, params, order: [{ expr: 'pr.id', field: 'id' }] }, query, (rows: ProjectJoined[]) =>
          toProjects(db, rows, Boolean(opts.include_remote_data)),
        );
      });
    },

    async get(id, opts) {
      checkSignal(opts.signal);
      return run(() => readProject(db, requireProject(db, id).id, Boolean(opts.include_remote_data)));
    },

    async create(input, opts) {
      return prepareCreate(ctx, {
        scope: 'projects',
        noun: 'project',
        path: '/projects',
        input,
        opts,
        plan() {
          const name = checkName(input.name);
          const r = resolve(db, input);
          const b = r.body;
          return {
            body: { name, ...b },
            insert(at) {
              const id = Number(
                db
                  .prepare(
                    `INSERT INTO projects (name, description, status, amount, currency, close_date, owner_id, account_id,
                       stage_id, custom_fields, last_activity_at, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
                  )
                  .run(
                    name,
                    b.description ?? null,
                    b.status ?? null,
                    b.amount ?? null,
                    b.currency ?? null,
                    b.close_date ?? null,
                    r.owner ?? null,
                    r.account ?? null,
                    r.stage ?? null,
                    r.custom_fields === undefined ? null : JSON.stringify(r.custom_fields),
                    at,
                    at,
                    at,
                  ).lastInsertRowid,
              );
              writeLinks(db, id, r.links, false);
              return id;
            },
          };
        },
        read: (id) => readProject(db, id, false),
      });
    },

    async update(id, patch, opts) {
      return prepareChange(ctx, 'PATCH', `/projects/${id}`, opts, () => {
        const project = requireProject(db, id);
        const r = resolve(db, patch);
        const b = r.body;
        requireChange(b, 'project', FIELDS);
        return {
          body: b,
          apply(at) {
            const custom =
              r.custom_fields === undefined
                ? project.custom_fields
                : JSON.stringify(mergeCustomFields(parseCustomFields(project.custom_fields), r.custom_fields));
            db.prepare(
              `UPDATE projects SET name = COALESCE(?, name), description = COALESCE(?, description),
                 status = COALESCE(?, status), amount = COALESCE(?, amount), currency = COALESCE(?, currency),
                 close_date = COALESCE(?, close_date), owner_id = COALESCE(?, owner_id),
                 account_id = COALESCE(?, account_id), stage_id = COALESCE(?, stage_id), custom_fields = ?,
                 last_activity_at = ?, updated_at = ?
               WHERE id = ?`,
            ).run(
              b.name ?? null,
              b.description ?? null,
              b.status ?? null,
              b.amount ?? null,
              b.currency ?? null,
              b.close_date ?? null,
              r.owner ?? null,
              r.account ?? null,
              r.stage ?? null,
              custom,
              at,
              at,
              project.id,
            );
            writeLinks(db, project.id, r.links, true);
            return readProject(db, project.id, false);
          },
        };
      });
    },

    async delete(id, opts) {
      return prepareChange(ctx, 'DELETE', `/projects/${id}`, opts, () => {
        const project = requireProject(db, id);
        return {
          apply() {
            db.prepare('DELETE FROM projects WHERE id = ?').run(project.id);
            return { id: String(project.id), name: project.name };
          },
        };
      });
    },
  };
}
