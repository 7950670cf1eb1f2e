/**
 * A database written by the release before accounts, contacts and activities (schema version 1)
 * opens in this one: migration 2 runs once, keeps every record, splits contact names, turns each
 * contact's email into a one-item list, and adds the activities table. The version-1 file is made
 * here by the version-1 migration alone, as that release made it; likewise a version-2 file gains
 * migration 3's deal_state, filled from its history.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/crm/sqlite.js';
import { LOCAL_SCHEMA, MIGRATIONS, openDatabase } from '../../src/providers/local/client.js';
import { createLocalProvider } from '../../src/providers/local/index.js';
import { conversionStats, movementStats } from '../../src/providers/local/stats.js';
import * as reference from '../helpers/stats-reference.js';
import { cleanupTempDirs, tempDbPath, track } from './local-helpers.js';

afterEach(cleanupTempDirs);

const AT = '2026-01-01T00:00:00.000Z';

/** A version-1 database with a little of everything, marked (or not, as before the mark existed). */
function versionOneFile(marked = true): string {
  const path = tempDbPath();
  const db = openSqlite(path);
  db.pragma('journal_mode = WAL');
  db.exec(MIGRATIONS[0]);
  db.pragma('user_version = 1');
  if (marked) db.pragma(`application_id = ${LOCAL_SCHEMA.applicationId}`);
  const run = (sql: string, ...params: unknown[]) => db.prepare(sql).run(...params);
  run("INSERT INTO meta (key, value) VALUES ('initialized_at', ?)", AT);
  run('INSERT INTO users (id, name, email, created_at, updated_at) VALUES (1, ?, ?, ?, ?)', 'Ana Patel', 'ana@example.com', AT, AT);
  run('INSERT INTO accounts (id, name, owner_id, created_at, updated_at) VALUES (1, ?, 1, ?, ?)', 'Acme Corp', AT, AT);
  run('INSERT INTO contacts (id, name, email, title, account_id, created_at, updated_at) VALUES (1, ?, ?, ?, 1, ?, ?)', 'Olivia van Rossum', 'olivia@acme.example', 'CFO', AT, AT);
  run('INSERT INTO contacts (id, name, email, created_at, updated_at) VALUES (2, ?, NULL, ?, ?)', 'Madonna', AT, AT);
  run('INSERT INTO pipelines (id, name, created_at, updated_at) VALUES (1, ?, ?, ?)', 'Sales', AT, AT);
  run('INSERT INTO stages (id, pipeline_id, name, position, created_at, updated_at) VALUES (1, 1, ?, 1, ?, ?)', 'Lead', AT, AT);
  run(
    `INSERT INTO deals (id, name, stage_id, amount, owner_id, account_id, stage_changed_at, created_at, updated_at)
     VALUES (1, ?, 1, 5000, 1, 1, ?, ?, ?)`,
    'Acme pilot',
    AT,
    AT,
    AT,
  );
  run("INSERT INTO deal_events (deal_id, at, kind, to_stage_id) VALUES (1, ?, 'created', 1)", AT);
  run('INSERT INTO projects (id, name, account_id, created_at, updated_at) VALUES (1, ?, 1, ?, ?)', 'Acme rollout', AT, AT);
  run('INSERT INTO project_contacts (project_id, contact_id) VALUES (1, 1)');
  db.close();
  return path;
}

describe('migration from schema version 1', () => {
  for (const marked of [true, false]) {
    it(`keeps every record and brings a ${marked ? 'marked' : 'pre-mark'} file to version ${MIGRATIONS.length}`, async () => {
      const path = versionOneFile(marked);
      const provider = track(createLocalProvider({ path }));

      // Nothing was seeded into a database that already has data.
      expect((await provider.deals!.list!({ limit: 10 }, {})).items.map((d) => d.name)).toEqual(['Acme pilot']);
      expect(await provider.deals!.get!('1', {})).toMatchObject({ amount: 5000, owner: { id: '1', name: 'Ana Patel' }, account: { id: '1', name: 'Acme Corp' } });
      expect((await provider.projects!.get!('1', {})).contact).toEqual([{ id: '1', name: 'Olivia van Rossum' }]);

      // Names split at the first space; the email is now a one-item list; no email, no list.
      expect(await provider.contacts!.get!('1', {})).toMatchObject({
        name: 'Olivia van Rossum',
        first_name: 'Olivia',
        last_name: 'van Rossum',
        emails: ['olivia@acme.example'],
        title: 'CFO',
        account: { id: '1', name: 'Acme Corp' },
      });
      const single = await provider.contacts!.get!('2', {});
      expect(single).toMatchObject({ name: 'Madonna', last_name: 'Madonna' });
      expect(single.first_name).toBeUndefined();
      expect(single.emails).toBeUndefined();
      expect(await provider.users!.get!('1', {})).toEqual({ id: '1', name: 'Ana Patel', email: 'ana@example.com', active: true });

      // The new table works on the old records.
      const note = await (await provider.activities!.create!({ type: 'note', body: 'migrated', deal_id: '1' }, {})).execute();
      expect(note.deal).toEqual({ id: '1', name: 'Acme pilot' });

      const db = track(openDatabase(path));
      expect(db.pragma('user_version')).toBe(MIGRATIONS.length);
      expect(db.pragma('application_id')).toBe(LOCAL_SCHEMA.applicationId);
      const columns = (db.prepare("SELECT name FROM pragma_table_info('contacts')").all() as { name: string }[]).map((c) => c.name);
      expect(columns).not.toContain('email');
      expect(columns).toEqual(expect.arrayContaining(['first_name', 'last_name', 'emails', 'phones', 'owner_id']));
      expect(db.prepare("SELECT COUNT(*) AS n FROM meta WHERE key = 'seeded'").get()).toEqual({ n: 0 });
    });
  }

  it('runs once: a second open finds the file current and changes nothing', async () => {
    const path = versionOneFile();
    await createLocalProvider({ path }).close();
    const db = openSqlite(path);
    const before = db.prepare('SELECT COUNT(*) AS n FROM sqlite_master').get();
    db.close();
    await createLocalProvider({ path }).close();
    const after = track(openSqlite(path));
    expect(after.prepare('SELECT COUNT(*) AS n FROM sqlite_master').get()).toEqual(before);
    expect(after.pragma('user_version')).toBe(MIGRATIONS.length);
  });
});

