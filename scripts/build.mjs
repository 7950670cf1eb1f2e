// Bundles the server: loading a few chunks instead of hundreds of modules roughly halves start-up,
// and `npx crm-mcp` users pay that on every launch. better-sqlite3 stays external (native). The
// tools' JSON Schemas are computed here, from the same zod schemas, and built in, so a start-up
// converts nothing; so is each tool's registration (src/tools/catalog.ts), so a start-up loads no
// tool module at all. Runs under tsx (npm run build) to import the TypeScript sources.
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS } from './bundle-options.ts';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const tools = await import('../src/tools/index.ts'); // defines every tool, registering its schemas
const { PRECOMPUTED } = await import('../src/tools/schema.ts');
const { recordCatalog } = await import('../src/tools/catalog.ts');
const schemas = Object.fromEntries(
  [...PRECOMPUTED].map(([key, s]) => [key, { input: s['~standard'].jsonSchema.input(), output: s['~standard'].jsonSchema.output() }]),
);

rmSync('dist', { recursive: true, force: true });
await build({
  ...BUNDLE_OPTIONS,
  // dist/cli.js is the small entry that turns on the compile cache, then imports the server.
  entryPoints: { cli: 'src/bin.ts' },
  outdir: 'dist',
  define: {
    __CRM_MCP_VERSION__: JSON.stringify(version),
    __CRM_MCP_SCHEMAS__: JSON.stringify(JSON.stringify(schemas)),
    // What tools/list shows of every tool, recorded from their registration: a start loads no tool code.
    __CRM_MCP_TOOLS__: JSON.stringify(JSON.stringify(recordCatalog(tools))),
  },
  external: ['better-sqlite3'],
});
chmodSync('dist/cli.js', 0o755);
