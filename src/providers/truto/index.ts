/**
 * Truto provider: one integrated account of Truto's unified CRM API (https://api.truto.one),
 * serving stages, pipelines, projects, and deals as Truto `opportunities`. No statistics: Truto
 * has none, so `stats` is left undefined and the tool layer says so.
 */
import type { Logger } from '../../log.js';
import { CrmError, excerpt, isCrmError } from '../../crm/errors.js';
import { completeItems, incompleteListing, localPage, sortLocally, walkPages } from '../../crm/paginate.js';
import { together } from '../../crm/parallel.js';
import type { Deal, Pipeline, Project, Ref, Stage, StageWithDeals } from '../../crm/model.js';
import type {
  CallOptions,
  CrmProvider,
  CrudOperations,
  DealInput,
  DealQuery,
  Page,
  PageQuery,
  PipelineInput,
  PreparedWrite,
  ProjectInput,
  ProjectQuery,
  StageInput,
  StageQuery,
  WriteOptions,
} from '../../crm/provider.js';
import { INTEGRATION_LABELS, TRUTO_PROJECT_INTEGRATIONS, trutoCapabilities, type TrutoIntegration } from './capabilities.js';
import {
  TRUTO_DEFAULT_BASE_URL,
  TrutoClient,
  type ReadOptions,
  type TrutoHttpTuning,
  type TrutoResource,
} from './client.js';
import {
  OPPORTUNITY_UNUSED_FIELDS,
  dealFromTruto,
  dealToTruto,
  pipelineFromTruto,
  pipelineToTruto,
  projectFromTruto,
  projectToTruto,
  stageFromTruto,
  stageToTruto,
  summarizeOpenDeals,
  type MapOptions,
  type TrutoOpportunity,
  type TrutoPipeline,
  type TrutoProject,
  type TrutoStage,
} from './map.js';

export { TRUTO_PROJECT_INTEGRATIONS, type TrutoIntegration } from './capabilities.js';

export interface TrutoProviderOptions {
  apiToken: string;
  integratedAccountId: string;
  /** Default https://api.truto.one (TRUTO_BASE_URL in config). */
  baseUrl?: string;
  /** The CRM behind the integrated account; selects the per-integration project rules. */
  integration?: TrutoIntegration;
  logger?: Logger;
  /** Retry/timeout tuning, for tests. */
  http?: TrutoHttpTuning;
}

/** Page size for internal full scans (stages of a pipeline, open deals for get_pipeline). */
const SCAN_PAGE = 100;
const MAX_STAGE_PAGES = 20;
/** Counting open deals is skipped beyond this many pages rather than reported wrong. */
const MAX_DEAL_PAGES = 10;

type Mapper<N, T> = (native: N, opts: MapOptions) => T;

