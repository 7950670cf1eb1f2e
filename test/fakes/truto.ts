/**
 * A stateful fake of Truto's unified CRM API (provider-apis.md §1, and Truto's unified CRM object
 * pages for accounts, contacts, users, notes, tasks and engagements) on FakeServer: Bearer auth,
 * `integrated_account_id` on every call, list envelopes with limit + next_cursor, bare objects for
 * get/create/update, `{id}` for delete, Truto's error bodies (remote errors with
 * truto_is_remote_error, raw_response and truto_error_insight), Idempotency-Key replay, and the
 * Truto query options (truto_ignore_remote_data, truto_exclude_fields[], truto_key_by,
 * truto_ignore_limit, truto_response_format unified|raw|normalized, remote_query[...]).
 * Deterministic: ids and timestamps come from counters, never the clock.
 */
import { FakeServer, type FakeResponse, type RecordedRequest } from './server.js';

export type FakeTrutoResource =
  | 'stages'
  | 'pipelines'
  | 'projects'
  | 'opportunities'
  | 'accounts'
  | 'contacts'
  | 'users'
  | 'notes'
  | 'tasks'
  | 'engagements';
const RESOURCES: readonly FakeTrutoResource[] = [
  'stages',
  'pipelines',
  'projects',
  'opportunities',
  'accounts',
  'contacts',
  'users',
  'notes',
  'tasks',
  'engagements',
];

export type Rec = Record<string, unknown> & { id: string };

export interface FakeTrutoState {
  token: string;
  integratedAccountId: string;
  records: Record<FakeTrutoResource, Map<string, Rec>>;
  /** Body fields the "remote CRM" requires on create, per resource (missing -> remote 422 with insight). */
  requiredOnCreate: Record<FakeTrutoResource, string[]>;
  /** Body fields the remote CRM requires on update. */
  requiredOnUpdate: Record<FakeTrutoResource, string[]>;
  /** Resources whose writes answer only `{id}` (like Teamleader), so clients must read back. */
  partialWrites: Set<FakeTrutoResource>;
  /** Every remote_query[...] received, in order. */
  remoteQueries: Array<Record<string, unknown>>;
  /** Idempotency-Key -> the first answer and the request it answered. */
  idempotency: Map<string, { fingerprint: string; response: FakeResponse }>;
  /** Writes that commit and then answer this status instead (the answer is "lost"). */
  failAfterCommit: Array<{ status: number; resource?: FakeTrutoResource }>;
  /** Largest page Truto serves. */
  maxLimit: number;
  /** Resources whose pages after the first answer the cursor they were asked with again (a looping upstream). */
  loopCursor: Set<FakeTrutoResource>;
  /** Resources the integration behind the account does not have: Truto answers 404 for them. */
  unsupported: Set<FakeTrutoResource>;
  defaultLimit: number;
  /** Deterministic clock tick for created_at/updated_at. */
  tick: number;
  nextId: number;
}

export interface FakeTruto {
  url: string;
  server: FakeServer;
  state: FakeTrutoState;
  /** The next `times` requests (optionally matching) answer 429 with Retry-After. */
  rateLimit(times?: number, retryAfterSeconds?: number, match?: (r: RecordedRequest) => boolean): void;
  /** Requests to Truto's unified CRM only (for assertions). */
  requestsFor(method: string, resource?: FakeTrutoResource): RecordedRequest[];
  stop(): Promise<void>;
}

export interface FakeTrutoOptions {
  token?: string;
  integratedAccountId?: string;
  latencyMs?: number;
}

// Long and random-looking, so the secret scan (test/helpers/secrets.ts) can tell a fragment from ordinary text.
export const FAKE_TRUTO_TOKEN = 'tr_6LxTk_FS3DMjnU40C7XmVJCPJewMrzvS1q5VqyX0';
export const FAKE_TRUTO_ACCOUNT = '62f44730-dd91-461e-bd6a-aedd9e0ad79d';