/**
 * A database of schema version 2 gains deal_state (each deal's state after its last event, which
 * the statistics read) filled from the history it already has, and keeps it current afterwards.
 */
describe('migration from schema version 2', () => {
  function versionTwoFile(): string {
    const path = tempDbPath();
    const db = openSqlite(path);
    db.pragma('journal_mode = WAL');
    db.exec(MIGRATIONS[0]);
    db.exec(MIGRATIONS[1]);
    db.pragma('user_version = 2');
    db.pragma(`application_id = ${LOCAL_SCHEMA.applicationId}`);
    const run = (sql: string, ...params: unknown[]) => db.prepare(sql).run(...params);
    run('INSERT INTO users (id, name, created_at, updated_at) VALUES (1, ?, ?, ?)', 'Ana Patel', AT, AT);
    run('INSERT INTO pipelines (id, name, created_at, updated_at) VALUES (1, ?, ?, ?)', 'Sales', AT, AT);
    for (const [id, position] of [[1, 1], [2, 2], [3, 3]]) {
      run('INSERT INTO stages (id, pipeline_id, name, position, created_at, updated_at) VALUES (?, 1, ?, ?, ?, ?)', id, `S${id}`, position, AT, AT);
    }
    const deal = (id: number, stage: number, amount: number) =>
      run(
        `INSERT INTO deals (id, name, stage_id, amount, owner_id, stage_changed_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, 1, ?, ?, ?)`,
        id,
        `Deal ${id}`,
        stage,
        amount,
        AT,
        AT,
        AT,
      );
    const event = (deal: number, at: string, kind: string, from: number | null, to: number | null) =>
      run('INSERT INTO deal_events (deal_id, at, kind, from_stage_id, to_stage_id) VALUES (?, ?, ?, ?, ?)', deal, at, kind, from, to);
    deal(1, 2, 5000);
    event(1, '2026-01-05T10:00:00.000Z', 'created', null, 1);
    event(1, '2026-01-09T10:00:00.000Z', 'moved', 1, 2);
    deal(2, 3, 700);
    // Inserted out of order, and a won deal reopened: the state follows time, not ids.
    event(2, '2026-01-20T08:00:00.000Z', 'won', null, 3);
    event(2, '2026-01-06T08:00:00.000Z', 'created', null, 1);
    event(2, '2026-01-12T08:00:00.000Z', 'moved', 1, 3);
    event(2, '2026-01-25T08:00:00.000Z', 'reopened', null, 3);
    deal(3, 1, 250.5);
    event(3, '2026-01-07T00:00:00.000Z', 'created', null, 1);
    event(3, '2026-01-07T00:00:00.000Z', 'lost', null, 1);
    db.close();
    return path;
  }

  it(`fills deal_state from the existing history and brings the file to version ${MIGRATIONS.length}`, async () => {
    const path = versionTwoFile();
    const provider = track(createLocalProvider({ path }));
    expect((await provider.deals!.list!({ limit: 10 }, {})).items).toHaveLength(3); // nothing seeded

    const db = track(openDatabase(path));
    expect(db.pragma('user_version')).toBe(MIGRATIONS.length);
    const ms = (at: string) => Date.parse(at);
    expect(db.prepare('SELECT * FROM deal_state ORDER BY deal_id').all()).toEqual([
      { deal_id: 1, last_at: '2026-01-09T10:00:00.000Z', stage_id: 2, entered_ms: ms('2026-01-09T10:00:00.000Z'), status: 'created', created_ms: ms('2026-01-05T10:00:00.000Z') },
      { deal_id: 2, last_at: '2026-01-25T08:00:00.000Z', stage_id: 3, entered_ms: ms('2026-01-12T08:00:00.000Z'), status: 'reopened', created_ms: ms('2026-01-06T08:00:00.000Z') },
      { deal_id: 3, last_at: '2026-01-07T00:00:00.000Z', stage_id: 1, entered_ms: ms('2026-01-07T00:00:00.000Z'), status: 'lost', created_ms: ms('2026-01-07T00:00:00.000Z') },
    ]);

    // The statistics read it: as the history says, deals 1 and 2 are open at the end of January.
    const january = { pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-01-31' };
    const now = new Date('2026-03-01T00:00:00.000Z');
    const stats = movementStats(db, january, now);
    expect(stats.deals_left_open).toEqual({ count: 2, deal_ids: ['1', '2'], values: { USD: 5700 } });
    expect(stats).toEqual(reference.movementStats(db, january, now));
    expect(conversionStats(db, january)).toEqual(reference.conversionStats(db, january));

    // And keeps it current: a move written now moves deal 3's row along.
    await (await provider.deals!.update!('3', { stage_id: '2', status: 'won' }, {})).execute();
    expect(db.prepare('SELECT stage_id, status FROM deal_state WHERE deal_id = 3').get()).toEqual({ stage_id: 2, status: 'won' });
  });
});
