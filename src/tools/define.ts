/**
 * The one helper every tool goes through. A tool is data: name, kind, its own arguments, an output
 * schema and a `run` function over a CrmProvider. From the kind this helper derives the common
 * arguments, all four annotations, error handling and the result shape, so every tool behaves
 * alike. Schemas are built once at module load; registering a tool on a fresh McpServer (one per
 * HTTP request) only wires a closure.
 */
import type { McpServer, StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import * as z from 'zod';
import type { ConnectionRegistry } from '../connections.js';
import { requireOperation } from '../crm/capabilities.js';
import { CrmError, isCrmError } from '../crm/errors.js';
import { decodeCursor, encodeCursor, filterFingerprint } from '../crm/paginate.js';
import type {
  CallOptions,
  CrmProvider,
  Page,
  PreparedWrite,
  ProgressReporter,
  Resource,
  UpstreamRequest,
  WriteOptions,
} from '../crm/provider.js';
import type { IdempotencyStore } from '../crm/idempotency.js';
import { boundedText, FreeForm, idArg, LIMITS, Ref, type ConnectionRef } from '../crm/model.js';
import type { Logger } from '../log.js';
import { parseArguments } from './arguments.js';
import { cutStrings, cutText, FIELD_LIMIT, fitRecord, fits, OUTPUT_CAP, sizesOf, textWireSize, tooLargeText, wireSize, withSizes } from './fit.js';
import { precompute } from './schema.js';
import type { Toolset } from './toolsets.js';

export { OUTPUT_CAP } from './fit.js';

export type ToolKind = 'read' | 'create' | 'update' | 'delete';
export { TOOLSETS, type Toolset } from './toolsets.js';

export const MAX_LIMIT = 100;

/** Keys of idempotent creates for CRMs that cannot keep them. */
export type Idempotency = Pick<IdempotencyStore, 'run'>;

export interface ToolEnv {
  registry: ConnectionRegistry;
  logger: Logger;
  idempotency: Idempotency;
}

// Common arguments, built once. Descriptions are short: they are repeated in every tool.
// Booleans default to false and say so only in the description's wording.
const common = {
  connection: boundedText(LIMITS.connection).optional().describe('Connection name'),
  response_format: z.enum(['concise', 'detailed']).optional().describe('Default concise'),
  include_remote_data: z.boolean().optional().describe('Add raw CRM record'),
  dry_run: z.boolean().optional().describe('Preview; send nothing'),
  idempotency_key: boundedText(LIMITS.key).optional().describe('Dedupes repeated creates'),
  confirm: z.boolean().optional().describe('true to really delete'),
};

const remote_query = FreeForm.optional()
  .describe('Raw query for the CRM behind Truto, sent as remote_query[...]');

export const pageArgs = {
  limit: z.number().int().min(1).max(MAX_LIMIT).default(25).describe('Page size'),
  cursor: boundedText(LIMITS.cursor).optional().describe('From next_cursor'),
};

/** An id argument: text or a whole number, bounded; `missing` says where to find one when it is required. */
export const id = (what: string, missing?: string) => idArg(missing).describe(`${what} id`);

const KIND_ARGS: Record<ToolKind, Partial<typeof common>> = {
  read: { connection: common.connection, response_format: common.response_format, include_remote_data: common.include_remote_data },
  create: { connection: common.connection, dry_run: common.dry_run, idempotency_key: common.idempotency_key },
  update: { connection: common.connection, dry_run: common.dry_run },
  delete: { connection: common.connection, confirm: common.confirm, dry_run: common.dry_run },
};

// Updates overwrite fields (destructive) but repeating one changes nothing more (idempotent).
// Creates are not idempotent by hint: only a caller-supplied idempotency_key makes them so.
const ANNOTATIONS: Record<ToolKind, { readOnlyHint: boolean; destructiveHint: boolean; idempotentHint: boolean }> = {
  read: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  create: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  update: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  delete: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
};

export interface CommonArgs {
  connection?: string;
  remote_query?: Record<string, unknown>;
  response_format?: 'concise' | 'detailed';
  include_remote_data?: boolean;
  dry_run?: boolean;
  idempotency_key?: string;
  confirm?: boolean;
}

export interface ToolCall<A> {
  name: string;
  registry: ConnectionRegistry;
  idempotency: Idempotency;
  args: A & CommonArgs;
  connection: string;
  provider: CrmProvider;
  detailed: boolean;
  options: WriteOptions;
  logger: Logger;
}

export interface ToolOutput {
  structured: Record<string, unknown>;
  text: string;
}

export interface ToolSpec<S extends z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  toolset: Toolset;
  kind: ToolKind;
  args: S;
  /** List tools: also accept `remote_query` when a connection's CRM takes raw queries (Truto). */
  remoteQuery?: boolean;
  /** Common arguments to add, when not those of the kind (list_connections takes none). */
  common?: ReadonlyArray<keyof typeof common>;
  output: z.ZodRawShape;
  run(call: ToolCall<z.infer<z.ZodObject<S>>>): Promise<ToolOutput>;
}

