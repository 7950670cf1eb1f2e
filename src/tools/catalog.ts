/**
 * The tools as a server needs them before their first call: what tools/list shows, and what
 * --read-only and --toolsets pick by. In the bundle this is a table the build recorded from the
 * tools' own registration (scripts/build.mjs), so a start evaluates no tool module and builds none
 * of their zod schemas: the tools load on the first call (or validation) of any of them, and from
 * then on each registration hands everything to the real one. Run from source (tests), the tools
 * load at once and register themselves directly.
 */
import type { McpServer, StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import type { ServerTraits, ToolDefinition, ToolEnv } from './define.js';
import type { Toolset } from './toolsets.js';

type Json = Record<string, unknown>;
type ToolHandler = (args: unknown, ctx: unknown) => unknown;
type RegisterTool = (server: McpServer, tool: ToolDefinition, env: ToolEnv, traits: ServerTraits) => void;
export type ToolsModule = { ALL_TOOLS: readonly ToolDefinition[]; registerTool: RegisterTool };

export interface CatalogTool {
  name: string;
  toolset: Toolset;
  readOnly: boolean;
  register(server: McpServer, env: ToolEnv, traits: ServerTraits): void;
}

/**
 * What registerTool gave McpServer.registerTool: each config key -> index of its value in the
 * table's values; a schema's value is the JSON Schema tools/list shows for it.
 */
interface Recorded {
  config: Record<string, number>;
  schemas: Record<string, number>;
}

/** The table built into the bundle; a tool's registration differs by the server's traits. */
export interface CatalogTable {
  /** Distinct values: titles, descriptions, annotations, JSON Schemas. */
  values: unknown[];
  /** Distinct recorded registrations. */
  registrations: Recorded[];
  tools: Array<{ name: string; toolset: Toolset; readOnly: boolean; byTraits: Record<string, number> }>;
}

const TRAITS: ServerTraits[] = [
  { openWorld: false, remoteQuery: false },
  { openWorld: true, remoteQuery: false },
  { openWorld: false, remoteQuery: true },
  { openWorld: true, remoteQuery: true },
];
const traitsKey = (t: ServerTraits) => `${t.openWorld ? 'open' : 'closed'}${t.remoteQuery ? '+remote_query' : ''}`;

const isSchema = (v: unknown): v is StandardSchemaWithJSON =>
  typeof v === 'object' && v !== null && '~standard' in v;

/** Runs the real registerTool against a stand-in server and keeps what it registered. */
function capture(register: RegisterTool, tool: ToolDefinition, env: ToolEnv, traits: ServerTraits) {
  let got: { name: string; config: Json; handler: ToolHandler } | undefined;
  const recorder = {
    registerTool: (name: string, config: Json, handler: ToolHandler) => void (got = { name, config, handler }),
  };
  register(recorder as unknown as McpServer, tool, env, traits);
  if (!got || got.name !== tool.name) throw new Error(`registering ${tool.name} registered ${got?.name ?? 'nothing'}`);
  return got;
}

/** Index of `text` in `texts`, added when new. */
const intern = (texts: string[], text: string) => {
  const at = texts.indexOf(text);
  return at >= 0 ? at : texts.push(text) - 1;
};

/** The table for the bundle (run by the build). */
export function recordCatalog({ ALL_TOOLS, registerTool }: ToolsModule): CatalogTable {
  const values: string[] = [];
  const registrations: string[] = [];
  const record = (tool: ToolDefinition, traits: ServerTraits) => {
    const { config } = capture(registerTool, tool, {} as ToolEnv, traits);
    const out: Recorded = { config: {}, schemas: {} };
    for (const [key, value] of Object.entries(config)) {
      if (isSchema(value)) {
        const json = value['~standard'].jsonSchema[key === 'outputSchema' ? 'output' : 'input']({ target: 'draft-2020-12' });
        out.schemas[key] = intern(values, JSON.stringify(json));
      } else if (value !== undefined) out.config[key] = intern(values, JSON.stringify(value));
    }
    return intern(registrations, JSON.stringify(out));
  };
  const tools = ALL_TOOLS.map((tool) => ({
    name: tool.name,
    toolset: tool.toolset,
    readOnly: tool.readOnly,
    byTraits: Object.fromEntries(TRAITS.map((t) => [traitsKey(t), record(tool, t)])),
  }));
  const parse = (texts: string[]) => texts.map((t) => JSON.parse(t) as unknown);
  return { values: parse(values), registrations: parse(registrations) as Recorded[], tools };
}

type Captured = ReturnType<typeof capture>;

/** A schema that shows its recorded JSON Schema and validates with the real one, once loaded. */
function deferredSchema(json: Json, real: () => Captured | Promise<Captured>, key: string): StandardSchemaWithJSON {
  const validate = (value: unknown, live: Captured) => (live.config[key] as StandardSchemaWithJSON)['~standard'].validate(value);
  return {
    '~standard': {
      version: 1,
      vendor: 'crm-mcp',
      validate: (value: unknown) => {
        const live = real();
        return live instanceof Promise ? live.then((l) => validate(value, l)) : validate(value, live);
      },
      jsonSchema: { input: () => json, output: () => json },
    },
  } as StandardSchemaWithJSON;
}

/** The catalog from the built-in table: tools load through `load` on first use. */
export function fromTable(table: CatalogTable, load: () => Promise<ToolsModule>): CatalogTool[] {
  let loaded: Promise<ToolsModule & { byName: Map<string, ToolDefinition> }> | undefined;
  const tools = () =>
    (loaded ??= load().then((m) => ({ ...m, byName: new Map(m.ALL_TOOLS.map((t) => [t.name, t])) })));
  // What a server is given for a tool, made once per environment and traits: over HTTP a server
  // is built per request, and they all share one environment (and so the SDK's per-schema work).
  const prepared = new WeakMap<ToolEnv, Map<string, { config: Json; handler: ToolHandler }>>();
  const prepare = (name: string, index: number, env: ToolEnv, traits: ServerTraits) => {
    // The real registration, made on first use; afterwards everything goes to it directly.
    let live: Captured | undefined;
    let loading: Promise<Captured> | undefined;
    const real = () =>
      live ??
      (loading ??= tools().then((m) => {
        const tool = m.byName.get(name);
        if (!tool) throw new Error(`the tool ${name} is missing from the bundle`);
        return (live = capture(m.registerTool, tool, env, traits));
      }));
    const recorded = table.registrations[index];
    const config: Json = {};
    for (const [key, at] of Object.entries(recorded.config)) config[key] = table.values[at];
    for (const [key, at] of Object.entries(recorded.schemas)) config[key] = deferredSchema(table.values[at] as Json, real, key);
    const handler: ToolHandler = (args, ctx) => (live ? live.handler(args, ctx) : (real() as Promise<Captured>).then((l) => l.handler(args, ctx)));
    return { config, handler };
  };
  return table.tools.map(({ name, toolset, readOnly, byTraits }) => ({
    name,
    toolset,
    readOnly,
    register(server, env, traits) {
      const index = byTraits[traitsKey(traits)];
      let byIndex = prepared.get(env);
      if (!byIndex) prepared.set(env, (byIndex = new Map()));
      const key = `${name}:${index}`;
      let entry = byIndex.get(key);
      if (!entry) byIndex.set(key, (entry = prepare(name, index, env, traits)));
      server.registerTool(name, { ...entry.config } as never, entry.handler as never);
    },
  }));
}

/** The catalog straight from the loaded tools. */
export function direct({ ALL_TOOLS, registerTool }: ToolsModule): CatalogTool[] {
  return ALL_TOOLS.map((tool) => ({
    name: tool.name,
    toolset: tool.toolset,
    readOnly: tool.readOnly,
    register: (server, env, traits) => registerTool(server, tool, env, traits),
  }));
}

declare const __CRM_MCP_TOOLS__: string | undefined;
const BUILT: CatalogTable | undefined = typeof __CRM_MCP_TOOLS__ === 'string' ? JSON.parse(__CRM_MCP_TOOLS__) : undefined;
const load = () => import('./index.js') as Promise<ToolsModule>;

export const TOOL_CATALOG: readonly CatalogTool[] = BUILT ? fromTable(BUILT, load) : direct(await load());
