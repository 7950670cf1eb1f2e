/**
 * The SQLite driver seam: Node's built-in `node:sqlite` where the running Node has it (22.13+,
 * 24), better-sqlite3 only as an optional fallback for an older Node. Everything that uses SQLite
 * (the local CRM, the idempotency file) sees this small interface and never which driver runs.
 * better-sqlite3 is required only on the fallback path: on Node 24 its native module aborts the
 * process, and a Node with `node:sqlite` needs no native module at all.
 */
import { createRequire } from 'node:module';
import { CrmError } from './errors.js';

export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3';

export interface RunResult {
  changes: number | bigint;
  lastInsertRowid: number | bigint;
}

/** A prepared statement; positional `?` parameters only. */
export interface SqlStatement {
  run(...params: unknown[]): RunResult;
  /** The first row, or undefined when there is none. */
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

export interface SqlDatabase {
  readonly driver: SqliteDriverName;
  readonly open: boolean;
  /** Compiled once per SQL text and cached: preparing costs several times running a small query. */
  prepare(sql: string): SqlStatement;
  exec(sql: string): void;
  /** Runs `PRAGMA <text>` and returns the first column of its first row (undefined if none). */
  pragma(text: string): unknown;
  /** Runs `fn` in a BEGIN IMMEDIATE transaction (a savepoint when nested): the write lock is taken
   * up front, waiting up to busy_timeout, so a read-then-write never fails half way on a lock. */
  immediate<T>(fn: () => T): T;
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// The two drivers' native shapes (only what is used here)

interface NativeStatement {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

interface NativeDatabase {
  prepare(sql: string): NativeStatement;
  exec(sql: string): void;
  close(): void;
}

interface NodeSqliteModule {
  DatabaseSync: new (path: string) => NativeDatabase;
}

type BetterSqlite3Constructor = new (path: string) => NativeDatabase & {
  pragma(text: string, options: { simple: true }): unknown;
};

interface Driver {
  name: SqliteDriverName;
  open(path: string): NativeDatabase;
  /** node:sqlite refuses to bind `undefined`; better-sqlite3 binds it as NULL. Both do the latter here. */
  wrap(statement: NativeStatement): SqlStatement;
  pragma(db: NativeDatabase, text: string): unknown;
}

export const NO_SQLITE_DRIVER =
  'crm-mcp needs SQLite: run it on Node 22.13 or later (which has node:sqlite built in), or install better-sqlite3 12 (npm install better-sqlite3) to run it on Node 20.';

/** Loads `node:sqlite` without letting Node 22's one-time ExperimentalWarning reach stderr. */
function loadNodeSqlite(): NodeSqliteModule | undefined {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (!getBuiltin) return undefined;
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === 'string' ? warning : warning.message;
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === 'ExperimentalWarning' && /SQLite/.test(text)) return;
    return (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return getBuiltin.call(process, 'node:sqlite') as NodeSqliteModule | undefined;
  } catch {
    return undefined; // a Node that knows the name but keeps it behind a flag
  } finally {
    process.emitWarning = emitWarning;
  }
}

function loadBetterSqlite3(): BetterSqlite3Constructor | undefined {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as BetterSqlite3Constructor;
  } catch {
    return undefined;
  }
}

const bindable = (params: unknown[]): unknown[] =>
  params.includes(undefined) ? params.map((p) => (p === undefined ? null : p)) : params;

function nodeSqliteDriver(sqlite: NodeSqliteModule): Driver {
  return {
    name: 'node:sqlite',
    open: (path) => new sqlite.DatabaseSync(path),
    wrap: (statement) => ({
      run: (...params) => statement.run(...bindable(params)),
      get: (...params) => statement.get(...bindable(params)),
      all: (...params) => statement.all(...bindable(params)),
    }),
    pragma(db, text) {
      const row = db.prepare(`PRAGMA ${text}`).get() as Record<string, unknown> | undefined;
      return row ? Object.values(row)[0] : undefined;
    },
  };
}

function betterSqlite3Driver(Database: BetterSqlite3Constructor): Driver {
  return {
    name: 'better-sqlite3',
    open: (path) => new Database(path),
    wrap: (statement) => statement,
    pragma: (db, text) => (db as InstanceType<BetterSqlite3Constructor>).pragma(text, { simple: true }),
  };
}

let loaded: Driver | undefined;

function driver(): Driver {
  if (loaded) return loaded;
  const sqlite = loadNodeSqlite();
  if (sqlite) return (loaded = nodeSqliteDriver(sqlite));
  const better = loadBetterSqlite3();
  if (better) return (loaded = betterSqlite3Driver(better));
  throw new CrmError('unsupported', NO_SQLITE_DRIVER);
}

/** The driver that serves on this Node (loading it if needed), e.g. for the start-up banner. */
export const sqliteDriverName = (): SqliteDriverName => driver().name;

// ---------------------------------------------------------------------------------------------
// Errors

/** Primary and extended result codes that callers tell apart; node:sqlite only gives numbers. */
const RESULT_CODES: Record<number, string> = {
  5: 'SQLITE_BUSY',
  261: 'SQLITE_BUSY_RECOVERY',
  517: 'SQLITE_BUSY_SNAPSHOT',
  773: 'SQLITE_BUSY_TIMEOUT',
  6: 'SQLITE_LOCKED',
  262: 'SQLITE_LOCKED_SHAREDCACHE',
  518: 'SQLITE_LOCKED_VTAB',
  26: 'SQLITE_NOTADB',
  19: 'SQLITE_CONSTRAINT',
  275: 'SQLITE_CONSTRAINT_CHECK',
  531: 'SQLITE_CONSTRAINT_COMMITHOOK',
  787: 'SQLITE_CONSTRAINT_FOREIGNKEY',
  1043: 'SQLITE_CONSTRAINT_FUNCTION',
  1299: 'SQLITE_CONSTRAINT_NOTNULL',
  1555: 'SQLITE_CONSTRAINT_PRIMARYKEY',
  1811: 'SQLITE_CONSTRAINT_TRIGGER',
  2067: 'SQLITE_CONSTRAINT_UNIQUE',
  2323: 'SQLITE_CONSTRAINT_VTAB',
  2579: 'SQLITE_CONSTRAINT_ROWID',
  2835: 'SQLITE_CONSTRAINT_PINNED',
  3091: 'SQLITE_CONSTRAINT_DATATYPE',
};

/**
 * The SQLite result code of a driver error as better-sqlite3 spells it ("SQLITE_BUSY",
 * "SQLITE_CONSTRAINT_CHECK"), for either driver; undefined for anything else.
 */
export function sqliteErrorCode(e: unknown): string | undefined {
  const err = e as { code?: unknown; errcode?: unknown } | null;
  if (typeof err?.code === 'string' && err.code.startsWith('SQLITE_')) return err.code;
  if (err?.code === 'ERR_SQLITE_ERROR' && typeof err.errcode === 'number') {
    return RESULT_CODES[err.errcode] ?? RESULT_CODES[err.errcode & 0xff] ?? `SQLITE_ERROR_${err.errcode}`;
  }
  return undefined;
}

export const isBusy = (e: unknown): boolean => /^SQLITE_(BUSY|LOCKED)/.test(sqliteErrorCode(e) ?? '');

// ---------------------------------------------------------------------------------------------
// The database handle

const MAX_CACHED_STATEMENTS = 500;

class Database implements SqlDatabase {
  private readonly cache = new Map<string, SqlStatement>();
  private depth = 0;
  private closed = false;