export interface ToolDefinition {
  name: string;
  title: string;
  description: string;
  toolset: Toolset;
  kind: ToolKind;
  readOnly: boolean;
  inputSchema: z.ZodObject;
  outputSchema: z.ZodObject;
  /** The same schemas with their JSON Schema computed once (what the SDK is given). */
  listed: { input: StandardSchemaWithJSON; output: StandardSchemaWithJSON };
  /** Input with `remote_query`, for servers with a connection that takes raw queries. */
  listedWithRemoteQuery?: StandardSchemaWithJSON;
  /**
   * Validates the raw arguments and runs the tool. `remoteQuery` false refuses `remote_query` as
   * an unknown argument, as the tools/list of a server without a Truto connection shows it.
   * `onProgress` is set when the client asked for progress.
   */
  invoke(
    rawArgs: unknown,
    signal: AbortSignal,
    env: ToolEnv,
    remoteQuery?: boolean,
    onProgress?: ProgressReporter,
  ): Promise<CallToolResultLike>;
}

export interface CallToolResultLike {
  [key: string]: unknown;
  content: Array<{ type: 'text'; text: string }>;
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

export function defineTool<S extends z.ZodRawShape>(spec: ToolSpec<S>): ToolDefinition {
  const commonArgs = spec.common
    ? Object.fromEntries(spec.common.map((k) => [k, common[k]]))
    : KIND_ARGS[spec.kind];
  // Strict: an argument the tool does not know is an error, never silently dropped.
  const inputSchema = z.strictObject({ ...spec.args, ...commonArgs });
  const withRemoteQuery = spec.remoteQuery ? inputSchema.extend({ remote_query }) : undefined;
  const outputSchema = z.object(spec.output);
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    toolset: spec.toolset,
    kind: spec.kind,
    readOnly: spec.kind === 'read',
    inputSchema,
    outputSchema,
    // Inputs are validated by invoke (the SDK's messages echo what they quote), outputs by the SDK.
    listed: {
      input: precompute(inputSchema, `${spec.name}:input`, false),
      output: precompute(outputSchema, `${spec.name}:output`),
    },
    listedWithRemoteQuery: withRemoteQuery && precompute(withRemoteQuery, `${spec.name}:input+remote_query`, false),
    async invoke(rawArgs, signal, env, remoteQuery = true, onProgress) {
      const parsed = parseArguments(spec.name, (remoteQuery && withRemoteQuery) || inputSchema, rawArgs);
      if (!parsed.success) return errorText(parsed.message);
      const args = parsed.data as z.infer<z.ZodObject<S>> & CommonArgs;
      // Progress stops with the answer: a parallel branch finishing late reports nothing more.
      let answered = false;
      const progress: ProgressReporter | undefined = onProgress && ((...a) => void (answered || onProgress(...a)));
      try {
        const { name: connection, provider } = env.registry.get(args.connection);
        if (args.remote_query !== undefined && !provider.capabilities.remote_query) {
          throw new CrmError(
            'unsupported',
            `${provider.label} takes no remote_query; it is passed only to Truto connections. Use the tool's own filters.`,
          );
        }
        const out = await spec.run({
          name: spec.name,
          registry: env.registry,
          idempotency: env.idempotency,
          args,
          connection,
          provider,
          detailed: args.response_format === 'detailed',
          options: {
            signal,
            include_remote_data: args.include_remote_data ?? false,
            idempotency_key: args.idempotency_key,
            remote_query: args.remote_query,
            ...(progress ? { onProgress: progress } : {}),
          },
          logger: env.logger,
        });
        // Which connection answered: an agent working with several CRMs never confuses them. Output
        // schemas are open objects, so it validates everywhere without being declared in each: that
        // would cost 1,000 bytes of tools/list; the server instructions say it is there.
        const answering: ConnectionRef = { name: connection, provider: provider.kind };
        const structured = { ...out.structured, connection: answering };
        // The flows fit their answers; this guards against any that does not (a flow that measured
        // its answer already has its sizes recorded). The connection (a name of at most 64
        // characters and a provider kind) rides on top of the cap.
        if (!fits(out)) {
          const sizes = sizesOf(out);
          env.logger.error({ tool: spec.name, bytes: sizes.text + sizes.structured }, 'oversize answer withheld');
          return errorText(
            `The answer of ${spec.name} was too large to send (over ${OUTPUT_CAP.toLocaleString('en-US')} characters), so it was withheld.` +
              (spec.kind === 'read' ? ' Ask for less: filters, a smaller limit, response_format concise.' : ' The write itself was done; read the record with the get tool.'),
          );
        }
        return { content: [{ type: 'text', text: out.text }], structuredContent: structured };
      } catch (error) {
        return errorResult(spec.name, error, env.logger, signal);
      } finally {
        answered = true;
      }
    },
  };
}

