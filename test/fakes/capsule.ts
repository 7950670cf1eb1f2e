/**
 * A stateful fake Capsule (API v2) on a real HTTP server (127.0.0.1), speaking the wire format of
 * Capsule's docs (developer.capsulecrm.com/v2; provider-apis.md §4.1 with §7), under /api/v2 as
 * the real one: a bearer token; records wrapped in their key (`{kase: {...}}`, `{kases: [...]}`);
 * `page`/`perPage` (1 to 100, default 50) with the next and previous pages in an RFC 8288 `Link`
 * header; GET listings that take no filters (unknown parameters are ignored, as Capsule does) and
 * structured searches at `POST /{entity}/filters/results`; sales pipelines with milestones (the
 * closing ones `complete`: Won at probability 100, Lost at 0), project boards with stages;
 * `X-RateLimit-Limit/Remaining/Reset` on every answer; errors as `{message}`, validation as
 * `{message: "Validation Failed", errors: [{resource, field, message}]}`, a 429 as
 * `{error: "rate limit reached"}`. Like Capsule (live notes, soil-dev/capsulemcp §26) it accepts a
 * milestone of another pipeline for an opportunity. Seeded deterministically; the clock only
 * advances on writes.
 *
 * The records around a deal: parties (organisations and people, with email addresses, phone
 * numbers and web addresses as nested collections that a PUT changes item by item: an item
 * without id is added, one with `"_delete": true` removed), `GET /parties/{id}/people` and
 * `/opportunities`; users (`GET /users`, whole, embed=party for their own party); entries
 * (notes, recorded emails, completed-task records) on exactly one party, opportunity or kase,
 * listed per record at 1 to 50 a page, created as notes only; tasks (description and dueOn
 * required, at most one of party/opportunity/kase, `GET /tasks?status=open,completed,pending`,
 * open only by default); and the global search of each (`GET /{entity}/search?q=`).
 */
import { FakeServer, type FakeResponse, type RecordedRequest } from './server.js';

export interface FakeMilestone {
  id: number;
  name: string;
  description: string | null;
  complete: boolean;
  probability: number;
  daysUntilStale: number | null;
  pipelineId: number;
  createdAt: string;
  updatedAt: string;
}

export interface FakeBoardStage {
  id: number;
  name: string;
  description: string | null;
  boardId: number;
  displayOrder: number;
  createdAt: string;
  updatedAt: string;
}

export interface FakeOpportunity {
  id: number;
  name: string;
  description: string | null;
  partyId: number;
  ownerId: number | null;
  milestoneId: number;
  value: { amount: number; currency: string } | null;
  expectedCloseOn: string | null;
  probability: number;
  closedOn: string | null;
  lastOpenMilestoneId: number | null;
  lastStageChangedAt: string;
  createdAt: string;
  updatedAt: string;
}

export interface FakeKase {
  id: number;
  name: string;
  description: string | null;
  partyId: number;
  ownerId: number | null;
  status: 'OPEN' | 'CLOSED';
  opportunityId: number | null;
  stageId: number | null;
  expectedCloseOn: string | null;
  closedOn: string | null;
  lastContactedAt: string | null;
  tagIds: number[];
  fields: Array<{ id: number; definitionId: number; value: unknown }>;
  createdAt: string;
  updatedAt: string;
}

export interface FakeParty {
  id: number;
  type: 'person' | 'organisation';
  name?: string;
  firstName?: string;
  lastName?: string;
  jobTitle?: string | null;
  organisationId?: number | null;
  ownerId?: number | null;
  emails: Array<{ id: number; type: string | null; address: string }>;
  phones: Array<{ id: number; type: string | null; number: string }>;
  websites: Array<{ id: number; type: string | null; service: string; address: string }>;
  createdAt: string;
  updatedAt: string;
}

export interface FakeEntry {
  id: number;
  type: 'note' | 'email' | 'task';
  subject: string | null;
  content: string;
  creatorId: number;
  partyId: number | null;
  opportunityId: number | null;
  kaseId: number | null;
  entryAt: string;
  createdAt: string;
  updatedAt: string;
}

