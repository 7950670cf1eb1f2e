/**
 * (g) Start-up beside its floor: spawn -> first `tools/list` answer, for
 *   bare    node answering initialize and tools/list by hand (bench/floor/bare-node.mjs),
 *   minimal the smallest stdio server on the same SDK with one tool (bench/floor/minimal-server.ts),
 *           bundled here into a temp dir with crm-mcp's own esbuild options,
 *   crm-mcp dist/cli.js on the local provider with an existing (seeded) database,
 * on the running node and on Node 24 (CRM_MCP_TEST_NODE24, else `npx -y -p node@24`), with V8's
 * compile cache cold and warm where that node has one (22.1+).
 *
 * The client side is two raw JSON-RPC exchanges, as an MCP client does them: initialize, then
 * notifications/initialized + tools/list once initialize is answered. No SDK client: its own
 * parsing and validation would be timed too.
 *
 * crm-mcp enables the compile cache itself, in Node's default place (os.tmpdir()/node-compile-cache
 * unless NODE_COMPILE_CACHE says otherwise), so a cold run gets a fresh empty TMPDIR and the warm
 * runs share one TMPDIR primed beforehand.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS } from '../scripts/bundle-options.js';
import { CLI, Deadline, ROOT, childEnv, seedDb, sleep, tempDir, trackPid, untrackPid, withTimeout } from './lib/procs.js';
import { summarize, type Summary } from './lib/stats.js';

export type ServerKind = 'bare' | 'minimal' | 'crm-mcp';
/** 'n/a': this node has no compile cache; 'off': not enabled; 'cold': enabled, empty; 'warm': primed. */
export type CacheState = 'n/a' | 'off' | 'cold' | 'warm';

export interface Runtime {
  label: string;
  bin: string;
  version: string;
  /** module.enableCompileCache exists (Node 22.1+). */
  compileCache: boolean;
  /** The SQLite driver crm-mcp reported using under this node (from its debug log), if it says. */
  driver?: string;
}

export interface StartupRow {
  runtime: string;
  server: ServerKind;
  cache: CacheState;
  /** How the cache was switched on for a server that does not do it itself (the minimal one). */
  note?: string;
  summary?: Summary;
  samples: number[];
  /** CPU ms of the server's threads until it answered, per start: steadier than wall time on a busy machine. */
  cpu?: Summary;
  cpuSamples: number[];
  error?: string;
}

export interface StartupResult {
  runs: number;
  runtimes: Runtime[];
  /** Node 24 could not be had, and why. */
  node24Unavailable?: string;
  rows: StartupRow[];
}

const BARE = join(ROOT, 'bench', 'floor', 'bare-node.mjs');
const MINIMAL_SOURCE = join(ROOT, 'bench', 'floor', 'minimal-server.ts');

// ---------------------------------------------------------------------------------------------
// Runtimes

function run(cmd: string, args: string[], timeoutMs: number, cwd = ROOT): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd, timeout: timeoutMs, env: process.env, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      untrackPid(child.pid);
      if (err) reject(new Error(`${(err as Error).message.split('\n')[0]}${stderr ? `: ${stderr.trim().split('\n').slice(-2).join(' ')}` : ''}`));
      else resolve(stdout);
    });
    trackPid(child.pid);
  });
}

async function describeNode(label: string, bin: string): Promise<Runtime> {
  const out = await run(bin, ['-p', "process.version + ' ' + (typeof require('node:module').enableCompileCache)"], 15_000);
  const [version, hasCache] = out.trim().split(' ');
  return { label, bin, version, compileCache: hasCache === 'function' };
}

/**
 * Node 24: the binary named by CRM_MCP_TEST_NODE24, else the `node@24` package via npx (fetched
 * once into npm's cache; the bench is not part of npm test, so it may go to the registry).
 */
async function node24(): Promise<Runtime | { unavailable: string }> {
  try {
    let bin = process.env.CRM_MCP_TEST_NODE24;
    if (!bin) {
      const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
      const out = await run(npx, ['-y', '-p', 'node@24', 'node', '-p', 'process.execPath'], 180_000, tempDir());
      bin = out.trim().split('\n').at(-1);
    }
    if (!bin) throw new Error('npx printed no path');
    const rt = await describeNode('Node 24', bin);
    if (!rt.version.startsWith('v24.')) throw new Error(`${bin} is ${rt.version}, not Node 24`);
    return rt;
  } catch (e) {
    return { unavailable: (e as Error).message };
  }
}

// ---------------------------------------------------------------------------------------------
// One start: spawn -> initialize -> initialized + tools/list -> answer

