/**
 * A stateful fake Pipedrive on a real HTTP server (127.0.0.1), speaking the wire format of
 * provider-apis.md §2 and of Pipedrive's official OpenAPI specs (../shared/specs/pipedrive/):
 * `x-api-token` auth; API v2 pipelines, stages, deals, organizations, persons and activities with
 * cursor pagination, and their /search endpoints; API v1 users, notes (start/limit pagination with
 * additional_data.pagination) and pipeline statistics; `{success:false, error, error_info}` errors
 * and rate-limit headers on every answer. Seeded deterministically (no clock, no randomness
 * between runs) so contract tests can assert exact requests and results. Every answer the
 * handlers give is kept in `answers`, for tests that hold it against the spec.
 */
import { FakeServer, type FakeResponse, type RecordedRequest } from './server.js';

// ---------------------------------------------------------------------------------------------
// State

export interface FakePipeline {
  id: number;
  name: string;
  order_nr: number;
  is_selected: boolean;
  is_deleted: boolean;
  is_deal_probability_enabled: boolean;
  add_time: string;
  update_time: string;
}

export interface FakeStage {
  id: number;
  order_nr: number;
  name: string;
  is_deleted: boolean;
  deal_probability: number;
  pipeline_id: number;
  is_deal_rot_enabled: boolean;
  days_to_rotten: number | null;
  add_time: string;
  update_time: string;
}

export interface FakeUser {
  id: number;
  name: string;
  email: string;
  active_flag: boolean;
}

export interface FakeOrg {
  id: number;
  name: string;
  owner_id: number;
  website: string | null;
  address: string | null;
  is_deleted: boolean;
  add_time: string;
  update_time: string;
}

export interface FakeContactPoint {
  value: string;
  primary: boolean;
  label: string;
}

export interface FakePerson {
  id: number;
  name: string;
  owner_id: number;
  org_id: number | null;
  emails: FakeContactPoint[];
  phones: FakeContactPoint[];
  job_title: string | null;
  is_deleted: boolean;
  add_time: string;
  update_time: string;
}

export interface FakeActivity {
  id: number;
  subject: string;
  /** The key of one of `activityTypes`. */
  type: string;
  owner_id: number;
  creator_user_id: number;
  deal_id: number | null;
  person_id: number | null;
  org_id: number | null;
  project_id: number | null;
  due_date: string | null;
  done: boolean;
  marked_as_done_time: string | null;
  note: string | null;
  is_deleted: boolean;
  add_time: string;
  update_time: string;
}

/** A v1 note; times are v1's "YYYY-MM-DD HH:MM:SS" (UTC). */
export interface FakeNote {
  id: number;
  content: string;
  user_id: number;
  deal_id: number | null;
  person_id: number | null;
  org_id: number | null;
  project_id: number | null;
  active_flag: boolean;
  add_time: string;
  update_time: string;
}

export interface FakeDeal {
  id: number;
  title: string;
  creator_user_id: number;
  owner_id: number;
  value: number;
  person_id: number | null;
  org_id: number | null;
  stage_id: number;
  pipeline_id: number;
  currency: string;
  add_time: string;
  update_time: string;
  stage_change_time: string | null;
  status: 'open' | 'won' | 'lost';
  is_deleted: boolean;
  probability: number | null;
  expected_close_date: string | null;
  won_time: string | null;
  lost_time: string | null;
  close_time: string | null;
  /** Stage entries, oldest first: what statistics are computed from. */
  history: Array<{ stage_id: number; time: string }>;
}

export interface FakePipedriveState {
  token: string;
  /** The user the token belongs to (Pipedrive's default for statistics' user_id). */
  authUserId: number;
  pipelines: Map<number, FakePipeline>;
  stages: Map<number, FakeStage>;
  users: Map<number, FakeUser>;
  orgs: Map<number, FakeOrg>;
  deals: Map<number, FakeDeal>;
  persons: Map<number, FakePerson>;
  activities: Map<number, FakeActivity>;
  notes: Map<number, FakeNote>;
  /** The company's activity type keys (Pipedrive's defaults). */
  activityTypes: string[];
  nextId: { pipeline: number; stage: number; deal: number; org: number; person: number; activity: number; note: number };
  /** Deterministic clock: every write advances it by one second. */
  now: Date;
  /**
   * List paths (e.g. /api/v2/deals) whose pages after the first answer the cursor they were asked
   * with as next_cursor again: a misbehaving upstream that would make a naive page walker loop.
   */
  loopCursor: Set<string>;
}

/** Seed sizes, exported so tests can assert counts without hard-coding them twice. */
export const SEED = {
  pipelines: 2,
  /** Active stages; one more, soft-deleted, exists as id DELETED_STAGE_ID. */
  stages: 9,
  deletedStageId: 10,
  users: 4,
  orgs: 7,
  deals: 250,
  persons: 8,
  activities: 12,
  notes: 6,
} as const;

/** Seeded deals are owned by the first three users and linked to the first six organizations. */
const DEAL_OWNERS = 3;
const DEAL_ORGS = 6;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const DAY = 86_400_000;

export function seedState(token: string): FakePipedriveState {
  const rnd = mulberry32(20261122);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const t0 = '2026-01-05T09:00:00Z';
  const state: FakePipedriveState = {
    token,
    authUserId: 1,
    pipelines: new Map(),
    stages: new Map(),
    users: new Map(),
    orgs: new Map(),
    deals: new Map(),
    persons: new Map(),
    activities: new Map(),
    notes: new Map(),
    activityTypes: ['call', 'meeting', 'task', 'deadline', 'email', 'lunch'],
    nextId: {
      pipeline: 3,
      stage: 11,
      deal: SEED.deals + 1,
      org: SEED.orgs + 1,
      person: SEED.persons + 1,
      activity: SEED.activities + 1,
      note: SEED.notes + 1,
    },
    now: new Date('2026-11-20T12:00:00Z'),
    loopCursor: new Set(),
  };
  const pipelines: Array<[string, boolean]> = [
    ['Sales', true],
    ['Partnerships', false],
  ];
  pipelines.forEach(([name, prob], i) =>
    state.pipelines.set(i + 1, {
      id: i + 1,
      name,
      order_nr: i + 1,
      is_selected: i === 0,
      is_deleted: false,
      is_deal_probability_enabled: prob,
      add_time: t0,
      update_time: t0,
    }),
  );
  const stages: Array<[number, string, number]> = [
    [1, 'Qualified', 10],
    [1, 'Contact Made', 20],
    [1, 'Demo Scheduled', 40],
    [1, 'Proposal Made', 60],
    [1, 'Negotiations Started', 80],
    [2, 'Intro', 10],
    [2, 'Evaluation', 30],
    [2, 'Contract Sent', 60],
    [2, 'Signed Off', 90],
  ];
  stages.forEach(([pipeline_id, name, p], i) => {
    const order_nr = stages.slice(0, i).filter(([pid]) => pid === pipeline_id).length + 1;
    state.stages.set(i + 1, {
      id: i + 1,
      order_nr,
      name,
      is_deleted: false,
      deal_probability: p,
      pipeline_id,
      is_deal_rot_enabled: false,
      days_to_rotten: null,
      add_time: t0,
      update_time: t0,
    });
  });
  // A soft-deleted stage: GET still answers it (is_deleted: true), lists leave it out.
  state.stages.set(SEED.deletedStageId, {
    id: SEED.deletedStageId,
    order_nr: 6,
    name: 'Legacy Review',
    is_deleted: true,
    deal_probability: 70,
    pipeline_id: 1,
    is_deal_rot_enabled: false,
    days_to_rotten: null,
    add_time: t0,
    update_time: '2026-03-01T10:00:00Z',
  });
  ['Alice Admin', 'Bob Seller', 'Carla Closer', 'Ana Souza'].forEach((name, i) =>
    state.users.set(i + 1, {
      id: i + 1,
      name,
      email: `${name.split(' ')[0].toLowerCase()}@example.com`,
      active_flag: true,
    }),
  );
  const orgs: Array<[string, string | null]> = [
    ['Acme Corp', 'https://www.acme.example'],
    ['Globex', 'globex.example'],
    ['Initech', null],
    ['Umbrella', 'https://umbrella.example/about'],
    ['Hooli', 'hooli.example'],
    ['Stark Industries', null],
    ['Acme Logistics', 'acme-logistics.example'],
  ];
  orgs.forEach(([name, website], i) =>
    state.orgs.set(i + 1, {
      id: i + 1,
      name,
      owner_id: 1 + (i % DEAL_OWNERS),
      website,
      address: i % 2 === 0 ? `${10 + i} Main Street, Springfield` : null,
      is_deleted: false,
      add_time: t0,
      update_time: t0,
    }),
  );

  const start = Date.parse('2026-01-10T09:00:00Z');
  for (let id = 1; id <= SEED.deals; id++) {
    const pipeline_id = id % 3 === 0 ? 2 : 1;
    const pstages = [...state.stages.values()]
      .filter((s) => s.pipeline_id === pipeline_id && !s.is_deleted)
      .sort((a, b) => a.order_nr - b.order_nr);
    const depth = Math.floor(rnd() * pstages.length);
    const added = start + Math.floor(rnd() * 300) * DAY + Math.floor(rnd() * 8) * 3_600_000;
    const history: FakeDeal['history'] = [];
    let t = added;
    for (let k = 0; k <= depth; k++) {
      history.push({ stage_id: pstages[k].id, time: iso(new Date(t)) });
      t += (1 + Math.floor(rnd() * 9)) * DAY;
    }
    const r = rnd();
    const status: FakeDeal['status'] = r < 0.7 ? 'open' : r < 0.85 ? 'won' : 'lost';
    const closed = status === 'open' ? null : iso(new Date(t));
    const last = history[history.length - 1];
    const currency = rnd() < 0.8 ? 'USD' : 'EUR';
    state.deals.set(id, {
      id,
      title: `${pick(['Renewal', 'Expansion', 'New logo', 'Pilot', 'Upsell'])} #${id}`,
      creator_user_id: 1,
      owner_id: 1 + Math.floor(rnd() * DEAL_OWNERS),
      value: (1 + Math.floor(rnd() * 40)) * 500,
      person_id: null,
      org_id: rnd() < 0.8 ? 1 + Math.floor(rnd() * DEAL_ORGS) : null,
      stage_id: last.stage_id,
      pipeline_id,
      currency,
      add_time: iso(new Date(added)),
      update_time: closed ?? last.time,
      stage_change_time: history.length > 1 ? last.time : null,
      status,
      is_deleted: false,
      probability: null,
      expected_close_date: iso(new Date(added + 60 * DAY)).slice(0, 10),
      won_time: status === 'won' ? closed : null,
      lost_time: status === 'lost' ? closed : null,
      close_time: closed,
      history,
    });
  }
  seedRecords(state, t0);
  return state;
}

