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
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildManifest, json, MCPB_CLI, ROOT, withMcpb } from './manifest.js';

function mcpb(...args: string[]): void {
  const r = spawnSync(process.execPath, [MCPB_CLI, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mcpb ${args[0]} failed:\n${r.stdout}${r.stderr}`);
}

function pack(out: string): void {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  if (readFileSync(join(ROOT, 'manifest.json'), 'utf8') !== json(buildManifest())) {
    throw new Error('manifest.json is out of step with the server (tools, settings or version): run npm run manifest.');
  }
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run npm run build (npm run pack:mcpb does).');

  const stage = mkdtempSync(join(tmpdir(), 'crm-mcp-mcpb-'));
  try {
    mkdirSync(join(stage, 'dist'));
    for (const file of readdirSync(join(ROOT, 'dist'))) {
      if (file.endsWith('.js')) cpSync(join(ROOT, 'dist', file), join(stage, 'dist', file));
    }
    for (const file of ['manifest.json', 'LICENSE', 'README.md']) cpSync(join(ROOT, file), join(stage, file));
    // The bundle is ESM, so Node needs "type": "module" beside it. No dependencies: everything is
    // bundled, and SQLite is Node's own (node:sqlite), so no native module goes in.
    const staged = { name: pkg.name, version: pkg.version, type: 'module', license: pkg.license, private: true };
    writeFileSync(join(stage, 'package.json'), json(staged));
    const native = readdirSync(stage, { recursive: true }).filter((f) => String(f).endsWith('.node'));
    if (native.length) throw new Error(`native modules would go into the bundle: ${native.join(', ')}`);

    mcpb('validate', join(stage, 'manifest.json'));
    mkdirSync(out, { recursive: true });
    const bundle = join(out, 'crm-mcp.mcpb');
    rmSync(bundle, { force: true });
    mcpb('pack', stage, bundle);

    const bytes = readFileSync(bundle);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const release = join(out, 'server.release.json');
    writeFileSync(release, json(withMcpb(JSON.parse(readFileSync(join(ROOT, 'server.json'), 'utf8')), sha256)));
    process.stdout.write(`${bundle}: ${bytes.length} bytes, sha256 ${sha256}\n${release}: server.json with the bundle\n`);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

try {
  pack(resolve(parseArgs({ options: { out: { type: 'string' } } }).values.out ?? ROOT));
} catch (e) {
  process.stderr.write(`pack-mcpb: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
