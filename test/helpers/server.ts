/**
 * Helpers for end-to-end tests: they spawn the BUILT binary (`node dist/cli.js`, built by
 * `npm run build`, which `npm test` runs before vitest) over stdio or Streamable HTTP and connect a
 * real MCP client to it.
 *
 * Every spawned process gets a clean environment (no inherited CRM_* variables, HOME pointing at
 * a scratch directory so the default ~/.crm-mcp database is never touched) and an explicit
 * CRM_MCP_LOG_LEVEL. Every process is tracked: `stopAll()` (call it in afterAll/afterEach) ends
 * whatever is still running, and a last-resort exit hook SIGKILLs leftovers and removes the scratch
 * directory, so a failing test never leaves a server behind.
 *
 * Every process is also under the secret scan (./secrets.ts): each secret-looking value of its
 * environment is looked for, fragments included, in every result and error its clients receive,
 * every raw HTTP answer and every stdout/stderr line. A finding fails the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { assertNoLeaks, scanStats, SecretScanner, watchLines } from './secrets.js';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CLI = join(ROOT, 'dist', 'cli.js');

/** Generous: a loaded two-core machine can be slow to start node and seed SQLite. */
export const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function assertBuilt(): void {
  if (!existsSync(CLI)) {
    throw new Error(`${CLI} does not exist: run \`npm run build\` first (\`npm test\` does it).`);
  }
}

// ---------------------------------------------------------------------------------------------
// Scratch space and process tracking

let scratch: string | undefined;

/** One scratch directory per test process (databases, fake HOME); removed on exit. */
export function scratchDir(): string {
  if (!scratch) scratch = mkdtempSync(join(tmpdir(), 'crm-mcp-e2e-'));
  return scratch;
}

/** A fresh database path under os.tmpdir() with a random name (the file does not exist yet). */
export function tempDbPath(): string {
  return join(scratchDir(), `crm-${randomBytes(8).toString('hex')}.db`);
}

/**
 * A fresh database path alone in a new directory under the scratch dir. Use it where files kept
 * beside the database matter (e.g. idempotency.db, shared by every --db in the same directory):
 * two servers given such paths share nothing unless they are given the same path.
 */
export function isolatedDbPath(): string {
  const dir = mkdtempSync(join(scratchDir(), 'db-'));
  return join(dir, 'crm.db');
}

/** A fresh empty directory under the scratch dir (config files, databases). */
export function tempDir(): string {
  return mkdtempSync(join(scratchDir(), 'dir-'));
}

/** Removes a database file and its SQLite side files. */
export function removeDb(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true });
}

const livePids = new Set<number>();
const stoppers = new Set<() => Promise<void>>();

process.once('exit', () => {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/**
 * Stops every server and client these helpers started that is still running, then removes the
 * scratch directory (databases, fake HOME). Call it in the test file's top-level afterAll.
 */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...stoppers].map((stop) => stop()));
  if (scratch && livePids.size === 0) {
    rmSync(scratch, { recursive: true, force: true });
    scratch = undefined;
  }
  // Lines a process wrote after the last test's check.
  assertNoLeaks();
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for a pid to disappear; SIGKILLs it if it outlives the grace period. */
async function ensureDead(pid: number): Promise<void> {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid) && Date.now() < deadline) await sleep(25);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // raced with exit
    }
    while (isAlive(pid)) await sleep(25);
  }
  livePids.delete(pid);
}

/**
 * The environment of every spawned server: only PATH from the parent, HOME in the scratch dir,
 * an explicit log level, then `extra`. Nothing else leaks in (no CRM_*, no NODE_OPTIONS).
 */
/** The HOME every spawned server sees (not created until a server writes there). */
export function scratchHome(): string {
  return join(scratchDir(), 'home');
}

export function cleanEnv(extra: Record<string, string> = {}, logLevel: LogLevel = 'info'): Record<string, string> {
  const home = scratchHome();
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    CRM_MCP_LOG_LEVEL: logLevel,
    ...extra,
  };
}

