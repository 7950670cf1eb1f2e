/**
 * A stateful fake Outreach on a real HTTP server (127.0.0.1), in Outreach's wire format as its
 * OpenAPI spec and docs give it (provider-apis.md §3, §7): JSON:API under /api/v2 (resource
 * objects with `type`, integer `id`, `attributes`, `relationships`, `links`; `included` and sparse
 * fieldsets; `page[size]` with `page[after]` cursors and `links.next`; `filter[...]` and `sort`),
 * `Content-Type: application/vnd.api+json` required (415 otherwise), JSON:API `errors` with
 * `source.pointer` (404 resourceNotFound, 422 validationError, 401, 429 rateLimitExceeded with
 * Retry-After), X-RateLimit-* on every answer, and the OAuth token endpoint (/oauth/token, a form
 * body, refresh grant, rotating refresh tokens, expiring access tokens).
 *
 * Prospect stages and opportunity stages share ids (1, 2, ...), as Outreach's two tables do: a
 * client that confuses them reads the wrong stage. Deterministic: seeded, ids from counters, a
 * clock that moves one second per write, tokens from a fixed list.
 */
import qs from 'qs';
import { prng } from '../../src/providers/local/seed.js';
import { FakeServer, type FakeResponse, type RecordedRequest } from './server.js';

// ---------------------------------------------------------------------------------------------
// State

export interface FakeStage {
  id: number;
  name: string;
  order: number;
  color: string | null;
  createdAt: string;
  updatedAt: string;
  creatorId: number;
  updaterId: number;
}

export interface FakeOpportunityStage extends FakeStage {
  isClosed: boolean;
}

export interface FakeUser {
  id: number;
  firstName: string;
  lastName: string;
  email: string;
  locked: boolean;
}

export interface FakeAccount {
  id: number;
  name: string;
  domain: string | null;
  industry: string | null;
  named: boolean;
  ownerId: number | null;
  createdAt: string;
  updatedAt: string;
}

export const PHONE_LISTS = ['homePhones', 'mobilePhones', 'otherPhones', 'voipPhones', 'workPhones'] as const;
export type PhoneList = (typeof PHONE_LISTS)[number];

export interface FakeProspect extends Record<PhoneList, string[]> {
  id: number;
  firstName: string | null;
  lastName: string | null;
  emails: string[];
  title: string | null;
  accountId: number | null;
  ownerId: number | null;
  createdAt: string;
  updatedAt: string;
}

/** A task's subject: the one record it is about. */
export interface Subject {
  type: 'account' | 'opportunity' | 'prospect';
  id: number;
}

export interface FakeTask {
  id: number;
  action: string;
  note: string | null;
  dueAt: string | null;
  state: 'pending' | 'incomplete' | 'complete';
  completedAt: string | null;
  subject: Subject | null;
  ownerId: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface FakeCall {
  id: number;
  note: string | null;
  outcome: string | null;
  direction: string | null;
  prospectId: number | null;
  opportunityId: number | null;
  userId: number | null;
  createdAt: string;
  updatedAt: string;
}

/** An account note (parent: an account) or a prospect note (parent: a prospect). */
export interface FakeNote {
  id: number;
  message: string | null;
  noteType: string | null;
  parentId: number | null;
  /** Read-only in Outreach: set by its association rules, never by a write here. */
  opportunityId: number | null;
  creatorId: number;
  createdAt: string;
}

export interface FakeOpportunity {
  id: number;
  name: string;
  amount: number | null;
  amountPrecise: string | null;
  currencyType: string | null;
  closeDate: string | null;
  probability: number | null;
  description: string | null;
  createdAt: string;
  updatedAt: string;
  stageId: number | null;
  ownerId: number | null;
  accountId: number | null;
  creatorId: number;
}

export interface FakeTokens {
  clientId: string;
  clientSecret: string;
  /** The one refresh token Outreach accepts now; each renewal replaces it. */
  refreshToken: string;
  /** When set, a renewal must send exactly this redirect_uri. */
  redirectUri?: string;
  /** Access tokens that work. */
  valid: Set<string>;
  /** Access tokens that did work and have expired: 401. */
  expired: Set<string>;
  /** What renewals hand out, in order (known up front, so tests can scan output for them). */
  mintable: Array<{ access: string; refresh: string }>;
  /** Renewals answered so far. */
  minted: number;
  expiresIn: number;
}

export interface FakeOutreachState {
  tokens: FakeTokens;
  stages: Map<number, FakeStage>;
  opportunityStages: Map<number, FakeOpportunityStage>;
  users: Map<number, FakeUser>;
  accounts: Map<number, FakeAccount>;
  opportunities: Map<number, FakeOpportunity>;
  prospects: Map<number, FakeProspect>;
  tasks: Map<number, FakeTask>;
  calls: Map<number, FakeCall>;
  accountNotes: Map<number, FakeNote>;
  prospectNotes: Map<number, FakeNote>;
  nextId: {
    stage: number;
    opportunityStage: number;
    opportunity: number;
    account: number;
    prospect: number;
    task: number;
    call: number;
    accountNote: number;
    prospectNote: number;
  };
  now: Date;
  /** Largest page served, whatever page[size] asks (a server may cap it). */
  maxPageSize: number;
  /** Collection paths (e.g. /opportunities) whose pages after the first link to themselves again. */
  loopLink: Set<string>;
  /** Answer 429 once this many requests were served in the hour (never, by default). */
  hourlyLimit: number;
  served: number;
}

/** Seed sizes, so tests can assert counts without hard-coding them twice. */
export const SEED = {
  prospectStages: 7,
  opportunityStages: 6,
  /** Users who own records; one more, locked out, follows them. */
  users: 3,
  accounts: 8,
  opportunities: 250,
  prospects: 40,
  tasks: 30,
  calls: 20,
  accountNotes: 10,
  prospectNotes: 10,
} as const;
/** The user Outreach has locked out (active: false). */
export const LOCKED_USER = SEED.users + 1;

// Long and random-looking, so the secret scan (test/helpers/secrets.ts) can tell a fragment from ordinary text.
export const FAKE_OUTREACH_TOKEN = 'orat_q7ZfW2mK9xLp4TnB6vRc1HsJ8yDe3GuA5oNi0MwQ';
export const FAKE_OUTREACH_CLIENT_ID = 'crm-mcp-fake-client';
export const FAKE_OUTREACH_CLIENT_SECRET = 'orcs_V3nP8qXk2LwZ6tRb9YhM4cFj7sDg1AeU5oKi0NmQ';
export const FAKE_OUTREACH_REFRESH_TOKEN = 'orrt_J5mQ2wXz8KpL4vNc7TbR1yHs6dFg9AeU3oWi0LkP';


const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Tokens as random-looking as real ones, the same on every run. */
function tokenList(n: number): Array<{ access: string; refresh: string }> {
  const rnd = prng(8_000_001);
  const word = (prefix: string) => prefix + Array.from({ length: 40 }, () => ALPHABET[Math.floor(rnd() * ALPHABET.length)]).join('');
  return Array.from({ length: n }, () => ({ access: word('orat_'), refresh: word('orrt_') }));
}

const iso = (d: Date): string => d.toISOString();
const DAY = 86_400_000;

export function seedState(opts: { token?: string } = {}): FakeOutreachState {
  const rnd = prng(20261129);
  const t0 = '2026-01-05T09:00:00.000Z';
  const state: FakeOutreachState = {
    tokens: {
      clientId: FAKE_OUTREACH_CLIENT_ID,
      clientSecret: FAKE_OUTREACH_CLIENT_SECRET,
      refreshToken: FAKE_OUTREACH_REFRESH_TOKEN,
      valid: new Set([opts.token ?? FAKE_OUTREACH_TOKEN]),
      expired: new Set(),
      mintable: tokenList(12),
      minted: 0,
      expiresIn: 7200,
    },
    stages: new Map(),
    opportunityStages: new Map(),
    users: new Map(),
    accounts: new Map(),
    opportunities: new Map(),
    prospects: new Map(),
    tasks: new Map(),
    calls: new Map(),
    accountNotes: new Map(),
    prospectNotes: new Map(),
    nextId: {
      stage: SEED.prospectStages + 1,
      opportunityStage: SEED.opportunityStages + 1,
      opportunity: SEED.opportunities + 1,
      account: SEED.accounts + 1,
      prospect: SEED.prospects + 1,
      task: SEED.tasks + 1,
      call: SEED.calls + 1,
      accountNote: SEED.accountNotes + 1,
      prospectNote: SEED.prospectNotes + 1,
    },
    now: new Date('2026-11-20T12:00:00.000Z'),
    maxPageSize: 1000,
    loopLink: new Set(),
    hourlyLimit: Number.POSITIVE_INFINITY,
    served: 0,
  };
  const prospect: Array<[string, string]> = [
    ['Cold', '#9e9e9e'],
    ['Approaching', '#5951ff'],
    ['Replied', '#00bcd4'],
    ['Qualified Lead', '#4caf50'],
    ['Not Interested', '#f44336'],
    ['Unresponsive', '#ff9800'],
    ['Do Not Contact', '#000000'],
  ];
  prospect.forEach(([name, color], i) =>
    state.stages.set(i + 1, { id: i + 1, name, order: i + 1, color, createdAt: t0, updatedAt: t0, creatorId: 1, updaterId: 1 }),
  );
  const opportunity: Array<[string, boolean]> = [
    ['Prospecting', false],
    ['Qualification', false],
    ['Proposal', false],
    ['Negotiation', false],
    ['Closed Won', true],
    ['Closed Lost', true],
  ];
  opportunity.forEach(([name, isClosed], i) =>
    state.opportunityStages.set(i + 1, { id: i + 1, name, order: i + 1, color: null, isClosed, createdAt: t0, updatedAt: t0, creatorId: 1, updaterId: 1 }),
  );
  [
    ['Ana', 'Silva'],
    ['Ben', 'Okafor'],
    ['Chloe', 'Martin'],
    ['Dmitri', 'Volkov'],
  ].forEach(([firstName, lastName], i) =>
    state.users.set(i + 1, { id: i + 1, firstName, lastName, email: `${firstName.toLowerCase()}@example.com`, locked: i + 1 === LOCKED_USER }),
  );
  const industries = ['Manufacturing', 'Software', 'Consulting', 'Biotech', 'Software', 'Energy', 'Finance', 'Food'];
  ['Acme Corp', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark Industries', 'Wayne Enterprises', 'Soylent'].forEach((name, i) => {
    const at = iso(new Date(Date.parse(t0) + i * DAY));
    state.accounts.set(i + 1, {
      id: i + 1,
      name,
      domain: `${name.toLowerCase().replace(/[^a-z]/g, '')}.example`,
      industry: industries[i],
      named: true,
      ownerId: 1 + (i % SEED.users),
      createdAt: at,
      updatedAt: at,
    });
  });
  const start = Date.parse('2026-01-10T09:00:00.000Z');
  for (let id = 1; id <= SEED.opportunities; id++) {
    const r = rnd();
    // 70% in one of the four open stages, the rest won or lost.
    const stageId = r < 0.7 ? 1 + Math.floor(rnd() * 4) : r < 0.85 ? 5 : 6;
    const whole = (1 + Math.floor(rnd() * 40)) * 500;
    const fraction = rnd() < 0.1 ? 0.5 : 0;
    const created = start + Math.floor(rnd() * 300) * DAY;
    state.opportunities.set(id, {
      id,
      name: `${['Renewal', 'Expansion', 'New logo', 'Pilot', 'Upsell'][Math.floor(rnd() * 5)]} #${id}`,
      amount: whole,
      amountPrecise: fraction ? String(whole + fraction) : null,
      currencyType: rnd() < 0.8 ? 'USD' : 'EUR',
      closeDate: iso(new Date(created + 60 * DAY)).slice(0, 10) + 'T00:00:00.000Z',
      probability: null,
      description: null,
      createdAt: iso(new Date(created)),
      updatedAt: iso(new Date(created + (1 + Math.floor(rnd() * 20)) * DAY + id * 1000)),
      stageId,
      ownerId: 1 + Math.floor(rnd() * SEED.users),
      accountId: rnd() < 0.8 ? 1 + Math.floor(rnd() * SEED.accounts) : null,
      creatorId: 1,
    });
  }
  seedPeopleAndActivities(state);
  return state;
}

