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
 *
 * The records around a deal: /Organisations and /Contacts (list, get, POST, PUT, /Search), /Users
 * and /Users/Search, /Tasks (POST and PUT; OPPORTUNITY_ID and PROJECT_ID are fields of a task),
 * /Notes (GET and PUT only: a note is created under its record, POST
 * /{Opportunities|Projects|Contacts|Organisations}/{id}/Notes), each record's /Notes and /Tasks,
 * and the links of notes and tasks (POST /{Notes|Tasks}/{id}/Links with singular object names,
 * DELETE .../Links/{linkId}). Ids a write refers to (users, organisations, records linked) must
 * exist, else a ModelState 400.
 */
import { FakeServer, type FakeResponse, type RecordedRequest } from './server.js';

// Long and random-looking, so the secret scan (test/helpers/secrets.ts) can tell a fragment from ordinary text.
export const FAKE_INSIGHTLY_KEY = 'il7c1f3a9e-52d4-4b8e-a6f0-9dX2qLmV8nTz';

export type Row = Record<string, unknown>;
export type CollectionName = 'Opportunities' | 'Projects' | 'Organisations' | 'Contacts' | 'Notes' | 'Tasks';
const COLLECTIONS: CollectionName[] = ['Opportunities', 'Projects', 'Organisations', 'Contacts', 'Notes', 'Tasks'];
const ID_KEY: Record<CollectionName, string> = {
  Opportunities: 'OPPORTUNITY_ID',
  Projects: 'PROJECT_ID',
  Organisations: 'ORGANISATION_ID',
  Contacts: 'CONTACT_ID',
  Notes: 'NOTE_ID',
  Tasks: 'TASK_ID',
};
const FLAG: Partial<Record<CollectionName, string>> = { Opportunities: 'FOR_OPPORTUNITIES', Projects: 'FOR_PROJECTS' };
/** The field a create needs (Insightly's required name or title). */
const NAME_KEY: Record<CollectionName, string> = {
  Opportunities: 'OPPORTUNITY_NAME',
  Projects: 'PROJECT_NAME',
  Organisations: 'ORGANISATION_NAME',
  Contacts: 'FIRST_NAME',
  Notes: 'TITLE',
  Tasks: 'TITLE',
};
/** Records notes and tasks hang on, and their (singular) names in a link. */
const PARENTS: Partial<Record<CollectionName, string>> = { Opportunities: 'Opportunity', Projects: 'Project', Organisations: 'Organisation', Contacts: 'Contact' };
const OBJECT: Record<string, CollectionName> = { Opportunity: 'Opportunities', Project: 'Projects', Organisation: 'Organisations', Contact: 'Contacts' };
/** Task statuses Insightly has. */
export const TASK_STATUSES = ['Not Started', 'In Progress', 'Completed', 'Deferred', 'Waiting'];

export const PROJECT_STATUSES = ['Not Started', 'In Progress', 'Deferred', 'Cancelled', 'Abandoned', 'Completed'];
export const OPPORTUNITY_STATES = ['Open', 'Won', 'Lost', 'Abandoned', 'Suspended'];

