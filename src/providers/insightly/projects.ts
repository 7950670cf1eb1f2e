/**
 * Insightly projects (/Projects): UPPER_SNAKE records, six statuses, PUT with the id in the body
 * (only the fields sent change), stage moves through the pipeline endpoints (writes.ts), DELETE
 * answering 202 without a body. Insightly filters a list on one field (/Projects/Search): a stage,
 * else a status; a name ("contains") and an owner are checked here over the whole filtered list.
 */
import { CrmError, excerpt } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Project, Ref } from '../../crm/model.js';
import {
  type CallOptions,
  type CrudOperations,
  type Page,
  type PreparedWrite,
  type ProjectInput,
  type ProjectQuery,
} from '../../crm/provider.js';
import { prepareRequest } from '../../crm/writes.js';
import { PROJECTS, orNotFound, type Listing } from './client.js';
import { INSIGHTLY_CAPABILITIES } from './capabilities.js';
import { namedPage, namedRecord, type Ctx, type References } from './directory.js';
import {
  fromProjectInput,
  nativeId,
  ownerOf,
  PROJECT_STATUS_NATIVE,
  projectStatus,
  toProject,
  type IlProject,
  type InsightlyProjectStatus,
  type Names,
  userId,
} from './map.js';
import { recordUpdate, recordWrite, targetStage } from './writes.js';

/** What an update can change, for the sentence refusing an update that changes nothing. */
const UPDATABLE = INSIGHTLY_CAPABILITIES.projects!.update!.supported.filter((f) => f !== 'remote_data');

/** The owner and opportunity a project write names, to check before it is sent. */
const refsOf = (body: Record<string, unknown>): References => ({
  user: body.RESPONSIBLE_USER_ID as number | undefined,
  deal: body.OPPORTUNITY_ID as number | undefined,
});

export function projectOps(ctx: Ctx): CrudOperations<Project, ProjectQuery, ProjectInput> {
  const { client } = ctx;
  const c = PROJECTS;

  const read = (id: string, signal?: AbortSignal): Promise<IlProject> => {
    const pid = nativeId(id, 'project', 'list_projects');
    return orNotFound('project', id, client.get<IlProject>(path`/Projects/${pid}`, signal));
  };
  const toRecord = (opts: CallOptions) => (p: IlProject, names: Names) => toProject(p, names, { remote: opts.include_remote_data });
  const targetOf = (input: ProjectInput, signal?: AbortSignal) =>
    input.stage === undefined ? undefined : targetStage(ctx, c, nativeId(input.stage.id, 'stage', 'list_stages'), undefined, signal);

  return {
    async list(query: ProjectQuery, opts: CallOptions): Promise<Page<Project>> {
      if (query.account_id !== undefined) {
        throw new CrmError('unsupported', 'Insightly projects have no account field to filter on (they link to organisations only through links).');
      }
      const stage = query.stage_id === undefined ? undefined : nativeId(query.stage_id, 'stage', 'list_stages');
      const owner = query.owner_id === undefined ? undefined : userId(query.owner_id);
      const status = query.status === undefined ? undefined : PROJECT_STATUS_NATIVE[query.status as InsightlyProjectStatus];
      if (query.status !== undefined && status === undefined) {
        throw new CrmError('validation', `Insightly has no project status '${excerpt(query.status)}'; its statuses: ${Object.keys(PROJECT_STATUS_NATIVE).join(', ')}.`);
      }
      const search = stage !== undefined ? { field: 'STAGE_ID', value: stage } : status !== undefined ? { field: 'STATUS', value: status } : undefined;
      const needle = query.name?.trim().toLowerCase();
      const checks: Array<(p: IlProject) => boolean> = [];
      if (status !== undefined && search?.field !== 'STATUS') checks.push((p) => projectStatus(p.STATUS) === query.status);
      if (needle) checks.push((p) => p.PROJECT_NAME.toLowerCase().includes(needle));
      if (owner !== undefined) checks.push((p) => ownerOf(p) === owner);
      const listing: Listing<IlProject> = {
        path: c.path,
        search,
        // Whole records: a project's tags and custom fields are part of it.
        query: { brief: false },
        key: (p) => String(p.PROJECT_ID),
        what: 'projects',
        keep: checks,
      };
      return namedPage(ctx, listing, query, opts, toRecord(opts));
    },

    get: (id: string, opts: CallOptions): Promise<Project> => namedRecord(ctx, read(id, opts.signal), opts, toRecord(opts)),

    async create(input: ProjectInput, opts): Promise<PreparedWrite<Project>> {
      const body = fromProjectInput(input, 'create');
      if (body.PROJECT_NAME === undefined || body.STATUS === undefined) {
        throw new CrmError('validation', `Insightly requires \`name\` and \`status\` to create a project; allowed status: ${Object.keys(PROJECT_STATUS_NATIVE).join(', ')}.`);
      }
      const move = await targetOf(input, opts.signal);
      return recordWrite(ctx, { c, body, move, label: 'a new project', refs: refsOf(body), signal: opts.signal, toRecord: toRecord(opts) });
    },

    async update(id: string, patch: ProjectInput, opts): Promise<PreparedWrite<Project>> {
      const patchBody = fromProjectInput(patch, 'update');
      return recordUpdate(ctx, {
        c,
        id: nativeId(id, 'project', 'list_projects'),
        body: patchBody,
        move: await targetOf(patch, opts.signal),
        fields: UPDATABLE,
        read: () => read(id, opts.signal),
        name: (p) => p.PROJECT_NAME,
        refs: refsOf(patchBody),
        signal: opts.signal,
        toRecord: toRecord(opts),
      });
    },

    async delete(id: string, opts): Promise<PreparedWrite<Ref>> {
      const pid = nativeId(id, 'project', 'list_projects');
      const del = prepareRequest(client.http, { method: 'DELETE', path: path`/Projects/${pid}` });
      return {
        request: del.request,
        // Insightly answers a delete with 202 and no body: the name is read first (a 404 stops there).
        execute: async () => {
          const current = await read(id, opts.signal);
          await orNotFound('project', id, del.send(opts.signal));
          return { id: String(pid), name: current.PROJECT_NAME };
        },
      };
    },
  };
}
