/**
 * Idempotent creates for CRMs that have no idempotency key of their own (Pipedrive). A key is
 * reserved in a small SQLite file before the create is sent and completed with the new record's id,
 * so a repeat, even after a restart or from a second process, returns the first record instead of
 * creating another. A create whose outcome is unknown (a 5xx, a timeout) keeps its reservation:
 * the repeat then says so rather than risk a duplicate.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { CrmError, excerpt, isCrmError } from './errors.js';

type Row = { fingerprint: string; record_id: string | null; state: 'pending' | 'done' };

/** Errors that prove the CRM refused the create, so nothing exists and the key can be reused (as does `nothingSent`). */
const REFUSED = new Set(['validation', 'auth', 'not_found', 'unsupported', 'conflict', 'rate_limited']);

export function fingerprint(input: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>)
              .filter(([, x]) => x !== undefined)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, x]) => [k, canonical(x)]),
          )
        : v;
  return createHash('sha256').update(JSON.stringify(canonical(input))).digest('hex');
}

export class IdempotencyStore {
  private db?: Database.Database;

  /** `path` is opened on first use, so servers that never see a key never create the file. */
  constructor(private readonly path: string) {}

  private open(): Database.Database {
    if (this.db) return this.db;
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    const db = new Database(this.path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.exec(`CREATE TABLE IF NOT EXISTS idempotency_keys (
      scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
      record_id TEXT, state TEXT NOT NULL, created_at TEXT NOT NULL,
      PRIMARY KEY (scope, key))`);
    this.db = db;
    return db;
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
    const claimed = db
      .transaction(() => {
        const row = db
          .prepare('SELECT fingerprint, record_id, state FROM idempotency_keys WHERE scope = ? AND key = ?')
          .get(scope, key) as Row | undefined;
        if (row) return row;
        db.prepare(
          "INSERT INTO idempotency_keys (scope, key, fingerprint, state, created_at) VALUES (?, ?, ?, 'pending', ?)",
        ).run(scope, key, print, new Date().toISOString());
        return undefined;
      })
      .immediate();

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
