// Packs the Claude Desktop extension with the official MCPB CLI: stages manifest.json, the built
// bundle (dist/), LICENSE, README and a minimal package.json, validates, packs, and writes the
// release's server.json (the committed one plus the bundle's release URL and SHA-256).
// `npm run pack:mcpb` builds and regenerates manifest.json first; this script packs what is there
// and refuses a manifest.json that is out of step with the server's tools.
//
// Usage: node --import tsx scripts/pack-mcpb.ts [--out <dir>]   (default: the repository root)
// Writes <dir>/crm-mcp.mcpb and <dir>/server.release.json.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildManifest, json, ROOT as root, withMcpb } from './manifest.js';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = resolve(values.out ?? root);
// The official CLI (its bin), run on this same Node.
const mcpbCli = join(dirname(createRequire(import.meta.url).resolve('@anthropic-ai/mcpb')), 'cli', 'cli.js');

function fail(message: string): never {
  process.stderr.write(`pack-mcpb: ${message}\n`);
  process.exit(1);
}

function mcpb(...args: string[]): string {
  const r = spawnSync(process.execPath, [mcpbCli, ...args], { encoding: 'utf8' });
  if (r.status !== 0) fail(`mcpb ${args[0]} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
if (readFileSync(join(root, 'manifest.json'), 'utf8') !== json(buildManifest())) {
  fail('manifest.json is out of step with the server (tools, settings or version): run npm run manifest.');
}
if (!existsSync(join(root, 'dist', 'cli.js'))) fail('dist/cli.js is missing: run npm run build (npm run pack:mcpb does).');

const stage = mkdtempSync(join(tmpdir(), 'crm-mcp-mcpb-'));
try {
  mkdirSync(join(stage, 'dist'));
  for (const file of readdirSync(join(root, 'dist'))) {
    if (file.endsWith('.js')) cpSync(join(root, 'dist', file), join(stage, 'dist', file));
  }
  for (const file of ['manifest.json', 'LICENSE', 'README.md']) cpSync(join(root, file), join(stage, file));
  // The bundle is ESM; Node needs "type": "module" beside it. No dependencies: everything is bundled,
  // and SQLite is Node's own (node:sqlite), so no native module goes in.
  writeFileSync(
    join(stage, 'package.json'),
    `${JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', license: pkg.license, private: true }, null, 2)}\n`,
  );
  const native = readdirSync(stage, { recursive: true }).filter((f) => String(f).endsWith('.node'));
  if (native.length) fail(`native modules would go into the bundle: ${native.join(', ')}`);

  mcpb('validate', join(stage, 'manifest.json'));
  mkdirSync(out, { recursive: true });
  const bundle = join(out, 'crm-mcp.mcpb');
  rmSync(bundle, { force: true });
  mcpb('pack', stage, bundle);

  const bytes = readFileSync(bundle);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const server = JSON.parse(readFileSync(join(root, 'server.json'), 'utf8'));
  writeFileSync(join(out, 'server.release.json'), json(withMcpb(server, sha256)));
  process.stdout.write(`${bundle}: ${bytes.length} bytes, sha256 ${sha256}\n${join(out, 'server.release.json')}: server.json with the bundle\n`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