export interface FakeTask {
  id: number;
  description: string;
  detail: string | null;
  dueOn: string;
  status: 'OPEN' | 'COMPLETED' | 'PENDING';
  partyId: number | null;
  opportunityId: number | null;
  kaseId: number | null;
  ownerId: number;
  completedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface FakeCapsuleState {
  token: string;
  /** The user the token belongs to: Capsule's default owner of what it creates. */
  authUserId: number;
  users: Map<number, { id: number; username: string; name: string; status: string; partyId: number }>;
  parties: Map<number, FakeParty>;
  entries: Map<number, FakeEntry>;
  tasks: Map<number, FakeTask>;
  pipelines: Map<number, { id: number; name: string; description: string | null; createdAt: string; updatedAt: string }>;
  milestones: Map<number, FakeMilestone>;
  boards: Map<number, { id: number; name: string; description: string | null; createdAt: string; updatedAt: string }>;
  stages: Map<number, FakeBoardStage>;
  opportunities: Map<number, FakeOpportunity>;
  kases: Map<number, FakeKase>;
  tags: Map<number, string>;
  fieldDefinitions: Map<number, string>;
  nextId: { opportunity: number; kase: number; tag: number; field: number; party: number; entry: number; task: number; point: number };
  /** Deterministic clock: every write advances it by one minute. */
  now: Date;
  /** Listing paths (e.g. /api/v2/kases) whose pages after the first link back to themselves: a looping upstream. */
  loopLink: Set<string>;
  /** Requests an hour reported in X-RateLimit-Limit, and whether going over answers 429. */
  rateLimit: number;
  enforceRateLimit: boolean;
  /** Requests counted in the current hour. */
  used: number;
}

/** Seed sizes, exported so tests can assert counts without hard-coding them twice. */
export const SEED = { opportunities: 300, kases: 60, tasks: 140 } as const;
/** An organisation with deals, people, notes and tasks: what the records tests start from. */
export const ACME = { id: 896, name: 'Acme Corp', deal: 1005 } as const;
/** The oldest pipeline: what the backwards-compatible `GET /milestones` lists. */
export const OLDEST_PIPELINE = 1;

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const day = (d: Date): string => d.toISOString().slice(0, 10);

export function seedState(token: string): FakeCapsuleState {
  const t0 = '2026-01-05T09:00:00Z';
  const state: FakeCapsuleState = {
    token,
    authUserId: 61,
    users: new Map(
      [
        { id: 61, username: 'ted', name: 'Ted Danson', status: 'ACTIVE', partyId: 950 },
        { id: 62, username: 'ana', name: 'Ana Silva', status: 'ACTIVE', partyId: 951 },
        { id: 63, username: 'bob', name: 'Bob Stone', status: 'INACTIVE', partyId: 952 },
      ].map((u) => [u.id, u]),
    ),
    parties: new Map(),
    entries: new Map(),
    tasks: new Map(),
    pipelines: new Map(),
    milestones: new Map(),
    boards: new Map(),
    stages: new Map(),
    opportunities: new Map(),
    kases: new Map(),
    tags: new Map([
      [501, 'VIP'],
      [502, 'Urgent'],
      [503, 'Renewal'],
    ]),
    fieldDefinitions: new Map([
      [701, 'Region'],
      [702, 'Budget code'],
    ]),
    nextId: { opportunity: 1001 + SEED.opportunities, kase: 2001 + SEED.kases, tag: 504, field: 9001, party: 1100, entry: 5001, task: 7001, point: 20001 },
    now: new Date('2026-11-20T12:00:00Z'),
    loopLink: new Set(),
    rateLimit: 4000,
    enforceRateLimit: false,
    used: 0,
  };
  const point = () => state.nextId.point++;
  const orgs = ['Zestia', 'Globex', 'Initech', 'Umbrella', ACME.name];
  orgs.forEach((name, i) => {
    const host = `${name.split(' ')[0].toLowerCase()}.example`;
    state.parties.set(892 + i, {
      id: 892 + i,
      type: 'organisation',
      name,
      ownerId: 61 + (i % 3),
      emails: [],
      phones: [{ id: point(), type: 'Work', number: `+44 20 7946 01${10 + i}` }],
      websites: [{ id: point(), type: null, service: 'URL', address: i % 2 ? `https://www.${host}/` : host }],
      createdAt: t0,
      updatedAt: t0,
    });
  });
  const person = (id: number, firstName: string, lastName: string, org: number | null, jobTitle: string | null, email: string | null, ownerId: number | null) =>
    state.parties.set(id, {
      id,
      type: 'person',
      firstName,
      lastName,
      jobTitle,
      organisationId: org,
      ownerId,
      emails: email ? [{ id: point(), type: 'Work', address: email }] : [],
      phones: [],
      websites: [],
      createdAt: t0,
      updatedAt: t0,
    });
  person(897, 'Mary', 'Major', ACME.id, 'Head of Buying', 'mary@acme.example', 62);

  const pipelines: Array<[number, string, string | null, Array<[string, number, boolean]>]> = [
    [1, 'Sales Pipeline', null, [['New', 10, false], ['Bid', 50, false], ['Negotiation', 75, false], ['Won', 100, true], ['Lost', 0, true]]],
    [2, 'SMB clients', 'Process for small and medium-sized businesses', [['Prospect', 5, false], ['Proposal', 40, false], ['Won', 100, true], ['Lost', 0, true]]],
  ];
  let mid = 0;
  for (const [id, name, description, milestones] of pipelines) {
    state.pipelines.set(id, { id, name, description, createdAt: t0, updatedAt: t0 });
    for (const [mname, probability, complete] of milestones) {
      mid += 1;
      state.milestones.set(mid, {
        id: mid,
        name: mname,
        description: complete ? null : `${mname} in ${name}`,
        complete,
        probability,
        daysUntilStale: complete ? null : 12,
        pipelineId: id,
        createdAt: t0,
        updatedAt: t0,
      });
    }
  }
  const boards: Array<[number, string, string[]]> = [
    [34, 'Projects', ['Project Brief', 'Planning', 'Delivery']],
    [35, 'Design', ['Concept', 'Review']],
  ];
  let sid = 148;
  for (const [id, name, stages] of boards) {
    state.boards.set(id, { id, name, description: null, createdAt: t0, updatedAt: t0 });
    stages.forEach((sname, i) => {
      sid += 1;
      state.stages.set(sid, { id: sid, name: sname, description: null, boardId: id, displayOrder: i + 1, createdAt: t0, updatedAt: t0 });
    });
  }

  const partyIds = [...state.parties.keys()];
  const byPipeline = (p: number) => [...state.milestones.values()].filter((m) => m.pipelineId === p);
  const currencies = ['GBP', 'EUR', 'USD'];
  for (let i = 0; i < SEED.opportunities; i++) {
    const pid = i % 3 === 2 ? 2 : 1;
    const ms = byPipeline(pid);
    const m = ms[i % ms.length];
    const open = ms.find((x) => !x.complete)!;
    const at = iso(new Date(Date.parse(t0) + i * 3_600_000));
    state.opportunities.set(1001 + i, {
      id: 1001 + i,
      name: `Opportunity ${i + 1}`,
      description: i % 4 === 0 ? `About opportunity ${i + 1}` : null,
      partyId: partyIds[i % partyIds.length],
      ownerId: 61 + (i % 3),
      milestoneId: m.id,
      value: i % 7 === 6 ? null : { amount: 500 + i * 25, currency: currencies[i % currencies.length] },
      expectedCloseOn: `2026-${String((i % 12) + 1).padStart(2, '0')}-15`,
      probability: m.probability,
      closedOn: m.complete ? '2026-06-30' : null,
      lastOpenMilestoneId: m.complete ? open.id : null,
      lastStageChangedAt: at,
      createdAt: at,
      updatedAt: at,
    });
  }
  const boardStages = [...state.stages.keys()];
  for (let i = 0; i < SEED.kases; i++) {
    const at = iso(new Date(Date.parse(t0) + i * 7_200_000));
    const closed = i % 5 === 4;
    state.kases.set(2001 + i, {
      id: 2001 + i,
      name: `Project ${i + 1}`,
      description: i % 3 === 0 ? `Delivery of project ${i + 1}` : null,
      partyId: partyIds[i % partyIds.length],
      ownerId: 61 + (i % 3),
      status: closed ? 'CLOSED' : 'OPEN',
      opportunityId: i % 4 === 0 ? 1001 + i : null,
      stageId: i % 6 === 5 ? null : boardStages[i % boardStages.length],
      expectedCloseOn: `2026-${String((i % 12) + 1).padStart(2, '0')}-28`,
      closedOn: closed ? '2026-07-31' : null,
      lastContactedAt: i % 2 ? at : null,
      tagIds: i % 5 === 0 ? [501] : i % 5 === 1 ? [502, 503] : [],
      fields: i % 2 === 0 ? [{ id: 8001 + i, definitionId: 701, value: i % 4 === 0 ? 'EMEA' : 'AMER' }] : [],
      createdAt: at,
      updatedAt: at,
    });
  }
  // People added after the deals and projects, so those keep their parties.
  person(898, 'Olivia', 'Rossi', ACME.id, 'CTO', 'olivia@acme.example', 61);
  state.parties.get(898)!.phones.push({ id: point(), type: 'Mobile', number: '+44 7700 900123' });
  person(899, 'Sam', 'Green', 893, 'Procurement', 'sam@globex.example', null);
  person(950, 'Ted', 'Danson', null, null, 'ted@capsule.example', null);
  person(951, 'Ana', 'Silva', null, null, 'ana@capsule.example', null);
  person(952, 'Bob', 'Stone', null, null, null, null);

  // Entries: a note on some deals, parties and projects; two recorded emails; the record of a
  // completed task, which Capsule writes into a party's timeline.
  const entry = (e: Omit<FakeEntry, 'id' | 'entryAt' | 'createdAt' | 'updatedAt'>, at: string) => {
    const id = state.nextId.entry++;
    state.entries.set(id, { id, ...e, entryAt: at, createdAt: at, updatedAt: at });
  };
  const stamp = (n: number) => iso(new Date(Date.parse('2026-03-01T10:00:00Z') + n * 5_400_000));
  for (let i = 0; i < 24; i++) {
    const base = { type: 'note' as const, subject: null, creatorId: 61 + (i % 3), partyId: null, opportunityId: null, kaseId: null };
    if (i % 3 === 0) entry({ ...base, content: `Call notes ${i + 1}: wants a pilot`, opportunityId: 1001 + ((i / 3) % 8) }, stamp(i));
    else if (i % 3 === 1) entry({ ...base, content: `Met the team ${i + 1}`, partyId: 892 + (i % 5) }, stamp(i));
    else entry({ ...base, content: `Project update ${i + 1}`, kaseId: 2001 + (i % 6) }, stamp(i));
  }
  entry({ type: 'email', subject: 'Pilot terms', content: 'Attached are the pilot terms.', creatorId: 62, partyId: null, opportunityId: ACME.deal, kaseId: null }, stamp(30));
  entry({ type: 'email', subject: 'Re: pricing', content: 'Thanks, we will review.', creatorId: 61, partyId: 897, opportunityId: null, kaseId: null }, stamp(31));
  entry({ type: 'task', subject: null, content: 'Send welcome pack', creatorId: 61, partyId: ACME.id, opportunityId: null, kaseId: null }, stamp(32));

  // Tasks on deals, parties and projects; some completed, a few pending, due in the past and the future.
  for (let i = 0; i < SEED.tasks; i++) {
    const id = state.nextId.task++;
    const at = stamp(40 + i);
    const status = i % 17 === 5 ? 'PENDING' : i % 4 === 3 ? 'COMPLETED' : 'OPEN';
    state.tasks.set(id, {
      id,
      description: `Follow up ${i + 1}`,
      detail: i % 5 === 0 ? `Details of follow-up ${i + 1}` : null,
      dueOn: (i % 5) % 2 ? `2025-${String((i % 12) + 1).padStart(2, '0')}-10` : `2030-${String((i % 12) + 1).padStart(2, '0')}-20`,
      status,
      partyId: i % 3 === 1 ? 892 + (i % 5) : null,
      opportunityId: i % 3 === 0 ? 1001 + ((i / 3) % 12) : null,
      kaseId: i % 3 === 2 ? 2001 + (i % 6) : null,
      ownerId: 61 + (i % 3),
      completedAt: status === 'COMPLETED' ? at : null,
      createdAt: at,
      updatedAt: at,
    });
  }
  return state;
}

// ---------------------------------------------------------------------------------------------
// Errors and views

class CapsuleError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message ?? body.error));
  }
}

