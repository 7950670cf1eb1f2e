/**
 * Property-based fuzzing of every tool through the real MCP client against the built binary over
 * stdio (issue 7). Arguments come from fast-check, seeded: schema-aware values (ids as text and as
 * numbers, dates real and impossible, enums and near misses, free-form objects shallow and deep),
 * arbitrary JSON of every type in every argument, unknown keys, huge strings, unicode, nulls.
 * Every answer is classified and counted; `npm run fuzz` prints the counts, the bounded run in
 * `npm test` (test/e2e/fuzz.test.ts) asserts that every problem count is zero.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, ProtocolError } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import fc from 'fast-check';
import { DEFAULT_TOKEN, startFakePipedrive } from '../fakes/pipedrive.js';
import { CAPSULE_TOKEN, startFakeCapsule } from '../fakes/capsule.js';
import { CLI } from '../helpers/server.js';

export type Target = 'local' | 'pipedrive' | 'capsule';

export interface FuzzOptions {
  target: Target;
  calls: number;
  seed: number;
  /** The binary to fuzz (default: this checkout's dist/cli.js). */
  cli?: string;
  /** Called every `every` calls with the counts so far. */
  progress?: (report: FuzzReport) => void;
  every?: number;
}

/** Problems: every one of these must stay at zero. */
export const PROBLEMS = [
  'crashes',
  'protocolErrors',
  'malformedAnswers',
  'over100KB',
  'stackTraces',
  'paths',
  'outputSchemaViolations',
  'unexpectedFailures',
  'stderrNotJson',
] as const;
export type Problem = (typeof PROBLEMS)[number];

export interface FuzzReport extends Record<Problem, number> {
  target: Target;
  seed: number;
  calls: number;
  /** Answers with structuredContent. */
  results: number;
  /** isError answers with a sentence. */
  errorSentences: number;
  /** JSON-RPC -32602 from the SDK (arguments that are not an object, unknown tool): expected. */
  invalidParams: number;
  /**
   * Calls answered -32600 "Message too large": their JSON-RPC line is over crm-mcp's 4 MB stdio
   * limit (src/transports/stdio.ts), dropped unread by the server, which lives on: expected.
   */
  tooLarge: number;
  largestAnswerBytes: number;
  /** The slowest call, round trip, and what it was. */
  slowestCallMs: number;
  slowestCall: string;
  durationMs: number;
  /** A few examples per problem, for the report and for failing tests. */
  examples: Partial<Record<Problem, string[]>>;
}

const KB100 = 100 * 1024;
// Linear-time patterns (answers can be megabytes of one repeated character), applied to the first
// 200 KB: anything longer is already an over100KB problem.
const STACK = /\n[ \t]+at |\bat [\w.<>]+ \([^()\n]{0,300}:\d+:\d+\)/;
const SCANNED = 200_000;
const PATH = /\/(home|work|tmp|usr)\/|file:\/\/|node_modules/;

// ---------------------------------------------------------------------------------------------
// Arbitraries

type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
};

const nested = (depth: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};

/** Huge strings, built cheaply: one character (ASCII, accented, emoji, NUL, quote) repeated. */
const huge = fc
  .tuple(fc.integer({ min: 100, max: 1_100_000 }), fc.constantFrom('A', 'é', '😀', '\u0000', '"', '\n'))
  .map(([n, c]) => c.repeat(Math.ceil(n / c.length)));

const specials = fc.constantFrom('', ' ', '..', '../../etc/passwd', '%2e%2e%2f', 'null', '0', '-1', '1e3', '٣', '<script>x</script>', "'; DROP TABLE deals;--", '\u202e', '\ud800', 'constructor', '__proto__');

const text = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }) },
  { weight: 2, arbitrary: specials },
  { weight: 1, arbitrary: huge },
);

// Ids that exist in the demo CRM and the fake Pipedrive (pipelines 1-3, stages and deals further up).
const realIds = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('1', '2', '3') },
  { weight: 2, arbitrary: fc.constantFrom('4', '5', '7', '10', '12', '25', '60', '120') },
);

const idValue = fc.oneof(
  { weight: 6, arbitrary: realIds },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 200 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer({ min: -1_000, max: -1 }), fc.double({ noNaN: true }), fc.constant(2 ** 60)) },
  { weight: 2, arbitrary: text },
);

const date = fc.oneof(
  { weight: 5, arbitrary: fc.date({ min: new Date('2000-01-01'), max: new Date('2040-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)) },
  { weight: 2, arbitrary: fc.constantFrom('2026-02-30', '2025-02-29', '2026-13-01', '2026-04-31', '0000-00-00', '2026-1-1', '01/02/2026', '2026-02-28T00:00:00Z') },
  { weight: 1, arbitrary: text },
);

/** Any JSON value: every type, including deep nests and wide objects. */
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: text },
  { weight: 1, arbitrary: fc.integer({ min: 2, max: 900 }).map(nested) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3_000 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, i]))) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, [], {}, [null]) },
);

