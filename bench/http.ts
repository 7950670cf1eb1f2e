/**
 * (c) Throughput over Streamable HTTP: N concurrent clients running a mix of read tools for a
 * fixed time against one `node dist/cli.js --http --port 0` child.
 *
 * Three client kinds, one after another against the same server:
 * - sdk-legacy: each client its own Client + StreamableHTTPClientTransport, SDK defaults
 *   (2025-11-25 initialize handshake, stateless legacy serving). This is the target figure.
 * - sdk-modern: the same with versionNegotiation 'auto' (2026-07-28, server/discover).
 * - raw: bare undici POSTs of the same JSON-RPC tools/call (legacy era): what the server can do
 *   when the load generator costs almost nothing.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client } from '@modelcontextprotocol/client';
import { Pool } from 'undici';
import { call, discoverIds } from './local.js';
import { Deadline, connectHttp, cpuMs, seedDb, startHttpChild, tempDir, withTimeout } from './lib/procs.js';
import { summarize, type Summary } from './lib/stats.js';

export type HttpClientKind = 'sdk-legacy' | 'sdk-modern' | 'raw';

export interface HttpRun {
  kind: HttpClientKind;
  clients: number;
  seconds: number;
  calls: number;
  errors: number;
  callsPerSecond: number;
  latency: Summary;
  perTool: Record<string, { calls: number; latency: Summary }>;
  /** Mean connect (initialize or discover) time per SDK client, ms. */
  connectMs?: number;
  /** Server process CPU time over the measured window / wall time (1.0 = one core busy). */
  serverCpu?: number;
  /** Server CPU ms per tool call: load-independent cost; 1000 / this = calls/s one core could serve. */
  serverCpuMsPerCall?: number;
  /** This (client) process: CPU share and CPU ms per call, to show when the load generator is the limit. */
  clientCpu: number;
  clientCpuMsPerCall: number;
}

export interface HttpResult {
  url: string;
  runs: HttpRun[];
}

interface Worker {
  call(tool: string, args: Record<string, unknown>): Promise<boolean>;
}

interface Raw {
  samples: number[];
  byTool: Map<string, number[]>;
  errors: number;
  wallMs: number;
  serverMs?: number;
  clientMs: number;
}

async function measure(
  kind: HttpClientKind,
  workers: Worker[],
  mix: Array<{ tool: string; args: (i: number) => Record<string, unknown> }>,
  serverPid: number,
  seconds: number,
  warmupSeconds: number,
): Promise<Raw> {
  const MAX_CALLS_PER_CLIENT = 200_000;
  const runPhase = async (ms: number, record: boolean) => {
    const deadline = new Deadline(ms);
    const samples: number[] = [];
    const byTool = new Map<string, number[]>();
    let errors = 0;
    await Promise.all(
      workers.map(async (w, wi) => {
        for (let i = 0; i < MAX_CALLS_PER_CLIENT && !deadline.passed; i++) {
          const m = mix[(i + wi) % mix.length];
          const s = performance.now();
          let ok = false;
          try {
            ok = await w.call(m.tool, m.args(i + wi));
          } catch {
            ok = false;
          }
          const d = performance.now() - s;
          if (!record) continue;
          if (!ok) errors += 1;
          samples.push(d);
          let arr = byTool.get(m.tool);
          if (!arr) byTool.set(m.tool, (arr = []));
          arr.push(d);
        }
      }),
    );
    return { samples, byTool, errors };
  };

  if (warmupSeconds > 0) {
    await withTimeout(runPhase(warmupSeconds * 1000, false), warmupSeconds * 1000 + 15_000, `HTTP ${kind} warm-up`);
  }
  const cpu0 = await cpuMs(serverPid);
  const own0 = process.cpuUsage();
  const w0 = performance.now();
  const res = await withTimeout(runPhase(seconds * 1000, true), seconds * 1000 + 15_000, `HTTP ${kind} run`);
  const wallMs = performance.now() - w0;
  const own = process.cpuUsage(own0);
  const cpu1 = await cpuMs(serverPid);
  return {
    ...res,
    wallMs,
    serverMs: cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined,
    clientMs: (own.user + own.system) / 1000,
  };
}

