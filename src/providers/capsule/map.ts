/**
 * Capsule <-> unified model, both ways. Pure functions: no I/O, so they are unit-tested alone.
 * Native shapes follow Capsule's API v2 docs (developer.capsulecrm.com/v2: models Opportunity,
 * Project, Pipeline, Milestone, Board, Stage; the Filter reference); only the fields read are
 * typed, the rest rides along in remote_data.
 *
 * Ids: Capsule's own numbers for its sales side (pipeline "12", milestone "5", opportunity "81",
 * project "812"); its project boards and their stages carry a prefix, "board-34" and "stage-149",
 * because a board is listed as a pipeline and a board stage as a stage beside the milestones, and
 * Capsule numbers milestones and board stages independently: one id must never mean both.
 */
import { CrmError, excerpt } from '../../crm/errors.js';
import type { Account, Activity, ActivityType, Contact, Deal, Pipeline, Project, Ref, Stage, User } from '../../crm/model.js';
import type {
  AccountInput,
  AccountQuery,
  ActivityInput,
  ActivityQuery,
  ContactInput,
  ContactQuery,
  DealInput,
  DealQuery,
  IdRef,
  ProjectInput,
  ProjectQuery,
  SearchHit,
} from '../../crm/provider.js';
import { compact } from '../../crm/records.js';

// ---------------------------------------------------------------------------------------------
// Native shapes (only the fields we read)

export interface CapsuleRef {
  id: number;
  name?: string | null;
}

export interface CapsuleUser {
  id: number;
  username?: string;
  name?: string | null;
}

/** A party as nested in records: organisations have a name, people a first and last name. */
export interface CapsuleParty {
  id: number;
  type?: 'person' | 'organisation';
  name?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  pictureURL?: string;
}

export interface CapsulePipeline {
  id: number;
  name: string;
  description?: string | null;
  [key: string]: unknown;
}

export interface CapsuleMilestone {
  id: number;
  name: string;
  description?: string | null;
  /** A closing milestone: Won (probability 100) or Lost (probability 0). */
  complete: boolean;
  probability?: number | null;
  daysUntilStale?: number | null;
  /** Present on milestones listed by pipeline. */
  pipeline?: CapsuleRef | null;
  createdAt?: string | null;
  updatedAt?: string | null;
  [key: string]: unknown;
}

export interface CapsuleBoard {
  id: number;
  name: string;
  description?: string | null;
  [key: string]: unknown;
}

/** A stage of a project board (what Capsule calls a Stage; milestones are the sales side). */
export interface CapsuleStage {
  id: number;
  name: string;
  description?: string | null;
  board: CapsuleRef;
  displayOrder: number;
  createdAt?: string | null;
  updatedAt?: string | null;
  [key: string]: unknown;
}

export interface CapsuleOpportunity {
  id: number;
  name: string;
  description?: string | null;
  party: CapsuleParty;
  owner?: CapsuleUser | null;
  milestone: CapsuleRef;
  lostReason?: CapsuleRef | null;
  value?: { amount?: number | null; currency?: string | null } | null;
  expectedCloseOn?: string | null;
  probability?: number | null;
  closedOn?: string | null;
  lastStageChangedAt?: string | null;
  lastOpenMilestone?: CapsuleRef | null;
  createdAt?: string | null;
  updatedAt?: string | null;
  [key: string]: unknown;
}

export interface CapsuleFieldValue {
  id: number;
  definition: { id: number; name?: string | null };
  value: unknown;
}

export interface CapsuleKase {
  id: number;
  name: string;
  description?: string | null;
  party: CapsuleParty;
  owner?: CapsuleUser | null;
  status: 'OPEN' | 'CLOSED';
  opportunity?: CapsuleRef | null;
  stage?: CapsuleRef | null;
  expectedCloseOn?: string | null;
  closedOn?: string | null;
  lastContactedAt?: string | null;
  createdAt?: string | null;
  updatedAt?: string | null;
  /** Only with embed=tags. */
  tags?: Array<{ id: number; name: string }>;
  /** Only with embed=fields. */
  fields?: CapsuleFieldValue[];
  [key: string]: unknown;
}

/** An email address, phone number or website of a party, as Capsule lists them (each with its own id). */
export interface CapsuleEmail {
  id: number;
  type?: string | null;
  address: string;
}

export interface CapsulePhone {
  id: number;
  type?: string | null;
  number: string;
}

export interface CapsuleWebsite {
  id: number;
  type?: string | null;
  /** URL for a web address; social networks have their own (TWITTER, LINKED_IN, ...). */
  service?: string | null;
  address: string;
  url?: string | null;
}

/** A party read on its own (Party model): a person or an organisation with its contact points. */
export interface CapsulePartyRecord extends CapsuleParty {
  type: 'person' | 'organisation';
  jobTitle?: string | null;
  /** A person's organisation. */
  organisation?: CapsuleParty | null;
  owner?: CapsuleUser | null;
  emailAddresses?: CapsuleEmail[];
  phoneNumbers?: CapsulePhone[];
  websites?: CapsuleWebsite[];
  createdAt?: string | null;
  updatedAt?: string | null;
  [key: string]: unknown;
}