/** Id arguments (`deal_id`, a reference's `id`): text in the schema, whole numbers accepted too. */
const isId = (name: string, types: string[]) => types.includes('string') && (name === 'id' || name.endsWith('_id'));

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace('#/$defs/', '');
  return { ...root.$defs?.[name], ...schema, $ref: undefined };
}

/** Values that fit the schema, or nearly (near-miss enums, out-of-range numbers, impossible dates). */
function fitting(raw: JsonSchema, root: JsonSchema, name = ''): fc.Arbitrary<unknown> {
  const schema = resolve(raw, root);
  const types = [schema.type ?? 'object'].flat();
  if (schema.enum) return fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...schema.enum) }, { weight: 1, arbitrary: text });
  if (isId(name, types)) return idValue;
  if (types.includes('string')) {
    if (schema.format === 'date') return date;
    if (schema.pattern === '^[A-Z]{3}$') return fc.oneof(fc.constantFrom('USD', 'EUR', 'GBP', 'JPY'), fc.constantFrom('usd', 'EURO', ''), text);
    return text;
  }
  if (types.includes('integer')) {
    const min = schema.minimum ?? -1_000;
    const max = schema.maximum ?? 1_000;
    return fc.oneof({ weight: 5, arbitrary: fc.integer({ min, max }) }, { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double()) });
  }
  if (types.includes('number')) return fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 1_000_000 }));
  if (types.includes('boolean')) return fc.boolean();
  if (types.includes('array')) {
    const item = schema.items ? fitting(schema.items, root) : anyJson;
    return fc.oneof({ weight: 5, arbitrary: fc.array(item, { maxLength: 6 }) }, { weight: 1, arbitrary: fc.array(item, { minLength: 90, maxLength: 130 }) });
  }
  if (schema.properties) {
    const props = Object.fromEntries(Object.entries(schema.properties).map(([k, s]) => [k, fitting(s, root, k)]));
    return fc.record(props, { requiredKeys: schema.required ?? [] });
  }
  // Free-form objects (custom_fields, remote_data, remote_query).
  return fc.oneof(
    { weight: 4, arbitrary: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 8 }) },
    { weight: 1, arbitrary: fc.integer({ min: 2, max: 900 }).map(nested) },
    { weight: 1, arbitrary: anyJson },
  );
}

/** Values a careful agent would send: they reach the CRM, so answers of every shape come back. */
function valid(raw: JsonSchema, root: JsonSchema, name = ''): fc.Arbitrary<unknown> {
  const schema = resolve(raw, root);
  const types = [schema.type ?? 'object'].flat();
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (isId(name, types)) return fc.oneof({ weight: 3, arbitrary: realIds }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 130 }) });
  if (types.includes('string')) {
    if (schema.format === 'date') return date.filter((d) => typeof d === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(d) && !d.startsWith('2026-02-3'));
    if (schema.pattern === '^[A-Z]{3}$') return fc.constantFrom('USD', 'EUR', 'GBP');
    return fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }));
  }
  if (types.includes('integer')) return fc.integer({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 100, 100) });
  if (types.includes('number')) return fc.integer({ min: 0, max: 100 });
  if (types.includes('boolean')) return fc.boolean();
  if (types.includes('array')) return fc.array(schema.items ? valid(schema.items, root) : fc.string(), { maxLength: 3 });
  if (schema.properties) {
    return fc.record(Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, valid(v, root, k)])), { requiredKeys: schema.required ?? [] });
  }
  return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.oneof(fc.string({ maxLength: 20 }), fc.integer()), { maxKeys: 4 });
}

/** Arguments a caller should not send a value for by chance: they would be refused every time. */
const CONTEXTUAL = new Set(['connection', 'cursor']);

