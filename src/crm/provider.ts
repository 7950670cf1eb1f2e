/**
 * The shape every CRM provider has. Operation groups are optional: a provider implements what its
 * CRM can do and says so in `capabilities`, which the tool layer checks before any call.
 *
 * For provider authors, the records around a deal (accounts, contacts, users, activities, search):
 *
 * - Groups. `accounts` and `contacts`: list/get/create/update. `users`: list (get where it is one
 *   cheap request). `activities`: list/create/update, and get, which creates read back through when
 *   the tool layer keeps idempotency keys (there is no get_activity tool). `search`: one operation.
 *   Implement only what the CRM has; declare exactly that in `capabilities`; everything else is
 *   refused by the tool layer with one sentence, before anything is sent.
 * - Queries. Every filter a list receives was declared in the resource's `filters`; the others are
 *   refused before the call. `name` filters match a substring, case-insensitively; `email` filters
 *   match a whole address, case-insensitively. Lists return `Page`s; activities newest first
 *   (created_at, then id, descending), the others in a stable order of the CRM's choosing.
 * - Writes. Inputs carry the tool's argument names (WRITE_FIELDS); `capabilities.<group>.create`
 *   and `.update` say which a CRM supports and requires, and `enums.type` which activity types it
 *   has (a CRM with only notes and tasks says `type: ['note', 'task']`). The tool layer already
 *   checked that a create_activity has `type` and at least one parent (ACTIVITY_PARENTS), and that
 *   a note carries no `due_date` or `done`. Ids a write refers to (`owner_id`, `account_id`,
 *   `contact_id`) that the CRM does not know are refused with `unknownReference()` (errors.ts), the
 *   same sentence on every CRM, never with an inline directory.
 * - Search. `search(query, opts)` gets only the types listed in `capabilities.search` (the tool
 *   layer tells the agent plainly which asked-for types this CRM cannot search server-side, and
 *   never scans a whole listing instead). Use the CRM's own search (Pipedrive itemSearch, Capsule
 *   /parties/search, Insightly's search endpoints, Outreach filter[name], Truto unified search) and
 *   return up to `limit` hits per type, best first, each with the fields of SearchHit the answer
 *   already carries (no extra request per hit). The tool layer ranks (exact name, prefix, word
 *   prefix, contains, other; case-insensitive), cuts to `limit` per type and writes each detail.
 *   One request per type: `searchEach` (search.ts) runs them in parallel, cancels the others when
 *   one fails or the call is cancelled, and reports progress per type.
 * - Progress and cancellation. `opts.signal` aborts on cancellation: pass it to every request, and
 *   check it between pages (walkPages does). `opts.onProgress`, when set, takes (done, total?,
 *   message?) after each page or part of multi-request work (walkPages and searchEach call it).
 *   Nothing in src/crm knows MCP: the tool layer turns it into notifications/progress.
 */
import type {
  Account,
  Activity,
  ActivityType,
  Contact,
  ConversionStats,
  Deal,
  MovementStats,
  Pipeline,
  Project,
  Ref,
  SearchType,
  Stage,
  User,
} from './model.js';

export type Resource = 'pipelines' | 'stages' | 'deals' | 'projects' | 'accounts' | 'contacts' | 'users' | 'activities';
/** Every resource, in the order list_connections shows them. */
export const RESOURCES: readonly Resource[] = ['pipelines', 'stages', 'deals', 'projects', 'accounts', 'contacts', 'users', 'activities'];

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
  accounts: ['name', 'domain', 'industry', 'owner_id'],
  contacts: ['first_name', 'last_name', 'emails', 'phones', 'title', 'account_id', 'owner_id'],
  /** Users are read-only through crm-mcp. */
  users: [],
  activities: ['type', 'subject', 'body', 'due_date', 'done', 'owner_id', 'deal_id', 'account_id', 'contact_id', 'project_id'],
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
  accounts?: ResourceCapabilities;
  contacts?: ResourceCapabilities;
  users?: ResourceCapabilities;
  /** `create.enums.type` / `update.enums.type`: the activity types the CRM has. */
  activities?: ResourceCapabilities;
  stats?: { conversion?: boolean; movement?: boolean };
  /** The types the CRM can search server-side (absent or empty: no search). */
  search?: readonly SearchType[];
  /** Lists accept a raw `remote_query` passed to the CRM untouched (Truto). */
  remote_query?: boolean;
  /**
   * 'native': the provider makes keyed creates idempotent itself (a persisted key table, or an
   * Idempotency-Key the CRM honours). Otherwise the tool layer keeps the keys.
   */
  idempotency?: 'native';
}