export interface SpawnOptions {
  /** --db value; default a fresh temp file. Pass ':memory:' where persistence is not needed. */
  db?: string;
  /** Leave out --db entirely (only for tests that need no database). */
  noDb?: boolean;
  /** Extra CLI arguments. */
  args?: string[];
  /** Working directory (default the scratch dir, where relative --db paths land). */
  cwd?: string;
  /** Extra environment variables (on top of cleanEnv). */
  env?: Record<string, string>;
  logLevel?: LogLevel;
  /** The Node binary to run it with (default: the one running the tests). */
  node?: string;
  /**
   * Run this instead of `node dist/cli.js` (stdio only): e.g. an installed bin or an unpacked
   * extension under another Node. The --db flag and `args` still follow.
   */
  launch?: { command: string; args?: string[] };
  /**
   * Secrets the scan cannot find in `env` by name (e.g. one written into a config file or a URL
   * path), by a label: they are looked for in all output too.
   */
  secrets?: Record<string, string>;
}

/** The scanner for a process: the secrets of its environment, plus any given explicitly. */
export function secretScanner(env: Record<string, string | undefined>, extra: Record<string, string> = {}): SecretScanner {
  const scanner = new SecretScanner().addEnv(env);
  for (const [name, value] of Object.entries(extra)) scanner.add(name, value);
  if (scanner.size) scanStats.processes++;
  return scanner;
}

/**
 * Puts a client under the scan: every JSON-RPC result and error it receives (tool results with
 * their structuredContent, dry-run previews, resources, prompts) is checked for the process's
 * secrets, and so are the output lines of every process seen since the last call. A finding
 * makes the call throw a SecretLeakError.
 */
export function guardClient(client: Client, scanner: SecretScanner, label: string): void {
  const request = client.request.bind(client);
  client.request = (async (...args: Parameters<Client['request']>) => {
    const [req] = args;
    const tool = (req.params as { name?: unknown } | undefined)?.name;
    const what = `${label}: ${req.method}${typeof tool === 'string' ? ` ${tool}` : ''}`;
    let result: unknown;
    try {
      result = await request(...args);
    } catch (e) {
      const { message, data } = e as { message?: unknown; data?: unknown };
      scanner.checkValue({ message, data }, `${what} error`);
      throw e;
    }
    scanner.checkValue(result, `${what} result`);
    assertNoLeaks();
    return result;
  }) as Client['request'];
}

/** Scanners of running HTTP servers by port, for raw requests. */
const scannersByPort = new Map<number, SecretScanner>();

function dbArgs(opts: SpawnOptions): { db: string | undefined; args: string[] } {
  if (opts.noDb) return { db: undefined, args: [] };
  const db = opts.db ?? tempDbPath();
  return { db, args: ['--db', db] };
}

function newClient(): Client {
  return new Client({ name: 'crm-mcp-e2e', version: '0.0.0' });
}

// ---------------------------------------------------------------------------------------------
// stdio

export interface StdioServer {
  client: Client;
  transport: StdioClientTransport;
  pid: number;
  /** The --db path in use (undefined with noDb). */
  db: string | undefined;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Closes the client and makes sure the process is gone. Idempotent. */
  close(): Promise<void>;
}

/** Spawns `node dist/cli.js --db <temp> ...` over stdio and connects a client to it. */
export async function startStdio(opts: SpawnOptions = {}): Promise<StdioServer> {
  if (!opts.launch) assertBuilt();
  const { db, args: dbFlag } = dbArgs(opts);
  const env = cleanEnv(opts.env, opts.logLevel ?? 'info');
  const transport = new StdioClientTransport({
    command: opts.launch?.command ?? opts.node ?? process.execPath,
    args: [...(opts.launch ? (opts.launch.args ?? []) : [CLI]), ...dbFlag, ...(opts.args ?? [])],
    env,
    stderr: 'pipe',
    cwd: opts.cwd ?? scratchDir(),
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const scanner = secretScanner(env, opts.secrets);
  const stderrScan = watchLines(transport.stderr as NodeJS.ReadableStream | null, scanner, 'stdio server stderr');
  const client = newClient();
  guardClient(client, scanner, 'stdio server');

  let pid: number | null = null;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      stoppers.delete(close);
      await client.close().catch(() => undefined);
      await transport.close().catch(() => undefined);
      if (pid !== null) await ensureDead(pid);
      stderrScan.flush();
    })();
    return closed;
  };
  stoppers.add(close);

  const timer = setTimeout(() => void transport.close().catch(() => undefined), START_TIMEOUT_MS);
  try {
    await client.connect(transport);
    pid = transport.pid;
    if (pid !== null) livePids.add(pid);
  } catch (e) {
    pid = transport.pid;
    await close();
    throw new Error(`crm-mcp over stdio did not start: ${(e as Error).message}\nstderr:\n${stderr}`);
  } finally {
    clearTimeout(timer);
  }
  if (pid === null) {
    await close();
    throw new Error(`crm-mcp over stdio has no pid after connecting\nstderr:\n${stderr}`);
  }
  return { client, transport, pid, db, stderr: () => stderr, close };
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface HttpServer {
  child: ChildProcess;
  pid: number;
  db: string | undefined;
  /** The MCP endpoint, e.g. http://127.0.0.1:41234/mcp. */
  url: URL;
  port: number;
  stdout(): string;
  stderr(): string;
  /** Connects a new client (closed by stop()). `token` adds Authorization: Bearer <token>. */
  connect(opts?: { token?: string; headers?: Record<string, string> }): Promise<Client>;
  /** Closes every client it connected, then ends the process (SIGTERM, SIGKILL if needed). */
  stop(): Promise<void>;
}

