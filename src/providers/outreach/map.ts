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
import type { Account, Activity, Contact, Deal, Pipeline, Ref, Stage, User } from '../../crm/model.js';
import type { AccountInput, ActivityInput, ContactInput, DealInput, StageInput } from '../../crm/provider.js';
import { compact, namedRef } from '../../crm/records.js';

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

/** What records' names are read from: the stages, users, accounts, prospects and opportunities an answer included. */
export interface Included {
  stages: ReadonlyMap<number, OrOpportunityStage>;
  users: ReadonlyMap<number, string>;
  accounts: ReadonlyMap<number, string>;
  prospects: ReadonlyMap<number, string>;
  opportunities: ReadonlyMap<number, string>;
}

/** A person's name as Outreach shows it: its `name`, else first and last name joined. */
export function personName(a: { name?: string | null; firstName?: string | null; lastName?: string | null } | undefined): string {
  if (a?.name) return a.name;
  return [a?.firstName, a?.lastName].filter((x): x is string => !!x && x.trim() !== '').join(' ');
}

/** Resources of a JSON:API `included` list by type, for the mappers below. */
export function includedOf(included: readonly Resource[] | undefined): Included {
  const stages = new Map<number, OrOpportunityStage>();
  const users = new Map<number, string>();
  const accounts = new Map<number, string>();
  const prospects = new Map<number, string>();
  const opportunities = new Map<number, string>();
  for (const r of included ?? []) {
    const a = r.attributes as { name?: unknown; firstName?: unknown; lastName?: unknown } | undefined;
    const name = typeof a?.name === 'string' ? a.name : undefined;
    if (r.type === 'opportunityStage') stages.set(r.id, r as OrOpportunityStage);
    else if (r.type === 'user' || r.type === 'prospect') {
      const full = personName(a as Parameters<typeof personName>[0]);
      if (full) (r.type === 'user' ? users : prospects).set(r.id, full);
    } else if (r.type === 'account' && name !== undefined) accounts.set(r.id, name);
    else if (r.type === 'opportunity' && name !== undefined) opportunities.set(r.id, name);
  }
  return { stages, users, accounts, prospects, opportunities };
}

function refOf(id: number | undefined, names: ReadonlyMap<number, string>): Ref | undefined {
  return id === undefined ? undefined : namedRef(id, names);
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
  return {
    attributes: compact({
      name: input.name,
      // `amount` is an integer in Outreach; a fraction goes in amountPrecise too.
      amount: input.amount === undefined ? undefined : Math.round(input.amount),
      amountPrecise: whole ? undefined : String(input.amount),
      currencyType: input.currency?.toUpperCase(),
      closeDate: input.close_date === undefined ? undefined : `${input.close_date}T00:00:00.000Z`,
    }),
    relationships: links({
      opportunityStage: linkTo('opportunityStage', stage?.id),
      owner: linkTo('user', idOf(input.owner_id, 'user')),
      account: linkTo('account', idOf(input.account_id, 'account')),
    }),
  };
}

/** A to-one relationship as a write sends it; undefined when there is no id to send. */
export const linkTo = (type: string, id: number | undefined): { data: Linkage } | undefined => (id === undefined ? undefined : { data: { type, id } });
const links = (r: Record<string, { data: Linkage } | undefined>) => compact(r);

/** Where an agent finds ids of each record a write refers to (the tools of errors.ts's unknownReference). */
const FIND: Record<'user' | 'account' | 'contact' | 'deal', string> = {
  user: 'list_users',
  account: 'search (types: accounts) or list_accounts',
  contact: 'search (types: contacts) or list_contacts',
  deal: 'search (types: deals) or list_deals',
};

/** A record id a write or filter names, as Outreach's integer; undefined when not given. */
export function idOf(id: string | undefined, what: keyof typeof FIND): number | undefined {
  return id === undefined ? undefined : nativeId(id, what, FIND[what]);
}

// ---------------------------------------------------------------------------------------------
// Accounts, prospects (contacts) and users

export type OrAccount = Resource<{
  name?: string | null;
  domain?: string | null;
  industry?: string | null;
  createdAt?: string | null;
  updatedAt?: string | null;
}>;

