/**
 * The SQLite driver seam behaves the same whichever driver serves (node:sqlite on Node 22.13+/24,
 * better-sqlite3 on Node 20): these run on both in CI.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isBusy, NO_SQLITE_DRIVER, openSqlite, sqliteDriverName, sqliteErrorCode } from '../../src/crm/sqlite.js';
import { betterSqlite3Blocker, otherDriverNode } from '../helpers/nodes.js';
import { cleanupTempDirs, tempDbPath, track } from './local-helpers.js';

afterEach(cleanupTempDirs);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe(`the SQLite seam (${sqliteDriverName()} here)`, () => {
  it('uses node:sqlite wherever Node has it, better-sqlite3 only where it does not', () => {
    const hasNodeSqlite = Boolean(
      (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:sqlite'),
    );
    expect(sqliteDriverName()).toBe(hasNodeSqlite ? 'node:sqlite' : 'better-sqlite3');
  });

  it('runs, gets and lists with positional parameters, binding undefined as NULL', () => {
    const db = track(openSqlite(':memory:'));
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, note TEXT)');
    const insert = db.prepare('INSERT INTO t (name, note) VALUES (?, ?)');
    const first = insert.run('a', undefined);
    expect([Number(first.changes), Number(first.lastInsertRowid)]).toEqual([1, 1]);
    expect(Number(insert.run('b', 'x').lastInsertRowid)).toBe(2);
    expect({ ...(db.prepare('SELECT * FROM t WHERE id = ?').get(1) as object) }).toEqual({ id: 1, name: 'a', note: null });
    expect(db.prepare('SELECT * FROM t WHERE id = ?').get(99)).toBeUndefined();
    expect(db.prepare('SELECT name FROM t ORDER BY id').all().map((r) => (r as { name: string }).name)).toEqual(['a', 'b']);
  });

  it('compiles each SQL text once', () => {
    const db = track(openSqlite(':memory:'));
    expect(db.prepare('SELECT 1')).toBe(db.prepare('SELECT 1'));
  });

  it('reads and sets pragmas, giving the first column of the first row', () => {
    const db = track(openSqlite(':memory:'));
    expect(db.pragma('user_version')).toBe(0);
    expect(db.pragma('user_version = 3')).toBeUndefined();
    expect(db.pragma('user_version')).toBe(3);
    expect(db.pragma('busy_timeout = 1234')).toBe(1234);
  });

  it('commits an immediate transaction, and rolls it back on a throw', () => {
    const db = track(openSqlite(':memory:'));
    db.exec('CREATE TABLE t (x)');
    expect(db.immediate(() => (db.prepare('INSERT INTO t VALUES (?)').run(1), 'done'))).toBe('done');
    expect(
      thrown(() =>
        db.immediate(() => {
          db.prepare('INSERT INTO t VALUES (?)').run(2);
          throw new Error('boom');
        }),
      ),
    ).toMatchObject({ message: 'boom' });
    expect(db.prepare('SELECT x FROM t').all()).toHaveLength(1);
    // A nested one is a savepoint: its failure undoes only its own part.
    db.immediate(() => {
      db.prepare('INSERT INTO t VALUES (?)').run(3);
      thrown(() =>
        db.immediate(() => {
          db.prepare('INSERT INTO t VALUES (?)').run(4);
          throw new Error('inner');
        }),
      );
    });
    expect(db.prepare('SELECT x FROM t ORDER BY x').all().map((r) => (r as { x: number }).x)).toEqual([1, 3]);
  });

  it('names SQLite errors alike for both drivers', () => {
    const db = track(openSqlite(':memory:'));
    db.exec('CREATE TABLE t (a TEXT NOT NULL CHECK (a <> \'bad\') UNIQUE)');
    db.prepare('INSERT INTO t VALUES (?)').run('x');
    const code = (value: unknown) => sqliteErrorCode(thrown(() => db.prepare('INSERT INTO t VALUES (?)').run(value)));
    expect(code('bad')).toBe('SQLITE_CONSTRAINT_CHECK');
    expect(code('x')).toBe('SQLITE_CONSTRAINT_UNIQUE');
    expect(code(null)).toBe('SQLITE_CONSTRAINT_NOTNULL');
    // node:sqlite's shape: a generic code plus SQLite's numeric (extended) result code.
    expect(sqliteErrorCode({ code: 'ERR_SQLITE_ERROR', errcode: 5 })).toBe('SQLITE_BUSY');
    expect(sqliteErrorCode({ code: 'ERR_SQLITE_ERROR', errcode: 787 })).toBe('SQLITE_CONSTRAINT_FOREIGNKEY');
    expect(sqliteErrorCode({ code: 'SQLITE_LOCKED' })).toBe('SQLITE_LOCKED');
    expect(sqliteErrorCode(new Error('plain'))).toBeUndefined();
    expect(isBusy({ code: 'ERR_SQLITE_ERROR', errcode: 517 })).toBe(true);
  });

  it('reports a busy file as SQLITE_BUSY from either driver', () => {
    const path = tempDbPath();
    const a = track(openSqlite(path));
    const b = track(openSqlite(path));
    a.pragma('busy_timeout = 0');
    b.pragma('busy_timeout = 0');
    a.exec('CREATE TABLE t (x)');
    a.exec('BEGIN EXCLUSIVE');
    const e = thrown(() => b.prepare('SELECT * FROM t').all());
    expect(isBusy(e)).toBe(true);
    a.exec('COMMIT');
  });

  it('refuses use after close in the same words for both drivers, and closes twice safely', () => {
    const db = openSqlite(':memory:');
    db.close();
    expect(db.open).toBe(false);
    expect(() => db.prepare('SELECT 1')).toThrow('The database connection is not open');
    expect(() => db.close()).not.toThrow();
  });
});

describe('a Node with neither driver', () => {
  // Only a Node without node:sqlite can lack both; block better-sqlite3 from resolving there.
  const node20 = sqliteDriverName() === 'better-sqlite3' ? process.execPath : otherDriverNode('node:sqlite').node?.path;

  it.skipIf(!node20)(
    `is told in one sentence what to do${node20 ? '' : ' (skipped: no Node without node:sqlite here)'}`,
    () => {
      const db = tempDbPath();
      const blocker = betterSqlite3Blocker(dirname(db));
      const cli = spawnSync(node20!, ['--require', blocker, 'dist/cli.js', '--db', db], {
        cwd: ROOT,
        encoding: 'utf8',
        input: '',
      });
      expect(cli.stderr).toBe(`crm-mcp: cannot open the configured connections: ${NO_SQLITE_DRIVER}\n`);
      expect(cli.status).toBe(2);
    },
  );
});

describe('the seam is the only way to SQLite', () => {
  // CI's Node 24 run installs without building better-sqlite3: code or a test that imports it
  // directly would pass on Node 20 and fail there.
  // nodes.ts only probes, inside a try, which driver another Node binary can load.
  const allowed = ['src/crm/sqlite.ts', 'test/helpers/nodes.ts'];
  it('no source, test, bench or script imports better-sqlite3 but the seam', () => {
    const tracked = spawnSync('git', ['ls-files', 'src', 'test', 'bench', 'scripts'], { cwd: ROOT, encoding: 'utf8' });
    const files = tracked.stdout.split('\n').filter((f) => /\.(ts|mts|mjs|js)$/.test(f) && !allowed.includes(f));
    expect(files.length).toBeGreaterThan(50);
    const direct = files.filter((f) =>
      /(from\s+|import\(\s*|require\(\s*)['"]better-sqlite3['"]/.test(readFileSync(join(ROOT, f), 'utf8')),
    );
    expect(direct).toEqual([]);
  });
});