const notFound = () => new CapsuleError(404, { message: 'Could not find resource' });
const invalid = (resource: string, field: string, message: string) =>
  new CapsuleError(422, { message: 'Validation Failed', errors: [{ resource, field, message }] });

function userView(state: FakeCapsuleState, id: number | null): unknown {
  if (id === null) return null;
  const u = state.users.get(id);
  return u ? { id: u.id, username: u.username, name: u.name } : { id };
}

function partyView(state: FakeCapsuleState, id: number): unknown {
  const p = state.parties.get(id)!;
  const picture = `https://capsulecrm.com/theme/default/images/${p.type === 'person' ? 'person' : 'org'}_avatar_70.png`;
  return p.type === 'person'
    ? { id: p.id, type: p.type, firstName: p.firstName, lastName: p.lastName, pictureURL: picture }
    : { id: p.id, type: p.type, name: p.name, pictureURL: picture };
}

const milestoneRef = (state: FakeCapsuleState, id: number | null) => (id === null ? null : { id, name: state.milestones.get(id)?.name });

function milestoneView(state: FakeCapsuleState, m: FakeMilestone): unknown {
  const p = state.pipelines.get(m.pipelineId)!;
  return {
    id: m.id,
    name: m.name,
    description: m.description,
    complete: m.complete,
    probability: m.probability,
    pipeline: { id: p.id, name: p.name },
    daysUntilStale: m.daysUntilStale,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
  };
}

function stageView(state: FakeCapsuleState, s: FakeBoardStage): unknown {
  const b = state.boards.get(s.boardId)!;
  return { id: s.id, name: s.name, description: s.description, board: { id: b.id, name: b.name }, displayOrder: s.displayOrder, createdAt: s.createdAt, updatedAt: s.updatedAt };
}

function opportunityView(state: FakeCapsuleState, o: FakeOpportunity): unknown {
  return {
    id: o.id,
    updatedAt: o.updatedAt,
    description: o.description,
    owner: userView(state, o.ownerId),
    team: null,
    party: partyView(state, o.partyId),
    lostReason: null,
    milestone: milestoneRef(state, o.milestoneId),
    value: o.value,
    expectedCloseOn: o.expectedCloseOn,
    probability: o.probability,
    durationBasis: 'FIXED',
    duration: null,
    closedOn: o.closedOn,
    createdAt: o.createdAt,
    name: o.name,
    lastContactedAt: null,
    lastStageChangedAt: o.lastStageChangedAt,
    lastOpenMilestone: milestoneRef(state, o.lastOpenMilestoneId),
  };
}

function kaseView(state: FakeCapsuleState, k: FakeKase, embed: Set<string>): unknown {
  const stage = k.stageId === null ? null : state.stages.get(k.stageId);
  const opp = k.opportunityId === null ? null : state.opportunities.get(k.opportunityId);
  return {
    id: k.id,
    party: partyView(state, k.partyId),
    owner: userView(state, k.ownerId),
    team: null,
    status: k.status,
    opportunity: opp ? { id: opp.id, name: opp.name } : null,
    stage: stage ? { name: stage.name, id: stage.id } : null,
    createdAt: k.createdAt,
    updatedAt: k.updatedAt,
    expectedCloseOn: k.expectedCloseOn,
    description: k.description,
    name: k.name,
    closedOn: k.closedOn,
    lastContactedAt: k.lastContactedAt,
    ...(embed.has('tags') ? { tags: k.tagIds.map((id) => ({ id, name: state.tags.get(id), dataTag: false })) } : {}),
    ...(embed.has('fields')
      ? { fields: k.fields.map((f) => ({ id: f.id, definition: { id: f.definitionId, name: state.fieldDefinitions.get(f.definitionId) }, value: f.value, tagId: null })) }
      : {}),
  };
}

const fullName = (p: FakeParty) => (p.type === 'person' ? [p.firstName, p.lastName].filter(Boolean).join(' ') : (p.name ?? ''));

/** A party read on its own (Party model), people and organisations with their own fields. */
function partyRecordView(state: FakeCapsuleState, p: FakeParty): unknown {
  const base = {
    id: p.id,
    type: p.type,
    about: null,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    lastContactedAt: null,
    owner: userView(state, p.ownerId ?? null),
    team: null,
    pictureURL: `https://capsulecrm.com/theme/default/images/${p.type === 'person' ? 'person' : 'org'}_avatar_70.png`,
    addresses: [],
    phoneNumbers: p.phones.map((n) => ({ ...n })),
    websites: p.websites.map((w) => ({ ...w, url: w.address.includes('://') ? w.address : `http://${w.address}` })),
    emailAddresses: p.emails.map((e) => ({ ...e })),
  };
  return p.type === 'person'
    ? {
        ...base,
        title: null,
        firstName: p.firstName ?? null,
        lastName: p.lastName ?? null,
        jobTitle: p.jobTitle ?? null,
        organisation: p.organisationId ? partyView(state, p.organisationId) : null,
      }
    : { ...base, name: p.name };
}

function userRecordView(state: FakeCapsuleState, u: FakeCapsuleState['users'] extends Map<number, infer U> ? U : never, embed: Set<string>): unknown {
  const party = state.parties.get(u.partyId);
  return {
    id: u.id,
    locale: 'en_GB',
    currency: 'GBP',
    status: u.status,
    party: party ? (embed.has('party') ? partyRecordView(state, party) : partyView(state, party.id)) : null,
    username: u.username,
    timezone: 'Europe/London',
    lastLoginAt: '2026-11-01T09:00:00Z',
    name: u.name,
    taskReminder: true,
  };
}

const ACTIVITY_TYPES = { note: { id: -1, name: 'Note' }, task: { id: -4, name: 'Task completed' }, email: { id: -5, name: 'Email sent' } } as const;

