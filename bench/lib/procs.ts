/**
 * Child processes, temp files and clean-up for the benchmark. Every child the bench starts is
 * registered here and killed by pid on exit (normal end, error, watchdog or Ctrl+C); every temp
 * directory is removed. Only 127.0.0.1 is ever used.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli.js');
export const NODE = process.execPath;

// ---------------------------------------------------------------------------------------------
// Clean-up registry

const pids = new Set<number>();
const dirs = new Set<string>();
const closers = new Set<() => Promise<void>>();

export function trackPid(pid: number | null | undefined): void {
  if (pid) pids.add(pid);
}
export function untrackPid(pid: number | null | undefined): void {
  if (pid) pids.delete(pid);
}
export function onCleanup(fn: () => Promise<void>): () => void {
  closers.add(fn);
  return () => closers.delete(fn);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Closes what was registered, kills surviving children by pid, removes temp dirs. Idempotent. */
export async function cleanup(): Promise<{ killed: number }> {
  const fns = [...closers];
  closers.clear();
  await Promise.race([
    Promise.allSettled(fns.map((f) => f())),
    new Promise((r) => setTimeout(r, 3000).unref()),
  ]);
  let killed = 0;
  for (const pid of pids) {
    if (alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
        killed += 1;
      } catch {
        // already gone
      }
    }
  }
  pids.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
  return { killed };
}

/** utime+stime of a process in ms, from /proc (Linux); undefined elsewhere. */
export async function cpuMs(pid: number | null | undefined): Promise<number | undefined> {
  if (!pid) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
    return (ticks / 100) * 1000; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Resident set size of a process in MB, from /proc (Linux); undefined elsewhere or once it is gone. */
export async function rssMb(pid: number | null | undefined): Promise<number | undefined> {
  if (!pid) return undefined;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** System-wide CPU busy share (0..1) over `ms`, from /proc/stat; undefined elsewhere. */
export async function systemBusy(ms = 1000): Promise<number | undefined> {
  const read = async () => {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = v[3] + (v[4] ?? 0);
    return { idle, total: v.reduce((a, b) => a + b, 0) };
  };
  try {
    const a = await read();
    await sleep(ms);
    const b = await read();
    return b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : undefined;
  } catch {
    return undefined;
  }
}

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'crm-mcp-bench-'));
  dirs.add(d);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Environment: only what the server needs, never the caller's CRM_* settings or secrets.

const INHERIT = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'SystemRoot'];

export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of INHERIT) if (process.env[k] !== undefined) env[k] = process.env[k] as string;
  return { ...env, ...extra };
}

// ---------------------------------------------------------------------------------------------
// Deadlines

export class Deadline {
  private readonly end: number;
  constructor(readonly ms: number) {
    this.end = performance.now() + ms;
  }
  get passed(): boolean {
    return performance.now() >= this.end;
  }
  get left(): number {
    return Math.max(0, this.end - performance.now());
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// stdio server + SDK client

export interface StdioSession {
  client: Client;
  transport: StdioClientTransport;
  pid: number | null;
  /** performance.now() right before the spawn (connect starts the transport). */
  startedAt: number;
  /** Last stderr output of the child, for error messages. */
  stderr(): string;
  close(): Promise<void>;
}

export interface SpawnOptions {
  args?: string[];
  env?: Record<string, string>;
  /** Extra node flags placed before dist/cli.js (e.g. --cpu-prof). */
  nodeFlags?: string[];
}

function ring(max = 8192) {
  let buf = '';
  return {
    push(chunk: Buffer | string) {
      buf = (buf + chunk.toString()).slice(-max);
    },
    get: () => buf,
  };
}

/** era 'legacy' = the SDK's default 2025 initialize handshake; 'modern' = 2026-07-28 via server/discover. */
export function newClient(era: 'legacy' | 'modern' = 'legacy'): Client {
  return new Client(
    { name: 'crm-mcp-bench', version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: 'auto' } } : undefined,
  );
}

/**
 * Spawns `node dist/cli.js ...` and connects an SDK client over stdio. Resolves once the
 * initialize handshake is done; `onSpawnStart` is called right before the spawn for timing.
 */
export async function connectStdio(opts: SpawnOptions = {}): Promise<StdioSession> {
  const transport = new StdioClientTransport({
    command: NODE,
    args: [...(opts.nodeFlags ?? []), CLI, ...(opts.args ?? [])],
    env: childEnv(opts.env),
    stderr: 'pipe',
    cwd: ROOT,
  });
  const err = ring();
  transport.stderr?.on('data', (c: Buffer) => err.push(c));
  const client = newClient();
  let pid: number | null = null;
  const session: StdioSession = {
    client,
    transport,
    startedAt: 0,
    get pid() {
      return pid;
    },
    stderr: err.get,
    close: async () => {
      await withTimeout(client.close(), 5000, 'closing a stdio client').catch(() => undefined);
      if (pid && alive(pid)) {
        // The server exits when stdin closes; give it a moment, then make sure.
        for (let i = 0; i < 40 && alive(pid); i++) await sleep(25);
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
      untrackPid(pid);
    },
  };
  try {
    session.startedAt = performance.now();
    await withTimeout(
      client.connect(transport).finally(() => {
        pid = transport.pid;
        trackPid(pid);
      }),
      15_000,
      'stdio connect',
    );
  } catch (e) {
    await session.close();
    throw new Error(`${(e as Error).message}; server stderr: ${err.get().slice(-800)}`);
  }
  return session;
}

// ---------------------------------------------------------------------------------------------
// HTTP server child

export interface HttpChild {
  url: string;
  pid: number;
  stderr(): string;
  stop(): Promise<void>;
}

export async function startHttpChild(opts: SpawnOptions = {}): Promise<HttpChild> {
  const child: ChildProcess = spawn(
    NODE,
    [...(opts.nodeFlags ?? []), CLI, '--http', '--host', '127.0.0.1', '--port', '0', ...(opts.args ?? [])],
    { env: childEnv(opts.env), stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT },
  );
  const pid = child.pid;
  if (!pid) throw new Error('could not spawn the HTTP server');
  trackPid(pid);
  const err = ring(16384);
  let lineBuf = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await Promise.race([exited, sleep(2000)]);
    }
    untrackPid(pid);
  };
  const url = await withTimeout(
    new Promise<string>((resolveUrl, reject) => {
      child.stderr?.on('data', (c: Buffer) => {
        err.push(c);
        lineBuf += c.toString();
        let nl: number;
        while ((nl = lineBuf.indexOf('\n')) >= 0) {
          const line = lineBuf.slice(0, nl);
          lineBuf = lineBuf.slice(nl + 1);
          try {
            const rec = JSON.parse(line) as { msg?: string };
            const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)\b/.exec(rec.msg ?? '');
            if (m) resolveUrl(m[1]);
          } catch {
            // not a JSON log line
          }
        }
        if (lineBuf.length > 65536) lineBuf = lineBuf.slice(-65536);
      });
      child.once('exit', (code) => reject(new Error(`HTTP server exited (code ${code}) before listening: ${err.get().slice(-800)}`)));
    }),
    15_000,
    'HTTP server start',
  ).catch(async (e) => {
    await stop();
    throw e;
  });
  return { url, pid, stderr: err.get, stop };
}