/** Longest error text: room for a list of a pipeline's stages, not for a CRM's whole error page. */
const ERROR_TEXT_LIMIT = 4_000;

const errorText = (text: string): CallToolResultLike => ({
  content: [{ type: 'text', text: cutText(text, ERROR_TEXT_LIMIT) }],
  isError: true,
});

function errorResult(tool: string, error: unknown, logger: Logger, signal: AbortSignal): CallToolResultLike {
  let text: string;
  if (isCrmError(error)) {
    text = error.message;
    logger.info({ tool, kind: error.kind, status: error.status }, 'tool error');
  } else if (signal.aborted) {
    text = `${tool} was cancelled before it finished; nothing more was done.`;
  } else {
    // Unknown failures are bugs: log the detail to stderr, tell the agent something actionable.
    logger.error({ tool, err: error }, 'unexpected tool failure');
    text = `${tool} failed unexpectedly inside crm-mcp (logged on the server). Retry once; if it fails again, use another tool or report it.`;
  }
  return errorText(text);
}

export interface ServerTraits {
  /** Some connection reaches outside this process. */
  openWorld: boolean;
  /** Some connection takes raw `remote_query` on lists. */
  remoteQuery: boolean;
}

export function registerTool(server: McpServer, tool: ToolDefinition, env: ToolEnv, traits: ServerTraits): void {
  server.registerTool(
    tool.name,
    {
      title: tool.title,
      description: tool.description,
      inputSchema: (traits.remoteQuery && tool.listedWithRemoteQuery) || tool.listed.input,
      outputSchema: tool.listed.output,
      annotations: { ...ANNOTATIONS[tool.kind], openWorldHint: traits.openWorld },
    },
    async (args, ctx) => {
      const progress = progressReporter(ctx);
      const result = await tool.invoke(args, ctx.mcpReq.signal, env, traits.remoteQuery, progress?.report);
      // Every notification is on its way before the answer: a client drops progress for a request
      // it has already seen answered.
      await progress?.sent();
      return result as never;
    },
  );
}

/** What a tool handler's context offers for progress (the SDK's ServerContext, narrowed). */
interface ProgressContext {
  mcpReq: {
    _meta?: { progressToken?: string | number; [key: string]: unknown };
    notify(notification: { method: string; params?: Record<string, unknown> }): Promise<void>;
  };
}

/**
 * notifications/progress for a call whose client sent a progress token, else undefined. Each
 * report counts one step (a page read, a type searched): parallel work reports in any order, and
 * `progress` must still grow with every notification. `total` is sent only when it is known and
 * not below the steps already done. Notifications go out one after the other, in order; `sent()`
 * resolves when all of them have.
 */
export function progressReporter(ctx: ProgressContext): { report: ProgressReporter; sent(): Promise<void> } | undefined {
  const progressToken = ctx.mcpReq._meta?.progressToken;
  if (progressToken === undefined) return undefined;
  let steps = 0;
  let queue = Promise.resolve();
  return {
    report(_done, total, message) {
      steps += 1;
      const params = {
        progressToken,
        progress: steps,
        ...(total !== undefined && total >= steps ? { total } : {}),
        ...(message ? { message } : {}),
      };
      // A client that went away cannot be told; the work itself goes on or is cancelled.
      queue = queue.then(() => ctx.mcpReq.notify({ method: 'notifications/progress', params })).catch(() => undefined);
    },
    sent: () => queue,
  };
}

