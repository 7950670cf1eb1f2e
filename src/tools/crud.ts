/**
 * The five standard tools of a resource (list, get, create, update, delete), built from one
 * description of it. Resource files say only what differs: names, fields, filters, texts, and
 * hooks such as the deal stage check.
 */
import * as z from 'zod';
import { excerpt } from '../crm/errors.js';
import { checkFilters, checkWrite, requireOperation } from '../crm/capabilities.js';
import {
  WRITE_FIELDS,
  type Page,
  type PreparedWrite,
  type Resource,
  type WriteOptions,
} from '../crm/provider.js';
import {
  createFlow,
  defineTool,
  deleteFlow,
  deleteOutput,
  given,
  id,
  listFlow,
  pageArgs,
  readAnswer,
  RecordOutline,
  refText,
  requireSomeField,
  shapeRecord,
  writeFields,
  writeFlow,
  writeOutput,
  written,
  writtenAnswer,
  type ToolCall,
  type ToolDefinition,
  type Toolset,
} from './define.js';

type Rec = { id: string; name?: string };

export interface ResourceSpec<T extends Rec> {
  resource: Resource;
  /** The toolset its tools belong to; by default the resource's own. */
  toolset?: Toolset;
  singular: string;
  /** Output schema of one record in get answers (and lists, unless `listSummary`); RecordOutline by default. */
  summary?: z.ZodType;
  listSummary?: z.ZodType;
  /** Fields kept in concise structured answers. */
  concise: readonly string[];
  line(record: T, detailed: boolean): string;
  /** Text of the get tool; by default "<Singular> <detailed line>". */
  detail?(record: T, detailed: boolean): string;
  /** Write fields as create takes them; update takes them all optional. */
  fields: z.ZodRawShape;
  /** Adds what the tool layer derives (an activity's `overdue`) to every record it answers with. */
  decorate?(record: T): T;
}

type Texts = { description: string };
/** Runs after validation of the arguments, before the write is prepared; may adjust `data`. */
type Hook<I> = (call: ToolCall<Record<string, unknown>>, data: I) => Promise<void>;

const capital = (s: string) => s[0].toUpperCase() + s.slice(1);
const article = (noun: string) => (/^[aeiou]/.test(noun) ? 'an' : 'a');

// Operation lookups typed once here: every provider operation takes (args..., options).
function operation<A extends unknown[], R>(call: ToolCall<object>, resource: Resource, op: 'list' | 'get' | 'create' | 'update' | 'delete') {
  return requireOperation(call.provider, resource, op) as unknown as (...args: [...A, WriteOptions]) => Promise<R>;
}

const shape = <T extends Rec>(spec: ResourceSpec<T>, call: ToolCall<object>, record: T) =>
  shapeRecord(record, call.detailed, spec.concise, Boolean(call.options.include_remote_data));

const toolsetOf = <T extends Rec>(spec: ResourceSpec<T>): Toolset => spec.toolset ?? (spec.resource as Toolset);
const decorated = <T extends Rec>(spec: ResourceSpec<T>, record: T): T => (spec.decorate ? spec.decorate(record) : record);

export function listTool<T extends Rec>(
  spec: ResourceSpec<T>,
  t: Texts & { filters: z.ZodRawShape; defaults?: Record<string, unknown> },
): ToolDefinition {
  const filterNames = Object.keys(t.filters);
  return defineTool({
    name: `list_${spec.resource}`,
    title: `List ${spec.resource}`,
    description: t.description,
    toolset: toolsetOf(spec),
    kind: 'read',
    remoteQuery: true,
    args: { ...t.filters, ...pageArgs },
    output: { [spec.resource]: z.array(spec.listSummary ?? spec.summary ?? RecordOutline), next_cursor: z.string().nullable() },
    run(call) {
      const args = call.args as unknown as Record<string, unknown>;
      // Defaults are sent explicitly: a CRM's own default order may differ from what the tool promises.
      const query = { ...t.defaults, ...given(Object.fromEntries(filterNames.map((f) => [f, args[f]]))) };
      checkFilters(call.provider, spec.resource, query);
      const list = operation<[object], Page<T>>(call, spec.resource, 'list');
      return listFlow(call, {
        key: spec.resource,
        filters: query,
        fetch: async (q) => {
          const page = await list({ ...query, ...q }, call.options);
          return spec.decorate ? { ...page, items: page.items.map((r) => decorated(spec, r)) } : page;
        },
        line: spec.line,
        shape: (r) => shape(spec, call, r),
      });
    },
  });
}