interface Start {
  ms: number;
  /** CPU time the server's threads used until it answered (Linux), ms. */
  cpuMs?: number;
  stderr: string;
}

/** CPU time of all threads of a live process, from /proc/<pid>/task/<tid>/schedstat (ns, Linux). */
function threadsCpuMs(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e6;
  } catch {
    return undefined;
  }
}

function startOnce(bin: string, args: string[], env: Record<string, string>): Promise<Start> {
  return withTimeout(
    new Promise<Start>((resolve, reject) => {
      const t0 = performance.now();
      const child = spawn(bin, args, { cwd: ROOT, env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
      trackPid(child.pid);
      let out = '';
      let err = '';
      let answeredAt = 0;
      let cpuMs: number | undefined;
      let toolCount = 0;
      const send = (m: object) => child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
      child.stdin.on('error', () => undefined); // a server that died early: reported on exit
      child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-16_384)));
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        let nl: number;
        while ((nl = out.indexOf('\n')) >= 0) {
          const line = out.slice(0, nl);
          out = out.slice(nl + 1);
          const msg = JSON.parse(line) as { id?: number; result?: { tools?: unknown[] }; error?: { message: string } };
          if (msg.error) {
            child.kill('SIGKILL');
            return reject(new Error(`${msg.error.message}`));
          }
          if (msg.id === 1) {
            send({ method: 'notifications/initialized' });
            send({ id: 2, method: 'tools/list' });
          } else if (msg.id === 2) {
            answeredAt = performance.now();
            cpuMs = threadsCpuMs(child.pid);
            toolCount = msg.result?.tools?.length ?? 0;
            // Closing stdin is how a client ends a stdio server; node writes the compile cache as it exits.
            child.stdin.end();
          }
        }
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        untrackPid(child.pid);
        if (answeredAt && toolCount > 0) resolve({ ms: answeredAt - t0, cpuMs, stderr: err });
        else if (answeredAt) reject(new Error('tools/list answered with no tools'));
        else reject(new Error(`exited (${signal ?? code}) before answering tools/list: ${firstLines(err)}`));
      });
      send({
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'crm-mcp-bench', version: '1.0.0' } },
      });
    }),
    20_000,
    `${args[0]} start`,
  );
}

const firstLines = (s: string) =>
  s
    .trim()
    .split('\n')
    .filter((l) => l.trim())
    .slice(0, 3)
    .join(' ')
    .slice(0, 300) || '(no stderr)';

/**
 * The SQLite driver crm-mcp names in its debug log: the `sqlite` field of its "serving stdio" line
 * (e.g. "node:sqlite (Node 24.21.0)"). A build that names none yields undefined, and the report
 * says so.
 */