export async function connectHttp(url: string, era: 'legacy' | 'modern' = 'legacy'): Promise<Client> {
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1') throw new Error(`refusing non-loopback URL ${url}`);
  const client = newClient(era);
  await withTimeout(client.connect(new StreamableHTTPClientTransport(u)), 10_000, 'HTTP connect');
  return client;
}

// ---------------------------------------------------------------------------------------------
// Raw JSON-RPC over stdio (no SDK client): the server's own round trip, and exact wire bytes.

export interface RawStdio {
  /** The JSON-RPC line answering initialize (server info, capabilities, instructions). */
  initializeAnswer?: string;
  pid: number;
  /** Sends a request and resolves with the raw response line. */
  request(method: string, params?: unknown): Promise<string>;
  notify(method: string, params?: unknown): void;
  close(): Promise<void>;
}

export async function rawStdio(opts: SpawnOptions = {}): Promise<RawStdio> {
  const child = spawn(NODE, [...(opts.nodeFlags ?? []), CLI, ...(opts.args ?? [])], {
    env: childEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  const pid = child.pid;
  if (!pid) throw new Error('could not spawn the stdio server');
  trackPid(pid);
  const err = ring();
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const waiting = new Map<number, (line: string) => void>();
  let buf = '';
  child.stdout.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = /"id":(\d+)/.exec(line.slice(0, 64)) ?? /"id":(\d+)/.exec(line);
      if (!m) continue;
      const w = waiting.get(Number(m[1]));
      if (w) {
        waiting.delete(Number(m[1]));
        w(line);
      }
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let nextId = 1;
  const raw: RawStdio = {
    pid,
    request(method, params) {
      const id = nextId++;
      return withTimeout(
        new Promise<string>((res) => {
          waiting.set(id, res);
          child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) })}\n`);
        }),
        15_000,
        `raw ${method}`,
      ).catch((e: Error) => {
        throw new Error(`${e.message}; server stderr: ${err.get().slice(-600)}`);
      });
    },
    notify(method, params) {
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) })}\n`);
    },
    async close() {
      child.stdin.end();
      await Promise.race([exited, sleep(2000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await Promise.race([exited, sleep(1000)]);
      untrackPid(pid);
    },
  };
  try {
    raw.initializeAnswer = await raw.request('initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'crm-mcp-bench-raw', version: '1.0.0' },
    });
    raw.notify('notifications/initialized');
  } catch (e) {
    await raw.close();
    throw e;
  }
  return raw;
}

/** Opens and closes the server once on `db`, so the demo seed is done before anything is timed. */
export async function seedDb(db: string): Promise<void> {
  const s = await connectStdio({ args: ['--db', db] });
  try {
    await s.client.listTools();
  } finally {
    await s.close();
  }
}
