import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/providers/local/client.js';
import { createLocalProvider, type LocalProvider } from '../../src/providers/local/index.js';
import { cleanupTempDirs, expectCrmError, insertPeople, steppingClock, tempDbPath, track } from './local-helpers.js';

let path: string;
let provider: LocalProvider;
let db: Db;

const open = () => track(createLocalProvider({ path, seed: false, now: steppingClock().now }));
const count = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

beforeEach(async () => {
  path = tempDbPath();
  provider = open();
  db = track(openDatabase(path));
  insertPeople(db);
  for (const name of ['Sales', 'Partners']) await (await provider.pipelines!.create!({ name }, {})).execute();
  await (await provider.stages!.create!({ pipeline_id: '1', name: 'Lead' }, {})).execute();
});
afterEach(cleanupTempDirs);

const INPUT = { name: 'Acme – 50 seats', stage_id: '1', amount: 5000 };

describe('local idempotent creates', () => {
  it('returns the first record for a repeat and creates nothing', async () => {
    const first = await (await provider.deals!.create!(INPUT, { idempotency_key: 'abc' })).execute();
    const write = await provider.deals!.create!({ ...INPUT }, { idempotency_key: 'abc' });
    expect(write.request).toEqual({ method: 'POST', path: '/deals', body: INPUT });
    const again = await write.execute();
    expect(again.id).toBe(first.id);
    expect(count('deals')).toBe(1);
    expect(count('deal_events')).toBe(1);
  });

  it('treats key order in the input as the same input', async () => {
    const first = await (await provider.deals!.create!(INPUT, { idempotency_key: 'k' })).execute();
    const reordered = { amount: 5000, stage_id: '1', name: 'Acme – 50 seats' };
    expect((await (await provider.deals!.create!(reordered, { idempotency_key: 'k' })).execute()).id).toBe(first.id);
  });

  it('refuses the same key with other input, already at prepare time', async () => {
    await (await provider.deals!.create!(INPUT, { idempotency_key: 'abc' })).execute();
    await expectCrmError(
      provider.deals!.create!({ ...INPUT, amount: 6000 }, { idempotency_key: 'abc' }),
      'conflict',
      "idempotency_key 'abc' was already used to create deal '1' with different input; use a new key for a different deal, or repeat the original input unchanged.",
    );
    expect(count('deals')).toBe(1);
  });

  it('creates separate records without a key', async () => {
    await (await provider.deals!.create!(INPUT, {})).execute();
    await (await provider.deals!.create!(INPUT, {})).execute();
    expect(count('deals')).toBe(2);
  });

  it('scopes keys per resource', async () => {
    const p = await (await provider.pipelines!.create!({ name: 'X' }, { idempotency_key: 'same' })).execute();
    const s = await (await provider.stages!.create!({ pipeline_id: p.id, name: 'Y' }, { idempotency_key: 'same' })).execute();
    const pr = await (await provider.projects!.create!({ name: 'Z' }, { idempotency_key: 'same' })).execute();
    expect((await (await provider.pipelines!.create!({ name: 'X' }, { idempotency_key: 'same' })).execute()).id).toBe(p.id);
    expect((await (await provider.stages!.create!({ pipeline_id: p.id, name: 'Y' }, { idempotency_key: 'same' })).execute()).id).toBe(s.id);
    expect((await (await provider.projects!.create!({ name: 'Z' }, { idempotency_key: 'same' })).execute()).id).toBe(pr.id);
    expect(count('pipelines')).toBe(3);
    expect(count('projects')).toBe(1);
  });

  it('replays even when the input would no longer validate', async () => {
    const p = await (await provider.projects!.create!({ name: 'P', owner: { id: '2' } }, { idempotency_key: 'p1' })).execute();
    db.prepare('UPDATE projects SET owner_id = NULL').run();
    db.prepare('DELETE FROM users WHERE id = 2').run();
    const again = await (await provider.projects!.create!({ name: 'P', owner: { id: '2' } }, { idempotency_key: 'p1' })).execute();
    expect(again.id).toBe(p.id);
  });

  it('says so when the first record was deleted since', async () => {
    const p = await (await provider.projects!.create!({ name: 'Gone' }, { idempotency_key: 'g' })).execute();
    await (await provider.projects!.delete!(p.id, {})).execute();
    const write = await provider.projects!.create!({ name: 'Gone' }, { idempotency_key: 'g' });
    await expectCrmError(write.execute(), 'conflict', /has since been deleted; use a new key/);
  });

  it('rejects unusable keys', async () => {
    await expectCrmError(provider.deals!.create!(INPUT, { idempotency_key: '' }), 'validation', /idempotency_key/);
    await expectCrmError(provider.deals!.create!(INPUT, { idempotency_key: 'x'.repeat(256) }), 'validation', /255/);
  });

  it('survives a restart: the key lives in the database file', async () => {
    const first = await (await provider.deals!.create!(INPUT, { idempotency_key: 'restart' })).execute();
    await provider.close();
    const reopened = open();
    const again = await (await reopened.deals!.create!(INPUT, { idempotency_key: 'restart' })).execute();
    expect(again.id).toBe(first.id);
    await expectCrmError(reopened.deals!.create!({ ...INPUT, name: 'Other' }, { idempotency_key: 'restart' }), 'conflict');
    expect(count('deals')).toBe(1);
  });

  it('holds across two providers on one file, even when both prepared before either executed', async () => {
    const other = open();
    const a = await provider.deals!.create!(INPUT, { idempotency_key: 'race' });
    const b = await other.deals!.create!(INPUT, { idempotency_key: 'race' });
    const c = await other.deals!.create!({ ...INPUT, amount: 1 }, { idempotency_key: 'race' });
    const first = await b.execute();
    expect((await a.execute()).id).toBe(first.id);
    // c passed prepare before the key existed; the check inside the write transaction catches it.
    await expectCrmError(c.execute(), 'conflict', /already used to create deal/);
    expect(count('deals')).toBe(1);
    expect(count('idempotency_keys')).toBe(1);
  });
});