/** A user of the account (User model); its own party, with embed=party, carries its email addresses. */
export interface CapsuleUserRecord {
  id: number;
  username?: string;
  name?: string | null;
  /** ACTIVE for a user who can sign in. */
  status?: string | null;
  party?: CapsulePartyRecord | null;
  [key: string]: unknown;
}

/** A note, a recorded email, or the record of a completed task (Entry model): on one party, opportunity or project. */
export interface CapsuleEntry {
  id: number;
  type: string;
  /** An email's subject line (notes have none). */
  subject?: string | null;
  content?: string | null;
  entryAt?: string | null;
  createdAt?: string | null;
  updatedAt?: string | null;
  creator?: CapsuleUser | null;
  activityType?: CapsuleRef | null;
  party?: CapsuleParty | null;
  opportunity?: CapsuleRef | null;
  kase?: CapsuleRef | null;
  [key: string]: unknown;
}

/** A task (Task model): a description, a due date, a status, and at most one of party, opportunity, kase. */
export interface CapsuleTask {
  id: number;
  description: string;
  detail?: string | null;
  dueOn?: string | null;
  dueTime?: string | null;
  /** PENDING: not done, but no longer relevant (e.g. on a closed opportunity). */
  status: 'OPEN' | 'COMPLETED' | 'PENDING';
  party?: CapsuleParty | null;
  opportunity?: CapsuleRef | null;
  kase?: CapsuleRef | null;
  owner?: CapsuleUser | null;
  completedAt?: string | null;
  createdAt?: string | null;
  updatedAt?: string | null;
  [key: string]: unknown;
}

/** A milestone with what a listing by pipeline tells: its pipeline and its place in it. */
export interface MilestoneEntry extends CapsuleMilestone {
  pipeline: { id: number; name?: string | null };
  /** 1-based, in the order Capsule lists the pipeline's milestones. */
  position: number;
}

/** One condition of Capsule's structured filters (POST /{entity}/filters/results). */
export interface FilterCondition {
  field: string;
  operator: string;
  value: string | number | boolean;
}

// ---------------------------------------------------------------------------------------------
// Ids

const BOARD = 'board-';
const BOARD_STAGE = 'stage-';

export const boardPipelineId = (id: number): string => `${BOARD}${id}`;
export const boardStageId = (id: number): string => `${BOARD_STAGE}${id}`;

const positive = (s: string): number | undefined => (/^[1-9][0-9]{0,15}$/.test(s) ? Number(s) : undefined);

/** Capsule ids are positive whole numbers; anything else cannot exist there. */
export function nativeId(id: string, what: string, listTool: string): number {
  const n = positive(id.trim());
  if (n === undefined) {
    throw new CrmError('validation', `'${excerpt(id)}' is not a Capsule ${what} id (they are positive whole numbers). Call ${listTool} to see valid ids.`);
  }
  return n;
}

export type PipelineKey = { kind: 'pipeline'; id: number } | { kind: 'board'; id: number };
export type StageKey = { kind: 'milestone'; id: number } | { kind: 'boardStage'; id: number };

/** "12" is a sales pipeline, "board-34" a project board. */
export function parsePipelineId(id: string): PipelineKey {
  const t = id.trim();
  const board = t.startsWith(BOARD) ? positive(t.slice(BOARD.length)) : undefined;
  if (board !== undefined) return { kind: 'board', id: board };
  const n = positive(t);
  if (n !== undefined) return { kind: 'pipeline', id: n };
  throw new CrmError(
    'validation',
    `'${excerpt(id)}' is not a Capsule pipeline id: sales pipelines are numbers like 12, project boards look like board-34. Call list_pipelines to see them.`,
  );
}

/** "5" is a milestone of a sales pipeline, "stage-149" a stage of a project board. */
export function parseStageId(id: string): StageKey {
  const t = id.trim();
  const stage = t.startsWith(BOARD_STAGE) ? positive(t.slice(BOARD_STAGE.length)) : undefined;
  if (stage !== undefined) return { kind: 'boardStage', id: stage };
  const n = positive(t);
  if (n !== undefined) return { kind: 'milestone', id: n };
  throw new CrmError(
    'validation',
    `'${excerpt(id)}' is not a Capsule stage id: milestones of sales pipelines are numbers like 5, stages of project boards look like stage-149. Call list_stages to see them.`,
  );
}

/** A deal stands in a milestone of a sales pipeline, never in a project board's stage. */
export function milestoneId(id: string): number {
  const key = parseStageId(id);
  if (key.kind === 'boardStage') {
    throw new CrmError(
      'validation',
      `Stage '${excerpt(id)}' is a stage of a Capsule project board; a deal stands in a milestone of a sales pipeline (ids without a prefix). Call get_pipeline on a sales pipeline to see its milestones.`,
    );
  }
  return key.id;
}

/** A project stands in a stage of a project board, never in a sales milestone. */
export function projectStageId(id: string): number {
  const key = parseStageId(id);
  if (key.kind === 'milestone') {
    throw new CrmError(
      'validation',
      `Stage '${excerpt(id)}' is a milestone of a Capsule sales pipeline; a project stands in a stage of a project board (ids like stage-149). Call list_stages with the pipeline_id of a board (board-<id>, from list_pipelines).`,
    );
  }
  return key.id;
}

