import { describe, expect, it } from 'vitest';
import { checkFilters, checkWrite, requireOperation, requireStats, supportedOperations } from '../../src/crm/capabilities.js';
import { CrmError } from '../../src/crm/errors.js';
import { decodeCursor, encodeCursor, filterFingerprint } from '../../src/crm/paginate.js';
import { compact } from '../../src/crm/records.js';
import type { CrmProvider } from '../../src/crm/provider.js';

const INSIGHTLY_STATUSES = ['not started', 'in progress', 'deferred', 'cancelled', 'abandoned', 'completed'];

function provider(overrides: Partial<CrmProvider> = {}): CrmProvider {
  return {
    kind: 'test',
    label: 'Insightly',
    remote: true,
    capabilities: {
      projects: {
        list: true,
        get: true,
        create: {
          supported: ['name', 'status', 'description', 'close_date', 'owner'],
          required: ['name', 'status'],
          enums: { status: INSIGHTLY_STATUSES },
        },
        filters: ['name', 'status'],
      },
    },
    projects: { list: async () => ({ items: [], next_cursor: null }) },
    ...overrides,
  };
}

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CrmError);
    return (e as CrmError).message;
  }
  throw new Error('expected a CrmError');
};

describe('capability checks', () => {
  it('names a missing required field together with the allowed values', () => {
    const text = message(() => checkWrite(provider(), 'projects', 'create', { name: 'Rollout' }));
    expect(text).toBe(
      'Insightly requires `status` to create a project; allowed status: not started, in progress, deferred, cancelled, abandoned, completed.',
    );
  });

  it('refuses a value outside the provider enum subset', () => {
    const text = message(() => checkWrite(provider(), 'projects', 'create', { name: 'x', status: 'open' }));
    expect(text).toContain("does not accept status 'open'");
    expect(text).toContain('allowed: not started, in progress');
  });

  it('refuses unsupported fields and lists the supported ones', () => {
    const text = message(() =>
      checkWrite(provider(), 'projects', 'create', { name: 'x', status: 'deferred', amount: 5, currency: 'USD' }),
    );
    expect(text).toContain('does not support `amount` and `currency` when creating a project');
    expect(text).toContain('supported fields: name, status, description, close_date, owner');
  });

  it('accepts a complete valid write and ignores undefined fields', () => {
    expect(() =>
      checkWrite(provider(), 'projects', 'create', { name: 'x', status: 'deferred', amount: undefined }),
    ).not.toThrow();
  });

  it('rejects operations that are declared but not implemented, or not declared', () => {
    expect(message(() => requireOperation(provider(), 'projects', 'get'))).toContain('does not support reading projects');
    expect(message(() => requireOperation(provider(), 'deals', 'list'))).toMatch(
      /does not support listing deals; this connection supports projects \(list, get, create\)\.$/,
    );
    expect(message(() => requireStats(provider(), 'conversion'))).toContain('pipeline conversion statistics');
    expect(typeof requireOperation(provider(), 'projects', 'list')).toBe('function');
  });

  it('refuses list filters a provider cannot apply instead of ignoring them', () => {
    expect(() => checkFilters(provider(), 'projects', { name: 'a', limit: 5 })).not.toThrow();
    expect(message(() => checkFilters(provider(), 'projects', { owner_id: '3' }))).toBe(
      'Insightly cannot filter projects by `owner_id`; available filters: name, status.',
    );
  });

  it('summarises supported operations per resource', () => {
    expect(supportedOperations({ ...provider().capabilities, stats: { conversion: true, movement: false } })).toEqual({
      projects: ['list', 'get', 'create'],
      stats: ['conversion'],
    });
  });
});

describe('opaque cursors', () => {
  const fp = filterFingerprint('list_deals:local', { stage_id: '3', status: 'open' });

  it('round-trips the native cursor and skip count', () => {
    const c = encodeCursor(fp, 'abc', 40);
    expect(c).not.toContain('abc');
    expect(decodeCursor(c, fp)).toEqual({ native: 'abc', skip: 40 });
    expect(decodeCursor(encodeCursor(fp, undefined), fp)).toEqual({ native: undefined, skip: 0 });
  });

  it('fingerprints ignore key order and undefined values', () => {
    expect(filterFingerprint('list_deals:local', { status: 'open', stage_id: '3', owner_id: undefined })).toBe(fp);
    expect(filterFingerprint('list_deals:local', { status: 'won', stage_id: '3' })).not.toBe(fp);
  });

  it('refuses a cursor replayed with other filters', () => {
    const other = filterFingerprint('list_deals:local', { status: 'won' });
    expect(() => decodeCursor(encodeCursor(fp, 'x'), other)).toThrow(/other filters/);
  });

  it('refuses garbage with an actionable message', () => {
    expect(() => decodeCursor('not-a-cursor', fp)).toThrow(/pass back the next_cursor/);
    expect(() => decodeCursor(Buffer.from('[1]').toString('base64url'), fp)).toThrow(CrmError);
  });
});

describe('compact', () => {
  it('drops undefined members and keeps the rest in order, a member named __proto__ included', () => {
    const o = JSON.parse('{"b":1,"a":null,"__proto__":{"x":1},"2":"two","1":"one"}') as Record<string, unknown>;
    o.u = undefined;
    const old = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    const now = compact(o);
    expect(Object.getPrototypeOf(now)).toBe(Object.prototype);
    expect(Object.keys(now)).toEqual(Object.keys(old));
    expect(JSON.stringify(now)).toBe(JSON.stringify(old));
    expect(Object.hasOwn(now, '__proto__')).toBe(true);
    expect('u' in now).toBe(false);
  });
});
