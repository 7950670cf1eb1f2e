/**
 * A stateful fake of Insightly's REST API v3.1 on FakeServer, in its wire format (see
 * src/providers/insightly/capabilities.ts for the sources): everything under /v3.1, HTTP Basic
 * auth with the API key as user name and an empty password, bare JSON (an array for a list, the
 * record for a get, create or update), UPPER_SNAKE records with "yyyy-MM-dd HH:mm:ss" dates,
 * `skip`/`top` pages of at most 500 (100 by default) with X-Total-Count on `count_total`,
 * `brief=true` leaving out TAGS, CUSTOMFIELDS and LINKS, one field filter through
 * /{Collection}/Search, PUT with the id in the body changing only the fields sent, PIPELINE_ID and
 * STAGE_ID read-only on records and changed through /{id}/Pipeline and /{id}/PipelineStage,
 * DELETE answering 202 with no body, read-only /Pipelines and /PipelineStages, X-RateLimit-Limit and
 * X-RateLimit-Remaining on every answer, a 429 for the daily quota (remaining 0) and, when switched
 * on, for more than 10 requests in a second, and ASP.NET Web API error bodies ({"Message"} and
 * ModelState). Deterministic: ids and dates come from counters, never the clock (except the
 * optional per-second window).
 */
import { FakeServer, type FakeResponse, type RecordedRequest } from './server.js';

// Long and random-looking, so the secret scan (test/helpers/secrets.ts) can tell a fragment from ordinary text.
export const FAKE_INSIGHTLY_KEY = 'il7c1f3a9e-52d4-4b8e-a6f0-9dX2qLmV8nTz';

export type Row = Record<string, unknown>;
type CollectionName = 'Opportunities' | 'Projects';
const ID_KEY: Record<CollectionName, string> = { Opportunities: 'OPPORTUNITY_ID', Projects: 'PROJECT_ID' };
const FLAG: Record<CollectionName, string> = { Opportunities: 'FOR_OPPORTUNITIES', Projects: 'FOR_PROJECTS' };
const NAME_KEY: Record<CollectionName, string> = { Opportunities: 'OPPORTUNITY_NAME', Projects: 'PROJECT_NAME' };

export const PROJECT_STATUSES = ['Not Started', 'In Progress', 'Deferred', 'Cancelled', 'Abandoned', 'Completed'];
export const OPPORTUNITY_STATES = ['Open', 'Won', 'Lost', 'Abandoned', 'Suspended'];

export interface FakeInsightlyState {
  key: string;
  pipelines: Map<number, Row>;
  stages: Map<number, Row>;
  users: Map<number, Row>;
  records: Record<CollectionName, Map<number, Row>>;
  /** Largest `top` served (Insightly: 500); asking for more gets this many. */
  maxTop: number;
  /** Answer X-Total-Count when count_total=true (on by default). */
  countTotal: boolean;
  /** Paths whose pages ignore `skip` (a broken proxy): the first page again and again. */
  ignoreSkip: Set<string>;
  /** Requests a day for this account (X-RateLimit-Limit) and how many were made. */
  dailyLimit: number;
  used: number;
  /** More than this many requests in a rolling second answer 429 with Retry-After (0: off). */
  perSecond: number;
  /** Bodies that tried to write PIPELINE_ID or STAGE_ID on a record (read-only there: ignored). */
  readOnlyWrites: Array<{ path: string; field: string }>;
  tick: number;
  nextId: number;
}

export interface FakeInsightly {
  url: string;
  server: FakeServer;
  state: FakeInsightlyState;
  /** The next `times` requests (optionally matching) answer 429 like the per-second limit. */
  rateLimit(times?: number, retryAfterSeconds?: number, match?: (r: RecordedRequest) => boolean): void;
  stop(): Promise<void>;
}

export async function startFakeInsightly(opts: { key?: string; latencyMs?: number } = {}): Promise<FakeInsightly> {
  const state = createState(opts.key ?? FAKE_INSIGHTLY_KEY);
  const arrivals: number[] = [];
  const server = new FakeServer((req) => withLimits(state, arrivals, req));
  server.latencyMs = opts.latencyMs ?? 0;
  const url = await server.start();
  return {
    url,
    server,
    state,
    rateLimit(times = 1, retryAfterSeconds = 1, match) {
      server.inject(
        {
          kind: 'status',
          status: 429,
          headers: { 'Retry-After': String(retryAfterSeconds), 'X-RateLimit-Limit': String(state.dailyLimit), 'X-RateLimit-Remaining': '4242' },
          body: { Message: 'Too many requests; the limit is 10 requests per second.' },
        },
        { times, match },
      );
    },
    stop: () => server.stop(),
  };
}

