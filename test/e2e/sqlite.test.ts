/**
 * The built binary and its SQLite file: repeated starts on one database under every Node found
 * here (node:sqlite on 22.13+/24, better-sqlite3 on 20), each start seeing the others' writes; the
 * driver named in the debug log; another program's file refused untouched.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { openSqlite, sqliteDriverName } from '../../src/crm/sqlite.js';
import { ok } from '../helpers/mcp.js';
import { betterSqlite3Blocker, otherNodes, type NodeBinary } from '../helpers/nodes.js';
import { isolatedDbPath, logLines, ROOT, runCli, startStdio, stopAll } from '../helpers/server.js';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 60_000 });
afterAll(stopAll);

const running: NodeBinary = { path: process.execPath, version: process.versions.node, driver: sqliteDriverName() };
const nodes = [running, ...otherNodes()];
const STARTS = 10;

describe(`the built server on one database file, ${STARTS} starts under each Node here`, () => {
  const db = isolatedDbPath();
  let previous: string | undefined;

  for (const node of nodes) {
    it(`Node ${node.version} (${node.driver}): starts, answers, sees the last write and exits cleanly every time`, async () => {
      for (let start = 1; start <= STARTS; start++) {
        const srv = await startStdio({ db, node: node.path, logLevel: 'debug' });
        const { s } = await ok(srv.client, 'list_pipelines');
        expect(s.pipelines.map((p: { name: string }) => p.name)).toEqual(['Sales', 'Partnerships', 'Renewals']);
        // The deal written by the previous start (perhaps under another Node and driver) comes first.
        const latest = (await ok(srv.client, 'list_deals', { limit: 1 })).s.deals[0].name as string;
        if (previous) expect(latest).toBe(previous);
        previous = `start ${start} on Node ${node.version}`;
        await ok(srv.client, 'create_deal', { name: previous, stage_id: '1' });
        await srv.close();
        const serving = logLines(srv.stderr()).find((l) => l.msg === 'serving stdio');
        expect(serving?.sqlite).toBe(`${node.driver} (Node ${node.version})`);
        expect(srv.stderr()).not.toMatch(/Warning|Assertion|Error/);
      }
      // stdin at its end: the server closes the database and exits 0 (better-sqlite3 aborted here on Node 24).
      const run = await runCli(['--db', db], { node: node.path });
      expect({ code: run.code, signal: run.signal, stderr: run.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    });
  }
});

describe('without better-sqlite3 (the optional dependency left out)', () => {
  const withNodeSqlite = nodes.find((n) => n.driver === 'node:sqlite');

  it('is never imported statically by the bundle', () => {
    for (const file of readdirSync(join(ROOT, 'dist')).filter((f) => f.endsWith('.js'))) {
      expect(readFileSync(join(ROOT, 'dist', file), 'utf8')).not.toMatch(/(from|import)\s*\(?\s*["']better-sqlite3["']/);
    }
  });

  it.skipIf(!withNodeSqlite)(
    `serves on node:sqlite${withNodeSqlite ? ` (Node ${withNodeSqlite.version})` : ' (skipped: no Node with node:sqlite here)'}`,
    async () => {
      const db = isolatedDbPath();
      const blocker = betterSqlite3Blocker(dirname(db));
      const srv = await startStdio({ db, node: withNodeSqlite!.path, env: { NODE_OPTIONS: `--require ${blocker}` } });
      expect((await ok(srv.client, 'list_pipelines')).s.pipelines).toHaveLength(3);
      await srv.close();
      expect(srv.stderr()).toBe('');
    },
  );
});

describe("another program's SQLite file given as --db", () => {
  it('is refused in one sentence, exit 2, and left byte for byte as it was', async () => {
    const path = isolatedDbPath();
    const raw = openSqlite(path);
    raw.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me');");
    raw.close();
    const bytes = readFileSync(path);
    const mtime = statSync(path, { bigint: true }).mtimeNs;

    const run = await runCli(['--db', path]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `crm-mcp: cannot open the configured connections: Refusing to use ${path} as the local CRM database: it is another program's SQLite database (its tables notes are not crm-mcp's), left unchanged; point --db at a new file or at an existing crm-mcp database.\n`,
    );
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(statSync(path, { bigint: true }).mtimeNs).toBe(mtime);
    expect(['-wal', '-shm', '-journal'].filter((s) => existsSync(path + s))).toEqual([]);
  });
});
