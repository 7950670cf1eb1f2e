/**
 * The shape every CRM provider has. Operation groups are optional: a provider implements what its
 * CRM can do and says so in `capabilities`, which the tool layer checks before any call.
 */
import type {
  ConversionStats,
  Deal,
  MovementStats,
  Pipeline,
  Project,
  Ref,
  Stage,
} from './model.js';

export type Resource = 'pipelines' | 'stages' | 'deals' | 'projects';

/** Every field a write of each resource can carry; providers support these or a subset. */
export const WRITE_FIELDS = {
  pipelines: ['name', 'is_deal_probability_enabled'],
  stages: ['pipeline_id', 'name', 'position', 'probability', 'color', 'status'],
  deals: ['name', 'pipeline_id', 'stage_id', 'amount', 'currency', 'status', 'owner_id', 'account_id', 'close_date'],
  projects: [
    'name',
    'description',
    'status',
    'amount',
    'currency',
    'close_date',
    'owner',
    'account',
    'stage',
    'contact',
    'opportunity',
    'tags',
    'custom_fields',
    'remote_data',
  ],
} as const satisfies Record<Resource, readonly string[]>;

/** Project fields the CRM stores itself; `remote_data` only means something to a remote CRM. */
export const STORED_PROJECT_FIELDS = WRITE_FIELDS.projects.filter((f) => f !== 'remote_data');
export type ReadOp = 'list' | 'get';
export type WriteOp = 'create' | 'update' | 'delete';
export type Operation = ReadOp | WriteOp;

/** Fields a write accepts, which of them it requires, and per-field enum subsets. */
export interface FieldRules {
  supported: readonly string[];
  required?: readonly string[];
  enums?: Readonly<Record<string, readonly string[]>>;
}

export interface ResourceCapabilities {
  list?: boolean;
  get?: boolean;
  create?: FieldRules;
  update?: FieldRules;
  delete?: boolean;
  /** List filters the provider honours (others are refused, never silently ignored). */
  filters?: readonly string[];
  /**
   * Why an operation this CRM lacks is missing and what to do instead, in one sentence (e.g.
   * "Insightly's API cannot create stages; create them in Insightly's settings."): said in place
   * of the generic "does not support".
   */
  refusals?: Partial<Record<Operation, string>>;
}

export interface Capabilities {
  pipelines?: ResourceCapabilities;
  stages?: ResourceCapabilities;
  deals?: ResourceCapabilities;
  projects?: ResourceCapabilities;
  stats?: { conversion?: boolean; movement?: boolean };
  /** Lists accept a raw `remote_query` passed to the CRM untouched (Truto). */
  remote_query?: boolean;
  /**
   * 'native': the provider makes keyed creates idempotent itself (a persisted key table, or an
   * Idempotency-Key the CRM honours). Otherwise the tool layer keeps the keys.
   */
  idempotency?: 'native';
}

/** Per-call options every operation receives. */
export interface CallOptions {
  signal?: AbortSignal;
  include_remote_data?: boolean;
  /** Provider-specific raw query passthrough (Truto's remote_query). */
  remote_query?: Record<string, unknown>;
}

export interface WriteOptions extends CallOptions {
  /** create_* only: a repeat with the same key returns the first result and creates nothing. */
  idempotency_key?: string;
}

/** The exact request a write sends upstream; what a dry run shows. Never contains secrets. */
export interface UpstreamRequest {
  method: string;
  path: string;
  body?: unknown;
  /** Non-secret headers that change what the write does, e.g. Idempotency-Key. */
  headers?: Record<string, string>;
}

/**
 * A validated, mapped write that has not been sent. `execute` sends exactly `request` (then each of
 * `then`, in order) and resolves to the record as read back afterwards. Splitting the two makes dry
 * runs truthful by construction.
 */