// ---------------------------------------------------------------------------------------------
// Seed data: 4 pipelines (2 for opportunities, 2 for projects), 14 stages, 4 users,
// 300 opportunities and 60 projects.

export const stamp = (n: number): string => {
  const d = new Date(Date.UTC(2026, 0, 1) + n * 3_600_000).toISOString();
  return `${d.slice(0, 10)} ${d.slice(11, 19)}`;
};

function createState(key: string): FakeInsightlyState {
  const state: FakeInsightlyState = {
    key,
    pipelines: new Map(),
    stages: new Map(),
    users: new Map(),
    records: { Opportunities: new Map(), Projects: new Map() },
    maxTop: 500,
    countTotal: true,
    ignoreSkip: new Set(),
    dailyLimit: 100_000,
    used: 0,
    perSecond: 0,
    readOnlyWrites: [],
    tick: 100,
    nextId: 90_000,
  };
  const users: Array<[number, string, string]> = [
    [11, 'Ada', 'Lovelace'],
    [12, 'Grace', 'Hopper'],
    [13, 'Alan', 'Turing'],
    [14, 'Katherine', 'Johnson'],
  ];
  for (const [id, first, last] of users) {
    state.users.set(id, { USER_ID: id, FIRST_NAME: first, LAST_NAME: last, EMAIL_ADDRESS: `${first.toLowerCase()}@example.com`, ACTIVE: true });
  }
  const pipelines: Array<[number, string, 'opp' | 'proj', string[]]> = [
    [1, 'Sales', 'opp', ['Lead In', 'Qualified', 'Proposal', 'Negotiation', 'Contract Sent']],
    [2, 'Partnerships', 'opp', ['Intro', 'Evaluation', 'Signed']],
    [3, 'Delivery', 'proj', ['Kick-off', 'Build', 'Review', 'Handover']],
    [4, 'Onboarding', 'proj', ['Welcome', 'Training']],
  ];
  for (const [id, name, kind, stageNames] of pipelines) {
    state.pipelines.set(id, { PIPELINE_ID: id, PIPELINE_NAME: name, FOR_OPPORTUNITIES: kind === 'opp', FOR_PROJECTS: kind === 'proj', OWNER_USER_ID: 11 });
    stageNames.forEach((s, i) => {
      const sid = id * 100 + i + 1;
      state.stages.set(sid, { STAGE_ID: sid, PIPELINE_ID: id, STAGE_NAME: s, STAGE_ORDER: i + 1, ACTIVITYSET_ID: null, OWNER_USER_ID: 11 });
    });
  }
  const currencies = ['USD', 'EUR', 'GBP'];
  for (let i = 1; i <= 300; i++) {
    const id = 5000 + i;
    // 180 in Sales, 80 in Partnerships, 40 in no pipeline.
    const pipeline = i <= 180 ? 1 : i <= 260 ? 2 : null;
    const stageCount = pipeline === 1 ? 5 : 3;
    const stage = pipeline === null ? null : pipeline * 100 + ((i % stageCount) + 1);
    state.records.Opportunities.set(id, {
      OPPORTUNITY_ID: id,
      OPPORTUNITY_NAME: `Opportunity ${i}`,
      OPPORTUNITY_DETAILS: null,
      OPPORTUNITY_STATE: OPPORTUNITY_STATES[i % 7 < 4 ? 0 : (i % 7) - 3],
      RESPONSIBLE_USER_ID: i % 5 === 0 ? null : 11 + (i % 4),
      OWNER_USER_ID: 11 + ((i + 1) % 4),
      CATEGORY_ID: null,
      BID_CURRENCY: currencies[i % 3],
      BID_AMOUNT: 1000 + i * 10,
      BID_TYPE: 'Fixed Bid',
      BID_DURATION: null,
      OPPORTUNITY_VALUE: 1000 + i * 10,
      PROBABILITY: (i * 7) % 100,
      FORECAST_CLOSE_DATE: `2026-${String((i % 12) + 1).padStart(2, '0')}-15 00:00:00`,
      ACTUAL_CLOSE_DATE: null,
      PIPELINE_ID: pipeline,
      STAGE_ID: stage,
      ORGANISATION_ID: i % 3 === 0 ? 700 + (i % 10) : null,
      DATE_CREATED_UTC: stamp(i),
      DATE_UPDATED_UTC: stamp(i + 500),
      VISIBLE_TO: 'EVERYONE',
      CUSTOMFIELDS: [],
      TAGS: i % 10 === 0 ? [{ TAG_NAME: 'priority' }] : [],
      LINKS: [],
    });
  }
  for (let i = 1; i <= 60; i++) {
    const id = 8000 + i;
    // 35 in Delivery, 15 in Onboarding, 10 in no pipeline.
    const pipeline = i <= 35 ? 3 : i <= 50 ? 4 : null;
    const stage = pipeline === null ? null : pipeline * 100 + ((i % (pipeline === 3 ? 4 : 2)) + 1);
    state.records.Projects.set(id, {
      PROJECT_ID: id,
      PROJECT_NAME: `Project ${i}`,
      STATUS: PROJECT_STATUSES[i % 6],
      PROJECT_DETAILS: i % 4 === 0 ? `Details of project ${i}` : null,
      OPPORTUNITY_ID: i % 5 === 0 ? 5000 + i : null,
      STARTED_DATE: stamp(i * 24),
      COMPLETED_DATE: i % 6 === 5 ? `2026-06-${String((i % 28) + 1).padStart(2, '0')} 00:00:00` : null,
      IMAGE_URL: null,
      RESPONSIBLE_USER_ID: i % 4 === 0 ? null : 11 + (i % 4),
      OWNER_USER_ID: 11 + ((i + 2) % 4),
      CATEGORY_ID: null,
      PIPELINE_ID: pipeline,
      STAGE_ID: stage,
      DATE_CREATED_UTC: stamp(i),
      DATE_UPDATED_UTC: stamp(i + 900),
      LAST_ACTIVITY_DATE_UTC: i % 3 === 0 ? stamp(i + 950) : null,
      VISIBLE_TO: 'EVERYONE',
      CUSTOMFIELDS: i % 3 === 0 ? [{ FIELD_NAME: 'Budget_Code__c', FIELD_VALUE: `BC-${i}` }] : [],
      TAGS: i % 2 === 0 ? [{ TAG_NAME: 'enterprise' }] : [],
      LINKS: [],
    });
  }
  return state;
}