export async function startFakeTruto(opts: FakeTrutoOptions = {}): Promise<FakeTruto> {
  const state = createState(opts.token ?? FAKE_TRUTO_TOKEN, opts.integratedAccountId ?? FAKE_TRUTO_ACCOUNT);
  const server = new FakeServer((req) => handle(state, req));
  server.latencyMs = opts.latencyMs ?? 0;
  const url = await server.start();
  return {
    url,
    server,
    state,
    rateLimit(times = 1, retryAfterSeconds = 10, match) {
      server.inject(
        {
          kind: 'status',
          status: 429,
          headers: { 'Retry-After': String(retryAfterSeconds) },
          body: {
            statusCode: 429,
            error: 'Too Many Requests',
            message: 'Rate limit exceeded. Please retry after some time.',
          },
        },
        { times, match },
      );
    },
    requestsFor(method, resource) {
      return server.requests.filter(
        (r) => r.method === method && (resource === undefined || parseRoute(r.path)?.resource === resource),
      );
    },
    stop: () => server.stop(),
  };
}

// ---------------------------------------------------------------------------------------------
// Seed data: 3 pipelines, 11 stages, 60 opportunities, 30 projects; 5 users, 12 accounts,
// 7 contacts, and notes, tasks (some overdue, some done) and engagements on deals and accounts.

const USERS = [
  { id: 'u1', name: 'Ada Lovelace' },
  { id: 'u2', name: 'Grace Hopper' },
  { id: 'u3', name: 'Alan Turing' },
];
const ACCOUNTS = [
  { id: 'a1', name: 'Acme Corp' },
  { id: 'a2', name: 'Globex' },
  { id: 'a3', name: 'Initech' },
  { id: 'a4', name: 'Umbrella' },
];
const PROJECT_STATUSES = ['open', 'closed', 'not started', 'in progress', 'deferred', 'cancelled', 'abandoned', 'completed'];

function stamp(n: number): string {
  return new Date(Date.UTC(2026, 0, 1) + n * 3_600_000).toISOString();
}