export function createTrutoProvider(options: TrutoProviderOptions): CrmProvider {
  if (!options.apiToken?.trim()) {
    throw new CrmError('validation', 'Truto needs an API token (TRUTO_API_TOKEN).');
  }
  if (!options.integratedAccountId?.trim()) {
    throw new CrmError('validation', 'Truto needs the integrated account id (TRUTO_INTEGRATED_ACCOUNT_ID).');
  }
  const integration = options.integration;
  if (integration !== undefined && !TRUTO_PROJECT_INTEGRATIONS.includes(integration)) {
    throw new CrmError(
      'validation',
      `Unknown Truto integration '${excerpt(integration)}'; use one of ${TRUTO_PROJECT_INTEGRATIONS.join(', ')}, or leave it unset.`,
    );
  }
  const integrationLabel = integration ? INTEGRATION_LABELS[integration] : undefined;
  const label = integrationLabel ? `Truto (${integrationLabel})` : 'Truto';
  const client = new TrutoClient({
    apiToken: options.apiToken,
    integratedAccountId: options.integratedAccountId,
    baseUrl: options.baseUrl ?? TRUTO_DEFAULT_BASE_URL,
    label,
    integrationLabel,
    logger: options.logger,
    http: options.http,
  });

  // ---- generic CRUD over one Truto resource --------------------------------------------------

  function crud<T extends { id: string; name?: string }, N, I, Q extends PageQuery>(spec: {
    resource: TrutoResource;
    noun: string;
    listTool: string;
    fromTruto: Mapper<N, T>;
    toTruto: (input: I) => Record<string, unknown>;
    listParams: (q: Q) => Record<string, unknown>;
    exclude?: readonly string[];
  }): Required<Pick<CrudOperations<T, Q, I>, 'list' | 'get' | 'create' | 'update' | 'delete'>> {
    const { resource, noun } = spec;
    const readOpts = (opts: CallOptions): ReadOptions => ({ ...opts, exclude: spec.exclude });

    const get = async (id: string, opts: CallOptions): Promise<T> => {
      try {
        return spec.fromTruto(await client.get<N>(resource, id, readOpts(opts)), opts);
      } catch (e) {
        throw notFoundHint(e, noun, id, spec.listTool);
      }
    };

    /**
     * The record as read back after a write. Truto answers writes with the unified record; when
     * the CRM behind it answers only an id (or nothing), read it back with a GET.
     */
    const readBack = async (answer: unknown, id: string | undefined, opts: WriteOptions): Promise<T> => {
      const rec = isObject(answer) ? answer : undefined;
      const answeredId = rec && (typeof rec.id === 'string' || typeof rec.id === 'number') ? String(rec.id) : undefined;
      const recordId = answeredId || id;
      if (!recordId) {
        throw new CrmError(
          'upstream',
          `${label} accepted the ${noun} but did not say its id; call ${spec.listTool} to find it before trying again.`,
          { provider: label },
        );
      }
      if (rec && answeredId && !isPartialRecord(rec)) return spec.fromTruto({ ...rec, id: answeredId } as N, opts);
      try {
        return await get(recordId, { signal: opts.signal, include_remote_data: opts.include_remote_data });
      } catch (e) {
        // The write happened: never let a failed read-back look like a failed write (and invite a repeat).
        if (rec) return spec.fromTruto({ ...rec, id: recordId } as N, opts);
        const why = isCrmError(e) ? ` (${e.message})` : '';
        throw new CrmError(
          'upstream',
          `${label} saved the ${noun} (id ${recordId}) but reading it back failed${why}; it exists, so do not send it again — read it later with the get tool.`,
          { provider: label },
        );
      }
    };

    return {
      async list(q: Q, opts: CallOptions): Promise<Page<T>> {
        const page = await client.list<N>(
          resource,
          { ...spec.listParams(q), limit: q.limit, next_cursor: q.cursor },
          readOpts(opts),
        );
        return { items: page.items.map((n) => spec.fromTruto(n, opts)), next_cursor: page.next_cursor };
      },
      get,
      async create(input: I, opts: WriteOptions): Promise<PreparedWrite<T>> {
        const prepared = client.prepare('POST', resource, undefined, spec.toTruto(input), opts);
        return {
          request: prepared.request,
          execute: async () => readBack(await prepared.send<unknown>(), undefined, opts),
        };
      },
      async update(id: string, patch: I, opts: WriteOptions): Promise<PreparedWrite<T>> {
        const prepared = client.prepare('PATCH', resource, id, spec.toTruto(patch), opts);
        return {
          request: prepared.request,
          execute: async () => {
            try {
              return await readBack(await prepared.send<unknown>(), id, opts);
            } catch (e) {
              throw notFoundHint(e, noun, id, spec.listTool);
            }
          },
        };
      },
      async delete(id: string, opts: WriteOptions): Promise<PreparedWrite<Ref>> {
        const prepared = client.prepare('DELETE', resource, id, undefined, opts);
        return {
          request: prepared.request,
          execute: async () => {
            // Read the name first: Truto's delete answers only {id}. A missing record stops here,
            // before anything is sent; other read failures (some CRMs have no `get`) do not.
            let name: string | undefined;
            try {
              name = (await get(id, { signal: opts.signal })).name || undefined;
            } catch (e) {
              if (isCrmError(e) && (e.kind === 'not_found' || e.kind === 'auth' || e.kind === 'cancelled')) throw e;
            }
            try {
              const answer = await prepared.send<unknown>();
              const answeredId = isObject(answer) && answer.id !== undefined && answer.id !== null ? String(answer.id) : id;
              return name === undefined ? { id: answeredId } : { id: answeredId, name };
            } catch (e) {
              throw notFoundHint(e, noun, id, spec.listTool);
            }
          },
        };
      },
    };
  }

  // ---- resources -----------------------------------------------------------------------------

  const stageFilters = (q: StageQuery) =>
    compactParams({
      pipeline: q.pipeline_id === undefined ? undefined : { id: q.pipeline_id },
      name: q.name,
      status: q.status,
    });

  const stageCrud = crud<Stage, TrutoStage, StageInput, StageQuery>({
    resource: 'stages',
    noun: 'stage',
    listTool: 'list_stages',
    fromTruto: (s, o) => stageFromTruto(s, o),
    toTruto: stageToTruto,
    listParams: stageFilters,
  });

  const stages: CrudOperations<Stage, StageQuery, StageInput> = {
    ...stageCrud,
    /**
     * Sorted here, never upstream: seed 000 documents `sort_by` for four integrations only, without
     * naming them, and a CRM that ignores it would return its own order as if sorted. A pipeline's
     * stages are few, so they are read whole (page walker) and sorted and paged locally.
     */
    async list(q: StageQuery, opts: CallOptions): Promise<Page<Stage>> {
      const walk = await walkPages(
        (cursor) => client.list<TrutoStage>('stages', { ...stageFilters(q), limit: SCAN_PAGE, next_cursor: cursor }, opts),
        MAX_STAGE_PAGES,
      );
      const sortBy = q.sort_by ?? 'position';
      const key = (s: Stage): string | number | undefined =>
        sortBy === 'name' ? s.name.toLowerCase() : sortBy === 'position' ? s.position : s[sortBy];
      // Ties keep Truto's order (the sort is stable).
      const sorted = sortLocally(walk.items.map((s) => stageFromTruto(s, opts)), key, q.sort_direction, () => 0);
      const page = localPage(sorted, q.cursor, q.limit);
      return walk.stopped ? { ...page, incomplete: incompleteListing(walk, label, 'stages') } : page;
    },
  };

  const deals = crud<Deal, TrutoOpportunity, DealInput, DealQuery>({
    resource: 'opportunities',
    noun: 'deal',
    listTool: 'list_deals',
    fromTruto: (o, opts) => dealFromTruto(o, opts),
    toTruto: dealToTruto,
    exclude: OPPORTUNITY_UNUSED_FIELDS,
    listParams: (q) =>
      compactParams({
        pipeline: q.pipeline_id === undefined ? undefined : { id: q.pipeline_id },
        stage: q.stage_id === undefined ? undefined : { id: q.stage_id },
        status: q.status,
        owner: q.owner_id === undefined ? undefined : { id: q.owner_id },
      }),
  });

  const projects = crud<Project, TrutoProject, ProjectInput, ProjectQuery>({
    resource: 'projects',
    noun: 'project',
    listTool: 'list_projects',
    fromTruto: (p, o) => projectFromTruto(p, o),
    toTruto: projectToTruto,
    listParams: (q) =>
      compactParams({
        name: q.name,
        status: q.status,
        owner: q.owner_id === undefined ? undefined : { id: q.owner_id },
        account: q.account_id === undefined ? undefined : { id: q.account_id },
        stage: q.stage_id === undefined ? undefined : { id: q.stage_id },
      }),
  });

  const pipelineCrud = crud<Pipeline, TrutoPipeline, PipelineInput, PageQuery>({
    resource: 'pipelines',
    noun: 'pipeline',
    listTool: 'list_pipelines',
    fromTruto: (p, o) => pipelineFromTruto(p, o),
    toTruto: pipelineToTruto,
    listParams: () => ({}),
  });

  /** Every stage of a pipeline, in order, for a pipeline whose record does not embed them. */
  async function allStages(pipelineId: string, pipeline: Ref, opts: CallOptions): Promise<Stage[]> {
    const walk = await walkPages(
      (cursor) =>
        client.list<TrutoStage>(
          'stages',
          { pipeline: { id: pipelineId }, limit: SCAN_PAGE, next_cursor: cursor },
          { signal: opts.signal, include_remote_data: opts.include_remote_data },
        ),
      MAX_STAGE_PAGES,
    );
    const raw = completeItems(walk, label, `the stages of pipeline ${pipelineId}`, 'Try get_pipeline again later, or list_stages with pipeline_id.');
    const out = raw.map((s, j) => stageFromTruto(s, opts, { position: j + 1, pipeline }));
    return out.filter((s) => !s.pipeline || s.pipeline.id === pipelineId).sort((a, b) => a.position - b.position);
  }

  /**
   * Open opportunities of a pipeline, or undefined when they cannot be counted exactly: the
   * integration has no opportunities, or there are more than MAX_DEAL_PAGES pages of them. A
   * repeated cursor is an error rather than a silent omission: the upstream is misbehaving.
   */
  async function openDeals(pipelineId: string, opts: CallOptions): Promise<Deal[] | undefined> {
    let walk;
    try {
      walk = await walkPages(
        (cursor) =>
          client.list<TrutoOpportunity>(
            'opportunities',
            { pipeline: { id: pipelineId }, status: 'open', limit: SCAN_PAGE, next_cursor: cursor },
            { signal: opts.signal, exclude: OPPORTUNITY_UNUSED_FIELDS },
          ),
        MAX_DEAL_PAGES,
      );
    } catch (e) {
      // The CRM behind Truto may have no opportunities; the pipeline itself is still worth showing.
      if (isCrmError(e) && (e.kind === 'not_found' || e.kind === 'unsupported' || e.kind === 'validation')) return undefined;
      throw e;
    }
    if (walk.stopped === 'page_cap') return undefined;
    const raw = completeItems(
      walk,
      label,
      `the open deals of pipeline ${pipelineId}`,
      'Their counts and values would be wrong, so none are shown; use list_deals with pipeline_id and status open.',
    );
    return raw.map((o) => dealFromTruto(o));
  }

  const pipelines: CrudOperations<Pipeline, PageQuery, PipelineInput> = {
    ...pipelineCrud,
    /** The pipeline, its ordered stages, and count/value of open deals per stage (DESIGN §5). */
    async get(id: string, opts: CallOptions): Promise<Pipeline> {
      const [pipeline, open] = await together(opts.signal, [
        (signal) => pipelineCrud.get(id, { ...opts, signal }),
        (signal) => openDeals(id, { ...opts, signal }),
      ] as const);
      const self: Ref = pipeline.name ? { id: pipeline.id, name: pipeline.name } : { id: pipeline.id };
      const stageList = pipeline.stages ?? (await allStages(id, self, opts));
      const ordered = [...stageList].sort((a, b) => a.position - b.position);
      if (!open) return { ...pipeline, stages: ordered };
      const { byStage, total } = summarizeOpenDeals(open, id, new Set(ordered.map((s) => s.id)));
      const withDeals: StageWithDeals[] = ordered.map((s) => ({
        ...s,
        open_deals: byStage.get(s.id) ?? { count: 0, values: {} },
      }));
      return { ...pipeline, stages: withDeals, open_deals: total };
    },
  };

  return {
    kind: 'truto',
    label,
    remote: true,
    capabilities: trutoCapabilities(integration),
    pipelines,
    stages,
    deals,
    projects,
  };
}

// ---------------------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A write answer that cannot stand for the record: nothing but an id (Teamleader answers
 * `{type, id}`), or no name. A full unified record always carries its name.
 */
export function isPartialRecord(rec: Record<string, unknown>): boolean {
  const keys = Object.keys(rec).filter((k) => k !== 'id' && k !== 'type' && k !== 'remote_data');
  return keys.length === 0 || rec.name === undefined || rec.name === null;
}

function compactParams(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

/** A bare "404" becomes a sentence that names the record and the tool that lists valid ids. */
function notFoundHint(e: unknown, noun: string, id: string, listTool: string): unknown {
  if (!isCrmError(e) || e.kind !== 'not_found') return e;
  return new CrmError('not_found', `No ${noun} with id '${excerpt(id)}'. ${e.message} Call ${listTool} to see valid ids.`, {
    status: e.status,
    provider: e.provider,
    cause: e,
  });
}