export interface PreparedWrite<T> {
  request: UpstreamRequest;
  /**
   * Further requests of a write the CRM takes in several (fields, then the stage through its own
   * endpoint), sent in this order after `request`. A path may name an id the CRM has not given yet
   * ("/Projects/{PROJECT_ID}/Pipeline" after a create).
   */
  then?: UpstreamRequest[];
  execute(): Promise<T>;
}

export interface Page<T> {
  items: T[];
  /** The provider's own cursor for the next page, or null at the end. */
  next_cursor: string | null;
  /** Set when the provider could not read the whole listing it sorted or filtered: says so in a sentence. */
  incomplete?: string;
}

export interface PageQuery {
  limit: number;
  /** A provider-native cursor (the tool layer unwraps its opaque cursor first). */
  cursor?: string;
}

export type SortDirection = 'asc' | 'desc';

export interface StageQuery extends PageQuery {
  pipeline_id?: string;
  name?: string;
  status?: Stage['status'];
  sort_by?: 'position' | 'name' | 'created_at' | 'updated_at';
  sort_direction?: SortDirection;
}

export interface DealQuery extends PageQuery {
  pipeline_id?: string;
  stage_id?: string;
  status?: Deal['status'];
  owner_id?: string;
}

export interface ProjectQuery extends PageQuery {
  name?: string;
  status?: NonNullable<Project['status']>;
  owner_id?: string;
  account_id?: string;
  stage_id?: string;
}

export interface PipelineInput {
  name?: string;
  is_deal_probability_enabled?: boolean;
}

export interface StageInput {
  pipeline_id?: string;
  name?: string;
  position?: number;
  probability?: number;
  color?: string;
  status?: Stage['status'];
}

export interface DealInput {
  name?: string;
  pipeline_id?: string;
  stage_id?: string;
  amount?: number;
  currency?: string;
  status?: Deal['status'];
  owner_id?: string;
  account_id?: string;
  close_date?: string;
}

export interface IdRef {
  id: string;
}

export interface ProjectInput {
  name?: string;
  description?: string;
  status?: NonNullable<Project['status']>;
  amount?: number;
  currency?: string;
  close_date?: string;
  owner?: IdRef;
  account?: IdRef;
  stage?: IdRef;
  contact?: IdRef[];
  opportunity?: IdRef[];
  tags?: IdRef[];
  custom_fields?: Record<string, unknown>;
  remote_data?: Record<string, unknown>;
}

export interface StatsQuery {
  pipeline_id: string;
  start_date: string;
  end_date: string;
  user_id?: string;
}

export interface CrudOperations<T, Q, I> {
  list?(query: Q, opts: CallOptions): Promise<Page<T>>;
  get?(id: string, opts: CallOptions): Promise<T>;
  create?(input: I, opts: WriteOptions): Promise<PreparedWrite<T>>;
  update?(id: string, patch: I, opts: WriteOptions): Promise<PreparedWrite<T>>;
  /** Resolves to the deleted record's id and name. */
  delete?(id: string, opts: WriteOptions): Promise<PreparedWrite<Ref>>;
}

export interface StatsOperations {
  conversion?(query: StatsQuery, opts: CallOptions): Promise<ConversionStats>;
  movement?(query: StatsQuery, opts: CallOptions): Promise<MovementStats>;
}

export interface CrmProvider {
  /** Provider kind: 'local', 'pipedrive', 'truto', ... */
  readonly kind: string;
  /** Human name for messages, e.g. "Pipedrive". */
  readonly label: string;
  /** True when the provider talks to a CRM outside this process (openWorldHint). */
  readonly remote: boolean;
  readonly capabilities: Capabilities;
  /**
   * `get` returns the pipeline with its ordered stages and, where deals are available, the count
   * and value of open deals per stage and in total.
   */
  pipelines?: CrudOperations<Pipeline, PageQuery, PipelineInput>;
  stages?: CrudOperations<Stage, StageQuery, StageInput>;
  deals?: CrudOperations<Deal, DealQuery, DealInput>;
  projects?: CrudOperations<Project, ProjectQuery, ProjectInput>;
  stats?: StatsOperations;
  close?(): Promise<void>;
}