// ---------------------------------------------------------------------------------------------
// Native -> unified

const withRemote = <T extends object>(record: T, native: object, include: boolean | undefined): T =>
  include ? { ...record, remote_data: { ...native } } : record;

const ts = (v: string | null | undefined): string | undefined => (v ? v : undefined);

const ref = (id: number | string, name: string | null | undefined): Ref => (name ? { id: String(id), name } : { id: String(id) });

export const partyName = (p: CapsuleParty): string | undefined =>
  p.name || [p.firstName, p.lastName].filter(Boolean).join(' ') || undefined;

const userRef = (u: CapsuleUser | null | undefined): Ref | undefined => (u ? ref(u.id, u.name ?? u.username) : undefined);
const partyRef = (p: CapsuleParty | null | undefined): Ref | undefined => (p ? ref(p.id, partyName(p)) : undefined);

export interface MapOptions {
  remote?: boolean;
}

export function toPipeline(p: CapsulePipeline, opts: MapOptions = {}): Pipeline {
  return withRemote(compact<Pipeline>({ id: String(p.id), name: p.name }), p, opts.remote);
}

export function toBoardPipeline(b: CapsuleBoard, opts: MapOptions = {}): Pipeline {
  return withRemote(compact<Pipeline>({ id: boardPipelineId(b.id), name: b.name }), b, opts.remote);
}

export function toMilestoneStage(m: MilestoneEntry, opts: MapOptions = {}): Stage {
  return withRemote(
    compact<Stage>({
      id: String(m.id),
      name: m.name,
      pipeline: ref(m.pipeline.id, m.pipeline.name),
      position: m.position,
      status: 'active',
      probability: m.probability ?? undefined,
      created_at: ts(m.createdAt),
      updated_at: ts(m.updatedAt),
    }),
    m,
    opts.remote,
  );
}

export function toBoardStage(s: CapsuleStage, opts: MapOptions = {}): Stage {
  return withRemote(
    compact<Stage>({
      id: boardStageId(s.id),
      name: s.name,
      pipeline: ref(boardPipelineId(s.board.id), s.board.name),
      position: s.displayOrder,
      // Capsule lists only active board stages unless asked for archived ones, which crm-mcp never does.
      status: 'active',
      created_at: ts(s.createdAt),
      updated_at: ts(s.updatedAt),
    }),
    s,
    opts.remote,
  );
}

/**
 * What a milestone means for a deal standing in it: an open one keeps it open; a closing one
 * (`complete`) wins it at probability 100 and loses it otherwise (Capsule's Won and Lost).
 */
export function milestoneStatus(m: Pick<CapsuleMilestone, 'complete' | 'probability'>): Deal['status'] {
  if (!m.complete) return 'open';
  return m.probability === 100 ? 'won' : 'lost';
}

/**
 * A deal's status from its own record: open until Capsule sets `closedOn` (a closing milestone
 * does), then won at probability 100 (Capsule snaps it to the Won milestone's 100) and lost
 * otherwise. The same rule as the filters in dealConditions.
 */
export function dealStatus(o: Pick<CapsuleOpportunity, 'closedOn' | 'probability'>): Deal['status'] {
  if (!o.closedOn) return 'open';
  return o.probability === 100 ? 'won' : 'lost';
}

/** An unknown pipeline (a milestone no listing shows): an empty id says so instead of guessing. */
const UNKNOWN_PIPELINE: Ref = { id: '' };

export function toDeal(o: CapsuleOpportunity, pipeline: Ref | undefined, opts: MapOptions = {}): Deal {
  return withRemote(
    compact<Deal>({
      id: String(o.id),
      name: o.name,
      status: dealStatus(o),
      pipeline: pipeline ?? { ...UNKNOWN_PIPELINE },
      stage: ref(o.milestone.id, o.milestone.name),
      amount: o.value?.amount ?? undefined,
      currency: o.value?.currency ?? undefined,
      owner: userRef(o.owner),
      account: partyRef(o.party),
      close_date: o.expectedCloseOn ?? undefined,
      stage_changed_at: ts(o.lastStageChangedAt),
      created_at: ts(o.createdAt),
      updated_at: ts(o.updatedAt),
    }),
    o,
    opts.remote,
  );
}

export function projectStatus(s: CapsuleKase['status']): NonNullable<Project['status']> {
  return s === 'CLOSED' ? 'closed' : 'open';
}

export function toProject(k: CapsuleKase, opts: MapOptions = {}): Project {
  const fields = k.fields?.length
    ? Object.fromEntries(k.fields.map((f) => [f.definition.name || String(f.definition.id), f.value]))
    : undefined;
  return withRemote(
    compact<Project>({
      id: String(k.id),
      name: k.name,
      description: k.description ?? undefined,
      status: projectStatus(k.status),
      close_date: k.expectedCloseOn ?? undefined,
      owner: userRef(k.owner),
      account: partyRef(k.party),
      opportunity: k.opportunity ? [ref(k.opportunity.id, k.opportunity.name)] : undefined,
      stage: k.stage ? ref(boardStageId(k.stage.id), k.stage.name) : undefined,
      tags: k.tags?.map((t) => ref(t.id, t.name)),
      custom_fields: fields,
      last_activity_at: ts(k.lastContactedAt),
      created_at: ts(k.createdAt),
      updated_at: ts(k.updatedAt),
    }),
    k,
    opts.remote,
  );
}

