/**
 * (f) The Pipedrive provider against the fake Pipedrive (test/fakes/pipedrive.ts) with injected
 * upstream latency: tool latency over stdio, upstream requests per call, sequential upstream round
 * trips ("waves") per call, and overhead over a bare undici GET to the same fake. The same
 * measurement serves every remote provider against its fake (`remoteProviderBench` with a
 * `RemoteBenchSpec`: bench/insightly.ts).
 *
 * The provider's client-side limiter allows 20 requests per rolling 2 s (Pipedrive's default burst
 * limit). Latency calls are paced so the limiter never queues them: this measures the server's own
 * overhead. A short unpaced burst is measured separately to show what the limiter does.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { call, recordSizes, textOf, type RecordSizeRow } from './local.js';
import { Deadline, ROOT, connectStdio, cpuMs, onCleanup, sleep, withTimeout } from './lib/procs.js';
import { median, summarize, type Summary } from './lib/stats.js';

export const FAKE_PATH = join(ROOT, 'test', 'fakes', 'pipedrive.ts');

/** The fake Pipedrive's token (test/fakes/pipedrive.ts DEFAULT_TOKEN). */
const PIPEDRIVE_TOKEN = 'pd_jK10LfqJctw9di9gfaVVoi1LHvlNNfoEqWKKD11J';

/** What one remote provider's bench needs: its fake, its server env, a bare GET, its limiter. */
export interface RemoteBenchSpec {
  label: string;
  fakePath: string;
  startFake(latencyMs: number): Promise<FakeLike>;
  /** The server's env for a connection to the fake at `url`. */
  env(url: string): Record<string, string>;
  /** Headers of the bare GET (the provider's auth). */
  bareHeaders: Record<string, string>;
  /** One record's path on the fake, for the bare GET baseline. */
  barePath: string;
  /** The provider's client-side limiter: calls are paced so it never queues them. */
  burst: number;
  windowMs: number;
  /** List tools measured at limit 100, latency and text per record. */
  listTools: string[];
}

const PIPEDRIVE: RemoteBenchSpec = {
  label: 'Pipedrive',
  fakePath: FAKE_PATH,
  async startFake(latencyMs) {
    const mod = (await import('../test/fakes/pipedrive.js')) as { startFakePipedrive(opts: { latencyMs?: number }): Promise<FakeLike> };
    return mod.startFakePipedrive({ latencyMs });
  },
  env: (url) => ({ CRM_PROVIDER: 'pipedrive', PIPEDRIVE_API_TOKEN: PIPEDRIVE_TOKEN, PIPEDRIVE_BASE_URL: url }),
  bareHeaders: { 'x-api-token': PIPEDRIVE_TOKEN, accept: 'application/json' },
  barePath: '/api/v2/pipelines/1',
  burst: 20,
  windowMs: 2000,
  listTools: ['list_deals'],
};

export interface PdToolRow {
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

export interface PipedriveResult {
  label: string;
  latencyMs: number;
  warmup: number;
  /** The bare GET's path, and the limiter the calls were paced under. */
  barePath: string;
  limiter: { burst: number; windowMs: number };
  bareGet: Summary;
  rows: PdToolRow[];
  /** Text per record of the list tools at limit 100 (list_deals for Pipedrive). */
  textPerRecord: RecordSizeRow[];
  unpaced: { tool: string; calls: number; seconds: number; callsPerSecond: number; latency: Summary; requests: number };
}

export interface FakeLike {
  url: string;
  server: { requests: Array<{ method: string; path: string; rawUrl: string }> };
  stop(): Promise<void>;
}

export function pipedriveBench(latencyMs = 20, warmup = 5, count = 50): Promise<PipedriveResult | { skipped: string }> {
  return remoteProviderBench(PIPEDRIVE, latencyMs, warmup, count);
}

export async function remoteProviderBench(
  spec: RemoteBenchSpec,
  latencyMs = 20,
  warmup = 5,
  count = 50,
): Promise<PipedriveResult | { skipped: string }> {
  if (!existsSync(spec.fakePath)) return { skipped: `${spec.fakePath} does not exist yet` };
  const fake = await spec.startFake(latencyMs);
  const removeFake = onCleanup(() => fake.stop());
  if (!fake.url.startsWith('http://127.0.0.1:')) throw new Error(`fake ${spec.label} is not on 127.0.0.1: ${fake.url}`);

  // Arrival time of every upstream request, on the bench's clock (the fake runs in this process).
  const arrivals: number[] = [];
  const reqs = fake.server.requests;
  const push = reqs.push.bind(reqs);
  reqs.push = (...items) => {
    for (let i = 0; i < items.length; i++) arrivals.push(performance.now());
    return push(...items);
  };

  const pool = new Pool(fake.url, { connections: 8, keepAliveTimeout: 10_000 });
  const headers = spec.bareHeaders;
  const get = async (path: string): Promise<number> => {
    const r = await pool.request({ method: 'GET', path, headers });
    const body = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`fake answered ${r.statusCode} for ${path}`);
    return Buffer.byteLength(body);
  };

  const session = await connectStdio({ env: spec.env(fake.url) });
  try {
    // Baseline: one bare GET, keep-alive, same fake, same injected latency.
    const bare: number[] = [];
    for (let i = 0; i < 5; i++) await get(spec.barePath);
    const bareDeadline = new Deadline(10_000);
    for (let i = 0; i < count && !bareDeadline.passed; i++) {
      const t0 = performance.now();
      await get(spec.barePath);
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
        const inWindow = arrivals.filter((t) => t > now - spec.windowMs);
        if (inWindow.length <= spec.burst - perCallMax - 2) return;
        await sleep(Math.max(5, inWindow[0] + spec.windowMs - now + 5));
      }
    };

    const plan: Array<{ tool: string; label: string; args: Record<string, unknown> }> = [
      { tool: 'get_pipeline', label: `pipeline_id ${pipelineId}`, args: { pipeline_id: pipelineId } },
      { tool: 'list_stages', label: 'defaults', args: {} },
      ...spec.listTools.map((tool) => ({ tool, label: 'limit 100', args: { limit: 100 } })),
    ];
    const rows: PdToolRow[] = [];
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
    const textPerRecord = await recordSizes(session.client, spec.listTools);

    // Unpaced: back-to-back get_pipeline, as an agent in a tight loop would; the limiter shows.
    await sleep(spec.windowMs + 100);
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
      label: spec.label,
      latencyMs,
      warmup,
      barePath: spec.barePath,
      limiter: { burst: spec.burst, windowMs: spec.windowMs },
      bareGet,
      rows,
      textPerRecord,
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