function createState(token: string, integratedAccountId: string): FakeTrutoState {
  const state: FakeTrutoState = {
    token,
    integratedAccountId,
    records: Object.fromEntries(RESOURCES.map((r) => [r, new Map()])) as FakeTrutoState['records'],
    requiredOnCreate: {
      ...(Object.fromEntries(RESOURCES.map((r) => [r, []])) as unknown as Record<FakeTrutoResource, string[]>),
      stages: ['name'],
      pipelines: ['name'],
      projects: ['name'],
      opportunities: ['name'],
      accounts: ['name'],
    },
    requiredOnUpdate: Object.fromEntries(RESOURCES.map((r) => [r, []])) as unknown as Record<FakeTrutoResource, string[]>,
    partialWrites: new Set(),
    remoteQueries: [],
    idempotency: new Map(),
    failAfterCommit: [],
    maxLimit: 100,
    loopCursor: new Set(),
    unsupported: new Set(),
    defaultLimit: 20,
    tick: 1000,
    nextId: 5000,
  };
  const pipelines: Array<[string, string, string[]]> = [
    ['1', 'Sales', ['Lead In', 'Qualified', 'Proposal', 'Negotiation', 'Contract Sent']],
    ['2', 'Partnerships', ['Intro', 'Evaluation', 'Signed']],
    ['3', 'Renewals', ['Upcoming', 'In Review', 'Renewed']],
  ];
  let stageId = 10;
  const stagesByPipeline = new Map<string, Rec[]>();
  for (const [pid, pname, stageNames] of pipelines) {
    const list: Rec[] = [];
    stageNames.forEach((name, i) => {
      stageId += 1;
      const s: Rec = {
        id: String(stageId),
        name,
        position: i + 1,
        // One retired stage so status filters have something to filter.
        status: pid === '3' && i === 1 ? 'inactive' : 'active',
        pipeline: { id: pid, name: pname },
        created_at: stamp(i),
        updated_at: stamp(i + 10),
        remote_data: { id: stageId, name, order_nr: i + 1, pipeline_id: Number(pid), active_flag: !(pid === '3' && i === 1) },
      };
      state.records.stages.set(s.id, s);
      list.push(s);
    });
    stagesByPipeline.set(pid, list);
    state.records.pipelines.set(pid, {
      id: pid,
      name: pname,
      entity: 'opportunity',
      stages: list.map((s) => ({ id: s.id, name: s.name, status: s.status, pipeline: { id: pid } })),
      created_at: stamp(0),
      updated_at: stamp(5),
      remote_data: { id: Number(pid), name: pname, active: true },
    });
  }
  const currencies = ['USD', 'EUR', 'USD', 'GBP'];
  for (let i = 0; i < 60; i++) {
    const pid = String((i % 3) + 1);
    const stages = stagesByPipeline.get(pid)!;
    // Spread deals over every stage of their pipeline (i % 3 already picks the pipeline).
    const stage = stages[Math.floor(i / 3) % stages.length];
    const status = i % 10 === 7 ? 'won' : i % 10 === 9 ? 'lost' : 'open';
    const owner = USERS[i % USERS.length];
    const account = ACCOUNTS[i % ACCOUNTS.length];
    const id = String(100 + i);
    const amount = 1000 + i * 250;
    const currency = currencies[i % currencies.length];
    state.records.opportunities.set(id, {
      id,
      name: `Deal ${i + 1} - ${account.name}`,
      description: `Opportunity number ${i + 1}`,
      amount,
      currency,
      owner,
      account,
      contact: [{ id: `c${i % 7}` }],
      stage: { id: stage.id, name: stage.name },
      pipeline: { id: pid, name: pipelines[Number(pid) - 1][1] },
      status,
      tags: [],
      custom_fields: { source: i % 2 ? 'web' : 'referral' },
      last_activity_at: stamp(i + 40),
      close_date: `2026-${String((i % 12) + 1).padStart(2, '0')}-15T00:00:00.000Z`,
      created_at: stamp(i),
      updated_at: stamp(i + 20),
      remote_data: {
        id: 100 + i,
        title: `Deal ${i + 1} - ${account.name}`,
        value: amount,
        currency,
        stage_id: Number(stage.id),
        pipeline_id: Number(pid),
        status,
        user_id: owner.id,
        org_id: account.id,
      },
    });
  }
  for (let i = 0; i < 30; i++) {
    const id = `pr-${String(i + 1).padStart(3, '0')}`;
    const status = PROJECT_STATUSES[i % PROJECT_STATUSES.length];
    const owner = USERS[i % USERS.length];
    const account = ACCOUNTS[i % ACCOUNTS.length];
    state.records.projects.set(id, {
      id,
      name: `Project ${i + 1}`,
      description: `Delivery project ${i + 1}`,
      status,
      amount: i % 3 === 0 ? 5000 + i * 100 : undefined,
      currency: i % 3 === 0 ? 'EUR' : undefined,
      owner,
      account,
      contact: [{ id: `c${i % 5}`, name: `Contact ${i % 5}` }],
      opportunity: i % 2 === 0 ? [{ id: String(100 + i), name: `Deal ${i + 1}` }] : [],
      stage: { id: `ps${(i % 4) + 1}`, name: ['Brief', 'Build', 'Review', 'Done'][i % 4] },
      tags: i % 5 === 0 ? [{ id: 't1', name: 'vip' }] : [],
      custom_fields: { region: i % 2 ? 'EMEA' : 'AMER' },
      last_activity_at: stamp(i + 50),
      close_date: `2026-${String((i % 12) + 1).padStart(2, '0')}-28T00:00:00.000Z`,
      created_at: stamp(i),
      updated_at: stamp(i + 30),
      remote_data: { PROJECT_ID: 4000 + i, PROJECT_NAME: `Project ${i + 1}`, STATUS: status.toUpperCase() },
    });
  }
  seedRecords(state);
  // Drop undefined keys so records look like JSON from the wire.
  for (const resource of RESOURCES) {
    for (const r of state.records[resource].values()) for (const k of Object.keys(r)) if (r[k] === undefined) delete r[k];
  }
  return state;
}

/** People who own records; Ana owns none of the seeded deals, so she shows only where a test puts her. */
const DIRECTORY = [
  { ...USERS[0], email: 'ada@example.com', is_active: true },
  { ...USERS[1], email: 'grace@example.com', is_active: true },
  { ...USERS[2], email: 'alan@example.com', is_active: false },
  { id: 'u4', name: 'Ana Patel', email: 'ana.patel@example.com', is_active: true },
  { id: 'u5', name: 'Ben Ortiz', email: 'ben@example.com', is_active: true },
];

const MORE_ACCOUNTS = ['Acme Logistics', 'Hooli', 'Initrode', 'Soylent', 'Stark Industries', 'Wayne Enterprises', 'Wonka', 'Acme Labs'];
const INDUSTRIES = ['Manufacturing', 'Software', 'Finance', 'Retail'];
const PEOPLE: Array<[string, string, string]> = [
  ['Maria', 'Lopez', 'CTO'],
  ['John', 'Reed', 'Buyer'],
  ['Chen', 'Wei', 'CFO'],
  ['Priya', 'Nair', 'Head of Sales'],
  ['Tom', 'Baker', 'Engineer'],
  ['Lena', 'Fischer', 'COO'],
  ['Sam', 'Okafor', 'Analyst'],
];