// ---------------------------------------------------------------------------------------------
// Answers

const message = (status: number, text: string): FakeResponse => ({ status, body: { Message: text } });
const invalid = (field: string, text: string): FakeResponse => ({
  status: 400,
  body: { Message: 'The request is invalid.', ModelState: { [field]: [text] } },
});

function withLimits(state: FakeInsightlyState, arrivals: number[], req: RecordedRequest): FakeResponse {
  const answer = handle(state, arrivals, req);
  return {
    ...answer,
    headers: {
      'X-RateLimit-Limit': String(state.dailyLimit),
      'X-RateLimit-Remaining': String(Math.max(0, state.dailyLimit - state.used)),
      ...answer.headers,
    },
  };
}

function handle(state: FakeInsightlyState, arrivals: number[], req: RecordedRequest): FakeResponse {
  const expected = `Basic ${Buffer.from(`${state.key}:`).toString('base64')}`;
  if (req.headers.authorization !== expected) return message(401, 'Authorization has been denied for this request.');
  if (state.used >= state.dailyLimit) {
    return { status: 429, headers: { 'X-RateLimit-Remaining': '0' }, body: { Message: 'API daily request limit reached.' } };
  }
  if (state.perSecond > 0) {
    const now = Date.now();
    while (arrivals.length && arrivals[0] <= now - 1000) arrivals.shift();
    if (arrivals.length >= state.perSecond) {
      return { status: 429, headers: { 'Retry-After': '1' }, body: { Message: 'Too many requests; the limit is 10 requests per second.' } };
    }
    arrivals.push(now);
  }
  state.used += 1;
  if (!req.path.startsWith('/v3.1/')) return message(404, 'No HTTP resource was found that matches the request URI.');
  const parts = req.path.slice('/v3.1/'.length).split('/').map(decodeURIComponent);
  const [collection, second, third] = parts;
  const notAllowed = () => message(405, `The requested resource does not support http method '${req.method}'.`);

  switch (collection) {
    case 'Pipelines':
    case 'PipelineStages':
    case 'Users': {
      const map = collection === 'Pipelines' ? state.pipelines : collection === 'PipelineStages' ? state.stages : state.users;
      if (req.method !== 'GET' || parts.length > 2) return notAllowed();
      if (second === undefined) return listing(state, req, [...map.values()]);
      const row = map.get(Number(second));
      return row ? { status: 200, body: row } : message(404, 'Not Found');
    }
    case 'Opportunities':
    case 'Projects':
      return records(state, req, collection, second, third, parts.length);
    default:
      return message(404, 'No HTTP resource was found that matches the request URI.');
  }
}

