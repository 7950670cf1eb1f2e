/**
 * The local CRM's SQLite file: its schema, and how it is opened. Migrations are an ordered list of
 * SQL steps tracked by `PRAGMA user_version`; the file is marked as crm-mcp's with
 * `PRAGMA application_id` 0x43524d6d ("CRMm" in ASCII), and a file that is neither new nor marked
 * (nor a crm-mcp database from before the mark) is refused unchanged. Which SQLite driver runs is
 * the seam's business (src/crm/sqlite.ts).
 */
import { applicationIdOf, openOwnedDatabase, type OwnedSchema } from '../../crm/sqlite-file.js';
import type { SqlDatabase } from '../../crm/sqlite.js';

export type Db = SqlDatabase;

const MIGRATION_1 = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT NOT NULL,
  email      TEXT UNIQUE,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE accounts (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT NOT NULL,
  domain     TEXT,
  industry   TEXT,
  owner_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE contacts (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT NOT NULL,
  email      TEXT,
  title      TEXT,
  account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX contacts_by_account ON contacts(account_id);

CREATE TABLE tags (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE pipelines (
  id                          INTEGER PRIMARY KEY AUTOINCREMENT,
  name                        TEXT NOT NULL,
  is_deal_probability_enabled INTEGER NOT NULL DEFAULT 1 CHECK (is_deal_probability_enabled IN (0, 1)),
  created_at                  TEXT NOT NULL,
  updated_at                  TEXT NOT NULL
) STRICT;

CREATE TABLE stages (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  pipeline_id INTEGER NOT NULL REFERENCES pipelines(id) ON DELETE RESTRICT,
  name        TEXT NOT NULL,
  position    INTEGER NOT NULL CHECK (position >= 1),
  status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
  probability REAL CHECK (probability IS NULL OR (probability >= 0 AND probability <= 100)),
  color       TEXT,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX stages_by_pipeline ON stages(pipeline_id, position);

-- A deal has no pipeline column: its pipeline is always its stage's pipeline.
CREATE TABLE deals (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  name             TEXT NOT NULL,
  stage_id         INTEGER NOT NULL REFERENCES stages(id) ON DELETE RESTRICT,
  status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'won', 'lost')),
  amount           REAL,
  currency         TEXT,
  owner_id         INTEGER REFERENCES users(id) ON DELETE SET NULL,
  account_id       INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
  close_date       TEXT CHECK (close_date IS NULL OR close_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  stage_changed_at TEXT NOT NULL,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
) STRICT;
CREATE INDEX deals_by_stage ON deals(stage_id, status);
CREATE INDEX deals_by_owner ON deals(owner_id);
CREATE INDEX deals_by_account ON deals(account_id);
CREATE INDEX deals_by_updated ON deals(updated_at DESC, id DESC);

-- The full stage history. Stage ids carry no foreign key on purpose: history outlives a deleted
-- stage, and AUTOINCREMENT ids are never reused, so an old id can never point at a new stage.
-- won/lost/reopened events record the stage the deal stood in as to_stage_id.
CREATE TABLE deal_events (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  deal_id       INTEGER NOT NULL REFERENCES deals(id) ON DELETE CASCADE,
  at            TEXT NOT NULL,
  kind          TEXT NOT NULL CHECK (kind IN ('created', 'moved', 'won', 'lost', 'reopened')),
  from_stage_id INTEGER,
  to_stage_id   INTEGER
) STRICT;
CREATE INDEX deal_events_by_deal ON deal_events(deal_id, at, id);
CREATE INDEX deal_events_by_to_stage ON deal_events(to_stage_id);
CREATE INDEX deal_events_by_from_stage ON deal_events(from_stage_id);

CREATE TABLE projects (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  name             TEXT NOT NULL,
  description      TEXT,
  status           TEXT CHECK (status IS NULL OR status IN
                     ('open', 'closed', 'not started', 'in progress', 'deferred', 'cancelled', 'abandoned', 'completed')),
  amount           REAL,
  currency         TEXT,
  close_date       TEXT CHECK (close_date IS NULL OR close_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  owner_id         INTEGER REFERENCES users(id) ON DELETE SET NULL,
  account_id       INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
  stage_id         INTEGER REFERENCES stages(id) ON DELETE SET NULL,
  custom_fields    TEXT CHECK (custom_fields IS NULL OR json_valid(custom_fields)),
  last_activity_at TEXT,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
) STRICT;
CREATE INDEX projects_by_owner ON projects(owner_id);
CREATE INDEX projects_by_account ON projects(account_id);
CREATE INDEX projects_by_stage ON projects(stage_id);

CREATE TABLE project_contacts (
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  PRIMARY KEY (project_id, contact_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX project_contacts_by_contact ON project_contacts(contact_id);

-- A project's opportunities.
CREATE TABLE project_deals (
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  deal_id    INTEGER NOT NULL REFERENCES deals(id) ON DELETE CASCADE,
  PRIMARY KEY (project_id, deal_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX project_deals_by_deal ON project_deals(deal_id);

CREATE TABLE project_tags (
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  tag_id     INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
  PRIMARY KEY (project_id, tag_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX project_tags_by_tag ON project_tags(tag_id);

CREATE TABLE idempotency_keys (
  scope       TEXT NOT NULL,
  key         TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  record_id   INTEGER NOT NULL,
  created_at  TEXT NOT NULL,
  PRIMARY KEY (scope, key)
) STRICT, WITHOUT ROWID;
`;

/**
 * The records around a deal: users can be inactive; contacts get first and last names, lists of
 * emails and phones (JSON arrays: a handful per person, read and written whole, matched with
 * json_each) and an owner; activities (notes, tasks, calls, meetings, emails) hang on at least
 * one deal, account, contact or project. Existing contacts keep their data: the name is split at
 * its first space, the email becomes a one-item list.
 */
const ACTIVITY_PARENT_TABLES = [
  ['deal', 'deal_id'],
  ['account', 'account_id'],
  ['contact', 'contact_id'],
  ['project', 'project_id'],
] as const;

const MIGRATION_2 = `
ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));

ALTER TABLE contacts ADD COLUMN first_name TEXT;
ALTER TABLE contacts ADD COLUMN last_name TEXT;
ALTER TABLE contacts ADD COLUMN emails TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(emails) AND json_type(emails) = 'array');
ALTER TABLE contacts ADD COLUMN phones TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(phones) AND json_type(phones) = 'array');
ALTER TABLE contacts ADD COLUMN owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL;
UPDATE contacts SET
  first_name = CASE WHEN instr(trim(name), ' ') > 0 THEN substr(trim(name), 1, instr(trim(name), ' ') - 1) END,
  last_name  = CASE WHEN instr(trim(name), ' ') > 0 THEN ltrim(substr(trim(name), instr(trim(name), ' ') + 1)) ELSE trim(name) END,
  emails     = CASE WHEN email IS NULL OR trim(email) = '' THEN '[]' ELSE json_array(trim(email)) END;
ALTER TABLE contacts DROP COLUMN email;
CREATE INDEX contacts_by_owner ON contacts(owner_id);
CREATE INDEX contacts_by_name ON contacts(name COLLATE NOCASE, id);
CREATE INDEX accounts_by_name ON accounts(name COLLATE NOCASE, id);
CREATE INDEX accounts_by_owner ON accounts(owner_id);
CREATE INDEX users_by_name ON users(name COLLATE NOCASE, id);

CREATE TABLE activities (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  type       TEXT NOT NULL CHECK (type IN ('note', 'task', 'call', 'meeting', 'email')),
  subject    TEXT,
  body       TEXT,
  due_date   TEXT CHECK (due_date IS NULL OR due_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  -- NULL for notes, which are never "done".
  done       INTEGER CHECK (done IS NULL OR done IN (0, 1)),
  owner_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
  deal_id    INTEGER REFERENCES deals(id) ON DELETE SET NULL,
  account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
  contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
  project_id INTEGER REFERENCES projects(id) ON DELETE SET NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  CHECK (deal_id IS NOT NULL OR account_id IS NOT NULL OR contact_id IS NOT NULL OR project_id IS NOT NULL)
) STRICT;
CREATE INDEX activities_by_deal ON activities(deal_id, created_at DESC, id DESC);
CREATE INDEX activities_by_account ON activities(account_id, created_at DESC, id DESC);
CREATE INDEX activities_by_contact ON activities(contact_id, created_at DESC, id DESC);
CREATE INDEX activities_by_project ON activities(project_id, created_at DESC, id DESC);
CREATE INDEX activities_by_created ON activities(created_at DESC, id DESC);
CREATE INDEX activities_open_by_due ON activities(due_date) WHERE done = 0;

-- A deleted record takes along the activities that hung on it alone; those that also hang on
-- another record stay there (the foreign key then clears the deleted one).
${ACTIVITY_PARENT_TABLES.map(
  ([table, column]) => `CREATE TRIGGER activities_of_deleted_${table} BEFORE DELETE ON ${table}s BEGIN
  DELETE FROM activities WHERE ${column} = OLD.id AND ${ACTIVITY_PARENT_TABLES.filter(([, c]) => c !== column)
    .map(([, c]) => `${c} IS NULL`)
    .join(' AND ')};
END;`,
).join('\n')}
`;

/**
 * What the pipeline statistics read instead of replaying every deal's history: each deal's state
 * after its last event (deal_state), kept by triggers on deal_events, so a deal with no event after
 * a period's end costs one index entry; and the events by kind, stage and time, so a period is a range.
 * "Last" is in (at, id) order, as the statistics order a history. The view derives a deal's state
 * from scratch; each trigger rewrites the row of the deal it touched (or drops it with its last event).
 */
const MIGRATION_3 = `
CREATE TABLE deal_state (
  deal_id    INTEGER PRIMARY KEY,
  last_at    TEXT NOT NULL,  -- its latest event
  stage_id   INTEGER,        -- the stage its last 'created' or 'moved' event with a stage entered
  entered_ms INTEGER,        -- when, in ms since 1970 (as Date.parse reads at)
  status     TEXT,           -- the kind of its last event other than 'moved' ('created', 'reopened': open)
  created_ms INTEGER         -- its latest 'created' event, in ms since 1970
) STRICT;
CREATE INDEX deal_state_by_stage ON deal_state(stage_id, last_at, status, created_ms, entered_ms);
CREATE INDEX deal_state_by_last ON deal_state(last_at);

-- julianday keeps whole milliseconds; round() takes off the float error (well under 1 ms).
CREATE VIEW deal_state_derived AS
SELECT d.id AS deal_id,
  (SELECT MAX(e.at) FROM deal_events e WHERE e.deal_id = d.id) AS last_at,
  (SELECT e.to_stage_id FROM deal_events e WHERE e.deal_id = d.id AND e.kind IN ('created', 'moved')
     AND e.to_stage_id IS NOT NULL ORDER BY e.at DESC, e.id DESC LIMIT 1) AS stage_id,
  (SELECT CAST(round((julianday(MAX(e.at)) - 2440587.5) * 86400000.0) AS INTEGER) FROM deal_events e
     WHERE e.deal_id = d.id AND e.kind IN ('created', 'moved') AND e.to_stage_id IS NOT NULL) AS entered_ms,
  (SELECT e.kind FROM deal_events e WHERE e.deal_id = d.id AND e.kind <> 'moved'
     ORDER BY e.at DESC, e.id DESC LIMIT 1) AS status,
  (SELECT CAST(round((julianday(MAX(e.at)) - 2440587.5) * 86400000.0) AS INTEGER) FROM deal_events e
     WHERE e.deal_id = d.id AND e.kind = 'created') AS created_ms
FROM deals d;

CREATE TRIGGER deal_state_after_insert AFTER INSERT ON deal_events BEGIN
  DELETE FROM deal_state WHERE deal_id = NEW.deal_id;
  INSERT INTO deal_state SELECT * FROM deal_state_derived WHERE deal_id = NEW.deal_id AND last_at IS NOT NULL;
END;
CREATE TRIGGER deal_state_after_delete AFTER DELETE ON deal_events BEGIN
  DELETE FROM deal_state WHERE deal_id = OLD.deal_id;
  INSERT INTO deal_state SELECT * FROM deal_state_derived WHERE deal_id = OLD.deal_id AND last_at IS NOT NULL;
END;
CREATE TRIGGER deal_state_after_update AFTER UPDATE ON deal_events BEGIN
  DELETE FROM deal_state WHERE deal_id IN (OLD.deal_id, NEW.deal_id);
  INSERT INTO deal_state SELECT * FROM deal_state_derived
    WHERE deal_id IN (OLD.deal_id, NEW.deal_id) AND last_at IS NOT NULL;
END;
INSERT INTO deal_state SELECT * FROM deal_state_derived WHERE last_at IS NOT NULL;

DROP INDEX deal_events_by_to_stage;
CREATE INDEX deal_events_by_kind ON deal_events(kind, to_stage_id, at, deal_id);
`;

/** Ordered schema steps; step i brings user_version from i to i + 1. Append only, never edit. */
export const MIGRATIONS: readonly string[] = [MIGRATION_1, MIGRATION_2, MIGRATION_3];

/** The tables of schema version 1: a file holding them all, unmarked, is a crm-mcp database from
 * before the application_id mark. */
const VERSION_1_TABLES = [...MIGRATION_1.matchAll(/^CREATE TABLE (\w+)/gm)].map((m) => m[1]);

export const LOCAL_SCHEMA: OwnedSchema = {
  label: 'the local CRM database',
  applicationId: applicationIdOf('CRMm'),
  migrations: MIGRATIONS,
  isUnmarked: (tables, userVersion) => userVersion >= 1 && VERSION_1_TABLES.every((t) => tables.has(t)),
  remedy: 'point --db at a new file or at an existing crm-mcp database',
};

export { isMemoryPath } from '../../crm/sqlite-file.js';

/** Opens (creating if needed) the database file: checks it is ours, WAL, pragmas, migrations. */
export const openDatabase = (path: string): Db => openOwnedDatabase(path, LOCAL_SCHEMA);