// ---------------------------------------------------------------------------------------------
// Unified -> native (request bodies). Only the fields the caller gave are sent.

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function date(v: string | undefined, field = 'close_date'): string | undefined {
  if (v !== undefined && !DATE.test(v)) throw new CrmError('validation', `${field} must be a date as YYYY-MM-DD, not '${excerpt(v)}'.`);
  return v;
}

const idOf = (r: IdRef | undefined, what: string, listTool: string) => (r === undefined ? undefined : { id: nativeId(r.id, what, listTool) });

/** Capsule's value: an amount always with its currency (Capsule refuses an amount alone). */
function value(amount: number | undefined, currency: string | undefined): { amount: number; currency: string } | undefined {
  if (amount === undefined && currency === undefined) return undefined;
  if (amount === undefined || currency === undefined) {
    throw new CrmError(
      'validation',
      'Capsule keeps a deal value as an amount with its currency: pass amount and currency together (e.g. amount 5000, currency GBP).',
    );
  }
  if (!/^[A-Za-z]{3}$/.test(currency)) throw new CrmError('validation', `currency must be a 3-letter code such as GBP or EUR, not '${excerpt(currency)}'.`);
  return { amount, currency: currency.toUpperCase() };
}

export interface OpportunityBody {
  name?: string;
  party?: { id: number };
  milestone?: { id: number };
  owner?: { id: number };
  value?: { amount: number; currency: string };
  expectedCloseOn?: string;
}

/**
 * An opportunity write body. The pipeline is never sent: Capsule places a deal by its milestone
 * alone. `status` is turned into a milestone by the deal operations (they need the pipeline's
 * milestones), so it is not read here.
 */
export function fromDealInput(input: DealInput): OpportunityBody {
  return compact<OpportunityBody>({
    name: input.name,
    party: input.account_id === undefined ? undefined : { id: nativeId(input.account_id, 'party (account)', 'search (types: accounts)') },
    milestone: input.stage_id === undefined ? undefined : { id: milestoneId(input.stage_id) },
    owner: input.owner_id === undefined ? undefined : { id: nativeId(input.owner_id, 'user', 'list_users') },
    value: value(input.amount, input.currency),
    expectedCloseOn: date(input.close_date),
  });
}

export interface KaseBody {
  name?: string;
  description?: string;
  party?: { id: number };
  owner?: { id: number };
  status?: CapsuleKase['status'];
  stage?: number;
  opportunity?: { id: number } | null;
  expectedCloseOn?: string;
  tags?: Array<{ id: number; _delete?: true }>;
}

const STATUS: Record<string, CapsuleKase['status']> = { open: 'OPEN', closed: 'CLOSED' };

/**
 * A project write body. Tags replace the list on update, as the tool promises: Capsule adds a
 * tag given without `_delete` and removes one given with it, so an update also names the tags to
 * drop (`currentTags`, read first).
 */
export function fromProjectInput(input: ProjectInput, currentTags?: readonly number[]): KaseBody {
  const refused = (['amount', 'currency', 'contact', 'custom_fields', 'remote_data'] as const).filter((k) => input[k] !== undefined);
  if (refused.length) {
    throw new CrmError('unsupported', `Capsule does not support ${refused.map((f) => `\`${f}\``).join(', ')} when writing a project.`);
  }
  if (input.status !== undefined && !(input.status in STATUS)) {
    throw new CrmError('validation', `Capsule does not accept status '${excerpt(input.status)}' for a project; allowed: open, closed.`);
  }
  if (input.opportunity && input.opportunity.length > 1) {
    throw new CrmError('validation', `A Capsule project links one opportunity at most; \`opportunity\` has ${input.opportunity.length}.`);
  }
  const opportunity = input.opportunity === undefined ? undefined : input.opportunity.length ? idOf(input.opportunity[0], 'opportunity', 'list_deals') : null;
  let tags: KaseBody['tags'];
  if (input.tags !== undefined) {
    const wanted = [...new Set(input.tags.map((t) => nativeId(t.id, 'tag', 'get_project (detailed answers list its tags)')))];
    const dropped = (currentTags ?? []).filter((t) => !wanted.includes(t));
    tags = [...wanted.filter((t) => !currentTags?.includes(t)).map((id) => ({ id })), ...dropped.map((id) => ({ id, _delete: true as const }))];
  }
  return compact<KaseBody>({
    name: input.name,
    description: input.description,
    party: idOf(input.account, 'party (account)', 'search (types: accounts)'),
    owner: idOf(input.owner, 'user', 'list_users'),
    status: input.status === undefined ? undefined : STATUS[input.status],
    stage: input.stage === undefined ? undefined : projectStageId(input.stage.id),
    opportunity,
    expectedCloseOn: date(input.close_date),
    tags,
  });
}