const recordRef = (state: FakeCapsuleState, kind: 'opportunity' | 'kase', id: number | null) => {
  if (id === null) return null;
  const r = kind === 'opportunity' ? state.opportunities.get(id) : state.kases.get(id);
  return r ? { id, name: r.name } : { id };
};

function entryView(state: FakeCapsuleState, e: FakeEntry): unknown {
  return {
    id: e.id,
    type: e.type,
    creator: userView(state, e.creatorId),
    activityType: ACTIVITY_TYPES[e.type],
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
    ...(e.type === 'email' ? { subject: e.subject, participants: [] } : {}),
    content: e.content,
    entryAt: e.entryAt,
    attachments: [],
    party: e.partyId === null ? null : partyView(state, e.partyId),
    opportunity: recordRef(state, 'opportunity', e.opportunityId),
    kase: recordRef(state, 'kase', e.kaseId),
  };
}

function taskView(state: FakeCapsuleState, t: FakeTask): unknown {
  return {
    id: t.id,
    category: null,
    description: t.description,
    detail: t.detail,
    status: t.status,
    party: t.partyId === null ? null : partyView(state, t.partyId),
    opportunity: recordRef(state, 'opportunity', t.opportunityId),
    kase: recordRef(state, 'kase', t.kaseId),
    owner: userView(state, t.ownerId),
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    dueOn: t.dueOn,
    dueTime: null,
    completedAt: t.completedAt,
  };
}

// ---------------------------------------------------------------------------------------------
// Listings: page/perPage and the Link header

interface Ctx {
  state: FakeCapsuleState;
  req: RecordedRequest;
  /** http://host:port of the request, for absolute links. */
  origin: string;
}

const ok = (body: unknown, status = 200): FakeResponse => ({ status, body });

function paged<T>(c: Ctx, key: string, items: T[], view: (item: T) => unknown, maxPerPage = 100): FakeResponse {
  const q = c.req.query;
  const page = q.page === undefined ? 1 : Number(q.page);
  const perPage = q.perPage === undefined ? 50 : Number(q.perPage);
  if (!Number.isInteger(page) || page < 1) throw new CapsuleError(400, { message: 'page must be a positive integer' });
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > maxPerPage) throw new CapsuleError(400, { message: `perPage must be between 1 and ${maxPerPage}` });
  const start = (page - 1) * perPage;
  const slice = items.slice(start, start + perPage);
  const link = (p: number) => {
    const query = new URLSearchParams(Object.entries(q).filter(([, v]) => typeof v === 'string') as Array<[string, string]>);
    query.set('page', String(p));
    return `${c.origin}${c.req.path}?${query.toString()}`;
  };
  const rels: string[] = [];
  // A looping upstream: every page after the first points back at itself, the last one too.
  if (c.state.loopLink.has(c.req.path) && page > 1) rels.push(`<${link(page)}>; rel="next"`);
  else if (start + perPage < items.length) rels.push(`<${link(page + 1)}>; rel="next"`);
  if (page > 1) rels.push(`<${link(page - 1)}>; rel="prev"`);
  return { status: 200, headers: rels.length ? { Link: rels.join(', ') } : {}, body: { [key]: slice.map(view) } };
}

function embedOf(req: RecordedRequest): Set<string> {
  return new Set(typeof req.query.embed === 'string' ? req.query.embed.split(',').map((s) => s.trim()) : []);
}

function intId(s: string): number {
  if (!/^\d+$/.test(s)) throw notFound();
  return Number(s);
}

// ---------------------------------------------------------------------------------------------
// Structured filters (Filter reference): conditions combined with and

interface Condition {
  field: string;
  operator: string;
  value: unknown;
}

const PARTY_FIELDS = ['id', 'name', 'jobTitle', 'email', 'phone', 'type', 'owner'];
const OPP_FIELDS = ['id', 'name', 'status', 'pipeline', 'milestone', 'probability', 'owner', 'isOpen', 'expectedCloseOn', 'closedOn'];
const KASE_FIELDS = ['id', 'name', 'status', 'board', 'stage', 'owner', 'isOpen', 'expectedCloseOn', 'closedOn'];
const OPERATORS = ['is', 'is not', 'contains', 'starts with', 'ends with', 'is greater than', 'is less than'];

function conditionsOf(body: unknown, resource: string, fields: string[]): Condition[] {
  const conds = (body as { filter?: { conditions?: unknown } } | undefined)?.filter?.conditions;
  if (!Array.isArray(conds)) throw invalid('filter', 'conditions', 'conditions is required');
  for (const c of conds as Condition[]) {
    if (!fields.includes(c.field)) throw invalid(resource, 'field', 'invalid field name');
    if (!OPERATORS.includes(c.operator)) throw invalid(resource, 'operator', 'invalid operator');
  }
  return conds as Condition[];
}

function test(c: Condition, actual: unknown): boolean {
  const a = typeof actual === 'string' ? actual.toLowerCase() : actual;
  const v = typeof c.value === 'string' ? c.value.toLowerCase() : c.value;
  switch (c.operator) {
    case 'is':
      return a === v || (typeof a === 'number' && String(a) === String(v));
    case 'is not':
      return !(a === v || (typeof a === 'number' && String(a) === String(v)));
    case 'contains':
      return typeof a === 'string' && a.includes(String(v));
    case 'starts with':
      return typeof a === 'string' && a.startsWith(String(v));
    case 'ends with':
      return typeof a === 'string' && a.endsWith(String(v));
    case 'is greater than':
      return typeof a === 'number' && a > Number(v);
    case 'is less than':
      return typeof a === 'number' && a < Number(v);
  }
  return false;
}

function oppField(state: FakeCapsuleState, o: FakeOpportunity, field: string, value: unknown): unknown {
  const m = state.milestones.get(o.milestoneId)!;
  switch (field) {
    case 'pipeline':
      return m.pipelineId;
    case 'milestone':
      // A string: a milestone's name (or its id written as text).
      return typeof value === 'string' && /^\d+$/.test(value) ? String(m.id) : m.name;
    case 'owner':
      return o.ownerId;
    case 'isOpen':
      return o.closedOn === null;
    case 'status':
      return o.closedOn === null ? 'OPEN' : o.probability === 100 ? 'WON' : 'LOST';
    default:
      return (o as unknown as Record<string, unknown>)[field];
  }
}

function partyField(p: FakeParty, field: string, value: unknown): unknown {
  switch (field) {
    case 'name':
      return fullName(p);
    case 'owner':
      return p.ownerId ?? null;
    case 'email': {
      // A party matches when one of its addresses does.
      const wanted = String(value).toLowerCase();
      return p.emails.find((e) => e.address.toLowerCase() === wanted)?.address ?? p.emails[0]?.address ?? null;
    }
    case 'phone':
      return p.phones[0]?.number ?? null;
    default:
      return (p as unknown as Record<string, unknown>)[field] ?? null;
  }
}

/** Capsule's global search (`GET /{entity}/search?q=`), as the fake sees it: the name, or a party's email or phone. */
function searched(req: RecordedRequest): string {
  const q = typeof req.query.q === 'string' ? req.query.q.trim().toLowerCase() : '';
  if (!q) throw invalid('search', 'q', 'q is required');
  return q;
}

function kaseField(state: FakeCapsuleState, k: FakeKase, field: string): unknown {
  switch (field) {
    case 'stage':
      return k.stageId;
    case 'board':
      return k.stageId === null ? null : state.stages.get(k.stageId)!.boardId;
    case 'owner':
      return k.ownerId;
    case 'isOpen':
      return k.status === 'OPEN';
    default:
      return (k as unknown as Record<string, unknown>)[field];
  }
}

