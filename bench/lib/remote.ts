/**
 * A remote provider measured against its fake upstream (test/fakes/<crm>.ts) with injected
 * latency, over stdio: tool latency, upstream requests per call, sequential upstream round trips
 * ("waves") per call, bytes the upstream answered, overhead over a bare undici GET to the same fake
 * and over a parallel replay of the call's own requests, server CPU per call, and text per record.
 * bench/pipedrive.ts and bench/outreach.ts give it their fake, settings and plan.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { call, recordSizes, textOf, type RecordSizeRow } from '../local.js';
import { Deadline, connectStdio, cpuMs, withTimeout, type StdioSession } from './procs.js';
import { median, summarize, type Summary } from './stats.js';

export interface RemoteToolRow {
  tool: string;
  args: string;
  calls: number;
  errors: number;
  latency: Summary;
  requestsPerCall: { mean: number; min: number; max: number };
  /** Distinct upstream endpoints of a measured call, e.g. "GET /api/v2/stages". */
  endpoints: string[];
  /** Median and max number of sequential upstream round trips per call. */
  waves: number;
  maxWaves: number;
  /** Bytes of the upstream responses of one call (from the replay). */
  upstreamBytes: number;
  /** Median ms from callTool() to the first upstream request arriving at the fake. */
  toFirstRequest: number;
  /** Median ms from the last upstream request arriving to callTool() resolving (incl. its latency). */
  afterLastRequest: number;
  /** p50 minus one bare round trip (the brief's overhead). */
  overheadP50: number;
  /** Bare undici replay of the same requests, all in parallel: p50 ms. */
  replayP50: number;
  /** p50 minus the parallel replay p50. */
  overheadVsReplayP50: number;
  /** Server process CPU ms per measured call (10 ms tick resolution, averaged). */
  serverCpuMsPerCall?: number;
}

export interface FakeLike {
  url: string;
  server: { requests: Array<{ method: string; path: string; rawUrl: string }> };
  stop(): Promise<void>;
}

export interface PlannedCall {
  tool: string;
  label: string;
  args: Record<string, unknown>;
}

export interface RemoteSpec {
  fake: FakeLike;
  /** The server's environment: CRM_PROVIDER, the token, the base URL pointing at the fake. */
  env: Record<string, string>;
  /** Headers of a bare request to the fake (auth, media type). */
  headers: Record<string, string>;
  /** The bare GET the overhead is measured against (path+query under the fake's origin). */
  bareGetPath: string;
  /** The calls to measure, given the connected session. */
  plan(session: StdioSession): Promise<PlannedCall[]>;
  /** Waits before a measured call so the provider's own limiter never queues it (optional). */
  pace?(arrivals: readonly number[], perCallMax: number): Promise<void>;
  latencyMs: number;
  warmup: number;
  count: number;
}

export interface RemoteMeasure {
  bareGet: Summary;
  rows: RemoteToolRow[];
  textPerDeal: RecordSizeRow[];
  /** The session and the arrival times, for what a provider measures after (Pipedrive's unpaced burst). */
  session: StdioSession;
  arrivals: number[];
}