/** Arguments for one tool: mostly schema-aware, sometimes any JSON under any key. */
function argumentsFor(schema: JsonSchema): fc.Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {};
  const names = Object.keys(properties);
  const value = (name: string) =>
    fc.oneof({ weight: 5, arbitrary: fitting(properties[name], schema, name) }, { weight: 1, arbitrary: anyJson });
  const aware = fc.record(Object.fromEntries(names.map((n) => [n, value(n)])), {
    requiredKeys: [],
  }) as fc.Arbitrary<Record<string, unknown>>;
  // Required arguments present most of the time, so calls get past validation and reach the CRM.
  const complete = fc.tuple(aware, fc.record(Object.fromEntries((schema.required ?? []).map((n) => [n, fitting(properties[n], schema, n)])))).map(
    ([a, r]) => ({ ...a, ...r }),
  );
  const careful = fc
    .tuple(
      fc.record(Object.fromEntries(names.filter((n) => !CONTEXTUAL.has(n)).map((n) => [n, valid(properties[n], schema, n)])), { requiredKeys: [] }),
      fc.record(Object.fromEntries((schema.required ?? []).map((n) => [n, valid(properties[n], schema, n)]))),
    )
    .map(([a, r]) => ({ ...a, ...r }));
  const key = names.length ? fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 20 }), huge) : fc.string({ maxLength: 20 });
  const wild = fc.dictionary(key, anyJson, { maxKeys: 6 });
  const extra = fc.tuple(complete, fc.string({ minLength: 1, maxLength: 15 }), anyJson).map(([a, k, v]) => ({ ...a, [k]: v }));
  return fc.oneof(
    { weight: 8, arbitrary: careful },
    { weight: 5, arbitrary: complete },
    { weight: 2, arbitrary: aware },
    { weight: 3, arbitrary: wild },
    { weight: 1, arbitrary: extra },
    { weight: 1, arbitrary: fc.constant({}) },
  );
}

interface Tool {
  name: string;
  inputSchema: JsonSchema;
}

function callArbitrary(tools: Tool[]): fc.Arbitrary<{ name: string; args: Record<string, unknown> }> {
  return fc.oneof(
    { weight: 99, arbitrary: fc.oneof(...tools.map((t) => argumentsFor(t.inputSchema).map((args) => ({ name: t.name, args })))) },
    // Unknown tools: the SDK's -32602, expected.
    { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 30 }), anyJson).map(([n, a]) => ({ name: `no_such_${n}`, args: { a } })) },
  );
}

// ---------------------------------------------------------------------------------------------
// The server under test

interface Server {
  client: Client;
  alive: () => boolean;
  /** Complete stderr lines written since the last call. */
  takeStderrLines: () => string[];
  /** The last few KB of stderr, for crash reports. */
  stderrTail: () => string;
  close: () => Promise<void>;
}