function seedRecords(state: FakeTrutoState): void {
  for (const u of DIRECTORY) {
    state.records.users.set(u.id, {
      ...u,
      created_at: stamp(0),
      updated_at: stamp(1),
      remote_data: { id: u.id, name: u.name, email: u.email, active: u.is_active },
    });
  }
  [...ACCOUNTS, ...MORE_ACCOUNTS.map((name, i) => ({ id: `a${i + 5}`, name }))].forEach((a, i) => {
    const slug = a.name.toLowerCase().replace(/[^a-z]+/g, '');
    const owner = USERS[i % USERS.length];
    state.records.accounts.set(a.id, {
      id: a.id,
      name: a.name,
      website: `https://www.${slug}.example/`,
      industry: INDUSTRIES[i % INDUSTRIES.length],
      owner: { id: owner.id, name: owner.name },
      created_at: stamp(i),
      updated_at: stamp(i + 5),
      remote_data: { id: a.id, name: a.name, domain: `${slug}.example` },
    });
  });
  PEOPLE.forEach(([first, last, title], i) => {
    const account = ACCOUNTS[i % ACCOUNTS.length];
    const slug = account.name.toLowerCase().replace(/[^a-z]+/g, '');
    const id = `c${i}`;
    state.records.contacts.set(id, {
      id,
      first_name: first,
      last_name: last,
      name: `${first} ${last}`,
      title,
      account: { id: account.id, name: account.name },
      owner: { id: USERS[i % USERS.length].id, name: USERS[i % USERS.length].name },
      email_addresses: [{ email: `${first.toLowerCase()}@${slug}.example`, type: 'work' }],
      phone_numbers: [{ number: `+1 555 01${String(i).padStart(2, '0')}`, type: 'work' }],
      created_at: stamp(i),
      updated_at: stamp(i + 3),
      remote_data: { id, firstName: first, lastName: last },
    });
  });
  const deal = (id: string) => {
    const o = state.records.opportunities.get(id)!;
    return { id, name: String(o.name) };
  };
  const account = (id: string) => ({ id, name: state.records.accounts.get(id)!.name as string });
  // Deal 100 (Acme Corp) has a note, an overdue open task, a done task and a call.
  const notes: Rec[] = [
    { id: 'n1', title: 'Kick-off', content: 'Acme wants a pilot in Q2.', opportunity: [deal('100')], account: account('a1'), contact: [{ id: 'c0' }], owner: { id: 'u1' } },
    { id: 'n2', content: 'Globex asked for references.', opportunity: [deal('101')], account: account('a2'), owner: { id: 'u2' } },
    { id: 'n3', title: 'Account review', content: 'Initech renews in March.', account: account('a3'), owner: { id: 'u3' } },
  ];
  const tasks: Rec[] = [
    { id: 't1', subject: 'Send pilot terms', content: 'Draft and send', due_date: '2026-01-20T00:00:00.000Z', status: 'open', opportunity: [deal('100')], account: account('a1'), owner: { id: 'u1', name: 'Ada Lovelace' } },
    { id: 't2', subject: 'Book demo', due_date: '2026-01-10T00:00:00.000Z', status: 'completed', completed_at: stamp(200), opportunity: [deal('100')], owner: { id: 'u2', name: 'Grace Hopper' } },
    { id: 't3', subject: 'Renewal call prep', due_date: '2099-01-01T00:00:00.000Z', status: 'open', account: account('a3'), owner: { id: 'u3', name: 'Alan Turing' } },
  ];
  const engagements: Rec[] = [
    { id: 'e1', engagement_type: 'call', subject: 'Discovery call', content: 'Budget confirmed.', start_time: '2026-01-05T15:00:00.000Z', opportunity: [deal('100')], account: account('a1'), contact: [{ id: 'c0' }], owner: { id: 'u1' } },
    { id: 'e2', engagement_type: 'meeting', subject: 'Onsite workshop', start_time: '2026-02-01T09:00:00.000Z', account: account('a2'), project: { id: 'pr-002' }, owner: { id: 'u2' } },
    // A Capsule-style note engagement: the same note is served by /notes, so activities leave it out.
    { id: 'e3', engagement_type: 'note', content: 'Logged as an entry', opportunity: [deal('100')], owner: { id: 'u1' } },
  ];
  const seed = (resource: FakeTrutoResource, recs: Rec[], at: number) =>
    recs.forEach((r, i) =>
      state.records[resource].set(r.id, { ...r, created_at: stamp(at + i * 3), updated_at: stamp(at + i * 3 + 1), remote_data: { id: r.id } }),
    );
  seed('notes', notes, 100);
  seed('tasks', tasks, 101);
  seed('engagements', engagements, 102);
}

