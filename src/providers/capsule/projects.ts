/**
 * Capsule projects (its `/kases`: cases were renamed projects, the API kept the name). Reads
 * embed tags and custom fields for one project; filters go to Capsule's structured search
 * (`POST /kases/filters/results`), except the account, which only `GET /parties/{id}/kases` can
 * answer, so it is served alone. A project stands in a stage of a project board ("stage-149").
 */
import { CrmError } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Project, Ref } from '../../crm/model.js';
import type { CallOptions, CrudOperations, Page, PreparedWrite, ProjectInput, ProjectQuery, WriteOptions } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { afterWrite } from '../../crm/writes.js';
import { orNotFound, orUnknown, pageSize, search, unwrap, type Listing } from './client.js';
import { checkReferences, type Ctx, type References } from './directory.js';
import { fromProjectInput, nativeId, projectConditions, toProject, type CapsuleKase, type KaseBody } from './map.js';

/** What one project's read embeds: its tags and custom fields. */
const EMBED = { embed: 'tags,fields' };
const FILTERS = ['name', 'status', 'owner_id', 'stage_id'] as const;

/** The owner and account a project write names, checked when it is sent. */
const references = (input: ProjectInput): References => ({
  owner: input.owner?.id,
  party: input.account === undefined ? undefined : { id: input.account.id, as: 'account' },
});

export function projectOps(ctx: Ctx): CrudOperations<Project, ProjectQuery, ProjectInput> {
  const { client } = ctx;
  const read = (pid: number, id: string, signal?: AbortSignal) =>
    orNotFound('project', id, client.get<CapsuleKase>(path`/kases/${pid}`, 'kase', EMBED, signal));

  /**
   * The project as answered by a write; read again with its tags when the write set them (a
   * write's answer does not embed them). Best effort: the write happened whatever the read says.
   */
  async function written(answer: unknown, input: ProjectInput, opts: WriteOptions): Promise<Project> {
    const k = unwrap<CapsuleKase>(answer, 'kase');
    const remote = { remote: opts.include_remote_data };
    if (input.tags === undefined) return toProject(k, remote);
    return afterWrite(
      read(k.id, String(k.id), opts.signal).then((full) => toProject(full, remote)),
      () => toProject(k, remote),
    );
  }

  function listing(q: ProjectQuery): Listing {
    if (q.account_id !== undefined) {
      const others = FILTERS.filter((f) => q[f] !== undefined);
      if (others.length) {
        throw new CrmError(
          'unsupported',
          `Capsule lists an account's projects only without other filters: pass account_id alone, or ${others.map((f) => `\`${f}\``).join(', ')} without account_id.`,
        );
      }
      const party = nativeId(q.account_id, 'party (account)', 'search (types: accounts)');
      return { path: path`/parties/${party}/kases`, key: 'kases' };
    }
    const conditions = projectConditions(q);
    return conditions.length ? search('kases', 'kases', conditions) : { path: path`/kases`, key: 'kases' };
  }

  return {
    async list(query: ProjectQuery, opts: CallOptions): Promise<Page<Project>> {
      const first = listing(query);
      const read = client.page<CapsuleKase>(first, { size: pageSize(query.limit), cursor: query.cursor }, opts.signal);
      const page = await (query.account_id === undefined ? read : orUnknown('account', query.account_id, read));
      return { items: page.items.map((k) => toProject(k, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
    },

    async get(id: string, opts: CallOptions): Promise<Project> {
      const pid = nativeId(id, 'project', 'list_projects');
      return toProject(await read(pid, id, opts.signal), { remote: opts.include_remote_data });
    },

    async create(input: ProjectInput, opts): Promise<PreparedWrite<Project>> {
      const body = fromProjectInput(input);
      if (body.name === undefined || body.party === undefined) {
        throw new CrmError('validation', 'Capsule requires `name` and `account` (the party the project is for) to create a project.');
      }
      return client.prepareWrite(
        { method: 'POST', path: path`/kases`, body: { kase: body }, signal: opts.signal, before: () => checkReferences(ctx, references(input), opts.signal) },
        (a) => written(a, input, opts),
      );
    },

    async update(id: string, patch: ProjectInput, opts): Promise<PreparedWrite<Project>> {
      const pid = nativeId(id, 'project', 'list_projects');
      // Tags replace the list: the ones to drop are those the project has now.
      const current = patch.tags === undefined ? undefined : ((await read(pid, id, opts.signal)).tags ?? []).map((t) => t.id);
      const body: KaseBody = fromProjectInput(patch, current);
      requireChange(body, 'project', ['name', 'description', 'status', 'close_date', 'owner', 'account', 'stage', 'opportunity', 'tags']);
      return client.prepareWrite(
        {
          method: 'PUT',
          path: path`/kases/${pid}`,
          body: { kase: body },
          signal: opts.signal,
          record: { what: 'project', id },
          before: () => checkReferences(ctx, references(patch), opts.signal),
        },
        (a) => written(a, patch, opts),
      );
    },

    async delete(id: string, opts): Promise<PreparedWrite<Ref>> {
      const pid = nativeId(id, 'project', 'list_projects');
      const del = client.prepareWrite({ method: 'DELETE', path: path`/kases/${pid}`, signal: opts.signal, record: { what: 'project', id } }, () => undefined);
      return {
        request: del.request,
        // Capsule answers 204 without the record: read its name first (a 404 stops here, nothing deleted).
        execute: async () => {
          const k = await read(pid, id, opts.signal);
          await del.execute();
          return { id: String(k.id), name: k.name };
        },
      };
    },
  };
}
