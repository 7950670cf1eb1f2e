// Bundles the server into one file: loading one module instead of hundreds cuts start-up by about
// a quarter, and `npx crm-mcp` users pay that on every launch. better-sqlite3 stays external (native).
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/cli.ts'],
  outdir: 'dist',
  // Code behind dynamic imports (HTTP transport, remote providers) goes to chunks loaded on demand.
  splitting: true,
  chunkNames: '[name]-[hash]',
  define: { __CRM_MCP_VERSION__: JSON.stringify(version) },
  minify: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3'],
  // Bundled CommonJS dependencies call require(); give them one.
  banner: { js: "import { createRequire as __crmMcpRequire } from 'node:module'; const require = __crmMcpRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
});
chmodSync('dist/cli.js', 0o755);