/** A v1 timestamp: "YYYY-MM-DD HH:MM:SS", UTC. */
const v1Time = (isoTime: string): string => isoTime.replace('T', ' ').replace(/\.\d{3}/, '').replace('Z', '');

/** Persons, activities and notes around the seeded organizations and deals. */
function seedRecords(state: FakePipedriveState, t0: string): void {
  const people: Array<[string, number | null, string | null, string | null]> = [
    ['Maria Lopez', 1, 'maria@acme.example', 'Head of Operations'],
    ['John Smith', 1, 'john.smith@acme.example', null],
    ['Priya Nair', 2, 'priya@globex.example', 'CTO'],
    ['Tom Becker', 3, 'tom@initech.example', null],
    ['Lena Fischer', 4, null, 'Buyer'],
    ['Kenji Sato', 5, 'kenji@hooli.example', null],
    ['Olga Petrova', 6, 'olga@stark.example', null],
    ['Sam Taylor', null, 'sam@example.org', null],
  ];
  people.forEach(([name, org, email, title], i) =>
    state.persons.set(i + 1, {
      id: i + 1,
      name,
      owner_id: 1 + (i % DEAL_OWNERS),
      org_id: org,
      emails: email ? [{ value: email, primary: true, label: 'work' }] : [],
      phones: i % 3 === 0 ? [{ value: `+1 555 01${String(i).padStart(2, '0')}`, primary: true, label: 'work' }] : [],
      job_title: title,
      is_deleted: false,
      add_time: t0,
      update_time: t0,
    }),
  );
  // Activities and notes interleave in time on deal 1, so a merged list alternates between them.
  const activities: Array<[string, string, number | null, number | null, number | null, string | null, boolean, string]> = [
    // subject, type, deal, org, person, due date, done, added
    ['Discovery call', 'call', 1, 1, 1, '2026-02-10', true, '2026-02-01T09:00:00Z'],
    ['Send proposal', 'task', 1, 1, null, '2026-03-01', false, '2026-02-15T10:00:00Z'],
    ['Demo', 'meeting', 1, 1, 2, '2026-12-15', false, '2026-03-20T14:00:00Z'],
    ['Contract deadline', 'deadline', 1, null, null, '2026-04-30', false, '2026-04-01T08:00:00Z'],
    ['Follow-up email', 'email', 2, 2, 3, '2026-05-05', true, '2026-05-01T11:00:00Z'],
    ['Lunch with Priya', 'lunch', 2, 2, 3, '2027-01-10', false, '2026-06-01T12:00:00Z'],
    ['Check budget', 'task', 3, 3, 4, '2026-07-01', false, '2026-06-20T09:30:00Z'],
    ['Intro call', 'call', null, 4, 5, '2027-02-01', false, '2026-07-04T16:00:00Z'],
    ['Security review', 'meeting', 5, 5, 6, '2026-08-20', true, '2026-08-01T10:00:00Z'],
    ['Renewal reminder', 'task', null, 6, null, '2027-03-01', false, '2026-09-01T09:00:00Z'],
    ['Call Sam back', 'call', null, null, 8, '2026-10-01', false, '2026-09-15T15:00:00Z'],
    ['Prepare pilot plan', 'task', 1, 1, null, '2026-06-30', false, '2026-05-20T09:00:00Z'],
  ];
  activities.forEach(([subject, type, deal, org, person, due, done, added], i) =>
    state.activities.set(i + 1, {
      id: i + 1,
      subject,
      type,
      owner_id: 1 + (i % DEAL_OWNERS),
      creator_user_id: 1,
      deal_id: deal,
      person_id: person,
      org_id: org,
      project_id: null,
      due_date: due,
      done,
      marked_as_done_time: done ? due && `${due}T17:00:00Z` : null,
      note: i % 4 === 0 ? `Notes on ${subject.toLowerCase()}` : null,
      is_deleted: false,
      add_time: added,
      update_time: added,
    }),
  );
  const notes: Array<[string, number | null, number | null, number | null, string]> = [
    // content, deal, org, person, added
    ['Acme wants the enterprise plan.', 1, 1, null, '2026-02-05T10:00:00Z'],
    ['Budget confirmed for Q2.', 1, null, null, '2026-03-25T09:00:00Z'],
    ['Maria prefers email over calls.', null, 1, 1, '2026-04-10T13:00:00Z'],
    ['Legal asked for our DPA.', 1, 1, null, '2026-05-02T16:30:00Z'],
    ['Globex is evaluating a competitor.', 2, 2, null, '2026-06-11T08:15:00Z'],
    ['Sam moved to a new company.', null, null, 8, '2026-09-20T12:00:00Z'],
  ];
  notes.forEach(([content, deal, org, person, added], i) =>
    state.notes.set(i + 1, {
      id: i + 1,
      content,
      user_id: 1 + (i % DEAL_OWNERS),
      deal_id: deal,
      person_id: person,
      org_id: org,
      project_id: null,
      active_flag: true,
      add_time: v1Time(added),
      update_time: v1Time(added),
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Wire views (what Pipedrive sends)

const pipelineView = (p: FakePipeline) => ({ ...p });
const stageView = (s: FakeStage) => ({ ...s });
/** Fields the spec declares as integers (not nullable) are left out when unset, as Pipedrive's answers do. */
const set = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as T;

const orgView = (o: FakeOrg) => ({
  id: o.id,
  name: o.name,
  owner_id: o.owner_id,
  add_time: o.add_time,
  update_time: o.update_time,
  is_deleted: o.is_deleted,
  visible_to: 3,
  ...(o.address ? { address: { value: o.address, locality: 'Springfield' } } : {}),
  label_ids: [],
  website: o.website,
  linkedin: null,
  industry: null,
  annual_revenue: null,
  employee_count: null,
  custom_fields: {},
});

/** Pipedrive splits a person's name at its first space. */
function nameParts(name: string): { first_name: string; last_name: string } {
  const at = name.indexOf(' ');
  return at < 0 ? { first_name: name, last_name: '' } : { first_name: name.slice(0, at), last_name: name.slice(at + 1) };
}

const personView = (p: FakePerson) => ({
  ...set({ id: p.id, name: p.name, ...nameParts(p.name), owner_id: p.owner_id, org_id: p.org_id, add_time: p.add_time, update_time: p.update_time }),
  emails: p.emails.map((e) => ({ ...e })),
  phones: p.phones.map((e) => ({ ...e })),
  is_deleted: p.is_deleted,
  visible_to: 3,
  label_ids: [],
  ...(p.job_title ? { job_title: p.job_title } : {}),
  custom_fields: {},
});

const activityView = (a: FakeActivity) => ({
  ...set({
    id: a.id,
    subject: a.subject,
    type: a.type,
    owner_id: a.owner_id,
    creator_user_id: a.creator_user_id,
    is_deleted: a.is_deleted,
    add_time: a.add_time,
    update_time: a.update_time,
    deal_id: a.deal_id,
    person_id: a.person_id,
    org_id: a.org_id,
    project_id: a.project_id,
    due_date: a.due_date,
    marked_as_done_time: a.marked_as_done_time,
    note: a.note,
  }),
  due_time: '',
  duration: '',
  busy: false,
  done: a.done,
  participants: a.person_id ? [{ person_id: a.person_id, primary: true }] : [],
  public_description: '',
  priority: 0,
});

function dealView(d: FakeDeal) {
  const { history: _history, ...rest } = d;
  const day = (v: string | null) => (v ? v.slice(0, 10) : null);
  return {
    ...rest,
    archive_time: null,
    is_archived: false,
    lost_reason: d.status === 'lost' ? 'Price' : null,
    visible_to: 3,
    local_won_date: day(d.won_time),
    local_lost_date: day(d.lost_time),
    local_close_date: day(d.close_time),
    label_ids: [],
    origin: 'ManuallyCreated',
    origin_id: null,
    channel: null,
    channel_id: null,
    acv: null,
    arr: null,
    mrr: null,
    custom_fields: {},
  };
}

function userView(u: FakeUser, state: FakePipedriveState) {
  return {
    id: u.id,
    name: u.name,
    default_currency: 'USD',
    locale: 'en_US',
    lang: 1,
    email: u.email,
    phone: null,
    activated: true,
    last_login: '2026-11-19 08:00:00',
    created: '2026-01-02 09:00:00',
    modified: '2026-11-19 08:00:00',
    has_created_company: u.id === 1,
    access: [{ app: 'sales', admin: u.id === 1, permission_set_id: `ps-${u.id}` }],
    active_flag: u.active_flag,
    timezone_name: 'Europe/Berlin',
    timezone_offset: '+01:00',
    role_id: 1,
    icon_url: null,
    is_you: u.id === state.authUserId,
    is_deleted: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Envelopes and errors

class PdError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(error);
  }
}

const ok = (data: unknown, additional_data?: unknown): FakeResponse => ({
  status: 200,
  body: additional_data === undefined ? { success: true, data } : { success: true, data, additional_data },
});

function errorBody(status: number, error: string, extra: Record<string, unknown> = {}) {
  return {
    success: false,
    error,
    ...(status === 401 ? { errorCode: 401 } : {}),
    error_info: 'Please check developers.pipedrive.com',
    data: null,
    additional_data: null,
    ...extra,
  };
}

const invalid = (msg: string) => new PdError(400, `Validation failed: ${msg}`);

// ---------------------------------------------------------------------------------------------
// Query helpers

function str(q: Record<string, unknown>, key: string): string | undefined {
  const v = q[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(`${key}: Expected a single value`);
  return v;
}

function int(q: Record<string, unknown>, key: string): number | undefined {
  const v = str(q, key);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw invalid(`${key}: Expected number, received '${v}'`);
  return Number(v);
}

function enumOf<T extends string>(q: Record<string, unknown>, key: string, allowed: readonly T[]): T | undefined {
  const v = str(q, key);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    throw invalid(`${key}: Invalid enum value. Expected ${allowed.map((a) => `'${a}'`).join(' | ')}, received '${v}'`);
  }
  return v as T;
}

function pathId(raw: string): number {
  if (!/^\d+$/.test(raw)) throw invalid(`id: Expected number, received '${decodeURIComponent(raw)}'`);
  return Number(raw);
}

interface Cursor {
  field: string;
  fieldValue: string | number;
  sortDirection: 'asc' | 'desc';
  id: number;
}

/**
 * Cursor pagination as Pipedrive does it: `limit` (default 100, max 500), `cursor` = the first item
 * of the next page (opaque base64 JSON), `additional_data.next_cursor` null at the end.
 */
function paginate<T extends { id: number }>(
  items: T[],
  q: Record<string, unknown>,
  sortFields: readonly string[],
): { page: T[]; next_cursor: string | null } {
  const limit = int(q, 'limit') ?? 100;
  if (limit < 1) throw invalid('limit: Must be greater than or equal to 1');
  if (limit > 500) throw invalid('limit: Must be less than or equal to 500');
  const field = enumOf(q, 'sort_by', sortFields) ?? 'id';
  const dir = enumOf(q, 'sort_direction', ['asc', 'desc'] as const) ?? 'asc';
  const key = (x: T): string | number => (x as unknown as Record<string, string | number>)[field];
  const cmp = (a: { v: string | number; id: number }, b: { v: string | number; id: number }) => {
    const c = a.v < b.v ? -1 : a.v > b.v ? 1 : a.id - b.id;
    return dir === 'asc' ? c : -c;
  };
  const sorted = [...items].sort((a, b) => cmp({ v: key(a), id: a.id }, { v: key(b), id: b.id }));
  let startAt = 0;
  const raw = str(q, 'cursor');
  if (raw !== undefined) {
    let c: Cursor;
    try {
      c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Cursor;
      if (typeof c.id !== 'number' || c.field !== field || c.sortDirection !== dir) throw new Error();
    } catch {
      throw invalid('cursor: Invalid cursor');
    }
    startAt = sorted.findIndex((x) => cmp({ v: key(x), id: x.id }, { v: c.fieldValue, id: c.id }) >= 0);
    if (startAt < 0) startAt = sorted.length;
  }
  const page = sorted.slice(startAt, startAt + limit);
  const next = sorted[startAt + limit];
  const next_cursor = next
    ? Buffer.from(
        JSON.stringify({ field, fieldValue: key(next), sortDirection: dir, id: next.id } satisfies Cursor),
      ).toString('base64url')
    : null;
  return { page, next_cursor };
}

// ---------------------------------------------------------------------------------------------
// Body validation

type Body = Record<string, unknown>;

function bodyOf(req: RecordedRequest): Body {
  const b = req.body;
  if (b === undefined) return {};
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw invalid('body: Expected a JSON object');
  return b as Body;
}

function onlyFields(b: Body, allowed: readonly string[]): void {
  for (const k of Object.keys(b)) {
    if (!allowed.includes(k)) throw invalid(`${k}: Parameter is not allowed for this request`);
  }
}

function bodyStr(b: Body, key: string, required = false): string | undefined {
  const v = b[key];
  if (v === undefined) {
    if (required) throw invalid(`${key}: Parameter '${key}' is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v.trim() === '') throw invalid(`${key}: Expected a non-empty string`);
  return v;
}

function bodyInt(b: Body, key: string, required = false): number | undefined {
  const v = b[key];
  if (v === undefined) {
    if (required) throw invalid(`${key}: Parameter '${key}' is required`);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(`${key}: Expected integer`);
  return v;
}

function bodyBool(b: Body, key: string): boolean | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalid(`${key}: Expected boolean`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Handlers

function tick(state: FakePipedriveState): string {
  state.now = new Date(state.now.getTime() + 1000);
  return iso(state.now);
}

function must<T>(map: Map<number, T>, id: number, what: string): T {
  const x = map.get(id);
  if (!x) throw new PdError(404, `${what} not found`);
  return x;
}

function liveStages(state: FakePipedriveState, pipelineId: number): FakeStage[] {
  return [...state.stages.values()]
    .filter((s) => s.pipeline_id === pipelineId && !s.is_deleted)
    .sort((a, b) => a.order_nr - b.order_nr);
}

function pipelines(state: FakePipedriveState, req: RecordedRequest, id?: string): FakeResponse {
  if (id === undefined) {
    if (req.method === 'GET') {
      const live = [...state.pipelines.values()].filter((p) => !p.is_deleted);
      const { page, next_cursor } = paginate(live, req.query, ['id', 'update_time', 'add_time']);
      return ok(page.map(pipelineView), { next_cursor });
    }
    if (req.method === 'POST') {
      const b = bodyOf(req);
      onlyFields(b, ['name', 'is_deal_probability_enabled']);
      const name = bodyStr(b, 'name', true)!;
      const prob = bodyBool(b, 'is_deal_probability_enabled') ?? false;
      const now = tick(state);
      const p: FakePipeline = {
        id: state.nextId.pipeline++,
        name,
        order_nr: Math.max(0, ...[...state.pipelines.values()].map((x) => x.order_nr)) + 1,
        is_selected: false,
        is_deleted: false,
        is_deal_probability_enabled: prob,
        add_time: now,
        update_time: now,
      };
      state.pipelines.set(p.id, p);
      return ok(pipelineView(p));
    }
    throw new PdError(405, 'Method not allowed');
  }
  const p = must(state.pipelines, pathId(id), 'Pipeline');
  if (req.method === 'GET') return ok(pipelineView(p));
  if (req.method === 'PATCH') {
    const b = bodyOf(req);
    onlyFields(b, ['name', 'is_deal_probability_enabled']);
    const name = bodyStr(b, 'name');
    const prob = bodyBool(b, 'is_deal_probability_enabled');
    if (name !== undefined) p.name = name;
    if (prob !== undefined) p.is_deal_probability_enabled = prob;
    p.update_time = tick(state);
    return ok(pipelineView(p));
  }
  if (req.method === 'DELETE') {
    p.is_deleted = true;
    p.update_time = tick(state);
    return ok({ id: p.id });
  }
  throw new PdError(405, 'Method not allowed');
}

function stages(state: FakePipedriveState, req: RecordedRequest, id?: string): FakeResponse {
  const fields = ['name', 'pipeline_id', 'deal_probability', 'is_deal_rot_enabled', 'days_to_rotten'] as const;
  const livePipeline = (pid: number) => {
    const p = state.pipelines.get(pid);
    if (!p || p.is_deleted) throw invalid(`pipeline_id: Pipeline with id ${pid} does not exist`);
    return p;
  };
  if (id === undefined) {
    if (req.method === 'GET') {
      const pid = int(req.query, 'pipeline_id');
      const live = [...state.stages.values()].filter((s) => !s.is_deleted && (pid === undefined || s.pipeline_id === pid));
      const { page, next_cursor } = paginate(live, req.query, ['id', 'update_time', 'add_time', 'order_nr']);
      return ok(page.map(stageView), { next_cursor });
    }
    if (req.method === 'POST') {
      const b = bodyOf(req);
      onlyFields(b, fields);
      const name = bodyStr(b, 'name', true)!;
      const pipeline_id = bodyInt(b, 'pipeline_id', true)!;
      livePipeline(pipeline_id);
      const prob = bodyInt(b, 'deal_probability');
      if (prob !== undefined && (prob < 0 || prob > 100)) invalidProbability();
      const now = tick(state);
      const s: FakeStage = {
        id: state.nextId.stage++,
        order_nr: liveStages(state, pipeline_id).length + 1,
        name,
        is_deleted: false,
        deal_probability: prob ?? 100,
        pipeline_id,
        is_deal_rot_enabled: bodyBool(b, 'is_deal_rot_enabled') ?? false,
        days_to_rotten: bodyInt(b, 'days_to_rotten') ?? null,
        add_time: now,
        update_time: now,
      };
      state.stages.set(s.id, s);
      return ok(stageView(s));
    }
    throw new PdError(405, 'Method not allowed');
  }
  const s = must(state.stages, pathId(id), 'Stage');
  if (req.method === 'GET') return ok(stageView(s));
  if (req.method === 'PATCH') {
    const b = bodyOf(req);
    onlyFields(b, fields);
    const name = bodyStr(b, 'name');
    const pipeline_id = bodyInt(b, 'pipeline_id');
    const prob = bodyInt(b, 'deal_probability');
    if (prob !== undefined && (prob < 0 || prob > 100)) invalidProbability();
    if (pipeline_id !== undefined && pipeline_id !== s.pipeline_id) {
      livePipeline(pipeline_id);
      s.order_nr = liveStages(state, pipeline_id).length + 1;
      s.pipeline_id = pipeline_id;
    }
    if (name !== undefined) s.name = name;
    if (prob !== undefined) s.deal_probability = prob;
    const rot = bodyBool(b, 'is_deal_rot_enabled');
    if (rot !== undefined) s.is_deal_rot_enabled = rot;
    const days = bodyInt(b, 'days_to_rotten');
    if (days !== undefined) s.days_to_rotten = days;
    s.update_time = tick(state);
    return ok(stageView(s));
  }
  if (req.method === 'DELETE') {
    s.is_deleted = true;
    s.update_time = tick(state);
    return ok({ id: s.id });
  }
  throw new PdError(405, 'Method not allowed');
}

function invalidProbability(): never {
  throw invalid('deal_probability: Must be between 0 and 100');
}

const DEAL_FIELDS = [
  'title',
  'owner_id',
  'person_id',
  'org_id',
  'pipeline_id',
  'stage_id',
  'value',
  'currency',
  'status',
  'probability',
  'lost_reason',
  'visible_to',
  'close_time',
  'won_time',
  'lost_time',
  'expected_close_date',
  'label_ids',
  'custom_fields',
  'is_archived',
  'archive_time',
  'is_deleted',
] as const;

/** Applies a create/update body to a deal the way Pipedrive places deals. */
function applyDeal(state: FakePipedriveState, d: FakeDeal, b: Body, now: string): void {
  onlyFields(b, DEAL_FIELDS);
  const title = bodyStr(b, 'title');
  if (title !== undefined) d.title = title;
  const owner = bodyInt(b, 'owner_id');
  if (owner !== undefined) {
    if (!state.users.has(owner)) throw invalid(`owner_id: User with id ${owner} does not exist`);
    d.owner_id = owner;
  }
  if (b.org_id !== undefined) {
    const org = b.org_id === null ? null : bodyInt(b, 'org_id')!;
    if (org !== null && !state.orgs.has(org)) throw invalid(`org_id: Organization with id ${org} does not exist`);
    d.org_id = org;
  }
  if (b.value !== undefined) {
    if (typeof b.value !== 'number' || !Number.isFinite(b.value)) throw invalid('value: Expected number');
    d.value = b.value;
  }
  const currency = bodyStr(b, 'currency');
  if (currency !== undefined) {
    if (!/^[A-Z]{3}$/.test(currency)) throw invalid('currency: Expected a 3-letter currency code');
    d.currency = currency;
  }
  if (b.expected_close_date !== undefined) {
    const v = b.expected_close_date;
    if (v !== null && (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v))) {
      throw invalid('expected_close_date: Expected date in format YYYY-MM-DD');
    }
    d.expected_close_date = v as string | null;
  }
  // Placement: a stage implies its pipeline; a pipeline alone puts the deal in its first stage.
  const pipelineId = bodyInt(b, 'pipeline_id');
  const stageId = bodyInt(b, 'stage_id');
  let target: FakeStage | undefined;
  if (stageId !== undefined) {
    target = state.stages.get(stageId);
    if (!target || target.is_deleted) throw invalid(`stage_id: Stage with id ${stageId} does not exist`);
    if (pipelineId !== undefined && target.pipeline_id !== pipelineId) {
      throw invalid(`stage_id: Stage ${stageId} does not belong to pipeline ${pipelineId}`);
    }
  } else if (pipelineId !== undefined && pipelineId !== d.pipeline_id) {
    const p = state.pipelines.get(pipelineId);
    if (!p || p.is_deleted) throw invalid(`pipeline_id: Pipeline with id ${pipelineId} does not exist`);
    target = liveStages(state, pipelineId)[0];
    if (!target) throw invalid(`pipeline_id: Pipeline ${pipelineId} has no stages`);
  }
  if (target && target.id !== d.stage_id) {
    d.stage_id = target.id;
    d.pipeline_id = target.pipeline_id;
    d.history.push({ stage_id: target.id, time: now });
    if (d.history.length > 1) d.stage_change_time = now;
  }
  const status = b.status;
  if (status !== undefined) {
    if (status !== 'open' && status !== 'won' && status !== 'lost') {
      throw invalid(`status: Invalid enum value. Expected 'open' | 'won' | 'lost', received '${String(status)}'`);
    }
    if (status !== d.status) {
      d.status = status;
      d.won_time = status === 'won' ? now : null;
      d.lost_time = status === 'lost' ? now : null;
      d.close_time = status === 'open' ? null : now;
    }
  }
  d.update_time = now;
}

function deals(state: FakePipedriveState, req: RecordedRequest, id?: string): FakeResponse {
  if (id === undefined) {
    if (req.method === 'GET') {
      const q = req.query;
      const statuses = (str(q, 'status') ?? '').split(',').filter(Boolean);
      for (const s of statuses) {
        if (!['open', 'won', 'lost', 'deleted'].includes(s)) {
          throw invalid(`status: Invalid enum value. Expected 'open' | 'won' | 'lost' | 'deleted', received '${s}'`);
        }
      }
      const ids = str(q, 'ids')?.split(',').map((x) => Number(x));
      if (ids && ids.length > 100) throw invalid('ids: Must contain at most 100 items');
      const owner = int(q, 'owner_id');
      const pipelineId = int(q, 'pipeline_id');
      const stageId = int(q, 'stage_id');
      const orgId = int(q, 'org_id');
      const rows = [...state.deals.values()].filter((d) => {
        if (statuses.length) {
          const ok = d.is_deleted ? statuses.includes('deleted') : statuses.includes(d.status);
          if (!ok) return false;
        } else if (d.is_deleted) return false;
        if (ids && !ids.includes(d.id)) return false;
        if (owner !== undefined && d.owner_id !== owner) return false;
        if (pipelineId !== undefined && d.pipeline_id !== pipelineId) return false;
        if (stageId !== undefined && d.stage_id !== stageId) return false;
        if (orgId !== undefined && d.org_id !== orgId) return false;
        return true;
      });
      const { page, next_cursor } = paginate(rows, q, ['id', 'update_time', 'add_time']);
      return ok(page.map(dealView), { next_cursor });
    }
    if (req.method === 'POST') {
      const b = bodyOf(req);
      onlyFields(b, DEAL_FIELDS);
      bodyStr(b, 'title', true);
      const now = tick(state);
      const defaultPipeline = [...state.pipelines.values()]
        .filter((p) => !p.is_deleted)
        .sort((a, b2) => a.order_nr - b2.order_nr)[0];
      const d: FakeDeal = {
        id: state.nextId.deal,
        title: '',
        creator_user_id: state.authUserId,
        owner_id: state.authUserId,
        value: 0,
        person_id: null,
        org_id: null,
        stage_id: 0,
        pipeline_id: 0,
        currency: 'USD',
        add_time: now,
        update_time: now,
        stage_change_time: null,
        status: 'open',
        is_deleted: false,
        probability: null,
        expected_close_date: null,
        won_time: null,
        lost_time: null,
        close_time: null,
        history: [],
      };
      const placement = { ...b };
      if (placement.stage_id === undefined && placement.pipeline_id === undefined) {
        placement.pipeline_id = defaultPipeline.id;
      }
      applyDeal(state, d, placement, now);
      state.nextId.deal++;
      state.deals.set(d.id, d);
      return ok(dealView(d));
    }
    throw new PdError(405, 'Method not allowed');
  }
  const d = must(state.deals, pathId(id), 'Deal');
  if (d.is_deleted && req.method !== 'GET') throw new PdError(404, 'Deal not found');
  if (req.method === 'GET') return ok(dealView(d));
  if (req.method === 'PATCH') {
    applyDeal(state, d, bodyOf(req), tick(state));
    return ok(dealView(d));
  }
  if (req.method === 'DELETE') {
    d.is_deleted = true;
    d.update_time = tick(state);
    return ok({ id: d.id });
  }
  throw new PdError(405, 'Method not allowed');
}


// ---------------------------------------------------------------------------------------------
// Organizations, persons, activities (v2), notes (v1), and the v2 search endpoints

function noteView(n: FakeNote, state: FakePipedriveState) {
  const user = state.users.get(n.user_id);
  const deal = n.deal_id === null ? undefined : state.deals.get(n.deal_id);
  const org = n.org_id === null ? undefined : state.orgs.get(n.org_id);
  const person = n.person_id === null ? undefined : state.persons.get(n.person_id);
  return {
    ...set({ id: n.id, user_id: n.user_id, deal_id: n.deal_id, person_id: n.person_id, org_id: n.org_id, project_id: n.project_id }),
    active_flag: n.active_flag,
    add_time: n.add_time,
    update_time: n.update_time,
    content: n.content,
    last_update_user_id: n.user_id,
    pinned_to_deal_flag: false,
    pinned_to_organization_flag: false,
    pinned_to_person_flag: false,
    pinned_to_project_flag: false,
    ...(user ? { user: { email: user.email, icon_url: '', is_you: user.id === state.authUserId, name: user.name } } : {}),
    ...(deal ? { deal: { title: deal.title } } : {}),
    ...(org ? { organization: { name: org.name } } : {}),
    ...(person ? { person: { name: person.name } } : {}),
    ...(n.project_id !== null ? { project: { title: `Project ${n.project_id}` } } : {}),
  };
}

/** The ids of `ids=` (at most 100), or undefined. */
function idsOf(q: Record<string, unknown>): number[] | undefined {
  const ids = str(q, 'ids')?.split(',').map((x) => Number(x));
  if (ids && ids.length > 100) throw invalid('ids: Must contain at most 100 items');
  return ids;
}

function liveUser(state: FakePipedriveState, b: Body, key = 'owner_id'): number | undefined {
  const id = bodyInt(b, key);
  if (id !== undefined && !state.users.has(id)) throw invalid(`${key}: User with id ${id} does not exist`);
  return id;
}

/** A link to an organization, person or deal: it must exist and not be deleted. */
function liveLink(state: FakePipedriveState, b: Body, key: 'org_id' | 'person_id' | 'deal_id'): number | null | undefined {
  if (b[key] === null) return null;
  const id = bodyInt(b, key);
  if (id === undefined) return undefined;
  const found =
    key === 'org_id' ? state.orgs.get(id) : key === 'person_id' ? state.persons.get(id) : state.deals.get(id);
  const what = key === 'org_id' ? 'Organization' : key === 'person_id' ? 'Person' : 'Deal';
  if (!found || found.is_deleted) throw invalid(`${key}: ${what} with id ${id} does not exist`);
  return id;
}

function contactPoints(b: Body, key: 'emails' | 'phones'): FakeContactPoint[] | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw invalid(`${key}: Expected array`);
  return v.map((p: unknown) => {
    const point = p as Record<string, unknown>;
    if (typeof point !== 'object' || point === null || typeof point.value !== 'string') throw invalid(`${key}: Expected objects with a value`);
    onlyFields(point, ['value', 'primary', 'label']);
    return { value: point.value, primary: point.primary === true, label: typeof point.label === 'string' ? point.label : 'work' };
  });
}

const ORG_FIELDS = ['name', 'owner_id', 'add_time', 'visible_to', 'label_ids', 'address', 'website', 'linkedin', 'industry', 'annual_revenue', 'employee_count', 'custom_fields'];

function organizations(state: FakePipedriveState, req: RecordedRequest, id?: string): FakeResponse {
  if (id === undefined) {
    if (req.method === 'GET') {
      const ids = idsOf(req.query);
      const owner = int(req.query, 'owner_id');
      const rows = [...state.orgs.values()].filter((o) => !o.is_deleted && (!ids || ids.includes(o.id)) && (owner === undefined || o.owner_id === owner));
      const { page, next_cursor } = paginate(rows, req.query, ['id', 'update_time', 'add_time']);
      return ok(page.map(orgView), { next_cursor });
    }
    if (req.method === 'POST') {
      const b = bodyOf(req);
      onlyFields(b, ORG_FIELDS);
      const now = tick(state);
      const o: FakeOrg = {
        id: state.nextId.org,
        name: bodyStr(b, 'name', true)!,
        owner_id: liveUser(state, b) ?? state.authUserId,
        website: bodyStr(b, 'website') ?? null,
        address: null,
        is_deleted: false,
        add_time: now,
        update_time: now,
      };
      state.nextId.org++;
      state.orgs.set(o.id, o);
      return ok(orgView(o));
    }
    throw new PdError(405, 'Method not allowed');
  }
  const o = must(state.orgs, pathId(id), 'Organization');
  if (o.is_deleted && req.method !== 'GET') throw new PdError(404, 'Organization not found');
  if (req.method === 'GET') return ok(orgView(o));
  if (req.method === 'PATCH') {
    const b = bodyOf(req);
    onlyFields(b, ORG_FIELDS.filter((f) => f !== 'add_time'));
    const name = bodyStr(b, 'name');
    if (name !== undefined) o.name = name;
    const owner = liveUser(state, b);
    if (owner !== undefined) o.owner_id = owner;
    if (b.website !== undefined) o.website = b.website === null ? null : bodyStr(b, 'website')!;
    o.update_time = tick(state);
    return ok(orgView(o));
  }
  throw new PdError(405, 'Method not allowed');
}

const PERSON_FIELDS = ['name', 'owner_id', 'org_id', 'add_time', 'emails', 'phones', 'visible_to', 'label_ids', 'postal_address', 'notes', 'im', 'birthday', 'job_title', 'marketing_status', 'custom_fields'];

function applyPerson(state: FakePipedriveState, p: FakePerson, b: Body): void {
  const name = bodyStr(b, 'name');
  if (name !== undefined) p.name = name;
  const owner = liveUser(state, b);
  if (owner !== undefined) p.owner_id = owner;
  const org = liveLink(state, b, 'org_id');
  if (org !== undefined) p.org_id = org;
  p.emails = contactPoints(b, 'emails') ?? p.emails;
  p.phones = contactPoints(b, 'phones') ?? p.phones;
  if (b.job_title !== undefined) p.job_title = b.job_title === null ? null : bodyStr(b, 'job_title')!;
}

function persons(state: FakePipedriveState, req: RecordedRequest, id?: string): FakeResponse {
  if (id === undefined) {
    if (req.method === 'GET') {
      const q = req.query;
      const ids = idsOf(q);
      const owner = int(q, 'owner_id');
      const org = int(q, 'org_id');
      const rows = [...state.persons.values()].filter(
        (p) => !p.is_deleted && (!ids || ids.includes(p.id)) && (owner === undefined || p.owner_id === owner) && (org === undefined || p.org_id === org),
      );
      const { page, next_cursor } = paginate(rows, q, ['id', 'update_time', 'add_time']);
      return ok(page.map(personView), { next_cursor });
    }
    if (req.method === 'POST') {
      const b = bodyOf(req);
      onlyFields(b, PERSON_FIELDS);
      bodyStr(b, 'name', true);
      const now = tick(state);
      const p: FakePerson = {
        id: state.nextId.person,
        name: '',
        owner_id: state.authUserId,
        org_id: null,
        emails: [],
        phones: [],
        job_title: null,
        is_deleted: false,
        add_time: now,
        update_time: now,
      };
      applyPerson(state, p, b);
      state.nextId.person++;
      state.persons.set(p.id, p);
      return ok(personView(p));
    }
    throw new PdError(405, 'Method not allowed');
  }
  const p = must(state.persons, pathId(id), 'Person');
  if (p.is_deleted && req.method !== 'GET') throw new PdError(404, 'Person not found');
  if (req.method === 'GET') return ok(personView(p));
  if (req.method === 'PATCH') {
    const b = bodyOf(req);
    onlyFields(b, PERSON_FIELDS.filter((f) => f !== 'add_time'));
    applyPerson(state, p, b);
    p.update_time = tick(state);
    return ok(personView(p));
  }
  throw new PdError(405, 'Method not allowed');
}

const ACTIVITY_FIELDS = ['subject', 'type', 'owner_id', 'deal_id', 'lead_id', 'person_id', 'org_id', 'project_id', 'due_date', 'due_time', 'duration', 'busy', 'done', 'location', 'participants', 'attendees', 'public_description', 'priority', 'note'];

function applyActivity(state: FakePipedriveState, a: FakeActivity, b: Body, now: string): void {
  onlyFields(b, ACTIVITY_FIELDS);
  const type = bodyStr(b, 'type');
  if (type !== undefined) {
    if (!state.activityTypes.includes(type)) throw invalid(`type: Activity type '${type}' does not exist`);
    a.type = type;
  }
  const subject = bodyStr(b, 'subject');
  if (subject !== undefined) a.subject = subject;
  const owner = liveUser(state, b);
  if (owner !== undefined) a.owner_id = owner;
  for (const key of ['deal_id', 'org_id', 'person_id'] as const) {
    const link = liveLink(state, b, key);
    if (link !== undefined) a[key] = link;
  }
  if (b.project_id !== undefined) a.project_id = b.project_id === null ? null : bodyInt(b, 'project_id')!;
  if (b.due_date !== undefined) {
    const v = b.due_date;
    if (v !== null && (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v))) throw invalid('due_date: Expected date in format YYYY-MM-DD');
    a.due_date = v as string | null;
  }
  const done = bodyBool(b, 'done');
  if (done !== undefined && done !== a.done) {
    a.done = done;
    a.marked_as_done_time = done ? now : null;
  }
  if (b.note !== undefined) a.note = b.note === null ? null : String(b.note);
  a.update_time = now;
}

function activities(state: FakePipedriveState, req: RecordedRequest, id?: string): FakeResponse {
  if (id === undefined) {
    if (req.method === 'GET') {
      const q = req.query;
      const ids = idsOf(q);
      const filters = (['owner_id', 'deal_id', 'person_id', 'org_id'] as const).map((k) => [k, int(q, k)] as const);
      const doneRaw = str(q, 'done');
      if (doneRaw !== undefined && doneRaw !== 'true' && doneRaw !== 'false') throw invalid(`done: Expected boolean, received '${doneRaw}'`);
      const rows = [...state.activities.values()].filter(
        (a) =>
          !a.is_deleted &&
          (!ids || ids.includes(a.id)) &&
          filters.every(([k, v]) => v === undefined || a[k] === v) &&
          (doneRaw === undefined || a.done === (doneRaw === 'true')),
      );
      const { page, next_cursor } = paginate(rows, q, ['id', 'update_time', 'add_time', 'due_date']);
      return ok(page.map(activityView), { next_cursor });
    }
    if (req.method === 'POST') {
      const b = bodyOf(req);
      const now = tick(state);
      const a: FakeActivity = {
        id: state.nextId.activity,
        subject: '',
        type: 'task',
        owner_id: state.authUserId,
        creator_user_id: state.authUserId,
        deal_id: null,
        person_id: null,
        org_id: null,
        project_id: null,
        due_date: null,
        done: false,
        marked_as_done_time: null,
        note: null,
        is_deleted: false,
        add_time: now,
        update_time: now,
      };
      applyActivity(state, a, b, now);
      // Pipedrive names an activity without a subject after its type.
      if (!a.subject) a.subject = a.type[0].toUpperCase() + a.type.slice(1);
      state.nextId.activity++;
      state.activities.set(a.id, a);
      return ok(activityView(a));
    }
    throw new PdError(405, 'Method not allowed');
  }
  const a = must(state.activities, pathId(id), 'Activity');
  if (a.is_deleted && req.method !== 'GET') throw new PdError(404, 'Activity not found');
  if (req.method === 'GET') return ok(activityView(a));
  if (req.method === 'PATCH') {
    applyActivity(state, a, bodyOf(req), tick(state));
    return ok(activityView(a));
  }
  throw new PdError(405, 'Method not allowed');
}

const NOTE_FIELDS = ['content', 'lead_id', 'deal_id', 'person_id', 'org_id', 'project_id', 'task_id', 'user_id', 'add_time', 'pinned_to_lead_flag', 'pinned_to_deal_flag', 'pinned_to_organization_flag', 'pinned_to_person_flag', 'pinned_to_project_flag', 'pinned_to_task_flag'];
const NOTE_SORT = ['id', 'user_id', 'deal_id', 'person_id', 'org_id', 'content', 'add_time', 'update_time'] as const;

function applyNote(state: FakePipedriveState, n: FakeNote, b: Body): void {
  onlyFields(b, NOTE_FIELDS);
  const content = bodyStr(b, 'content');
  if (content !== undefined) n.content = content;
  const user = liveUser(state, b, 'user_id');
  if (user !== undefined) n.user_id = user;
  for (const key of ['deal_id', 'org_id', 'person_id'] as const) {
    const link = liveLink(state, b, key);
    if (link !== undefined) n[key] = link;
  }
  if (b.project_id !== undefined) n.project_id = bodyInt(b, 'project_id')!;
}

/** v1 offset pages: `start` (default 0) and `limit` in, additional_data.pagination out. */
function offsetPage<T>(rows: T[], q: Record<string, unknown>) {
  const start = int(q, 'start') ?? 0;
  const limit = int(q, 'limit') ?? 100;
  if (limit < 1 || limit > 500) throw invalid('limit: Must be between 1 and 500');
  const page = rows.slice(start, start + limit);
  const more = start + limit < rows.length;
  return { page, pagination: { start, limit, more_items_in_collection: more, ...(more ? { next_start: start + limit } : {}) } };
}

function notes(state: FakePipedriveState, req: RecordedRequest, id?: string): FakeResponse {
  if (id === undefined) {
    if (req.method === 'GET') {
      const q = req.query;
      const filters = (['user_id', 'deal_id', 'person_id', 'org_id', 'project_id'] as const).map((k) => [k, int(q, k)] as const);
      const rows = [...state.notes.values()].filter((n) => n.active_flag && filters.every(([k, v]) => v === undefined || n[k] === v));
      // sort: "field DIR, field DIR", applied in order; ties by id ascending.
      const keys = (str(q, 'sort') ?? 'id ASC').split(',').map((part) => {
        const [field, dir = 'ASC'] = part.trim().split(/\s+/);
        if (!(NOTE_SORT as readonly string[]).includes(field) || !/^(ASC|DESC)$/i.test(dir)) throw invalid(`sort: Invalid sort '${part.trim()}'`);
        return { field: field as (typeof NOTE_SORT)[number], sign: /^desc$/i.test(dir) ? -1 : 1 };
      });
      rows.sort((a, b) => {
        for (const k of keys) {
          const x = a[k.field] ?? '';
          const y = b[k.field] ?? '';
          if (x !== y) return (x < y ? -1 : 1) * k.sign;
        }
        return a.id - b.id;
      });
      const { page, pagination } = offsetPage(rows, q);
      return ok(page.map((n) => noteView(n, state)), { pagination });
    }
    if (req.method === 'POST') {
      const b = bodyOf(req);
      bodyStr(b, 'content', true);
      if (!['deal_id', 'person_id', 'org_id', 'project_id', 'lead_id', 'task_id'].some((k) => b[k] !== undefined)) {
        throw invalid('Note must be attached to a deal, lead, person, organization, project or task');
      }
      const now = v1Time(tick(state));
      const n: FakeNote = {
        id: state.nextId.note,
        content: '',
        user_id: state.authUserId,
        deal_id: null,
        person_id: null,
        org_id: null,
        project_id: null,
        active_flag: true,
        add_time: now,
        update_time: now,
      };
      applyNote(state, n, b);
      state.nextId.note++;
      state.notes.set(n.id, n);
      return ok(noteView(n, state));
    }
    throw new PdError(405, 'Method not allowed');
  }
  const n = must(state.notes, pathId(id), 'Note');
  if (!n.active_flag) throw new PdError(404, 'Note not found');
  if (req.method === 'GET') return ok(noteView(n, state));
  if (req.method === 'PUT') {
    applyNote(state, n, bodyOf(req));
    n.update_time = v1Time(tick(state));
    return ok(noteView(n, state));
  }
  throw new PdError(405, 'Method not allowed');
}

/**
 * /deals/search, /organizations/search, /persons/search: `term` (2+ characters, or 1 with
 * exact_match) in the fields asked for, hits best first ({result_score, item}), cursor paged.
 */
function search(state: FakePipedriveState, req: RecordedRequest, kind: 'deals' | 'organizations' | 'persons'): FakeResponse {
  if (req.method !== 'GET') throw new PdError(405, 'Method not allowed');
  const q = req.query;
  const term = str(q, 'term');
  const exact = str(q, 'exact_match') === 'true';
  if (term === undefined) throw invalid("term: Parameter 'term' is required");
  if (term.length < (exact ? 1 : 2)) throw invalid('term: Must be at least 2 characters long');
  const allowed = { deals: ['custom_fields', 'notes', 'title'], organizations: ['address', 'custom_fields', 'notes', 'name'], persons: ['custom_fields', 'email', 'notes', 'phone', 'name'] }[kind];
  const fields = (str(q, 'fields') ?? allowed.join(',')).split(',');
  for (const f of fields) if (!allowed.includes(f)) throw invalid(`fields: Invalid field '${f}'`);
  const needle = term.toLowerCase();
  const score = (values: Array<string | null | undefined>): number => {
    let best = 0;
    for (const v of values) {
      const t = v?.toLowerCase();
      if (!t) continue;
      if (t === needle) best = Math.max(best, 1);
      else if (!exact && t.startsWith(needle)) best = Math.max(best, 0.8);
      else if (!exact && t.includes(needle)) best = Math.max(best, 0.5);
    }
    return best;
  };
  let hits: Array<{ result_score: number; item: Record<string, unknown> }>;
  if (kind === 'deals') {
    const orgFilter = int(q, 'organization_id');
    hits = [...state.deals.values()]
      .filter((d) => !d.is_deleted && (orgFilter === undefined || d.org_id === orgFilter))
      .map((d) => {
        const org = d.org_id === null ? undefined : state.orgs.get(d.org_id);
        return {
          result_score: fields.includes('title') ? score([d.title]) : 0,
          item: {
            id: d.id,
            type: 'deal',
            title: d.title,
            value: d.value,
            currency: d.currency,
            status: d.status,
            visible_to: 3,
            owner: { id: d.owner_id },
            stage: { id: d.stage_id, name: state.stages.get(d.stage_id)?.name ?? '' },
            person: null,
            organization: org ? { id: org.id, name: org.name } : null,
            custom_fields: [],
            notes: [],
            is_archived: false,
          },
        };
      });
  } else if (kind === 'organizations') {
    hits = [...state.orgs.values()]
      .filter((o) => !o.is_deleted)
      .map((o) => ({
        result_score: Math.max(fields.includes('name') ? score([o.name]) : 0, fields.includes('address') ? score([o.address]) : 0),
        item: { id: o.id, type: 'organization', name: o.name, ...(o.address ? { address: o.address } : {}), visible_to: 3, owner: { id: o.owner_id }, custom_fields: [], notes: [] },
      }));
  } else {
    const orgFilter = int(q, 'organization_id');
    hits = [...state.persons.values()]
      .filter((p) => !p.is_deleted && (orgFilter === undefined || p.org_id === orgFilter))
      .map((p) => {
        const org = p.org_id === null ? undefined : state.orgs.get(p.org_id);
        return {
          result_score: Math.max(
            fields.includes('name') ? score([p.name]) : 0,
            fields.includes('email') ? score(p.emails.map((e) => e.value)) : 0,
            fields.includes('phone') ? score(p.phones.map((e) => e.value)) : 0,
          ),
          item: {
            id: p.id,
            type: 'person',
            name: p.name,
            phones: p.phones.map((e) => e.value),
            emails: p.emails.map((e) => e.value),
            visible_to: 3,
            owner: { id: p.owner_id },
            ...(org ? { organization: { id: org.id, name: org.name } } : {}),
            custom_fields: [],
            notes: [],
          },
        };
      });
  }
  const ranked = hits.filter((h) => h.result_score > 0).sort((a, b) => b.result_score - a.result_score || Number(a.item.id) - Number(b.item.id));
  const limit = int(q, 'limit') ?? 100;
  if (limit < 1 || limit > 500) throw invalid('limit: Must be between 1 and 500');
  const raw = str(q, 'cursor');
  let start = 0;
  if (raw !== undefined) {
    const m = /^s(\d+)$/.exec(Buffer.from(raw, 'base64url').toString('utf8'));
    if (!m) throw invalid('cursor: Invalid cursor');
    start = Number(m[1]);
  }
  const page = ranked.slice(start, start + limit);
  const next_cursor = start + limit < ranked.length ? Buffer.from(`s${start + limit}`).toString('base64url') : null;
  return ok({ items: page }, { next_cursor });
}

// ---------------------------------------------------------------------------------------------
// v1 statistics, computed from the seeded stage histories

function period(q: Record<string, unknown>): { from: number; to: number } {
  const dates: number[] = [];
  for (const key of ['start_date', 'end_date']) {
    const v = str(q, key);
    if (v === undefined) throw invalid(`${key}: Parameter '${key}' is required`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))) {
      throw invalid(`${key}: Expected date in format YYYY-MM-DD`);
    }
    dates.push(Date.parse(`${v}T00:00:00Z`));
  }
  if (dates[0] > dates[1]) throw invalid('start_date: Must be before end_date');
  return { from: dates[0], to: dates[1] + DAY - 1 };
}

function statsDeals(state: FakePipedriveState, req: RecordedRequest, pipelineId: number) {
  must(state.pipelines, pipelineId, 'Pipeline');
  const userId = int(req.query, 'user_id') ?? state.authUserId;
  if (!state.users.has(userId)) throw new PdError(404, 'User not found');
  const { from, to } = period(req.query);
  const mine = [...state.deals.values()].filter((d) => !d.is_deleted && d.pipeline_id === pipelineId && d.owner_id === userId);
  return { mine, from, to, stages: liveStages(state, pipelineId) };
}

const within = (t: string | null, from: number, to: number) => t !== null && Date.parse(t) >= from && Date.parse(t) <= to;
const pct = (n: number, of: number) => (of === 0 ? 0 : Math.round((100 * n) / of));

function conversion(state: FakePipedriveState, req: RecordedRequest, pipelineId: number): FakeResponse {
  const { mine, from, to, stages } = statsDeals(state, req, pipelineId);
  const cohort = mine.filter((d) => within(d.add_time, from, to));
  const reached = (d: FakeDeal, stageId: number) => d.history.some((h) => h.stage_id === stageId);
  const stage_conversions = stages.slice(0, -1).map((s, i) => {
    const next = stages[i + 1];
    const base = cohort.filter((d) => reached(d, s.id));
    return {
      from_stage_id: s.id,
      to_stage_id: next.id,
      conversion_rate: pct(base.filter((d) => reached(d, next.id)).length, base.length),
    };
  });
  return ok({
    stage_conversions,
    won_conversion: pct(cohort.filter((d) => d.status === 'won').length, cohort.length),
    lost_conversion: pct(cohort.filter((d) => d.status === 'lost').length, cohort.length),
  });
}

function group(ds: FakeDeal[]) {
  const values: Record<string, number> = {};
  for (const d of ds) values[d.currency] = (values[d.currency] ?? 0) + d.value;
  const formatted_values = Object.fromEntries(
    Object.entries(values).map(([c, v]) => [c, `${c === 'USD' ? 'US$' : c === 'EUR' ? '€' : `${c} `}${v.toLocaleString('en-US')}`]),
  );
  return { count: ds.length, deals_ids: ds.map((d) => d.id), values, formatted_values };
}

function movement(state: FakePipedriveState, req: RecordedRequest, pipelineId: number): FakeResponse {
  const { mine, from, to, stages } = statsDeals(state, req, pipelineId);
  const moves = mine.reduce((n, d) => n + d.history.slice(1).filter((h) => within(h.time, from, to)).length, 0);
  const open = mine.filter((d) => d.status === 'open' && Date.parse(d.add_time) <= to);
  const days = (since: string) => Math.max(0, Math.round((to - Date.parse(since)) / DAY));
  const avg = (xs: number[]) => (xs.length ? Math.round(xs.reduce((a, b) => a + b, 0) / xs.length) : 0);
  return ok({
    movements_between_stages: { count: moves },
    new_deals: group(mine.filter((d) => within(d.add_time, from, to))),
    deals_left_open: group(open),
    won_deals: group(mine.filter((d) => d.status === 'won' && within(d.won_time, from, to))),
    lost_deals: group(mine.filter((d) => d.status === 'lost' && within(d.lost_time, from, to))),
    average_age_in_days: {
      across_all_stages: avg(open.map((d) => days(d.add_time))),
      by_stages: stages.map((s) => ({
        stage_id: s.id,
        value: avg(open.filter((d) => d.stage_id === s.id).map((d) => days(d.stage_change_time ?? d.add_time))),
      })),
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Server

export interface FakePipedriveOptions {
  token?: string;
  latencyMs?: number;
  /** Burst limit per rolling 2 s window reported in x-ratelimit-limit (Lite plan: 20). */
  burstLimit?: number;
  /** Answer 429 once the burst is exhausted (off by default so unrelated tests never race it). */
  enforceBurst?: boolean;
  /** Serve under this path too (a proxy base URL such as /t/<token>); `url` then includes it. */
  basePath?: string;
}

/** An answer a handler gave (before any injected fault replaced it). */
export interface FakeAnswer {
  request: RecordedRequest;
  status: number;
  body: unknown;
}

export interface FakePipedrive {
  url: string;
  server: FakeServer;
  state: FakePipedriveState;
  /** Every answer the handlers gave, in order (faults injected by FakeServer are not in it). */
  answers: FakeAnswer[];
  /**
   * Holds the next answers until `n` requests have reached the handler (or `timeoutMs` passed):
   * proves requests were in flight together without timing thresholds. `reached()` tells which.
   */
  barrier(n: number, timeoutMs?: number): { reached(): boolean; arrived(): number };
  stop(): Promise<void>;
}

// Long and random-looking, so the secret scan (test/helpers/secrets.ts) can tell a fragment from ordinary text.
export const DEFAULT_TOKEN = 'pd_jK10LfqJctw9di9gfaVVoi1LHvlNNfoEqWKKD11J';
const WINDOW_MS = 2000;

export async function startFakePipedrive(opts: FakePipedriveOptions = {}): Promise<FakePipedrive> {
  const token = opts.token ?? DEFAULT_TOKEN;
  const burst = opts.burstLimit ?? 20;
  const state = seedState(token);
  const recent: number[] = [];
  const answers: FakeAnswer[] = [];

  const route = (req: RecordedRequest): FakeResponse => {
    const supplied = req.headers['x-api-token'] ?? req.query.api_token;
    if (supplied !== state.token) throw new PdError(401, 'unauthorized access');
    const p = req.path;
    let m: RegExpExecArray | null;
    if ((m = /^\/api\/v2\/(deals|organizations|persons)\/search$/.exec(p))) return search(state, req, m[1] as 'deals' | 'organizations' | 'persons');
    if ((m = /^\/api\/v2\/pipelines(?:\/([^/]+))?$/.exec(p))) return pipelines(state, req, m[1]);
    if ((m = /^\/api\/v2\/stages(?:\/([^/]+))?$/.exec(p))) return stages(state, req, m[1]);
    if ((m = /^\/api\/v2\/deals(?:\/([^/]+))?$/.exec(p))) return deals(state, req, m[1]);
    if ((m = /^\/api\/v2\/organizations(?:\/([^/]+))?$/.exec(p))) return organizations(state, req, m[1]);
    if ((m = /^\/api\/v2\/persons(?:\/([^/]+))?$/.exec(p))) return persons(state, req, m[1]);
    if ((m = /^\/api\/v2\/activities(?:\/([^/]+))?$/.exec(p))) return activities(state, req, m[1]);
    if ((m = /^\/api\/v1\/notes(?:\/([^/]+))?$/.exec(p))) return notes(state, req, m[1]);
    if (p === '/api/v1/users' && req.method === 'GET') {
      return ok([...state.users.values()].map((u) => userView(u, state)));
    }
    if ((m = /^\/api\/v1\/pipelines\/([^/]+)\/(conversion|movement)_statistics$/.exec(p)) && req.method === 'GET') {
      const id = pathId(m[1]);
      return m[2] === 'conversion' ? conversion(state, req, id) : movement(state, req, id);
    }
    throw new PdError(404, `Unknown method ${req.method} ${p}`);
  };

  const server = new FakeServer(async (req) => {
    // Rolling 2-second burst window, per token, as Pipedrive counts it.
    const now = Date.now();
    while (recent.length && recent[0] <= now - WINDOW_MS) recent.shift();
    recent.push(now);
    const remaining = Math.max(0, burst - recent.length);
    const headers = {
      'x-ratelimit-limit': String(burst),
      'x-ratelimit-remaining': String(remaining),
      'x-ratelimit-reset': String(Math.max(1, Math.ceil((recent[0] + WINDOW_MS - now) / 1000))),
    };
    if (opts.enforceBurst && recent.length > burst) {
      return { status: 429, headers, body: errorBody(429, 'Request over limit') };
    }
    try {
      const answer = route(req);
      answers.push({ request: req, status: answer.status, body: answer.body });
      const env = answer.body as { additional_data?: { next_cursor?: string | null } } | undefined;
      if (state.loopCursor.has(req.path) && typeof req.query.cursor === 'string' && env?.additional_data?.next_cursor) {
        env.additional_data.next_cursor = req.query.cursor;
      }
      return { ...answer, headers: { ...headers, ...answer.headers } };
    } catch (e) {
      if (e instanceof PdError) {
        const body = errorBody(e.status, e.error, e.extra);
        answers.push({ request: req, status: e.status, body });
        return { status: e.status, headers, body };
      }
      throw e;
    }
  });
  server.latencyMs = opts.latencyMs ?? 0;
  server.basePath = opts.basePath ?? '';
  const url = `${await server.start()}${server.basePath}`;

  return {
    url,
    server,
    state,
    answers,
    barrier: (n, timeoutMs) => server.barrier(n, timeoutMs),
    stop: () => server.stop(),
  };
}
