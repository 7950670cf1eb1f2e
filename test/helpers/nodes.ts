/**
 * Other Node binaries on this machine, for tests that need the SQLite driver the running Node does
 * not use: node:sqlite (Node 22.13+, 24) or better-sqlite3 (Node 20). Nothing is downloaded (tests
 * run offline): CRM_MCP_TEST_NODE24 names a Node 24 (CI sets it), else the npx cache (where
 * `npx -y -p node@24` put one) and PATH are searched. CRM_MCP_TEST_NODE20 may name a Node 20.
 * Also the Node 24 for tests that must run something under it whatever Node runs vitest (the
 * installed npm tarball, the unpacked .mcpb).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface NodeBinary {
  path: string;
  version: string;
  driver: 'node:sqlite' | 'better-sqlite3';
}

/** Which SQLite driver a Node binary would use here; undefined if it has none or does not run. */
function probe(path: string): NodeBinary | undefined {
  const script = `
    const sqlite = process.getBuiltinModule?.('node:sqlite');
    let driver = sqlite ? 'node:sqlite' : undefined;
    if (!driver) {
      try { const D = require('better-sqlite3'); new D(':memory:').close(); driver = 'better-sqlite3'; } catch {}
    }
    process.stdout.write(JSON.stringify({ version: process.versions.node, driver }));`;
  try {
    const out = execFileSync(path, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
    const { version, driver } = JSON.parse(out.toString()) as Omit<NodeBinary, 'path'>;
    return driver ? { path, version, driver } : undefined;
  } catch {
    return undefined;
  }
}

function candidates(): string[] {
  const found: string[] = [];
  const npx = join(homedir(), '.npm', '_npx');
  if (existsSync(npx)) {
    for (const dir of readdirSync(npx)) found.push(join(npx, dir, 'node_modules', 'node', 'bin', 'node'));
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) found.push(join(dir, 'node'));
  found.push('/usr/bin/node', '/usr/local/bin/node');
  return [...new Set(found.map((p) => resolve(p)))].filter((p) => existsSync(p) && p !== process.execPath);
}

const major = (b: NodeBinary) => Number(b.version.split('.')[0]);
let cache: NodeBinary[] | undefined;

function others(): NodeBinary[] {
  cache ??= candidates()
    .map(probe)
    .filter((b): b is NodeBinary => b !== undefined && b.version !== process.versions.node);
  return cache;
}

function named(variable: string): NodeBinary | undefined {
  const path = process.env[variable];
  if (!path) return undefined;
  const binary = probe(path);
  if (!binary) throw new Error(`${variable}=${path} is not a Node binary with a usable SQLite driver.`);
  return binary;
}

/**
 * A Node binary that runs the driver this process does not, or why there is none. With CI set, a
 * missing Node 24 is an error: CI must exercise both drivers.
 */
export function otherDriverNode(current: NodeBinary['driver']): { node?: NodeBinary; reason: string } {
  if (current === 'better-sqlite3') {
    const node =
      named('CRM_MCP_TEST_NODE24') ??
      others()
        .filter((b) => b.driver === 'node:sqlite')
        .sort((a, b) => major(b) - major(a))[0];
    if (node) return { node, reason: '' };
    const reason = 'no Node with node:sqlite found (set CRM_MCP_TEST_NODE24, or run `npx -y -p node@24 node -v` once)';
    if (process.env.CI) throw new Error(`CI must test both SQLite drivers, but ${reason}.`);
    return { reason };
  }
  const node = named('CRM_MCP_TEST_NODE20') ?? others().find((b) => b.driver === 'better-sqlite3');
  if (node) return { node, reason: '' };
  return {
    reason: 'no Node that loads better-sqlite3 found (set CRM_MCP_TEST_NODE20); the Node 20 pass runs this check',
  };
}

/** Every other Node binary found here that has a usable SQLite driver, newest first. */
export function otherNodes(): NodeBinary[] {
  const named24 = named('CRM_MCP_TEST_NODE24');
  const found = [...(named24 ? [named24] : []), ...others()].sort((a, b) => major(b) - major(a));
  return found.filter((b, i) => found.findIndex((o) => o.version === b.version) === i);
}

/**
 * A file for `node --require` that makes better-sqlite3 impossible to load, as where the optional
 * dependency was not installed. Written once per process into `dir`.
 */
export function betterSqlite3Blocker(dir: string): string {
  const path = join(dir, 'no-better-sqlite3.cjs');
  writeFileSync(
    path,
    `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (id, ...rest) {
  if (id === 'better-sqlite3') throw Object.assign(new Error("Cannot find module 'better-sqlite3'"), { code: 'MODULE_NOT_FOUND' });
  return resolve.call(this, id, ...rest);
};
`,
  );
  return path;
}

export interface Node24 {
  /** Absolute path of a Node 24 binary, or undefined when there is none (the suite skips). */
  path: string | undefined;
  /** Appended to a suite's name: empty, or why it is skipped. */
  note: string;
}

/**
 * This process when it runs on Node 24, else CRM_MCP_TEST_NODE24, else one found here. Without one
 * a suite is skipped with the reason in its name; under CI it fails instead, so CI never passes by
 * skipping.
 */
export function findNode24(): Node24 {
  if (Number(process.versions.node.split('.')[0]) === 24) return { path: process.execPath, note: '' };
  const given = named('CRM_MCP_TEST_NODE24');
  if (given && major(given) !== 24) throw new Error(`CRM_MCP_TEST_NODE24=${given.path} is Node ${given.version}, not Node 24.`);
  const found = given ?? others().find((b) => major(b) === 24);
  if (found) return { path: found.path, note: '' };
  const why = 'no Node 24 found (.ci/run sets CRM_MCP_TEST_NODE24 to the node@24 package; npx -y -p node@24 node -p process.execPath prints one)';
  if (process.env.CI) throw new Error(`This suite needs Node 24 and CI is set: ${why}.`);
  // The reporter lists skipped tests only in verbose mode: say it where it is always seen.
  console.warn(`Skipping the Node 24 tests of this file: ${why}.`);
  return { path: undefined, note: ` [skipped: ${why}]` };
}

/** PATH with a Node binary's folder first, so `node`, `npm` and `#!/usr/bin/env node` bins run on it. */
export function pathWithNode(nodeBinary: string): string {
  return [dirname(nodeBinary), process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(delimiter);
}
