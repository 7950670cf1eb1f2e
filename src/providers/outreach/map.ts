/**
 * Outreach <-> unified model, both ways. Pure functions: no I/O, so they are unit-tested alone.
 * Outreach speaks JSON:API (resource objects with `type`, integer `id`, `attributes` and
 * `relationships`); the shapes below follow its published OpenAPI spec (provider-apis.md §3, §7).
 *
 * Two fixed pipelines stand for Outreach's two stage collections: `prospects` (`/stages`, seed
 * 001) and `opportunities` (`/opportunityStages`). A stage id says which collection it belongs to:
 * `p12` is prospect stage 12, `o12` opportunity stage 12.
 */
import { CrmError, excerpt } from '../../crm/errors.js';
import type { Deal, Pipeline, Ref, Stage } from '../../crm/model.js';
import type { DealInput, StageInput } from '../../crm/provider.js';
import { compact } from '../../crm/records.js';

// ---------------------------------------------------------------------------------------------
// JSON:API resource objects (only the fields read; the rest rides along in remote_data)

export interface Linkage {
  type: string;
  id: number;
}

export interface Relationship {
  data?: Linkage | Linkage[] | null;
  links?: { related?: string };
}

/** One JSON:API resource object as Outreach sends it. */
export interface Resource<A = Record<string, unknown>> {
  type: string;
  id: number;
  attributes?: A;
  relationships?: Record<string, Relationship | undefined>;
  links?: { self?: string };
}

export type OrStage = Resource<{
  name?: string | null;
  order?: number | null;
  color?: string | null;
  createdAt?: string | null;
  updatedAt?: string | null;
}>;

/** An opportunity stage: a prospect stage's attributes plus `isClosed` (no probability, no won/lost flag). */
export type OrOpportunityStage = Resource<NonNullable<OrStage['attributes']> & { isClosed?: boolean | null }>;

export type OrOpportunity = Resource<{
  name?: string | null;
  /** Whole units; the exact figure is `amountPrecise` (a decimal string). */
  amount?: number | null;
  amountPrecise?: string | null;
  currencyType?: string | null;
  closeDate?: string | null;
  probability?: number | null;
  createdAt?: string | null;
  updatedAt?: string | null;
}>;

/** Users and accounts: only their names are read here. */
export type OrNamed = Resource<{ name?: string | null }>;

/** The id of a to-one relationship, when the record names one. */
export function relatedId(r: Resource, name: string): number | undefined {
  const data = r.relationships?.[name]?.data;
  return data && !Array.isArray(data) && Number.isSafeInteger(data.id) ? data.id : undefined;
}

/** A write's `data`: type, the id for a PATCH (an integer, as the spec wants it), attributes, relationships. */
export interface ResourceBody {
  attributes?: Record<string, unknown>;
  relationships?: Record<string, { data: Linkage | null } | undefined>;
}