// ---------------------------------------------------------------------------------------------
// Writes

function tick(state: FakeCapsuleState): string {
  state.now = new Date(state.now.getTime() + 60_000);
  return iso(state.now);
}

function wrapped(body: unknown, key: string, resource: string): Record<string, unknown> {
  const inner = (body as Record<string, unknown> | undefined)?.[key];
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw invalid(resource, key, `${key} is required`);
  return inner as Record<string, unknown>;
}

const refId = (v: unknown): number | undefined =>
  typeof v === 'object' && v !== null && typeof (v as { id?: unknown }).id === 'number' ? (v as { id: number }).id : undefined;

function setMilestone(state: FakeCapsuleState, o: FakeOpportunity, milestoneId: number, at: string): void {
  const m = state.milestones.get(milestoneId);
  if (!m) throw invalid('opportunity', 'milestone', 'milestone is invalid');
  if (o.milestoneId === m.id) return;
  const before = state.milestones.get(o.milestoneId);
  if (m.complete) {
    if (before && !before.complete) o.lastOpenMilestoneId = before.id;
    o.closedOn = day(state.now);
  } else {
    o.closedOn = null;
    o.lastOpenMilestoneId = null;
  }
  o.milestoneId = m.id;
  o.probability = m.probability;
  o.lastStageChangedAt = at;
}

function writeOpportunity(state: FakeCapsuleState, o: FakeOpportunity, b: Record<string, unknown>, at: string): void {
  if (b.name !== undefined) {
    if (typeof b.name !== 'string' || !b.name) throw invalid('opportunity', 'name', 'name is required');
    o.name = b.name;
  }
  if (b.description !== undefined) o.description = b.description as string | null;
  if (b.party !== undefined) {
    const id = refId(b.party);
    if (id === undefined || !state.parties.has(id)) throw invalid('opportunity', 'party', 'party is invalid');
    o.partyId = id;
  }
  if (b.owner !== undefined) {
    const id = refId(b.owner);
    if (id === undefined || !state.users.has(id)) throw invalid('opportunity', 'owner', 'owner is invalid');
    o.ownerId = id;
  }
  if (b.value !== undefined) {
    const v = b.value as { amount?: unknown; currency?: unknown } | null;
    if (v !== null && typeof v.amount !== 'number') throw invalid('opportunity', 'value.amount', 'amount is required');
    if (v !== null && typeof v.currency !== 'string') throw invalid('opportunity', 'value.currency', 'currency is required');
    o.value = v === null ? null : { amount: v.amount as number, currency: v.currency as string };
  }
  if (b.expectedCloseOn !== undefined) o.expectedCloseOn = b.expectedCloseOn as string | null;
  if (b.milestone !== undefined) {
    const id = refId(b.milestone);
    if (id === undefined) throw invalid('opportunity', 'milestone', 'milestone is invalid');
    setMilestone(state, o, id, at);
  }
}

function writeKase(state: FakeCapsuleState, k: FakeKase, b: Record<string, unknown>): void {
  if (b.name !== undefined) {
    if (typeof b.name !== 'string' || !b.name) throw invalid('kase', 'name', 'name is required');
    k.name = b.name;
  }
  if (b.description !== undefined) k.description = b.description as string | null;
  if (b.party !== undefined) {
    const id = refId(b.party);
    if (id === undefined || !state.parties.has(id)) throw invalid('kase', 'party', 'party is invalid');
    k.partyId = id;
  }
  if (b.owner !== undefined) {
    const id = refId(b.owner);
    if (id === undefined || !state.users.has(id)) throw invalid('kase', 'owner', 'owner is invalid');
    k.ownerId = id;
  }
  if (b.status !== undefined) {
    if (b.status !== 'OPEN' && b.status !== 'CLOSED') throw invalid('kase', 'status', 'status is invalid');
    k.closedOn = b.status === 'CLOSED' ? (k.status === 'CLOSED' ? k.closedOn : day(state.now)) : null;
    k.status = b.status;
  }
  if (b.stage !== undefined) {
    // Requests carry the stage as a bare id (answers as {id, name}).
    if (b.stage !== null && (typeof b.stage !== 'number' || !state.stages.has(b.stage))) throw invalid('kase', 'stage', 'stage is invalid');
    k.stageId = b.stage as number | null;
  }
  if (b.opportunity !== undefined) {
    const id = refId(b.opportunity);
    if (b.opportunity !== null && (id === undefined || !state.opportunities.has(id))) throw invalid('kase', 'opportunity', 'opportunity is invalid');
    k.opportunityId = id ?? null;
  }
  if (b.expectedCloseOn !== undefined) k.expectedCloseOn = b.expectedCloseOn as string | null;
  if (b.tags !== undefined) {
    if (!Array.isArray(b.tags)) throw invalid('kase', 'tags', 'tags is invalid');
    for (const t of b.tags as Array<{ id?: unknown; name?: unknown; _delete?: unknown }>) {
      if (typeof t.id === 'number') {
        if (!state.tags.has(t.id)) throw invalid('kase', 'tags', 'tag is invalid');
        if (t._delete === true) {
          if (!k.tagIds.includes(t.id)) throw invalid('kase', 'tags', 'tag not found to delete');
          k.tagIds = k.tagIds.filter((x) => x !== t.id);
        } else if (!k.tagIds.includes(t.id)) k.tagIds.push(t.id);
      } else if (typeof t.name === 'string') {
        let id = [...state.tags].find(([, n]) => n === t.name)?.[0];
        if (id === undefined) state.tags.set((id = state.nextId.tag++), t.name);
        if (!k.tagIds.includes(id)) k.tagIds.push(id);
      } else throw invalid('kase', 'tags', 'tag is invalid');
    }
  }
}

type Nested = { id?: unknown; _delete?: unknown; [k: string]: unknown };

/**
 * A PUT or POST on a party's nested collection (Party docs): an item without id is added, one with
 * an id changed, one with an id and `"_delete": true` removed (`_destroy` is not Capsule's word).
 */
function nested<T extends { id: number }>(
  state: FakeCapsuleState,
  list: T[],
  given: unknown,
  field: string,
  make: (item: Nested) => T,
  change: (row: T, item: Nested) => void,
): T[] {
  if (!Array.isArray(given)) throw invalid('party', field, `${field} is invalid`);
  let out = [...list];
  for (const item of given as Nested[]) {
    if (typeof item.id === 'number') {
      const row = out.find((r) => r.id === item.id);
      if (!row) throw new CapsuleError(404, { message: `${field} not found` });
      if (item._delete === true) out = out.filter((r) => r.id !== item.id);
      else change(row, item);
    } else out.push(make({ ...item, id: state.nextId.point++ }));
  }
  return out;
}