// ---------------------------------------------------------------------------------------------
// Shared flows: lists (cursor + output cap), gets, writes (dry run + read back), deletes (confirm).

export interface ListFlow<T> {
  /** Key of the array in structuredContent, e.g. "deals". */
  key: string;
  filters: Record<string, unknown>;
  fetch(query: { limit: number; cursor?: string }): Promise<Page<T>>;
  line(item: T, detailed: boolean): string;
  shape(item: T, detailed: boolean): unknown;
}

/** Room a list answer keeps for all but its records: a cursor of at most LIMITS.cursor, and sentences around it. */
const LIST_FRAME_BYTES = LIMITS.cursor + 1_000;

export async function listFlow<T>(
  call: ToolCall<{ limit: number; cursor?: string }>,
  flow: ListFlow<T>,
): Promise<ToolOutput> {
  const { limit, cursor } = call.args;
  const fingerprint = filterFingerprint(`${call.name}:${call.connection}`, {
    ...flow.filters,
    remote_query: call.args.remote_query,
  });
  const start = cursor ? decodeCursor(cursor, fingerprint) : { native: undefined, skip: 0 };
  const page = await flow.fetch({ limit: Math.min(limit + start.skip, 500), cursor: start.native });
  let items = page.items.slice(start.skip);
  let next: string | null = page.next_cursor ? encodeCursor(fingerprint, page.next_cursor) : null;
  if (items.length > limit) {
    items = items.slice(0, limit);
    next = encodeCursor(fingerprint, start.native, start.skip + limit);
  }
  // A cursor the agent could not pass back (arguments bound it) is no cursor: say the list goes on.
  const unreachable = next !== null && next.length > LIMITS.cursor;
  if (unreachable) next = null;

  // Cap what one answer carries: whole records only (each with over-long fields cut), and a cursor
  // that resumes at the first one left out. The records leave room for what surrounds them: the
  // head line, the cursor (twice: in the text and as next_cursor) and an incomplete-listing note.
  const budget = OUTPUT_CAP - LIST_FRAME_BYTES;
  const fieldLimit = call.detailed ? FIELD_LIMIT.detailed : FIELD_LIMIT.concise;
  const render = (item: T): ToolOutput => ({
    structured: flow.shape(item, call.detailed) as Record<string, unknown>,
    // One line per record, whatever the CRM's text holds (a note's body may have several).
    text: `- ${oneLine(flow.line(item, call.detailed))}`,
  });
  const shaped: unknown[] = [];
  const lines: string[] = [];
  let textSize = 0;
  let jsonSize = 0;
  // Each record is measured once: the sums give the answer's own sizes, so the tool wrapper's guard
  // need not measure it again. A record without JSON (undefined) would be null in the array: then
  // the wrapper measures.
  let measuredExactly = true;
  for (const item of items) {
    let one = render(cutStrings(item, fieldLimit));
    let size = wireSize(one.structured);
    let length = textWireSize(one.text);
    if (shaped.length > 0 && (textSize + length > budget || jsonSize + size > budget)) {
      next = encodeCursor(fingerprint, start.native, start.skip + shaped.length);
      break;
    }
    if (size > budget || length > budget) {
      // A first record too large on its own: cut harder, or say how to ask for less.
      const fitted = fitRecord(item, call.detailed, render, budget);
      if (!fitted) {
        throw new CrmError('upstream', tooLargeText(`The first ${flow.key.replace(/s$/, '')} of this page`, call.detailed, Boolean(call.options.include_remote_data)));
      }
      one = fitted;
      size = wireSize(one.structured);
      length = textWireSize(one.text);
    }
    if (size === 0) measuredExactly = false;
    shaped.push(one.structured);
    lines.push(one.text);
    textSize += length + 1;
    jsonSize += size + 1;
  }

  const head =
    shaped.length === 0
      ? `No ${flow.key} match.`
      : `${shaped.length} ${shaped.length === 1 ? flow.key.replace(/s$/, '') : flow.key}${next || unreachable ? ' (more available)' : ''}:`;
  const tail = next
    ? [`More: call ${call.name} again with the same filters and cursor "${next}".`]
    : unreachable
      ? ["More exist, but the CRM's cursor for them is too long to pass on; narrow the filters to reach them."]
      : [];
  // A provider that could read only part of a listing says so: the agent must not take it as whole.
  const around = [head, ...(page.incomplete ? [page.incomplete] : []), ...tail];
  const out: ToolOutput = {
    structured: { [flow.key]: shaped, next_cursor: next },
    text: [head, ...lines, ...(page.incomplete ? [page.incomplete] : []), ...tail].join('\n'),
  };
  if (!measuredExactly) return out;
  // The JSON of lines joined by "\n" is as long as theirs apart: each "\n" (escaped, 2 bytes) takes
  // the place of a pair of quotes. Records add their JSON and a comma between two to the empty list.
  return withSizes(out, {
    text: around.reduce((sum, part) => sum + textWireSize(part), textSize - lines.length),
    structured: wireSize({ [flow.key]: [], next_cursor: next }) + jsonSize - Math.min(shaped.length, 1),
  });
}