// ---------------------------------------------------------------------------------------------
// Request handling

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};

function trutoError(status: number, message: string, extra: Record<string, unknown> = {}): FakeResponse {
  return { status, body: { statusCode: status, error: REASON[status] ?? 'Error', message, ...extra } };
}

function remoteError(
  status: number,
  message: string,
  raw: unknown,
  insight?: Record<string, { description: string; value?: unknown }>,
): FakeResponse {
  return trutoError(status, message, {
    truto_is_remote_error: true,
    raw_response: raw,
    ...(insight ? { truto_error_insight: insight } : {}),
  });
}

export function parseRoute(path: string): { resource: FakeTrutoResource; id?: string } | undefined {
  const m = /^\/unified\/crm\/([^/]+)(?:\/([^/]+))?\/?$/.exec(path);
  if (!m) return undefined;
  const resource = m[1] as FakeTrutoResource;
  if (!RESOURCES.includes(resource)) return undefined;
  return { resource, id: m[2] === undefined ? undefined : decodeURIComponent(m[2]) };
}

function header(req: RecordedRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function truthy(v: unknown): boolean {
  return v === true || v === 'true' || v === '1';
}

export function handle(state: FakeTrutoState, req: RecordedRequest): FakeResponse {
  const auth = header(req, 'authorization');
  if (auth !== `Bearer ${state.token}`) return trutoError(401, 'Unauthorized');

  const route = parseRoute(req.path);
  if (!route) return trutoError(404, `Route ${req.method} ${req.path} not found`);
  if (state.unsupported.has(route.resource)) {
    return trutoError(404, `The unified resource ${route.resource} is not available for this integrated account`);
  }

  const accountId = req.query.integrated_account_id;
  if (typeof accountId !== 'string' || accountId === '') {
    return trutoError(400, 'integrated_account_id is required', {
      details: { failures: [{ path: ['integrated_account_id'], message: 'Required' }] },
    });
  }
  if (accountId !== state.integratedAccountId) return trutoError(404, 'Integrated account not found');

  if (req.query.remote_query !== undefined) {
    state.remoteQueries.push(req.query.remote_query as Record<string, unknown>);
  }

  if (req.method === 'GET') {
    return route.id === undefined ? list(state, route.resource, req) : getOne(state, route.resource, route.id, req);
  }
  if (req.method === 'POST' || req.method === 'PATCH' || req.method === 'DELETE') {
    if ((req.method === 'POST') !== (route.id === undefined)) {
      return trutoError(405, `Method ${req.method} not allowed on ${req.path}`);
    }
    return idempotent(state, req, () => write(state, route.resource, route.id, req));
  }
  return trutoError(405, `Method ${req.method} not allowed`);
}

/** Same Idempotency-Key + same request -> the first answer again; other request -> 409. */
function idempotent(state: FakeTrutoState, req: RecordedRequest, run: () => FakeResponse): FakeResponse {
  const key = header(req, 'idempotency-key');
  if (!key) return afterCommit(state, req, run());
  const fingerprint = JSON.stringify([req.method, req.path, req.body ?? null]);
  const seen = state.idempotency.get(key);
  if (seen) {
    if (seen.fingerprint !== fingerprint) {
      return trutoError(409, `Idempotency-Key '${key}' was already used with a different request`);
    }
    return { ...seen.response, headers: { ...(seen.response.headers ?? {}), 'Idempotent-Replayed': 'true' } };
  }
  const response = run();
  // Only completed writes are remembered; a rejected one may be corrected and sent again.
  if (response.status >= 200 && response.status < 300) state.idempotency.set(key, { fingerprint, response });
  return afterCommit(state, req, response);
}

/** Simulates "the write happened but its answer was lost": commit, then answer an error. */
function afterCommit(state: FakeTrutoState, req: RecordedRequest, response: FakeResponse): FakeResponse {
  if (response.status < 200 || response.status >= 300) return response;
  const resource = parseRoute(req.path)?.resource;
  const i = state.failAfterCommit.findIndex((f) => f.resource === undefined || f.resource === resource);
  if (i < 0) return response;
  const [f] = state.failAfterCommit.splice(i, 1);
  return trutoError(f.status, 'Upstream connection closed before the response was read');
}

// ---- reads -----------------------------------------------------------------------------------

function present(state: FakeTrutoState, rec: Rec, req: RecordedRequest): unknown {
  const format = typeof req.query.truto_response_format === 'string' ? req.query.truto_response_format : 'unified';
  if (format === 'raw') return rec.remote_data ?? {};
  const out: Record<string, unknown> = structuredClone(rec);
  if (truthy(req.query.truto_ignore_remote_data)) delete out.remote_data;
  const excluded = req.query.truto_exclude_fields;
  if (Array.isArray(excluded)) for (const f of excluded) if (typeof f === 'string') delete out[f];
  return out;
}

function refId(v: unknown): string | undefined {
  if (typeof v === 'object' && v !== null && 'id' in v) {
    const id = (v as { id: unknown }).id;
    return id === undefined || id === null ? undefined : String(id);
  }
  return undefined;
}

function matches(rec: Rec, resource: FakeTrutoResource, q: Record<string, unknown>): boolean {
  // Links that are lists (a note's contacts, a task's deals): the record has the one asked for.
  for (const field of ['contact', 'opportunity']) {
    const want = refId(q[field]);
    if (want === undefined) continue;
    const list = Array.isArray(rec[field]) ? (rec[field] as unknown[]) : [];
    if (!list.some((x) => refId(x) === want)) return false;
  }
  // Users only: a whole address, any case.
  if (typeof q.email === 'string' && String(rec.email ?? '').toLowerCase() !== q.email.toLowerCase()) return false;
  // Truto documents search_term on projects (Capsule); the fake's CRM ignores it elsewhere, as a CRM without it would.
  if (resource === 'projects' && typeof q.search_term === 'string') {
    if (!String(rec.name ?? '').toLowerCase().includes(q.search_term.toLowerCase())) return false;
  }
  for (const field of ['pipeline', 'stage', 'owner', 'account', 'project']) {
    const want = refId(q[field]);
    if (want === undefined) continue;
    if (resource === 'opportunities' && field === 'pipeline') {
      if (refId(rec.pipeline) !== want) return false;
      continue;
    }
    if (refId(rec[field]) !== want) return false;
  }
  if (typeof q.name === 'string' && String(rec.name ?? '').toLowerCase() !== q.name.toLowerCase()) return false;
  if (typeof q.status === 'string' && rec.status !== q.status) return false;
  return true;
}

function sortRecords(recs: Rec[], sortBy: unknown): Rec[] {
  let field: string | undefined;
  let dir = 1;
  if (typeof sortBy === 'string') field = sortBy;
  else if (typeof sortBy === 'object' && sortBy !== null) {
    const [k, v] = Object.entries(sortBy as Record<string, unknown>)[0] ?? [];
    field = k;
    dir = v === 'desc' ? -1 : 1;
  }
  if (!field) return recs;
  const f = field;
  return [...recs].sort((a, b) => {
    const x = a[f] as string | number | undefined;
    const y = b[f] as string | number | undefined;
    if (x === y) return 0;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    return (x < y ? -1 : 1) * dir;
  });
}

function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }), 'utf8').toString('base64url');
}