describe('local provider across processes', () => {
  const CHILD = fileURLToPath(new URL('./local-writer.child.ts', import.meta.url));
  const ROOT = fileURLToPath(new URL('../..', import.meta.url));

  interface ChildResult {
    code: number | null;
    result?: { errors: string[]; sharedIds: string[] };
    stderr: string;
  }

  function startChild(worker: number, deals: number, shared: number, stages: number, mode = '', file = path) {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CHILD, file, String(worker), String(deals), String(shared), String(stages), mode],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout });
    let result: ChildResult['result'];
    const ready = new Promise<void>((resolve) => {
      lines.on('line', (line) => {
        if (line === 'ready') resolve();
        else if (line.startsWith('{')) result = JSON.parse(line) as ChildResult['result'];
      });
    });
    const done = new Promise<ChildResult>((resolve) => {
      child.on('close', (code) => resolve({ code, result, stderr }));
    });
    return { child, ready, done };
  }

  it('loses no write and lets no SQLITE_BUSY escape when processes write concurrently', async () => {
    const WORKERS = 3;
    const DEALS = 40;
    const SHARED = 15;
    const STAGES = 6;
    const children = Array.from({ length: WORKERS }, (_, w) => startChild(w, DEALS, SHARED, STAGES));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.write('go\n');
    // This process writes at the same time, through its own connection.
    for (let i = 0; i < 20; i++) {
      await (await provider.deals!.create!({ name: `parent-${i}`, stage_id: '1' }, {})).execute();
      await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.all(children.map((c) => c.done));

    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.result?.errors).toEqual([]);
      expect(r.result?.sharedIds).toHaveLength(SHARED);
    }
    // Every worker got the same record for every shared key.
    expect(new Set(results.map((r) => JSON.stringify(r.result?.sharedIds))).size).toBe(1);
    expect(count('deals')).toBe(WORKERS * DEALS + SHARED + 20);
    expect(count('idempotency_keys')).toBe(SHARED);
    for (let w = 0; w < WORKERS; w++) {
      const n = (db.prepare("SELECT COUNT(*) AS n FROM deals WHERE name LIKE ?").get(`w${w}-%`) as { n: number }).n;
      expect(n).toBe(DEALS);
    }
    // Concurrent appends still give positions 1..n without duplicates.
    const positions = (db.prepare('SELECT position FROM stages WHERE pipeline_id = 2 ORDER BY position').all() as {
      position: number;
    }[]).map((r) => r.position);
    expect(positions).toEqual(Array.from({ length: WORKERS * STAGES }, (_, i) => i + 1));
  });

  it('migrates and seeds a brand-new file exactly once when several processes open it at once', async () => {
    const fresh = tempDbPath('fresh.db');
    const children = Array.from({ length: 4 }, (_, w) => startChild(w, 2, 0, 0, 'open-late', fresh));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.write('go\n');
    const results = await Promise.all(children.map((c) => c.done));
    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.result?.errors).toEqual([]);
    }
    const raw = track(openDatabase(fresh));
    const n = (sql: string) => (raw.prepare(sql).get() as { n: number }).n;
    expect(n('SELECT COUNT(*) AS n FROM users')).toBe(8);
    expect(n('SELECT COUNT(*) AS n FROM pipelines')).toBe(3);
    expect(n("SELECT COUNT(*) AS n FROM meta WHERE key = 'seeded'")).toBe(1);
    // 150 seeded deals plus two per process.
    expect(n('SELECT COUNT(*) AS n FROM deals')).toBe(150 + 4 * 2);
  });
});
