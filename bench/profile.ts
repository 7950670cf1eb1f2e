/**
 * CPU profiles of the built server (`node --cpu-prof dist/cli.js ...`) in the scenarios the bench
 * measures, summarized by package and by function. run.ts calls these for missed targets;
 * standalone: `npm run build && node --import tsx bench/profile.ts [cold|http|pipedrive]...`.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { Client } from '@modelcontextprotocol/client';
import { call } from './local.js';
import { monoUs, profileIn, summarizeProfile, type ProfileSummary } from './lib/cpuprofile.js';
import { Deadline, cleanup, connectHttp, connectStdio, seedDb, sleep, startHttpChild, tempDir, withTimeout } from './lib/procs.js';
import { num, table } from './lib/stats.js';
import { FAKE_PATH } from './pipedrive.js';

const profFlags = (dir: string) => ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250'];

async function waitForProfile(dir: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const f = profileIn(dir);
    if (f) return f;
    await sleep(50);
  }
  throw new Error(`no .cpuprofile appeared in ${dir}`);
}

/** Spawn -> tools/list -> close, profiled: what the server does at start-up. */
export async function profileColdStart(): Promise<ProfileSummary> {
  const dir = tempDir();
  const db = join(dir, 'cold.db');
  await seedDb(db);
  const s = await connectStdio({ args: ['--db', db], nodeFlags: profFlags(dir) });
  try {
    await s.client.listTools();
  } finally {
    await s.close();
  }
  return summarizeProfile(await waitForProfile(dir), 40);
}

/** The HTTP server under 16 clients for a few seconds, profiled. */
export async function profileHttp(seconds = 3, clients = 16): Promise<ProfileSummary> {
  const dir = tempDir();
  const db = join(dir, 'http.db');
  await seedDb(db);
  const server = await startHttpChild({ args: ['--db', db], nodeFlags: profFlags(dir) });
  const conns: Client[] = [];
  let since = 0;
  let until = 0;
  let units = 0;
  try {
    for (let i = 0; i < clients; i++) conns.push(await connectHttp(server.url));
    await Promise.all(conns.map((c) => c.listTools()));
    const load = async (ms: number) => {
      const deadline = new Deadline(ms);
      let n = 0;
      await withTimeout(
        Promise.all(
          conns.map(async (c, ci) => {
            for (let i = 0; i < 100_000 && !deadline.passed; i++) {
              const k = (i + ci) % 3;
              if (k === 0) await call(c, 'get_pipeline', { pipeline_id: '1' });
              else if (k === 1) await call(c, 'get_deal', { deal_id: '1' });
              else await call(c, 'list_stages', {});
              n += 1;
            }
          }),
        ),
        ms + 15_000,
        'profiled HTTP load',
      );
      return n;
    };
    await load(500); // warm-up, left out of the summary
    since = monoUs();
    units = await load(seconds * 1000);
    until = monoUs();
  } finally {
    await Promise.allSettled(conns.map((c) => withTimeout(c.close(), 3000, 'close')));
    await server.stop(); // SIGTERM -> the server exits -> node writes the profile
  }
  return { ...summarizeProfile(await waitForProfile(dir), 40, since, until), units };
}