/** Measures `spec.plan` against the fake; the caller closes `session` (and stops the fake). */
export async function measureRemote(spec: RemoteSpec): Promise<RemoteMeasure> {
  const { fake, latencyMs, warmup, count } = spec;
  if (!new URL(fake.url).origin.startsWith('http://127.0.0.1:')) throw new Error(`the fake is not on 127.0.0.1: ${fake.url}`);

  // Arrival time of every upstream request, on the bench's clock (the fake runs in this process).
  const arrivals: number[] = [];
  const reqs = fake.server.requests;
  const push = reqs.push.bind(reqs);
  reqs.push = (...items) => {
    for (let i = 0; i < items.length; i++) arrivals.push(performance.now());
    return push(...items);
  };

  const pool = new Pool(new URL(fake.url).origin, { connections: 8, keepAliveTimeout: 10_000 });
  const headers = { accept: 'application/json', ...spec.headers };
  const get = async (path: string): Promise<number> => {
    const r = await pool.request({ method: 'GET', path, headers });
    const body = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`fake answered ${r.statusCode} for ${path}`);
    return Buffer.byteLength(body);
  };

  const session = await connectStdio({ env: spec.env });
  try {
    // Baseline: one bare GET, keep-alive, same fake, same injected latency.
    const bare: number[] = [];
    for (let i = 0; i < 5; i++) await get(spec.bareGetPath);
    const bareDeadline = new Deadline(10_000);
    for (let i = 0; i < count && !bareDeadline.passed; i++) {
      const t0 = performance.now();
      await get(spec.bareGetPath);
      bare.push(performance.now() - t0);
    }
    const bareGet = summarize(bare);

    await session.client.listTools();
    const plan = await spec.plan(session);
    let perCallMax = 4;
    const pace = () => spec.pace?.(arrivals, perCallMax) ?? Promise.resolve();
    const rows: RemoteToolRow[] = [];
    for (const p of plan) {
      const deadline = new Deadline(45_000);
      for (let i = 0; i < warmup && !deadline.passed; i++) {
        await pace();
        const before = reqs.length;
        await call(session.client, p.tool, p.args);
        perCallMax = Math.max(perCallMax, reqs.length - before);
      }
      const samples: number[] = [];
      const counts: number[] = [];
      const waves: number[] = [];
      const toFirst: number[] = [];
      const afterLast: number[] = [];
      const endpoints = new Set<string>();
      let lastSet: Array<{ method: string; rawUrl: string }> = [];
      let errors = 0;
      const c0 = await cpuMs(session.pid);
      for (let i = 0; i < count && !deadline.passed; i++) {
        await pace();
        const before = reqs.length;
        const a0 = arrivals.length;
        const t0 = performance.now();
        const r = await call(session.client, p.tool, p.args);
        const t1 = performance.now();
        if (r.isError) errors += 1;
        samples.push(t1 - t0);
        const made = reqs.slice(before);
        counts.push(made.length);
        perCallMax = Math.max(perCallMax, made.length);
        for (const m of made) endpoints.add(`${m.method} ${m.path}`);
        if (made.length) lastSet = made.map((m) => ({ method: m.method, rawUrl: m.rawUrl }));
        const at = arrivals.slice(a0).sort((x, y) => x - y);
        if (at.length) {
          toFirst.push(at[0] - t0);
          afterLast.push(t1 - at[at.length - 1]);
          let w = 1;
          let waveStart = at[0];
          for (const t of at) {
            if (t - waveStart > latencyMs / 2) {
              w += 1;
              waveStart = t;
            }
          }
          waves.push(w);
        } else {
          waves.push(0);
        }
      }
      const c1 = await cpuMs(session.pid);
      // Bare replay of one call's upstream requests, all at once.
      const replay: number[] = [];
      let upstreamBytes = 0;
      for (let i = 0; i < 20 && lastSet.length && !deadline.passed; i++) {
        const t0 = performance.now();
        const sizes = await Promise.all(lastSet.map((m) => get(m.rawUrl)));
        replay.push(performance.now() - t0);
        upstreamBytes = sizes.reduce((a, b) => a + b, 0);
      }
      const latency = summarize(samples);
      const replayP50 = replay.length ? median(replay) : Number.NaN;
      rows.push({
        tool: p.tool,
        args: p.label,
        calls: samples.length,
        errors,
        latency,
        requestsPerCall: {
          mean: counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length),
          min: Math.min(...counts),
          max: Math.max(...counts),
        },
        endpoints: [...endpoints].sort(),
        waves: median(waves),
        maxWaves: Math.max(...waves),
        upstreamBytes,
        toFirstRequest: median(toFirst),
        afterLastRequest: median(afterLast),
        overheadP50: latency.p50 - bareGet.p50,
        replayP50,
        overheadVsReplayP50: latency.p50 - replayP50,
        serverCpuMsPerCall: c0 !== undefined && c1 !== undefined ? (c1 - c0) / Math.max(1, samples.length) : undefined,
      });
    }

    await pace();
    const textPerDeal = await recordSizes(session.client, ['list_deals']);
    return { bareGet, rows, textPerDeal, session, arrivals };
  } catch (e) {
    await session.close();
    throw e;
  } finally {
    await withTimeout(pool.close(), 3000, 'undici pool close').catch(() => undefined);
  }
}

/** The id of the first record a list tool answers, or an error naming the tool. */
export async function firstId(session: StdioSession, tool: string, key: string, args: Record<string, unknown> = {}): Promise<string> {
  const r = await call(session.client, tool, args);
  const id = ((r.structuredContent?.[key] ?? []) as Array<{ id: string }>)[0]?.id;
  if (!id) throw new Error(`${tool} on the fake returned no record: ${textOf(r).slice(0, 300)}`);
  return id;
}
