/**
 * Idempotent creates for CRMs that have no idempotency key of their own (Pipedrive). A key is
 * reserved in a small SQLite file before the create is sent and completed with the new record's id,
 * so a repeat, even after a restart or from a second process, returns the first record instead of
 * creating another. A create whose outcome is unknown (a 5xx, a timeout) keeps its reservation:
 * the repeat then says so rather than risk a duplicate.
 */
import { canonicalHash } from './canonical.js';
import { CrmError, excerpt, isCrmError } from './errors.js';
import { applicationIdOf, openOwnedDatabase, type OwnedSchema } from './sqlite-file.js';
import type { SqlDatabase } from './sqlite.js';

type Row = { fingerprint: string; record_id: string | null; state: 'pending' | 'done' };

/** Errors that prove the CRM refused the create, so nothing exists and the key can be reused (as does `nothingSent`). */
const REFUSED = new Set(['validation', 'auth', 'not_found', 'unsupported', 'conflict', 'rate_limited']);

/**
 * The input's fingerprint as stored beside a key. Keys stored before the shared canonical JSON
 * (sorted with localeCompare) still match: creates here carry flat write fields whose names sort
 * the same either way (test/unit/canonical.test.ts holds stored values).
 */
export const fingerprint = (input: unknown): string => canonicalHash(input);

/** idempotency.db is marked with application_id 0x43524d69 ("CRMi"), apart from the local CRM's. */
const IDEMPOTENCY_SCHEMA: OwnedSchema = {
  label: 'the idempotency key store',
  applicationId: applicationIdOf('CRMi'),
  migrations: [
    // IF NOT EXISTS: files from before the mark already have the table.
    `CREATE TABLE IF NOT EXISTS idempotency_keys (
      scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
      record_id TEXT, state TEXT NOT NULL, created_at TEXT NOT NULL,
      PRIMARY KEY (scope, key))`,
  ],
  isUnmarked: (tables, userVersion) => userVersion === 0 && tables.size === 1 && tables.has('idempotency_keys'),
  remedy: 'move that file away, or keep the database (--db) in a folder of its own',
};

export class IdempotencyStore {
  private db?: SqlDatabase;

  /** `path` is opened on first use, so servers that never see a key never create the file. */
  constructor(private readonly path: string) {}

  private open(): SqlDatabase {
    this.db ??= openOwnedDatabase(this.path, IDEMPOTENCY_SCHEMA);
    return this.db;
  }

  /**
   * Runs `create` at most once per (scope, key). A repeat with the same input returns `readBack`
   * of the first record; with other input, or while the first outcome is unknown, it is refused.
   */
  async run<T extends { id: string }>(
    scope: string,
    key: string,
    input: unknown,
    create: () => Promise<T>,
    readBack: (id: string) => Promise<T>,
  ): Promise<T> {
    const db = this.open();
    const print = fingerprint(input);
    const claimed = db.immediate(() => {
      const row = db
        .prepare('SELECT fingerprint, record_id, state FROM idempotency_keys WHERE scope = ? AND key = ?')
        .get(scope, key) as Row | undefined;
      if (row) return row;
      db.prepare(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, state, created_at) VALUES (?, ?, ?, 'pending', ?)",
      ).run(scope, key, print, new Date().toISOString());
      return undefined;
    });

    if (claimed) {
      if (claimed.fingerprint !== print) {
        throw new CrmError(
          'conflict',
          `idempotency_key '${excerpt(key)}' was already used for a different create; use a new key for a new record.`,
        );
      }
      if (claimed.state === 'done' && claimed.record_id) return readBack(claimed.record_id);
      throw new CrmError(
        'conflict',
        `A create with idempotency_key '${excerpt(key)}' was sent before and its outcome is unknown (it failed or is still running); check with a list tool whether the record exists before creating it again with a new key.`,
      );
    }

    let record: T;
    try {
      record = await create();
    } catch (error) {
      if (isCrmError(error) && (REFUSED.has(error.kind) || error.nothingSent)) {
        db.prepare('DELETE FROM idempotency_keys WHERE scope = ? AND key = ?').run(scope, key);
      }
      throw error;
    }
    db.prepare("UPDATE idempotency_keys SET state = 'done', record_id = ? WHERE scope = ? AND key = ?").run(
      record.id,
      scope,
      key,
    );
    return record;
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }
}
