/**
 * The Node 24 binary for tests that must run something under Node 24 whatever Node runs vitest
 * (the installed npm tarball, the unpacked .mcpb, a database opened by both drivers):
 * CRM_MCP_TEST_NODE24 (`.ci/run` sets it to the npm registry's node@24), or this very process
 * when it already runs on Node 24.
 *
 * Without one, a suite is skipped with the reason in its name; under CI (CI set) it fails instead,
 * so CI never passes by skipping.
 */
import { execFileSync } from 'node:child_process';
import { delimiter, dirname } from 'node:path';

export interface Node24 {
  /** Absolute path of a Node 24 binary, or undefined when there is none (the suite skips). */
  path: string | undefined;
  /** Appended to a suite's name: empty, or why it is skipped. */
  note: string;
}

function major(nodeBinary: string): number {
  const version = execFileSync(nodeBinary, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
  return Number(version.split('.')[0]);
}

export function findNode24(): Node24 {
  const given = process.env.CRM_MCP_TEST_NODE24;
  if (given) {
    const m = major(given);
    if (m !== 24) throw new Error(`CRM_MCP_TEST_NODE24=${given} is Node ${m}, not Node 24.`);
    return { path: given, note: '' };
  }
  if (Number(process.versions.node.split('.')[0]) === 24) return { path: process.execPath, note: '' };
  const why = 'CRM_MCP_TEST_NODE24 is not set (.ci/run sets it to the node@24 package; npx -y -p node@24 node -p process.execPath prints one)';
  if (process.env.CI) throw new Error(`This suite needs Node 24 and CI is set: ${why}.`);
  // The reporter lists skipped tests only in verbose mode: say it where it is always seen.
  console.warn(`Skipping the Node 24 tests of this file: ${why}.`);
  return { path: undefined, note: ` [skipped: ${why}]` };
}

/** PATH with the Node 24 binary's folder first, so `node`, `npm` and `#!/usr/bin/env node` bins run on it. */
export function pathWithNode(nodeBinary: string): string {
  return [dirname(nodeBinary), process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(delimiter);
}