/** Prospects, tasks, calls and notes, from their own generator (the deals above stay as they were). */
function seedPeopleAndActivities(state: FakeOutreachState): void {
  const rnd = prng(20261130);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const firsts = ['Maria', 'Tom', 'Aisha', 'Kenji', 'Lena', 'Omar', 'Sofia', 'Lucas', 'Priya', 'Jonas'];
  const lasts = ['Garcia', 'Nguyen', 'Smith', 'Rossi', 'Kowalski', 'Haddad', 'Berg', 'Costa', 'Iyer', 'Meyer'];
  const titles = ['VP Sales', 'CTO', 'Head of Operations', 'Procurement Manager', 'CEO', null];
  const start = Date.parse('2026-02-02T10:00:00.000Z');
  const at = (i: number, spread: number) => iso(new Date(start + Math.floor((i / spread) * 280) * DAY + i * 60_000));
  for (let id = 1; id <= SEED.prospects; id++) {
    const first = firsts[(id - 1) % firsts.length];
    const last = lasts[Math.floor((id - 1) / firsts.length + id) % lasts.length];
    const accountId = 1 + ((id - 1) % SEED.accounts);
    const domain = state.accounts.get(accountId)!.domain;
    const created = at(id, SEED.prospects);
    state.prospects.set(id, {
      id,
      firstName: first,
      lastName: last,
      emails: [`${first}.${last}@${domain}`.toLowerCase()],
      title: pick(titles),
      accountId,
      ownerId: 1 + Math.floor(rnd() * SEED.users),
      createdAt: created,
      updatedAt: created,
      homePhones: [],
      mobilePhones: rnd() < 0.5 ? [`+1 555 02${String(id).padStart(2, '0')}`] : [],
      otherPhones: [],
      voipPhones: [],
      workPhones: [`+1 555 01${String(id).padStart(2, '0')}`],
    });
  }
  const notes = ['Asked for a pilot', 'Budget approved for Q1', 'Wants a security review first', 'Call back after the board meeting', 'Sent the proposal'];
  // Deal 1 gets tasks and calls of its own, some tasks overdue (before 2026-11-29) and some not.
  const subjects: Subject[] = [];
  for (let i = 0; i < SEED.tasks; i++) {
    const r = i % 3;
    subjects.push(
      i < 6
        ? { type: 'opportunity', id: 1 }
        : r === 0
          ? { type: 'opportunity', id: 1 + Math.floor(rnd() * 20) }
          : r === 1
            ? { type: 'account', id: 1 + Math.floor(rnd() * SEED.accounts) }
            : { type: 'prospect', id: 1 + Math.floor(rnd() * SEED.prospects) },
    );
  }
  subjects.forEach((subject, i) => {
    const id = i + 1;
    const created = at(id, SEED.tasks);
    const complete = rnd() < 0.3;
    state.tasks.set(id, {
      id,
      action: pick(['action_item', 'call', 'email']),
      note: pick(notes),
      dueAt: iso(new Date(Date.parse(created) + (3 + Math.floor(rnd() * 40)) * DAY)).slice(0, 10) + 'T00:00:00.000Z',
      state: complete ? 'complete' : 'incomplete',
      completedAt: complete ? created : null,
      subject,
      ownerId: 1 + Math.floor(rnd() * SEED.users),
      createdAt: created,
      updatedAt: created,
    });
  });
  for (let id = 1; id <= SEED.calls; id++) {
    const created = at(id, SEED.calls);
    state.calls.set(id, {
      id,
      note: pick(notes),
      outcome: pick(['Answered', 'Not Answered']),
      direction: 'outbound',
      prospectId: 1 + Math.floor(rnd() * SEED.prospects),
      opportunityId: id <= 4 ? 1 : rnd() < 0.5 ? 1 + Math.floor(rnd() * 20) : null,
      userId: 1 + Math.floor(rnd() * SEED.users),
      createdAt: created,
      updatedAt: created,
    });
  }
  for (const [map, size, parents] of [
    [state.accountNotes, SEED.accountNotes, SEED.accounts],
    [state.prospectNotes, SEED.prospectNotes, SEED.prospects],
  ] as const) {
    for (let id = 1; id <= size; id++) {
      // The first two of each on record 1 (Acme Corp, and its first prospect).
      map.set(id, {
        id,
        message: pick(notes),
        noteType: 'note',
        parentId: id <= 2 ? 1 : 1 + Math.floor(rnd() * parents),
        opportunityId: null,
        creatorId: 1 + Math.floor(rnd() * SEED.users),
        createdAt: at(id, size),
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

class OrError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    readonly title: string,
    readonly detail: string,
    readonly pointer?: string,
  ) {
    super(detail);
  }
}

const errorsBody = (e: OrError) => ({
  errors: [{ id: e.id, title: e.title, detail: e.detail, ...(e.pointer ? { source: { pointer: e.pointer } } : {}) }],
});
const invalid = (detail: string, pointer?: string) => new OrError(422, 'validationError', 'Validation Error', detail, pointer);
const badRequest = (detail: string) => new OrError(400, 'badRequest', 'Bad Request', detail);
const notFound = (type: string, id: string) => new OrError(404, 'resourceNotFound', 'Resource Not Found', `Could not find '${type}' with ID '${id}'.`);

// ---------------------------------------------------------------------------------------------
// Resources on the wire

type Json = Record<string, unknown>;
interface Wire {
  type: string;
  id: number;
  attributes: Json;
  relationships: Json;
  links: { self: string };
}

const one = (type: string, id: number | null) => ({ data: id === null ? null : { type, id } });

/** What the collections look like on the wire, built against the fake's own base URL. */
function views(base: string, state: FakeOutreachState) {
  const self = (p: string, id: number) => ({ self: `${base}${p}/${id}` });
  /** Account and prospect notes: the same resource on another parent. */
  const note = (type: 'accountNote' | 'prospectNote', parent: 'account' | 'prospect', n: FakeNote): Wire => ({
    type,
    id: n.id,
    attributes: { createdAt: n.createdAt, message: n.message, noteType: n.noteType, pinned: false },
    relationships: { [parent]: one(parent, n.parentId), creator: one('user', n.creatorId), opportunity: one('opportunity', n.opportunityId) },
    links: self(`/${type}s`, n.id),
  });
  return {
    stage: (s: FakeStage): Wire => ({
      type: 'stage',
      id: s.id,
      attributes: { color: s.color, createdAt: s.createdAt, name: s.name, order: s.order, updatedAt: s.updatedAt },
      relationships: {
        creator: one('user', s.creatorId),
        prospects: { links: { related: `${base}/prospects?filter%5Bstage%5D%5Bid%5D=${s.id}` } },
        updater: one('user', s.updaterId),
      },
      links: self('/stages', s.id),
    }),
    opportunityStage: (s: FakeOpportunityStage): Wire => ({
      type: 'opportunityStage',
      id: s.id,
      attributes: { color: s.color, createdAt: s.createdAt, isClosed: s.isClosed, name: s.name, order: s.order, updatedAt: s.updatedAt },
      relationships: {
        creator: one('user', s.creatorId),
        opportunities: { links: { related: `${base}/opportunities?filter%5BopportunityStage%5D%5Bid%5D=${s.id}` } },
      },
      links: self('/opportunityStages', s.id),
    }),
    user: (u: FakeUser): Wire => ({
      type: 'user',
      id: u.id,
      attributes: { email: u.email, firstName: u.firstName, lastName: u.lastName, locked: u.locked, name: `${u.firstName} ${u.lastName}`, username: u.email },
      relationships: {},
      links: self('/users', u.id),
    }),
    account: (a: FakeAccount): Wire => ({
      type: 'account',
      id: a.id,
      attributes: {
        createdAt: a.createdAt,
        custom1: null,
        domain: a.domain,
        industry: a.industry,
        name: a.name,
        named: a.named,
        tags: [],
        updatedAt: a.updatedAt,
      },
      relationships: {
        creator: one('user', 1),
        owner: one('user', a.ownerId),
        prospects: { links: { related: `${base}/prospects?filter%5Baccount%5D%5Bid%5D=${a.id}` } },
        tasks: { links: { related: `${base}/tasks?filter%5Baccount%5D%5Bid%5D=${a.id}` } },
      },
      links: self('/accounts', a.id),
    }),
    prospect: (p: FakeProspect): Wire => ({
      type: 'prospect',
      id: p.id,
      attributes: {
        createdAt: p.createdAt,
        custom1: null,
        emails: [...p.emails],
        firstName: p.firstName,
        lastName: p.lastName,
        name: [p.firstName, p.lastName].filter(Boolean).join(' '),
        title: p.title,
        updatedAt: p.updatedAt,
        ...Object.fromEntries(PHONE_LISTS.map((l) => [l, [...p[l]]])),
      },
      relationships: {
        account: one('account', p.accountId),
        calls: { links: { related: `${base}/calls?filter%5Bprospect%5D%5Bid%5D=${p.id}` } },
        creator: one('user', 1),
        owner: one('user', p.ownerId),
        stage: one('stage', null),
        tasks: { links: { related: `${base}/tasks?filter%5Bprospect%5D%5Bid%5D=${p.id}` } },
      },
      links: self('/prospects', p.id),
    }),
    task: (t: FakeTask): Wire => {
      const as = (type: Subject['type']) => one(type, t.subject?.type === type ? t.subject.id : null);
      const prospect = t.subject?.type === 'prospect' ? t.subject.id : null;
      return {
        type: 'task',
        id: t.id,
        attributes: {
          action: t.action,
          completed: t.state === 'complete',
          completedAt: t.completedAt,
          createdAt: t.createdAt,
          dueAt: t.dueAt,
          note: t.note,
          state: t.state,
          stateChangedAt: t.completedAt ?? t.createdAt,
          taskType: 'manual',
          updatedAt: t.updatedAt,
        },
        relationships: {
          account: as('account'),
          completer: one('user', t.state === 'complete' ? t.ownerId : null),
          opportunity: as('opportunity'),
          owner: one('user', t.ownerId),
          prospect: as('prospect'),
          prospectAccount: one('account', prospect === null ? null : (state.prospects.get(prospect)?.accountId ?? null)),
          subject: { data: t.subject ? { type: t.subject.type, id: t.subject.id } : null },
        },
        links: self('/tasks', t.id),
      };
    },
    call: (c: FakeCall): Wire => ({
      type: 'call',
      id: c.id,
      attributes: {
        createdAt: c.createdAt,
        direction: c.direction,
        note: c.note,
        outcome: c.outcome,
        state: 'completed',
        tags: [],
        updatedAt: c.updatedAt,
      },
      relationships: {
        associatedId: one('opportunity', c.opportunityId),
        opportunity: one('opportunity', c.opportunityId),
        prospect: one('prospect', c.prospectId),
        task: one('task', null),
        user: one('user', c.userId),
      },
      links: self('/calls', c.id),
    }),
    accountNote: (n: FakeNote): Wire => note('accountNote', 'account', n),
    prospectNote: (n: FakeNote): Wire => note('prospectNote', 'prospect', n),
    opportunity: (o: FakeOpportunity): Wire => ({
      type: 'opportunity',
      id: o.id,
      attributes: {
        amount: o.amount,
        amountPrecise: o.amountPrecise,
        closeDate: o.closeDate,
        createdAt: o.createdAt,
        currencyType: o.currencyType,
        custom1: null,
        custom2: null,
        description: o.description,
        name: o.name,
        probability: o.probability,
        tags: [],
        updatedAt: o.updatedAt,
      },
      relationships: {
        account: one('account', o.accountId),
        creator: one('user', o.creatorId),
        opportunityStage: one('opportunityStage', o.stageId),
        owner: one('user', o.ownerId),
        prospects: { links: { related: `${base}/prospects?filter%5Bopportunity%5D%5Bid%5D=${o.id}` } },
        stage: one('opportunityStage', o.stageId),
      },
      links: self('/opportunities', o.id),
    }),
  };
}

/** Sparse fieldsets: `fields[type]=a,b` keeps those attributes and relationships only. */
function sparse(w: Wire, fields: Record<string, unknown> | undefined): Wire {
  const list = fields?.[w.type];
  if (typeof list !== 'string') return w;
  const keep = new Set(list.split(','));
  const pick = (o: Json) => Object.fromEntries(Object.entries(o).filter(([k]) => keep.has(k)));
  return { ...w, attributes: pick(w.attributes), relationships: pick(w.relationships) };
}

// ---------------------------------------------------------------------------------------------
// Query reading

function str(q: Record<string, unknown>, key: string): string | undefined {
  const v = q[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(`${key} must be a single value`);
  return v;
}

function idList(v: unknown, key: string): number[] {
  if (typeof v !== 'string' || !/^\d+(,\d+)*$/.test(v)) throw badRequest(`${key} must be an id or a comma list of ids`);
  return v.split(',').map(Number);
}

function pathId(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new OrError(400, 'badRequest', 'Bad Request', `'${decodeURIComponent(raw)}' is not an id.`);
  return Number(raw);
}

interface Listing<T> {
  rows: T[];
  /** Attribute values a `sort` may name. */
  sortable: Record<string, (x: T) => string | number | null>;
  /** `filter[...]` this collection takes: name -> row predicate for the given value. */
  filters: Record<string, (x: T, value: unknown) => boolean>;
}

/**
 * A collection answer: filters, sort, cursor pages of page[size] (capped at maxPageSize; default
 * 50), `links.first` and `links.next` (absent on the last page) carrying the whole query again.
 */
function list<T extends { id: number }>(
  state: FakeOutreachState,
  base: string,
  req: RecordedRequest,
  l: Listing<T>,
  view: (x: T) => Wire,
): Json {
  const q = req.query;
  for (const k of Object.keys(q)) {
    if (!['page', 'filter', 'sort', 'include', 'fields', 'count', 'newFilterSyntax'].includes(k)) throw badRequest(`Unknown query parameter '${k}'.`);
  }
  let rows = l.rows;
  const filter = (q.filter ?? {}) as Record<string, unknown>;
  if (typeof filter !== 'object') throw badRequest('filter must name an attribute');
  for (const [k, v] of Object.entries(filter)) {
    const test = l.filters[k];
    if (!test) throw badRequest(`Filtering by '${k}' is not allowed.`);
    rows = rows.filter((x) => test(x, v));
  }
  const sort = str(q, 'sort') ?? 'id';
  const desc = sort.startsWith('-');
  const field = desc ? sort.slice(1) : sort;
  const key = field === 'id' ? (x: T) => x.id : l.sortable[field];
  if (!key) throw badRequest(`Sorting by '${field}' is not allowed.`);
  const cmp = (a: T, b: T) => {
    const ka = key(a) ?? '';
    const kb = key(b) ?? '';
    const c = ka < kb ? -1 : ka > kb ? 1 : a.id - b.id;
    return desc ? -c : c;
  };
  rows = [...rows].sort(cmp);
  const page = (q.page ?? {}) as Record<string, unknown>;
  const asked = page.size === undefined ? 50 : Number(page.size);
  if (!Number.isInteger(asked) || asked < 1) throw badRequest('page[size] must be a positive whole number');
  const size = Math.min(asked, state.maxPageSize);
  let start = 0;
  if (page.after !== undefined) {
    let after: { id: number };
    try {
      after = JSON.parse(Buffer.from(String(page.after), 'base64url').toString('utf8')) as { id: number };
      if (typeof after.id !== 'number') throw new Error();
    } catch {
      throw badRequest('page[after] is not a valid cursor');
    }
    const at = rows.findIndex((x) => x.id === after.id);
    start = at < 0 ? rows.length : at + 1;
  }
  const items = rows.slice(start, start + size);
  const link = (extra: Record<string, unknown>) => `${base}${req.path}?${qs.stringify({ ...q, page: { ...page, ...extra } })}`;
  const links: Json = { first: link({ after: undefined }) };
  if (start + size < rows.length) {
    const last = items[items.length - 1];
    // A misbehaving server: the next link of a later page is the one it was asked with.
    links.next = state.loopLink.has(req.path) && page.after !== undefined ? link({}) : link({ after: Buffer.from(JSON.stringify({ id: last.id })).toString('base64url') });
  }
  const fields = q.fields as Record<string, unknown> | undefined;
  const full = items.map(view);
  const body: Json = { data: full.map((w) => sparse(w, fields)), links };
  if (q.count === 'true') body.meta = { count: rows.length, count_truncated: false };
  return withIncluded(state, views(base, state), body, q, full);
}

// ---------------------------------------------------------------------------------------------
// Writes

type Body = { data?: { type?: unknown; id?: unknown; attributes?: Json; relationships?: Json } };

/** The resource object of a write, checked as Outreach does: type, id on PATCH, known attributes only. */
function resourceOf(req: RecordedRequest, type: string, id: number | undefined, writable: readonly string[], relationships: Record<string, string | readonly string[]>) {
  const body = req.body as Body | undefined;
  const data = body?.data;
  if (!data || typeof data !== 'object') throw invalid('The request body must be a JSON:API document with data.', '/data');
  if (data.type !== type) throw invalid(`Type must be '${type}'.`, '/data/type');
  if (id !== undefined) {
    if (data.id === undefined) throw invalid('Id is required to update a resource.', '/data/id');
    if (data.id !== id) throw invalid(`Id ${String(data.id)} does not match the URL's ${id}.`, '/data/id');
  } else if (data.id !== undefined) {
    throw invalid('Id must not be sent to create a resource.', '/data/id');
  }
  const attributes = (data.attributes ?? {}) as Json;
  for (const k of Object.keys(attributes)) {
    if (!writable.includes(k)) throw invalid(`${k} is read-only or unknown.`, `/data/attributes/${k}`);
  }
  const rels: Record<string, number | null> = {};
  /** The type each relationship named (a polymorphic one, such as a task's subject, takes several). */
  const types: Record<string, string> = {};
  for (const [k, v] of Object.entries((data.relationships ?? {}) as Json)) {
    const want = relationships[k];
    if (!want) throw invalid(`Relationship ${k} is read-only or unknown.`, `/data/relationships/${k}`);
    const allowed = typeof want === 'string' ? [want] : want;
    const d = (v as { data?: { type?: unknown; id?: unknown } | null })?.data;
    if (d === null) {
      rels[k] = null;
      continue;
    }
    if (!d || !allowed.includes(d.type as string) || typeof d.id !== 'number' || !Number.isInteger(d.id)) {
      throw invalid(`Relationship ${k} must be {data: {type: '${allowed.join("' or '")}', id: <integer>}}.`, `/data/relationships/${k}`);
    }
    rels[k] = d.id;
    types[k] = d.type as string;
  }
  return { attributes, rels, types };
}

function text(attributes: Json, key: string, opts: { required?: boolean; max?: number } = {}): string | undefined {
  const v = attributes[key];
  if (v === undefined || v === null) {
    if (opts.required) throw invalid(`${key[0].toUpperCase()}${key.slice(1)} can't be blank.`, `/data/attributes/${key}`);
    return undefined;
  }
  if (typeof v !== 'string' || (opts.required && v.trim() === '')) throw invalid(`${key} must be text.`, `/data/attributes/${key}`);
  if (opts.max !== undefined && v.length > opts.max) throw invalid(`${key} is too long (maximum is ${opts.max} characters).`, `/data/attributes/${key}`);
  return v;
}

function integer(attributes: Json, key: string): number | undefined {
  const v = attributes[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(`${key} must be an integer.`, `/data/attributes/${key}`);
  return v;
}

function tick(state: FakeOutreachState): string {
  state.now = new Date(state.now.getTime() + 1000);
  return iso(state.now);
}

function must<T>(map: Map<number, T>, type: string, raw: string): T {
  const x = map.get(pathId(raw));
  if (!x) throw notFound(type, raw);
  return x;
}

/** Prospect stages and opportunity stages: the same resource, one attribute apart. */
function stageRoutes<S extends FakeStage>(
  state: FakeOutreachState,
  base: string,
  req: RecordedRequest,
  id: string | undefined,
  c: { type: 'stage' | 'opportunityStage'; map: Map<number, S>; next: 'stage' | 'opportunityStage'; view: (s: S) => Wire; extra: readonly string[]; make: (s: FakeStage, a: Json) => S },
): FakeResponse {
  const writable = ['name', 'order', 'color', ...c.extra];
  const apply = (s: S, a: Json) => {
    const name = text(a, 'name', { max: 255 });
    if (name !== undefined) {
      if (!name.trim()) throw invalid("Name can't be blank.", '/data/attributes/name');
      s.name = name;
    }
    const order = integer(a, 'order');
    if (order !== undefined) s.order = order;
    if (a.color !== undefined) s.color = a.color === null ? null : (text(a, 'color', { max: 255 }) ?? null);
    if (a.isClosed !== undefined) {
      if (typeof a.isClosed !== 'boolean') throw invalid('isClosed must be true or false.', '/data/attributes/isClosed');
      (s as unknown as FakeOpportunityStage).isClosed = a.isClosed;
    }
  };
  if (id === undefined) {
    if (req.method === 'GET') {
      return ok(
        list(state, base, req, {
          rows: [...c.map.values()],
          sortable: { order: (s) => s.order, name: (s) => s.name, createdAt: (s) => s.createdAt, updatedAt: (s) => s.updatedAt },
          filters: {
            id: (s, v) => idList(v, 'filter[id]').includes(s.id),
            name: (s, v) => s.name === v,
            ...(c.type === 'opportunityStage' ? { isClosed: (s: S, v: unknown) => String((s as unknown as FakeOpportunityStage).isClosed) === v } : {}),
          },
        }, c.view),
      );
    }
    if (req.method === 'POST') {
      const { attributes } = resourceOf(req, c.type, undefined, writable, {});
      text(attributes, 'name', { required: true });
      const now = tick(state);
      const s = c.make(
        { id: state.nextId[c.next]++, name: '', order: Math.max(0, ...[...c.map.values()].map((x) => x.order)) + 1, color: null, createdAt: now, updatedAt: now, creatorId: 1, updaterId: 1 },
        attributes,
      );
      apply(s, attributes);
      c.map.set(s.id, s);
      return { status: 201, body: { data: c.view(s) } };
    }
    throw new OrError(405, 'methodNotAllowed', 'Method Not Allowed', `${req.method} is not allowed here.`);
  }
  const s = must(c.map, c.type, id);
  if (req.method === 'GET') return ok({ data: sparse(c.view(s), req.query.fields as Record<string, unknown> | undefined) });
  if (req.method === 'PATCH') {
    const { attributes } = resourceOf(req, c.type, s.id, writable, {});
    apply(s, attributes);
    s.updatedAt = tick(state);
    return ok({ data: c.view(s) });
  }
  if (req.method === 'DELETE') {
    c.map.delete(s.id);
    if (c.type === 'opportunityStage') for (const o of state.opportunities.values()) if (o.stageId === s.id) o.stageId = null;
    tick(state);
    return { status: 204 };
  }
  throw new OrError(405, 'methodNotAllowed', 'Method Not Allowed', `${req.method} is not allowed here.`);
}

const OPPORTUNITY_WRITABLE = ['name', 'amount', 'amountPrecise', 'currencyType', 'closeDate', 'probability', 'description'] as const;
const OPPORTUNITY_RELATIONSHIPS = { opportunityStage: 'opportunityStage', owner: 'user', account: 'account' };

function applyOpportunity(state: FakeOutreachState, o: FakeOpportunity, attributes: Json, rels: Record<string, number | null>): void {
  const name = text(attributes, 'name', { max: 255 });
  if (name !== undefined) o.name = name;
  const amount = integer(attributes, 'amount');
  if (amount !== undefined) o.amount = amount;
  if (attributes.amountPrecise !== undefined) {
    const p = attributes.amountPrecise;
    if (p !== null && (typeof p !== 'string' || !/^\d+(\.\d+)?$/.test(p))) throw invalid('amountPrecise must be a decimal number written as text.', '/data/attributes/amountPrecise');
    o.amountPrecise = p as string | null;
  }
  const currency = text(attributes, 'currencyType');
  if (currency !== undefined) {
    if (!/^[A-Z]{3}$/.test(currency)) throw invalid('Currency type must be an ISO 4217 code.', '/data/attributes/currencyType');
    o.currencyType = currency;
  }
  const close = text(attributes, 'closeDate');
  if (close !== undefined) {
    if (Number.isNaN(Date.parse(close)) || !/^\d{4}-\d{2}-\d{2}T/.test(close)) throw invalid('Close date must be a date-time.', '/data/attributes/closeDate');
    o.closeDate = new Date(close).toISOString();
  }
  const probability = integer(attributes, 'probability');
  if (probability !== undefined) o.probability = probability;
  if (attributes.description !== undefined) o.description = (attributes.description as string | null) ?? null;
  if ('opportunityStage' in rels) {
    const sid = rels.opportunityStage;
    if (sid === null || !state.opportunityStages.has(sid)) throw invalid('Opportunity stage must exist.', '/data/relationships/opportunityStage');
    o.stageId = sid;
  }
  if ('owner' in rels) {
    if (rels.owner !== null && !state.users.has(rels.owner)) throw invalid('Owner must exist.', '/data/relationships/owner');
    o.ownerId = rels.owner;
  }
  if ('account' in rels) {
    if (rels.account !== null && !state.accounts.has(rels.account)) throw invalid('Account must exist.', '/data/relationships/account');
    o.accountId = rels.account;
  }
}

/** A record's answer: sparse, with what `include` asks for. */
function single(state: FakeOutreachState, v: ReturnType<typeof views>, req: RecordedRequest, w: Wire): Json {
  return withIncluded(state, v, { data: sparse(w, req.query.fields as Record<string, unknown> | undefined) }, req.query, [w]);
}

/** The relationships each type may `include` (the related records it names by id). */
const INCLUDABLE: Record<string, readonly string[]> = {
  stage: ['creator', 'updater'],
  opportunityStage: ['creator'],
  opportunity: ['opportunityStage', 'stage', 'owner', 'account', 'creator'],
  account: ['owner', 'creator'],
  prospect: ['account', 'owner', 'creator', 'stage'],
  user: [],
  task: ['account', 'completer', 'opportunity', 'owner', 'prospect', 'prospectAccount', 'subject'],
  call: ['associatedId', 'opportunity', 'prospect', 'task', 'user'],
  accountNote: ['account', 'creator', 'opportunity'],
  prospectNote: ['creator', 'opportunity', 'prospect'],
};

/** Any record of the fake by JSON:API type and id, on the wire (full). */
function wireOf(state: FakeOutreachState, v: ReturnType<typeof views>, type: string, id: number): Wire | undefined {
  const get = <T>(m: Map<number, T>, view: (x: T) => Wire) => {
    const x = m.get(id);
    return x === undefined ? undefined : view(x);
  };
  switch (type) {
    case 'user':
      return get(state.users, v.user);
    case 'account':
      return get(state.accounts, v.account);
    case 'prospect':
      return get(state.prospects, v.prospect);
    case 'opportunity':
      return get(state.opportunities, v.opportunity);
    case 'opportunityStage':
      return get(state.opportunityStages, v.opportunityStage);
    case 'stage':
      return get(state.stages, v.stage);
    case 'task':
      return get(state.tasks, v.task);
    case 'call':
      return get(state.calls, v.call);
    default:
      return undefined;
  }
}

/** `include=a,b`: the records the answer's records name in those relationships, once each, sparse like the rest. */
function withIncluded(state: FakeOutreachState, v: ReturnType<typeof views>, body: Json, q: Record<string, unknown>, records: Wire[]): Json {
  const include = str(q, 'include');
  if (include === undefined) return body;
  const fields = q.fields as Record<string, unknown> | undefined;
  const out = new Map<string, Wire>();
  for (const rel of include.split(',')) {
    for (const r of records) {
      if (!INCLUDABLE[r.type]?.includes(rel)) throw badRequest(`Including '${rel}' is not allowed.`);
      const d = (r.relationships[rel] as { data?: { type: string; id: number } | null } | undefined)?.data;
      const w = d ? wireOf(state, v, d.type, d.id) : undefined;
      if (w) out.set(`${w.type}:${w.id}`, sparse(w, fields));
    }
  }
  return { ...body, included: [...out.values()] };
}

function opportunities(state: FakeOutreachState, base: string, req: RecordedRequest, id: string | undefined): FakeResponse {
  const v = views(base, state);
  if (id === undefined) {
    if (req.method === 'GET') {
      const byStage = (o: FakeOpportunity, val: unknown) => o.stageId !== null && idList((val as Json)?.id, 'filter[stage][id]').includes(o.stageId);
      const body = list(
        state,
        base,
        req,
        {
          rows: [...state.opportunities.values()],
          sortable: { updatedAt: (o) => o.updatedAt, createdAt: (o) => o.createdAt, name: (o) => o.name, amount: (o) => o.amount },
          filters: {
            id: (o, val) => idList(val, 'filter[id]').includes(o.id),
            name: (o, val) => o.name === val,
            stage: byStage,
            opportunityStage: byStage,
            owner: (o, val) => o.ownerId !== null && idList((val as Json)?.id, 'filter[owner][id]').includes(o.ownerId),
            account: (o, val) => o.accountId !== null && idList((val as Json)?.id, 'filter[account][id]').includes(o.accountId),
          },
        },
        v.opportunity,
      );
      return ok(body);
    }
    if (req.method === 'POST') {
      const { attributes, rels } = resourceOf(req, 'opportunity', undefined, OPPORTUNITY_WRITABLE, OPPORTUNITY_RELATIONSHIPS);
      text(attributes, 'name', { required: true });
      if (!('opportunityStage' in rels)) throw invalid("Opportunity stage can't be blank.", '/data/relationships/opportunityStage');
      const now = tick(state);
      const o: FakeOpportunity = {
        id: state.nextId.opportunity,
        name: '',
        amount: null,
        amountPrecise: null,
        currencyType: null,
        closeDate: null,
        probability: null,
        description: null,
        createdAt: now,
        updatedAt: now,
        stageId: null,
        // Outreach makes the token's user the owner unless told otherwise.
        ownerId: 1,
        accountId: null,
        creatorId: 1,
      };
      applyOpportunity(state, o, attributes, rels);
      state.nextId.opportunity++;
      state.opportunities.set(o.id, o);
      return { status: 201, body: { data: v.opportunity(o) } };
    }
    throw new OrError(405, 'methodNotAllowed', 'Method Not Allowed', `${req.method} is not allowed here.`);
  }
  const o = must(state.opportunities, 'opportunity', id);
  if (req.method === 'GET') {
    return ok(single(state, v, req, v.opportunity(o)));
  }
  if (req.method === 'PATCH') {
    const { attributes, rels } = resourceOf(req, 'opportunity', o.id, OPPORTUNITY_WRITABLE, OPPORTUNITY_RELATIONSHIPS);
    applyOpportunity(state, o, attributes, rels);
    o.updatedAt = tick(state);
    return ok({ data: v.opportunity(o) });
  }
  if (req.method === 'DELETE') {
    state.opportunities.delete(o.id);
    return { status: 204 };
  }
  throw new OrError(405, 'methodNotAllowed', 'Method Not Allowed', `${req.method} is not allowed here.`);
}

// ---------------------------------------------------------------------------------------------
// Accounts, prospects, users, tasks, calls and notes: one route each over `records`

type Rels = Record<string, number | null>;

interface RecordsDef<T extends { id: number }> {
  type: string;
  map: Map<number, T>;
  view: (x: T) => Wire;
  sortable: Record<string, (x: T) => string | number | null>;
  filters: Record<string, (x: T, value: unknown) => boolean>;
  writable?: readonly string[];
  relationships?: Record<string, string | readonly string[]>;
  /** POST: a record from the checked body; absent: no POST. */
  create?: (attributes: Json, rels: Rels, types: Record<string, string>) => T;
  /** PATCH: applies the checked body; absent: no PATCH. */
  update?: (x: T, attributes: Json, rels: Rels, types: Record<string, string>) => void;
  /** DELETE allowed. */
  remove?: boolean;
  /** Which records the collection lists unless a filter names them (Outreach lists named accounts only). */
  listed?: { filter: string; test: (x: T) => boolean };
}

const notAllowed = (req: RecordedRequest) => new OrError(405, 'methodNotAllowed', 'Method Not Allowed', `${req.method} is not allowed here.`);

function records<T extends { id: number }>(state: FakeOutreachState, base: string, req: RecordedRequest, id: string | undefined, d: RecordsDef<T>): FakeResponse {
  const v = views(base, state);
  if (id === undefined) {
    if (req.method === 'GET') {
      const filtered = (req.query.filter as Json | undefined)?.[d.listed?.filter ?? ''] !== undefined;
      const rows = [...d.map.values()].filter((x) => !d.listed || filtered || d.listed.test(x));
      return ok(list(state, base, req, { rows, sortable: d.sortable, filters: { id: (x, val) => idList(val, 'filter[id]').includes(x.id), ...d.filters } }, d.view));
    }
    if (req.method === 'POST' && d.create) {
      const { attributes, rels, types } = resourceOf(req, d.type, undefined, d.writable ?? [], d.relationships ?? {});
      const x = d.create(attributes, rels, types);
      d.map.set(x.id, x);
      return { status: 201, body: { data: d.view(x) } };
    }
    throw notAllowed(req);
  }
  const x = must(d.map, d.type, id);
  if (req.method === 'GET') return ok(single(state, v, req, d.view(x)));
  if (req.method === 'PATCH' && d.update) {
    const { attributes, rels, types } = resourceOf(req, d.type, x.id, d.writable ?? [], d.relationships ?? {});
    d.update(x, attributes, rels, types);
    return ok({ data: d.view(x) });
  }
  if (req.method === 'DELETE' && d.remove) {
    d.map.delete(x.id);
    tick(state);
    return { status: 204 };
  }
  throw notAllowed(req);
}

/** `filter[<relationship>][id]=1,2`: records whose relationship names one of those ids. */
const byRelated =
  <T>(get: (x: T) => number | null, key: string) =>
  (x: T, value: unknown): boolean => {
    const id = get(x);
    return id !== null && idList((value as Json | undefined)?.id, `filter[${key}][id]`).includes(id);
  };

/** Outreach's `filter[q]` (accounts and prospects): names, words of them or addresses starting with the text, any case. */
const startsWith = (value: unknown, ...texts: Array<string | null | undefined>): boolean => {
  if (typeof value !== 'string' || value === '') throw badRequest('filter[q] must be text');
  const q = value.toLowerCase();
  return texts.some((t) => typeof t === 'string' && t.toLowerCase().startsWith(q));
};

const equalsText = (value: unknown, text: string | null) => typeof value === 'string' && text !== null && text === value;

/** Comma lists: `filter[state]=incomplete,pending`. */
const oneOf = (value: unknown, text: string | null) => typeof value === 'string' && text !== null && value.split(',').includes(text);

/** A related record a write names must exist, as Outreach checks it. */
function mustExist(state: FakeOutreachState, rel: string, type: string, id: number | null): void {
  if (id === null) return;
  const m: Record<string, Map<number, unknown>> = {
    user: state.users,
    account: state.accounts,
    prospect: state.prospects,
    opportunity: state.opportunities,
  };
  if (!m[type]?.has(id)) throw invalid(`${rel[0].toUpperCase()}${rel.slice(1)} must exist.`, `/data/relationships/${rel}`);
}

function strings(attributes: Json, key: string): string[] | undefined {
  const v = attributes[key];
  if (v === undefined) return undefined;
  if (v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalid(`${key} must be a list of text.`, `/data/attributes/${key}`);
  return [...(v as string[])];
}

function dateTime(attributes: Json, key: string): string | null | undefined {
  const v = attributes[key];
  if (v === undefined || v === null) return v as null | undefined;
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(Date.parse(v))) throw invalid(`${key} must be a date-time.`, `/data/attributes/${key}`);
  return new Date(v).toISOString();
}

const ACCOUNT_WRITABLE = ['name', 'domain', 'industry', 'named', 'description', 'websiteUrl'] as const;
const PROSPECT_WRITABLE = ['firstName', 'lastName', 'emails', 'title', ...PHONE_LISTS] as const;
const TASK_WRITABLE = ['action', 'note', 'dueAt', 'autoskipAt', 'opportunityAssociation'] as const;

function accountRoutes(state: FakeOutreachState, base: string, req: RecordedRequest, id: string | undefined): FakeResponse {
  const apply = (a: FakeAccount, attrs: Json, rels: Rels) => {
    const name = text(attrs, 'name', { max: 255 });
    if (name !== undefined) {
      if (!name.trim()) throw invalid("Name can't be blank.", '/data/attributes/name');
      a.name = name;
    }
    if (attrs.domain !== undefined) a.domain = text(attrs, 'domain', { max: 255 }) ?? null;
    if (attrs.industry !== undefined) a.industry = text(attrs, 'industry', { max: 255 }) ?? null;
    if (attrs.named !== undefined) {
      if (typeof attrs.named !== 'boolean') throw invalid('named must be true or false.', '/data/attributes/named');
      a.named = attrs.named;
    }
    if ('owner' in rels) {
      mustExist(state, 'owner', 'user', rels.owner);
      a.ownerId = rels.owner;
    }
    a.updatedAt = tick(state);
  };
  return records(state, base, req, id, {
    type: 'account',
    map: state.accounts,
    view: views(base, state).account,
    sortable: { name: (a) => a.name, createdAt: (a) => a.createdAt, updatedAt: (a) => a.updatedAt },
    filters: {
      name: (a, val) => equalsText(val, a.name),
      domain: (a, val) => equalsText(val, a.domain),
      named: (a, val) => String(a.named) === val,
      q: (a, val) => startsWith(val, a.name),
      owner: byRelated((a) => a.ownerId, 'owner'),
    },
    writable: ACCOUNT_WRITABLE,
    relationships: { owner: 'user' },
    create(attrs, rels) {
      text(attrs, 'name', { required: true });
      const now = tick(state);
      // Outreach makes the token's user the owner unless told otherwise.
      const a: FakeAccount = { id: state.nextId.account++, name: '', domain: null, industry: null, named: false, ownerId: 1, createdAt: now, updatedAt: now };
      apply(a, attrs, rels);
      return a;
    },
    update: apply,
    // "Only named accounts will show up on the collection index" (spec: account.named).
    listed: { filter: 'named', test: (a) => a.named },
  });
}

function prospectRoutes(state: FakeOutreachState, base: string, req: RecordedRequest, id: string | undefined): FakeResponse {
  const apply = (p: FakeProspect, attrs: Json, rels: Rels) => {
    for (const k of ['firstName', 'lastName', 'title'] as const) if (attrs[k] !== undefined) p[k] = text(attrs, k, { max: 255 }) ?? null;
    const emails = strings(attrs, 'emails');
    if (emails) {
      for (const e of emails) if (!/^[^\s@]+@[^\s@]+$/.test(e)) throw invalid(`${e} is not an email address.`, '/data/attributes/emails');
      p.emails = emails;
    }
    for (const l of PHONE_LISTS) {
      const phones = strings(attrs, l);
      if (phones) p[l] = phones;
    }
    if ('account' in rels) {
      mustExist(state, 'account', 'account', rels.account);
      p.accountId = rels.account;
    }
    if ('owner' in rels) {
      mustExist(state, 'owner', 'user', rels.owner);
      p.ownerId = rels.owner;
    }
    p.updatedAt = tick(state);
  };
  const fullName = (p: FakeProspect) => [p.firstName, p.lastName].filter(Boolean).join(' ');
  return records(state, base, req, id, {
    type: 'prospect',
    map: state.prospects,
    view: views(base, state).prospect,
    sortable: { lastName: (p) => p.lastName, firstName: (p) => p.firstName, createdAt: (p) => p.createdAt, updatedAt: (p) => p.updatedAt },
    filters: {
      firstName: (p, val) => equalsText(val, p.firstName),
      lastName: (p, val) => equalsText(val, p.lastName),
      title: (p, val) => equalsText(val, p.title),
      emails: (p, val) => typeof val === 'string' && p.emails.some((e) => val.split(',').some((v) => v.toLowerCase() === e.toLowerCase())),
      q: (p, val) => startsWith(val, p.firstName, p.lastName, fullName(p), ...p.emails),
      account: byRelated((p) => p.accountId, 'account'),
      owner: byRelated((p) => p.ownerId, 'owner'),
    },
    writable: PROSPECT_WRITABLE,
    relationships: { account: 'account', owner: 'user' },
    create(attrs, rels) {
      if (attrs.firstName == null && attrs.lastName == null && attrs.emails == null) {
        throw invalid('A prospect needs a name or an email address.', '/data/attributes/firstName');
      }
      const now = tick(state);
      const p: FakeProspect = {
        id: state.nextId.prospect++,
        firstName: null,
        lastName: null,
        emails: [],
        title: null,
        accountId: null,
        ownerId: 1,
        createdAt: now,
        updatedAt: now,
        homePhones: [],
        mobilePhones: [],
        otherPhones: [],
        voipPhones: [],
        workPhones: [],
      };
      apply(p, attrs, rels);
      return p;
    },
    update: apply,
  });
}

function userRoutes(state: FakeOutreachState, base: string, req: RecordedRequest, id: string | undefined): FakeResponse {
  return records(state, base, req, id, {
    type: 'user',
    map: state.users,
    view: views(base, state).user,
    sortable: { lastName: (u) => u.lastName, firstName: (u) => u.firstName, email: (u) => u.email },
    filters: {
      firstName: (u, val) => equalsText(val, u.firstName),
      lastName: (u, val) => equalsText(val, u.lastName),
      email: (u, val) => equalsText(val, u.email),
      locked: (u, val) => String(u.locked) === val,
    },
  });
}

function taskRoutes(state: FakeOutreachState, base: string, req: RecordedRequest, id: string | undefined, action: string | undefined): FakeResponse {
  const v = views(base, state);
  if (action !== undefined) {
    if (req.method !== 'POST') throw notAllowed(req);
    const t = must(state.tasks, 'task', id!);
    for (const k of Object.keys(req.query)) if (k !== 'actionParams') throw badRequest(`Unknown query parameter '${k}'.`);
    if (action !== 'markComplete') throw new OrError(404, 'notFound', 'Not Found', `No action ${action}.`);
    if (req.body !== undefined) throw badRequest('An action takes its parameters as actionParams in the query, not a body.');
    if (t.state === 'complete') throw invalid('The task is already complete.');
    const now = tick(state);
    t.state = 'complete';
    t.completedAt = now;
    t.updatedAt = now;
    return ok({ data: v.task(t) });
  }
  const apply = (t: FakeTask, attrs: Json, rels: Rels, types: Record<string, string>) => {
    const a = text(attrs, 'action');
    if (a !== undefined) {
      if (!['action_item', 'call', 'email', 'in_person'].includes(a)) throw invalid(`${a} is not a task action.`, '/data/attributes/action');
      t.action = a;
    }
    if (attrs.note !== undefined) t.note = text(attrs, 'note', { max: 65535 }) ?? null;
    const due = dateTime(attrs, 'dueAt');
    if (due !== undefined) t.dueAt = due;
    if ('owner' in rels) {
      mustExist(state, 'owner', 'user', rels.owner);
      t.ownerId = rels.owner;
    }
    if ('subject' in rels) {
      if (rels.subject === null) throw invalid("Subject can't be blank.", '/data/relationships/subject');
      mustExist(state, 'subject', types.subject, rels.subject);
      t.subject = { type: types.subject as Subject['type'], id: rels.subject };
    }
    t.updatedAt = tick(state);
  };
  const subjectIs = (type: Subject['type']) => byRelated<FakeTask>((t) => (t.subject?.type === type ? t.subject.id : null), type);
  return records(state, base, req, id, {
    type: 'task',
    map: state.tasks,
    view: v.task,
    sortable: { createdAt: (t) => t.createdAt, dueAt: (t) => t.dueAt, updatedAt: (t) => t.updatedAt, state: (t) => t.state },
    filters: {
      state: (t, val) => oneOf(val, t.state),
      owner: byRelated((t) => t.ownerId, 'owner'),
      account: subjectIs('account'),
      prospect: subjectIs('prospect'),
      opportunity: subjectIs('opportunity'),
    },
    writable: TASK_WRITABLE,
    relationships: { owner: 'user', subject: ['account', 'opportunity', 'prospect'], taskPriority: 'taskPriority' },
    create(attrs, rels, types) {
      if (!('subject' in rels)) throw invalid("Subject can't be blank.", '/data/relationships/subject');
      const now = tick(state);
      const t: FakeTask = {
        id: state.nextId.task++,
        action: 'action_item',
        note: null,
        dueAt: now,
        state: 'incomplete',
        completedAt: null,
        subject: null,
        ownerId: 1,
        createdAt: now,
        updatedAt: now,
      };
      apply(t, attrs, rels, types);
      return t;
    },
    update: apply,
    remove: true,
  });
}

function callRoutes(state: FakeOutreachState, base: string, req: RecordedRequest, id: string | undefined): FakeResponse {
  return records(state, base, req, id, {
    type: 'call',
    map: state.calls,
    view: views(base, state).call,
    sortable: { createdAt: (c) => c.createdAt, updatedAt: (c) => c.updatedAt, outcome: (c) => c.outcome },
    filters: {
      prospect: byRelated((c) => c.prospectId, 'prospect'),
      opportunity: byRelated((c) => c.opportunityId, 'opportunity'),
      user: byRelated((c) => c.userId, 'user'),
      outcome: (c, val) => equalsText(val, c.outcome),
    },
    writable: ['note', 'outcome', 'direction', 'dialedAt', 'completedAt', 'answeredAt'],
    relationships: { prospect: 'prospect', opportunity: 'opportunity', user: 'user' },
    create(attrs, rels) {
      const outcome = text(attrs, 'outcome');
      if (outcome !== undefined && !['Answered', 'Not Answered'].includes(outcome)) throw invalid('Outcome must be Answered or Not Answered.', '/data/attributes/outcome');
      const direction = text(attrs, 'direction');
      if (direction !== undefined && !['inbound', 'outbound'].includes(direction)) throw invalid('Direction must be inbound or outbound.', '/data/attributes/direction');
      for (const [rel, type] of [['prospect', 'prospect'], ['opportunity', 'opportunity'], ['user', 'user']] as const) mustExist(state, rel, type, rels[rel] ?? null);
      const now = tick(state);
      return {
        id: state.nextId.call++,
        note: text(attrs, 'note', { max: 65535 }) ?? null,
        outcome: outcome ?? null,
        direction: direction ?? null,
        prospectId: rels.prospect ?? null,
        opportunityId: rels.opportunity ?? null,
        // The token's user made the call unless told otherwise.
        userId: rels.user ?? 1,
        createdAt: now,
        updatedAt: now,
      };
    },
    remove: true,
  });
}

function noteRoutes(state: FakeOutreachState, base: string, req: RecordedRequest, id: string | undefined, kind: 'accountNote' | 'prospectNote'): FakeResponse {
  const parent = kind === 'accountNote' ? 'account' : 'prospect';
  const map = kind === 'accountNote' ? state.accountNotes : state.prospectNotes;
  const apply = (n: FakeNote, attrs: Json, rels: Rels) => {
    if (attrs.message !== undefined) n.message = text(attrs, 'message', { max: 65535 }) ?? null;
    if (attrs.noteType !== undefined) {
      const t = text(attrs, 'noteType');
      if (t !== undefined && !['note', 'call', 'coffee', 'beer', 'meeting'].includes(t)) throw invalid(`${t} is not a note type.`, '/data/attributes/noteType');
      n.noteType = t ?? null;
    }
    if (parent in rels) {
      if (rels[parent] === null) throw invalid(`${parent[0].toUpperCase()}${parent.slice(1)} can't be blank.`, `/data/relationships/${parent}`);
      mustExist(state, parent, parent, rels[parent]);
      n.parentId = rels[parent];
    }
    tick(state);
  };
  return records(state, base, req, id, {
    type: kind,
    map,
    view: views(base, state)[kind],
    sortable: { createdAt: (n) => n.createdAt },
    filters: { [parent]: byRelated<FakeNote>((n) => n.parentId, parent) },
    writable: ['message', 'noteType', 'pinned', 'opportunityAssociationRule'],
    relationships: { [parent]: parent },
    create(attrs, rels) {
      if (!(parent in rels)) throw invalid(`${parent[0].toUpperCase()}${parent.slice(1)} can't be blank.`, `/data/relationships/${parent}`);
      const n: FakeNote = { id: state.nextId[kind]++, message: null, noteType: null, parentId: null, opportunityId: null, creatorId: 1, createdAt: iso(state.now) };
      apply(n, attrs, rels);
      n.createdAt = iso(state.now);
      return n;
    },
    update: apply,
    remove: true,
  });
}

const ok = (body: unknown): FakeResponse => ({ status: 200, body });

// ---------------------------------------------------------------------------------------------
// OAuth token endpoint (a form body, Doorkeeper-style errors)

function token(state: FakeOutreachState, req: RecordedRequest): FakeResponse {
  const oauthError = (status: number, error: string, description: string): FakeResponse => ({
    status,
    body: { error, error_description: description },
  });
  if (req.method !== 'POST') return oauthError(405, 'invalid_request', 'Use POST.');
  const type = String(req.headers['content-type'] ?? '');
  if (!type.startsWith('application/x-www-form-urlencoded') || typeof req.body !== 'string') {
    return oauthError(400, 'invalid_request', 'The request is missing a required parameter.');
  }
  const form = new URLSearchParams(req.body);
  const t = state.tokens;
  if (form.get('grant_type') !== 'refresh_token') return oauthError(400, 'unsupported_grant_type', 'The authorization grant type is not supported by the authorization server.');
  if (form.get('client_id') !== t.clientId || form.get('client_secret') !== t.clientSecret) {
    return oauthError(401, 'invalid_client', 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.');
  }
  if (form.get('refresh_token') !== t.refreshToken || (t.redirectUri !== undefined && form.get('redirect_uri') !== t.redirectUri)) {
    return oauthError(
      400,
      'invalid_grant',
      'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
    );
  }
  const next = t.mintable[t.minted++];
  if (!next) return oauthError(429, 'rate_limited', 'Too many tokens minted.');
  t.valid.add(next.access);
  t.refreshToken = next.refresh;
  return {
    status: 200,
    body: {
      access_token: next.access,
      token_type: 'bearer',
      expires_in: t.expiresIn,
      refresh_token: next.refresh,
      scope: 'stages.all opportunityStages.all opportunities.all users.read accounts.all prospects.all tasks.all calls.all accountNotes.all prospectNotes.all',
      created_at: Math.floor(state.now.getTime() / 1000),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Server

export interface FakeOutreachOptions {
  token?: string;
  latencyMs?: number;
}

/** What the fake answered, for checks against the spec's response schemas. */
export interface Answer {
  method: string;
  path: string;
  status: number;
  body: unknown;
}

export interface FakeOutreach {
  /** The API base URL (…/api/v2), as OUTREACH_BASE_URL takes it. */
  url: string;
  server: FakeServer;
  state: FakeOutreachState;
  answers: Answer[];
  /** Makes a working access token fail with 401 from now on, as an expired one does. */
  expire(token: string): void;
  /** Holds answers until `n` requests have arrived (or the timeout): proves requests were in flight together. */
  barrier(n: number, timeoutMs?: number): { reached(): boolean };
  stop(): Promise<void>;
}

export const API_PATH = '/api/v2';
const WINDOW_MS = 3_600_000;

export async function startFakeOutreach(opts: FakeOutreachOptions = {}): Promise<FakeOutreach> {
  const state = seedState({ token: opts.token });
  const answers: Answer[] = [];
  let base = '';
  const hourStart = Date.now();

  const route = (req: RecordedRequest): FakeResponse => {
    if (req.path === '/oauth/token') return token(state, req);
    if (!req.rawUrl.startsWith(`${API_PATH}/`)) throw new OrError(404, 'notFound', 'Not Found', `No route for ${req.path}.`);
    const auth = String(req.headers.authorization ?? '');
    const bearer = /^Bearer (.+)$/.exec(auth)?.[1];
    if (!bearer || !state.tokens.valid.has(bearer)) {
      const expired = bearer !== undefined && state.tokens.expired.has(bearer);
      throw new OrError(401, 'unauthorized', 'Unauthorized', expired ? 'The access token expired.' : 'The access token is invalid.');
    }
    if (!String(req.headers['content-type'] ?? '').startsWith('application/vnd.api+json')) {
      throw new OrError(415, 'unsupportedMediaType', 'Unsupported Media Type', "Expected Content-Type header to be 'application/vnd.api+json'.");
    }
    const v = views(base, state);
    const p = req.path;
    let m: RegExpExecArray | null;
    if ((m = /^\/stages(?:\/([^/]+))?$/.exec(p))) {
      return stageRoutes(state, base, req, m[1], {
        type: 'stage',
        map: state.stages,
        next: 'stage',
        view: v.stage,
        extra: [],
        make: (s) => s,
      });
    }
    if ((m = /^\/opportunityStages(?:\/([^/]+))?$/.exec(p))) {
      return stageRoutes(state, base, req, m[1], {
        type: 'opportunityStage',
        map: state.opportunityStages,
        next: 'opportunityStage',
        view: v.opportunityStage,
        extra: ['isClosed'],
        make: (s) => ({ ...s, isClosed: false }),
      });
    }
    if ((m = /^\/opportunities(?:\/([^/]+))?$/.exec(p))) return opportunities(state, base, req, m[1]);
    if ((m = /^\/users(?:\/([^/]+))?$/.exec(p))) return userRoutes(state, base, req, m[1]);
    if ((m = /^\/accounts(?:\/([^/]+))?$/.exec(p))) return accountRoutes(state, base, req, m[1]);
    if ((m = /^\/prospects(?:\/([^/]+))?$/.exec(p))) return prospectRoutes(state, base, req, m[1]);
    if ((m = /^\/tasks(?:\/([^/]+)(?:\/actions\/([^/]+))?)?$/.exec(p))) return taskRoutes(state, base, req, m[1], m[2]);
    if ((m = /^\/calls(?:\/([^/]+))?$/.exec(p))) return callRoutes(state, base, req, m[1]);
    if ((m = /^\/accountNotes(?:\/([^/]+))?$/.exec(p))) return noteRoutes(state, base, req, m[1], 'accountNote');
    if ((m = /^\/prospectNotes(?:\/([^/]+))?$/.exec(p))) return noteRoutes(state, base, req, m[1], 'prospectNote');
    throw new OrError(404, 'notFound', 'Not Found', `No route for ${req.method} ${p}.`);
  };

  const server = new FakeServer(async (req) => {
    state.served += 1;
    const reset = Math.ceil((hourStart + WINDOW_MS) / 1000);
    const headers = {
      'X-RateLimit-Limit': '10000',
      'X-RateLimit-Remaining': String(Math.max(0, 10_000 - state.served)),
      'X-RateLimit-Reset': String(reset),
    };
    let answer: FakeResponse;
    if (state.served > state.hourlyLimit && req.path !== '/oauth/token') {
      answer = {
        status: 429,
        headers: { 'Retry-After': String(reset - Math.floor(Date.now() / 1000)) },
        body: errorsBody(new OrError(429, 'rateLimitExceeded', 'Rate Limit Exceeded', `You have exceeded your permitted rate limit of ${state.hourlyLimit}; please try again later.`)),
      };
    } else {
      try {
        answer = route(req);
      } catch (e) {
        if (!(e instanceof OrError)) throw e;
        answer = { status: e.status, body: errorsBody(e) };
      }
    }
    answers.push({ method: req.method, path: req.path, status: answer.status, body: answer.body });
    const type = req.path === '/oauth/token' ? 'application/json; charset=utf-8' : 'application/vnd.api+json; charset=utf-8';
    return { ...answer, headers: { 'content-type': type, ...headers, ...answer.headers } };
  });
  server.latencyMs = opts.latencyMs ?? 0;
  server.basePath = API_PATH;
  const origin = await server.start();
  base = `${origin}${API_PATH}`;

  return {
    url: base,
    server,
    state,
    answers,
    expire(t) {
      state.tokens.valid.delete(t);
      state.tokens.expired.add(t);
    },
    barrier: (n, timeoutMs) => server.barrier(n, timeoutMs),
    stop: () => server.stop(),
  };
}