// ---------------------------------------------------------------------------------------------
// Filters (POST /{entity}/filters/results, Capsule's Filter reference)

const is = (field: string, v: string | number | boolean): FilterCondition => ({ field, operator: 'is', value: v });

/**
 * A deal query as Capsule filter conditions. Status follows dealStatus: open is `isOpen`, won a
 * closed deal at probability 100, lost any other closed deal. A stage filters by its pipeline and
 * milestone name (the reference types `milestone` as a string).
 */
export function dealConditions(q: Pick<DealQuery, 'pipeline_id' | 'status' | 'owner_id'>, milestone?: MilestoneEntry): FilterCondition[] {
  const out: FilterCondition[] = [];
  const pipeline = milestone?.pipeline.id ?? (q.pipeline_id === undefined ? undefined : salesPipelineId(q.pipeline_id));
  if (pipeline !== undefined) out.push(is('pipeline', pipeline));
  if (milestone) out.push(is('milestone', milestone.name));
  if (q.owner_id !== undefined) out.push(is('owner', nativeId(q.owner_id, 'user', 'list_users')));
  if (q.status === 'open') out.push(is('isOpen', true));
  if (q.status === 'won') out.push(is('isOpen', false), is('probability', 100));
  if (q.status === 'lost') out.push(is('isOpen', false), { field: 'probability', operator: 'is not', value: 100 });
  return out;
}

/**
 * The same query as a check of one opportunity, for a listing Capsule cannot filter (an account's
 * opportunities); `pipelineOf` gives a milestone's pipeline. Ids are checked before any request.
 */
export function dealMatches(
  q: Pick<DealQuery, 'pipeline_id' | 'status' | 'owner_id'>,
): (o: CapsuleOpportunity, pipelineOf: (milestoneId: number) => number | undefined) => boolean {
  const pipeline = q.pipeline_id === undefined ? undefined : salesPipelineId(q.pipeline_id);
  const owner = q.owner_id === undefined ? undefined : nativeId(q.owner_id, 'user', 'list_users');
  return (o, pipelineOf) =>
    (pipeline === undefined || pipelineOf(o.milestone.id) === pipeline) &&
    (owner === undefined || o.owner?.id === owner) &&
    (q.status === undefined || dealStatus(o) === q.status);
}

/** A deal lives in a sales pipeline; a board's id is refused with the reason. */
export function salesPipelineId(id: string): number {
  const key = parsePipelineId(id);
  if (key.kind === 'board') {
    throw new CrmError('validation', `Pipeline '${excerpt(id)}' is a Capsule project board: it holds projects, not deals. Use list_projects with a stage_id of that board.`);
  }
  return key.id;
}