export interface FakeInsightlyState {
  key: string;
  pipelines: Map<number, Row>;
  stages: Map<number, Row>;
  users: Map<number, Row>;
  records: Record<CollectionName, Map<number, Row>>;
  nextLinkId: number;
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
    records: { Opportunities: new Map(), Projects: new Map(), Organisations: new Map(), Contacts: new Map(), Notes: new Map(), Tasks: new Map() },
    nextLinkId: 60_000,
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
  const users: Array<[number, string, string, boolean]> = [
    [11, 'Ada', 'Lovelace', true],
    [12, 'Grace', 'Hopper', true],
    [13, 'Alan', 'Turing', true],
    [14, 'Katherine', 'Johnson', true],
    [15, 'Ana', 'Silva', true],
    [16, 'Edsger', 'Dijkstra', false],
  ];
  for (const [id, first, last, active] of users) {
    state.users.set(id, {
      USER_ID: id,
      CONTACT_ID: null,
      FIRST_NAME: first,
      LAST_NAME: last,
      EMAIL_ADDRESS: `${first.toLowerCase()}@example.com`,
      ADMINISTRATOR: id === 11,
      ACCOUNT_OWNER: id === 11,
      ACTIVE: active,
      DATE_CREATED_UTC: stamp(id),
      DATE_UPDATED_UTC: stamp(id),
    });
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
  seedRecordsAround(state);
  return state;
}

/** Ten organisations (700-709: the ones opportunities name), 30 contacts, 40 notes and 40 tasks. */
export const ORGANISATIONS = [
  'Acme Corporation',
  'Globex',
  'Initech',
  'Umbrella',
  'Stark Industries',
  'Wayne Enterprises',
  'Hooli',
  'Soylent',
  'Vandelay Industries',
  'Wonka Industries',
];
const FIRST_NAMES = ['Wile', 'Hank', 'Peter', 'Alice', 'Tony', 'Bruce', 'Gavin', 'Sol', 'Art', 'Charlie'];
const LAST_NAMES = ['Coyote', 'Scorpio', 'Gibbons', 'Abernathy', 'Stark', 'Wayne', 'Belson', 'Roth', 'Vandelay', 'Bucket'];

export const link = (state: FakeInsightlyState, object: string, id: number, other: string, otherId: number): Row => ({
  LINK_ID: ++state.nextLinkId,
  OBJECT_NAME: object,
  OBJECT_ID: id,
  LINK_OBJECT_NAME: other,
  LINK_OBJECT_ID: otherId,
  ROLE: null,
  DETAILS: null,
  RELATIONSHIP_ID: null,
  IS_FORWARD: true,
});

function seedRecordsAround(state: FakeInsightlyState): void {
  ORGANISATIONS.forEach((name, i) => {
    const id = 700 + i;
    const domain = `${name.split(' ')[0].toLowerCase()}.example`;
    state.records.Organisations.set(id, {
      ORGANISATION_ID: id,
      ORGANISATION_NAME: name,
      BACKGROUND: null,
      IMAGE_URL: null,
      OWNER_USER_ID: 11 + (i % 5),
      PHONE: `+1 555 07${String(i).padStart(2, '0')}`,
      PHONE_FAX: null,
      WEBSITE: i % 4 === 3 ? null : `https://www.${domain}/`,
      ADDRESS_BILLING_CITY: 'Springfield',
      DATE_CREATED_UTC: stamp(i + 1),
      DATE_UPDATED_UTC: stamp(i + 200),
      CUSTOMFIELDS: [],
      TAGS: [],
      DATES: [],
      EMAILDOMAINS: [{ EMAIL_DOMAIN_ID: 7000 + i, EMAIL_DOMAIN: domain }],
      LINKS: [],
    });
  });
  for (let i = 0; i < 30; i++) {
    const id = 900 + i;
    const org = 700 + (i % 10);
    const first = FIRST_NAMES[i % 10];
    const last = LAST_NAMES[(i * 3) % 10];
    state.records.Contacts.set(id, {
      CONTACT_ID: id,
      SALUTATION: null,
      FIRST_NAME: first,
      LAST_NAME: last,
      BACKGROUND: null,
      OWNER_USER_ID: 11 + (i % 5),
      EMAIL_ADDRESS: `${first.toLowerCase()}.${last.toLowerCase()}${i}@${ORGANISATIONS[i % 10].split(' ')[0].toLowerCase()}.example`,
      PHONE: `+1 555 09${String(i).padStart(2, '0')}`,
      PHONE_MOBILE: i % 2 === 0 ? `+1 555 19${String(i).padStart(2, '0')}` : null,
      PHONE_HOME: null,
      PHONE_OTHER: null,
      PHONE_ASSISTANT: i % 7 === 0 ? '+1 555 0000' : null,
      PHONE_FAX: null,
      TITLE: i % 3 === 0 ? 'Head of Purchasing' : null,
      ORGANISATION_ID: i < 25 ? org : null,
      DATE_CREATED_UTC: stamp(i + 20),
      DATE_UPDATED_UTC: stamp(i + 300),
      CUSTOMFIELDS: [],
      TAGS: [],
      DATES: [],
      LINKS: [],
    });
  }
  // Notes 3001-3040: on opportunities 5003, 5006, ... (with every fourth also on a contact), every
  // fifth on an organisation only, every seventh on a project only.
  for (let i = 1; i <= 40; i++) {
    const id = 3000 + i;
    const links: Row[] =
      i % 7 === 0
        ? [link(state, 'Note', id, 'Project', 8000 + i)]
        : i % 5 === 0
          ? [link(state, 'Note', id, 'Organisation', 700 + (i % 10))]
          : [link(state, 'Note', id, 'Opportunity', 5000 + 3 * (i % 6 === 0 ? 1 : i % 6))];
    if (i % 4 === 0) links.push(link(state, 'Note', id, 'Contact', 900 + (i % 30)));
    state.records.Notes.set(id, {
      NOTE_ID: id,
      TITLE: `Note ${i}`,
      BODY: `What we heard in conversation ${i}.`,
      OWNER_USER_ID: 11 + (i % 5),
      VISIBLE_TO: 'EVERYONE',
      DATE_CREATED_UTC: stamp(i * 2),
      DATE_UPDATED_UTC: stamp(i * 2 + 1),
      LINKS: links,
    });
  }
  // Tasks 4001-4040: on the same opportunities (OPPORTUNITY_ID), every fifth on a project
  // (PROJECT_ID) instead, every third also linked to a contact; due in 2025 (overdue unless done)
  // or 2099; every fourth done.
  for (let i = 1; i <= 40; i++) {
    const id = 4000 + i;
    const done = i % 4 === 0;
    state.records.Tasks.set(id, {
      TASK_ID: id,
      TITLE: `Task ${i}`,
      CATEGORY_ID: null,
      DUE_DATE: i % 2 === 0 ? `2025-${String((i % 12) + 1).padStart(2, '0')}-10 00:00:00` : `2099-${String((i % 12) + 1).padStart(2, '0')}-10 00:00:00`,
      COMPLETED: done,
      COMPLETED_DATE_UTC: done ? stamp(i * 2 + 2) : null,
      DETAILS: i % 3 === 0 ? `Details of task ${i}` : null,
      STATUS: done ? 'Completed' : i % 3 === 0 ? 'In Progress' : 'Not Started',
      PRIORITY: 2,
      PERCENT_COMPLETE: done ? 100 : 0,
      START_DATE: null,
      RESPONSIBLE_USER_ID: i % 6 === 0 ? null : 11 + (i % 5),
      OWNER_USER_ID: 11,
      OPPORTUNITY_ID: i % 5 === 0 ? null : 5000 + 3 * (i % 6 === 0 ? 1 : i % 6),
      PROJECT_ID: i % 5 === 0 ? 8000 + i : null,
      MILESTONE_ID: null,
      DATE_CREATED_UTC: stamp(i * 2 + 1),
      DATE_UPDATED_UTC: stamp(i * 2 + 3),
      LINKS: i % 3 === 0 ? [link(state, 'Task', id, 'Contact', 900 + (i % 30))] : [],
    });
  }
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
  const [collection, second] = parts;

  switch (collection) {
    case 'Pipelines':
    case 'PipelineStages':
    case 'Users': {
      const map = collection === 'Pipelines' ? state.pipelines : collection === 'PipelineStages' ? state.stages : state.users;
      if (req.method !== 'GET' || parts.length > 2) return notAllowed(req);
      if (second === undefined) return listing(state, req, [...map.values()]);
      if (second === 'Search' && collection === 'Users') return search(state, req, [...map.values()], 'USER_ID');
      const row = map.get(Number(second));
      return row ? { status: 200, body: row } : message(404, 'Not Found');
    }
    default:
      if ((COLLECTIONS as string[]).includes(collection)) return records(state, req, collection as CollectionName, parts.slice(1));
      return message(404, 'No HTTP resource was found that matches the request URI.');
  }
}

const notAllowed = (req: RecordedRequest) => message(405, `The requested resource does not support http method '${req.method}'.`);

const BRIEF_DROPS = ['TAGS', 'CUSTOMFIELDS', 'LINKS', 'DATES', 'EMAILDOMAINS'];
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

/** /{Collection}/Search: the records whose field equals field_value as a whole (case-insensitive), by id. */
function search(state: FakeInsightlyState, req: RecordedRequest, rows: Row[], idKey: string): FakeResponse {
  if (req.method !== 'GET') return notAllowed(req);
  const { field_name: field, field_value: value } = req.query as Record<string, string | undefined>;
  if ((field === undefined) !== (value === undefined)) return message(400, 'Both field_name and field_value must be provided.');
  const found = rows
    .filter((r) => field === undefined || String(r[field] ?? '').toLowerCase() === String(value).toLowerCase())
    .sort((a, b) => Number(a[idKey]) - Number(b[idKey]));
  return listing(state, req, found);
}

const byId = (idKey: string) => (a: Row, b: Row) => Number(a[idKey]) - Number(b[idKey]);

/** The records a note or task is linked to, as [object name, id]. */
const linksOf = (row: Row): Array<[string, number]> =>
  ((row.LINKS as Row[] | undefined) ?? []).map((l) => [String(l.LINK_OBJECT_NAME), Number(l.LINK_OBJECT_ID)]);

/** Notes or tasks on a record: linked to it, or (tasks) naming it in OPPORTUNITY_ID or PROJECT_ID. */
function activitiesOn(state: FakeInsightlyState, kind: 'Notes' | 'Tasks', parent: CollectionName, id: number): Row[] {
  const object = PARENTS[parent]!;
  const field = parent === 'Opportunities' ? 'OPPORTUNITY_ID' : parent === 'Projects' ? 'PROJECT_ID' : undefined;
  return [...state.records[kind].values()]
    .filter((r) => (kind === 'Tasks' && field !== undefined && r[field] === id) || linksOf(r).some(([o, i]) => o === object && i === id))
    .sort(byId(ID_KEY[kind]));
}

function records(state: FakeInsightlyState, req: RecordedRequest, c: CollectionName, rest: string[]): FakeResponse {
  const map = state.records[c];
  const idKey = ID_KEY[c];
  const [second, third, fourth] = rest;
  if (second === undefined) {
    if (req.method === 'GET') return listing(state, req, [...map.values()].sort(byId(idKey)));
    // v3.1: a note is only ever added under its record; /Notes takes GET and PUT.
    if (req.method === 'POST' && c !== 'Notes') return create(state, req, c);
    if (req.method === 'PUT') return update(state, req, c);
    return notAllowed(req);
  }
  if (second === 'Search' && rest.length === 1) return search(state, req, [...map.values()], idKey);
  const id = Number(second);
  const row = map.get(id);
  if (rest.length === 1) {
    if (req.method === 'GET') return row ? { status: 200, body: req.query.brief !== undefined && truthy(req.query.brief) ? brief(row) : row } : message(404, 'Not Found');
    if (req.method === 'DELETE' && c === 'Projects') {
      if (!row) return message(404, 'Not Found');
      map.delete(id);
      return { status: 202 };
    }
    return notAllowed(req);
  }
  if ((third === 'Notes' || third === 'Tasks') && rest.length === 2 && PARENTS[c]) {
    if (!row) return message(404, 'Not Found');
    if (req.method === 'GET') return listing(state, req, activitiesOn(state, third, c, id));
    if (req.method === 'POST' && third === 'Notes') return create(state, req, 'Notes', { object: PARENTS[c]!, id });
    return notAllowed(req);
  }
  if (third === 'Links' && (c === 'Notes' || c === 'Tasks')) {
    if (!row) return message(404, 'Not Found');
    const links = (row.LINKS as Row[]) ?? [];
    if (rest.length === 2 && req.method === 'GET') return { status: 200, body: links };
    if (rest.length === 2 && req.method === 'POST') {
      const body = (req.body ?? {}) as Row;
      const target = OBJECT[String(body.LINK_OBJECT_NAME)];
      if (!target) return invalid('LINK_OBJECT_NAME', 'LINK_OBJECT_NAME must be the singular name of a record type, such as Contact or Organisation.');
      if (!state.records[target].has(Number(body.LINK_OBJECT_ID))) return invalid('LINK_OBJECT_ID', 'The linked record does not exist.');
      const added = link(state, c === 'Notes' ? 'Note' : 'Task', id, String(body.LINK_OBJECT_NAME), Number(body.LINK_OBJECT_ID));
      row.LINKS = [...links, added];
      row.DATE_UPDATED_UTC = stamp(++state.tick);
      return { status: 201, body: added };
    }
    if (rest.length === 3 && req.method === 'DELETE') {
      const kept = links.filter((l) => l.LINK_ID !== Number(fourth));
      if (kept.length === links.length) return message(404, 'Not Found');
      row.LINKS = kept;
      return { status: 202 };
    }
    return notAllowed(req);
  }
  if (rest.length === 2 && req.method === 'PUT' && (third === 'Pipeline' || third === 'PipelineStage') && FLAG[c]) {
    if (!row) return message(404, 'Not Found');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const stageId = Number(third === 'Pipeline' ? (body.PIPELINE_STAGE_CHANGE as Row | undefined)?.STAGE_ID : body.STAGE_ID);
    const pipelineId = third === 'Pipeline' ? Number(body.PIPELINE_ID) : Number(row.PIPELINE_ID);
    const pipeline = state.pipelines.get(pipelineId);
    if (!pipeline) return invalid('PIPELINE_ID', third === 'Pipeline' ? 'The pipeline does not exist.' : 'The record is in no pipeline; change its pipeline first.');
    if (!pipeline[FLAG[c]!]) return invalid('PIPELINE_ID', `The pipeline is not for ${c.toLowerCase()}.`);
    const stage = state.stages.get(stageId);
    if (!stage || stage.PIPELINE_ID !== pipelineId) return invalid('STAGE_ID', 'The stage is not a stage of the pipeline.');
    row.PIPELINE_ID = pipelineId;
    row.STAGE_ID = stageId;
    row.DATE_UPDATED_UTC = stamp(++state.tick);
    return { status: 200, body: row };
  }
  return notAllowed(req);
}

const brief = (r: Row): Row => Object.fromEntries(Object.entries(r).filter(([k]) => !BRIEF_DROPS.includes(k)));

/** Field checks of a write body; undefined when it is fine. */
function check(state: FakeInsightlyState, c: CollectionName, body: Row, creating: boolean): FakeResponse | undefined {
  const name = NAME_KEY[c];
  const entity = c.replace(/s$/, '').toLowerCase();
  if ((creating || name in body) && (typeof body[name] !== 'string' || !(body[name] as string).trim())) return invalid(`${entity}.${name}`, `The ${name} field is required.`);
  if (c === 'Projects') {
    if (creating && body.STATUS === undefined) return invalid('project.STATUS', 'The STATUS field is required.');
    if (body.STATUS !== undefined && !PROJECT_STATUSES.includes(String(body.STATUS))) {
      return invalid('project.STATUS', `STATUS must be one of ${PROJECT_STATUSES.join(', ')}.`);
    }
    if (typeof body.PROJECT_DETAILS === 'string' && body.PROJECT_DETAILS.length > 4000) return invalid('project.PROJECT_DETAILS', 'PROJECT_DETAILS is longer than 4000 characters.');
  } else if (c === 'Opportunities' && body.OPPORTUNITY_STATE !== undefined && !OPPORTUNITY_STATES.includes(String(body.OPPORTUNITY_STATE))) {
    return invalid('opportunity.OPPORTUNITY_STATE', `OPPORTUNITY_STATE must be one of ${OPPORTUNITY_STATES.join(', ')}.`);
  } else if (c === 'Tasks') {
    if (body.STATUS !== undefined && !TASK_STATUSES.includes(String(body.STATUS))) return invalid('task.STATUS', `STATUS must be one of ${TASK_STATUSES.join(', ')}.`);
    if (typeof body.TITLE === 'string' && body.TITLE.length > 500) return invalid('task.TITLE', 'TITLE is longer than 500 characters.');
    if (typeof body.DETAILS === 'string' && body.DETAILS.length > 4000) return invalid('task.DETAILS', 'DETAILS is longer than 4000 characters.');
  }
  for (const userField of ['RESPONSIBLE_USER_ID', 'OWNER_USER_ID']) {
    const v = body[userField];
    if (v !== undefined && v !== null && (!Number.isInteger(v) || !state.users.has(v as number))) return invalid(userField, `${userField} is not a user of this instance.`);
  }
  const refs: Array<[string, CollectionName]> = [
    ['ORGANISATION_ID', 'Organisations'],
    ['OPPORTUNITY_ID', 'Opportunities'],
    ['PROJECT_ID', 'Projects'],
  ];
  for (const [field, target] of refs) {
    const v = body[field];
    if (field !== ID_KEY[c] && v !== undefined && v !== null && !state.records[target].has(Number(v))) return invalid(field, `${field} does not name a record.`);
  }
  return undefined;
}

/** PIPELINE_ID and STAGE_ID are read-only on records: Insightly ignores them there; the fake notes it. */
function writable(state: FakeInsightlyState, req: RecordedRequest, body: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(body)) {
    if ((k === 'PIPELINE_ID' || k === 'STAGE_ID') && FLAG[(req.path.split('/')[2] ?? '') as CollectionName]) state.readOnlyWrites.push({ path: req.path, field: k });
    else out[k] = v;
  }
  return out;
}