function finish(kind: HttpClientKind, clients: number, parts: Raw[], connectMs?: number): HttpRun {
  const samples = parts.flatMap((p) => p.samples);
  const wall = parts.reduce((a, p) => a + p.wallMs, 0);
  const serverMs = parts.every((p) => p.serverMs !== undefined) ? parts.reduce((a, p) => a + (p.serverMs ?? 0), 0) : undefined;
  const clientMs = parts.reduce((a, p) => a + p.clientMs, 0);
  const perTool: HttpRun['perTool'] = {};
  const tools = new Set(parts.flatMap((p) => [...p.byTool.keys()]));
  for (const t of tools) {
    const arr = parts.flatMap((p) => p.byTool.get(t) ?? []);
    perTool[t] = { calls: arr.length, latency: summarize(arr) };
  }
  const n = Math.max(1, samples.length);
  return {
    kind,
    clients,
    seconds: wall / 1000,
    calls: samples.length,
    errors: parts.reduce((a, p) => a + p.errors, 0),
    callsPerSecond: samples.length / (wall / 1000),
    latency: summarize(samples),
    perTool,
    connectMs,
    serverCpu: serverMs === undefined ? undefined : serverMs / wall,
    serverCpuMsPerCall: serverMs === undefined ? undefined : serverMs / n,
    clientCpu: clientMs / wall,
    clientCpuMsPerCall: clientMs / n,
  };
}

async function sdkWorkers(url: string, clients: number, era: 'legacy' | 'modern'): Promise<{ conns: Client[]; connectMs: number }> {
  const conns: Client[] = [];
  const t0 = performance.now();
  try {
    for (let i = 0; i < clients; i++) conns.push(await connectHttp(url, era));
    // Each client lists tools once, as a real client does (the SDK then validates tool output).
    await Promise.all(conns.map((c) => c.listTools()));
  } catch (e) {
    await Promise.allSettled(conns.map((c) => withTimeout(c.close(), 3000, 'HTTP client close')));
    throw e;
  }
  return { conns, connectMs: (performance.now() - t0) / clients };
}

export async function httpThroughput(
  clients = 16,
  seconds = 5,
  warmupSeconds = 1,
  kinds: HttpClientKind[] = ['sdk-legacy', 'sdk-modern', 'raw'],
): Promise<HttpResult> {
  const dir = tempDir();
  const db = join(dir, 'http.db');
  await seedDb(db);
  const server = await startHttpChild({ args: ['--db', db] });
  const runs: HttpRun[] = [];
  try {
    const probe = await connectHttp(server.url);
    const ids = await discoverIds(probe).finally(() => withTimeout(probe.close(), 3000, 'close').catch(() => undefined));
    const mix: Array<{ tool: string; args: (i: number) => Record<string, unknown> }> = [
      { tool: 'get_pipeline', args: () => ({ pipeline_id: ids.pipelineId }) },
      { tool: 'get_deal', args: (i) => ({ deal_id: ids.dealIds[i % ids.dealIds.length] }) },
      { tool: 'list_stages', args: () => ({}) },
    ];

    // All client sets are opened first, then the kinds take turns in short rounds, so a burst of
    // load from other processes hits every kind alike instead of skewing one of them.
    const sets = new Map<HttpClientKind, { workers: Worker[]; connectMs?: number; close(): Promise<void> }>();
    try {
      for (const kind of kinds) {
        if (kind === 'raw') {
          const pool = new Pool(new URL(server.url).origin, { connections: clients, pipelining: 1 });
          const path = new URL(server.url).pathname;
          let id = 0;
          const worker: Worker = {
            async call(tool, args) {
              const r = await pool.request({
                method: 'POST',
                path,
                headers: {
                  'content-type': 'application/json',
                  accept: 'application/json, text/event-stream',
                  'mcp-protocol-version': '2025-11-25',
                },
                body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'tools/call', params: { name: tool, arguments: args } }),
              });
              const text = await r.body.text();
              return r.statusCode === 200 && text.includes('"result"') && !text.includes('"isError":true');
            },
          };
          sets.set(kind, {
            workers: Array.from({ length: clients }, () => worker),
            close: () => withTimeout(pool.close(), 3000, 'undici pool close').catch(() => undefined),
          });
          continue;
        }
        const { conns, connectMs } = await sdkWorkers(server.url, clients, kind === 'sdk-modern' ? 'modern' : 'legacy');
        sets.set(kind, {
          workers: conns.map((c) => ({
            async call(tool, args) {
              return !(await call(c, tool, args)).isError;
            },
          })),
          connectMs,
          close: async () => {
            await Promise.allSettled(conns.map((c) => withTimeout(c.close(), 3000, 'HTTP client close')));
          },
        });
      }
      const rounds = Math.max(1, Math.round(seconds / 2.5));
      const parts = new Map<HttpClientKind, Raw[]>(kinds.map((k) => [k, []]));
      for (let round = 0; round < rounds; round++) {
        for (const kind of kinds) {
          const set = sets.get(kind);
          if (!set) continue;
          parts.get(kind)?.push(await measure(kind, set.workers, mix, server.pid, seconds / rounds, round === 0 ? warmupSeconds : 0.25));
        }
      }
      for (const kind of kinds) runs.push(finish(kind, clients, parts.get(kind) ?? [], sets.get(kind)?.connectMs));
    } finally {
      for (const set of sets.values()) await set.close();
    }
    return { url: server.url, runs };
  } finally {
    await server.stop();
  }
}
