/**
 * Local (SQLite) provider over stdio: (a) cold start, (b) tool-call latency, (d) tools/list size,
 * (e) text and structuredContent size per record.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client } from '@modelcontextprotocol/client';
import { Deadline, NODE, CLI, ROOT, childEnv, connectStdio, cpuMs, rawStdio, seedDb, tempDir, trackPid, untrackPid, withTimeout } from './lib/procs.js';
import { importBreakdown } from './lib/imports.js';
import { median, summarize, type Summary } from './lib/stats.js';

export interface ToolResult {
  content?: Array<{ type: string; text?: string }>;
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolResult> {
  return (await client.callTool({ name, arguments: args })) as ToolResult;
}

export const textOf = (r: ToolResult): string =>
  (r.content ?? []).map((c) => (c.type === 'text' ? (c.text ?? '') : '')).join('\n');

function ensureOk(r: ToolResult, what: string): ToolResult {
  if (r.isError) throw new Error(`${what} returned isError: ${textOf(r).slice(0, 300)}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// (a) cold start

export interface ColdStart {
  runs: number;
  /** spawn -> tools/list answered, ms */
  total: Summary;
  /** spawn -> initialize answered, ms */
  connect: Summary;
  /** tools/list alone after connect, ms */
  listTools: Summary;
  firstRunWithSeed: { total: number; connect: number; listTools: number };
  /** Context for what dominates: bare node, and node loading the whole module graph (--version). */
  baseline: { bareNode: number; cliVersion: number };
  /** Each start-up import timed in order in one fresh process (median of 3): the increment it adds. */
  imports: Array<{ module: string; ms: number }>;
}

async function coldOnce(db: string): Promise<{ total: number; connect: number; listTools: number }> {
  const s = await connectStdio({ args: ['--db', db] });
  try {
    const t1 = performance.now();
    const tools = await withTimeout(s.client.listTools(), 10_000, 'tools/list');
    const t2 = performance.now();
    if (!tools.tools.length) throw new Error('tools/list returned no tools');
    return { total: t2 - s.startedAt, connect: t1 - s.startedAt, listTools: t2 - t1 };
  } finally {
    await s.close();
  }
}

/** Spawn -> exit of a short node command, ms. */
function timeExit(args: string[]): Promise<number> {
  return withTimeout(
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      const child = spawn(NODE, args, { env: childEnv(), stdio: ['ignore', 'ignore', 'ignore'], cwd: ROOT });
      trackPid(child.pid);
      child.once('error', reject);
      child.once('exit', (code) => {
        untrackPid(child.pid);
        if (code === 0) resolve(performance.now() - t0);
        else reject(new Error(`node ${args.join(' ')} exited with ${code}`));
      });
    }),
    10_000,
    `node ${args.join(' ')}`,
  );
}

export async function coldStart(runs = 10): Promise<ColdStart> {
  const dir = tempDir();
  const first = await coldOnce(join(dir, 'brand-new.db'));
  const db = join(dir, 'seeded.db');
  await seedDb(db); // seeding happens here, untimed
  await coldOnce(db); // one untimed run so the OS file cache is warm for every timed run alike
  const samples: Array<{ total: number; connect: number; listTools: number }> = [];
  const deadline = new Deadline(60_000);
  for (let i = 0; i < runs && !deadline.passed; i++) samples.push(await coldOnce(db));

  const bare: number[] = [];
  const version: number[] = [];
  for (let i = 0; i < 5 && !deadline.passed; i++) {
    bare.push(await timeExit(['-e', '0']));
    version.push(await timeExit([CLI, '--version']));
  }
  const imports = await importBreakdown(3);
  return {
    imports,
    runs: samples.length,
    total: summarize(samples.map((s) => s.total)),
    connect: summarize(samples.map((s) => s.connect)),
    listTools: summarize(samples.map((s) => s.listTools)),
    firstRunWithSeed: first,
    baseline: { bareNode: median(bare), cliVersion: median(version) },
  };
}

// ---------------------------------------------------------------------------------------------
// (b) tool-call latency over stdio

export interface LatencyRow {
  tool: string;
  args: string;
  calls: number;
  errors: number;
  /** SDK client: callTool() round trip incl. client-side output validation. */
  sdk: Summary;
  /** Raw JSON-RPC line in, line out: the server and the pipe only. */
  raw: Summary;
  /** Server process CPU ms per call during the SDK loop (10 ms tick resolution, averaged). */
  serverCpuMsPerCall?: number;
}

