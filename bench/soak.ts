/**
 * npm run soak: the built server over Streamable HTTP under a steady mixed load for a while, to
 * show it neither slows down, fails nor grows. Not part of `npm test` (it runs for minutes).
 *
 *   npm run soak                                   # 240 s, 16 clients (builds first)
 *   npm run soak -- --seconds 300 --clients 16     # longer; env SOAK_SECONDS, SOAK_CLIENTS work too
 *   node --import tsx bench/soak.ts --seconds 90   # after npm run build
 *
 * One `node dist/cli.js --http --port 0` child on a seeded temp database, with CRM_MCP_AUTH_TOKEN
 * set (every request passes the bearer check), and N real MCP clients (@modelcontextprotocol/client
 * over Streamable HTTP), each calling a mix of read and write tools back to back. Reported: calls/s
 * (overall and per sample window), p50/p99 latency per tool, errors, server CPU per call, and the
 * server's RSS sampled every few seconds with its trend in MB per minute after a warm-up (the
 * first third of the run, at least 20 s: V8 grows its heap to a working size first). The trend is
 * the Theil-Sen slope (median of pairwise slopes), which a major GC's dip does not swing. Pass: no
 * error, the server still healthy, and the memory flat (trend at most --max-slope MB/min).
 * Memory is judged only on at least JUDGED_SECONDS after the warm-up: RSS swings by some 30 MB with
 * each major GC, and over a minute or so of samples that sawtooth alone reads as a trend either
 * way (90 s runs of one build gave -7 to +15 MB/min). A shorter run reports the trend, unjudged.
 * Writes bench/soak-results.json. Exit code 0 on pass, 1 otherwise.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { call, textOf } from './local.js';
import { Deadline, ROOT, cleanup, cpuMs, rssMb, seedDb, sleep, startHttpChild, systemBusy, tempDir, withTimeout } from './lib/procs.js';
import { int, ms, num, robustSlope, roundSummary, summarize, table } from './lib/stats.js';

interface Options {
  seconds: number;
  clients: number;
  sampleSeconds: number;
  warmupSeconds: number;
  maxSlopeMbPerMin: number;
}

function options(argv: string[], env: NodeJS.ProcessEnv): Options {
  const o: Options = {
    seconds: Number(env.SOAK_SECONDS ?? 240),
    clients: Number(env.SOAK_CLIENTS ?? 16),
    sampleSeconds: Number(env.SOAK_SAMPLE_SECONDS ?? 2),
    warmupSeconds: Number(env.SOAK_WARMUP_SECONDS ?? 0), // 0: a third of the run, at least 20 s
    maxSlopeMbPerMin: Number(env.SOAK_MAX_SLOPE ?? 5),
  };
  const flags: Record<string, keyof Options> = {
    '--seconds': 'seconds',
    '--clients': 'clients',
    '--sample': 'sampleSeconds',
    '--warmup': 'warmupSeconds',
    '--max-slope': 'maxSlopeMbPerMin',
  };
  for (let i = 0; i < argv.length; i++) {
    const key = flags[argv[i]];
    if (!key) throw new Error(`unknown argument ${argv[i]}; known: ${Object.keys(flags).join(', ')}`);
    o[key] = Number(argv[++i]);
  }
  for (const [k, v] of Object.entries(o)) if (!Number.isFinite(v) || v < 0) throw new Error(`${k} must be a positive number`);
  if (!o.warmupSeconds) o.warmupSeconds = Math.min(Math.max(20, o.seconds / 3), o.seconds / 2);
  if (o.warmupSeconds >= o.seconds) throw new Error('--warmup must be shorter than --seconds');
  return o;
}

interface Step {
  tool: string;
  kind: 'read' | 'write';
  args: (client: number, i: number) => Record<string, unknown>;
}

interface Ids {
  pipelineId: string;
  stageIds: string[];
  dealIds: string[];
  projectIds: string[];
}

/** The load: two thirds reads, one third writes (updates, keyed creates, dry runs). */
function mix(ids: Ids, runId: string): Step[] {
  const pick = <T>(xs: T[], i: number) => xs[i % xs.length];
  const today = new Date().toISOString().slice(0, 10);
  const monthAgo = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
  const steps: Step[] = [
    { tool: 'get_deal', kind: 'read', args: (c, i) => ({ deal_id: pick(ids.dealIds, c * 7 + i) }) },
    { tool: 'get_pipeline', kind: 'read', args: () => ({ pipeline_id: ids.pipelineId }) },
    { tool: 'list_deals', kind: 'read', args: (c, i) => ({ stage_id: pick(ids.stageIds, c + i), limit: 20 }) },
    { tool: 'update_deal', kind: 'write', args: (c, i) => ({ deal_id: pick(ids.dealIds, c * 7 + i), amount: 1000 + (i % 50) }) },
    { tool: 'list_stages', kind: 'read', args: () => ({ pipeline_id: ids.pipelineId }) },
    { tool: 'get_deal', kind: 'read', args: (c, i) => ({ deal_id: pick(ids.dealIds, c * 3 + i), response_format: 'detailed' }) },
    { tool: 'create_deal', kind: 'write', args: (c, i) => ({ name: `Soak ${c}-${i}`, stage_id: pick(ids.stageIds, i), amount: i, currency: 'USD', idempotency_key: `soak-${runId}-${c}-${i}` }) },
    { tool: 'list_projects', kind: 'read', args: () => ({ limit: 20 }) },
    { tool: 'pipeline_movement_stats', kind: 'read', args: () => ({ pipeline_id: ids.pipelineId, start_date: monthAgo, end_date: today }) },
    { tool: 'update_project', kind: 'write', args: (c, i) => ({ project_id: pick(ids.projectIds, c + i), description: `soak ${i % 10}` }) },
    { tool: 'list_deals', kind: 'read', args: () => ({ limit: 50 }) },
    { tool: 'create_deal', kind: 'write', args: (_c, i) => ({ name: 'Soak dry run', stage_id: pick(ids.stageIds, i), dry_run: true }) },
  ];
  return steps;
}