function decodeCursor(c: string): number | undefined {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as { offset?: unknown };
    return typeof v.offset === 'number' && v.offset >= 0 ? v.offset : undefined;
  } catch {
    return undefined;
  }
}

function list(state: FakeTrutoState, resource: FakeTrutoResource, req: RecordedRequest): FakeResponse {
  const q = req.query;
  let offset = 0;
  if (typeof q.next_cursor === 'string' && q.next_cursor !== '') {
    const o = decodeCursor(q.next_cursor);
    if (o === undefined) return trutoError(400, 'Invalid next_cursor');
    offset = o;
  }
  let limit = state.defaultLimit;
  if (q.limit !== undefined) {
    const n = Number(q.limit);
    if (!Number.isInteger(n) || n < 1) return trutoError(400, 'limit must be a positive integer');
    limit = Math.min(n, state.maxLimit);
  }
  const all = sortRecords(
    [...state.records[resource].values()].filter((r) => matches(r, resource, q)),
    q.sort_by,
  );
  const ignoreLimit = truthy(q.truto_ignore_limit);
  const slice = ignoreLimit ? all.slice(offset) : all.slice(offset, offset + limit);
  const nextOffset = offset + slice.length;
  let next_cursor = !ignoreLimit && nextOffset < all.length ? encodeCursor(nextOffset) : null;
  if (next_cursor && offset > 0 && state.loopCursor.has(resource)) next_cursor = q.next_cursor as string;
  const prev_cursor = offset > 0 ? encodeCursor(Math.max(0, offset - limit)) : null;
  const items = slice.map((r) => present(state, r, req));
  const keyBy = typeof q.truto_key_by === 'string' ? q.truto_key_by : undefined;
  const result = keyBy
    ? Object.fromEntries(items.map((it, i) => [String((slice[i] as Record<string, unknown>)[keyBy]), it]))
    : items;
  return {
    status: 200,
    body: { result, next_cursor, prev_cursor, result_count: slice.length, is_partial_response: false },
  };
}

