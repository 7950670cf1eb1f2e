/**
 * Pipedrive as a CrmProvider: pipelines and stages (API v2), deals (API v2 /deals), conversion
 * and movement statistics (API v1). Records read as names (stage, pipeline, owner, account), from
 * a short-lived directory cache; independent requests go out together.
 */
import type { Logger } from '../../log.js';
import { CrmError, excerpt, isCrmError, notFound } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import { completeItems, incompleteListing, localPage, sortLocally } from '../../crm/paginate.js';
import { together } from '../../crm/parallel.js';
import type {
  ConversionStats,
  Deal,
  MovementStats,
  Pipeline,
  Ref,
  Stage,
  StageWithDeals,
} from '../../crm/model.js';
import type {
  CallOptions,
  CrmProvider,
  DealInput,
  DealQuery,
  PageQuery,
  Page,
  PipelineInput,
  PreparedWrite,
  StageInput,
  StageQuery,
  StatsQuery,
} from '../../crm/provider.js';
import { PIPEDRIVE_CAPABILITIES } from './capabilities.js';
import {
  MAX_PAGE,
  PipedriveClient,
  TOKEN_COST,
  createDirectory,
  names,
  type Directory,
  type PipedriveClientOptions,
} from './client.js';
import {
  fromDealInput,
  fromPipelineInput,
  fromStageInput,
  nativeId,
  summarizeOpenDeals,
  toConversionStats,
  toDeal,
  toMovementStats,
  toPipeline,
  toStage,
  type Names,
  type PdConversionStats,
  type PdDeal,
  type PdMovementStats,
  type PdPipeline,
  type PdStage,
  type PdUser,
} from './map.js';

export interface PipedriveProviderOptions {
  apiToken: string;
  /** Company root, e.g. https://acme.pipedrive.com (default https://api.pipedrive.com). */
  baseUrl?: string;
  logger?: Logger;
  /** Requests per rolling 2 s window (Lite 20 by default; Growth 40, Premium 100, Ultimate 120). */
  burstLimit?: number;
  /** Tuning and test hooks for the HTTP client. */
  http?: PipedriveClientOptions['http'];
}

const HINT = {
  pipeline: 'Call list_pipelines to see valid pipeline ids.',
  stage: 'Call list_stages (optionally with pipeline_id) to see valid stage ids.',
  deal: 'Call list_deals to see valid deal ids.',
};

type Kind = keyof typeof HINT;

/** Rewrites Pipedrive's 404 into a not_found that names the record and the tool to call. */
async function orNotFound<T>(what: Kind, id: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (isCrmError(e) && e.kind === 'not_found') throw notFound(what, id, HINT[what]);
    throw e;
  }
}

/** Pipedrive keeps soft-deleted records readable by id; to an agent they are gone. */
const deletedError = (what: Kind, id: string) =>
  new CrmError('not_found', `The ${what} with id '${excerpt(id)}' was deleted in Pipedrive. ${HINT[what]}`);

const clampLimit = (n: number | undefined): number => Math.min(MAX_PAGE, Math.max(1, Math.floor(n ?? 100)));

