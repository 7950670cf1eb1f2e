/**
 * A stateful fake Pipedrive on a real HTTP server (127.0.0.1), speaking the wire format of
 * provider-apis.md §2: `x-api-token` auth, API v2 pipelines/stages/deals/organizations with cursor
 * pagination, v1 users and pipeline statistics, `{success:false, error, error_info}` errors and
 * rate-limit headers on every answer. Seeded deterministically (no clock, no randomness between
 * runs) so contract tests can assert exact requests and results.
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
  nextId: { pipeline: number; stage: number; deal: number };
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
  users: 3,
  orgs: 6,
  deals: 250,
} as const;

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
    nextId: { pipeline: 3, stage: 11, deal: SEED.deals + 1 },
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
  ['Alice Admin', 'Bob Seller', 'Carla Closer'].forEach((name, i) =>
    state.users.set(i + 1, {
      id: i + 1,
      name,
      email: `${name.split(' ')[0].toLowerCase()}@example.com`,
      active_flag: true,
    }),
  );
  ['Acme Corp', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark Industries'].forEach((name, i) =>
    state.orgs.set(i + 1, { id: i + 1, name, owner_id: 1, add_time: t0, update_time: t0 }),
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
      owner_id: 1 + Math.floor(rnd() * SEED.users),
      value: (1 + Math.floor(rnd() * 40)) * 500,
      person_id: null,
      org_id: rnd() < 0.8 ? 1 + Math.floor(rnd() * SEED.orgs) : null,
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
  return state;
}

// ---------------------------------------------------------------------------------------------
// Wire views (what Pipedrive sends)

const pipelineView = (p: FakePipeline) => ({ ...p });
const stageView = (s: FakeStage) => ({ ...s });
const orgView = (o: FakeOrg) => ({
  ...o,
  is_deleted: false,
  visible_to: 3,
  address: null,
  label_ids: [],
  custom_fields: {},
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

function organizations(state: FakePipedriveState, req: RecordedRequest): FakeResponse {
  if (req.method !== 'GET') throw new PdError(405, 'Method not allowed');
  const ids = str(req.query, 'ids')?.split(',').map((x) => Number(x));
  if (ids && ids.length > 100) throw invalid('ids: Must contain at most 100 items');
  const rows = [...state.orgs.values()].filter((o) => !ids || ids.includes(o.id));
  const { page, next_cursor } = paginate(rows, req.query, ['id', 'update_time', 'add_time']);
  return ok(page.map(orgView), { next_cursor });
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

export interface FakePipedrive {
  url: string;
  server: FakeServer;
  state: FakePipedriveState;
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

  const route = (req: RecordedRequest): FakeResponse => {
    const supplied = req.headers['x-api-token'] ?? req.query.api_token;
    if (supplied !== state.token) throw new PdError(401, 'unauthorized access');
    const p = req.path;
    let m: RegExpExecArray | null;
    if ((m = /^\/api\/v2\/pipelines(?:\/([^/]+))?$/.exec(p))) return pipelines(state, req, m[1]);
    if ((m = /^\/api\/v2\/stages(?:\/([^/]+))?$/.exec(p))) return stages(state, req, m[1]);
    if ((m = /^\/api\/v2\/deals(?:\/([^/]+))?$/.exec(p))) return deals(state, req, m[1]);
    if (p === '/api/v2/organizations') return organizations(state, req);
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
      const env = answer.body as { additional_data?: { next_cursor?: string | null } } | undefined;
      if (state.loopCursor.has(req.path) && typeof req.query.cursor === 'string' && env?.additional_data?.next_cursor) {
        env.additional_data.next_cursor = req.query.cursor;
      }
      return { ...answer, headers: { ...headers, ...answer.headers } };
    } catch (e) {
      if (e instanceof PdError) return { status: e.status, headers, body: errorBody(e.status, e.error, e.extra) };
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
    barrier: (n, timeoutMs) => server.barrier(n, timeoutMs),
    stop: () => server.stop(),
  };
}
