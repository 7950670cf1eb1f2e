/**
 * Where start-up time goes: in a fresh node process, import the packages and dist modules the stdio
 * server loads, one after another, timing each import. A module already pulled in by an earlier
 * one costs ~0 later, so each row is the increment over the rows above it.
 */
import { spawn } from 'node:child_process';
import { ROOT, NODE, childEnv, trackPid, untrackPid, withTimeout } from './procs.js';
import { median } from './stats.js';

/** In load order. express and @modelcontextprotocol/node load only with --http. */
export const STARTUP_MODULES = [
  'zod',
  'better-sqlite3',
  '@modelcontextprotocol/server',
  '@modelcontextprotocol/server/stdio',
  'express',
  '@modelcontextprotocol/node',
];
// The project's own code ships as a bundle (dist/cli.js and the chunks it loads, built by
// scripts/build.mjs), which runs the server when imported; its share is the `--version` timing
// minus these rows. Section (g) compares the whole start-up with a minimal server's.

const SCRIPT = `
const mods = JSON.parse(process.argv[1]);
const out = [];
for (const m of mods) {
  const t0 = performance.now();
  try { await import(m); out.push([m, performance.now() - t0]); }
  catch (e) { out.push([m, -1]); }
}
process.stdout.write(JSON.stringify(out));
`;

function once(mods: string[]): Promise<Array<[string, number]>> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const child = spawn(NODE, ['--input-type=module', '-e', SCRIPT, JSON.stringify(mods)], {
        cwd: ROOT,
        env: childEnv(),
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      trackPid(child.pid);
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.once('error', reject);
      child.once('exit', () => {
        untrackPid(child.pid);
        try {
          resolve(JSON.parse(out) as Array<[string, number]>);
        } catch {
          reject(new Error(`import timing produced no result: ${out.slice(0, 200)}`));
        }
      });
    }),
    20_000,
    'import timing',
  );
}

export async function importBreakdown(runs = 3, mods = STARTUP_MODULES): Promise<Array<{ module: string; ms: number }>> {
  const all: Array<Array<[string, number]>> = [];
  for (let i = 0; i < runs; i++) all.push(await once(mods));
  return mods.map((m, i) => ({ module: m, ms: median(all.map((r) => r[i]?.[1] ?? Number.NaN)) }));
}
