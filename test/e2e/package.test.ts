/**
 * The npm tarball as a user gets it: `npm pack` of this repository, installed into an empty folder
 * under Node 24 offline from an empty cache with optional dependencies left out (so nothing may be
 * needed but the tarball itself, and no compiler), then its bin serves a tool call through the real
 * MCP client. dist/ is built by `npm test`; the pack skips `prepack` so it does not rebuild dist/
 * under the other suites' feet (a test below checks that prepack builds).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../helpers/mcp.js';
import { findNode24, pathWithNode } from '../helpers/nodes.js';
import { assertBuilt, ROOT, scratchHome, startStdio, stopAll, tempDbPath, tempDir } from '../helpers/server.js';

afterAll(stopAll);

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const NODE24 = findNode24();

interface NpmRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** npm with a clean environment (nothing of the `npm test` that runs us leaks in) and the given PATH. */
function npm(args: string[], cwd: string, path = process.env.PATH ?? ''): NpmRun {
  const r: SpawnSyncReturns<string> = spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    env: { PATH: path, HOME: scratchHome(), npm_config_update_notifier: 'false' },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

function pack(destination: string): { filename: string; files: string[] } {
  assertBuilt();
  const r = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', destination], ROOT);
  expect(r.code, r.stderr).toBe(0);
  const [info] = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
  return { filename: join(destination, info.filename), files: info.files.map((f) => f.path).sort() };
}

const walk = (dir: string): string[] => readdirSync(dir, { recursive: true }).map(String);

describe('the npm package', () => {
  it('says where it comes from, what it runs on, and which registry entry it is', () => {
    expect(pkg.license).toBe('Apache-2.0');
    expect(pkg.repository).toEqual({ type: 'git', url: 'git+https://github.com/crm-mcp/crm-mcp.git' });
    expect(pkg.homepage).toBe('https://github.com/crm-mcp/crm-mcp#readme');
    expect(pkg.bugs).toEqual({ url: 'https://github.com/crm-mcp/crm-mcp/issues' });
    expect(pkg.mcpName).toBe('io.github.crm-mcp/crm-mcp');
    // CI runs the suite on Node 20 (the floor) and 24; .ci/run fails on a Node 20 older than this.
    expect(pkg.engines).toEqual({ node: '>=20.19' });
    expect(pkg.bin).toEqual({ 'crm-mcp': 'dist/cli.js' });
  });

  it('builds before packing and runs nothing on the user’s install', () => {
    expect(pkg.scripts.prepack).toBe('npm run build');
    for (const hook of ['prepare', 'preinstall', 'install', 'postinstall']) expect(pkg.scripts[hook], hook).toBeUndefined();
    // npm ci no longer builds, so the fresh-clone commands build first.
    expect(pkg.scripts.prestart).toBe('npm run build');
    expect(pkg.scripts.test).toMatch(/^npm run build && /);
  });

  it('has no runtime dependency but the optional SQLite driver for a Node without node:sqlite', () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(Object.keys(pkg.optionalDependencies ?? {})).toEqual(['better-sqlite3']);
  });

  it('LICENSE is the Apache License 2.0', () => {
    const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^\s+Apache License\n\s+Version 2\.0, January 2004\n/);
    expect(license).toContain('END OF TERMS AND CONDITIONS');
  });

  it('packs the built bundle, README, LICENSE and package.json, nothing else', () => {
    const { files } = pack(tempDir());
    expect(files).toContain('dist/cli.js');
    expect(files.filter((f) => !f.startsWith('dist/'))).toEqual(['LICENSE', 'README.md', 'package.json']);
    expect(files.filter((f) => f.startsWith('dist/') && !f.endsWith('.js'))).toEqual([]);
  });
});

describe.skipIf(!NODE24.path)(`the npm tarball installed under Node 24${NODE24.note}`, () => {
  const node24 = NODE24.path!;
  let project: string;

  beforeAll(() => {
    const { filename } = pack(tempDir());
    project = tempDir();
    writeFileSync(join(project, 'package.json'), '{ "name": "scratch", "private": true }\n');
    const install = npm(
      ['install', '--omit=optional', '--offline', '--cache', join(project, '.empty-cache'), '--no-audit', '--no-fund', filename],
      project,
      pathWithNode(node24),
    );
    expect(install.code, `npm install of the tarball failed:\n${install.stdout}${install.stderr}`).toBe(0);
  });

  it('installs offline from an empty cache: nothing but crm-mcp itself, no native module', () => {
    const modules = readdirSync(join(project, 'node_modules')).filter((f) => !f.startsWith('.'));
    expect(modules).toEqual(['crm-mcp']);
    expect(walk(join(project, 'node_modules')).filter((f) => f.endsWith('.node'))).toEqual([]);
    const installed = JSON.parse(readFileSync(join(project, 'node_modules/crm-mcp/package.json'), 'utf8'));
    expect(installed.version).toBe(pkg.version);
  });

  it('its bin answers --version on Node 24', () => {
    const r = spawnSync(join(project, 'node_modules/.bin/crm-mcp'), ['--version'], {
      encoding: 'utf8',
      env: { PATH: pathWithNode(node24), HOME: scratchHome() },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${pkg.version}\n`);
  });

  it('its bin serves tool calls over stdio on Node 24', async () => {
    const db = tempDbPath();
    const server = await startStdio({
      launch: { command: join(project, 'node_modules/.bin/crm-mcp') },
      db,
      env: { PATH: pathWithNode(node24) },
    });
    try {
      // The bin's `#!/usr/bin/env node` found Node 24 first on PATH.
      if (existsSync(`/proc/${server.pid}/exe`)) {
        expect(realpathSync(`/proc/${server.pid}/exe`)).toBe(realpathSync(node24));
      }
      const { s } = await ok(server.client, 'list_pipelines');
      expect(s.pipelines.length).toBeGreaterThan(0);
      const first = s.pipelines[0];
      const got = await ok(server.client, 'get_pipeline', { pipeline_id: first.id });
      expect(got.s.pipeline.id).toBe(first.id);
      expect(got.s.pipeline.stages.length).toBeGreaterThan(0);
      expect(existsSync(db)).toBe(true);
    } finally {
      await server.close();
    }
  });
});