export function driverFromLog(stderr: string): string | undefined {
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const rec = JSON.parse(line) as Record<string, unknown>;
      for (const key of ['sqlite', 'driver']) if (typeof rec[key] === 'string') return rec[key] as string;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------

interface Case {
  row: StartupRow;
  bin: string;
  args: string[];
  /** Fresh env per sample (a cold cache needs a new directory each time). */
  env(sample: number): Record<string, string>;
}

/**
 * Bundles the minimal server with crm-mcp's own esbuild options into `dir`, beside a package.json
 * that says ESM as crm-mcp's does (without it node would first try the file as CommonJS).
 */
async function buildMinimal(dir: string): Promise<string> {
  await build({ ...BUNDLE_OPTIONS, entryPoints: [MINIMAL_SOURCE], outdir: dir });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  return join(dir, 'minimal-server.js');
}

const cacheWritten = (tmp: string) => {
  const root = join(tmp, 'node-compile-cache');
  return existsSync(root) && readdirSync(root).some((v) => readdirSync(join(root, v)).length > 0);
};

export async function startupBeside(runs = 11): Promise<StartupResult> {
  const dir = tempDir();
  const minimal = await buildMinimal(join(dir, 'minimal'));
  const db = join(dir, 'crm.db');
  await seedDb(db); // demo seed written here, untimed: every timed start opens an existing database

  const runtimes: Runtime[] = [await describeNode(`Node ${process.versions.node.split('.')[0]}`, process.execPath)];
  const n24 = process.versions.node.startsWith('24.') ? { unavailable: 'the running node is Node 24' } : await node24();
  if ('bin' in n24) runtimes.push(n24);

  const cases: Case[] = [];
  let coldDirs = 0;
  for (const rt of runtimes) {
    const row = (server: ServerKind, cache: CacheState, note?: string): StartupRow => ({ runtime: rt.label, server, cache, note, samples: [], cpuSamples: [] });
    // Where the node has no compile cache, TMPDIR still points into the bench's temp dir, so no
    // run ever touches the machine's own /tmp/node-compile-cache.
    const warmTmp = join(dir, `warm-${rt.label.replace(/\W+/g, '')}`);
    mkdirSync(warmTmp, { recursive: true });
    const crmArgs = [CLI, '--db', db];
    cases.push({ row: row('bare', rt.compileCache ? 'off' : 'n/a'), bin: rt.bin, args: [BARE], env: () => ({ TMPDIR: warmTmp }) });
    cases.push({ row: row('minimal', rt.compileCache ? 'off' : 'n/a'), bin: rt.bin, args: [minimal], env: () => ({ TMPDIR: warmTmp }) });
    if (rt.compileCache) {
      const minimalCache = join(dir, `minimal-cache-${rt.label.replace(/\W+/g, '')}`);
      cases.push({
        row: row('minimal', 'warm', 'NODE_COMPILE_CACHE set from outside'),
        bin: rt.bin,
        args: [minimal],
        env: () => ({ TMPDIR: warmTmp, NODE_COMPILE_CACHE: minimalCache }),
      });
      cases.push({
        row: row('crm-mcp', 'cold'),
        bin: rt.bin,
        args: crmArgs,
        env: () => {
          const fresh = join(dir, `cold-${coldDirs++}`);
          mkdirSync(fresh);
          return { TMPDIR: fresh };
        },
      });
      cases.push({ row: row('crm-mcp', 'warm'), bin: rt.bin, args: crmArgs, env: () => ({ TMPDIR: warmTmp }) });
    } else {
      cases.push({ row: row('crm-mcp', 'n/a'), bin: rt.bin, args: crmArgs, env: () => ({ TMPDIR: warmTmp }) });
    }

    // Which SQLite driver serves under this node: one untimed start with the debug log on.
    try {
      const s = await startOnce(rt.bin, crmArgs, { TMPDIR: warmTmp, CRM_MCP_LOG_LEVEL: 'debug' });
      rt.driver = driverFromLog(s.stderr);
    } catch {
      // reported with the timed rows
    }
  }

  // Untimed first starts: the OS file cache is warm for every case alike, warm compile caches get
  // primed (two starts: the second may store functions the first compiled lazily), and a case that
  // cannot start at all is found before the timed rounds.
  for (const c of cases) {
    const env = c.env(-1);
    try {
      await startOnce(c.bin, c.args, env);
      if (c.row.cache === 'warm') await startOnce(c.bin, c.args, env);
      if (c.row.cache === 'warm' && c.row.server === 'crm-mcp' && !cacheWritten(env.TMPDIR)) {
        c.row.error = `crm-mcp wrote no compile cache under ${env.TMPDIR}`;
      }
    } catch (e) {
      c.row.error = (e as Error).message;
    }
  }

  // Timed rounds, interleaved, so a busy moment on the machine hits every case alike.
  const deadline = new Deadline(120_000);
  for (let i = 0; i < runs && !deadline.passed; i++) {
    for (const c of cases) {
      if (c.row.error) continue;
      const env = c.env(i);
      try {
        const start = await startOnce(c.bin, c.args, env);
        c.row.samples.push(start.ms);
        if (start.cpuMs !== undefined) c.row.cpuSamples.push(start.cpuMs);
      } catch (e) {
        c.row.error = (e as Error).message;
      }
      if (c.row.cache === 'cold') rmSync(env.TMPDIR, { recursive: true, force: true });
    }
    await sleep(0);
  }
  for (const c of cases) {
    if (c.row.samples.length) c.row.summary = summarize(c.row.samples);
    if (c.row.cpuSamples.length) c.row.cpu = summarize(c.row.cpuSamples);
  }
  return {
    runs,
    runtimes,
    node24Unavailable: 'unavailable' in n24 ? n24.unavailable : undefined,
    rows: cases.map((c) => c.row),
  };
}

/** A row's median over the minimal server's (compile cache off / n/a) on the same node: wall time, or CPU time. */
export function ratioToMinimal(r: StartupResult, row: StartupRow, of: 'summary' | 'cpu' = 'summary'): number | undefined {
  const floor = r.rows.find((x) => x.runtime === row.runtime && x.server === 'minimal' && (x.cache === 'off' || x.cache === 'n/a'));
  const mine = row[of];
  const theirs = floor?.[of];
  return mine && theirs ? mine.p50 / theirs.p50 : undefined;
}
