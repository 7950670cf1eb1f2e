/**
 * crm-mcp opens only files that are its own: new ones, marked ones (PRAGMA application_id), and
 * crm-mcp databases from before the mark. Anything else is refused before a single byte changes.
 */
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { fingerprint, IdempotencyStore } from '../../src/crm/idempotency.js';
import { applicationIdOf } from '../../src/crm/sqlite-file.js';
import { openSqlite } from '../../src/crm/sqlite.js';
import { LOCAL_SCHEMA, MIGRATIONS, openDatabase } from '../../src/providers/local/client.js';
import { createLocalProvider } from '../../src/providers/local/index.js';
import { cleanupTempDirs, FIXED_NOW, tempDbPath, track } from './local-helpers.js';

afterEach(cleanupTempDirs);

const CRMM = 0x43524d6d;
const CRMI = 0x43524d69;

/** Another program's SQLite file, in rollback-journal (delete) mode, built with `sql`. */
function strayFile(sql: string, name = 'notes.db'): string {
  const path = tempDbPath(name);
  const db = openSqlite(path);
  expect(db.pragma('journal_mode')).toBe('delete');
  db.exec(sql);
  db.close();
  return path;
}

/** Bytes, modification time (ns) and the side files SQLite would leave, to compare before and after. */
function snapshot(path: string) {
  return {
    bytes: readFileSync(path).toString('base64'),
    mtime: statSync(path, { bigint: true }).mtimeNs,
    sideFiles: ['-wal', '-shm', '-journal'].filter((s) => existsSync(path + s)),
  };
}

function refusal(open: () => unknown): CrmError {
  try {
    open();
  } catch (e) {
    if (e instanceof CrmError) return e;
    throw e;
  }
  throw new Error('expected the file to be refused, but it was opened');
}

const openLocal = (path: string) => createLocalProvider({ path, now: () => FIXED_NOW });