const BRIEF_DROPS = ['TAGS', 'CUSTOMFIELDS', 'LINKS'];
const truthy = (v: unknown) => String(v).toLowerCase() === 'true';

/** A page of `rows` as Insightly serves it: skip/top (max 500, default 100), X-Total-Count on count_total, brief. */
function listing(state: FakeInsightlyState, req: RecordedRequest, rows: Row[]): FakeResponse {
  const q = req.query;
  const top = q.top === undefined ? 100 : Number(q.top);
  const skip = q.skip === undefined || state.ignoreSkip.has(req.path) ? 0 : Number(q.skip);
  if (!Number.isInteger(top) || top < 0 || !Number.isInteger(skip) || skip < 0) return message(400, 'The request is invalid.');
  const brief = truthy(q.brief);
  const page = rows.slice(skip, skip + Math.min(top, state.maxTop)).map((r) => (brief ? Object.fromEntries(Object.entries(r).filter(([k]) => !BRIEF_DROPS.includes(k))) : r));
  return {
    status: 200,
    body: page,
    ...(state.countTotal && truthy(q.count_total) ? { headers: { 'X-Total-Count': String(rows.length) } } : {}),
  };
}

function records(state: FakeInsightlyState, req: RecordedRequest, c: CollectionName, second: string | undefined, third: string | undefined, depth: number): FakeResponse {
  const map = state.records[c];
  const idKey = ID_KEY[c];
  if (second === undefined) {
    if (req.method === 'GET') return listing(state, req, [...map.values()].sort((a, b) => Number(a[idKey]) - Number(b[idKey])));
    if (req.method === 'POST') return create(state, req, c);
    if (req.method === 'PUT') return update(state, req, c);
    return message(405, `The requested resource does not support http method '${req.method}'.`);
  }
  if (second === 'Search') {
    if (req.method !== 'GET') return message(405, `The requested resource does not support http method '${req.method}'.`);
    const { field_name: field, field_value: value } = req.query as Record<string, string | undefined>;
    if ((field === undefined) !== (value === undefined)) return message(400, 'Both field_name and field_value must be provided.');
    const rows = [...map.values()]
      .filter((r) => field === undefined || String(r[field] ?? '').toLowerCase() === String(value).toLowerCase())
      .sort((a, b) => Number(a[idKey]) - Number(b[idKey]));
    return listing(state, req, rows);
  }
  const id = Number(second);
  const row = map.get(id);
  if (depth === 2) {
    if (req.method === 'GET') return row ? { status: 200, body: row } : message(404, 'Not Found');
    if (req.method === 'DELETE' && c === 'Projects') {
      if (!row) return message(404, 'Not Found');
      map.delete(id);
      return { status: 202 };
    }
    return message(405, `The requested resource does not support http method '${req.method}'.`);
  }
  if (depth === 3 && req.method === 'PUT' && (third === 'Pipeline' || third === 'PipelineStage')) {
    if (!row) return message(404, 'Not Found');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const stageId = Number(third === 'Pipeline' ? (body.PIPELINE_STAGE_CHANGE as Row | undefined)?.STAGE_ID : body.STAGE_ID);
    const pipelineId = third === 'Pipeline' ? Number(body.PIPELINE_ID) : Number(row.PIPELINE_ID);
    const pipeline = state.pipelines.get(pipelineId);
    if (!pipeline) return invalid('PIPELINE_ID', third === 'Pipeline' ? 'The pipeline does not exist.' : 'The record is in no pipeline; change its pipeline first.');
    if (!pipeline[FLAG[c]]) return invalid('PIPELINE_ID', `The pipeline is not for ${c.toLowerCase()}.`);
    const stage = state.stages.get(stageId);
    if (!stage || stage.PIPELINE_ID !== pipelineId) return invalid('STAGE_ID', 'The stage is not a stage of the pipeline.');
    row.PIPELINE_ID = pipelineId;
    row.STAGE_ID = stageId;
    row.DATE_UPDATED_UTC = stamp(++state.tick);
    return { status: 200, body: row };
  }
  return message(405, `The requested resource does not support http method '${req.method}'.`);
}

