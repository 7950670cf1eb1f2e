/**
 * A remote provider against its fake CRM (test/fakes/) with injected upstream latency: tool latency
 * over stdio, upstream requests per call, sequential upstream round trips ("waves") per call,
 * overhead over a bare undici request to the same fake and over a parallel replay of the call's
 * own requests, text per record, and an unpaced burst. One measurement for every provider: a
 * provider's bench file (bench/pipedrive.ts, bench/capsule.ts) gives only its fake, settings and plan.
 *
 * Latency calls are paced so the provider's client-side limiter never queues them: this measures
 * the server's own overhead. The unpaced burst shows what the limiter does.
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { call, recordSizes, textOf, type RecordSizeRow } from '../local.js';
import { Deadline, connectStdio, cpuMs, onCleanup, sleep, withTimeout } from './procs.js';
import { median, summarize, type Summary } from './stats.js';

export interface UpstreamToolRow {
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

export interface UpstreamResult {
  latencyMs: number;
  warmup: number;
  /** The bare request the overhead is measured against, e.g. "GET /api/v2/pipelines/1". */
  bareRequest: string;
  bareGet: Summary;
  rows: UpstreamToolRow[];
  /** Text per record of the list tool measured at limit 100. */
  textPerDeal: RecordSizeRow[];
  /** Why the detailed row is missing: the server's answer to list_deals detailed at limit 100 was an error. */
  textPerDealError?: string;
  unpaced: { tool: string; calls: number; seconds: number; callsPerSecond: number; latency: Summary; requests: number };
}

interface Recorded {
  method: string;
  path: string;
  rawUrl: string;
  body?: unknown;
}

export interface FakeLike {
  /** The base URL the provider is given (the fake's origin, plus a path where the CRM has one). */
  url: string;
  server: { requests: Recorded[] };
  stop(): Promise<void>;
}

export interface UpstreamSpec {
  /** The CRM, for messages. */
  label: string;
  /** The fake's source file: the bench is skipped while it does not exist. */
  fakePath: string;
  start(latencyMs: number): Promise<FakeLike>;
  /** The server's environment for a fake at `url`. */
  env(url: string): Record<string, string>;
  /** Headers of a bare request to the fake (its auth). */
  headers: Record<string, string>;
  /** The bare baseline: one GET of this path (under the fake's origin). */
  barePath: string;
  /** The provider's client-side limiter, which pacing keeps clear of: requests per window. */
  limiter: { requests: number; windowMs: number };
  /** The measured calls, given the first pipeline list_pipelines answers. */
  plan(pipelineId: string): Array<{ tool: string; label: string; args: Record<string, unknown> }>;
  /** The list tool whose text per record is measured at limit 100. */
  recordTool: string;
}

