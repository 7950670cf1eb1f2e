// esbuild options shared by the build (scripts/build.mjs) and the bench's floor, a minimal MCP
// server bundled exactly like crm-mcp (bench/startup.ts), so start-up figures compare like for like.
import type { BuildOptions } from 'esbuild';

export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  // Code behind dynamic imports goes to chunks loaded on demand.
  splitting: true,
  chunkNames: '[name]-[hash]',
  // Bundled CommonJS dependencies call require(); give them one.
  banner: { js: "import { createRequire as __crmMcpRequire } from 'node:module'; const require = __crmMcpRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
};
