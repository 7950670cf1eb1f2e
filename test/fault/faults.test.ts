/**
 * The fault suite: every remote provider, through its real provider object and HTTP client, against
 * its fake upstream on 127.0.0.1 with injected faults (429 with Retry-After and x-ratelimit-reset,
 * 500/502/503 bursts, resets before the answer and mid-body, header and body timeouts, malformed
 * JSON, HTML error pages, oversize bodies, writes whose answer is lost after they were applied).
 *
 * It asserts, and prints as figures (`npx vitest run test/fault`):
 * - reads: 100% of transient faults recovered within the retry budget; permanent faults answered
 *   with one clean sentence (no HTML, no stack, no secret) within the call deadline;
 * - creates, with and without an idempotency key: never a duplicate upstream (the fake records
 *   every request and every record), never a blind retry of a write that may have been applied;
 * - secrets: a token echoed at every offset around the excerpt cut, on every error path, leaves no
 *   fragment of 8 or more characters in any message or log line;
 * - the provider still answers after all of it.
 *
 * Timeouts are scaled down through the client options so the suite stays fast. Adding a provider
 * is one entry in SUBJECTS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrmError, isCrmError } from '../../src/crm/errors.js';
import { closeAllPools, type HttpClientOptions } from '../../src/crm/http.js';
import { IdempotencyStore } from '../../src/crm/idempotency.js';
import type { CrmProvider, DealInput } from '../../src/crm/provider.js';
import { createPipedriveProvider } from '../../src/providers/pipedrive/index.js';
import { createTrutoProvider } from '../../src/providers/truto/index.js';
import { createCapsuleProvider } from '../../src/providers/capsule/index.js';
import { CAPSULE_TOKEN, startFakeCapsule } from '../fakes/capsule.js';
import { createInsightlyProvider } from '../../src/providers/insightly/index.js';
import { DEFAULT_TOKEN, startFakePipedrive } from '../fakes/pipedrive.js';
import type { Fault, FakeServer, RecordedRequest } from '../fakes/server.js';
import { FAKE_TRUTO_ACCOUNT, FAKE_TRUTO_TOKEN, startFakeTruto } from '../fakes/truto.js';
import { FAKE_INSIGHTLY_KEY, startFakeInsightly } from '../fakes/insightly.js';
import { createOutreachProvider } from '../../src/providers/outreach/index.js';
import { FAKE_OUTREACH_TOKEN, startFakeOutreach } from '../fakes/outreach.js';
import { leakedFragment } from '../helpers/secrets.js';
import { createLogger, type Logger } from '../../src/log.js';

/** Client settings of the suite: production's shape, scaled down so a timeout costs 200 ms. */
const TUNING = {
  timeouts: { connectMs: 1_000, headersMs: 200, bodyMs: 200 },
  retryBaseMs: 5,
  maxAttempts: 4,
  maxRetryWaitMs: 2_000,
  deadlineMs: 2_500,
  maxResponseBytes: 256 * 1024,
} satisfies Partial<HttpClientOptions>;

// ---------------------------------------------------------------------------------------------
// The providers under test

interface Harness {
  server: FakeServer;
  /** The credential the provider holds: no fragment of it may appear anywhere. */
  secret: string;
  provider(logger?: Logger, tuning?: Partial<HttpClientOptions>): CrmProvider;
  /** The provider's own error envelope carrying `message`. */
  errorBody(status: number, message: string): unknown;
  dealInput(name: string): DealInput;
  /** The reads faults are injected into, when the shared READS do not fit (READS by default). */
  reads?: Read[];
  /** Records upstream named `name` (a create applied twice shows as 2). */
  recordsNamed(name: string): number;
  /**
   * The request of list_pipelines that faults must exhaust for the read to fail (default: any GET).
   * Capsule lists pipelines and boards together: a fault each would both be retried away.
   */
  listPipelinesRequest?: (r: RecordedRequest) => boolean;
  stop(): Promise<void>;
}