async function discover(client: Client): Promise<Ids> {
  const get = async (tool: string, args: Record<string, unknown>, key: string) => {
    const r = await call(client, tool, args);
    if (r.isError) throw new Error(`${tool}: ${textOf(r).slice(0, 300)}`);
    return (r.structuredContent?.[key] ?? []) as Array<{ id: string }>;
  };
  const pipelines = await get('list_pipelines', {}, 'pipelines');
  const pipelineId = pipelines[0].id;
  const stages = await get('list_stages', { pipeline_id: pipelineId }, 'stages');
  const deals = await get('list_deals', { pipeline_id: pipelineId, limit: 100 }, 'deals');
  const projects = await get('list_projects', { limit: 50 }, 'projects');
  if (!stages.length || !deals.length || !projects.length) throw new Error('the demo database has no stages, deals or projects');
  return { pipelineId, stageIds: stages.map((s) => s.id), dealIds: deals.map((d) => d.id), projectIds: projects.map((p) => p.id) };
}

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'crm-mcp-soak', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  await withTimeout(client.connect(transport), 15_000, 'HTTP connect');
  await client.listTools(); // as a real client does; the SDK then validates tool output
  return client;
}

const print = (s = '') => process.stdout.write(`${s}\n`);

/** Seconds of samples after the warm-up a memory verdict needs (see the header). */
const JUDGED_SECONDS = 120;

