/**
 * Deterministic demo data: a seeded PRNG and dates relative to `now`, so the same `now` always gives
 * the same database (tests pin it) while a real first run gets a history ending today. And the
 * first open of a database file, which seeds it once when it is new and empty.
 */
import { PROJECT_STATUSES } from '../../crm/statuses.js';
import type { Db } from './client.js';
import { stamp, type Ctx } from './store.js';

const DAY = 86_400_000;

/** mulberry32: tiny, fast, and good enough for demo data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USERS = [
  'Ana Patel',
  'Ben Carter',
  'Chloe Nguyen',
  'Diego Alvarez',
  'Emma Schulz',
  'Farid Haddad',
  'Grace Kim',
  'Hugo Martin',
];

const ACCOUNTS: [string, string][] = [
  ['Acme Corp', 'Manufacturing'],
  ['Globex', 'Energy'],
  ['Initech', 'Software'],
  ['Umbrella Health', 'Healthcare'],
  ['Stark Logistics', 'Logistics'],
  ['Contoso', 'Software'],
  ['Fabrikam', 'Manufacturing'],
  ['Northwind Traders', 'Wholesale'],
  ['Tailspin Toys', 'Retail'],
  ['Alpine Ski House', 'Hospitality'],
  ['Coho Winery', 'Food & Beverage'],
  ['Litware', 'Software'],
  ['Proseware', 'Software'],
  ['Adventure Works', 'Retail'],
  ['Wide World Importers', 'Wholesale'],
  ['Woodgrove Bank', 'Financial Services'],
  ['Fourth Coffee', 'Food & Beverage'],
  ['Lucerne Publishing', 'Media'],
  ["Margie's Travel", 'Hospitality'],
  ['Trey Research', 'Biotech'],
  ['Humongous Insurance', 'Insurance'],
  ['Blue Yonder Airlines', 'Aviation'],
  ['City Power & Light', 'Utilities'],
  ['Consolidated Messenger', 'Logistics'],
  ['Southridge Video', 'Media'],
  ['Wingtip Toys', 'Retail'],
  ['VanArsdel', 'Consumer Goods'],
  ['Relecloud', 'Cloud Services'],
  ['Brightwave Media', 'Media'],
  ['Keystone Analytics', 'Software'],
];

const FIRST = ['Olivia', 'Noah', 'Mia', 'Liam', 'Sofia', 'Lucas', 'Amara', 'Kenji', 'Priya', 'Mateo', 'Lena', 'Omar'];
const LAST = ['Johnson', 'Müller', 'Rossi', 'Dubois', 'Tanaka', 'Silva', 'Kowalski', 'Okafor', 'Larsen', 'Ahmed'];
const TITLES = ['CFO', 'VP Sales', 'Head of Operations', 'IT Director', 'Procurement Lead', 'CTO', 'Project Manager'];
const TAGS = [
  'enterprise',
  'smb',
  'strategic',
  'renewal',
  'upsell',
  'at-risk',
  'partner',
  'pilot',
  'priority',
  'onboarding',
];

interface StageSeed {
  name: string;
  probability: number;
  color: string;
  status?: 'inactive';
}

const PIPELINES: { name: string; share: number; stages: StageSeed[]; products: string[]; amount: [number, number] }[] =
  [
    {
      name: 'Sales',
      share: 0.6,
      stages: [
        { name: 'Lead In', probability: 10, color: '#9e9e9e' },
        { name: 'Qualified', probability: 25, color: '#42a5f5' },
        { name: 'Demo Scheduled', probability: 40, color: '#26c6da' },
        { name: 'Proposal Sent', probability: 60, color: '#66bb6a' },
        { name: 'Negotiation', probability: 80, color: '#ffca28' },
        { name: 'Contract Sent', probability: 90, color: '#ff7043' },
      ],
      products: [
        '#N seats expansion',
        'Enterprise plan',
        'Annual subscription',
        'Pilot program',
        'Analytics add-on',
        'Data migration',
        'Support upgrade',
        'EU rollout',
        'API access tier',
        'Team plan upgrade',
      ],
      amount: [4_000, 150_000],
    },
    {
      name: 'Partnerships',
      share: 0.2,
      stages: [
        { name: 'Prospect', probability: 10, color: '#bdbdbd' },
        { name: 'Intro Call', probability: 25, color: '#5c6bc0' },
        { name: 'Evaluation', probability: 50, color: '#29b6f6' },
        { name: 'Agreement Draft', probability: 75, color: '#9ccc65' },
        { name: 'Final Review', probability: 90, color: '#ffa726' },
      ],
      products: ['Reseller agreement', 'Referral partnership', 'Integration partnership', 'Co-marketing deal', 'OEM licence'],
      amount: [10_000, 80_000],
    },
    {
      name: 'Renewals',
      share: 0.2,
      stages: [
        { name: 'Upcoming', probability: 50, color: '#90a4ae' },
        { name: 'In Discussion', probability: 70, color: '#4db6ac' },
        { name: 'Quote Sent', probability: 85, color: '#aed581' },
        { name: 'Verbal Commit', probability: 95, color: '#ffb74d' },
        // Kept for history, takes no new deals: shows what an inactive stage looks like.
        { name: 'Legacy Review', probability: 0, color: '#e0e0e0', status: 'inactive' },
      ],
      products: ['Annual renewal', 'Multi-year renewal', 'Renewal + #N seats', 'Support renewal'],
      amount: [8_000, 120_000],
    },
  ];

const PROJECT_KINDS = [
  'onboarding',
  'data migration',
  'SSO rollout',
  'pilot',
  'QBR prep',
  'integration build',
  'training program',
  'security review',
  'API integration',
  'renewal review',
];

export interface SeedSummary {
  users: number;
  accounts: number;
  contacts: number;
  tags: number;
  pipelines: number;
  stages: number;
  deals: number;
  deal_events: number;
  projects: number;
  activities: number;
}

const iso = (ms: number) => new Date(ms).toISOString();
const date = (ms: number) => iso(ms).slice(0, 10);
const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '');

/** Fills an empty database. Run it inside one transaction. */
export function seedDemoData(db: Db, now: Date, seed = 20240611): SeedSummary {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const between = (lo: number, hi: number) => lo + rand() * (hi - lo);
  const nowMs = now.getTime();
  // Reference data predates the deal histories (which reach back 180 days).
  const origin = iso(nowMs - 200 * DAY);
  const summary: SeedSummary = {
    users: 0,
    accounts: 0,
    contacts: 0,
    tags: 0,
    pipelines: 0,
    stages: 0,
    deals: 0,
    deal_events: 0,
    projects: 0,
    activities: 0,
  };

  const userIds = USERS.map((name) => {
    summary.users++;
    return Number(
      db
        .prepare('INSERT INTO users (name, email, created_at, updated_at) VALUES (?, ?, ?, ?)')
        .run(name, `${name.split(' ')[0].toLowerCase()}@example.com`, origin, origin).lastInsertRowid,
    );
  });

  const accounts = ACCOUNTS.map(([name, industry]) => {
    summary.accounts++;
    const owner = pick(userIds);
    const id = Number(
      db
        .prepare(
          'INSERT INTO accounts (name, domain, industry, owner_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(name, `${slug(name)}.example`, industry, owner, origin, origin).lastInsertRowid,
    );
    return { id, name, owner, contacts: [] as number[] };
  });

  for (const account of accounts) {
    for (let k = 0; k < 2; k++) {
      const first = pick(FIRST);
      const last = pick(LAST);
      const n = summary.contacts + 1;
      account.contacts.push(
        Number(
          db
            .prepare(
              `INSERT INTO contacts (name, first_name, last_name, emails, phones, title, account_id, owner_id, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(
              `${first} ${last}`,
              first,
              last,
              JSON.stringify([`${slug(first)}.${slug(last)}@${slug(account.name)}.example`]),
              // 555-01xx: the numbers reserved for fiction.
              JSON.stringify([`+1 555 01${String(n % 100).padStart(2, '0')}`]),
              pick(TITLES),
              account.id,
              account.owner,
              origin,
              origin,
            ).lastInsertRowid,
        ),
      );
      summary.contacts++;
    }
  }

  const tagIds = TAGS.map((name) => {
    summary.tags++;
    return Number(db.prepare('INSERT INTO tags (name, created_at) VALUES (?, ?)').run(name, origin).lastInsertRowid);
  });

  const pipelines = PIPELINES.map((p) => {
    summary.pipelines++;
    const id = Number(
      db
        .prepare(
          'INSERT INTO pipelines (name, is_deal_probability_enabled, created_at, updated_at) VALUES (?, 1, ?, ?)',
        )
        .run(p.name, origin, origin).lastInsertRowid,
    );
    const stages = p.stages.map((s, i) => {
      summary.stages++;
      return {
        ...s,
        id: Number(
          db
            .prepare(
              `INSERT INTO stages (pipeline_id, name, position, status, probability, color, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(id, s.name, i + 1, s.status ?? 'active', s.probability, s.color, origin, origin).lastInsertRowid,
        ),
      };
    });
    return { ...p, id, active: stages.filter((s) => s.status !== 'inactive'), stages };
  });

  // ---- deals and their histories
  const insertDeal = db.prepare(
    `INSERT INTO deals (name, stage_id, status, amount, currency, owner_id, account_id, close_date,
       stage_changed_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertEvent = db.prepare(
    'INSERT INTO deal_events (deal_id, at, kind, from_stage_id, to_stage_id) VALUES (?, ?, ?, ?, ?)',
  );
  const usedNames = new Set<string>();
  const dealsByAccount = new Map<number, number[]>();
  const DEALS = 150;

  for (let i = 0; i < DEALS; i++) {
    const r = rand();
    const pipeline = r < PIPELINES[0].share ? pipelines[0] : r < PIPELINES[0].share + PIPELINES[1].share ? pipelines[1] : pipelines[2];
    const stages = pipeline.active;
    const account = pick(accounts);
    const owner = rand() < 0.7 ? account.owner : pick(userIds);

    let name = '';
    for (let tries = 0; tries < 20 && (!name || usedNames.has(name)); tries++) {
      const product = pick(pipeline.products).replace('#N', String(5 * Math.ceil(between(2, 40))));
      name = `${account.name} – ${product}`;
    }
    if (usedNames.has(name)) name = `${name} #${i + 1}`;
    usedNames.add(name);

    const [lo, hi] = pipeline.amount;
    const amount = Math.round(between(lo, hi) / 500) * 500;
    const c = rand();
    const currency = c < 0.8 ? 'USD' : c < 0.92 ? 'EUR' : 'GBP';

    // Spread creation over the last 180 days; the first deal pins the oldest end of the range.
    const daysAgo = i === 0 ? 179.5 : 1 + rand() * 178;
    let t = nowMs - daysAgo * DAY;
    t -= t % 60_000; // whole minutes read better
    const createdAt = t;
    const events: { at: number; kind: string; from: number | null; to: number | null }[] = [];
    let idx = rand() < 0.15 && stages.length > 2 ? 1 : 0;
    let status: 'open' | 'won' | 'lost' = 'open';
    events.push({ at: t, kind: 'created', from: null, to: stages[idx].id });
    let stageChangedAt = t;

    for (let step = 0; step < 40; step++) {
      t += Math.round((between(0.5, 14) * DAY) / 60_000) * 60_000;
      if (t > nowMs - 3_600_000) break;
      const last = stages.length - 1;
      if (status !== 'open') {
        // A few closed deals get reopened; the others stay closed.
        if (rand() < 0.06) {
          status = 'open';
          events.push({ at: t, kind: 'reopened', from: null, to: stages[idx].id });
          continue;
        }
        break;
      }
      const x = rand();
      const pWon = idx === last ? 0.45 : idx === last - 1 ? 0.1 : 0.01;
      const pLost = idx === 0 ? 0.1 : 0.06;
      const pBack = idx > 0 ? 0.08 : 0;
      const pStall = 0.1;
      if (x < pWon) {
        status = 'won';
        events.push({ at: t, kind: 'won', from: null, to: stages[idx].id });
      } else if (x < pWon + pLost) {
        status = 'lost';
        events.push({ at: t, kind: 'lost', from: null, to: stages[idx].id });
      } else if (x < pWon + pLost + pBack) {
        events.push({ at: t, kind: 'moved', from: stages[idx].id, to: stages[idx - 1].id });
        idx--;
        stageChangedAt = t;
      } else if (x < pWon + pLost + pBack + pStall) {
        break; // the deal stalls where it is
      } else if (idx < last) {
        events.push({ at: t, kind: 'moved', from: stages[idx].id, to: stages[idx + 1].id });
        idx++;
        stageChangedAt = t;
      }
    }

    const lastAt = events[events.length - 1].at;
    const closeDate =
      status === 'open' ? date(createdAt + Math.round(between(30, 120)) * DAY) : date(lastAt);
    const dealId = Number(
      insertDeal.run(
        name,
        stages[idx].id,
        status,
        amount,
        currency,
        owner,
        account.id,
        closeDate,
        iso(stageChangedAt),
        iso(createdAt),
        iso(lastAt),
      ).lastInsertRowid,
    );
    for (const e of events) {
      insertEvent.run(dealId, iso(e.at), e.kind, e.from, e.to);
      summary.deal_events++;
    }
    summary.deals++;
    dealsByAccount.set(account.id, [...(dealsByAccount.get(account.id) ?? []), dealId]);
  }

  // ---- projects, covering every unified project status
  const allStages = pipelines.flatMap((p) => p.active);
  const usedProjectNames = new Set<string>();
  const projects: { id: number; owner: number; account: number }[] = [];
  for (let i = 0; i < 20; i++) {
    const account = accounts[(i * 7) % accounts.length];
    let name = `${account.name} ${pick(PROJECT_KINDS)}`;
    while (usedProjectNames.has(name)) name = `${account.name} ${pick(PROJECT_KINDS)}`;
    usedProjectNames.add(name);
    const status = PROJECT_STATUSES[i % PROJECT_STATUSES.length];
    const created = nowMs - Math.round(between(20, 170)) * DAY;
    const lastActivity = Math.min(nowMs - 3_600_000, created + Math.round(between(1, 19)) * DAY);
    const hasAmount = rand() < 0.7;
    // Picked where the arguments below are evaluated: the random stream keeps its order.
    let projectOwner = 0;
    const projectId = Number(
      db
        .prepare(
          `INSERT INTO projects (name, description, status, amount, currency, close_date, owner_id, account_id, stage_id,
             custom_fields, last_activity_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          name,
          `${name.slice(account.name.length + 1)} for ${account.name}.`.replace(/^./, (ch) => ch.toUpperCase()),
          status,
          hasAmount ? Math.round(between(5_000, 60_000) / 1000) * 1000 : null,
          hasAmount ? 'USD' : null,
          date(created + Math.round(between(30, 150)) * DAY),
          (projectOwner = pick(userIds)),
          account.id,
          rand() < 0.8 ? pick(allStages).id : null,
          JSON.stringify({ priority: pick(['high', 'medium', 'low']), budget_code: `PRJ-${101 + i}` }),
          iso(lastActivity),
          iso(created),
          iso(lastActivity),
        ).lastInsertRowid,
    );
    for (const contact of account.contacts.slice(0, 1 + Math.floor(rand() * 2))) {
      db.prepare('INSERT INTO project_contacts (project_id, contact_id) VALUES (?, ?)').run(projectId, contact);
    }
    for (const deal of (dealsByAccount.get(account.id) ?? []).slice(0, Math.floor(rand() * 3))) {
      db.prepare('INSERT INTO project_deals (project_id, deal_id) VALUES (?, ?)').run(projectId, deal);
    }
    const tags = new Set([pick(tagIds), pick(tagIds), pick(tagIds)].slice(0, 1 + Math.floor(rand() * 3)));
    for (const tag of tags) db.prepare('INSERT INTO project_tags (project_id, tag_id) VALUES (?, ?)').run(projectId, tag);
    summary.projects++;
    projects.push({ id: projectId, owner: projectOwner, account: account.id });
  }

  summary.activities = seedActivities(db, nowMs, seed, {
    deals: db.prepare('SELECT id, status, owner_id AS owner, account_id AS account, created_at, updated_at FROM deals ORDER BY id').all() as DealForActivities[],
    accounts: accounts.map((a) => ({ id: a.id, owner: a.owner, contact: a.contacts[0] })),
    projects,
  });
  return summary;
}

/**
 * Marks the database initialized exactly once, seeding it if asked and it is empty. The marker
 * lives in the file, so a user who deletes all demo records never gets them back on restart, and
 * two processes opening a new file at once seed it once.
 */
export function initialize(ctx: Ctx, seed: boolean): void {
  const { db } = ctx;
  db.immediate(() => {
    if (db.prepare("SELECT 1 FROM meta WHERE key = 'initialized_at'").get()) return;
    const empty = !db.prepare('SELECT 1 FROM pipelines UNION ALL SELECT 1 FROM users LIMIT 1').get();
    if (seed && empty) {
      const summary = seedDemoData(db, ctx.now());
      db.prepare("INSERT INTO meta (key, value) VALUES ('seeded', ?)").run(JSON.stringify(summary));
    }
    db.prepare("INSERT INTO meta (key, value) VALUES ('initialized_at', ?)").run(stamp(ctx));
  });
}

interface DealForActivities {
  id: number;
  status: 'open' | 'won' | 'lost';
  owner: number;
  account: number;
  created_at: string;
  updated_at: string;
}

const NOTES = [
  'Wants a pilot for 20 seats before committing to the full rollout.',
  'Budget approved for this quarter; legal review of the MSA pending.',
  'Asked for SSO and an EU data residency option.',
  'Champion is moving teams; need a new sponsor in procurement.',
  'Compared us with two competitors; price is not the blocker, integration is.',
  'Happy with the demo; wants references from their industry.',
  'Renewal at risk: usage dropped 30% since the reorg.',
  'Decision maker is the CFO; next step is a business case.',
];
const TASKS = [
  'Send the pilot proposal',
  'Follow up on the security questionnaire',
  'Book a demo with the ops team',
  'Share two customer references',
  'Send the revised quote',
  'Confirm the kickoff date',
  'Check in after the trial week',
  'Prepare the QBR deck',
];
const CALLS = ['Discovery call', 'Pricing call', 'Check-in call'];
const MEETINGS = ['On-site workshop', 'Executive sponsor meeting', 'Quarterly business review'];

/**
 * Notes and tasks (and a few calls and meetings) on deals, accounts and projects. Its own random
 * stream, so the deals, stages and their histories above come out exactly as before; dates are
 * relative to `now`, so some open tasks are always overdue on a fresh database.
 */
function seedActivities(
  db: Db,
  nowMs: number,
  seed: number,
  on: { deals: DealForActivities[]; accounts: { id: number; owner: number; contact: number }[]; projects: { id: number; owner: number; account: number }[] },
): number {
  const rand = prng(seed + 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const insert = db.prepare(
    `INSERT INTO activities (type, subject, body, due_date, done, owner_id, deal_id, account_id, contact_id, project_id, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  let count = 0;
  const add = (a: {
    type: 'note' | 'task' | 'call' | 'meeting';
    subject?: string;
    body?: string;
    due?: number;
    done?: boolean;
    owner: number;
    deal?: number;
    account?: number;
    contact?: number;
    project?: number;
    at: number;
  }) => {
    const at = a.at - (a.at % 60_000);
    insert.run(
      a.type,
      a.subject ?? null,
      a.body ?? null,
      a.due === undefined ? null : date(a.due),
      a.type === 'note' ? null : a.done ? 1 : 0,
      a.owner,
      a.deal ?? null,
      a.account ?? null,
      a.contact ?? null,
      a.project ?? null,
      iso(at),
      iso(at),
    );
    count++;
  };
  const between = (lo: number, hi: number) => lo + rand() * (hi - lo);
  const recent = (created: string) => Math.max(Date.parse(created), nowMs - between(2, 40) * DAY);

  for (const deal of on.deals) {
    const last = Date.parse(deal.updated_at);
    if (rand() < 0.4) add({ type: 'note', body: pick(NOTES), owner: deal.owner, deal: deal.id, account: deal.account, at: Math.min(last, nowMs - 3_600_000) });
    if (deal.status === 'open' && rand() < 0.5) {
      // Due from two weeks ago to three weeks ahead: about a third of these are overdue.
      const due = nowMs + Math.round(between(-14, 21)) * DAY;
      add({ type: 'task', subject: pick(TASKS), due, done: false, owner: deal.owner, deal: deal.id, at: recent(deal.created_at) });
    }
    if (rand() < 0.15) {
      const kind = rand() < 0.5 ? 'call' : 'meeting';
      const at = recent(deal.created_at);
      add({ type: kind, subject: pick(kind === 'call' ? CALLS : MEETINGS), due: at, done: true, owner: deal.owner, deal: deal.id, at });
    }
  }
  for (const account of on.accounts) {
    if (rand() < 0.5) add({ type: 'note', body: pick(NOTES), owner: account.owner, account: account.id, at: nowMs - between(5, 150) * DAY });
    if (rand() < 0.25) {
      const done = rand() < 0.4;
      add({ type: 'task', subject: pick(TASKS), due: nowMs + Math.round(between(-10, 30)) * DAY, done, owner: account.owner, account: account.id, contact: account.contact, at: nowMs - between(1, 30) * DAY });
    }
  }
  for (const project of on.projects) {
    if (rand() < 0.6) add({ type: 'note', body: pick(NOTES), owner: project.owner, project: project.id, account: project.account, at: nowMs - between(3, 60) * DAY });
    if (rand() < 0.5) {
      const done = rand() < 0.3;
      add({ type: 'task', subject: pick(TASKS), due: nowMs + Math.round(between(-7, 28)) * DAY, done, owner: project.owner, project: project.id, at: nowMs - between(1, 20) * DAY });
    }
  }
  return count;
}