/** Outreach's phone lists, in the order a contact's `phones` shows them. */
export const PHONE_LISTS = ['mobilePhones', 'workPhones', 'homePhones', 'otherPhones', 'voipPhones'] as const;

export type OrProspect = Resource<
  {
    name?: string | null;
    firstName?: string | null;
    lastName?: string | null;
    emails?: string[] | null;
    title?: string | null;
    createdAt?: string | null;
    updatedAt?: string | null;
  } & { [K in (typeof PHONE_LISTS)[number]]?: string[] | null }
>;

export type OrUser = Resource<{
  name?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  email?: string | null;
  locked?: boolean | null;
}>;

export function toAccount(a: OrAccount, names: Included, opts: { remote?: boolean } = {}): Account {
  const x = a.attributes ?? {};
  return withRemote(
    compact<Account>({
      id: String(a.id),
      name: x.name ?? '',
      domain: x.domain ?? undefined,
      industry: x.industry ?? undefined,
      owner: refOf(relatedId(a, 'owner'), names.users),
      created_at: ts(x.createdAt),
      updated_at: ts(x.updatedAt),
    }),
    a,
    opts.remote,
  );
}

/** Every phone of every list, once each. */
function phonesOf(x: NonNullable<OrProspect['attributes']>): string[] {
  const out: string[] = [];
  for (const list of PHONE_LISTS) for (const p of x[list] ?? []) if (typeof p === 'string' && p && !out.includes(p)) out.push(p);
  return out;
}

export function toContact(p: OrProspect, names: Included, opts: { remote?: boolean } = {}): Contact {
  const x = p.attributes ?? {};
  const phones = phonesOf(x);
  return withRemote(
    compact<Contact>({
      id: String(p.id),
      name: personName(x),
      first_name: x.firstName ?? undefined,
      last_name: x.lastName ?? undefined,
      emails: x.emails?.length ? [...x.emails] : undefined,
      phones: phones.length ? phones : undefined,
      title: x.title ?? undefined,
      account: refOf(relatedId(p, 'account'), names.accounts),
      owner: refOf(relatedId(p, 'owner'), names.users),
      created_at: ts(x.createdAt),
      updated_at: ts(x.updatedAt),
    }),
    p,
    opts.remote,
  );
}

/** A user is active unless Outreach has locked them out. */
export function toUser(u: OrUser, opts: { remote?: boolean } = {}): User {
  const x = u.attributes ?? {};
  return withRemote(
    compact<User>({
      id: String(u.id),
      name: personName(x),
      email: x.email ?? undefined,
      active: typeof x.locked === 'boolean' ? !x.locked : undefined,
    }),
    u,
    opts.remote,
  );
}

/** `named: true` on a create: Outreach lists only named accounts (spec: account.named). */
export function fromAccountInput(input: AccountInput, op: 'create' | 'update'): ResourceBody {
  return {
    attributes: compact({ name: input.name, domain: input.domain, industry: input.industry, named: op === 'create' ? true : undefined }),
    relationships: links({ owner: linkTo('user', idOf(input.owner_id, 'user')) }),
  };
}

/**
 * A contact as a prospect. `phones` become the work phones; on an update they replace every phone
 * list (the others are emptied), since the unified list is replaced whole.
 */
