/**
 * The Claude Desktop extension end to end: scripts/pack-mcpb.ts (what `npm run pack:mcpb` runs
 * after building) packs crm-mcp.mcpb with the official MCPB CLI; the bundle is unpacked with that
 * CLI, its mcp_config is resolved by MCPB's own resolver as a client does (defaults, the user's
 * settings, unset ones left as templates), and the unpacked server is driven over stdio by the
 * real MCP client under Node 24 on the local provider with a temp database.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getMcpConfigForManifest } from '@anthropic-ai/mcpb/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MCPB_CLI as mcpbCli } from '../../scripts/manifest.js';
import { ok } from '../helpers/mcp.js';
import { findNode24 } from '../helpers/nodes.js';
import { assertBuilt, ROOT, scratchDir, scratchHome, startStdio, stopAll, tempDbPath, tempDir } from '../helpers/server.js';

afterAll(stopAll);

const NODE24 = findNode24();
const committedManifest = JSON.parse(readFileSync(join(ROOT, 'manifest.json'), 'utf8'));

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${[command, ...args].join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

const mcpb = (...args: string[]) => run(process.execPath, [mcpbCli, ...args]);

let out: string;
let bundle: string;
let unpacked: string;

beforeAll(() => {
  assertBuilt();
  out = tempDir();
  run(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/pack-mcpb.ts'), '--out', out]);
  bundle = join(out, 'crm-mcp.mcpb');
  unpacked = tempDir();
  mcpb('unpack', bundle, unpacked);
});

describe('crm-mcp.mcpb', () => {
  it("validates with the MCPB CLI, and the CLI's validator refuses a broken manifest", () => {
    expect(mcpb('validate', join(unpacked, 'manifest.json'))).toMatch(/validation passes/i);
    const broken = spawnSync(process.execPath, [mcpbCli, 'validate', join(ROOT, 'package.json')], { encoding: 'utf8' });
    expect(broken.status).not.toBe(0);
  });

  it('holds the manifest, the built bundle, LICENSE, README and an ESM package.json; no native module, no node_modules', () => {
    const files = readdirSync(unpacked, { recursive: true }).map(String).sort();
    expect(files.filter((f) => !f.startsWith('dist'))).toEqual(['LICENSE', 'README.md', 'manifest.json', 'package.json']);
    const built = readdirSync(join(ROOT, 'dist')).filter((f) => f.endsWith('.js')).sort();
    expect(files.filter((f) => f.startsWith('dist/'))).toEqual(built.map((f) => `dist/${f}`));
    expect(files.some((f) => f.endsWith('.node'))).toBe(false);
    expect(JSON.parse(readFileSync(join(unpacked, 'manifest.json'), 'utf8'))).toEqual(committedManifest);
    expect(JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'))).toMatchObject({ type: 'module', version: committedManifest.version });
    expect(readFileSync(join(unpacked, 'dist/cli.js'))).toEqual(readFileSync(join(ROOT, 'dist/cli.js')));
  });

  it('comes with the release server.json: the bundle at its release URL with its true SHA-256', () => {
    const release = JSON.parse(readFileSync(join(out, 'server.release.json'), 'utf8'));
    const sha = createHash('sha256').update(readFileSync(bundle)).digest('hex');
    expect(release.packages.map((p: { registryType: string }) => p.registryType)).toEqual(['npm', 'mcpb']);
    expect(release.packages[1].fileSha256).toBe(sha);
    expect(release.packages[1].identifier).toBe(
      `https://github.com/crm-mcp/crm-mcp/releases/download/v${committedManifest.version}/crm-mcp.mcpb`,
    );
  });
});

describe.skipIf(!NODE24.path)(`crm-mcp.mcpb unpacked and served under Node 24${NODE24.note}`, () => {
  const node24 = NODE24.path!;

  async function serveExtension(userConfig: Record<string, string | boolean>) {
    const config = await getMcpConfigForManifest({
      manifest: committedManifest,
      extensionPath: unpacked,
      systemDirs: { HOME: scratchHome() },
      userConfig,
      pathSeparator: '/',
    });
    if (!config) throw new Error('MCPB resolved no mcp_config');
    expect(config.command).toBe('node'); // the client runs it on its own Node: here, Node 24
    return startStdio({ launch: { command: node24, args: config.args }, noDb: true, env: config.env ?? {} });
  }

  it('serves every tool the manifest lists, on the database chosen in its settings', async () => {
    const db = tempDbPath();
    const server = await serveExtension({ provider: 'local', database: db });
    try {
      const { tools } = await server.client.listTools();
      expect(tools.map((t) => t.name)).toEqual(committedManifest.tools.map((t: { name: string }) => t.name));
      const { s } = await ok(server.client, 'list_pipelines');
      const pipeline = await ok(server.client, 'get_pipeline', { pipeline_id: s.pipelines[0].id });
      expect(pipeline.s.pipeline.stages.length).toBeGreaterThan(0);
      const deals = await ok(server.client, 'list_deals', { limit: 5 });
      expect(deals.s.deals.length).toBe(5);
      expect(existsSync(db)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('starts with nothing set: the demo CRM in ~/.crm-mcp, unset settings ignored', async () => {
    const server = await serveExtension({});
    try {
      const { s } = await ok(server.client, 'list_connections');
      expect(s.connections.map((c: { provider: string }) => c.provider)).toEqual(['local']);
      expect(existsSync(join(scratchHome(), '.crm-mcp', 'crm.db'))).toBe(true);
      expect(existsSync(join(scratchDir(), '${user_config.database}'))).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('read-only from its settings offers only tools that change nothing', async () => {
    const server = await serveExtension({ database: tempDbPath(), read_only: true, toolsets: 'deals' });
    try {
      const names = (await server.client.listTools()).tools.map((t) => t.name).sort();
      expect(names).toEqual(['get_deal', 'list_connections', 'list_deals', 'list_users', 'search']);
    } finally {
      await server.close();
    }
  });
});