/** A Pipedrive tool (default list_deals limit 100) against the fake Pipedrive (no latency), profiled. */
export async function profilePipedrive(
  calls = 40,
  tool = 'list_deals',
  args: Record<string, unknown> = { limit: 100 },
): Promise<ProfileSummary | undefined> {
  const mod = (await import('../test/fakes/pipedrive.js')) as {
    startFakePipedrive(opts: { latencyMs?: number }): Promise<{ url: string; stop(): Promise<void> }>;
    DEFAULT_TOKEN?: string;
  };
  const fake = await mod.startFakePipedrive({ latencyMs: 0 });
  let since = 0;
  let until = 0;
  let units = 0;
  const dir = tempDir();
  const token = mod.DEFAULT_TOKEN ?? 'pd_jK10LfqJctw9di9gfaVVoi1LHvlNNfoEqWKKD11J';
  const s = await connectStdio({
    env: { CRM_PROVIDER: 'pipedrive', PIPEDRIVE_API_TOKEN: token, PIPEDRIVE_BASE_URL: fake.url },
    nodeFlags: profFlags(dir),
  });
  try {
    await s.client.listTools();
    const deadline = new Deadline(30_000);
    // 1 request per call once names are cached: ~8 calls/s stays under the 20 / 2 s limiter.
    for (let i = 0; i < calls + 5 && !deadline.passed; i++) {
      if (i === 5) since = monoUs(); // the first 5 calls (warm-up, name directory) left out
      const t0 = performance.now();
      await call(s.client, tool, args);
      if (i >= 5) units += 1;
      await sleep(Math.max(0, 125 - (performance.now() - t0)));
    }
    until = monoUs();
  } finally {
    await s.close();
    await fake.stop();
  }
  return { ...summarizeProfile(await waitForProfile(dir), 40, since, until), units };
}

export function formatProfile(title: string, p: ProfileSummary, top = 10): string {
  return [
    `${title}: ${num(p.totalMs, 0)} ms of CPU sampled (idle excluded)` +
      (p.units ? ` over ${p.units} tool calls = ${num(p.totalMs / p.units, 2)} ms CPU per call` : ''),
    table(
      ['self time by package / file', 'ms', '%'],
      p.byGroup.slice(0, top).map((g) => [g.group, num(g.ms, 1), num(g.pct, 1)]),
      [false, true, true],
    ),
    table(
      ['hottest functions (self time)', 'ms', '%'],
      p.byFunction.slice(0, top).map((f) => [f.fn.length > 90 ? `${f.fn.slice(0, 87)}...` : f.fn, num(f.ms, 1), num(f.pct, 1)]),
      [false, true, true],
    ),
    table(
      ['inclusive time, crm-mcp and MCP SDK functions', 'ms', '%'],
      p.inclusive.slice(0, top).map((f) => [f.fn.length > 90 ? `${f.fn.slice(0, 87)}...` : f.fn, num(f.ms, 1), num(f.pct, 1)]),
      [false, true, true],
    ),
  ].join('\n');
}

// Standalone use.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    argv.splice(i, 2);
    return v;
  };
  const keep = opt('--keep');
  const top = Number(opt('--top') ?? 10);
  const which = argv;
  const show = (title: string, p: ProfileSummary) => {
    process.stdout.write(`${formatProfile(title, p, top)}\n`);
    if (keep) {
      mkdirSync(keep, { recursive: true });
      const to = join(keep, `${title.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.cpuprofile`);
      copyFileSync(p.file, to);
      process.stdout.write(`profile kept at ${to}\n`);
    }
    process.stdout.write('\n');
  };
  const want = (k: string) => which.length === 0 || which.includes(k);
  const watchdog = setTimeout(() => {
    process.stderr.write('profile: watchdog, stopping\n');
    void cleanup().then(() => process.exit(124));
  }, 120_000);
  watchdog.unref();
  (async () => {
    if (want('cold')) show('cold start (spawn -> tools/list)', await profileColdStart());
    if (want('http')) show('HTTP server, 16 clients', await profileHttp());
    if (want('pipedrive')) {
      if (existsSync(FAKE_PATH)) {
        const p = await profilePipedrive();
        if (p) show('Pipedrive list_deals limit 100', p);
      }
    }
    for (const tool of ['list_stages', 'get_pipeline']) {
      if (which.includes(`pipedrive:${tool}`) && existsSync(FAKE_PATH)) {
        const p = await profilePipedrive(40, tool, tool === 'get_pipeline' ? { pipeline_id: '1' } : {});
        if (p) show(`Pipedrive ${tool}`, p);
      }
    }
  })()
    .then(async () => {
      await cleanup();
      process.exit(0);
    })
    .catch(async (e: unknown) => {
      process.stderr.write(`profile: ${(e as Error).stack ?? String(e)}\n`);
      await cleanup();
      process.exit(1);
    });
}