function writeParty(state: FakeCapsuleState, p: FakeParty, b: Record<string, unknown>): void {
  if (b.type !== undefined && b.type !== p.type) throw invalid('party', 'type', 'type cannot be changed');
  if (p.type === 'organisation' && b.name !== undefined) {
    if (typeof b.name !== 'string' || !b.name) throw invalid('party', 'name', 'name is required');
    p.name = b.name;
  }
  if (p.type === 'person') {
    if (b.firstName !== undefined) p.firstName = b.firstName as string;
    if (b.lastName !== undefined) p.lastName = b.lastName as string;
    if (b.jobTitle !== undefined) p.jobTitle = b.jobTitle as string | null;
    if (b.organisation !== undefined) {
      const id = refId(b.organisation);
      // Live (soil-dev/capsulemcp create_party): a person's id as the organisation answers 404.
      if (b.organisation !== null && (id === undefined || state.parties.get(id)?.type !== 'organisation')) {
        throw new CapsuleError(404, { message: 'organisation not found' });
      }
      p.organisationId = id ?? null;
    }
  }
  if (b.owner !== undefined) {
    const id = refId(b.owner);
    if (b.owner !== null && (id === undefined || !state.users.has(id))) throw invalid('party', 'owner', 'owner is invalid');
    p.ownerId = id ?? null;
  }
  if (b.emailAddresses !== undefined) {
    p.emails = nested(state, p.emails, b.emailAddresses, 'emailAddresses', (i) => {
      if (typeof i.address !== 'string' || !i.address.includes('@')) throw invalid('party', 'emailAddresses.address', 'address is invalid');
      return { id: i.id as number, type: (i.type as string) ?? null, address: i.address };
    }, (row, i) => {
      if (typeof i.address === 'string') row.address = i.address;
    });
  }
  if (b.phoneNumbers !== undefined) {
    p.phones = nested(state, p.phones, b.phoneNumbers, 'phoneNumbers', (i) => {
      if (typeof i.number !== 'string' || !i.number) throw invalid('party', 'phoneNumbers.number', 'number is required');
      return { id: i.id as number, type: (i.type as string) ?? null, number: i.number };
    }, (row, i) => {
      if (typeof i.number === 'string') row.number = i.number;
    });
  }
  if (b.websites !== undefined) {
    p.websites = nested(state, p.websites, b.websites, 'websites', (i) => {
      if (typeof i.address !== 'string' || !i.address) throw invalid('party', 'websites.address', 'address is required');
      return { id: i.id as number, type: (i.type as string) ?? null, service: (i.service as string) ?? 'URL', address: i.address };
    }, (row, i) => {
      if (typeof i.address === 'string') row.address = i.address;
    });
  }
  if (p.type === 'person' && !p.firstName && !p.lastName) throw invalid('party', 'lastName', 'firstName or lastName is required');
  if (p.type === 'organisation' && !p.name) throw invalid('party', 'name', 'name is required');
}

/** The one record an entry or a task hangs on, as given in its body; Capsule takes one at most. */
function parentOf(state: FakeCapsuleState, b: Record<string, unknown>, resource: string): Pick<FakeTask, 'partyId' | 'opportunityId' | 'kaseId'> {
  const party = b.party === undefined || b.party === null ? undefined : refId(b.party);
  const opportunity = b.opportunity === undefined || b.opportunity === null ? undefined : refId(b.opportunity);
  const kase = b.kase === undefined || b.kase === null ? undefined : refId(b.kase);
  const given = [party, opportunity, kase].filter((x) => x !== undefined);
  if (given.length > 1) throw invalid(resource, 'party', `${resource} must be linked to either a party, opportunity or kase`);
  if (party !== undefined && !state.parties.has(party)) throw invalid(resource, 'party', 'party is invalid');
  if (opportunity !== undefined && !state.opportunities.has(opportunity)) throw invalid(resource, 'opportunity', 'opportunity is invalid');
  if (kase !== undefined && !state.kases.has(kase)) throw invalid(resource, 'kase', 'kase is invalid');
  return { partyId: party ?? null, opportunityId: opportunity ?? null, kaseId: kase ?? null };
}

function writeTask(state: FakeCapsuleState, t: FakeTask, b: Record<string, unknown>, at: string): void {
  if (b.description !== undefined) {
    if (typeof b.description !== 'string' || !b.description) throw invalid('task', 'description', 'description is required');
    t.description = b.description;
  }
  if (b.detail !== undefined) t.detail = b.detail as string | null;
  if (b.dueOn !== undefined) {
    if (typeof b.dueOn !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(b.dueOn)) throw invalid('task', 'dueOn', 'dueOn is invalid');
    t.dueOn = b.dueOn;
  }
  if (b.owner !== undefined) {
    const id = refId(b.owner);
    if (id === undefined || !state.users.has(id)) throw invalid('task', 'owner', 'owner is invalid');
    t.ownerId = id;
  }
  if (b.status !== undefined) {
    if (b.status === 'PENDING') throw invalid('task', 'status', 'cannot set task status to PENDING');
    if (b.status !== 'OPEN' && b.status !== 'COMPLETED') throw invalid('task', 'status', 'status is invalid');
    if (b.status !== t.status) t.completedAt = b.status === 'COMPLETED' ? at : null;
    t.status = b.status;
  }
}

// ---------------------------------------------------------------------------------------------
// Routes