export interface LatencyResult {
  warmup: number;
  rows: LatencyRow[];
  updateVerified: boolean;
}

interface Ids {
  pipelineId: string;
  dealIds: string[];
}

export async function discoverIds(client: Client): Promise<Ids> {
  const p = ensureOk(await call(client, 'list_pipelines', {}), 'list_pipelines');
  const pipelines = (p.structuredContent?.pipelines ?? []) as Array<{ id: string }>;
  const d = ensureOk(await call(client, 'list_deals', { limit: 20 }), 'list_deals');
  const deals = (d.structuredContent?.deals ?? []) as Array<{ id: string }>;
  if (!pipelines.length || !deals.length) throw new Error('the demo database has no pipelines or deals');
  return { pipelineId: pipelines[0].id, dealIds: deals.map((x) => x.id) };
}

type ArgsFor = (i: number) => Record<string, unknown>;

async function timeLoop(
  run: (i: number) => Promise<boolean>,
  warmup: number,
  count: number,
  budgetMs: number,
): Promise<{ samples: number[]; errors: number }> {
  const deadline = new Deadline(budgetMs);
  for (let i = 0; i < warmup && !deadline.passed; i++) await run(i);
  const samples: number[] = [];
  let errors = 0;
  for (let i = 0; i < count && !deadline.passed; i++) {
    const t0 = performance.now();
    const ok = await run(warmup + i);
    samples.push(performance.now() - t0);
    if (!ok) errors += 1;
  }
  return { samples, errors };
}

export async function stdioLatency(warmup = 20, count = 300): Promise<LatencyResult> {
  const dir = tempDir();
  const db = join(dir, 'latency.db');
  await seedDb(db);
  const s = await connectStdio({ args: ['--db', db] });
  const raw = await rawStdio({ args: ['--db', db] });
  try {
    await s.client.listTools(); // what a real client does first; enables output validation
    const ids = await discoverIds(s.client);
    const dealId = ids.dealIds[0];
    const amount = (i: number) => (i % 2 === 0 ? 12_345 : 54_321);
    const plan: Array<{ tool: string; label: string; args: ArgsFor }> = [
      { tool: 'get_pipeline', label: `pipeline_id ${ids.pipelineId}`, args: () => ({ pipeline_id: ids.pipelineId }) },
      { tool: 'list_deals', label: 'defaults', args: () => ({}) },
      { tool: 'update_deal', label: `deal_id ${dealId}, amount alternating`, args: (i) => ({ deal_id: dealId, amount: amount(i) }) },
    ];
    const rows: LatencyRow[] = [];
    let lastAmount: number | undefined;
    for (const p of plan) {
      const c0 = await cpuMs(s.pid);
      const sdk = await timeLoop(
        async (i) => {
          const args = p.args(i);
          const r = await call(s.client, p.tool, args);
          if (p.tool === 'update_deal') lastAmount = args.amount as number;
          return !r.isError;
        },
        warmup,
        count,
        30_000,
      );
      const c1 = await cpuMs(s.pid);
      const rawRun = await timeLoop(
        async (i) => {
          const line = await raw.request('tools/call', { name: p.tool, arguments: p.args(i + 1) });
          return !line.includes('"isError":true') && !line.includes('"error":{');
        },
        warmup,
        count,
        30_000,
      );
      rows.push({
        tool: p.tool,
        args: p.label,
        calls: sdk.samples.length,
        errors: sdk.errors + rawRun.errors,
        sdk: summarize(sdk.samples),
        raw: summarize(rawRun.samples),
        serverCpuMsPerCall: c0 !== undefined && c1 !== undefined ? (c1 - c0) / (warmup + sdk.samples.length) : undefined,
      });
    }
    // update_deal really wrote: the raw session's last write and the SDK session's differ in
    // parity, so read back through the SDK session right after one more SDK write.
    const check = lastAmount === 12_345 ? 54_321 : 12_345;
    await call(s.client, 'update_deal', { deal_id: dealId, amount: check });
    const back = await call(s.client, 'get_deal', { deal_id: dealId });
    const deal = back.structuredContent?.deal as { amount?: number } | undefined;
    return { warmup, rows, updateVerified: deal?.amount === check };
  } finally {
    await Promise.allSettled([s.close(), raw.close()]);
  }
}

// ---------------------------------------------------------------------------------------------
// (d) tools/list size, exact wire JSON

