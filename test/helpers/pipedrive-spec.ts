/**
 * Pipedrive's official OpenAPI specs (v1 and v2), read for tests that hold requests and the fake's
 * answers against them. The specs are public material and are not copied into this repository:
 * they are read from CRM_MCP_SPECS_DIR (a folder laid out like ../shared/specs, holding
 * pipedrive/openapi-v1.yaml and pipedrive/openapi-v2.yaml) or from <repo>/../shared/specs; where
 * neither has them, SPEC_DIR is undefined and the tests skip, saying so in their names.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import { parse } from 'yaml';
import type { RecordedRequest } from '../fakes/server.js';
import { ROOT } from './server.js';

export const SPEC_DIR = [process.env.CRM_MCP_SPECS_DIR && join(process.env.CRM_MCP_SPECS_DIR, 'pipedrive'), join(ROOT, '..', 'shared', 'specs', 'pipedrive')].find(
  (p): p is string => !!p && existsSync(join(p, 'openapi-v1.yaml')) && existsSync(join(p, 'openapi-v2.yaml')),
);

/** The suffix a test name carries when the specs are absent. */
export const SPEC_SKIPPED = SPEC_DIR ? '' : ' [skipped: CRM_MCP_SPECS_DIR not set and ../shared/specs/pipedrive absent]';

type Json = Record<string, any>;
export type Version = 'v1' | 'v2';

export interface Operation {
  version: Version;
  /** The spec's path template, e.g. /organizations/{id}. */
  template: string;
  op: Json;
}

/** Property names an object schema declares, through allOf. */
export function declaredProperties(schema: Json | undefined): string[] {
  if (!schema) return [];
  return [...Object.keys(schema.properties ?? {}), ...(schema.allOf ?? []).flatMap((s: Json) => declaredProperties(s))];
}

/**
 * A response schema that also takes null wherever it names a type. Pipedrive answers null for unset
 * fields (its descriptions say so: "next_cursor ... will be `null` if you have reached the end")
 * while its schemas mark few fields nullable; a non-null value must still have the declared type.
 */
function nullTolerant(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(nullTolerant);
  if (!node || typeof node !== 'object') return node;
  const out: Json = Object.fromEntries(Object.entries(node as Json).map(([k, v]) => [k, k === 'enum' || k === 'example' ? v : nullTolerant(v)]));
  if (typeof out.type === 'string') out.nullable = true;
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  return out;
}

/** A query value as its schema types it (query strings are text). */
function typed(value: unknown, schema: Json): unknown {
  if (typeof value !== 'string') return value;
  if ((schema.type === 'integer' || schema.type === 'number') && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (schema.type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

export function loadSpecs(dir: string) {
  const specs: Record<Version, Json> = {
    v1: parse(readFileSync(join(dir, 'openapi-v1.yaml'), 'utf8'), { maxAliasCount: -1 }) as Json,
    v2: parse(readFileSync(join(dir, 'openapi-v2.yaml'), 'utf8'), { maxAliasCount: -1 }) as Json,
  };
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
  (ajvFormats as unknown as { default: (a: Ajv) => void }).default(ajv);
  const cache = new Map<string, ValidateFunction>();
  const validator = (key: string, schema: Json) => {
    let v = cache.get(key);
    if (!v) cache.set(key, (v = ajv.compile(schema)));
    return v;
  };
  const templates = (version: Version) =>
    Object.keys(specs[version].paths).map((t) => ({ t, re: new RegExp(`^${t.replace(/\{[^}]+\}/g, '([^/]+)')}$`) }));
  const byVersion = { v1: templates('v1'), v2: templates('v2') };
  const problems = (v: ValidateFunction) => (v.errors ?? []).slice(0, 3).map((e) => `${e.instancePath || '/'} ${e.message}`);

  /** The operation a request goes to: /api/v2/x under the v2 spec, /api/v1/x under v1. */
  function operation(method: string, path: string): Operation | undefined {
    const m = /^\/api\/(v[12])(\/.*)$/.exec(path);
    if (!m) return undefined;
    const version = m[1] as Version;
    // Literal paths (/deals/search) before templates (/deals/{id}).
    const candidates = byVersion[version].filter(({ re }) => re.test(m[2])).sort((a, b) => a.t.split('{').length - b.t.split('{').length);
    for (const { t } of candidates) {
      const op = specs[version].paths[t][method.toLowerCase()];
      if (op) return { version, template: t, op };
    }
    return undefined;
  }

  return {
    specs,
    operation,

    /**
     * What is wrong with a request by the spec: an operation it lacks, a query parameter it does not
     * declare or a value outside the parameter's schema (comma lists checked item by item), a body
     * field it does not declare, a body its schema rejects. Empty when the request conforms.
     */
    requestProblems(r: RecordedRequest): string[] {
      const found = operation(r.method, r.path);
      if (!found) return [`${r.method} ${r.path}: no such operation in the spec`];
      const { op, version, template } = found;
      const where = `${r.method} ${version}${template}`;
      const out: string[] = [];
      const params = new Map<string, Json>(((op.parameters ?? []) as Json[]).filter((p) => p.in === 'query').map((p) => [p.name, p.schema ?? {}]));
      for (const [name, value] of Object.entries(r.query)) {
        const schema = params.get(name);
        if (!schema) {
          out.push(`${where}: query parameter ${name} is not in the spec`);
          continue;
        }
        const values = schema.type === 'string' && schema.enum && typeof value === 'string' ? value.split(',') : [value];
        const v = validator(`param ${where} ${name}`, schema);
        for (const x of values) if (!v(typed(x, schema))) out.push(`${where}: ${name}=${String(x)}: ${problems(v).join('; ')}`);
      }
      const bodySchema = op.requestBody?.content?.['application/json']?.schema as Json | undefined;
      if (r.body !== undefined) {
        if (!bodySchema) out.push(`${where}: the spec takes no JSON body`);
        else {
          const declared = declaredProperties(bodySchema);
          for (const k of Object.keys(r.body as Json)) if (!declared.includes(k)) out.push(`${where}: body field ${k} is not in the spec`);
          const v = validator(`body ${where}`, bodySchema);
          if (!v(r.body)) out.push(`${where}: body: ${problems(v).join('; ')}`);
        }
      }
      return out;
    },

    /** What is wrong with an answer by the operation's response schema for its status (none when the spec has no schema for it). */
    answerProblems(r: RecordedRequest, status: number, body: unknown): string[] {
      const found = operation(r.method, r.path);
      if (!found) return [`${r.method} ${r.path}: no such operation in the spec`];
      const schema = found.op.responses?.[String(status)]?.content?.['application/json']?.schema as Json | undefined;
      if (!schema) return [];
      const v = validator(`answer ${r.method} ${found.version}${found.template} ${status}`, nullTolerant(schema) as Json);
      return v(body) ? [] : [`${r.method} ${found.version}${found.template} ${status}: ${problems(v).join('; ')}`];
    },
  };
}

export type Specs = ReturnType<typeof loadSpecs>;