export function fromContactInput(input: ContactInput, op: 'create' | 'update'): ResourceBody {
  const phones =
    input.phones === undefined
      ? {}
      : op === 'create'
        ? { workPhones: [...input.phones] }
        : Object.fromEntries(PHONE_LISTS.map((l) => [l, l === 'workPhones' ? [...input.phones!] : []]));
  return {
    attributes: compact({
      firstName: input.first_name,
      lastName: input.last_name,
      emails: input.emails === undefined ? undefined : [...input.emails],
      ...phones,
      title: input.title,
    }),
    relationships: links({
      account: linkTo('account', idOf(input.account_id, 'account')),
      owner: linkTo('user', idOf(input.owner_id, 'user')),
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Activities: tasks, calls, and the notes of accounts and of prospects

/** Outreach's four kinds of activity, each its own collection; an activity id says which (t12, c12, an12, pn12). */
export const ACTIVITY_KINDS = {
  task: { prefix: 't', type: 'task', label: 'tasks' },
  call: { prefix: 'c', type: 'call', label: 'calls' },
  accountNote: { prefix: 'an', type: 'note', label: 'account notes' },
  prospectNote: { prefix: 'pn', type: 'note', label: 'prospect notes' },
} as const;
export type ActivityKind = keyof typeof ACTIVITY_KINDS;
export const ACTIVITY_KIND_LIST = Object.keys(ACTIVITY_KINDS) as ActivityKind[];

export const activityId = (kind: ActivityKind, id: number): string => `${ACTIVITY_KINDS[kind].prefix}${id}`;

export interface ActivityAddress {
  kind: ActivityKind;
  id: number;
}

export function parseActivityId(id: string): ActivityAddress {
  const m = /^(an|pn|t|c)([1-9][0-9]{0,15})$/i.exec(id.trim());
  if (!m) {
    throw new CrmError(
      'validation',
      `'${excerpt(id)}' is not an Outreach activity id here: they are 't' + the id for a task (t12), 'c' for a call (c12), 'an' for an account note (an12) and 'pn' for a prospect note (pn12). Call list_activities to see them.`,
    );
  }
  const prefix = m[1].toLowerCase();
  const kind = ACTIVITY_KIND_LIST.find((k) => ACTIVITY_KINDS[k].prefix === prefix)!;
  return { kind, id: Number(m[2]) };
}

export type OrTask = Resource<{
  action?: string | null;
  note?: string | null;
  dueAt?: string | null;
  state?: string | null;
  completed?: boolean | null;
  createdAt?: string | null;
  updatedAt?: string | null;
}>;

export type OrCall = Resource<{ note?: string | null; outcome?: string | null; direction?: string | null; createdAt?: string | null; updatedAt?: string | null }>;

export type OrNote = Resource<{ message?: string | null; noteType?: string | null; createdAt?: string | null; updatedAt?: string | null }>;

export type OrActivity = OrTask | OrCall | OrNote;

/** The linkage of a to-one relationship (a polymorphic one's type included). */
function linkage(r: Resource, name: string): Linkage | undefined {
  const data = r.relationships?.[name]?.data;
  return data && !Array.isArray(data) && Number.isSafeInteger(data.id) ? data : undefined;
}

/** The id of a relationship when it points at a record of `type`. */
function linkedAs(r: Resource, name: string, type: string): number | undefined {
  const l = linkage(r, name);
  return l?.type === type ? l.id : undefined;
}

/** The records an activity hangs on and who owns it, per kind (tasks name theirs in `subject` too). */
function parentsOf(kind: ActivityKind, r: Resource) {
  switch (kind) {
    case 'task':
      return {
        owner: relatedId(r, 'owner'),
        deal: relatedId(r, 'opportunity') ?? linkedAs(r, 'subject', 'opportunity'),
        account: relatedId(r, 'account') ?? linkedAs(r, 'subject', 'account'),
        contact: relatedId(r, 'prospect') ?? linkedAs(r, 'subject', 'prospect'),
      };
    case 'call':
      return {
        owner: relatedId(r, 'user'),
        deal: relatedId(r, 'opportunity') ?? linkedAs(r, 'associatedId', 'opportunity'),
        account: linkedAs(r, 'associatedId', 'account'),
        contact: relatedId(r, 'prospect'),
      };
    case 'accountNote':
      return { owner: relatedId(r, 'creator'), deal: relatedId(r, 'opportunity'), account: relatedId(r, 'account'), contact: undefined };
    case 'prospectNote':
      return { owner: relatedId(r, 'creator'), deal: relatedId(r, 'opportunity'), account: undefined, contact: relatedId(r, 'prospect') };
  }
}

export function toActivity(kind: ActivityKind, r: OrActivity, names: Included, opts: { remote?: boolean } = {}): Activity {
  const x = (r.attributes ?? {}) as NonNullable<OrTask['attributes']> & NonNullable<OrNote['attributes']>;
  const p = parentsOf(kind, r);
  const isNote = ACTIVITY_KINDS[kind].type === 'note';
  return withRemote(
    compact<Activity>({
      id: activityId(kind, r.id),
      type: ACTIVITY_KINDS[kind].type,
      body: (isNote ? x.message : x.note) || undefined,
      // A task's due time as the calendar date it names; calls and notes have none.
      due_date: kind === 'task' && x.dueAt ? x.dueAt.slice(0, 10) : undefined,
      // A logged call happened; a note is never done.
      done: kind === 'task' ? x.state === 'complete' || x.completed === true : kind === 'call' ? true : undefined,
      owner: refOf(p.owner, names.users),
      deal: refOf(p.deal, names.opportunities),
      account: refOf(p.account, names.accounts),
      contact: refOf(p.contact, names.prospects),
      created_at: ts(x.createdAt),
      updated_at: ts(x.updatedAt),
    }),
    r,
    opts.remote,
  );
}

const refuse = (message: string) => new CrmError('validation', message);
const given = (input: ActivityInput) => (['deal_id', 'account_id', 'contact_id'] as const).filter((p) => input[p] !== undefined);

/** A task's one subject: the deal, account or prospect it is about. */
function taskSubject(input: ActivityInput): { data: Linkage } | undefined {
  const parents = given(input);
  if (parents.length > 1) {
    throw refuse(`An Outreach task has one subject: give only one of deal_id, account_id and contact_id, not ${parents.join(' and ')}.`);
  }
  if (input.deal_id !== undefined) return linkTo('opportunity', idOf(input.deal_id, 'deal'));
  if (input.account_id !== undefined) return linkTo('account', idOf(input.account_id, 'account'));
  if (input.contact_id !== undefined) return linkTo('prospect', idOf(input.contact_id, 'contact'));
  return undefined;
}

const dueAt = (date: string | undefined) => (date === undefined ? undefined : `${date}T00:00:00.000Z`);

/** What a write of an activity sends: the resource's body, and whether the task is then marked complete. */
export interface ActivityWrite {
  kind: ActivityKind;
  body: ResourceBody;
  complete: boolean;
}

const CALL_IS_LOGGED = 'An Outreach call is logged once it happened, so it is done and has no due date; to plan a call, create a task (type: task).';
const NOTE_OWNER = 'Outreach sets the author of a note itself: leave out owner_id.';
const NOTE_PARENT = "Outreach hangs a note on an account (account_id) or a prospect (contact_id), not on a deal: give the deal's account_id.";

/** The kind of record a create_activity makes, from its type and parents, and what it sends. */
export function activityCreate(input: ActivityInput): ActivityWrite {
  if (input.due_date !== undefined && !DATE.test(input.due_date)) {
    throw refuse(`due_date must be a date as YYYY-MM-DD, not '${excerpt(input.due_date)}'.`);
  }
  switch (input.type) {
    case 'task':
      return {
        kind: 'task',
        body: {
          attributes: compact({ action: 'action_item', note: input.body, dueAt: dueAt(input.due_date) }),
          relationships: links({ owner: linkTo('user', idOf(input.owner_id, 'user')), subject: taskSubject(input) }),
        },
        complete: input.done === true,
      };
    case 'call':
      if (input.account_id !== undefined) {
        throw refuse('Outreach logs a call with a prospect (contact_id) or on an opportunity (deal_id), not on an account: give contact_id or deal_id.');
      }
      if (input.due_date !== undefined || input.done === false) throw refuse(CALL_IS_LOGGED);
      return {
        kind: 'call',
        body: {
          attributes: compact({ note: input.body }),
          relationships: links({
            prospect: linkTo('prospect', idOf(input.contact_id, 'contact')),
            opportunity: linkTo('opportunity', idOf(input.deal_id, 'deal')),
            user: linkTo('user', idOf(input.owner_id, 'user')),
          }),
        },
        complete: false,
      };
    case 'note': {
      if (input.deal_id !== undefined) throw refuse(NOTE_PARENT);
      if (input.account_id !== undefined && input.contact_id !== undefined) {
        throw refuse('An Outreach note hangs on one record: give account_id or contact_id, not both.');
      }
      if (input.owner_id !== undefined) throw refuse(NOTE_OWNER);
      if (input.body === undefined || input.body.trim() === '') throw refuse('An Outreach note needs `body`: its text.');
      const onAccount = input.account_id !== undefined;
      return {
        kind: onAccount ? 'accountNote' : 'prospectNote',
        body: {
          attributes: { message: input.body, noteType: 'note' },
          relationships: links(
            onAccount ? { account: linkTo('account', idOf(input.account_id, 'account')) } : { prospect: linkTo('prospect', idOf(input.contact_id, 'contact')) },
          ),
        },
        complete: false,
      };
    }
    default:
      throw new CrmError('unsupported', `Outreach has no ${excerpt(input.type)} activities; its activities are tasks, calls and notes.`);
  }
}

/** What an update_activity sends to a record of this kind. */
export function activityUpdate(at: ActivityAddress, shown: string, input: ActivityInput): Omit<ActivityWrite, 'kind'> {
  if (input.due_date !== undefined && !DATE.test(input.due_date)) {
    throw refuse(`due_date must be a date as YYYY-MM-DD, not '${excerpt(input.due_date)}'.`);
  }
  switch (at.kind) {
    case 'task':
      if (input.done === false) throw refuse('Outreach cannot reopen a task (it has no such action): done: false cannot be set; create a new task instead.');
      return {
        body: {
          attributes: compact({ note: input.body, dueAt: dueAt(input.due_date) }),
          relationships: links({ owner: linkTo('user', idOf(input.owner_id, 'user')), subject: taskSubject(input) }),
        },
        complete: input.done === true,
      };
    case 'call':
      throw new CrmError('unsupported', `Outreach cannot change a logged call (its API has no update for calls): '${excerpt(shown)}' stays as it is; log another call or add a note.`);
    case 'accountNote':
    case 'prospectNote': {
      if (input.owner_id !== undefined) throw refuse(NOTE_OWNER);
      if (input.deal_id !== undefined) throw refuse(NOTE_PARENT);
      if (input.due_date !== undefined || input.done !== undefined) throw refuse('A note has no due_date or done; create a task (type: task) to track a to-do.');
      const onAccount = at.kind === 'accountNote';
      const wrong = onAccount ? input.contact_id : input.account_id;
      if (wrong !== undefined) {
        throw refuse(
          `Activity '${excerpt(shown)}' is a note on ${onAccount ? 'an account: it can move to another account (account_id), not to a prospect' : 'a prospect: it can move to another prospect (contact_id), not to an account'}.`,
        );
      }
      if (input.body !== undefined && input.body.trim() === '') throw refuse('An Outreach note needs `body`: its text.');
      return {
        body: {
          attributes: compact({ message: input.body }),
          relationships: links(
            onAccount ? { account: linkTo('account', idOf(input.account_id, 'account')) } : { prospect: linkTo('prospect', idOf(input.contact_id, 'contact')) },
          ),
        },
        complete: false,
      };
    }
  }
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
  domain: 'domain',
  industry: 'industry',
  firstName: 'first_name',
  lastName: 'last_name',
  emails: 'emails',
  workPhones: 'phones',
  mobilePhones: 'phones',
  homePhones: 'phones',
  otherPhones: 'phones',
  voipPhones: 'phones',
  title: 'title',
  note: 'body',
  message: 'body',
  dueAt: 'due_date',
  prospect: 'contact_id',
  opportunity: 'deal_id',
  user: 'owner_id',
  subject: 'deal_id, account_id or contact_id',
};

/** `/data/attributes/order` -> `position:`; an unknown attribute keeps its Outreach name. */
export function pointerField(pointer: string): string | undefined {
  const m = /^\/data\/(?:attributes|relationships)\/([^/]+)/.exec(pointer);
  if (!m) return undefined;
  return `${POINTER_FIELDS[m[1]] ?? m[1]}:`;
}