/** A record's line kept on one line: line breaks, with the blanks around them, become one space. */
const oneLine = (line: string): string => (LINE_BREAK.test(line) ? line.replace(/\s*[\r\n]+\s*/g, ' ') : line);
const LINE_BREAK = /[\r\n]/;

/** Runs a prepared write: on dry_run shows the exact request, otherwise sends it. */
export async function writeFlow<T>(
  call: ToolCall<object>,
  prepared: PreparedWrite<T>,
  done: (record: T) => ToolOutput,
): Promise<ToolOutput> {
  if (call.args.dry_run) return dryRunOutput(prepared);
  return done(await prepared.execute());
}

/**
 * A create: like writeFlow, and with an idempotency_key a repeat returns the first record. CRMs
 * that keep keys themselves get the key in `options`; for the others the tool layer keeps it.
 */
export async function createFlow<T extends { id: string }>(
  call: ToolCall<object>,
  resource: Resource,
  input: object,
  prepared: PreparedWrite<T>,
  done: (record: T) => ToolOutput,
): Promise<ToolOutput> {
  const key = call.args.idempotency_key;
  if (call.args.dry_run || !key || call.provider.capabilities.idempotency === 'native') {
    return writeFlow(call, prepared, done);
  }
  const get = requireOperation(call.provider, resource, 'get') as unknown as (id: string, o: CallOptions) => Promise<T>;
  const record = await call.idempotency.run(
    `${call.connection}:${resource}`,
    key,
    input,
    () => prepared.execute(),
    (id) => get(id, { signal: call.options.signal }),
  );
  return done(record);
}

/** Longest request body a dry run's text quotes; structuredContent carries the rest. */
const DRY_RUN_TEXT_BODY = 2_000;