interface LogLine {
  msg?: string;
  url?: string;
  [key: string]: unknown;
}

/** Parses stderr lines that are JSON pino records; other lines are skipped. */
export function logLines(stderr: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of stderr.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      out.push(JSON.parse(t) as LogLine);
    } catch {
      // not JSON
    }
  }
  return out;
}

const LISTENING = /listening on (http:\/\/\S+\/mcp)/;

/**
 * Spawns `node dist/cli.js --http --port 0 ...` and waits for the pino line
 * `listening on http://127.0.0.1:PORT/mcp` on stderr. Needs log level info or lower (default).
 */
export async function startHttp(opts: SpawnOptions = {}): Promise<HttpServer> {
  assertBuilt();
  const { db, args: dbFlag } = dbArgs(opts);
  const env = cleanEnv(opts.env, opts.logLevel ?? 'info');
  const child = spawn(process.execPath, [CLI, '--http', '--port', '0', ...dbFlag, ...(opts.args ?? [])], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: scratchDir(),
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn crm-mcp');
  livePids.add(pid);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const scanner = secretScanner(env, opts.secrets);
  const outputScans = [
    watchLines(child.stdout, scanner, 'HTTP server stdout'),
    watchLines(child.stderr, scanner, 'HTTP server stderr'),
  ];
  const exited = new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r();
    else child.once('exit', () => r());
  });

  const clients = new Set<Client>();
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stoppers.delete(stop);
      await Promise.allSettled([...clients].map((c) => c.close()));
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(t);
      }
      livePids.delete(pid);
      for (const [port, s] of scannersByPort) if (s === scanner) scannersByPort.delete(port);
      for (const o of outputScans) o.flush();
    })();
    return stopped;
  };
  stoppers.add(stop);

  let url: URL;
  try {
    url = await new Promise<URL>((resolveUrl, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no "listening on" line within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      const check = () => {
        for (const line of logLines(stderr)) {
          const m = LISTENING.exec(line.msg ?? '');
          if (m) {
            clearTimeout(timer);
            child.stderr!.off('data', check);
            resolveUrl(new URL(line.url ?? m[1]));
            return;
          }
        }
      };
      child.stderr!.on('data', check);
      check();
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`exited with code ${child.exitCode} before listening`));
      });
    });
  } catch (e) {
    await stop();
    throw new Error(`crm-mcp over HTTP did not start: ${(e as Error).message}\nstderr:\n${stderr}`);
  }
  scannersByPort.set(Number(url.port), scanner);

  return {
    child,
    pid,
    db,
    url,
    port: Number(url.port),
    stdout: () => stdout,
    stderr: () => stderr,
    async connect(o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.token !== undefined) headers.Authorization = `Bearer ${o.token}`;
      const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers } });
      const client = newClient();
      guardClient(client, scanner, 'HTTP server');
      clients.add(client);
      try {
        await client.connect(transport);
      } catch (e) {
        clients.delete(client);
        await client.close().catch(() => undefined);
        throw e;
      }
      return client;
    },
    stop,
  };
}

// ---------------------------------------------------------------------------------------------
// One-shot runs and raw HTTP