interface Subject {
  name: string;
  start(): Promise<Harness>;
}

const SUBJECTS: Subject[] = [
  {
    name: 'pipedrive',
    async start() {
      const fake = await startFakePipedrive();
      return {
        server: fake.server,
        secret: DEFAULT_TOKEN,
        provider: (logger, tuning) =>
          createPipedriveProvider({ apiToken: DEFAULT_TOKEN, baseUrl: fake.url, burstLimit: 1000, http: { ...TUNING, ...tuning }, logger }),
        errorBody: (_status, message) => ({ success: false, error: message, error_info: 'Please check developers.pipedrive.com' }),
        dealInput: (name) => ({ name, stage_id: '1' }),
        recordsNamed: (name) => [...fake.state.deals.values()].filter((d) => d.title === name).length,
        // Besides the shared reads: activities (v2) and notes (v1) of a deal, merged from two requests that each meet the faults.
        reads: [...READS, ['list_activities', (p) => p.activities!.list!({ deal_id: '1', limit: 10 }, {})]],
        stop: () => fake.stop(),
      };
    },
  },
  {
    name: 'truto',
    async start() {
      const fake = await startFakeTruto();
      return {
        server: fake.server,
        secret: FAKE_TRUTO_TOKEN,
        provider: (logger, tuning) =>
          createTrutoProvider({
            apiToken: FAKE_TRUTO_TOKEN,
            integratedAccountId: FAKE_TRUTO_ACCOUNT,
            baseUrl: fake.url,
            logger,
            http: { ...TUNING, limiter: { capacity: 1000, windowMs: 1000 }, ...tuning },
          }),
        errorBody: (status, message) => ({ statusCode: status, error: 'Error', message }),
        dealInput: (name) => ({ name, stage_id: '11' }),
        recordsNamed: (name) => [...fake.state.records.opportunities.values()].filter((o) => o.name === name).length,
        stop: () => fake.stop(),
      };
    },
  },
  {
    name: 'capsule',
    async start() {
      const fake = await startFakeCapsule();
      return {
        server: fake.server,
        secret: CAPSULE_TOKEN,
        provider: (logger, tuning) =>
          createCapsuleProvider({ apiToken: CAPSULE_TOKEN, baseUrl: fake.url, logger, http: { ...TUNING, ...tuning } }),
        errorBody: (status, message) =>
          status === 429 ? { error: message } : status === 422 ? { message: 'Validation Failed', errors: [{ resource: 'opportunity', field: 'name', message }] } : { message },
        dealInput: (name) => ({ name, stage_id: '1', account_id: '892' }),
        listPipelinesRequest: (r) => r.method === 'GET' && r.path === '/api/v2/pipelines',
        recordsNamed: (name) => [...fake.state.opportunities.values()].filter((o) => o.name === name).length,
        stop: () => fake.stop(),
      };
    },
  },
  {
    name: 'outreach',
    async start() {
      const fake = await startFakeOutreach();
      return {
        server: fake.server,
        secret: FAKE_OUTREACH_TOKEN,
        provider: (logger, tuning) =>
          createOutreachProvider({ accessToken: FAKE_OUTREACH_TOKEN, baseUrl: fake.url, logger, http: { ...TUNING, ...tuning } }),
        errorBody: (_status, message) => ({ errors: [{ id: 'validationError', title: 'Validation Error', detail: message }] }),
        dealInput: (name) => ({ name, stage_id: 'o1' }),
        // Outreach's pipelines are fixed (listing them asks nothing): its stages and a pipeline read instead.
        reads: [
          ['list_stages', (p) => p.stages!.list!({ pipeline_id: 'opportunities', limit: 10 }, {})],
          ['get_pipeline', (p) => p.pipelines!.get!('opportunities', {})],
        ],
        recordsNamed: (name) => [...fake.state.opportunities.values()].filter((o) => o.name === name).length,
        stop: () => fake.stop(),
      };
    },
  },
  {
    name: 'insightly',
    async start() {
      const fake = await startFakeInsightly();
      return {
        server: fake.server,
        secret: FAKE_INSIGHTLY_KEY,
        provider: (logger, tuning) =>
          createInsightlyProvider({
            apiKey: FAKE_INSIGHTLY_KEY,
            baseUrl: fake.url,
            logger,
            http: { ...TUNING, limiter: { capacity: 1000, windowMs: 1000 }, ...tuning },
          }),
        errorBody: (_status, message) => ({ Message: message }),
        // A create with a stage is two requests (the opportunity, then its pipeline): faults meet the first.
        dealInput: (name) => ({ name, stage_id: '101' }),
        recordsNamed: (name) => [...fake.state.records.Opportunities.values()].filter((o) => o.OPPORTUNITY_NAME === name).length,
        stop: () => fake.stop(),
      };
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Faults

type FaultCase = { name: string; faults: (h: Harness) => Array<[Fault, number]> };

const rateLimited = (h: Harness, headers: Record<string, string>): Fault => ({
  kind: 'status',
  status: 429,
  headers,
  body: h.errorBody(429, 'Request over limit'),
});
const status = (h: Harness, s: number): Fault => ({ kind: 'status', status: s, body: h.errorBody(s, `Upstream error ${s}`) });

/** Faults a read must recover from within its budget (4 attempts). */
const TRANSIENT: FaultCase[] = [
  { name: '429 Retry-After', faults: (h) => [[rateLimited(h, { 'Retry-After': '0' }), 1]] },
  { name: '429 x-ratelimit-reset (seconds left)', faults: (h) => [[rateLimited(h, { 'x-ratelimit-reset': '0' }), 1]] },
  { name: '429 x-ratelimit-reset (epoch ms)', faults: (h) => [[rateLimited(h, { 'x-ratelimit-reset': String(Date.now() + 30) }), 1]] },
  { name: '500 burst', faults: (h) => [[status(h, 500), 3]] },
  { name: '502 burst', faults: (h) => [[status(h, 502), 3]] },
  { name: '503 burst', faults: (h) => [[status(h, 503), 3]] },
  { name: 'reset before the answer', faults: () => [[{ kind: 'reset' }, 2]] },
  { name: 'reset mid-body', faults: () => [[{ kind: 'resetMidBody' }, 2]] },
  { name: 'headers timeout', faults: () => [[{ kind: 'delay', ms: 600 }, 1]] },
  { name: 'body timeout', faults: () => [[{ kind: 'stallBody', ms: 600 }, 1]] },
  { name: 'malformed JSON', faults: () => [[{ kind: 'malformed' }, 2]] },
  { name: 'HTML 502 page', faults: () => [[{ kind: 'html', status: 502 }, 2]] },
  { name: 'HTML 503 page', faults: () => [[{ kind: 'html', status: 503 }, 1]] },
  {
    name: 'mixed burst',
    faults: (h) => [
      [status(h, 502), 1],
      [{ kind: 'resetMidBody' }, 1],
      [{ kind: 'malformed' }, 1],
    ],
  },
];

/** Faults that do not go away: a read must fail with one clean sentence. */
const PERMANENT: Array<FaultCase & { kind: CrmError['kind'] }> = [
  { name: '503 for ever', kind: 'upstream', faults: (h) => [[status(h, 503), 100]] },
  { name: 'HTML 500 page for ever', kind: 'upstream', faults: () => [[{ kind: 'html', status: 500 }, 100]] },
  { name: '429 asking for 120 s', kind: 'rate_limited', faults: (h) => [[rateLimited(h, { 'Retry-After': '120' }), 100]] },
  { name: 'hung upstream', kind: 'upstream', faults: () => [[{ kind: 'delay', ms: 2_000 }, 100]] },
  { name: 'oversize body (declared)', kind: 'upstream', faults: () => [[{ kind: 'oversize', bytes: 2 * 1024 * 1024 }, 100]] },
  { name: 'oversize body (streamed)', kind: 'upstream', faults: () => [[{ kind: 'oversize', bytes: 2 * 1024 * 1024, declareLength: false }, 100]] },
  { name: 'malformed JSON for ever', kind: 'upstream', faults: () => [[{ kind: 'malformed' }, 100]] },
];

/** Faults a create meets; `afterHandler` ones were applied upstream before the answer was lost. */
const CREATE_FAULTS: FaultCase[] = [
  { name: '429 Retry-After', faults: (h) => [[rateLimited(h, { 'Retry-After': '0' }), 1]] },
  { name: '429 beyond the budget', faults: (h) => [[rateLimited(h, { 'Retry-After': '120' }), 1]] },
  { name: '500 before applying', faults: (h) => [[status(h, 500), 1]] },
  { name: '502 burst before applying', faults: (h) => [[status(h, 502), 3]] },
  { name: '500 after applying', faults: (h) => [[{ ...status(h, 500), afterHandler: true }, 1]] },
  { name: 'HTML 502 after applying', faults: () => [[{ kind: 'html', status: 502, afterHandler: true }, 1]] },
  { name: 'reset before applying', faults: () => [[{ kind: 'reset' }, 1]] },
  { name: 'reset after applying', faults: () => [[{ kind: 'reset', afterHandler: true }, 1]] },
  { name: 'reset mid-body', faults: () => [[{ kind: 'resetMidBody' }, 1]] },
  { name: 'headers timeout after applying', faults: () => [[{ kind: 'delay', ms: 600, afterHandler: true }, 1]] },
  { name: 'body timeout', faults: () => [[{ kind: 'stallBody', ms: 600 }, 1]] },
  { name: 'malformed JSON after applying', faults: () => [[{ kind: 'malformed', afterHandler: true }, 1]] },
  { name: 'oversize answer after applying', faults: () => [[{ kind: 'oversize', bytes: 1024 * 1024, afterHandler: true }, 1]] },
];

type Read = [string, (p: CrmProvider) => Promise<unknown>];
const READS: Read[] = [
  ['list_pipelines', (p) => p.pipelines!.list!({ limit: 10 }, {})],
  ['get_pipeline', (p) => p.pipelines!.get!('1', {})],
];

// ---------------------------------------------------------------------------------------------
// Figures

interface Figures {
  transientReadFaults: number;
  recovered: number;
  permanentReadFaults: number;
  cleanSentences: number;
  creates: number;
  createPosts: number;
  duplicates: number;
  blindRetries: number;
  secretChecks: number;
  leaks: number;
  worstAnswerMs: number;
}
const figures = new Map<string, Figures>();

afterAll(async () => {
  await closeAllPools();
  const rows = [...figures].map(([provider, f]) => ({ provider, ...f }));
  // The figures docs/RELIABILITY.md quotes; printed by `npx vitest run test/fault`.
  console.log(`fault suite figures (deadline ${TUNING.deadlineMs} ms, headers/body timeouts ${TUNING.timeouts.headersMs} ms):`);
  console.table(rows);
});

/** What a tool would show: one sentence, no HTML, no stack, no path, no secret. */
function expectCleanSentence(e: unknown, h: Harness): CrmError {
  expect(isCrmError(e), String(e)).toBe(true);
  const m = (e as CrmError).message;
  expect(m).not.toMatch(/<[a-z!/]/i);
  expect(m).not.toMatch(/\n|\bat .*\.(js|ts):\d|file:\/\//);
  expect(m.length).toBeLessThan(700);
  expect(leakedFragment(m, [h.secret])).toBeUndefined();
  return e as CrmError;
}

async function timed<T>(f: Figures, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await run();
  } finally {
    f.worstAnswerMs = Math.max(f.worstAnswerMs, Math.round(performance.now() - started));
  }
}

// ---------------------------------------------------------------------------------------------

describe.each(SUBJECTS)('$name under faults', (subject) => {
  let h: Harness;
  let p: CrmProvider;
  let f: Figures;

  beforeAll(async () => {
    h = await subject.start();
    p = h.provider();
    f = {
      transientReadFaults: 0,
      recovered: 0,
      permanentReadFaults: 0,
      cleanSentences: 0,
      creates: 0,
      createPosts: 0,
      duplicates: 0,
      blindRetries: 0,
      secretChecks: 0,
      leaks: 0,
      worstAnswerMs: 0,
    };
    figures.set(subject.name, f);
  });
  afterAll(async () => {
    await h.stop();
  });

  const inject = async (c: FaultCase, match: (r: RecordedRequest) => boolean) => {
    // Requests of the previous call still on the wire must not take this call's faults.
    await h.server.settled();
    h.server.reset();
    for (const [fault, times] of c.faults(h)) h.server.inject(fault, { times, match });
  };
  const served = () => h.server.requests.filter((r) => r.fault).length;

  it('recovers every transient fault on a read within the budget', async () => {
    for (const c of TRANSIENT) {
      for (const [read, run] of h.reads ?? READS) {
        await inject(c, (r) => r.method === 'GET');
        const result = await timed(f, () => run(p)).catch((e: unknown) => e);
        const n = served();
        expect(n, `${c.name} / ${read}: no fault was served`).toBeGreaterThan(0);
        f.transientReadFaults += n;
        if (isCrmError(result)) throw new Error(`${c.name} / ${read} was not recovered: ${result.message}`);
        f.recovered += n;
      }
    }
    expect(f.recovered).toBe(f.transientReadFaults);
  });

  it('answers a permanent fault on a read with one clean sentence within the deadline', async () => {
    for (const c of PERMANENT) {
      for (const [read, run] of h.reads ?? READS) {
        await inject(c, (r) => r.method === 'GET');
        const e = await timed(f, () => run(p)).then(
          () => {
            throw new Error(`${c.name} / ${read} succeeded`);
          },
          (x: unknown) => x,
        );
        f.permanentReadFaults += 1;
        const err = expectCleanSentence(e, h);
        expect(err.kind, `${c.name} / ${read}: ${err.message}`).toBe(c.kind);
        f.cleanSentences += 1;
        // Never more attempts than the budget allows, whatever the fault.
        const perRequest = new Map<string, number>();
        for (const r of h.server.requests) perRequest.set(r.rawUrl, (perRequest.get(r.rawUrl) ?? 0) + 1);
        expect(Math.max(...perRequest.values())).toBeLessThanOrEqual(TUNING.maxAttempts);
      }
    }
    expect(f.cleanSentences).toBe(f.permanentReadFaults);
  });

  it('never creates a duplicate upstream, with or without an idempotency key, and never retries a write blindly', async () => {
    const store = new IdempotencyStore(':memory:');
    const native = p.capabilities.idempotency === 'native';
    // As the tool layer does it (tools/define.ts createFlow): the CRM keeps the key, or idempotency.db does.
    const create = async (name: string, key?: string) => {
      const run = async () => (await p.deals!.create!(h.dealInput(name), { idempotency_key: native ? key : undefined })).execute();
      if (!key || native) return run();
      return store.run(`${subject.name}:deals`, key, h.dealInput(name), run, (id) => p.deals!.get!(id, {}));
    };
    let n = 0;
    for (const c of CREATE_FAULTS) {
      for (const keyed of [false, true]) {
        const name = `Fault deal ${++n}`;
        const isThis = (r: RecordedRequest) => r.method === 'POST' && JSON.stringify(r.body ?? '').includes(`"${name}"`);
        await inject(c, isThis);
        const key = keyed ? `key-${n}` : undefined;
        const outcomes: unknown[] = [await timed(f, () => create(name, key)).catch((e: unknown) => e)];
        // What an agent does next: with a key, repeat the create (that is what the key is for).
        if (keyed) outcomes.push(await timed(f, () => create(name, key)).catch((e: unknown) => e));
        const succeeded = outcomes.filter((o) => !isCrmError(o));
        for (const o of outcomes) if (isCrmError(o)) expectCleanSentence(o, h);

        const records = h.recordsNamed(name);
        f.creates += 1;
        f.duplicates += Math.max(0, records - 1);
        expect(records, `${c.name}${keyed ? ' (keyed)' : ''}`).toBeLessThanOrEqual(1);
        if (succeeded.length) expect(records, `${c.name}: a success must stand for exactly one record`).toBe(1);
        for (const s of succeeded) expect((s as { id: string }).id).toBe((succeeded[0] as { id: string }).id);

        // A resend without a key after a fault that may have been applied is a blind retry.
        const posts = h.server.requests.filter(isThis);
        f.createPosts += posts.length;
        posts.forEach((post, i) => {
          if (i === 0 || post.headers['idempotency-key']) return;
          const before = posts[i - 1].fault;
          const provenUnapplied = before?.kind === 'status' && before.status === 429 && !before.afterHandler;
          if (!provenUnapplied) f.blindRetries += 1;
        });
      }
    }
    expect(f.duplicates).toBe(0);
    expect(f.blindRetries).toBe(0);
    store.close();
  });

  it('leaves no fragment of the token in any error or log line, at every offset around the excerpt cut', async () => {
    const lines: string[] = [];
    // Two attempts are enough to reach "5xx exhausted"; fewer requests keep the sweep quick.
    const logged = h.provider(createLogger('debug', (s) => void lines.push(s)), { maxAttempts: 2 });
    const echo = (offset: number) => `${'x'.repeat(offset - 7)} token ${h.secret} is not valid here.`;
    const paths: Array<[string, (offset: number) => Fault, number]> = [
      ['400 with a message', (o) => ({ kind: 'status', status: 400, body: h.errorBody(400, echo(o)) }), 1],
      ['503 exhausted', (o) => ({ kind: 'status', status: 503, body: h.errorBody(503, echo(o)) }), 2],
      ['429 exhausted', (o) => ({ ...rateLimited(h, { 'Retry-After': '120' }), body: h.errorBody(429, echo(o)) }), 1],
    ];
    const ops: Array<[string, (p: CrmProvider) => Promise<unknown>, (r: RecordedRequest) => boolean]> = [
      ['read', (h.reads ?? READS)[0][1], h.listPipelinesRequest ?? ((r) => r.method === 'GET')],
      ['create', async (x) => (await x.deals!.create!(h.dealInput('Echo'), {})).execute(), (r) => r.method === 'POST'],
    ];
    for (let offset = 250; offset <= 350; offset++) {
      for (const [what, fault, times] of paths) {
        for (const [op, run, match] of ops) {
          h.server.reset();
          h.server.inject(fault(offset), { times, match });
          const e = await run(logged).catch((x: unknown) => x);
          expect(isCrmError(e), `${what} / ${op} at ${offset}`).toBe(true);
          f.secretChecks += 1;
          const leak = leakedFragment((e as CrmError).message, [h.secret]);
          if (leak) {
            f.leaks += 1;
            throw new Error(`${what} / ${op} at offset ${offset} leaked '${leak}': ${(e as CrmError).message}`);
          }
        }
      }
    }
    for (const l of lines) expect(leakedFragment(l, [h.secret])).toBeUndefined();
    expect(f.secretChecks).toBe(101 * paths.length * ops.length);
  });

  it('still answers after all of it', async () => {
    await h.server.settled();
    h.server.reset();
    const page = await (h.reads ?? READS)[0][1](p);
    expect((page as { items: unknown[] }).items.length).toBeGreaterThan(0);
    expect(h.server.requests.every((r) => !r.fault)).toBe(true);
  });
});
