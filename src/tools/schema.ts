/**
 * Tool schemas converted to JSON Schema once per process, and kept small.
 *
 * The SDK converts a zod schema on every `tools/list`, and over HTTP every request builds a new
 * server, so conversion would run per request. Wrapping each zod schema in a Standard Schema whose
 * JSON form is precomputed makes the per-request factory cheap; zod still validates every call.
 * The JSON is compacted because every byte of `tools/list` sits in the model's context.
 */
import type { StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import * as z from 'zod';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Drops keywords that restate defaults: `$schema` (2020-12 is MCP's default dialect), closed-object
 * and string-key markers, empty property lists. In output schemas nested `required` lists go too:
 * records are open and the server validates what it sends with zod anyway.
 */
function strip(node: unknown, io: 'input' | 'output', depth = 0): unknown {
  if (Array.isArray(node)) return node.map((n) => strip(n, io, depth + 1));
  if (!isObject(node)) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$schema') continue;
    if (k === 'properties' && isObject(v) && Object.keys(v).length === 0) continue;
    if (k === 'required' && io === 'output' && depth > 0) continue;
    // Output enums restate what the values show; inputs keep theirs (the model must choose one).
    if (k === 'enum' && io === 'output') continue;
    if (k === 'additionalProperties' && (v === false || (isObject(v) && Object.keys(v).length === 0))) continue;
    if (k === 'propertyNames' && isObject(v) && v.type === 'string' && Object.keys(v).length === 1) continue;
    // zod's int() bounds: JSON numbers cannot exceed them anyway.
    if ((k === 'minimum' && v === Number.MIN_SAFE_INTEGER) || (k === 'maximum' && v === Number.MAX_SAFE_INTEGER)) continue;
    out[k] = strip(v, io, depth + 1);
  }
  return out;
}

/** The identity of a subschema for sharing: itself without its description. */
function shapeKey(node: Json): string {
  const { description: _, ...rest } = node;
  return JSON.stringify(rest);
}

/**
 * Moves object subschemas that occur more than once (e.g. the {id, name} reference) into $defs;
 * a description stays beside the $ref.
 */
function dedupe(root: Json): Json {
  const counts = new Map<string, number>();
  const visit = (node: unknown, depth: number) => {
    if (Array.isArray(node)) return node.forEach((n) => visit(n, depth));
    if (!isObject(node)) return;
    if (depth > 0 && node.type === 'object') {
      const key = shapeKey(node);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const v of Object.values(node)) visit(v, depth + 1);
  };
  visit(root, 0);
  const defs: Json = {};
  const names = new Map<string, string>();
  for (const [key, n] of counts) {
    // Worth it only when the $ref form is shorter in total.
    if (n > 1 && key.length * (n - 1) > n * 24 + 12) {
      const name = `d${names.size}`;
      names.set(key, name);
      defs[name] = JSON.parse(key);
    }
  }
  if (!names.size) return root;
  const replace = (node: unknown, depth: number): unknown => {
    if (Array.isArray(node)) return node.map((n) => replace(n, depth));
    if (!isObject(node)) return node;
    const name = depth > 0 && node.type === 'object' ? names.get(shapeKey(node)) : undefined;
    if (name) return { $ref: `#/$defs/${name}`, ...(node.description ? { description: node.description } : {}) };
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, replace(v, depth + 1)]));
  };
  // Definitions may themselves contain smaller repeated objects.
  const replacedDefs = Object.fromEntries(
    Object.entries(defs).map(([name, def]) => [name, Object.fromEntries(Object.entries(def as Json).map(([k, v]) => [k, replace(v, 1)]))]),
  );
  return { ...(replace(root, 0) as Json), $defs: replacedDefs };
}

export function compactJsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  return dedupe(strip(z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }), io) as Json);
}

// The bundle carries every tool's JSON Schemas, computed by scripts/build.mjs from these very zod
// schemas, so a start-up does no conversion; run from source (tests), they are converted on first use.
// They come as one JSON text: JSON.parse reads it faster than V8 parses the same object as code,
// and a string is inlined where it is used, not hoisted into a chunk of its own.
declare const __CRM_MCP_SCHEMAS__: string | undefined;
const BUILT: Record<string, { input: Json; output: Json }> | undefined =
  typeof __CRM_MCP_SCHEMAS__ === 'string' ? JSON.parse(__CRM_MCP_SCHEMAS__) : undefined;

/** Every precomputed schema by its key, for the build script. */
export const PRECOMPUTED = new Map<string, StandardSchemaWithJSON>();

/**
 * `key` names the schema in the build-time table (e.g. "list_deals:input"). Converted on first use
 * when not built in, then reused by every server instance. With `validate` false every value
 * passes: the tool validates it itself (tool inputs, see define.ts).
 */
export function precompute<S extends z.ZodType>(
  schema: S,
  key: string,
  validate = true,
): StandardSchemaWithJSON<z.input<S>, z.output<S>> {
  let input: Json | undefined = BUILT?.[key]?.input;
  let output: Json | undefined = BUILT?.[key]?.output;
  const standard = {
    '~standard': {
      version: 1,
      vendor: 'crm-mcp',
      validate: validate ? (value: unknown) => schema['~standard'].validate(value) : (value: unknown) => ({ value }),
      jsonSchema: {
        input: () => (input ??= compactJsonSchema(schema, 'input')),
        output: () => (output ??= compactJsonSchema(schema, 'output')),
      },
    },
  } as StandardSchemaWithJSON<z.input<S>, z.output<S>>;
  PRECOMPUTED.set(key, standard);
  return standard;
}
