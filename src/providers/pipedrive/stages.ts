/**
 * Pipedrive stages (API v2). Pipedrive filters by pipeline and sorts by position and dates itself;
 * a name filter or name sort is done here over the full stage list.
 */
import { CrmError } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { Ref, Stage } from '../../crm/model.js';
import { incompleteListing, localPage, sortLocally } from '../../crm/paginate.js';
import type { CallOptions, CrudOperations, Page, PreparedWrite, StageInput, StageQuery } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { TOKEN_COST, orNotFound, pageSize } from './client.js';
import { namesAfterWrite, stageNames, warm, type Ctx } from './directory.js';
import { fromStageInput, nativeId, toStage, type PdStage } from './map.js';

const STAGE_SORT: Record<NonNullable<StageQuery['sort_by']>, string | undefined> = {
  position: 'order_nr',
  created_at: 'add_time',
  updated_at: 'update_time',
  name: undefined, // Pipedrive cannot sort stages by name: done client-side.
};

export function stageOps(ctx: Ctx): CrudOperations<Stage, StageQuery, StageInput> {
  const { client, dir } = ctx;

  /** A stage Pipedrive just wrote, with names when they can be had. */
  const written = (opts: CallOptions) => async (raw: PdStage) => {
    dir.stages.put(raw);
    return toStage(raw, await namesAfterWrite(ctx, stageNames(ctx, [raw], opts.signal)), { remote: opts.include_remote_data });
  };

  return {
    async list(query: StageQuery, opts: CallOptions): Promise<Page<Stage>> {
      const pid = query.pipeline_id === undefined ? undefined : nativeId(query.pipeline_id, 'pipeline', 'list_pipelines');
      const sortBy = query.sort_by === undefined ? undefined : STAGE_SORT[query.sort_by];
      if (query.status !== undefined) {
        // Pipedrive lists only active stages; a deleted one is reachable by id alone.
        throw new CrmError('unsupported', 'Pipedrive cannot filter stages by `status`: its lists hold only active stages; use get_stage for one stage.');
      }
      const clientSide = query.name !== undefined || query.sort_by === 'name';
      if (!clientSide) {
        warm(dir.pipelines.all(opts.signal));
        const page = await client.page<PdStage>(
          path`/api/v2/stages`,
          { pipeline_id: pid, sort_by: sortBy, sort_direction: query.sort_direction },
          { size: pageSize(query.limit), cursor: query.cursor },
          TOKEN_COST.v2List,
          opts.signal,
        );
        const n = await stageNames(ctx, page.items, opts.signal);
        return { items: page.items.map((s) => toStage(s, n, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
      }

      // Name filter or name sort: Pipedrive has neither, so scan this pipeline's (or all) stages.
      warm(dir.pipelines.all(opts.signal));
      const walk = await client.walk<PdStage>(
        path`/api/v2/stages`,
        { pipeline_id: pid, sort_by: 'order_nr', sort_direction: 'asc' },
        TOKEN_COST.v2List,
        { signal: opts.signal, onProgress: opts.onProgress, what: 'stages' },
      );
      const needle = query.name?.trim().toLowerCase();
      const matched = needle === undefined ? walk.items : walk.items.filter((s) => s.name.toLowerCase().includes(needle));
      const key = (s: PdStage): string | number =>
        query.sort_by === 'name'
          ? s.name.toLowerCase()
          : query.sort_by === 'created_at'
            ? (s.add_time ?? '')
            : query.sort_by === 'updated_at'
              ? (s.update_time ?? '')
              : query.sort_by === 'position'
                ? s.order_nr
                : s.id;
      const sorted = sortLocally(matched, key, query.sort_direction, (a, b) => a.id - b.id);
      const page = localPage(sorted, query.cursor, pageSize(query.limit));
      const n = await stageNames(ctx, page.items, opts.signal);
      return {
        items: page.items.map((s) => toStage(s, n, { remote: opts.include_remote_data })),
        next_cursor: page.next_cursor,
        ...(walk.stopped ? { incomplete: incompleteListing(walk, 'Pipedrive', 'stages') } : {}),
      };
    },

    async get(id: string, opts: CallOptions): Promise<Stage> {
      const sid = nativeId(id, 'stage', 'list_stages');
      warm(dir.pipelines.all(opts.signal));
      const env = await orNotFound('stage', id, client.read<PdStage>(path`/api/v2/stages/${sid}`, undefined, TOKEN_COST.v2Get, opts.signal));
      return toStage(env.data, await stageNames(ctx, [env.data], opts.signal), { remote: opts.include_remote_data });
    },

    async create(input: StageInput, opts): Promise<PreparedWrite<Stage>> {
      const body = fromStageInput(input);
      if (body.name === undefined || body.pipeline_id === undefined) {
        throw new CrmError('validation', 'Pipedrive requires `name` and `pipeline_id` to create a stage.');
      }
      return client.prepareWrite({ method: 'POST', path: path`/api/v2/stages`, body, signal: opts.signal }, written(opts));
    },

    async update(id: string, patch: StageInput, opts): Promise<PreparedWrite<Stage>> {
      const sid = nativeId(id, 'stage', 'list_stages');
      const body = fromStageInput(patch);
      requireChange(body, 'stage', ['pipeline_id', 'name', 'probability']);
      return client.prepareWrite({ method: 'PATCH', path: path`/api/v2/stages/${sid}`, body, signal: opts.signal, record: { what: 'stage', id } }, written(opts));
    },

    async delete(id: string, opts): Promise<PreparedWrite<Ref>> {
      const sid = nativeId(id, 'stage', 'list_stages');
      return client.prepareDelete('stage', id, sid, path`/api/v2/stages/${sid}`, {
        signal: opts.signal,
        deleted: () => dir.stages.invalidate(),
      });
    },
  };
}