/** A project query as Capsule filter conditions (name contains, status, owner, board stage). */
export function projectConditions(q: Pick<ProjectQuery, 'name' | 'status' | 'owner_id' | 'stage_id'>): FilterCondition[] {
  const out: FilterCondition[] = [];
  if (q.name !== undefined) out.push({ field: 'name', operator: 'contains', value: q.name });
  if (q.status !== undefined) {
    if (!(q.status in STATUS)) throw new CrmError('validation', `Capsule projects are open or closed, not '${excerpt(q.status)}'.`);
    out.push(is('status', STATUS[q.status]));
  }
  if (q.owner_id !== undefined) out.push(is('owner', nativeId(q.owner_id, 'user', 'list_users')));
  if (q.stage_id !== undefined) out.push(is('stage', projectStageId(q.stage_id)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parties as accounts (organisations) and contacts (people); users

/** The domain of a party's first web address: no scheme, no path. */
export function domainOf(websites: readonly CapsuleWebsite[] | undefined): string | undefined {
  const site = websites?.find((w) => !w.service || w.service === 'URL');
  const host = site?.address.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/[/?#].*$/, '');
  return host || undefined;
}

export function toAccount(p: CapsulePartyRecord, opts: MapOptions = {}): Account {
  return withRemote(
    compact<Account>({
      id: String(p.id),
      name: partyName(p) ?? '',
      domain: domainOf(p.websites),
      owner: userRef(p.owner),
      created_at: ts(p.createdAt),
      updated_at: ts(p.updatedAt),
    }),
    p,
    opts.remote,
  );
}

export function toContact(p: CapsulePartyRecord, opts: MapOptions = {}): Contact {
  return withRemote(
    compact<Contact>({
      id: String(p.id),
      name: partyName(p) ?? '',
      first_name: p.firstName ?? undefined,
      last_name: p.lastName ?? undefined,
      emails: (p.emailAddresses ?? []).map((e) => e.address),
      phones: (p.phoneNumbers ?? []).map((n) => n.number),
      title: p.jobTitle ?? undefined,
      account: partyRef(p.organisation),
      owner: userRef(p.owner),
      created_at: ts(p.createdAt),
      updated_at: ts(p.updatedAt),
    }),
    p,
    opts.remote,
  );
}

export function toUser(u: CapsuleUserRecord, opts: MapOptions = {}): User {
  return withRemote(
    compact<User>({
      id: String(u.id),
      name: u.name || u.username || String(u.id),
      email: u.party?.emailAddresses?.[0]?.address,
      active: u.status ? u.status === 'ACTIVE' : undefined,
    }),
    u,
    opts.remote,
  );
}

/** A party write body (`{party: ...}`): only what the caller gave. */
export interface PartyBody {
  type?: CapsulePartyRecord['type'];
  name?: string;
  firstName?: string;
  lastName?: string;
  jobTitle?: string;
  organisation?: { id: number };
  owner?: { id: number };
  emailAddresses?: Array<{ id?: number; address?: string; _delete?: true }>;
  phoneNumbers?: Array<{ id?: number; number?: string; _delete?: true }>;
  websites?: Array<{ id?: number; service?: 'URL'; address: string }>;
}

const userId = (id: string | undefined) => (id === undefined ? undefined : { id: nativeId(id, 'user', 'list_users') });

/**
 * An organisation's write body. Its domain is its first web address: an update rewrites that
 * address in place (by its id, read first as `current`) instead of adding a second one.
 */
export function fromAccountInput(input: AccountInput, current?: CapsulePartyRecord): PartyBody {
  if (input.industry !== undefined) {
    throw new CrmError('unsupported', 'Capsule does not support `industry` when writing an account: an organisation has no such field (only custom fields).');
  }
  let websites: PartyBody['websites'];
  if (input.domain !== undefined) {
    const domain = input.domain.trim();
    if (!domain) throw new CrmError('validation', '`domain` must not be empty (e.g. acme.example).');
    const site = current?.websites?.find((w) => !w.service || w.service === 'URL');
    websites = [site ? { id: site.id, address: domain } : { service: 'URL', address: domain }];
  }
  return compact<PartyBody>({
    type: current ? undefined : 'organisation',
    name: input.name,
    owner: userId(input.owner_id),
    websites,
  });
}

/**
 * A list given whole (emails, phones) as Capsule's nested-collection changes against the current
 * one: addresses kept as they are, the others deleted (`_delete`), the new ones added.
 */
function replaceList<K extends 'address' | 'number'>(
  wanted: readonly string[] | undefined,
  current: ReadonlyArray<{ id: number } & Record<K, string>> | undefined,
  key: K,
): Array<{ id?: number; _delete?: true; address?: string; number?: string }> | undefined {
  if (wanted === undefined) return undefined;
  const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();
  const now = current ?? [];
  const added = wanted.filter((w, i) => !now.some((c) => same(c[key], w)) && wanted.findIndex((x) => same(x, w)) === i);
  const dropped = now.filter((c) => !wanted.some((w) => same(c[key], w)));
  return [
    ...dropped.map((c) => ({ id: c.id, _delete: true as const })),
    ...added.map((w) => ({ [key]: w.trim() })),
  ];
}

/** A person's write body; emails and phones replace the lists of `current` (the person read first on update). */
export function fromContactInput(input: ContactInput, current?: CapsulePartyRecord): PartyBody {
  return compact<PartyBody>({
    type: current ? undefined : 'person',
    firstName: input.first_name,
    lastName: input.last_name,
    jobTitle: input.title,
    organisation: input.account_id === undefined ? undefined : { id: nativeId(input.account_id, 'party (account)', 'search (types: accounts)') },
    owner: userId(input.owner_id),
    emailAddresses: replaceList(input.emails, current?.emailAddresses, 'address'),
    phoneNumbers: replaceList(input.phones, current?.phoneNumbers, 'number'),
  });
}

/** Accounts and contacts as Capsule filter conditions on parties: the kind, then name, email, owner. */
export function partyConditions(
  type: CapsulePartyRecord['type'],
  q: Pick<AccountQuery, 'name' | 'owner_id'> & Pick<ContactQuery, 'email'>,
): FilterCondition[] {
  const out: FilterCondition[] = [is('type', type)];
  if (q.name !== undefined) out.push({ field: 'name', operator: 'contains', value: q.name });
  if (q.email !== undefined) out.push(is('email', q.email.trim()));
  if (q.owner_id !== undefined) out.push(is('owner', nativeId(q.owner_id, 'user', 'list_users')));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Activities: entries (notes, emails) and tasks. Capsule numbers the two apart, so their ids
// carry a prefix: "entry-12", "task-493".

const ENTRY = 'entry-';
const TASK = 'task-';

export type ActivityKey = { kind: 'entry'; id: number } | { kind: 'task'; id: number };

export const entryActivityId = (id: number): string => `${ENTRY}${id}`;
export const taskActivityId = (id: number): string => `${TASK}${id}`;

export function parseActivityId(id: string): ActivityKey {
  const t = id.trim();
  const entry = t.startsWith(ENTRY) ? positive(t.slice(ENTRY.length)) : undefined;
  if (entry !== undefined) return { kind: 'entry', id: entry };
  const task = t.startsWith(TASK) ? positive(t.slice(TASK.length)) : undefined;
  if (task !== undefined) return { kind: 'task', id: task };
  throw new CrmError(
    'validation',
    `'${excerpt(id)}' is not a Capsule activity id: notes and emails look like entry-12, tasks like task-493. Call list_activities to see them.`,
  );
}

/** The activity type of an entry; none for a completed task's entry, which repeats the task itself. */
export function entryType(e: Pick<CapsuleEntry, 'type'>): ActivityType | undefined {
  if (e.type === 'note') return 'note';
  if (e.type === 'email') return 'email';
  return undefined;
}

/** The party an activity hangs on, as the account (an organisation) or the contact (a person). */
function partyParent(p: CapsuleParty | null | undefined): Pick<Activity, 'account' | 'contact'> {
  if (!p) return {};
  return p.type === 'person' ? { contact: partyRef(p) } : { account: partyRef(p) };
}

const recordRef = (r: CapsuleRef | null | undefined): Ref | undefined => (r ? ref(r.id, r.name) : undefined);

export function entryToActivity(e: CapsuleEntry, opts: MapOptions = {}): Activity {
  const type = entryType(e) ?? 'note';
  return withRemote(
    compact<Activity>({
      id: entryActivityId(e.id),
      type,
      subject: type === 'email' ? (e.subject ?? undefined) : undefined,
      body: e.content ?? undefined,
      // A note's author: Capsule has no other owner for an entry.
      owner: userRef(e.creator),
      deal: recordRef(e.opportunity),
      project: recordRef(e.kase),
      ...partyParent(e.party),
      created_at: ts(e.createdAt),
      updated_at: ts(e.updatedAt),
    }),
    e,
    opts.remote,
  );
}

export function taskToActivity(t: CapsuleTask, opts: MapOptions = {}): Activity {
  return withRemote(
    compact<Activity>({
      id: taskActivityId(t.id),
      type: 'task',
      subject: t.description,
      body: t.detail ?? undefined,
      due_date: t.dueOn ?? undefined,
      done: t.status === 'COMPLETED',
      owner: userRef(t.owner),
      deal: recordRef(t.opportunity),
      project: recordRef(t.kase),
      ...partyParent(t.party),
      created_at: ts(t.createdAt),
      updated_at: ts(t.updatedAt),
    }),
    t,
    opts.remote,
  );
}

type ParentField = 'deal_id' | 'account_id' | 'contact_id' | 'project_id';

/** A record an activity hangs on, as Capsule names it: a party, an opportunity or a kase. */
export interface ActivityParent {
  field: ParentField;
  key: 'party' | 'opportunity' | 'kase';
  id: number;
  /** The id as the caller gave it. */
  given: string;
}

const PARENTS: Record<ParentField, { key: ActivityParent['key']; what: string; find: string }> = {
  deal_id: { key: 'opportunity', what: 'deal', find: 'list_deals' },
  account_id: { key: 'party', what: 'party (account)', find: 'search (types: accounts)' },
  contact_id: { key: 'party', what: 'party (contact)', find: 'search (types: contacts)' },
  project_id: { key: 'kase', what: 'project', find: 'list_projects' },
};

/**
 * The one record an activity names. Capsule files an entry or a task on exactly one party,
 * opportunity or project (Entry and Task models: "only one of party, opportunity or kase"), so two
 * are refused rather than one of them dropped.
 */
export function activityParent(input: Partial<Record<ParentField, string>>, doing: 'create' | 'list'): ActivityParent | undefined {
  const given = (Object.keys(PARENTS) as ParentField[]).filter((f) => input[f] !== undefined);
  if (given.length > 1) {
    const named = given.join(' and ');
    throw new CrmError(
      'validation',
      doing === 'create'
        ? `Capsule files a note or task on one record only (a party, an opportunity or a project): give one of deal_id, account_id, contact_id, project_id, not ${named}.`
        : `Capsule files each note and task on one record only: filter by one of deal_id, account_id, contact_id, project_id, not ${named}.`,
    );
  }
  if (!given.length) return undefined;
  const field = given[0];
  const { key, what, find } = PARENTS[field];
  return { field, key, id: nativeId(input[field]!, what, find), given: input[field]! };
}

/** A note's text: Capsule's notes have one (`content`); a subject becomes its first line. */
export function noteContent(subject: string | undefined, body: string | undefined): string | undefined {
  if (subject === undefined) return body;
  return body === undefined ? subject : `${subject}\n\n${body}`;
}

/** An entry write body (`{entry: ...}`). */
export interface EntryBody {
  type?: 'note';
  content?: string;
  subject?: string;
  party?: { id: number };
  opportunity?: { id: number };
  kase?: { id: number };
}

const NOTE_AUTHOR = "Capsule records the API token's user as the author of a note or email: leave out owner_id.";

/** A new note on `parent`. Capsule's API creates notes only (Entry: "can only be used to create notes"). */
export function fromNoteInput(input: ActivityInput, parent: ActivityParent): EntryBody {
  if (input.owner_id !== undefined) throw new CrmError('unsupported', NOTE_AUTHOR);
  const content = noteContent(input.subject, input.body);
  if (content === undefined) throw new CrmError('validation', 'A Capsule note needs `body`, its text.');
  return { type: 'note', content, [parent.key]: { id: parent.id } };
}

/**
 * A change to a note or an email (`kind` from the entry read first, needed only for a subject):
 * an email has a subject line and a body; a note is one text, so a subject comes with its body.
 */
export function fromEntryPatch(patch: ActivityInput, kind: ActivityType | undefined): EntryBody {
  const extra = (['due_date', 'done'] as const).filter((f) => patch[f] !== undefined);
  if (extra.length) throw new CrmError('validation', `A Capsule note or email has no ${extra.join(' or ')}; only tasks do.`);
  if (patch.owner_id !== undefined) throw new CrmError('unsupported', NOTE_AUTHOR);
  if (patch.subject !== undefined && kind !== 'email') {
    if (patch.body === undefined) {
      throw new CrmError('validation', 'A Capsule note is one text with no subject of its own: give `body` (the subject goes in as its first line when both are given).');
    }
    return { content: noteContent(patch.subject, patch.body) };
  }
  return compact<EntryBody>({ subject: patch.subject, content: patch.body });
}

/** A task write body (`{task: ...}`). */
export interface TaskBody {
  description?: string;
  detail?: string;
  dueOn?: string;
  owner?: { id: number };
  status?: 'OPEN' | 'COMPLETED';
  party?: { id: number };
  opportunity?: { id: number };
  kase?: { id: number };
}

/** A task's fields: subject is its description, body its detail, done its status. */
export function fromTaskInput(input: ActivityInput, parent?: ActivityParent): TaskBody {
  return compact<TaskBody>({
    description: input.subject,
    detail: input.body,
    dueOn: date(input.due_date, 'due_date'),
    owner: userId(input.owner_id),
    status: input.done === undefined ? undefined : input.done ? 'COMPLETED' : 'OPEN',
    ...(parent ? { [parent.key]: { id: parent.id } } : {}),
  });
}

/** Which tasks `GET /tasks` lists for a `done` filter (its `status`; pending tasks no longer apply and are left out). */
export const taskStatuses = (done: boolean | undefined): string => (done === undefined ? 'open,completed' : done ? 'completed' : 'open');

/** Whether a task (or entry) hangs on `parent`. */
export function hangsOn(r: Pick<CapsuleTask, 'party' | 'opportunity' | 'kase'>, parent: ActivityParent): boolean {
  return r[parent.key]?.id === parent.id;
}

// ---------------------------------------------------------------------------------------------
// Search hits: what Capsule's search answers already tell

export function opportunityHit(o: CapsuleOpportunity): SearchHit {
  return compact<SearchHit>({
    type: 'deals',
    id: String(o.id),
    name: o.name,
    status: dealStatus(o),
    stage: ref(o.milestone.id, o.milestone.name),
    owner: userRef(o.owner),
    account: partyRef(o.party),
  });
}

export function kaseHit(k: CapsuleKase): SearchHit {
  return compact<SearchHit>({ type: 'projects', id: String(k.id), name: k.name, status: projectStatus(k.status), account: partyRef(k.party) });
}

/** An organisation as an account hit, a person as a contact hit. */
export function partyHit(p: CapsulePartyRecord): SearchHit {
  const name = partyName(p) ?? String(p.id);
  return p.type === 'person'
    ? compact<SearchHit>({ type: 'contacts', id: String(p.id), name, account: partyRef(p.organisation), email: p.emailAddresses?.[0]?.address })
    : compact<SearchHit>({ type: 'accounts', id: String(p.id), name, domain: domainOf(p.websites), owner: userRef(p.owner) });
}

// ---------------------------------------------------------------------------------------------
// Capsule's field names in error answers, as the arguments an agent passed

const DEAL_FIELDS: Record<string, string> = {
  party: 'account_id',
  milestone: 'stage_id',
  owner: 'owner_id',
  value: 'amount',
  'value.amount': 'amount',
  'value.currency': 'currency',
  currency: 'currency',
  expectedCloseOn: 'close_date',
};

const PROJECT_FIELDS: Record<string, string> = {
  party: 'account',
  expectedCloseOn: 'close_date',
  kase: 'project',
};

const PARTY_FIELDS: Record<string, string> = {
  firstName: 'first_name',
  lastName: 'last_name',
  jobTitle: 'title',
  organisation: 'account_id',
  owner: 'owner_id',
  emailAddresses: 'emails',
  'emailAddresses.address': 'emails',
  phoneNumbers: 'phones',
  'phoneNumbers.number': 'phones',
  websites: 'domain',
  'websites.address': 'domain',
};

const ENTRY_FIELDS: Record<string, string> = { content: 'body', opportunity: 'deal_id', kase: 'project_id' };

const TASK_FIELDS: Record<string, string> = {
  description: 'subject',
  detail: 'body',
  dueOn: 'due_date',
  owner: 'owner_id',
  status: 'done',
  opportunity: 'deal_id',
  kase: 'project_id',
};

/** The argument name for a field Capsule names in a validation error (`resource` says whose). */
export function argumentName(field: string, resource: unknown): string | undefined {
  const r = typeof resource === 'string' ? resource.toLowerCase() : '';
  if (r === 'opportunity') return DEAL_FIELDS[field];
  if (r === 'kase' || r === 'project' || r === 'case') return PROJECT_FIELDS[field];
  if (r === 'party' || r === 'person' || r === 'organisation') return PARTY_FIELDS[field];
  if (r === 'entry') return ENTRY_FIELDS[field];
  if (r === 'task') return TASK_FIELDS[field];
  return undefined;
}