/** Reports how far multi-request work is: `done` grows with each call; `total` when known. */
export type ProgressReporter = (done: number, total?: number, message?: string) => void;

/** Per-call options every operation receives. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Set when the caller wants progress (an MCP client sent a progress token). */
  onProgress?: ProgressReporter;
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
  account_id?: string;
}

export interface ProjectQuery extends PageQuery {
  name?: string;
  status?: NonNullable<Project['status']>;
  owner_id?: string;
  account_id?: string;
  stage_id?: string;
}

export interface AccountQuery extends PageQuery {
  /** Name contains, case-insensitive. */
  name?: string;
  owner_id?: string;
}

export interface ContactQuery extends PageQuery {
  /** Name contains, case-insensitive. */
  name?: string;
  /** Has this email address (whole address, case-insensitive). */
  email?: string;
  account_id?: string;
  owner_id?: string;
}

export interface UserQuery extends PageQuery {
  /** Name contains, case-insensitive. */
  name?: string;
  /** Whole address, case-insensitive. */
  email?: string;
}

/** Activities are listed newest first (created_at, then id, descending). */
export interface ActivityQuery extends PageQuery {
  deal_id?: string;
  account_id?: string;
  contact_id?: string;
  project_id?: string;
  type?: ActivityType;
  done?: boolean;
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

export interface AccountInput {
  name?: string;
  domain?: string;
  industry?: string;
  owner_id?: string;
}

/** `emails` and `phones` replace the whole list on update. */
export interface ContactInput {
  first_name?: string;
  last_name?: string;
  emails?: string[];
  phones?: string[];
  title?: string;
  account_id?: string;
  owner_id?: string;
}

/** `done: true` completes a task. Parents can be added or changed, never all removed. */
export interface ActivityInput {
  type?: ActivityType;
  subject?: string;
  body?: string;
  due_date?: string;
  done?: boolean;
  owner_id?: string;
  deal_id?: string;
  account_id?: string;
  contact_id?: string;
  project_id?: string;
}

/** What `search` asks a provider: only types from its capabilities.search. */
export interface SearchQuery {
  /** At least 2 characters, trimmed. */
  query: string;
  types: readonly SearchType[];
  /** Hits wanted per type; a provider may return more (the tool layer cuts) or fewer. */
  limit: number;
}

/**
 * One hit as the CRM's search answers it. Besides type, id and name, give what the answer already
 * carries of: a deal's stage, owner and status; a contact's account and first email; a project's
 * status and account; a stage's pipeline; a user's email; an account's domain. The tool layer
 * writes the short detail from these, the same way for every CRM.
 */
export interface SearchHit {
  type: SearchType;
  id: string;
  name: string;
  status?: string;
  stage?: Ref;
  pipeline?: Ref;
  owner?: Ref;
  account?: Ref;
  email?: string;
  domain?: string;
}

export interface SearchAnswer {
  hits: SearchHit[];
  /** Types the CRM turned out unable to search at run time (e.g. an integration without it). */
  unsupported?: SearchType[];
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
  accounts?: CrudOperations<Account, AccountQuery, AccountInput>;
  contacts?: CrudOperations<Contact, ContactQuery, ContactInput>;
  /** list, and get where cheap; never writes. */
  users?: CrudOperations<User, UserQuery, never>;
  /** list, create, update; get for the read-back after a create. */
  activities?: CrudOperations<Activity, ActivityQuery, ActivityInput>;
  stats?: StatsOperations;
  /** Names to ids across the types of capabilities.search, with the CRM's own search. */
  search?(query: SearchQuery, opts: CallOptions): Promise<SearchAnswer>;
  close?(): Promise<void>;
}
