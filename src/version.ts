import { createRequire } from 'node:module';

// The bundle gets the version inlined at build time (scripts/build.mjs); from source (tests) it is
// read from package.json, one level above src/.
declare const __CRM_MCP_VERSION__: string | undefined;

export const VERSION: string =
  typeof __CRM_MCP_VERSION__ === 'string'
    ? __CRM_MCP_VERSION__
    : (createRequire(import.meta.url)('../package.json') as { version: string }).version;