/** What a new record of each collection holds before its body is applied. */
function blank(c: CollectionName, id: number): Row {
  switch (c) {
    case 'Projects':
      return { PROJECT_ID: id, PROJECT_DETAILS: null, OPPORTUNITY_ID: null, COMPLETED_DATE: null, RESPONSIBLE_USER_ID: null, TAGS: [], CUSTOMFIELDS: [] };
    case 'Opportunities':
      return { OPPORTUNITY_ID: id, OPPORTUNITY_STATE: 'Open', RESPONSIBLE_USER_ID: null, BID_AMOUNT: null, BID_CURRENCY: null, OPPORTUNITY_VALUE: null, ORGANISATION_ID: null, FORECAST_CLOSE_DATE: null, TAGS: [], CUSTOMFIELDS: [] };
    case 'Organisations':
      return { ORGANISATION_ID: id, WEBSITE: null, PHONE: null, TAGS: [], CUSTOMFIELDS: [], DATES: [], EMAILDOMAINS: [] };
    case 'Contacts':
      return { CONTACT_ID: id, LAST_NAME: null, EMAIL_ADDRESS: null, PHONE: null, PHONE_MOBILE: null, PHONE_HOME: null, PHONE_OTHER: null, TITLE: null, ORGANISATION_ID: null, TAGS: [], CUSTOMFIELDS: [], DATES: [] };
    case 'Notes':
      return { NOTE_ID: id, BODY: null, VISIBLE_TO: 'EVERYONE' };
    case 'Tasks':
      return { TASK_ID: id, DETAILS: null, DUE_DATE: null, COMPLETED: false, STATUS: 'Not Started', RESPONSIBLE_USER_ID: null, OPPORTUNITY_ID: null, PROJECT_ID: null, CUSTOMFIELDS: [] };
  }
}

/** A record, or (`under`) a note added under the record it belongs to. */
function create(state: FakeInsightlyState, req: RecordedRequest, c: CollectionName, under?: { object: string; id: number }): FakeResponse {
  if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body)) return message(400, 'The request is invalid.');
  const body = writable(state, req, req.body as Row);
  const bad = check(state, c, body, true);
  if (bad) return bad;
  const id = ++state.nextId;
  const at = stamp(++state.tick);
  const placed = FLAG[c] ? { PIPELINE_ID: null, STAGE_ID: null } : {};
  const row: Row = { ...blank(c, id), ...body, OWNER_USER_ID: body.OWNER_USER_ID ?? 11, ...placed, DATE_CREATED_UTC: at, DATE_UPDATED_UTC: at, LINKS: [] };
  if (under) row.LINKS = [link(state, 'Note', id, under.object, under.id)];
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
  const bad = check(state, c, body, false);
  if (bad) return bad;
  // v3.1: only the fields sent change (null clears one).
  Object.assign(row, body, { DATE_UPDATED_UTC: stamp(++state.tick) });
  if (c === 'Opportunities' && body.BID_AMOUNT !== undefined) row.OPPORTUNITY_VALUE = body.BID_AMOUNT;
  return { status: 200, body: row };
}
