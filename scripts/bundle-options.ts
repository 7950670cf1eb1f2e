// esbuild options shared by the build (scripts/build.mjs) and the bench's floor, a minimal MCP
// server bundled exactly like crm-mcp (bench/startup.ts), so start-up figures compare like for like.
import { readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import type { BuildOptions, Plugin } from 'esbuild';

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

// Bundled CommonJS dependencies, and built-ins (below), call require(): every chunk gets one, made
// once per process and without an import of node:module (its facade is a cost of its own).
const BANNER =
  "const require=(globalThis[Symbol.for('crm-mcp.require')]??=globalThis.process.getBuiltinModule('node:module').createRequire(import.meta.url));";

/** `a as b, c` (import clause) -> `a: b, c` (destructuring). */
const destructure = (named: string) =>
  named
    .split(',')
    .map((s) => s.trim().replace(/\s+as\s+/, ':'))
    .join(',');

/**
 * Rewrites the bundle's imports of Node built-ins (`import{x as y}from"node:fs";`) into require()
 * calls (`const{x:y}=require("node:fs");`). Node builds an ES module facade for each built-in an
 * ES module imports, copying all its exports: about 0.7 ms per built-in at every start-up;
 * require() just hands the module over. Statements are matched as esbuild writes them, at a
 * statement boundary; `expected` is how many esbuild reports for the file, so a miss or a match
 * inside a string fails the build instead of changing the code.
 */
export function requireBuiltins(code: string, expected: number, file = 'output'): string {
  const hoisted: string[] = [];
  let found = 0;
  const rest = code.replace(
    /(?<=^|[;}\n])import\s*(?:(?:\*\s*as\s+([\w$]+)|([\w$]+)?\s*,?\s*(?:\{([^}]*)\})?)\s*from\s*)?"([^"]+)";/g,
    (all, star: string | undefined, def: string | undefined, named: string | undefined, spec: string) => {
      if (!BUILTINS.has(spec)) return all;
      found += 1;
      const from = `require(${JSON.stringify(spec)})`;
      if (star) hoisted.push(`const ${star}=${from};`);
      if (def) hoisted.push(`const ${def}=${from};`);
      if (named) hoisted.push(`const{${destructure(named)}}=${from};`);
      if (!star && !def && !named) hoisted.push(`${from};`);
      return '';
    },
  );
  if (found !== expected) {
    throw new Error(`${file}: found ${found} imports of Node built-ins where esbuild reports ${expected}; not rewritten`);
  }
  // Where the banner ends: the requires go first, as the imports they replace ran first.
  const at = rest.indexOf(BANNER) >= 0 ? rest.indexOf(BANNER) + BANNER.length : rest.startsWith('#!') ? rest.indexOf('\n') + 1 : 0;
  return rest.slice(0, at) + hoisted.join('') + rest.slice(at);
}

const builtinsByRequire: Plugin = {
  name: 'builtins-by-require',
  setup(build) {
    build.onEnd((result) => {
      for (const [file, output] of Object.entries(result.metafile?.outputs ?? {})) {
        const expected = output.imports.filter((i) => i.external && i.kind === 'import-statement' && BUILTINS.has(i.path)).length;
        if (!expected) continue;
        writeFileSync(file, requireBuiltins(readFileSync(file, 'utf8'), expected, file));
      }
    });
  },
};

export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  // Code behind dynamic imports goes to chunks loaded on demand.
  splitting: true,
  chunkNames: '[name]-[hash]',
  banner: { js: BANNER },
  plugins: [builtinsByRequire],
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
};