/** Field checks of a write body; undefined when it is fine. */
function check(c: CollectionName, body: Row, creating: boolean): FakeResponse | undefined {
  const name = NAME_KEY[c];
  if (creating && (typeof body[name] !== 'string' || !(body[name] as string).trim())) return invalid(`${c === 'Projects' ? 'project' : 'opportunity'}.${name}`, `The ${name} field is required.`);
  if (c === 'Projects') {
    if (creating && body.STATUS === undefined) return invalid('project.STATUS', 'The STATUS field is required.');
    if (body.STATUS !== undefined && !PROJECT_STATUSES.includes(String(body.STATUS))) {
      return invalid('project.STATUS', `STATUS must be one of ${PROJECT_STATUSES.join(', ')}.`);
    }
    if (typeof body.PROJECT_DETAILS === 'string' && body.PROJECT_DETAILS.length > 4000) return invalid('project.PROJECT_DETAILS', 'PROJECT_DETAILS is longer than 4000 characters.');
  } else if (body.OPPORTUNITY_STATE !== undefined && !OPPORTUNITY_STATES.includes(String(body.OPPORTUNITY_STATE))) {
    return invalid('opportunity.OPPORTUNITY_STATE', `OPPORTUNITY_STATE must be one of ${OPPORTUNITY_STATES.join(', ')}.`);
  }
  for (const userField of ['RESPONSIBLE_USER_ID', 'OWNER_USER_ID']) {
    if (body[userField] !== undefined && body[userField] !== null && !Number.isInteger(body[userField])) return invalid(userField, `${userField} must be a user id.`);
  }
  return undefined;
}

/** PIPELINE_ID and STAGE_ID are read-only on records: Insightly ignores them there; the fake notes it. */
function writable(state: FakeInsightlyState, req: RecordedRequest, body: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === 'PIPELINE_ID' || k === 'STAGE_ID') state.readOnlyWrites.push({ path: req.path, field: k });
    else out[k] = v;
  }
  return out;
}

function create(state: FakeInsightlyState, req: RecordedRequest, c: CollectionName): FakeResponse {
  if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body)) return message(400, 'The request is invalid.');
  const body = writable(state, req, req.body as Row);
  const bad = check(c, body, true);
  if (bad) return bad;
  const id = ++state.nextId;
  const at = stamp(++state.tick);
  const base: Row =
    c === 'Projects'
      ? { PROJECT_ID: id, PROJECT_DETAILS: null, OPPORTUNITY_ID: null, COMPLETED_DATE: null, RESPONSIBLE_USER_ID: null, TAGS: [], CUSTOMFIELDS: [] }
      : { OPPORTUNITY_ID: id, OPPORTUNITY_STATE: 'Open', RESPONSIBLE_USER_ID: null, BID_AMOUNT: null, BID_CURRENCY: null, OPPORTUNITY_VALUE: null, ORGANISATION_ID: null, FORECAST_CLOSE_DATE: null, TAGS: [], CUSTOMFIELDS: [] };
  const row: Row = { ...base, ...body, OWNER_USER_ID: 11, PIPELINE_ID: null, STAGE_ID: null, DATE_CREATED_UTC: at, DATE_UPDATED_UTC: at, LINKS: [] };
  if (c === 'Opportunities' && body.BID_AMOUNT !== undefined) row.OPPORTUNITY_VALUE = body.BID_AMOUNT;
  state.records[c].set(id, row);
  return { status: 201, body: row };
}

function update(state: FakeInsightlyState, req: RecordedRequest, c: CollectionName): FakeResponse {
  if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body)) return message(400, 'The request is invalid.');
  const idKey = ID_KEY[c];
  const raw = req.body as Row;
  const row = state.records[c].get(Number(raw[idKey]));
  if (!row) return message(404, 'Not Found');
  const body = writable(state, req, raw);
  const bad = check(c, body, false);
  if (bad) return bad;
  // v3.1: only the fields sent change.
  Object.assign(row, body, { DATE_UPDATED_UTC: stamp(++state.tick) });
  if (c === 'Opportunities' && body.BID_AMOUNT !== undefined) row.OPPORTUNITY_VALUE = body.BID_AMOUNT;
  return { status: 200, body: row };
}