describe('the application_id mark', () => {
  it('is "CRMm" in ASCII for the local CRM and "CRMi" for idempotency keys', () => {
    expect(applicationIdOf('CRMm')).toBe(CRMM);
    expect(applicationIdOf('CRMi')).toBe(CRMI);
    expect(LOCAL_SCHEMA.applicationId).toBe(CRMM);
  });

  it('is set on a new database together with its schema version', () => {
    const path = tempDbPath();
    const db = track(openDatabase(path));
    expect(db.pragma('application_id')).toBe(CRMM);
    expect(db.pragma('user_version')).toBe(MIGRATIONS.length);
    // It is in the file header (bytes 68-71) once checkpointed.
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(readFileSync(path).subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    expect(readFileSync(path).readInt32BE(68)).toBe(CRMM);
  });
});

describe("another program's SQLite file", () => {
  it('is refused in one sentence and left byte for byte as it was, with no side files', () => {
    const path = strayFile(
      "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me');",
    );
    const before = snapshot(path);
    const e = refusal(() => openLocal(path));
    expect(e.kind).toBe('validation');
    expect(e.message).toBe(
      `Refusing to use ${path} as the local CRM database: it is another program's SQLite database (its tables notes are not crm-mcp's), left unchanged; point --db at a new file or at an existing crm-mcp database.`,
    );
    expect(snapshot(path)).toEqual(before);
    expect(before.sideFiles).toEqual([]);
  });

  it('is refused unchanged even when its table names are crm-mcp\'s (a clash)', () => {
    const path = strayFile('CREATE TABLE deals (id INTEGER PRIMARY KEY, title TEXT); CREATE TABLE users (x);');
    const before = snapshot(path);
    expect(refusal(() => openLocal(path)).message).toMatch(/its tables deals, users are not crm-mcp's/);
    expect(snapshot(path)).toEqual(before);
  });

  it('is refused unchanged in WAL mode too', () => {
    const path = strayFile("PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES ('a');");
    // Fold the WAL into the file, so the snapshot holds the data.
    const raw = openSqlite(path);
    raw.pragma('wal_checkpoint(TRUNCATE)');
    raw.close();
    const before = snapshot(path);
    expect(refusal(() => openLocal(path)).message).toMatch(/^Refusing to use .* \(its tables t are not/);
    expect(snapshot(path)).toEqual(before);
  });

  it('lists at most five of its tables', () => {
    const path = strayFile(Array.from({ length: 8 }, (_, i) => `CREATE TABLE t${i} (x);`).join(''));
    expect(refusal(() => openLocal(path)).message).toMatch(/its tables t0, t1, t2, t3, t4 and 3 more are not/);
  });

  it('is refused when it carries another application_id or user_version, even without tables', () => {
    for (const [pragma, what] of [
      ['application_id = 1234', 'a SQLite database marked for another use (application_id 0x4d2)'],
      ['user_version = 7', "another program's SQLite database (its user_version is 7)"],
    ]) {
      const path = strayFile(`PRAGMA ${pragma}; CREATE TABLE gone (x); DROP TABLE gone;`);
      const before = snapshot(path);
      expect(refusal(() => openLocal(path)).message).toBe(
        `Refusing to use ${path} as the local CRM database: it is ${what}, left unchanged; point --db at a new file or at an existing crm-mcp database.`,
      );
      expect(snapshot(path)).toEqual(before);
    }
  });

  it('is refused when it holds only some of the crm-mcp tables', () => {
    const path = tempDbPath();
    openDatabase(path).close();
    const raw = openSqlite(path);
    raw.pragma('application_id = 0');
    raw.exec('DROP TABLE project_tags');
    raw.close();
    expect(refusal(() => openLocal(path)).message).toMatch(/^Refusing to use/);
  });

  it('is not a database at all: refused with the path', () => {
    const path = tempDbPath('not-a-db.txt');
    writeFileSync(path, 'hello, this is not sqlite'.repeat(50));
    const before = readFileSync(path);
    expect(refusal(() => openLocal(path)).message).toMatch(/^Cannot use .*not-a-db\.txt as the local CRM database: file is not a database\.$/);
    expect(readFileSync(path)).toEqual(before);
  });
});

describe('files crm-mcp may use', () => {
  it('initializes an empty file (0 bytes)', async () => {
    const path = tempDbPath();
    writeFileSync(path, '');
    const provider = track(openLocal(path));
    expect((await provider.pipelines!.list!({ limit: 10 }, {})).items).toHaveLength(3);
  });

  it('initializes a SQLite file that holds nothing yet', async () => {
    const path = strayFile('CREATE TABLE gone (x); DROP TABLE gone;');
    const provider = track(openLocal(path));
    expect((await provider.pipelines!.list!({ limit: 10 }, {})).items).toHaveLength(3);
  });

  it('recognises a database of the current release (no mark yet) by its schema, keeps its data and marks it', async () => {
    const path = tempDbPath();
    const first = openLocal(path);
    await (await first.pipelines!.create!({ name: 'Kept' }, {})).execute();
    await first.close();
    const raw = openSqlite(path);
    raw.pragma('application_id = 0'); // as every file before the mark was
    raw.close();

    const provider = track(openLocal(path));
    expect((await provider.pipelines!.list!({ limit: 10 }, {})).items.map((p) => p.name)).toContain('Kept');
    const db = track(openDatabase(path));
    expect(db.pragma('application_id')).toBe(CRMM);
    expect(db.pragma('user_version')).toBe(MIGRATIONS.length);
    expect(db.prepare("SELECT COUNT(*) AS n FROM meta WHERE key = 'seeded'").get()).toEqual({ n: 1 });
  });

  it('refuses a marked database of a newer schema', () => {
    const newer = MIGRATIONS.length + 1;
    const path = strayFile(`PRAGMA application_id = ${CRMM}; PRAGMA user_version = ${newer};`);
    expect(refusal(() => openLocal(path)).message).toContain(
      `has schema version ${newer}, newer than this crm-mcp understands (${MIGRATIONS.length})`,
    );
  });
});

describe('idempotency.db', () => {
  const input = { name: 'Acme' };
  const create = async () => ({ id: '41' });
  const readBack = async (id: string) => ({ id });

  it('is marked "CRMi", apart from the local CRM database', async () => {
    const path = tempDbPath('idempotency.db');
    const store = new IdempotencyStore(path);
    await store.run('s', 'k', input, create, readBack);
    store.close();
    const db = track(openSqlite(path));
    expect(db.pragma('application_id')).toBe(CRMI);
  });

  it('recognises a key store from before the mark and keeps its keys', async () => {
    // As the release before the mark wrote it: WAL, no application_id, user_version 0.
    const path = strayFile(
      `PRAGMA journal_mode = WAL;
      CREATE TABLE IF NOT EXISTS idempotency_keys (
        scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
        record_id TEXT, state TEXT NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (scope, key));
      INSERT INTO idempotency_keys VALUES ('s', 'k', '${fingerprint(input)}', '41', 'done', '2026-01-01T00:00:00.000Z');`,
      'idempotency.db',
    );
    const store = new IdempotencyStore(path);
    let created = false;
    const again = await store.run('s', 'k', input, async () => ((created = true), { id: '99' }), readBack);
    store.close();
    expect(again).toEqual({ id: '41' });
    expect(created).toBe(false);
    const db = track(openSqlite(path));
    expect([db.pragma('application_id'), db.pragma('user_version')]).toEqual([CRMI, 1]);
  });

  it("refuses another program's file, and a local CRM database, unchanged", async () => {
    const crmDb = tempDbPath('idempotency.db');
    openDatabase(crmDb).close();
    for (const [path, what] of [
      [strayFile('CREATE TABLE keys (k);', 'idempotency.db'), "another program's SQLite database (its tables keys are not crm-mcp's)"],
      [crmDb, 'a SQLite database marked for another use (application_id 0x43524d6d)'],
    ]) {
      const before = snapshot(path);
      const store = new IdempotencyStore(path);
      await expect(store.run('s', 'k', input, create, readBack)).rejects.toThrow(
        `Refusing to use ${path} as the idempotency key store: it is ${what}, left unchanged; move that file away, or keep the database (--db) in a folder of its own.`,
      );
      store.close();
      expect(snapshot(path)).toEqual(before);
    }
  });
});

describe('permissions of what crm-mcp creates', () => {
  it.skipIf(process.platform === 'win32')('a new folder is its owner\'s only, and so are a new database and its WAL files; an existing file keeps its mode', () => {
    const path = join(dirname(tempDbPath()), 'new', 'deeper', 'crm.db');
    const db = track(openDatabase(path));
    db.prepare("INSERT INTO meta (key, value) VALUES ('probe', '1')").run();
    expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
    expect(statSync(dirname(dirname(path))).mode & 0o777).toBe(0o700);
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect(statSync(f).mode & 0o777, f).toBe(0o600);

    const shared = tempDbPath();
    writeFileSync(shared, '');
    chmodSync(shared, 0o644);
    track(openDatabase(shared));
    expect(statSync(shared).mode & 0o777).toBe(0o644);
  });
});
