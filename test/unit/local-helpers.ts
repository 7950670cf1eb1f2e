/** Shared fixtures for the local provider tests: temp database files and a controllable clock. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CrmError, type CrmErrorKind } from '../../src/crm/errors.js';
import { createLocalProvider, type LocalProvider } from '../../src/providers/local/index.js';
import { openDatabase, type Db } from '../../src/providers/local/client.js';

const dirs: string[] = [];
const closers: (() => unknown)[] = [];

/** Registers something to close before the temp files are removed. */
export function track<T extends { close(): unknown }>(handle: T): T {
  closers.push(() => handle.close());
  return handle;
}

/** A fresh database path in its own temp directory (removed by cleanupTempDirs). */
export function tempDbPath(name = 'crm.db'): string {
  const dir = mkdtempSync(join(tmpdir(), 'crm-mcp-local-'));
  dirs.push(dir);
  return join(dir, name);
}

export async function cleanupTempDirs(): Promise<void> {
  for (const close of closers.splice(0).reverse()) {
    try {
      await close();
    } catch {
      // already closed
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A clock that starts at `start` and moves one second per call, so every write gets its own stamp. */
export function steppingClock(start = '2026-03-01T09:00:00.000Z'): { now: () => Date; peek: () => Date } {
  let t = Date.parse(start);
  return {
    now: () => {
      const d = new Date(t);
      t += 1000;
      return d;
    },
    peek: () => new Date(t),
  };
}

export const FIXED_NOW = new Date('2026-06-15T12:00:00.000Z');

/** An empty (unseeded) provider on a temp file, plus a second raw connection to the same file. */
export function emptyProvider(clock = steppingClock()): { provider: LocalProvider; db: Db; path: string } {
  const path = tempDbPath();
  const provider = track(createLocalProvider({ path, seed: false, now: clock.now }));
  const db = track(openDatabase(path));
  return { provider, db, path };
}

/** Resolves to the CrmError a promise rejects with (fails the test if it resolves). */
export async function crmError(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CrmError) return e;
    throw e;
  }
  throw new Error('expected a CrmError, but the call succeeded');
}

export async function expectCrmError(
  p: Promise<unknown>,
  kind: CrmErrorKind,
  message?: string | RegExp,
): Promise<CrmError> {
  const e = await crmError(p);
  if (e.kind !== kind) throw new Error(`expected kind ${kind}, got ${e.kind}: ${e.message}`);
  if (typeof message === 'string' && e.message !== message) {
    throw new Error(`expected message:\n  ${message}\ngot:\n  ${e.message}`);
  }
  if (message instanceof RegExp && !message.test(e.message)) {
    throw new Error(`expected message matching ${message}, got: ${e.message}`);
  }
  return e;
}

/** Inserts reference data directly: users Ann Lee (1), Bob Ray (2); accounts Acme (1), Globex (2). */
export function insertPeople(db: Db): void {
  const at = '2026-01-01T00:00:00.000Z';
  db.prepare('INSERT INTO users (id, name, created_at, updated_at) VALUES (1, ?, ?, ?), (2, ?, ?, ?)').run(
    'Ann Lee',
    at,
    at,
    'Bob Ray',
    at,
    at,
  );
  db.prepare('INSERT INTO accounts (id, name, created_at, updated_at) VALUES (1, ?, ?, ?), (2, ?, ?, ?)').run(
    'Acme',
    at,
    at,
    'Globex',
    at,
    at,
  );
}