export function getTool<T extends Rec>(spec: ResourceSpec<T>, t: Texts): ToolDefinition {
  const key = `${spec.singular}_id`;
  return defineTool({
    name: `get_${spec.singular}`,
    title: `Get ${article(spec.singular)} ${spec.singular}`,
    description: t.description,
    toolset: toolsetOf(spec),
    kind: 'read',
    args: { [key]: id(capital(spec.singular)) },
    output: { [spec.singular]: spec.summary ?? RecordOutline },
    async run(call) {
      const get = operation<[string], T>(call, spec.resource, 'get');
      const recordId = (call.args as Record<string, string>)[key];
      const record = decorated(spec, await get(recordId, call.options));
      return readAnswer(call, `${capital(spec.singular)} ${excerpt(recordId)}`, record, (r) => ({
        structured: { [spec.singular]: shape(spec, call, r) },
        text: spec.detail ? spec.detail(r, call.detailed) : `${capital(spec.singular)} ${spec.line(r, true)}`,
      }));
    },
  });
}

export function createTool<T extends Rec, I extends object>(
  spec: ResourceSpec<T>,
  t: Texts & { before?: Hook<I> },
): ToolDefinition {
  return defineTool({
    name: `create_${spec.singular}`,
    title: `Create ${article(spec.singular)} ${spec.singular}`,
    description: t.description,
    toolset: toolsetOf(spec),
    kind: 'create',
    args: spec.fields,
    output: writeOutput(spec.singular),
    async run(call) {
      const create = operation<[I], PreparedWrite<T>>(call, spec.resource, 'create');
      const data = writeFields(call.args, WRITE_FIELDS[spec.resource]) as I;
      await t.before?.(call as ToolCall<Record<string, unknown>>, data);
      checkWrite(call.provider, spec.resource, 'create', data);
      const prepared = await create(data, call.options);
      return createFlow(call, spec.resource, data, prepared, (record) => writeAnswer(spec, 'Created', record, false));
    },
  });
}

export function updateTool<T extends Rec, I extends object>(
  spec: ResourceSpec<T>,
  t: Texts & { before?: Hook<I> },
): ToolDefinition {
  const key = `${spec.singular}_id`;
  const fieldNames = Object.keys(spec.fields);
  return defineTool({
    name: `update_${spec.singular}`,
    title: `Update ${article(spec.singular)} ${spec.singular}`,
    description: t.description,
    toolset: toolsetOf(spec),
    kind: 'update',
    args: { [key]: id(capital(spec.singular)), ...z.object(spec.fields).partial().shape },
    output: writeOutput(spec.singular),
    async run(call) {
      const update = operation<[string, I], PreparedWrite<T>>(call, spec.resource, 'update');
      const data = writeFields(call.args, WRITE_FIELDS[spec.resource]) as I;
      requireSomeField(data, call.name, fieldNames);
      await t.before?.(call as ToolCall<Record<string, unknown>>, data);
      checkWrite(call.provider, spec.resource, 'update', data);
      const prepared = await update((call.args as Record<string, string>)[key], data, call.options);
      return writeFlow(call, prepared, (record) => writeAnswer(spec, 'Updated', record, true));
    },
  });
}

/** The record as read back after a write; only its id and name when it is too large to show. */
function writeAnswer<T extends Rec>(spec: ResourceSpec<T>, verb: string, record: T, detailedLine: boolean) {
  return writtenAnswer(
    decorated(spec, record),
    (r) => ({ structured: { [spec.singular]: written(r) }, text: `${verb} ${spec.singular} ${spec.line(r, detailedLine)}.` }),
    (ref) => ({
      structured: { [spec.singular]: ref },
      text: `${verb} ${spec.singular} ${refText(ref)}; the record as read back is too large to show here: get_${spec.singular} reads it.`,
    }),
  );
}

export function deleteTool<T extends Rec>(spec: ResourceSpec<T>, t: Texts): ToolDefinition {
  const key = `${spec.singular}_id`;
  return defineTool({
    name: `delete_${spec.singular}`,
    title: `Delete ${article(spec.singular)} ${spec.singular}`,
    description: t.description,
    toolset: toolsetOf(spec),
    kind: 'delete',
    args: { [key]: id(capital(spec.singular)) },
    output: deleteOutput(spec.singular),
    run: (call) => deleteFlow(call, spec.resource, spec.singular, (call.args as Record<string, string>)[key]),
  });
}

