import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { LOCAL_SCHEMA, MIGRATIONS, openDatabase } from '../../src/providers/local/client.js';
import { openSqlite } from '../../src/crm/sqlite.js';
import { createLocalProvider } from '../../src/providers/local/index.js';
import { localCapabilities } from '../../src/providers/local/capabilities.js';
import { PROJECT_STATUSES } from '../../src/crm/model.js';
import { supportedOperations } from '../../src/crm/capabilities.js';
import { mapSqliteError } from '../../src/providers/local/store.js';
import { cleanupTempDirs, FIXED_NOW, tempDbPath, track } from './local-helpers.js';

afterEach(cleanupTempDirs);

describe('local client', () => {
  it('opens with WAL, foreign keys, a busy timeout and synchronous=NORMAL', () => {
    const db = track(openDatabase(tempDbPath()));
    expect(db.pragma('journal_mode')).toBe('wal');
    expect(db.pragma('foreign_keys')).toBe(1);
    expect(db.pragma('busy_timeout')).toBe(5000);
    expect(db.pragma('synchronous')).toBe(1);
  });

  it('tracks migrations with user_version and applies each step once', () => {
    const path = tempDbPath();
    const db = track(openDatabase(path));
    expect(db.pragma('user_version')).toBe(MIGRATIONS.length);
    // Reopening an up-to-date file is a no-op, not a "table already exists" failure.
    const again = track(openDatabase(path));
    expect(again.pragma('user_version')).toBe(MIGRATIONS.length);
    const tables = (
      again.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]
    ).map((r) => r.name);
    expect(tables).toEqual(
      expect.arrayContaining([
        'users',
        'accounts',
        'contacts',
        'tags',
        'pipelines',
        'stages',
        'deals',
        'deal_events',
        'projects',
        'project_contacts',
        'project_deals',
        'project_tags',
        'idempotency_keys',
      ]),
    );
  });

  it('refuses a database written by a newer schema', () => {
    const path = tempDbPath();
    const raw = openSqlite(path);
    raw.pragma(`application_id = ${LOCAL_SCHEMA.applicationId}`);
    raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    raw.close();
    expect(() => openDatabase(path)).toThrowError(CrmError);
    expect(() => openDatabase(path)).toThrow(/newer than this crm-mcp understands/);
  });

  it('refuses a file that is not a database, with the path in the message', () => {
    const path = tempDbPath('not-a-db.txt');
    writeFileSync(path, 'hello, this is not sqlite'.repeat(50));
    expect(() => openDatabase(path)).toThrow(/not-a-db\.txt/);
  });

  it('enforces foreign keys', () => {
    const db = track(openDatabase(tempDbPath()));
    const at = '2026-01-01T00:00:00.000Z';
    expect(() =>
      db
        .prepare(
          'INSERT INTO deals (name, stage_id, stage_changed_at, created_at, updated_at) VALUES (?, 999, ?, ?, ?)',
        )
        .run('x', at, at, at),
    ).toThrow(/FOREIGN KEY/);
  });

  it('serves an in-memory database', async () => {
    const provider = track(createLocalProvider({ path: ':memory:', now: () => FIXED_NOW }));
    const page = await provider.pipelines!.list!({ limit: 10 }, {});
    expect(page.items.map((p) => p.name)).toEqual(['Sales', 'Partnerships', 'Renewals']);
  });
});

describe('local provider identity and capabilities', () => {
  it('is the local kind, not remote, and supports everything', () => {
    const provider = track(createLocalProvider({ path: tempDbPath(), seed: false }));
    expect(provider.kind).toBe('local');
    expect(provider.label).toBe('the local CRM');
    expect(provider.remote).toBe(false);
    expect(supportedOperations(provider.capabilities)).toEqual({
      pipelines: ['list', 'get', 'create', 'update', 'delete'],
      stages: ['list', 'get', 'create', 'update', 'delete'],
      deals: ['list', 'get', 'create', 'update'],
      projects: ['list', 'get', 'create', 'update', 'delete'],
      accounts: ['list', 'get', 'create', 'update'],
      contacts: ['list', 'get', 'create', 'update'],
      users: ['list', 'get'],
      activities: ['list', 'get', 'create', 'update'],
      stats: ['conversion', 'movement'],
      search: ['deals', 'accounts', 'contacts', 'projects', 'pipelines', 'stages', 'users'],
    });
    expect(localCapabilities.activities?.create?.enums?.type).toEqual(['note', 'task', 'call', 'meeting', 'email']);
    expect(localCapabilities.activities?.create?.required).toEqual(['type']);
    expect(localCapabilities.projects?.create?.enums?.status).toEqual(PROJECT_STATUSES);
    expect(localCapabilities.stages?.filters).toEqual(['pipeline_id', 'name', 'status', 'sort_by', 'sort_direction']);
    expect(localCapabilities.deals?.filters).toEqual(['pipeline_id', 'stage_id', 'status', 'owner_id', 'account_id']);
    expect(localCapabilities.projects?.filters).toEqual(['name', 'status', 'owner_id', 'account_id', 'stage_id']);
  });

  it('close() is safe to call twice', async () => {
    const provider = createLocalProvider({ path: tempDbPath(), seed: false });
    await provider.close();
    await expect(provider.close()).resolves.toBeUndefined();
  });
});

describe('local SQLite error mapping', () => {
  it('turns driver errors into actionable CrmErrors', () => {
    const busy = mapSqliteError(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }));
    expect(busy.kind).toBe('upstream');
    expect(busy.retryAfterSeconds).toBe(2);
    expect(busy.message).toMatch(/retry in a few seconds/);
    expect(mapSqliteError(Object.assign(new Error('x'), { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' })).kind).toBe('conflict');
    const check = mapSqliteError(Object.assign(new Error('x'), { code: 'SQLITE_CONSTRAINT_CHECK' }));
    expect(check.kind).toBe('validation');
    expect(check.message).toBe('The local CRM rejected a value (check rule); check the fields and retry.');
    // node:sqlite's errors carry SQLite's numeric result code instead: mapped the same way.
    const nodeSqlite = (errcode: number) => Object.assign(new Error('x'), { code: 'ERR_SQLITE_ERROR', errcode });
    expect(mapSqliteError(nodeSqlite(5)).retryAfterSeconds).toBe(2);
    expect(mapSqliteError(nodeSqlite(787)).kind).toBe('conflict');
    expect(mapSqliteError(nodeSqlite(275)).message).toBe(check.message);
    const passthrough = new CrmError('not_found', 'No deal.');
    expect(mapSqliteError(passthrough)).toBe(passthrough);
    expect(mapSqliteError(new Error('disk I/O error')).message).toBe('The local CRM database failed: disk I/O error.');
  });

  it('reports a closed provider instead of crashing', async () => {
    const provider = createLocalProvider({ path: tempDbPath(), seed: false });
    await provider.close();
    await expect(provider.pipelines!.list!({ limit: 1 }, {})).rejects.toMatchObject({ kind: 'upstream' });
  });
});