async function startServer(cli: string, target: Target, dir: string, fake?: { url: string }): Promise<Server> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(dir, 'home'),
    CRM_MCP_LOG_LEVEL: 'warn',
  };
  if (target === 'pipedrive') {
    Object.assign(env, {
      CRM_PROVIDER: 'pipedrive',
      PIPEDRIVE_API_TOKEN: DEFAULT_TOKEN,
      PIPEDRIVE_BASE_URL: fake!.url,
      PIPEDRIVE_BURST_LIMIT: '1000',
    });
  }
  if (target === 'capsule') Object.assign(env, { CRM_PROVIDER: 'capsule', CAPSULE_API_TOKEN: CAPSULE_TOKEN, CAPSULE_BASE_URL: fake!.url });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cli, '--db', join(dir, 'crm.db')],
    env,
    stderr: 'pipe',
    cwd: dir,
  });
  let pending = '';
  let tail = '';
  transport.stderr?.on('data', (c: Buffer) => {
    const chunk = c.toString('utf8');
    pending += chunk;
    tail = (tail + chunk).slice(-4_096);
  });
  let open = true;
  const client = new Client({ name: 'crm-mcp-fuzz', version: '0' });
  client.onclose = () => {
    open = false;
  };
  await client.connect(transport);
  return {
    client,
    alive: () => open,
    takeStderrLines: () => {
      const end = pending.lastIndexOf('\n') + 1;
      const lines = pending.slice(0, end).split('\n').filter((l) => l.trim());
      pending = pending.slice(end);
      return lines;
    },
    stderrTail: () => tail,
    close: async () => {
      await client.close().catch(() => undefined);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The run

const excerptOf = (v: unknown, n = 160) => {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s;
};

export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const report: FuzzReport = {
    target: options.target,
    seed: options.seed,
    calls: 0,
    results: 0,
    errorSentences: 0,
    invalidParams: 0,
    tooLarge: 0,
    largestAnswerBytes: 0,
    slowestCallMs: 0,
    slowestCall: '',
    durationMs: 0,
    examples: {},
    ...(Object.fromEntries(PROBLEMS.map((p) => [p, 0])) as Record<Problem, number>),
  };
  const flag = (problem: Problem, example: string) => {
    report[problem]++;
    const list = (report.examples[problem] ??= []);
    if (list.length < 3) list.push(example);
  };

  const dir = mkdtempSync(join(tmpdir(), 'crm-mcp-fuzz-'));
  const fake =
    options.target === 'pipedrive' ? await startFakePipedrive({ burstLimit: 1000 }) : options.target === 'capsule' ? await startFakeCapsule() : undefined;
  const cli = options.cli ?? CLI;
  let server = await startServer(cli, options.target, dir, fake);
  try {
    const { tools } = await server.client.listTools();
    const arbitrary = callArbitrary(tools as Tool[]);
    const CHUNK = 100;
    for (let chunk = 0; report.calls < options.calls; chunk++) {
      const batch = fc.sample(arbitrary, { seed: options.seed + chunk, numRuns: Math.min(CHUNK, options.calls - report.calls) });
      for (const { name, args } of batch) {
        report.calls++;
        const label = `${name} ${excerptOf(args)}`;
        const sent = Date.now();
        const timed = () => {
          const ms = Date.now() - sent;
          if (ms > report.slowestCallMs) Object.assign(report, { slowestCallMs: ms, slowestCall: label });
        };
        try {
          const result = (await server.client.callTool({ name, arguments: args }, { timeout: 60_000 })) as {
            content?: Array<{ type: string; text?: string }>;
            structuredContent?: unknown;
            isError?: boolean;
          };
          timed();
          const bytes = Buffer.byteLength(JSON.stringify(result));
          report.largestAnswerBytes = Math.max(report.largestAnswerBytes, bytes);
          if (bytes > KB100) flag('over100KB', `${label}: ${bytes} bytes`);
          const texts = (result.content ?? []).filter((c) => c.type === 'text').map((c) => c.text ?? '');
          const all = texts.join('\n');
          const head = all.slice(0, SCANNED);
          if (STACK.test(head)) flag('stackTraces', `${label}: ${excerptOf(all, 300)}`);
          if (PATH.test(head) && !PATH.test(JSON.stringify(args))) flag('paths', `${label}: ${excerptOf(all, 300)}`);
          if (all.includes('failed unexpectedly')) flag('unexpectedFailures', label);
          if (result.isError) {
            // A sentence: one non-empty text, ending like one.
            if (texts.length !== 1 || !/\S/.test(all) || !/[.?!)\]]$/.test(all.trim())) flag('malformedAnswers', `${label}: ${excerptOf(result, 300)}`);
            else {
              report.errorSentences++;
              if (process.env.FUZZ_DEBUG) console.log('ERR', name, all.slice(0, 110));
            }
          } else if (result.structuredContent === undefined || !texts.length || !/\S/.test(all)) {
            flag('malformedAnswers', `${label}: ${excerptOf(result, 300)}`);
          } else {
            report.results++;
          }
        } catch (error) {
          timed();
          if (!server.alive()) {
            flag('crashes', `${label}: ${excerptOf(server.stderrTail(), 600)}`);
            server = await startServer(cli, options.target, dir, fake);
            continue;
          }
          const message = error instanceof Error ? error.message : String(error);
          if (/Structured content does not match|did not return structured content|Failed to validate structured content/.test(message)) {
            flag('outputSchemaViolations', `${label}: ${excerptOf(message, 300)}`);
          } else if (error instanceof ProtocolError && error.code === -32602 && (name.startsWith('no_such_') || /Invalid tools\/call request/.test(message))) {
            report.invalidParams++;
          } else if (error instanceof ProtocolError && error.code === -32600 && /^Message too large: /.test(message)) {
            report.tooLarge++;
          } else {
            flag('protocolErrors', `${label}: ${excerptOf(message, 300)}`);
          }
        }
        // Every stderr line is one JSON object (pino); anything else is a stray print or a stack.
        for (const line of server.takeStderrLines()) {
          try {
            JSON.parse(line);
          } catch {
            flag('stderrNotJson', `${label}: ${excerptOf(line, 300)}`);
          }
        }
        if (options.progress && options.every && report.calls % options.every === 0) {
          report.durationMs = Date.now() - started;
          options.progress(report);
        }
      }
    }
  } finally {
    await server.close();
    await fake?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  report.durationMs = Date.now() - started;
  return report;
}

export function formatReport(r: FuzzReport): string {
  const lines = [
    `target ${r.target}, seed ${r.seed}: ${r.calls.toLocaleString('en-US')} calls in ${(r.durationMs / 1000).toFixed(1)} s`,
    `  slowest call ${r.slowestCallMs} ms: ${r.slowestCall.slice(0, 120)}`,
    `  results ${r.results}, isError sentences ${r.errorSentences}, SDK invalid-params (expected) ${r.invalidParams}, ` +
      `over the 4 MB stdio limit (answered -32600) ${r.tooLarge}, largest answer ${r.largestAnswerBytes.toLocaleString('en-US')} bytes`,
    ...PROBLEMS.map((p) => `  ${p.padEnd(24)} ${r[p]}${r.examples[p]?.length ? `  e.g. ${r.examples[p]![0]}` : ''}`),
  ];
  return lines.join('\n');
}