function notFound(resource: FakeTrutoResource, id: string): FakeResponse {
  return remoteError(404, `Resource not found`, { message: `${resource.slice(0, -1)} ${id} does not exist` });
}

function getOne(state: FakeTrutoState, resource: FakeTrutoResource, id: string, req: RecordedRequest): FakeResponse {
  const rec = state.records[resource].get(id);
  if (!rec) return notFound(resource, id);
  return { status: 200, body: present(state, rec, req) };
}

// ---- writes ----------------------------------------------------------------------------------

function missingFields(body: Record<string, unknown>, required: string[]): string[] {
  return required.filter((f) => body[f] === undefined || body[f] === null || body[f] === '');
}

function missingFieldsError(resource: FakeTrutoResource, missing: string[]): FakeResponse {
  return remoteError(
    422,
    'Validation failed',
    { errors: missing.map((f) => ({ resource, field: f, message: 'is required' })) },
    {
      missing_required_body_fields: {
        description: `The following required body fields are missing: ${missing.join(', ')}`,
        value: missing,
      },
    },
  );
}

const WRITABLE: Record<FakeTrutoResource, string[]> = {
  accounts: ['name', 'description', 'industry', 'website', 'owner', 'custom_fields'],
  contacts: ['first_name', 'last_name', 'name', 'title', 'account', 'owner', 'email_addresses', 'phone_numbers', 'custom_fields'],
  users: ['name', 'email', 'is_active'],
  notes: ['title', 'content', 'owner', 'account', 'contact', 'opportunity', 'visibility'],
  tasks: ['subject', 'content', 'due_date', 'status', 'completed_at', 'owner', 'account', 'contact', 'opportunity'],
  engagements: ['engagement_type', 'subject', 'content', 'start_time', 'end_time', 'status', 'owner', 'account', 'contact', 'opportunity', 'project'],
  stages: ['name', 'position', 'pipeline', 'status'],
  pipelines: ['name', 'entity'],
  opportunities: ['name', 'description', 'amount', 'currency', 'owner', 'account', 'contact', 'stage', 'pipeline', 'status', 'tags', 'custom_fields', 'close_date'],
  projects: ['name', 'description', 'status', 'amount', 'currency', 'close_date', 'owner', 'account', 'contact', 'opportunity', 'stage', 'tags', 'custom_fields'],
};

/** Fills names into refs the fake knows, like Truto's unified read-back would. */
function resolveRefs(state: FakeTrutoState, resource: FakeTrutoResource, rec: Rec): void {
  const named = (v: unknown, from: Map<string, Rec>) => {
    const id = refId(v);
    if (id === undefined) return v;
    const hit = from.get(id);
    return hit ? { id, name: hit.name } : { id };
  };
  if (rec.owner !== undefined) rec.owner = named(rec.owner, state.records.users);
  if (rec.account !== undefined) rec.account = named(rec.account, state.records.accounts);
  if (resource === 'notes' || resource === 'tasks' || resource === 'engagements') {
    for (const [field, from] of [
      ['contact', state.records.contacts],
      ['opportunity', state.records.opportunities],
    ] as const) {
      if (Array.isArray(rec[field])) rec[field] = (rec[field] as unknown[]).map((x) => named(x, from));
    }
  }
  if (resource === 'opportunities' || resource === 'stages') {
    if (rec.pipeline !== undefined) rec.pipeline = named(rec.pipeline, state.records.pipelines);
  }
  if (resource === 'opportunities' && rec.stage !== undefined) {
    rec.stage = named(rec.stage, state.records.stages);
  }
}

