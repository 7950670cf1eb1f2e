/**
 * Start-up of the built binary: V8's on-disk compile cache for crm-mcp's bundle where the running
 * node has one (22.1+), in node's default place (os.tmpdir()/node-compile-cache), off with
 * NODE_DISABLE_COMPILE_CACHE=1, and never in the way of a start (unwritable place, stdout).
 * On a node without the cache (20) the same tests check that nothing is written.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { spawnRawStdio, startStdio, stopAll, tempDbPath, tempDir } from '../helpers/server.js';

vi.setConfig({ testTimeout: 60_000 });
afterAll(stopAll);

const nodeHasCache = typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function';

/** Files in <tmp>/node-compile-cache/<node version folder>/, or null when there is no cache folder. */
function cacheEntries(tmp: string): string[] | null {
  const root = join(tmp, 'node-compile-cache');
  if (!existsSync(root)) return null;
  return readdirSync(root).flatMap((version) => readdirSync(join(root, version)).map((f) => join(root, version, f)));
}

async function listToolsOnce(db: string, env: Record<string, string>): Promise<{ tools: number; stderr: string }> {
  const server = await startStdio({ db, env });
  try {
    return { tools: (await server.client.listTools()).tools.length, stderr: server.stderr() };
  } finally {
    await server.close(); // stdin closes, the server exits, node writes the cache
  }
}

describe('compile cache', () => {
  it(nodeHasCache ? 'is written on the first start and read on the next' : 'is not written by a node without one', async () => {
    const tmp = tempDir();
    const db = tempDbPath();
    expect((await listToolsOnce(db, { TMPDIR: tmp })).tools).toBeGreaterThan(0);
    const first = cacheEntries(tmp);
    if (!nodeHasCache) {
      expect(first).toBeNull();
      return;
    }
    // The server's chunks (the entry itself is compiled before the cache is on): the bundle's
    // compiled code, hundreds of kilobytes.
    expect(first?.length).toBeGreaterThanOrEqual(2);
    expect((first ?? []).reduce((sum, f) => sum + statSync(f).size, 0)).toBeGreaterThan(100_000);
    // Node's own debug output says which cached code it used.
    const second = await listToolsOnce(db, { TMPDIR: tmp, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' });
    expect(second.tools).toBeGreaterThan(0);
    expect(second.stderr).toMatch(/cli-\w+\.js was accepted/);
    expect(second.stderr).toMatch(/chunk-\w+\.js was accepted/);
    expect(cacheEntries(tmp)?.sort()).toEqual(first?.sort());
  });

  it('stays off with NODE_DISABLE_COMPILE_CACHE=1', async () => {
    const tmp = tempDir();
    expect((await listToolsOnce(tempDbPath(), { TMPDIR: tmp, NODE_DISABLE_COMPILE_CACHE: '1' })).tools).toBeGreaterThan(0);
    expect(cacheEntries(tmp)).toBeNull();
  });

  it('in a place that cannot be written, the server starts and stdout carries only JSON-RPC', async () => {
    const notADir = join(tempDir(), 'file');
    writeFileSync(notADir, 'not a directory');
    const raw = spawnRawStdio({ db: tempDbPath(), env: { TMPDIR: notADir } });
    let stdout = '';
    let stderr = '';
    raw.child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    raw.child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const send = (m: object) => raw.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
    const answered = (id: number) =>
      vi.waitFor(
        () => {
          if (!stdout.split('\n').some((l) => l.startsWith('{') && (JSON.parse(l) as { id?: number }).id === id)) {
            throw new Error(`no answer ${id} yet; stderr: ${stderr}`);
          }
        },
        { timeout: 30_000, interval: 20 },
      );
    send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    await answered(1);
    send({ method: 'notifications/initialized' });
    send({ id: 2, method: 'tools/list' });
    await answered(2);
    await raw.stop();
    const lines = stdout.split('\n').filter((l) => l !== '');
    expect(lines.length).toBe(2);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: '2.0' });
    const list = JSON.parse(lines[1]) as { result: { tools: unknown[] } };
    expect(list.result.tools.length).toBeGreaterThan(0);
    expect(await raw.exited).toEqual({ code: 0, signal: null });
    expect(stderr).not.toMatch(/compile cache|node-compile-cache/i);
  });
});