async function main(): Promise<number> {
  const o = options(process.argv.slice(2), process.env);
  const token = randomBytes(32).toString('hex');
  const dir = tempDir();
  const db = join(dir, 'soak.db');
  await seedDb(db);
  const server = await startHttpChild({ args: ['--db', db], env: { CRM_MCP_AUTH_TOKEN: token } });
  const clients: Client[] = [];
  try {
    for (let i = 0; i < o.clients; i++) clients.push(await connect(server.url, token));
    const ids = await discover(clients[0]);
    const steps = mix(ids, randomBytes(4).toString('hex'));
    print(`crm-mcp soak: ${o.clients} clients over Streamable HTTP (bearer token), ${o.seconds} s, server pid ${server.pid}`);
    print(`mix (in turn, each client offset): ${steps.map((s) => `${s.tool}${s.kind === 'write' ? '*' : ''}`).join(', ')}  (* = write)`);
    if (o.seconds < 60) print(`note: ${o.seconds} s is shorter than the 60 s of the documented figure`);

    const latencies = new Map<string, number[]>();
    const errors: string[] = [];
    let calls = 0;
    let windowCalls = 0;
    const memory: Array<[number, number]> = []; // [seconds since start, RSS MB]
    const windows: number[] = []; // calls/s per sample window
    const busyBefore = await systemBusy(500);
    const cpu0 = await cpuMs(server.pid);
    const t0 = performance.now();
    const deadline = new Deadline(o.seconds * 1000);

    const sampler = (async () => {
      for (;;) {
        const rss = await rssMb(server.pid);
        const t = (performance.now() - t0) / 1000;
        if (rss !== undefined) memory.push([t, rss]);
        if (memory.length > 1) windows.push(windowCalls / o.sampleSeconds);
        windowCalls = 0;
        if (deadline.passed) return;
        await sleep(Math.min(o.sampleSeconds * 1000, deadline.left + 10));
      }
    })();

    await Promise.all(
      clients.map(async (client, c) => {
        for (let i = 0; !deadline.passed; i++) {
          const step = steps[(i + c) % steps.length];
          const s = performance.now();
          try {
            const r = await call(client, step.tool, step.args(c, i));
            if (r.isError) errors.push(`${step.tool}: ${textOf(r).slice(0, 200)}`);
          } catch (e) {
            errors.push(`${step.tool}: ${(e as Error).message.slice(0, 200)}`);
          }
          const d = performance.now() - s;
          let arr = latencies.get(step.tool);
          if (!arr) latencies.set(step.tool, (arr = []));
          arr.push(d);
          calls++;
          windowCalls++;
        }
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    const cpu1 = await cpuMs(server.pid);
    const serverCpuMsPerCall = cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / Math.max(1, calls) : undefined;
    await sampler;

    const health = await fetch(new URL('/healthz', server.url)).then((r) => r.status).catch(() => 0);
    const all = [...latencies.values()].flat();
    const overall = summarize(all);
    const steady = memory.filter(([t]) => t >= o.warmupSeconds);
    const mbPerMin = robustSlope(steady.map(([t, mb]) => [t / 60, mb] as const));
    const judged = o.seconds - o.warmupSeconds >= JUDGED_SECONDS;
    const flat = Number.isFinite(mbPerMin) && mbPerMin <= o.maxSlopeMbPerMin;
    const pass = errors.length === 0 && health === 200 && (flat || !judged);

    print();
    print(
      table(
        ['tool', 'calls', 'p50', 'p99', 'max'],
        [...latencies].map(([tool, arr]) => {
          const s = summarize(arr);
          return [tool, int(s.n), ms(s.p50), ms(s.p99), ms(s.max)];
        }),
        [false, true, true, true, true],
      ),
    );
    print();
    print(`calls: ${int(calls)} in ${num(wall)} s = ${int(calls / wall)} calls/s; latency p50 ${ms(overall.p50)}, p99 ${ms(overall.p99)}`);
    print(
      `server CPU: ${serverCpuMsPerCall === undefined ? 'n/a' : `${ms(serverCpuMsPerCall)} per call (load-independent; one core would serve ~${int(1000 / serverCpuMsPerCall)} calls/s)`}; ` +
        `machine CPU busy before the run ${busyBefore === undefined ? 'n/a' : `${num(busyBefore * 100, 0)}%`} (other processes slow every figure here)`,
    );
    print(`calls/s per ${o.sampleSeconds} s window: ${windows.map((w) => int(w)).join(' ')}`);
    print(`errors: ${errors.length}${errors.length ? ` (first: ${[...new Set(errors)].slice(0, 5).join(' | ')})` : ''}`);
    print(`server RSS (MB) every ${o.sampleSeconds} s: ${memory.map(([, mb]) => num(mb, 0)).join(' ')}`);
    print(
      `memory trend after ${o.warmupSeconds} s warm-up: ${num(mbPerMin, 2)} MB/min over ${steady.length} samples ` +
        `= ${int((mbPerMin * 1024 * 1024) / Math.max(1, (calls / wall) * 60))} bytes per call ` +
        `(${judged ? `${flat ? 'flat' : 'GROWING'}: limit ${o.maxSlopeMbPerMin} MB/min` : `not judged: ${num(o.seconds - o.warmupSeconds, 0)} s after the warm-up, memory is judged on ${JUDGED_SECONDS} s or more`}); first ${num(steady[0]?.[1] ?? NaN, 1)} MB, ` +
        `last ${num(steady.at(-1)?.[1] ?? NaN, 1)} MB, peak ${num(Math.max(...memory.map(([, mb]) => mb)), 1)} MB`,
    );
    print(`server after the run: /healthz ${health === 200 ? '200' : `answered ${health}`}`);
    print(pass ? 'PASS' : 'FAIL');

    const file = join(ROOT, 'bench', 'soak-results.json');
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          when: new Date().toISOString(),
          node: process.version,
          options: o,
          calls,
          seconds: wall,
          callsPerSecond: calls / wall,
          serverCpuMsPerCall,
          machineBusyBefore: busyBefore,
          latency: roundSummary(overall),
          perTool: Object.fromEntries([...latencies].map(([t, arr]) => [t, roundSummary(summarize(arr))])),
          callsPerSecondByWindow: windows,
          errors: errors.length,
          errorSamples: [...new Set(errors)].slice(0, 20),
          rssMb: memory,
          rssSlopeMbPerMin: mbPerMin,
          memoryFlat: judged ? flat : null,
          healthAfter: health,
          pass,
        },
        null,
        2,
      )}\n`,
    );
    print(`wrote ${file}`);
    return pass ? 0 : 1;
  } finally {
    await Promise.allSettled(clients.map((c) => withTimeout(c.close(), 3000, 'client close')));
    await server.stop();
  }
}

let finished = false;
async function finish(code: number): Promise<never> {
  if (!finished) {
    finished = true;
    await cleanup();
  }
  process.exit(code);
}

// Bounded whatever happens: the run, plus two minutes for start-up and shutdown.
const limit = options(process.argv.slice(2), process.env).seconds * 1000 + 120_000;
setTimeout(() => {
  process.stderr.write(`soak: watchdog: still running after ${limit / 1000} s, stopping\n`);
  void finish(124);
}, limit).unref();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void finish(130));

main().then(
  (code) => finish(code),
  (e: unknown) => {
    process.stderr.write(`soak: ${(e as Error).stack ?? String(e)}\n`);
    return finish(1);
  },
);