/** One request of a dry run as text: method, path, non-secret headers, and its body unless long. */
function requestText(r: UpstreamRequest, body: unknown, where: string): string {
  const json = body === undefined ? '' : JSON.stringify(body);
  return (
    `${r.method} ${r.path}` +
    (r.headers ? ` ${Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`).join(', ')}` : '') +
    (json.length > DRY_RUN_TEXT_BODY ? ` with a body of ${json.length.toLocaleString('en-US')} characters (${where})` : json && ` ${json}`)
  );
}

function dryRunOutput(prepared: PreparedWrite<unknown>): ToolOutput {
  const { method, path, body, headers } = prepared.request;
  // A write the CRM takes in several requests shows them all, in the order they would be sent.
  const then = prepared.then?.length ? prepared.then : undefined;
  // The body is the caller's own input, each field bounded, but all of them together can pass the cap.
  const render = (b: unknown): ToolOutput => ({
    structured: {
      dry_run: { method, path, ...(b === undefined ? {} : { body: b }), ...(headers ? { headers } : {}), ...(then ? { then } : {}) },
    },
    text:
      `Dry run, nothing was sent. Would send: ${requestText(prepared.request, b, 'dry_run.body')}` +
      (then ?? []).map((r, i) => `\nthen: ${requestText(r, r.body, `dry_run.then[${i}].body`)}`).join('') +
      '\nCall again without dry_run to do it.',
  });
  return (
    fitRecord(body, true, render) ??
    render(`[cut: the body is ${wireSize(body).toLocaleString('en-US')} bytes as JSON, too large to preview]`)
  );
}

/** A get's answer, cut to fit; refused when even that is too large (a read changes nothing). */
export function readAnswer<T>(call: ToolCall<object>, what: string, record: T, render: (record: T) => ToolOutput): ToolOutput {
  const out = fitRecord(record, call.detailed, render);
  if (out) return out;
  throw new CrmError('upstream', tooLargeText(what, call.detailed, Boolean(call.options.include_remote_data)));
}

/**
 * A write's answer: the record as read back, cut to fit. When even that is too large, only its id
 * and name: the write is done, and an error would invite the agent to repeat it.
 */
export function writtenAnswer<T extends Ref>(
  record: T,
  render: (record: T) => ToolOutput,
  brief: (ref: Ref) => ToolOutput,
): ToolOutput {
  return fitRecord(record, true, render) ?? brief(refOf(record));
}

/** A record as a reference: its id and its name, cut like any concise field. */
const refOf = (r: Ref): Ref => ({ id: r.id, ...(r.name ? { name: cutText(r.name, FIELD_LIMIT.concise) } : {}) });

/**
 * Delete with a safety catch: without confirm it only reads the record and says how to confirm;
 * with dry_run it shows the request; with confirm it deletes.
 */
export async function deleteFlow(
  call: ToolCall<object>,
  resource: Resource,
  key: string,
  id: string,
): Promise<ToolOutput> {
  const del = requireOperation(call.provider, resource, 'delete') as (
    id: string,
    opts: WriteOptions,
  ) => Promise<PreparedWrite<Ref>>;
  const prepared = await del(id, call.options);
  if (call.args.dry_run) return dryRunOutput(prepared);
  if (!call.args.confirm) {
    const record = await previewRecord(call, resource, id);
    return {
      structured: { deleted: false, [key]: record },
      text:
        `Not deleted: ${key} ${refText(record)} would be deleted. ` +
        `To delete it, call ${call.name} again with confirm: true.`,
    };
  }
  const ref = refOf(await prepared.execute());
  return {
    structured: { deleted: true, [key]: ref },
    text: `Deleted ${key} ${refText(ref)}.`,
  };
}

async function previewRecord(call: ToolCall<object>, resource: Resource, id: string): Promise<Ref> {
  const ops = call.provider[resource] as { get?(id: string, o: CallOptions): Promise<unknown> } | undefined;
  if (!ops?.get || !call.provider.capabilities[resource]?.get) return { id };
  return refOf((await ops.get(id, { signal: call.options.signal })) as Ref);
}

export const refText = (r: Ref) => (r.name ? `${r.name} (${r.id})` : `(${r.id})`);

/**
 * A record in an output schema: its id and name, and open to every other field. The text beside it
 * shows the rest and structuredContent carries it; declaring each field would cost every
 * conversation its bytes in tools/list for no decision an agent takes.
 */
export const RecordOutline = z.looseObject({ id: z.string(), name: z.string() });

// The record as read back (the get tool's fields) and {method, path, body?}: described once in the
// server instructions and left open here, because every byte of tools/list is paid per conversation.
const Written = z.looseObject({});
const DryRun = z.looseObject({});

/** Writes answer with the record as read back or a dry run. */
export const writeOutput = (key: string) => ({ [key]: Written.optional(), dry_run: DryRun.optional() });
export const deleteOutput = (key: string) => ({
  deleted: z.boolean().optional(),
  [key]: Ref.optional(),
  dry_run: DryRun.optional(),
});

/** The write fields the caller gave, and nothing else: updates send only these. */
export function writeFields<T extends object>(args: T, fields: readonly string[]): Partial<T> {
  return given(Object.fromEntries(fields.map((f) => [f, (args as Record<string, unknown>)[f]])) as Partial<T>);
}

/** Drops keys whose value is undefined, so updates send only what the caller gave. */
export function given<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function requireSomeField(fields: object, tool: string, allowed: string[]): void {
  if (Object.keys(given(fields)).length === 0) {
    throw new CrmError(
      'validation',
      `${tool} needs at least one field to change: ${allowed.join(', ')}.`,
    );
  }
}

/** Removes remote_data unless asked, and keeps only the concise keys unless detailed. */
export function shapeRecord<T extends object>(
  record: T,
  detailed: boolean,
  conciseKeys: readonly string[],
  includeRemote: boolean,
): Partial<T> {
  const out: Record<string, unknown> = {};
  const fields = record as Record<string, unknown>;
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    if (v === undefined) continue;
    if (k === 'remote_data' && !includeRemote) continue;
    if (!detailed && k !== 'remote_data' && !conciseKeys.includes(k)) continue;
    out[k] = v;
  }
  return out as Partial<T>;
}

/** A record as written back: every field, without remote_data. */
export const written = <T extends object>(record: T): Partial<T> => shapeRecord(record, true, [], false);