export async function upstreamBench(spec: UpstreamSpec, latencyMs = 20, warmup = 5, count = 50): Promise<UpstreamResult | { skipped: string }> {
  if (!existsSync(spec.fakePath)) return { skipped: `${spec.fakePath} does not exist yet` };
  const fake = await spec.start(latencyMs);
  const removeFake = onCleanup(() => fake.stop());
  const origin = new URL(fake.url).origin;
  if (!origin.startsWith('http://127.0.0.1:')) throw new Error(`fake ${spec.label} is not on 127.0.0.1: ${fake.url}`);

  // Arrival time of every upstream request, on the bench's clock (the fake runs in this process).
  const arrivals: number[] = [];
  const reqs = fake.server.requests;
  const push = reqs.push.bind(reqs);
  reqs.push = (...items) => {
    for (let i = 0; i < items.length; i++) arrivals.push(performance.now());
    return push(...items);
  };

  const pool = new Pool(origin, { connections: 8, keepAliveTimeout: 10_000 });
  const headers = { ...spec.headers, accept: 'application/json' };
  /** One request as the provider sent it (a search is a POST with its body); resolves to the answer's bytes. */
  const send = async (r: Pick<Recorded, 'method' | 'rawUrl' | 'body'>): Promise<number> => {
    const body = r.body === undefined ? undefined : JSON.stringify(r.body);
    const res = await pool.request({
      method: r.method as 'GET',
      path: r.rawUrl,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      body,
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`fake answered ${res.statusCode} for ${r.method} ${r.rawUrl}`);
    return Buffer.byteLength(text);
  };

  const session = await connectStdio({ env: spec.env(fake.url) });
  try {
    // Baseline: one bare GET, keep-alive, same fake, same injected latency.
    const bareReq = { method: 'GET', rawUrl: spec.barePath };
    const bare: number[] = [];
    for (let i = 0; i < 5; i++) await send(bareReq);
    const bareDeadline = new Deadline(10_000);
    for (let i = 0; i < count && !bareDeadline.passed; i++) {
      const t0 = performance.now();
      await send(bareReq);
      bare.push(performance.now() - t0);
    }
    const bareGet = summarize(bare);

    await session.client.listTools();
    const pl = await call(session.client, 'list_pipelines', {});
    const pipelineId = ((pl.structuredContent?.pipelines ?? []) as Array<{ id: string }>)[0]?.id;
    if (!pipelineId) throw new Error(`list_pipelines on the fake returned no pipeline: ${textOf(pl).slice(0, 300)}`);

    // Pacing: never let the provider's limiter queue a measured call.
    let perCallMax = 4;
    const pace = async () => {
      for (let guard = 0; guard < 200; guard++) {
        const now = performance.now();
        const inWindow = arrivals.filter((t) => t > now - spec.limiter.windowMs);
        if (inWindow.length <= spec.limiter.requests - perCallMax - 2) return;
        await sleep(Math.max(5, inWindow[0] + spec.limiter.windowMs - now + 5));
      }
    };

    const rows: UpstreamToolRow[] = [];
    for (const p of spec.plan(pipelineId)) {
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
      let lastSet: Recorded[] = [];
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
        if (made.length) lastSet = made;
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
        const sizes = await Promise.all(lastSet.map(send));
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
    // Both formats; when the detailed answer is an error, the concise row alone, and the error said.
    let textPerDeal: RecordSizeRow[];
    let textPerDealError: string | undefined;
    try {
      textPerDeal = await recordSizes(session.client, [spec.recordTool]);
    } catch (e) {
      textPerDealError = (e as Error).message.slice(0, 300);
      textPerDeal = await recordSizes(session.client, [spec.recordTool], {}, ['concise']);
    }

    // Unpaced: back-to-back get_pipeline, as an agent in a tight loop would; the limiter shows.
    // A short window (Pipedrive's 2 s) is let clear first; an hourly one never would.
    if (spec.limiter.windowMs <= 10_000) await sleep(spec.limiter.windowMs + 100);
    const unpacedSamples: number[] = [];
    const u0 = performance.now();
    const before = reqs.length;
    const uDeadline = new Deadline(15_000);
    for (let i = 0; i < 20 && !uDeadline.passed; i++) {
      const t0 = performance.now();
      await call(session.client, 'get_pipeline', { pipeline_id: pipelineId });
      unpacedSamples.push(performance.now() - t0);
    }
    const uWall = (performance.now() - u0) / 1000;
    return {
      latencyMs,
      warmup,
      bareRequest: `GET ${spec.barePath}`,
      bareGet,
      rows,
      textPerDeal,
      ...(textPerDealError ? { textPerDealError } : {}),
      unpaced: {
        tool: 'get_pipeline',
        calls: unpacedSamples.length,
        seconds: uWall,
        callsPerSecond: unpacedSamples.length / uWall,
        latency: summarize(unpacedSamples),
        requests: reqs.length - before,
      },
    };
  } finally {
    await session.close();
    await withTimeout(pool.close(), 3000, 'undici pool close').catch(() => undefined);
    await fake.stop();
    removeFake();
  }
}
