/**
 * One canonical JSON for every fingerprint (idempotency keys, cursor filters, the local store):
 * deep, key-order independent, safe on deep input, and equal to what each helper stored before.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { openSqlite } from '../../src/crm/sqlite.js';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/crm/canonical.js';
import { CrmError } from '../../src/crm/errors.js';
import { fingerprint, IdempotencyStore } from '../../src/crm/idempotency.js';
import { filterFingerprint } from '../../src/crm/paginate.js';
import { WRITE_FIELDS } from '../../src/crm/provider.js';
import { fingerprintOf } from '../../src/providers/local/store.js';

// Values the three helpers produced before they shared one canonical JSON (computed with the code
// of commit b6ab774). Keys stored with them must keep matching.
const DEAL = { name: 'Acme – 50 seats', pipeline_id: '1', stage_id: '3', amount: 12000, currency: 'EUR', owner_id: '2', close_date: '2026-12-31' };
const STAGE = { pipeline_id: '1', name: 'Won "big"', probability: 80 };
const PIPELINE = { name: 'Renewals', is_deal_probability_enabled: true };
const PROJECT = {
  name: 'Rollout',
  status: 'in progress',
  custom_fields: { Zeta: 1, alpha: { b: [1, { y: 2, x: null }], a: 'ü' }, '10': 'ten', '9': 'nine' },
  tags: [{ id: '7' }],
  owner: { id: '2' },
};
const STORED = {
  deal: 'a085f0f36a1f64a7c7cbe748059420947c047218b71a0742b4c422b2f34ef8de',
  stage: '20fc92c296599a20317736962d8adbe6ae742700446a4c3d0e1284f16f2d6b40',
  pipeline: 'f9f7c9c209809ce32bafd5d1460c389fe41cb1d03208ad4692c864dd77ddbc38',
  localProject: '835d88fc0f1f56d58952104e94f1c88dda696aa7b370e9035e3908f21b345e80',
  filters: '3uJuOoojMc',
};

/** The idempotency store's fingerprint before: keys sorted with localeCompare. */
function legacyIdempotencyFingerprint(input: unknown): string {
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

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('fingerprints stored before still match', () => {
  it('idempotency.db keys of Pipedrive creates', () => {
    expect(fingerprint(DEAL)).toBe(STORED.deal);
    expect(fingerprint(STAGE)).toBe(STORED.stage);
    expect(fingerprint(PIPELINE)).toBe(STORED.pipeline);
  });

  it('a key reserved in an existing idempotency.db before the change replays its record', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'crm-mcp-canon-')), 'idempotency.db');
    const db = openSqlite(path);
    db.exec(`CREATE TABLE idempotency_keys (
      scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
      record_id TEXT, state TEXT NOT NULL, created_at TEXT NOT NULL,
      PRIMARY KEY (scope, key))`);
    db.prepare("INSERT INTO idempotency_keys VALUES ('pipedrive:deals', 'old-key', ?, '41', 'done', '2026-11-01T00:00:00Z')").run(STORED.deal);
    db.close();
    const store = new IdempotencyStore(path);
    let created = 0;
    const record = await store.run(
      'pipedrive:deals',
      'old-key',
      { ...DEAL },
      async () => ({ id: String(++created) }),
      async (id) => ({ id, name: 'read back' }),
    );
    expect(record).toEqual({ id: '41', name: 'read back' });
    expect(created).toBe(0);
    store.close();
  });

  it('every create a non-native provider can key sorts the same under localeCompare and code units', () => {
    for (const [resource, fields] of Object.entries(WRITE_FIELDS)) {
      if (resource === 'projects') continue; // nested free-form fields: only the local store keys them
      for (let seed = 1; seed <= 20; seed++) {
        const input = Object.fromEntries(shuffled(fields, seed).map((f, i) => [f, i % 3 === 0 ? `v${i}` : i]));
        expect(fingerprint(input), `${resource} #${seed}`).toBe(legacyIdempotencyFingerprint(input));
      }
    }
  });

  it('local database rows', () => {
    expect(fingerprintOf(PROJECT)).toBe(STORED.localProject);
  });

  it('cursor filters that were flat', () => {
    expect(filterFingerprint('list_deals:pipedrive', { status: 'open', pipeline_id: '1', sort_by: undefined })).toBe(STORED.filters);
  });
});

describe('canonical JSON', () => {
  it('sorts keys at every depth, so nested remote_query key order never changes a cursor', () => {
    const a = filterFingerprint('list_stages:truto', { name: 'x', remote_query: { filter: { a: 1, b: [{ y: 1, x: 2 }] }, z: 1 } });
    const b = filterFingerprint('list_stages:truto', { remote_query: { z: 1, filter: { b: [{ x: 2, y: 1 }], a: 1 } }, name: 'x' });
    expect(a).toBe(b);
    expect(filterFingerprint('s', { q: { a: 1 } })).not.toBe(filterFingerprint('s', { q: { a: 2 } }));
    expect(fingerprint({ a: [1, 2] })).not.toBe(fingerprint({ a: [2, 1] }));
  });

  it('reads like JSON.stringify of the sorted value', () => {
    const v = { b: [1, undefined, 'x', null, { d: true, c: -0.5 }], a: { y: 'é"\n', x: undefined }, c: [] };
    expect(canonicalJson(v)).toBe('{"a":{"y":"é\\"\\n"},"b":[1,null,"x",null,{"c":-0.5,"d":true}],"c":[]}');
    expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
  });

  it('handles input nested 30,000 deep without overflowing the stack', () => {
    const depth = 30_000;
    let deep: unknown = 'leaf';
    for (let i = 0; i < depth; i++) deep = i % 2 ? { k: deep } : [deep];
    const s = canonicalJson(deep);
    expect(s.length).toBe(depth * 2 + (depth / 2) * '"k":'.length + '"leaf"'.length);
    expect(() => fingerprint({ custom_fields: deep })).not.toThrow();
    expect(() => fingerprintOf({ custom_fields: deep })).not.toThrow();
    expect(() => filterFingerprint('s', { remote_query: deep })).not.toThrow();
  });

  it('refuses a value that contains itself with a sentence, not a crash', () => {
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = { again: loop };
    expect(() => canonicalJson(loop)).toThrow(CrmError);
    expect(() => canonicalJson(loop)).toThrow(/refers to itself/);
    // The same object twice side by side is no cycle.
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared, shared] })).toBe('{"a":{"x":1},"b":[{"x":1},{"x":1}]}');
  });
});