function write(state: FakeTrutoState, resource: FakeTrutoResource, id: string | undefined, req: RecordedRequest): FakeResponse {
  const store = state.records[resource];
  if (req.method === 'DELETE') {
    if (!store.has(id!)) return notFound(resource, id!);
    store.delete(id!);
    if (resource === 'stages') syncPipelineStages(state);
    return { status: 200, body: { id } };
  }
  const body = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return trutoError(400, 'Request body must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  const required = req.method === 'POST' ? state.requiredOnCreate[resource] : state.requiredOnUpdate[resource];
  const missing = missingFields(b, required);
  if (missing.length) return missingFieldsError(resource, missing);
  // Truto's notes/create: "Either title or content is required".
  if (resource === 'notes' && req.method === 'POST' && missingFields(b, ['title']).length && missingFields(b, ['content']).length) {
    return missingFieldsError(resource, ['content']);
  }

  // Referential checks a CRM would make.
  const stageRef = refId(b.stage);
  if (resource === 'opportunities' && stageRef !== undefined && !state.records.stages.has(stageRef)) {
    return remoteError(422, 'Validation failed', { errors: [{ field: 'stage_id', message: `stage ${stageRef} not found` }] });
  }
  const pipelineRef = refId(b.pipeline);
  if ((resource === 'opportunities' || resource === 'stages') && pipelineRef !== undefined && !state.records.pipelines.has(pipelineRef)) {
    return remoteError(422, 'Validation failed', { errors: [{ field: 'pipeline_id', message: `pipeline ${pipelineRef} not found` }] });
  }

  let rec: Rec;
  state.tick += 1;
  if (req.method === 'POST') {
    state.nextId += 1;
    rec = { id: resource === 'projects' ? `pr-${state.nextId}` : String(state.nextId), created_at: stamp(state.tick) };
    if (resource === 'stages') rec.status = 'active';
    if (resource === 'opportunities') rec.status = 'open';
    if (resource === 'tasks') rec.status = 'open';
  } else {
    const existing = store.get(id!);
    if (!existing) return notFound(resource, id!);
    rec = structuredClone(existing);
  }
  for (const f of WRITABLE[resource]) if (b[f] !== undefined) rec[f] = structuredClone(b[f]);
  rec.updated_at = stamp(state.tick);
  // A contact's full name follows its parts; a task completed now has a completion time.
  if (resource === 'contacts' && (b.first_name !== undefined || b.last_name !== undefined) && b.name === undefined) {
    rec.name = [rec.first_name, rec.last_name].filter((x) => typeof x === 'string' && x).join(' ');
  }
  if (resource === 'tasks' && b.status !== undefined) rec.completed_at = b.status === 'completed' ? stamp(state.tick) : undefined;
  if (rec.completed_at === undefined) delete rec.completed_at;
  // Opportunities moved to a stage follow the stage's pipeline, as in CRMs with pipelines.
  if (resource === 'opportunities' && stageRef !== undefined && pipelineRef === undefined) {
    const st = state.records.stages.get(stageRef);
    if (st) rec.pipeline = structuredClone(st.pipeline);
  }
  resolveRefs(state, resource, rec);
  const remoteExtra = typeof b.remote_data === 'object' && b.remote_data !== null ? (b.remote_data as Record<string, unknown>) : {};
  rec.remote_data = { ...((rec.remote_data as Record<string, unknown>) ?? {}), id: rec.id, name: rec.name, ...remoteExtra };
  store.set(rec.id, rec);
  if (resource === 'stages') syncPipelineStages(state);

  const status = req.method === 'POST' ? 201 : 200;
  if (state.partialWrites.has(resource)) return { status, body: { id: rec.id } };
  return { status, body: present(state, rec, req) };
}

/** Pipelines embed their stages; keep them in step after stage writes. */
function syncPipelineStages(state: FakeTrutoState): void {
  for (const p of state.records.pipelines.values()) {
    const stages = [...state.records.stages.values()]
      .filter((s) => refId(s.pipeline) === p.id)
      .sort((a, b) => Number(a.position ?? 0) - Number(b.position ?? 0));
    p.stages = stages.map((s) => ({ id: s.id, name: s.name, status: s.status, pipeline: { id: p.id } }));
  }
}