function route(c: Ctx): FakeResponse {
  const { state, req } = c;
  const p = req.path;
  const get = req.method === 'GET';
  let m: RegExpExecArray | null;
  const milestonesOf = (pid: number) => [...state.milestones.values()].filter((x) => x.pipelineId === pid);

  // Global search (before the routes that take an id in the same place)
  if (p === '/api/v2/parties/search' && get) {
    const q = searched(req);
    const hits = [...state.parties.values()].filter(
      (x) => fullName(x).toLowerCase().includes(q) || x.emails.some((e) => e.address.toLowerCase().includes(q)) || x.phones.some((n) => n.number.includes(q)),
    );
    return paged(c, 'parties', hits, (x) => partyRecordView(state, x));
  }
  if (p === '/api/v2/opportunities/search' && get) {
    const q = searched(req);
    return paged(c, 'opportunities', [...state.opportunities.values()].filter((o) => o.name.toLowerCase().includes(q)), (o) => opportunityView(state, o));
  }
  if (p === '/api/v2/kases/search' && get) {
    const q = searched(req);
    return paged(c, 'kases', [...state.kases.values()].filter((k) => k.name.toLowerCase().includes(q)), (k) => kaseView(state, k, embedOf(req)));
  }

  if (p === '/api/v2/pipelines' && get) return paged(c, 'pipelines', [...state.pipelines.values()], (x) => ({ id: x.id, name: x.name, ...(x.description ? { description: x.description } : {}) }));
  if ((m = /^\/api\/v2\/pipelines\/([^/]+)$/.exec(p)) && get) {
    const x = state.pipelines.get(intId(m[1]));
    if (!x) throw notFound();
    return ok({ pipeline: { id: x.id, name: x.name, ...(x.description ? { description: x.description } : {}) } });
  }
  if ((m = /^\/api\/v2\/pipelines\/([^/]+)\/milestones$/.exec(p)) && get) {
    const pid = intId(m[1]);
    if (!state.pipelines.has(pid)) throw notFound();
    return paged(c, 'milestones', milestonesOf(pid), (x) => milestoneView(state, x));
  }
  if (p === '/api/v2/milestones' && get) {
    // Backwards compatible: the oldest active pipeline's milestones, without their pipeline.
    return paged(c, 'milestones', milestonesOf(OLDEST_PIPELINE), (x) => {
      const { pipeline: _pipeline, ...rest } = milestoneView(state, x) as Record<string, unknown>;
      return rest;
    });
  }
  if ((m = /^\/api\/v2\/milestones\/([^/]+)$/.exec(p)) && get) {
    const x = state.milestones.get(intId(m[1]));
    if (!x) throw notFound();
    return ok({ milestone: milestoneView(state, x) });
  }
  if (p === '/api/v2/boards' && get) return paged(c, 'boards', [...state.boards.values()], (b) => ({ id: b.id, name: b.name, description: b.description, createdAt: b.createdAt, updatedAt: b.updatedAt }));
  if ((m = /^\/api\/v2\/boards\/([^/]+)$/.exec(p)) && get) {
    const b = state.boards.get(intId(m[1]));
    if (!b) throw notFound();
    return ok({ board: { id: b.id, name: b.name, description: b.description, createdAt: b.createdAt, updatedAt: b.updatedAt } });
  }
  if ((m = /^\/api\/v2\/boards\/([^/]+)\/stages$/.exec(p)) && get) {
    const bid = intId(m[1]);
    if (!state.boards.has(bid)) throw notFound();
    const list = [...state.stages.values()].filter((s) => s.boardId === bid).sort((a, b) => a.displayOrder - b.displayOrder);
    return paged(c, 'stages', list, (s) => stageView(state, s));
  }
  if (p === '/api/v2/stages' && get) return paged(c, 'stages', [...state.stages.values()], (s) => stageView(state, s));
  if ((m = /^\/api\/v2\/stages\/([^/]+)$/.exec(p)) && get) {
    const s = state.stages.get(intId(m[1]));
    if (!s) throw notFound();
    return ok({ stage: stageView(state, s) });
  }

  // Opportunities
  if (p === '/api/v2/opportunities' && get) return paged(c, 'opportunities', [...state.opportunities.values()], (o) => opportunityView(state, o));
  if (p === '/api/v2/opportunities/filters/results' && req.method === 'POST') {
    const conds = conditionsOf(req.body, 'opportunity', OPP_FIELDS);
    const hits = [...state.opportunities.values()].filter((o) => conds.every((cd) => test(cd, oppField(state, o, cd.field, cd.value))));
    return paged(c, 'opportunities', hits, (o) => opportunityView(state, o));
  }
  if (p === '/api/v2/opportunities' && req.method === 'POST') {
    const b = wrapped(req.body, 'opportunity', 'opportunity');
    for (const f of ['name', 'party', 'milestone'] as const) if (b[f] === undefined || b[f] === null) throw invalid('opportunity', f, `${f} is required`);
    const at = tick(state);
    const o: FakeOpportunity = {
      id: state.nextId.opportunity++,
      name: '',
      description: null,
      partyId: 0,
      ownerId: state.authUserId,
      milestoneId: 0,
      value: null,
      expectedCloseOn: null,
      probability: 0,
      closedOn: null,
      lastOpenMilestoneId: null,
      lastStageChangedAt: at,
      createdAt: at,
      updatedAt: at,
    };
    writeOpportunity(state, o, b, at);
    state.opportunities.set(o.id, o);
    return ok({ opportunity: opportunityView(state, o) }, 201);
  }
  if ((m = /^\/api\/v2\/opportunities\/([^/]+)$/.exec(p))) {
    const o = state.opportunities.get(intId(m[1]));
    if (!o) throw notFound();
    if (get) return ok({ opportunity: opportunityView(state, o) });
    if (req.method === 'PUT') {
      const b = wrapped(req.body, 'opportunity', 'opportunity');
      const at = tick(state);
      const copy = { ...o };
      writeOpportunity(state, copy, b, at);
      copy.updatedAt = at;
      state.opportunities.set(o.id, copy);
      return ok({ opportunity: opportunityView(state, copy) });
    }
    if (req.method === 'DELETE') {
      state.opportunities.delete(o.id);
      return { status: 204 };
    }
  }

  // Projects (kases)
  if (p === '/api/v2/kases' && get) return paged(c, 'kases', [...state.kases.values()], (k) => kaseView(state, k, embedOf(req)));
  if (p === '/api/v2/kases/filters/results' && req.method === 'POST') {
    const conds = conditionsOf(req.body, 'kase', KASE_FIELDS);
    const hits = [...state.kases.values()].filter((k) => conds.every((cd) => test(cd, kaseField(state, k, cd.field))));
    return paged(c, 'kases', hits, (k) => kaseView(state, k, embedOf(req)));
  }
  if ((m = /^\/api\/v2\/parties\/([^/]+)\/kases$/.exec(p)) && get) {
    const party = intId(m[1]);
    if (!state.parties.has(party)) throw notFound();
    return paged(c, 'kases', [...state.kases.values()].filter((k) => k.partyId === party), (k) => kaseView(state, k, embedOf(req)));
  }
  if (p === '/api/v2/kases' && req.method === 'POST') {
    const b = wrapped(req.body, 'kase', 'kase');
    for (const f of ['name', 'party'] as const) if (b[f] === undefined || b[f] === null) throw invalid('kase', f, `${f} is required`);
    const at = tick(state);
    const k: FakeKase = {
      id: state.nextId.kase++,
      name: '',
      description: null,
      partyId: 0,
      ownerId: state.authUserId,
      status: 'OPEN',
      opportunityId: null,
      stageId: null,
      expectedCloseOn: null,
      closedOn: null,
      lastContactedAt: null,
      tagIds: [],
      fields: [],
      createdAt: at,
      updatedAt: at,
    };
    writeKase(state, k, b);
    state.kases.set(k.id, k);
    return ok({ kase: kaseView(state, k, embedOf(req)) }, 201);
  }
  if ((m = /^\/api\/v2\/kases\/([^/]+)$/.exec(p))) {
    const k = state.kases.get(intId(m[1]));
    if (!k) throw notFound();
    if (get) return ok({ kase: kaseView(state, k, embedOf(req)) });
    if (req.method === 'PUT') {
      const b = wrapped(req.body, 'kase', 'kase');
      const copy: FakeKase = { ...k, tagIds: [...k.tagIds], fields: [...k.fields] };
      writeKase(state, copy, b);
      copy.updatedAt = tick(state);
      state.kases.set(k.id, copy);
      return ok({ kase: kaseView(state, copy, embedOf(req)) });
    }
    if (req.method === 'DELETE') {
      state.kases.delete(k.id);
      return { status: 204 };
    }
  }
  // Users: all of them in one answer (no paging documented)
  if (p === '/api/v2/users' && get) return ok({ users: [...state.users.values()].map((u) => userRecordView(state, u, embedOf(req))) });

  // Parties
  if (p === '/api/v2/parties' && get) return paged(c, 'parties', [...state.parties.values()], (x) => partyRecordView(state, x));
  if (p === '/api/v2/parties/filters/results' && req.method === 'POST') {
    const conds = conditionsOf(req.body, 'party', PARTY_FIELDS);
    const hits = [...state.parties.values()].filter((x) => conds.every((cd) => test(cd, partyField(x, cd.field, cd.value))));
    return paged(c, 'parties', hits, (x) => partyRecordView(state, x));
  }
  if (p === '/api/v2/parties' && req.method === 'POST') {
    const b = wrapped(req.body, 'party', 'party');
    if (b.type !== 'person' && b.type !== 'organisation') throw invalid('party', 'type', 'type is required');
    const at = tick(state);
    const party: FakeParty = { id: state.nextId.party++, type: b.type, ownerId: state.authUserId, emails: [], phones: [], websites: [], createdAt: at, updatedAt: at };
    writeParty(state, party, b);
    state.parties.set(party.id, party);
    return ok({ party: partyRecordView(state, party) }, 201);
  }
  if ((m = /^\/api\/v2\/parties\/([^/]+)\/(people|opportunities|entries)$/.exec(p)) && get) {
    const pid = intId(m[1]);
    if (!state.parties.has(pid)) throw notFound();
    if (m[2] === 'people') return paged(c, 'parties', [...state.parties.values()].filter((x) => x.organisationId === pid), (x) => partyRecordView(state, x));
    if (m[2] === 'opportunities') return paged(c, 'opportunities', [...state.opportunities.values()].filter((o) => o.partyId === pid), (o) => opportunityView(state, o));
    if (m[2] === 'entries') return entriesOf(c, (e) => e.partyId === pid);
  }
  if ((m = /^\/api\/v2\/parties\/([^/]+)$/.exec(p))) {
    const x = state.parties.get(intId(m[1]));
    if (!x) throw notFound();
    if (get) return ok({ party: partyRecordView(state, x) });
    if (req.method === 'PUT') {
      const b = wrapped(req.body, 'party', 'party');
      const copy: FakeParty = { ...x, emails: x.emails.map((e) => ({ ...e })), phones: x.phones.map((n) => ({ ...n })), websites: x.websites.map((w) => ({ ...w })) };
      writeParty(state, copy, b);
      copy.updatedAt = tick(state);
      state.parties.set(x.id, copy);
      return ok({ party: partyRecordView(state, copy) });
    }
  }

  // Entries: a record's, newest first; created as notes only
  if ((m = /^\/api\/v2\/(opportunities|kases)\/([^/]+)\/entries$/.exec(p)) && get) {
    const id = intId(m[2]);
    if (m[1] === 'opportunities' ? !state.opportunities.has(id) : !state.kases.has(id)) throw notFound();
    return entriesOf(c, (e) => (m![1] === 'opportunities' ? e.opportunityId : e.kaseId) === id);
  }
  if (p === '/api/v2/entries' && get) return paged(c, 'entries', newestFirst([...state.entries.values()]), (e) => entryView(state, e));
  if (p === '/api/v2/entries' && req.method === 'POST') {
    const b = wrapped(req.body, 'entry', 'entry');
    if (b.type !== 'note') throw invalid('entry', 'type', 'only notes can be created');
    if (typeof b.content !== 'string' || !b.content) throw invalid('entry', 'content', 'content is required');
    const parent = parentOf(state, b, 'entry');
    if (parent.partyId === null && parent.opportunityId === null && parent.kaseId === null) {
      throw invalid('entry', 'party', 'entry must be linked to either a party, opportunity or kase');
    }
    const at = tick(state);
    const e: FakeEntry = { id: state.nextId.entry++, type: 'note', subject: null, content: b.content, creatorId: state.authUserId, ...parent, entryAt: at, createdAt: at, updatedAt: at };
    state.entries.set(e.id, e);
    return ok({ entry: entryView(state, e) }, 201);
  }
  if ((m = /^\/api\/v2\/entries\/([^/]+)$/.exec(p))) {
    const e = state.entries.get(intId(m[1]));
    if (!e) throw notFound();
    if (get) return ok({ entry: entryView(state, e) });
    if (req.method === 'PUT') {
      const b = wrapped(req.body, 'entry', 'entry');
      const copy = { ...e };
      if (b.content !== undefined) {
        if (typeof b.content !== 'string' || !b.content) throw invalid('entry', 'content', 'content is required');
        copy.content = b.content;
      }
      // Live (soil-dev/capsulemcp update_entry): a note takes a subject without storing it.
      if (b.subject !== undefined && e.type === 'email') copy.subject = b.subject as string;
      copy.updatedAt = tick(state);
      state.entries.set(e.id, copy);
      return ok({ entry: entryView(state, copy) });
    }
  }

  // Tasks: listed by status only (open by default)
  if (p === '/api/v2/tasks' && get) {
    const raw = typeof req.query.status === 'string' ? req.query.status : 'open';
    const wanted = raw.split(',').map((x) => x.trim().toUpperCase());
    if (wanted.some((w) => !['OPEN', 'COMPLETED', 'PENDING'].includes(w))) throw new CapsuleError(400, { message: 'status is invalid' });
    return paged(c, 'tasks', [...state.tasks.values()].filter((t) => wanted.includes(t.status)), (t) => taskView(state, t));
  }
  if (p === '/api/v2/tasks' && req.method === 'POST') {
    const b = wrapped(req.body, 'task', 'task');
    for (const f of ['description', 'dueOn'] as const) if (b[f] === undefined || b[f] === null) throw invalid('task', f, `${f} is required`);
    const at = tick(state);
    const t: FakeTask = {
      id: state.nextId.task++,
      description: '',
      detail: null,
      dueOn: '',
      status: 'OPEN',
      ...parentOf(state, b, 'task'),
      ownerId: state.authUserId,
      completedAt: null,
      createdAt: at,
      updatedAt: at,
    };
    writeTask(state, t, b, at);
    state.tasks.set(t.id, t);
    return ok({ task: taskView(state, t) }, 201);
  }
  if ((m = /^\/api\/v2\/tasks\/([^/]+)$/.exec(p))) {
    const t = state.tasks.get(intId(m[1]));
    if (!t) throw notFound();
    if (get) return ok({ task: taskView(state, t) });
    if (req.method === 'PUT') {
      const b = wrapped(req.body, 'task', 'task');
      const at = tick(state);
      const copy = { ...t };
      writeTask(state, copy, b, at);
      copy.updatedAt = at;
      state.tasks.set(t.id, copy);
      return ok({ task: taskView(state, copy) });
    }
  }
  throw new CapsuleError(404, { message: 'Could not find resource' });
}