const STAGE_SORT: Record<NonNullable<StageQuery['sort_by']>, string | undefined> = {
  position: 'order_nr',
  created_at: 'add_time',
  updated_at: 'update_time',
  name: undefined, // Pipedrive cannot sort stages by name: done client-side.
};

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function createPipedriveProvider(options: PipedriveProviderOptions): CrmProvider {
  const client = new PipedriveClient(options);
  const dir: Directory = createDirectory(client, options.logger);

  // -------------------------------------------------------------------------------------------
  // Names

  async function dealNames(deals: readonly PdDeal[], signal?: AbortSignal): Promise<Names> {
    const ids = (pick: (d: PdDeal) => number | null | undefined) =>
      deals.map(pick).filter((x): x is number => typeof x === 'number');
    const [pipelines, stages, users, orgs] = await Promise.all([
      dir.pipelines.resolve(ids((d) => d.pipeline_id), signal),
      dir.stages.resolve(ids((d) => d.stage_id), signal),
      dir.users.resolve(ids((d) => d.owner_id), signal),
      dir.orgs.resolve(ids((d) => d.org_id), signal),
    ]);
    return { pipelines: names(pipelines), stages: names(stages), users: names(users), orgs };
  }

  async function stageNames(stages: readonly PdStage[], signal?: AbortSignal): Promise<Names> {
    const pipelines = await dir.pipelines.resolve(stages.map((s) => s.pipeline_id), signal);
    return { pipelines: names(pipelines) };
  }

  /**
   * Names for a record just written. Best effort: once Pipedrive has accepted the write, a failed
   * lookup must not turn it into an error that invites the caller to send it again.
   */
  async function namesAfterWrite(load: Promise<Names>): Promise<Names> {
    try {
      return await load;
    } catch (e) {
      options.logger?.warn({ err: (e as Error).message }, 'names unavailable after a write; showing ids');
      return {};
    }
  }

  /** Warms the directory while the main request is in flight; failures surface on use. */
  function warm(...loads: Array<Promise<unknown>>): void {
    for (const l of loads) l.catch(() => undefined);
  }

  // -------------------------------------------------------------------------------------------
  // Pipelines

  const pipelines: NonNullable<CrmProvider['pipelines']> = {
    async list(query: PageQuery, opts: CallOptions): Promise<Page<Pipeline>> {
      const page = await client.list<PdPipeline>(
        path`/api/v2/pipelines`,
        { limit: clampLimit(query.limit), cursor: query.cursor },
        TOKEN_COST.v2List,
        opts.signal,
      );
      for (const p of page.items) dir.pipelines.put(p);
      return { items: page.items.map((p) => toPipeline(p, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
    },

    async get(id: string, opts: CallOptions): Promise<Pipeline> {
      const pid = nativeId(id, 'pipeline', 'list_pipelines');
      // Pipeline, its stages and its open deals in one round trip of wall time. API v2 has no
      // per-stage deal summary (v1 /pipelines/{id}/deals?get_summary is out of support and
      // /v1/deals/summary has no per-stage split), so open deals are summed from /api/v2/deals.
      const [pipeline, stageWalk, dealWalk] = await together(opts.signal, [
        (signal) => orNotFound('pipeline', id, client.read<PdPipeline>(path`/api/v2/pipelines/${pid}`, undefined, TOKEN_COST.v2Get, signal)),
        (signal) =>
          client.walk<PdStage>(path`/api/v2/stages`, { pipeline_id: pid, sort_by: 'order_nr', sort_direction: 'asc' }, TOKEN_COST.v2List, signal),
        (signal) => client.walk<PdDeal>(path`/api/v2/deals`, { pipeline_id: pid, status: 'open' }, TOKEN_COST.v2DealsList, signal),
      ] as const);
      const p = pipeline.data;
      if (p.is_deleted) throw deletedError('pipeline', id);
      // Partial stages or sums would read as the truth: refuse them instead.
      const stages = completeItems(stageWalk, 'Pipedrive', `the stages of pipeline ${id}`, 'Try get_pipeline again later, or list_stages with pipeline_id.');
      const openDeals = completeItems(
        dealWalk,
        'Pipedrive',
        `the open deals of pipeline ${id}`,
        'Their counts and values would be wrong, so none are shown; use list_deals with pipeline_id and status open.',
      );
      dir.pipelines.put(p);
      const { byStage, total } = summarizeOpenDeals(openDeals);
      const ref = new Map([[p.id, p.name]]);
      const ordered: StageWithDeals[] = stages
        .filter((s) => s.pipeline_id === p.id)
        .sort((a, b) => a.order_nr - b.order_nr || a.id - b.id)
        .map((s) => ({
          ...toStage(s, { pipelines: ref }, { remote: opts.include_remote_data }),
          open_deals: byStage.get(s.id) ?? { count: 0, values: {} },
        }));
      return { ...toPipeline(p, { remote: opts.include_remote_data }), stages: ordered, open_deals: total };
    },

    async create(input: PipelineInput, opts): Promise<PreparedWrite<Pipeline>> {
      const body = fromPipelineInput(input);
      if (body.name === undefined) {
        throw new CrmError('validation', 'Pipedrive requires `name` to create a pipeline.');
      }
      const p = path`/api/v2/pipelines`;
      return {
        request: { method: 'POST', path: client.shownPath(p), body },
        async execute() {
          const created = await client.write<PdPipeline>('POST', p, body, TOKEN_COST.v2Write, opts.signal);
          dir.pipelines.put(created);
          return toPipeline(created, { remote: opts.include_remote_data });
        },
      };
    },

    async update(id: string, patch: PipelineInput, opts): Promise<PreparedWrite<Pipeline>> {
      const pid = nativeId(id, 'pipeline', 'list_pipelines');
      const body = nonEmpty(fromPipelineInput(patch), 'pipeline', 'name, is_deal_probability_enabled');
      const p = path`/api/v2/pipelines/${pid}`;
      return {
        request: { method: 'PATCH', path: client.shownPath(p), body },
        async execute() {
          const updated = await orNotFound('pipeline', id, client.write<PdPipeline>('PATCH', p, body, TOKEN_COST.v2Write, opts.signal));
          dir.pipelines.put(updated);
          return toPipeline(updated, { remote: opts.include_remote_data });
        },
      };
    },

    async delete(id: string, opts): Promise<PreparedWrite<Ref>> {
      const pid = nativeId(id, 'pipeline', 'list_pipelines');
      const p = path`/api/v2/pipelines/${pid}`;
      return {
        request: { method: 'DELETE', path: client.shownPath(p) },
        async execute() {
          // The delete answer is only {id}; read the name first (and 404 before deleting anything).
          const current = await orNotFound('pipeline', id, client.read<PdPipeline>(p, undefined, TOKEN_COST.v2Get, opts.signal));
          if (current.data.is_deleted) throw deletedError('pipeline', id);
          await orNotFound('pipeline', id, client.write('DELETE', p, undefined, TOKEN_COST.v2Delete, opts.signal));
          dir.pipelines.invalidate();
          dir.stages.invalidate();
          return { id: String(pid), name: current.data.name };
        },
      };
    },
  };

  // -------------------------------------------------------------------------------------------
  // Stages

  const stages: NonNullable<CrmProvider['stages']> = {
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
        const page = await client.list<PdStage>(
          path`/api/v2/stages`,
          {
            pipeline_id: pid,
            sort_by: sortBy,
            sort_direction: query.sort_direction,
            limit: clampLimit(query.limit),
            cursor: query.cursor,
          },
          TOKEN_COST.v2List,
          opts.signal,
        );
        const n = await stageNames(page.items, opts.signal);
        return { items: page.items.map((s) => toStage(s, n, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
      }

      // Name filter or name sort: Pipedrive has neither, so scan this pipeline's (or all) stages.
      warm(dir.pipelines.all(opts.signal));
      const walk = await client.walk<PdStage>(
        path`/api/v2/stages`,
        { pipeline_id: pid, sort_by: 'order_nr', sort_direction: 'asc' },
        TOKEN_COST.v2List,
        opts.signal,
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
      const page = localPage(sorted, query.cursor, clampLimit(query.limit));
      const n = await stageNames(page.items, opts.signal);
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
      return toStage(env.data, await stageNames([env.data], opts.signal), { remote: opts.include_remote_data });
    },

    async create(input: StageInput, opts): Promise<PreparedWrite<Stage>> {
      const body = fromStageInput(input);
      if (body.name === undefined || body.pipeline_id === undefined) {
        throw new CrmError('validation', 'Pipedrive requires `name` and `pipeline_id` to create a stage.');
      }
      const p = path`/api/v2/stages`;
      return {
        request: { method: 'POST', path: client.shownPath(p), body },
        async execute() {
          const created = await client.write<PdStage>('POST', p, body, TOKEN_COST.v2Write, opts.signal);
          dir.stages.put(created);
          return toStage(created, await namesAfterWrite(stageNames([created], opts.signal)), { remote: opts.include_remote_data });
        },
      };
    },

    async update(id: string, patch: StageInput, opts): Promise<PreparedWrite<Stage>> {
      const sid = nativeId(id, 'stage', 'list_stages');
      const body = nonEmpty(fromStageInput(patch), 'stage', 'pipeline_id, name, probability');
      const p = path`/api/v2/stages/${sid}`;
      return {
        request: { method: 'PATCH', path: client.shownPath(p), body },
        async execute() {
          const updated = await orNotFound('stage', id, client.write<PdStage>('PATCH', p, body, TOKEN_COST.v2Write, opts.signal));
          dir.stages.put(updated);
          return toStage(updated, await namesAfterWrite(stageNames([updated], opts.signal)), { remote: opts.include_remote_data });
        },
      };
    },

    async delete(id: string, opts): Promise<PreparedWrite<Ref>> {
      const sid = nativeId(id, 'stage', 'list_stages');
      const p = path`/api/v2/stages/${sid}`;
      return {
        request: { method: 'DELETE', path: client.shownPath(p) },
        async execute() {
          const current = await orNotFound('stage', id, client.read<PdStage>(p, undefined, TOKEN_COST.v2Get, opts.signal));
          if (current.data.is_deleted) throw deletedError('stage', id);
          await orNotFound('stage', id, client.write('DELETE', p, undefined, TOKEN_COST.v2Delete, opts.signal));
          dir.stages.invalidate();
          return { id: String(sid), name: current.data.name };
        },
      };
    },
  };

  // -------------------------------------------------------------------------------------------
  // Deals

  async function readDeal(raw: PdDeal, opts: CallOptions): Promise<Deal> {
    return toDeal(raw, await dealNames([raw], opts.signal), { remote: opts.include_remote_data });
  }

  async function writtenDeal(raw: PdDeal, opts: CallOptions): Promise<Deal> {
    return toDeal(raw, await namesAfterWrite(dealNames([raw], opts.signal)), { remote: opts.include_remote_data });
  }

  const deals: NonNullable<CrmProvider['deals']> = {
    async list(query: DealQuery, opts: CallOptions): Promise<Page<Deal>> {
      const q = {
        pipeline_id: query.pipeline_id === undefined ? undefined : nativeId(query.pipeline_id, 'pipeline', 'list_pipelines'),
        stage_id: query.stage_id === undefined ? undefined : nativeId(query.stage_id, 'stage', 'list_stages'),
        status: query.status,
        owner_id: query.owner_id === undefined ? undefined : nativeId(query.owner_id, 'user', 'list_deals (each deal names its owner)'),
        // Most recently updated first, as list_deals promises for every CRM.
        sort_by: 'update_time',
        sort_direction: 'desc',
        limit: clampLimit(query.limit),
        cursor: query.cursor,
      };
      // Directory loads ride along with the deals request instead of after it.
      warm(dir.pipelines.all(opts.signal), dir.stages.all(opts.signal), dir.users.all(opts.signal));
      const page = await client.list<PdDeal>(path`/api/v2/deals`, q, TOKEN_COST.v2DealsList, opts.signal);
      const n = await dealNames(page.items, opts.signal);
      return { items: page.items.map((d) => toDeal(d, n, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
    },

    async get(id: string, opts: CallOptions): Promise<Deal> {
      const did = nativeId(id, 'deal', 'list_deals');
      warm(dir.pipelines.all(opts.signal), dir.stages.all(opts.signal), dir.users.all(opts.signal));
      const env = await orNotFound('deal', id, client.read<PdDeal>(path`/api/v2/deals/${did}`, undefined, TOKEN_COST.v2Get, opts.signal));
      if (env.data.is_deleted) throw deletedError('deal', id);
      return readDeal(env.data, opts);
    },

    async create(input: DealInput, opts): Promise<PreparedWrite<Deal>> {
      const body = fromDealInput(input);
      if (body.title === undefined) throw new CrmError('validation', 'Pipedrive requires `name` to create a deal.');
      const p = path`/api/v2/deals`;
      return {
        request: { method: 'POST', path: client.shownPath(p), body },
        async execute() {
          const created = await client.write<PdDeal>('POST', p, body, TOKEN_COST.v2Write, opts.signal);
          return writtenDeal(created, opts);
        },
      };
    },

    async update(id: string, patch: DealInput, opts): Promise<PreparedWrite<Deal>> {
      const did = nativeId(id, 'deal', 'list_deals');
      const body = nonEmpty(
        fromDealInput(patch),
        'deal',
        'name, pipeline_id, stage_id, amount, currency, status, owner_id, account_id, close_date',
      );
      const p = path`/api/v2/deals/${did}`;
      return {
        request: { method: 'PATCH', path: client.shownPath(p), body },
        async execute() {
          const updated = await orNotFound('deal', id, client.write<PdDeal>('PATCH', p, body, TOKEN_COST.v2Write, opts.signal));
          return writtenDeal(updated, opts);
        },
      };
    },
  };

  // -------------------------------------------------------------------------------------------
  // Statistics (API v1 only)

  async function stats<T>(
    which: 'conversion' | 'movement',
    query: StatsQuery,
    opts: CallOptions,
  ): Promise<{ data: T; pipeline: Ref; user: Ref; stageNames: Map<number, string> }> {
    const pid = nativeId(query.pipeline_id, 'pipeline', 'list_pipelines');
    for (const key of ['start_date', 'end_date'] as const) {
      if (!DATE.test(query[key]) || Number.isNaN(Date.parse(`${query[key]}T00:00:00Z`))) {
        throw new CrmError('validation', `${key} must be a date as YYYY-MM-DD, not '${excerpt(query[key])}'.`);
      }
    }
    if (query.start_date > query.end_date) {
      throw new CrmError('validation', `start_date (${query.start_date}) must not be after end_date (${query.end_date}).`);
    }
    const uid = query.user_id === undefined ? undefined : nativeId(query.user_id, 'user', 'list_deals (each deal names its owner)');
    const p =
      which === 'conversion'
        ? path`/api/v1/pipelines/${pid}/conversion_statistics`
        : path`/api/v1/pipelines/${pid}/movement_statistics`;
    const [env, pipelinesById, stagesById, users] = await together(opts.signal, [
      (signal) =>
        orNotFound(
          'pipeline',
          query.pipeline_id,
          client.read<T>(p, { start_date: query.start_date, end_date: query.end_date, user_id: uid }, TOKEN_COST.v1Stats, signal),
        ),
      (signal) => dir.pipelines.resolve([pid], signal),
      (signal) => dir.stages.all(signal),
      (signal) => dir.users.all(signal).catch(() => new Map<number, PdUser>()),
    ] as const);
    // Pipedrive counts one user's deals: the given user_id, else the token's own user. Say whose.
    const counted = uid !== undefined ? users.get(uid) : [...users.values()].find((u) => u.is_you === true);
    const user: Ref = counted
      ? { id: String(counted.id), name: counted.name }
      : uid !== undefined
        ? { id: String(uid) }
        : { id: 'me', name: "the API token's user" };
    const stageIds = collectStageIds(env.data);
    const stagesResolved = stageIds.some((s) => !stagesById.has(s)) ? await dir.stages.resolve(stageIds, opts.signal) : stagesById;
    const name = pipelinesById.get(pid)?.name;
    return {
      data: env.data,
      pipeline: name === undefined ? { id: String(pid) } : { id: String(pid), name },
      user,
      stageNames: names(stagesResolved),
    };
  }

  const statsOps: NonNullable<CrmProvider['stats']> = {
    async conversion(query, opts): Promise<ConversionStats> {
      const r = await stats<PdConversionStats>('conversion', query, opts);
      const out = toConversionStats(r.data, {
        pipeline: r.pipeline,
        period: { start_date: query.start_date, end_date: query.end_date },
        stages: r.stageNames,
      });
      return { ...out, user: r.user, ...(opts.include_remote_data ? { remote_data: r.data as unknown as Record<string, unknown> } : {}) };
    },
    async movement(query, opts): Promise<MovementStats> {
      const r = await stats<PdMovementStats>('movement', query, opts);
      const out = toMovementStats(r.data, {
        pipeline: r.pipeline,
        period: { start_date: query.start_date, end_date: query.end_date },
        stages: r.stageNames,
      });
      return { ...out, user: r.user, ...(opts.include_remote_data ? { remote_data: r.data as unknown as Record<string, unknown> } : {}) };
    },
  };

  return {
    kind: 'pipedrive',
    label: 'Pipedrive',
    remote: true,
    capabilities: PIPEDRIVE_CAPABILITIES,
    pipelines,
    stages,
    deals,
    stats: statsOps,
  };
}

function nonEmpty<T extends object>(body: T, what: string, fields: string): T {
  if (Object.keys(body).length === 0) {
    throw new CrmError('validation', `Nothing to update: give at least one of ${fields} for the ${what}.`);
  }
  return body;
}

function collectStageIds(data: unknown): number[] {
  const out: number[] = [];
  const d = data as Partial<PdConversionStats & PdMovementStats>;
  for (const c of d.stage_conversions ?? []) out.push(c.from_stage_id, c.to_stage_id);
  for (const b of d.average_age_in_days?.by_stages ?? []) out.push(b.stage_id);
  return out;
}

export { PIPEDRIVE_CAPABILITIES } from './capabilities.js';