export function document(type: string, body: ResourceBody, id?: number): { data: Record<string, unknown> } {
  return {
    data: compact({
      type,
      id,
      attributes: body.attributes && Object.keys(body.attributes).length ? body.attributes : undefined,
      relationships: body.relationships && Object.keys(body.relationships).length ? body.relationships : undefined,
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// The two pipelines, and stage ids that say which one they belong to

export const PIPELINES = {
  prospects: { id: 'prospects', name: 'Prospects', prefix: 'p' },
  opportunities: { id: 'opportunities', name: 'Opportunities', prefix: 'o' },
} as const;

export type PipelineKey = keyof typeof PIPELINES;
export const PIPELINE_KEYS = Object.keys(PIPELINES) as PipelineKey[];

const PIPELINE_LIST = 'prospects (prospect stages) and opportunities (opportunity stages)';

export function pipelineKey(id: string): PipelineKey {
  const key = id.trim().toLowerCase();
  if (key in PIPELINES) return key as PipelineKey;
  throw new CrmError('not_found', `No pipeline with id '${excerpt(id)}'. Outreach has two, both fixed: ${PIPELINE_LIST}.`);
}

export const pipelineRef = (key: PipelineKey): Ref => ({ id: PIPELINES[key].id, name: PIPELINES[key].name });

export function toPipeline(key: PipelineKey): Pipeline {
  return { id: PIPELINES[key].id, name: PIPELINES[key].name };
}

/** `o12` for opportunity stage 12, `p12` for prospect stage 12. */
export const stageId = (key: PipelineKey, id: number): string => `${PIPELINES[key].prefix}${id}`;

export interface StageAddress {
  pipeline: PipelineKey;
  id: number;
}

/** The collection and Outreach id of a stage id, or a sentence saying how stage ids are written. */
export function parseStageId(id: string): StageAddress {
  const m = /^([po])([1-9][0-9]{0,15})$/i.exec(id.trim());
  if (!m) {
    throw new CrmError(
      'validation',
      `'${excerpt(id)}' is not an Outreach stage id here: they are written 'p' + the id for a prospect stage (p12) and 'o' + the id for an opportunity stage (o12). Call list_stages to see them.`,
    );
  }
  return { pipeline: m[1].toLowerCase() === 'p' ? 'prospects' : 'opportunities', id: Number(m[2]) };
}

/** Outreach record ids are positive whole numbers; anything else cannot exist upstream. */
export function nativeId(id: string, what: string, listTool: string): number {
  const trimmed = id.trim();
  if (!/^[1-9][0-9]{0,15}$/.test(trimmed)) {
    throw new CrmError('validation', `'${excerpt(id)}' is not an Outreach ${what} id (they are positive whole numbers). Call ${listTool} to see valid ${what} ids.`);
  }
  return Number(trimmed);
}

// ---------------------------------------------------------------------------------------------
// Native -> unified

const withRemote = <T extends object>(record: T, native: object, include: boolean | undefined): T =>
  include ? { ...record, remote_data: { ...native } } : record;

const ts = (v: string | null | undefined): string | undefined => (v ? v : undefined);

export function toStage(s: OrStage, key: PipelineKey, opts: { remote?: boolean } = {}): Stage {
  const a = s.attributes ?? {};
  return withRemote(
    compact<Stage>({
      id: stageId(key, s.id),
      name: a.name ?? '',
      pipeline: pipelineRef(key),
      position: Number.isInteger(a.order) ? (a.order as number) : 0,
      // Outreach stages have no active/inactive state: a stage exists or is deleted.
      status: 'active',
      color: a.color ?? undefined,
      created_at: ts(a.createdAt),
      updated_at: ts(a.updatedAt),
    }),
    s,
    opts.remote,
  );
}

/**
 * A deal's status from its opportunity stage. Outreach marks a stage only open or closed
 * (`isClosed`): a closed stage whose name holds the word "won" (Outreach's and Salesforce's
 * "Closed Won") reads as won, every other closed stage as lost. No stage: open.
 */
export function dealStatus(stage: OrOpportunityStage | undefined): Deal['status'] {
  if (!stage?.attributes?.isClosed) return 'open';
  return /\bwon\b/i.test(stage.attributes.name ?? '') ? 'won' : 'lost';
}

/** The stages of a status, for list_deals' status filter. */
export function stagesWithStatus(stages: Iterable<OrOpportunityStage>, status: Deal['status']): number[] {
  return [...stages].filter((s) => dealStatus(s) === status).map((s) => s.id);
}

/** A deal whose stage Outreach does not name (or that could not be read): said plainly, not guessed. */
export const NO_STAGE: Ref = Object.freeze({ id: '', name: '(no stage)' });

/** What a deal's names are read from: the stages, users and accounts its answer included. */
export interface Included {
  stages: ReadonlyMap<number, OrOpportunityStage>;
  users: ReadonlyMap<number, string>;
  accounts: ReadonlyMap<number, string>;
}

/** Resources of a JSON:API `included` list by type, for `toDeal`. */
export function includedOf(included: readonly Resource[] | undefined, more: Partial<Included> = {}): Included {
  const stages = new Map(more.stages);
  const users = new Map(more.users);
  const accounts = new Map(more.accounts);
  for (const r of included ?? []) {
    const name = (r.attributes as { name?: unknown } | undefined)?.name;
    if (r.type === 'opportunityStage') stages.set(r.id, r as OrOpportunityStage);
    else if (r.type === 'user' && typeof name === 'string') users.set(r.id, name);
    else if (r.type === 'account' && typeof name === 'string') accounts.set(r.id, name);
  }
  return { stages, users, accounts };
}

function refOf(id: number | undefined, names: ReadonlyMap<number, string>): Ref | undefined {
  if (id === undefined) return undefined;
  const name = names.get(id);
  return name === undefined ? { id: String(id) } : { id: String(id), name };
}

/** The amount: `amountPrecise` when it is a number, else the whole `amount`. */
export function amountOf(a: NonNullable<OrOpportunity['attributes']>): number | undefined {
  const precise = a.amountPrecise == null ? Number.NaN : Number(a.amountPrecise);
  if (Number.isFinite(precise)) return precise;
  return typeof a.amount === 'number' ? a.amount : undefined;
}

/** The opportunity stage an opportunity stands in (`opportunityStage`, or the read-only `stage`). */
export const opportunityStageId = (o: OrOpportunity): number | undefined => relatedId(o, 'opportunityStage') ?? relatedId(o, 'stage');

export function toDeal(o: OrOpportunity, names: Included, opts: { remote?: boolean } = {}): Deal {
  const a = o.attributes ?? {};
  const sid = opportunityStageId(o);
  const stage = sid === undefined ? undefined : names.stages.get(sid);
  return withRemote(
    compact<Deal>({
      id: String(o.id),
      name: a.name ?? '',
      status: dealStatus(stage),
      pipeline: pipelineRef('opportunities'),
      stage:
        sid === undefined
          ? { ...NO_STAGE }
          : compact({ id: stageId('opportunities', sid), name: stage?.attributes?.name ?? undefined }),
      amount: amountOf(a),
      currency: a.currencyType ?? undefined,
      owner: refOf(relatedId(o, 'owner'), names.users),
      account: refOf(relatedId(o, 'account'), names.accounts),
      // closeDate is a date-time; the model keeps the calendar date it names.
      close_date: a.closeDate ? a.closeDate.slice(0, 10) : undefined,
      created_at: ts(a.createdAt),
      updated_at: ts(a.updatedAt),
    }),
    o,
    opts.remote,
  );
}

// ---------------------------------------------------------------------------------------------
// Unified -> native (request bodies). Only the fields the caller gave are sent.

export function fromStageInput(input: StageInput): ResourceBody {
  if (input.position !== undefined && !(Number.isInteger(input.position) && input.position >= 0)) {
    throw new CrmError('validation', `Outreach stage position (order) must be a whole number of 0 or more, not ${input.position}.`);
  }
  if (input.color !== undefined && input.color.length > 255) {
    throw new CrmError('validation', 'Outreach stage color must be at most 255 characters, e.g. "#5951ff".');
  }
  return { attributes: compact({ name: input.name, order: input.position, color: input.color }) };
}

/** A calendar date as the model keeps it; Outreach's closeDate is that day at 00:00 UTC. */
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function fromDealInput(input: DealInput): ResourceBody {
  if (input.status !== undefined) {
    throw new CrmError(
      'unsupported',
      "Outreach has no deal status to set: a deal is won or lost by moving it (stage_id) to a closed opportunity stage, such as Closed Won; list_stages with pipeline_id opportunities and include_remote_data shows which stages are closed (isClosed).",
    );
  }
  if (input.pipeline_id !== undefined && pipelineKey(input.pipeline_id) !== 'opportunities') {
    throw new CrmError('validation', "Deals are Outreach opportunities, all in pipeline 'opportunities'; pipeline 'prospects' holds prospect stages, not deals.");
  }
  let stage: StageAddress | undefined;
  if (input.stage_id !== undefined) {
    stage = parseStageId(input.stage_id);
    if (stage.pipeline !== 'opportunities') {
      throw new CrmError('validation', `Stage '${excerpt(input.stage_id)}' is a prospect stage; a deal stands in an opportunity stage ('o' ids): call list_stages with pipeline_id opportunities.`);
    }
  }
  if (input.close_date !== undefined && !DATE.test(input.close_date)) {
    throw new CrmError('validation', `close_date must be a date as YYYY-MM-DD, not '${excerpt(input.close_date)}'.`);
  }
  if (input.amount !== undefined && !(Number.isFinite(input.amount) && input.amount >= 0)) {
    throw new CrmError('validation', `amount must be a number of 0 or more, not ${input.amount}.`);
  }
  const whole = input.amount === undefined || Number.isInteger(input.amount);
  const link = (type: string, id: number | undefined) => (id === undefined ? undefined : { data: { type, id } });
  return {
    attributes: compact({
      name: input.name,
      // `amount` is an integer in Outreach; a fraction goes in amountPrecise too.
      amount: input.amount === undefined ? undefined : Math.round(input.amount),
      amountPrecise: whole ? undefined : String(input.amount),
      currencyType: input.currency?.toUpperCase(),
      closeDate: input.close_date === undefined ? undefined : `${input.close_date}T00:00:00.000Z`,
    }),
    relationships: compact<Record<string, { data: Linkage } | undefined>>({
      opportunityStage: link('opportunityStage', stage?.id),
      owner: link('user', input.owner_id === undefined ? undefined : nativeId(input.owner_id, 'user', 'list_deals (each deal names its owner)')),
      account: link('account', input.account_id === undefined ? undefined : nativeId(input.account_id, 'account', 'list_deals (each deal names its account)')),
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Errors: a JSON:API source.pointer as the argument an agent passed

const POINTER_FIELDS: Record<string, string> = {
  name: 'name',
  order: 'position',
  color: 'color',
  amount: 'amount',
  amountPrecise: 'amount',
  currencyType: 'currency',
  closeDate: 'close_date',
  opportunityStage: 'stage_id',
  stage: 'stage_id',
  owner: 'owner_id',
  account: 'account_id',
};

/** `/data/attributes/order` -> `position:`; an unknown attribute keeps its Outreach name. */
export function pointerField(pointer: string): string | undefined {
  const m = /^\/data\/(?:attributes|relationships)\/([^/]+)/.exec(pointer);
  if (!m) return undefined;
  return `${POINTER_FIELDS[m[1]] ?? m[1]}:`;
}
