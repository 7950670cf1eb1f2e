/**
 * Opens a SQLite file that crm-mcp owns, and only such a file. crm-mcp marks its files with
 * `PRAGMA application_id` (one value per kind of file) and tracks their schema with
 * `PRAGMA user_version`. A file that is neither new nor ours is refused before anything is written
 * to it (the switch to WAL already writes), so a stray `--db` never alters another program's data.
 * Files made before the mark existed are recognised by their schema and marked.
 *
 * Several processes may open one brand-new file at the same moment: each step is safe to race
 * (see `prepareConnection`), and the migrations run once, inside one immediate transaction.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CrmError } from './errors.js';
import { isBusy, openSqlite, type SqlDatabase } from './sqlite.js';

export interface OwnedSchema {
  /** What the file is, in messages: "the local CRM database". */
  label: string;
  /** The mark of this kind of file (a signed 32-bit integer, as SQLite stores it). */
  applicationId: number;
  /** Ordered schema steps; step i brings user_version from i to i + 1. Append only, never edit. */
  migrations: readonly string[];
  /** A file written before the mark existed, recognised by its tables and user_version. */
  isUnmarked(tables: ReadonlySet<string>, userVersion: number): boolean;
  /** What the user can do instead, ending the refusal sentence. */
  remedy: string;
}

/** How long a start-up waits for other processes holding the file (also the busy_timeout). */
export const BUSY_TIMEOUT_MS = 5000;

/** 32-bit application_id from four ASCII characters, e.g. "CRMm" -> 0x43524d6d. */
export const applicationIdOf = (tag: string): number => Buffer.from(tag, 'ascii').readInt32BE(0);

export const isMemoryPath = (path: string): boolean => path === ':memory:' || path === '';

interface Found {
  applicationId: number;
  userVersion: number;
  /** Schema objects (tables, indexes, views, triggers) other than SQLite's own. */
  objects: { type: string; name: string }[];
}

type State = 'new' | 'current' | 'outdated' | 'unmarked' | 'newer' | 'foreign';

/** Reads the marks and the schema; call it inside a transaction, so all three come from one
 * snapshot (another process may be initializing the file between two statements). */
function inspect(db: SqlDatabase): Found {
  return {
    applicationId: Number(db.pragma('application_id')),
    userVersion: Number(db.pragma('user_version')),
    objects: db
      .prepare("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
      .all() as Found['objects'],
  };
}

function classify(found: Found, schema: OwnedSchema): State {
  const known = schema.migrations.length;
  if (found.applicationId === schema.applicationId) {
    if (found.userVersion > known) return 'newer';
    return found.userVersion === known ? 'current' : 'outdated';
  }
  if (found.applicationId !== 0) return 'foreign';
  if (!found.objects.length && found.userVersion === 0) return 'new';
  const tables = new Set(found.objects.filter((o) => o.type === 'table').map((o) => o.name));
  if (!schema.isUnmarked(tables, found.userVersion)) return 'foreign';
  return found.userVersion > known ? 'newer' : 'unmarked';
}

function refusal(path: string, schema: OwnedSchema, found: Found, state: State): CrmError {
  if (state === 'newer') {
    return new CrmError(
      'validation',
      `${schema.label[0].toUpperCase()}${schema.label.slice(1)} at ${path} has schema version ${found.userVersion}, newer than this crm-mcp understands (${schema.migrations.length}); upgrade crm-mcp or ${schema.remedy}.`,
    );
  }
  const tables = found.objects.filter((o) => o.type === 'table').map((o) => o.name);
  const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? ` and ${tables.length - 5} more` : '');
  const what =
    found.applicationId !== 0
      ? `a SQLite database marked for another use (application_id 0x${(found.applicationId >>> 0).toString(16)})`
      : tables.length
        ? `another program's SQLite database (its tables ${shown} are not crm-mcp's)`
        : `another program's SQLite database (its user_version is ${found.userVersion})`;
  return new CrmError('validation', `Refusing to use ${path} as ${schema.label}: it is ${what}, left unchanged; ${schema.remedy}.`);
}

const pause = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms: number): void => void Atomics.wait(pause, 0, 0, ms);

/**
 * Retries `step` while another process holds a lock SQLite will not wait for. Switching a new
 * file to WAL first reads it, then upgrades to an exclusive lock; when two processes do that at
 * once, SQLite fails one at once with SQLITE_BUSY instead of calling the busy handler (waiting
 * could deadlock: each holds the read lock the other waits on). Giving the lock up and trying
 * again a few milliseconds later, within the busy timeout, lets every opener through.
 */
function retryBusy<T>(step: () => T): T {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
    try {
      return step();
    } catch (e) {
      if (!isBusy(e) || Date.now() + wait > deadline) throw e;
      sleep(wait / 2 + Math.random() * wait);
    }
  }
}

/** Checks the file is ours (before any write), then sets the connection up; returns its state. */
function prepareConnection(db: SqlDatabase, path: string, schema: OwnedSchema): State {
  // First, so every later step waits for other processes rather than failing.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return retryBusy(() => {
    db.exec('BEGIN');
    let found: Found;
    try {
      found = inspect(db);
    } finally {
      db.exec('ROLLBACK'); // a read: nothing to keep
    }
    const state = classify(found, schema);
    if (state === 'foreign' || state === 'newer') throw refusal(path, schema, found, state);
    db.pragma('journal_mode = WAL');
    return state;
  });
}

/** Applies the missing steps and the mark in one immediate transaction, re-checking inside it. */
function migrate(db: SqlDatabase, path: string, schema: OwnedSchema): void {
  db.immediate(() => {
    // Another process may have initialized the file meanwhile.
    const found = inspect(db);
    const state = classify(found, schema);
    if (state === 'current') return;
    if (state === 'foreign' || state === 'newer') throw refusal(path, schema, found, state);
    for (let step = found.userVersion; step < schema.migrations.length; step++) {
      db.exec(schema.migrations[step]);
    }
    db.pragma(`user_version = ${schema.migrations.length}`);
    db.pragma(`application_id = ${schema.applicationId}`);
  });
}

/** SQLite gives the -wal and -shm files the database file's permissions. Best effort (Windows). */
function ownerOnly(path: string): void {
  try {
    chmodSync(path, 0o600);
  } catch {
    // A file system without POSIX modes: nothing to narrow.
  }
}

/**
 * Opens (creating if needed) a file of the given kind: refuses another program's file unchanged,
 * switches it to WAL, sets the connection pragmas and brings the schema up to date.
 */
export function openOwnedDatabase(path: string, schema: OwnedSchema): SqlDatabase {
  let db: SqlDatabase;
  try {
    const file = !isMemoryPath(path);
    const created = file && !existsSync(path);
    // A CRM's data: a folder or file crm-mcp creates is for its owner only (existing ones keep theirs).
    if (file) mkdirSync(dirname(resolve(path)), { recursive: true, mode: 0o700 });
    db = openSqlite(path);
    if (created) ownerOnly(path);
  } catch (e) {
    if (e instanceof CrmError) throw e;
    throw new CrmError('validation', `Cannot open ${schema.label} at ${path}: ${(e as Error).message}.`, { cause: e });
  }
  try {
    const state = prepareConnection(db, path, schema);
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    if (state !== 'current') migrate(db, path, schema);
  } catch (e) {
    db.close();
    if (e instanceof CrmError) throw e;
    throw new CrmError('validation', `Cannot use ${path} as ${schema.label}: ${(e as Error).message}.`, { cause: e });
  }
  return db;
}