export interface ToolsListSize {
  tools: number;
  totalBytes: number;
  avgBytes: number;
  responseBytes: number;
  /** UTF-8 bytes of the server instructions (initialize): what a client deferring tool loading shows first. */
  instructionsBytes: number;
  perTool: Array<{ name: string; bytes: number; descriptionBytes: number; inputSchemaBytes: number; outputSchemaBytes: number }>;
}

export async function toolsListSize(): Promise<ToolsListSize> {
  const dir = tempDir();
  const db = join(dir, 'size.db');
  const raw = await rawStdio({ args: ['--db', db] });
  try {
    const line = await raw.request('tools/list', {});
    const msg = JSON.parse(line) as { result?: { tools?: Array<Record<string, unknown>> } };
    const tools = msg.result?.tools ?? [];
    const bytes = (v: unknown) => (v === undefined ? 0 : Buffer.byteLength(JSON.stringify(v)));
    const perTool = tools
      .map((t) => ({
        name: String(t.name),
        bytes: bytes(t),
        descriptionBytes: bytes(t.description),
        inputSchemaBytes: bytes(t.inputSchema),
        outputSchemaBytes: bytes(t.outputSchema),
      }))
      .sort((a, b) => b.bytes - a.bytes);
    const totalBytes = bytes(tools);
    return {
      tools: tools.length,
      totalBytes,
      avgBytes: tools.length ? totalBytes / tools.length : Number.NaN,
      responseBytes: Buffer.byteLength(line),
      instructionsBytes: Buffer.byteLength(
        (JSON.parse(raw.initializeAnswer ?? '{}') as { result?: { instructions?: string } }).result?.instructions ?? '',
      ),
      perTool,
    };
  } finally {
    await raw.close();
  }
}

// ---------------------------------------------------------------------------------------------
// (e) text and structuredContent per record

export interface RecordSizeRow {
  tool: string;
  format: 'concise' | 'detailed';
  records: number;
  textChars: number;
  textBytes: number;
  charsPerRecord: number;
  /** Average characters of one record line ("- ..."), header and footer excluded. */
  lineChars: number;
  structuredBytesPerRecord: number;
}

const LIST_KEYS: Record<string, string> = {
  list_deals: 'deals',
  list_projects: 'projects',
  list_stages: 'stages',
  list_pipelines: 'pipelines',
  list_accounts: 'accounts',
  list_contacts: 'contacts',
  list_users: 'users',
  list_activities: 'activities',
  search: 'results',
};

/** Arguments beside limit and response_format: search needs a query (a common word of the demo). */
const EXTRA_ARGS: Record<string, Record<string, unknown>> = { search: { query: 'co', limit: 25 } };

export async function recordSizes(
  client: Client,
  tools: string[] = Object.keys(LIST_KEYS),
  extraArgs: Record<string, unknown> = {},
  formats: ReadonlyArray<'concise' | 'detailed'> = ['concise', 'detailed'],
): Promise<RecordSizeRow[]> {
  const rows: RecordSizeRow[] = [];
  for (const tool of tools) {
    for (const format of formats) {
      // search has one format and its own arguments.
      if (tool in EXTRA_ARGS && format === 'detailed') continue;
      const args = EXTRA_ARGS[tool] ?? { limit: 100, response_format: format };
      const r = ensureOk(await call(client, tool, { ...args, ...extraArgs }), tool);
      const key = LIST_KEYS[tool];
      const records = ((r.structuredContent?.[key] ?? []) as unknown[]).length;
      const text = textOf(r);
      const lines = text.split('\n').filter((l) => l.startsWith('- '));
      const structured = Buffer.byteLength(JSON.stringify(r.structuredContent?.[key] ?? []));
      rows.push({
        tool,
        format,
        records,
        textChars: text.length,
        textBytes: Buffer.byteLength(text),
        charsPerRecord: records ? text.length / records : Number.NaN,
        lineChars: lines.length ? lines.reduce((a, l) => a + l.length, 0) / lines.length : Number.NaN,
        structuredBytesPerRecord: records ? structured / records : Number.NaN,
      });
    }
  }
  return rows;
}

export async function localRecordSizes(): Promise<RecordSizeRow[]> {
  const dir = tempDir();
  const db = join(dir, 'records.db');
  await seedDb(db);
  const s = await connectStdio({ args: ['--db', db] });
  try {
    await s.client.listTools();
    return await recordSizes(s.client);
  } finally {
    await s.close();
  }
}