export interface RunResult {
  /** Exit code; null when the process was killed (e.g. it did not exit within the timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs `node dist/cli.js <args>` to completion with a clean env (stdin is /dev/null). A process
 * that is still running after `timeoutMs` is killed and reported with timedOut: true.
 */
export async function runCli(
  args: string[],
  opts: { env?: Record<string, string>; logLevel?: LogLevel; timeoutMs?: number; node?: string; secrets?: Record<string, string> } = {},
): Promise<RunResult> {
  assertBuilt();
  const env = cleanEnv(opts.env, opts.logLevel ?? 'info');
  const child = spawn(opts.node ?? process.execPath, [CLI, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: scratchDir(),
  });
  const pid = child.pid;
  if (pid !== undefined) livePids.add(pid);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 20_000);
  const kill = async () => {
    child.kill('SIGKILL');
  };
  stoppers.add(kill);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
    child.once('close', (c, s) => r([c, s])),
  );
  clearTimeout(timer);
  stoppers.delete(kill);
  if (pid !== undefined) livePids.delete(pid);
  const scanner = secretScanner(env, opts.secrets);
  scanner.check(stdout, `stdout of crm-mcp ${args.join(' ')}`.slice(0, 120));
  scanner.check(stderr, `stderr of crm-mcp ${args.join(' ')}`.slice(0, 120));
  return { code, signal, stdout, stderr, timedOut };
}

/**
 * Spawns the stdio server with raw pipes (no MCP client), for tests that inspect the bytes on
 * stdout. The caller writes to `child.stdin`; `stop()` ends it for sure.
 */
export function spawnRawStdio(opts: SpawnOptions = {}): {
  child: ChildProcess & { stdin: NodeJS.WritableStream; stdout: NodeJS.ReadableStream; stderr: NodeJS.ReadableStream };
  db: string | undefined;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
} {
  assertBuilt();
  const { db, args: dbFlag } = dbArgs(opts);
  const env = cleanEnv(opts.env, opts.logLevel ?? 'info');
  const child = spawn(opts.node ?? process.execPath, [CLI, ...dbFlag, ...(opts.args ?? [])], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: scratchDir(),
  });
  const pid = child.pid;
  if (pid !== undefined) livePids.add(pid);
  const scanner = secretScanner(env, opts.secrets);
  watchLines(child.stdout, scanner, 'stdio server stdout');
  watchLines(child.stderr, scanner, 'stdio server stderr');
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('close', (code, signal) => r({ code, signal })),
  );
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stoppers.delete(stop);
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        const t1 = setTimeout(() => child.kill('SIGTERM'), 3_000);
        const t2 = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(t1);
        clearTimeout(t2);
      }
      if (pid !== undefined) livePids.delete(pid);
    })();
    return stopped;
  };
  stoppers.add(stop);
  return { child: child as never, db, exited, stop };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A raw HTTP request to 127.0.0.1:port with exactly the headers given (node:http, so a forged
 * Host header is really sent). The answer is checked by the secret scan of the server on that
 * port.
 */
export function rawRequest(
  port: number,
  opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string; address?: string },
): Promise<RawResponse> {
  return new Promise((resolveRes, reject) => {
    const req = http.request(
      {
        host: opts.address ?? '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path ?? '/mcp',
        headers: {
          ...(opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}),
          ...(opts.body !== undefined && opts.body.length > LARGE_BODY ? { expect: '100-continue' } : {}),
          ...(opts.headers ?? {}),
        },
        agent: false,
      },
      (res) => {
        responded = true;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          try {
            scannersByPort.get(port)?.check(body, `HTTP ${opts.method ?? 'GET'} ${opts.path ?? '/mcp'} answer`);
          } catch (e) {
            reject(e);
            return;
          }
          resolveRes({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(START_TIMEOUT_MS, () => req.destroy(new Error('raw request timed out')));
    // A server may answer (413, 401) and close while a large body is still being written: the
    // write then fails, but the answer is what counts.
    let responded = false;
    req.on('error', (e) => {
      if (!responded) reject(e);
    });
    if (opts.body === undefined || opts.body.length <= LARGE_BODY) {
      req.end(opts.body);
      return;
    }
    // A large body waits for the server's "100 Continue": a server that refuses on the headers
    // alone (401, 403, 413) is not made to read it, and the client does not race a closing
    // connection. (A client that does not wait: see test/e2e/http-hostile.test.ts.)
    req.on('continue', () => {
      if (!responded) req.end(opts.body);
    });
    req.flushHeaders();
  });
}

/** Bodies above this size are held back until the server has accepted the headers. */
const LARGE_BODY = 64 * 1024;

/** A JSON-RPC initialize request body, as a client would send it first. */
export function initializeBody(id: number | string = 1): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'crm-mcp-e2e-raw', version: '0.0.0' },
    },
  });
}

/** Headers a Streamable HTTP POST needs. */
export const MCP_POST_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};