  constructor(
    private readonly native: NativeDatabase,
    private readonly impl: Driver,
  ) {}

  get driver(): SqliteDriverName {
    return this.impl.name;
  }

  get open(): boolean {
    return !this.closed;
  }

  private check(): void {
    // The same words for both drivers (node:sqlite would say "database is not open").
    if (this.closed) throw new TypeError('The database connection is not open');
  }

  prepare(sql: string): SqlStatement {
    this.check();
    let statement = this.cache.get(sql);
    if (!statement) {
      if (this.cache.size >= MAX_CACHED_STATEMENTS) this.cache.clear();
      statement = this.impl.wrap(this.native.prepare(sql));
      this.cache.set(sql, statement);
    }
    return statement;
  }

  exec(sql: string): void {
    this.check();
    this.native.exec(sql);
  }

  pragma(text: string): unknown {
    this.check();
    return this.impl.pragma(this.native, text);
  }

  immediate<T>(fn: () => T): T {
    const savepoint = this.depth > 0 ? `crm_mcp_${this.depth}` : undefined;
    this.prepare(savepoint ? `SAVEPOINT ${savepoint}` : 'BEGIN IMMEDIATE').run();
    this.depth++;
    try {
      const result = fn();
      this.prepare(savepoint ? `RELEASE ${savepoint}` : 'COMMIT').run();
      return result;
    } catch (e) {
      try {
        if (savepoint) this.exec(`ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`);
        else this.prepare('ROLLBACK').run();
      } catch {
        // SQLite already rolled back (e.g. after an I/O error): nothing left to undo.
      }
      throw e;
    } finally {
      this.depth--;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    this.native.close();
  }
}

/** Opens a database file (":memory:" for a throwaway one) with whichever driver this Node has. */
export function openSqlite(path: string): SqlDatabase {
  const impl = driver();
  return new Database(impl.open(path === '' ? ':memory:' : path), impl);
}
