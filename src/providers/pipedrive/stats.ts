/**
 * Pipedrive's pipeline conversion and movement statistics (API v1 only), with the pipeline, stage
 * and user names, and whose deals were counted.
 */
import { CrmError, excerpt, isCrmError, notFound, unknownReference } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { ConversionStats, MovementStats, Period, Ref } from '../../crm/model.js';
import { namesOf } from '../../crm/names.js';
import { together } from '../../crm/parallel.js';
import type { CallOptions, StatsOperations, StatsQuery } from '../../crm/provider.js';
import { HINT, TOKEN_COST } from './client.js';
import type { Ctx } from './directory.js';
import {
  DATE,
  nativeId,
  toConversionStats,
  toMovementStats,
  userId,
  type PdConversionStats,
  type PdMovementStats,
  type PdUser,
} from './map.js';

export function statsOps(ctx: Ctx): StatsOperations {
  const { client, dir } = ctx;

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
    const uid = query.user_id === undefined ? undefined : userId(query.user_id);
    const p =
      which === 'conversion'
        ? path`/api/v1/pipelines/${pid}/conversion_statistics`
        : path`/api/v1/pipelines/${pid}/movement_statistics`;
    // The statistics and the names they need, together; each part done is reported as progress.
    let done = 0;
    const part =
      <R>(what: string, call: (signal: AbortSignal) => Promise<R>) =>
      async (signal: AbortSignal): Promise<R> => {
        const r = await call(signal);
        opts.onProgress?.(++done, 4, what);
        return r;
      };
    const [env, pipelinesById, stagesById, users] = await together(opts.signal, [
      part(`read the ${which} statistics`, async (signal) => {
        try {
          return await client.read<T>(p, { start_date: query.start_date, end_date: query.end_date, user_id: uid }, TOKEN_COST.v1Stats, signal);
        } catch (e) {
          // Pipedrive answers 404 for an unknown user as for an unknown pipeline: say which it was.
          if (!isCrmError(e) || e.kind !== 'not_found') throw e;
          // Users the token may not read (none listed) leave the question open: the pipeline is named.
          const users = uid === undefined ? undefined : await dir.users.resolve([uid], signal).catch(() => undefined);
          const userUnknown = uid !== undefined && users !== undefined && users.size > 0 && !users.has(uid);
          throw userUnknown ? unknownReference('user', query.user_id!) : notFound('pipeline', query.pipeline_id, HINT.pipeline);
        }
      }),
      part('read the pipeline names', (signal) => dir.pipelines.resolve([pid], signal)),
      part('read the stage names', (signal) => dir.stages.all(signal)),
      part('read the user names', (signal) => dir.users.all(signal).catch(() => new Map<number, PdUser>())),
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
      stageNames: namesOf(stagesResolved),
    };
  }

  /** The statistics in the unified shape, with whose deals were counted and, if asked, Pipedrive's own answer. */
  async function unified<N, T>(
    which: 'conversion' | 'movement',
    query: StatsQuery,
    opts: CallOptions,
    map: (data: N, ctx: { pipeline: Ref; period: Period; stages: Map<number, string> }) => T,
  ): Promise<T & { user: Ref }> {
    const r = await stats<N>(which, query, opts);
    const out = map(r.data, {
      pipeline: r.pipeline,
      period: { start_date: query.start_date, end_date: query.end_date },
      stages: r.stageNames,
    });
    return { ...out, user: r.user, ...(opts.include_remote_data ? { remote_data: r.data as Record<string, unknown> } : {}) };
  }

  return {
    conversion: (query, opts): Promise<ConversionStats> => unified<PdConversionStats, ConversionStats>('conversion', query, opts, toConversionStats),
    movement: (query, opts): Promise<MovementStats> => unified<PdMovementStats, MovementStats>('movement', query, opts, toMovementStats),
  };
}

function collectStageIds(data: unknown): number[] {
  const out: number[] = [];
  const d = data as Partial<PdConversionStats & PdMovementStats>;
  for (const c of d.stage_conversions ?? []) out.push(c.from_stage_id, c.to_stage_id);
  for (const b of d.average_age_in_days?.by_stages ?? []) out.push(b.stage_id);
  return out;
}
