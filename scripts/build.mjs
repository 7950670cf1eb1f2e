// Bundles the server: loading a few chunks instead of hundreds of modules roughly halves start-up,
// and `npx crm-mcp` users pay that on every launch. better-sqlite3 stays external (native, optional:
// required only on a Node without node:sqlite, by src/crm/sqlite.ts, never imported statically). The
// tools' JSON Schemas are computed here, from the same zod schemas, and built in, so a start-up
// converts nothing; so is each tool's registration (src/tools/catalog.ts), so a start-up loads no
// tool module at all. Runs under tsx (npm run build) to import the TypeScript sources.
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS } from './bundle-options.ts';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const tools = await import('../src/tools/index.ts'); // defines every tool, registering its schemas
const { PRECOMPUTED } = await import('../src/tools/schema.ts');
const { recordCatalog } = await import('../src/tools/catalog.ts');
const schemas = Object.fromEntries(
  [...PRECOMPUTED].map(([key, s]) => [key, { input: s['~standard'].jsonSchema.input(), output: s['~standard'].jsonSchema.output() }]),
);

/**
 * Makes every module loaded by a dynamic import (tools, remote providers, HTTP, the key store) also
 * import the server (src/cli.ts) statically. At run time that import is a no-op: such modules are
 * only ever loaded by the running server. At build time it makes esbuild see the whole start-up
 * graph as shared by all of them, so it lands in one chunk instead of a dozen small ones that each
 * cost a module load at start-up.
 */
const SERVER = resolve('src/cli.ts');
const startupInOneChunk = {
  name: 'start-up-in-one-chunk',
  setup(b) {
    const lazy = new Set();
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.kind !== 'dynamic-import' || args.pluginData === 'resolving') return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'resolving' });
      if (!r.errors.length && r.path.startsWith(resolve('src')) && r.path !== SERVER) lazy.add(r.path);
      return r;
    });
    b.onLoad({ filter: /\.ts$/ }, (args) =>
      lazy.has(args.path)
        ? { contents: `import ${JSON.stringify(SERVER)};\n${readFileSync(args.path, 'utf8')}`, loader: 'ts', resolveDir: dirname(args.path) }
        : undefined,
    );
  },
};

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
  plugins: [...BUNDLE_OPTIONS.plugins, startupInOneChunk],
});
chmodSync('dist/cli.js', 0o755);
