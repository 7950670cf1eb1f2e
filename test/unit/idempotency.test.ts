import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { fingerprint, IdempotencyStore } from '../../src/crm/idempotency.js';

const file = () => join(mkdtempSync(join(tmpdir(), 'crm-mcp-idem-')), 'idempotency.db');

describe('IdempotencyStore', () => {
  it('creates once per key, also across a restart, and reads the first record back', async () => {
    const path = file();
    let creates = 0;
    const create = async () => ({ id: String(++creates), name: 'Acme' });
    const readBack = async (id: string) => ({ id, name: 'Acme (read back)' });

    const first = new IdempotencyStore(path);
    expect(await first.run('pd:deals', 'k1', { name: 'Acme' }, create, readBack)).toEqual({ id: '1', name: 'Acme' });
    expect(await first.run('pd:deals', 'k1', { name: 'Acme' }, create, readBack)).toEqual({ id: '1', name: 'Acme (read back)' });
    first.close();

    const afterRestart = new IdempotencyStore(path);
    expect(await afterRestart.run('pd:deals', 'k1', { name: 'Acme' }, create, readBack)).toMatchObject({ id: '1' });
    // Another scope or key is another create.
    expect(await afterRestart.run('pd:stages', 'k1', { name: 'Acme' }, create, readBack)).toMatchObject({ id: '2' });
    expect(creates).toBe(2);
  });

  it('refuses the same key with other input', async () => {
    const store = new IdempotencyStore(':memory:');
    await store.run('s', 'k', { name: 'a' }, async () => ({ id: '1' }), async (id) => ({ id }));
    await expect(store.run('s', 'k', { name: 'b' }, async () => ({ id: '2' }), async (id) => ({ id }))).rejects.toThrow(
      /already used for a different create/,
    );
  });

  it('releases a key the CRM refused, and keeps one whose outcome is unknown', async () => {
    const store = new IdempotencyStore(':memory:');
    const refuse = async (): Promise<{ id: string }> => {
      throw new CrmError('validation', 'Pipedrive rejected the request (400).');
    };
    await expect(store.run('s', 'refused', {}, refuse, async (id) => ({ id }))).rejects.toThrow(/rejected/);
    expect(await store.run('s', 'refused', {}, async () => ({ id: '7' }), async (id) => ({ id }))).toEqual({ id: '7' });

    const neverSent = async (): Promise<{ id: string }> => {
      throw new CrmError('cancelled', 'The request to Pipedrive was cancelled.', { nothingSent: true });
    };
    await expect(store.run('s', 'cancelled', {}, neverSent, async (id) => ({ id }))).rejects.toThrow(/cancelled/);
    expect(await store.run('s', 'cancelled', {}, async () => ({ id: '9' }), async (id) => ({ id }))).toEqual({ id: '9' });

    const unknown = async (): Promise<{ id: string }> => {
      throw new CrmError('upstream', 'Pipedrive answered 500. The write may or may not have happened.');
    };
    await expect(store.run('s', 'unknown', {}, unknown, async (id) => ({ id }))).rejects.toThrow(/answered 500/);
    let sent = false;
    await expect(
      store.run('s', 'unknown', {}, async () => ((sent = true), { id: '8' }), async (id) => ({ id })),
    ).rejects.toThrow(/outcome is unknown.*check with a list tool/);
    expect(sent).toBe(false);
  });

  it('fingerprints ignore key order and undefined fields', () => {
    expect(fingerprint({ a: 1, b: { d: 2, c: 3 }, e: undefined })).toBe(fingerprint({ b: { c: 3, d: 2 }, a: 1 }));
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }));
  });
});