const newestFirst = (entries: FakeEntry[]) => entries.sort((a, b) => b.entryAt.localeCompare(a.entryAt) || b.id - a.id);

/** A record's entries, newest first, 1 to 50 a page (Entry docs). */
function entriesOf(c: Ctx, on: (e: FakeEntry) => boolean): FakeResponse {
  return paged(c, 'entries', newestFirst([...c.state.entries.values()].filter(on)), (e) => entryView(c.state, e), 50);
}

// ---------------------------------------------------------------------------------------------
// Server

export interface FakeCapsuleOptions {
  token?: string;
  latencyMs?: number;
}

export interface FakeCapsule {
  /** The base URL to give crm-mcp (CAPSULE_BASE_URL): the server's origin and /api/v2. */
  url: string;
  server: FakeServer;
  state: FakeCapsuleState;
  stop(): Promise<void>;
}

// Long and random-looking, so the secret scan (test/helpers/secrets.ts) can tell a fragment from ordinary text.
export const CAPSULE_TOKEN = 'cap_Vq7xL2mN9pR4tW8yB3dF6hJ1kZ5sC0gE7uA9';

/** The start of the next hour in epoch seconds: when Capsule's hourly window resets. */
const nextHour = () => Math.ceil((Date.now() + 1) / 3_600_000) * 3600;

export async function startFakeCapsule(opts: FakeCapsuleOptions = {}): Promise<FakeCapsule> {
  const state = seedState(opts.token ?? CAPSULE_TOKEN);
  const server = new FakeServer((req) => {
    const headers = () => ({
      'X-RateLimit-Limit': String(state.rateLimit),
      'X-RateLimit-Remaining': String(Math.max(0, state.rateLimit - state.used)),
      'X-RateLimit-Reset': String(nextHour()),
    });
    state.used += 1;
    if (state.enforceRateLimit && state.used > state.rateLimit) return { status: 429, headers: headers(), body: { error: 'rate limit reached' } };
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${state.token}`) return { status: 401, headers: headers(), body: { message: 'authentication failed' } };
    const host = String(req.headers.host ?? '127.0.0.1');
    try {
      const answer = route({ state, req, origin: `http://${host}` });
      return { ...answer, headers: { ...headers(), ...answer.headers } };
    } catch (e) {
      if (e instanceof CapsuleError) return { status: e.status, headers: headers(), body: e.body };
      throw e;
    }
  });
  server.latencyMs = opts.latencyMs ?? 0;
  const origin = await server.start();
  return { url: `${origin}/api/v2`, server, state, stop: () => server.stop() };
}
