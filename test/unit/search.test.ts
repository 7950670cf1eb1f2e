/**
 * Search from names to ids: the shared ranking and details (src/crm/search.ts), the parallel
 * per-type runner (cancellation and progress), the local CRM's LIKE search (wildcards escaped,
 * exact first), the search tool's refusals and the progress reporter that turns reports into MCP
 * notifications.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionRegistry } from '../../src/connections.js';
import { checkWrite, supportedOperations } from '../../src/crm/capabilities.js';
import { CrmError } from '../../src/crm/errors.js';
import { IdempotencyStore } from '../../src/crm/idempotency.js';
import type { SearchType } from '../../src/crm/model.js';
import type { CrmProvider, SearchHit } from '../../src/crm/provider.js';
import { matchRank, rankHits, searchDetail, searchEach } from '../../src/crm/search.js';
import { createLogger } from '../../src/log.js';
import { progressReporter } from '../../src/tools/define.js';
import { search } from '../../src/tools/search.js';
import { cleanupTempDirs, emptyProvider, insertPeople, steppingClock } from './local-helpers.js';

afterEach(cleanupTempDirs);

const hit = (type: SearchType, id: string, name: string, extra: Partial<SearchHit> = {}): SearchHit => ({ type, id, name, ...extra });

describe('ranking', () => {
  it('exact, prefix, word prefix, contains, other: case- and spacing-insensitive', () => {
    expect(matchRank('Acme Corp', ' acme  corp ')).toBe(0);
    expect(matchRank('Acme Corp – Pilot', 'ACME')).toBe(1);
    expect(matchRank('Big Acme', 'acme')).toBe(2);
    expect(matchRank('Pacme', 'acme')).toBe(3);
    expect(matchRank('Olivia Rossi', 'acme')).toBe(4);
  });

  it('puts exact matches first across types, then closer names, then the order asked, at most `limit` per type', () => {
    const hits = [
      hit('deals', '12', 'Acme Corp – Pilot program'),
      hit('deals', '13', 'Acme Corp – Renewal'),
      hit('deals', '14', 'Acme Corp – EU rollout'),
      hit('contacts', '3', 'Olivia Rossi', { email: 'olivia@acme.example' }),
      hit('accounts', '1', 'Acme Corp'),
      hit('accounts', '9', 'Acme'),
      hit('accounts', '1', 'Acme Corp'), // the CRM answered it twice
    ];
    const ranked = rankHits(hits, 'acme', ['deals', 'accounts', 'contacts'], 2).map((h) => `${h.type}:${h.id}`);
    expect(ranked).toEqual(['accounts:9', 'accounts:1', 'deals:13', 'deals:14', 'contacts:3']);
    // A type not asked for is dropped even if a CRM returns it.
    expect(rankHits(hits, 'acme', ['contacts'], 5).map((h) => h.id)).toEqual(['3']);
  });

  it('writes the short detail each type has: stage and owner of a deal, account and email of a contact', () => {
    expect(searchDetail(hit('deals', '1', 'x', { stage: { id: '4', name: 'Proposal' }, owner: { id: '2', name: 'Ana' }, status: 'open' }))).toBe(
      'Proposal (4) · Ana (2)',
    );
    expect(searchDetail(hit('deals', '1', 'x', { stage: { id: '4' }, status: 'won' }))).toBe('(4) · won');
    expect(searchDetail(hit('contacts', '1', 'x', { account: { id: '1', name: 'Acme' }, email: 'o@acme.example' }))).toBe(
      'Acme (1) · o@acme.example',
    );
    expect(searchDetail(hit('stages', '1', 'x', { pipeline: { id: '1', name: 'Sales' } }))).toBe('Sales (1)');
    expect(searchDetail(hit('pipelines', '1', 'x'))).toBeUndefined();
  });
});

describe('searchEach', () => {
  it('reports progress per type and returns every hit', async () => {
    const reports: Array<[number, number | undefined]> = [];
    const answer = await searchEach(['deals', 'users'], { onProgress: (d, t) => reports.push([d, t]) }, async (type) => [hit(type, '1', type)]);
    expect(answer.hits.map((h) => h.type)).toEqual(['deals', 'users']);
    expect(reports).toEqual([
      [1, 2],
      [2, 2],
    ]);
  });

  it('a cancellation aborts every branch still running, and a failure cancels the others', async () => {
    const aborted: string[] = [];
    const pending = (type: string, signal: AbortSignal) =>
      new Promise<SearchHit[]>((_, reject) =>
        signal.addEventListener('abort', () => {
          aborted.push(type);
          reject(new CrmError('cancelled', 'cancelled'));
        }),
      );
    const controller = new AbortController();
    const running = searchEach(['deals', 'accounts'], { signal: controller.signal }, (type, signal) => pending(type, signal));
    controller.abort();
    await expect(running).rejects.toMatchObject({ kind: 'cancelled' });
    expect(aborted.sort()).toEqual(['accounts', 'deals']);

    aborted.length = 0;
    const failing = searchEach(['deals', 'accounts', 'users'], {}, async (type, signal) => {
      if (type === 'users') throw new CrmError('upstream', 'users search failed');
      return pending(type, signal);
    });
    await expect(failing).rejects.toThrow('users search failed');
    expect(aborted.sort()).toEqual(['accounts', 'deals']);
  });

  it('sends nothing when already cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    let calls = 0;
    await expect(searchEach(['deals'], { signal: controller.signal }, async () => (calls++, []))).rejects.toMatchObject({ kind: 'cancelled' });
    expect(calls).toBe(0);
  });
});

describe('local search', () => {
  it('finds names with % and _ taken literally, exact name before longer ones, and contacts by email', async () => {
    const { provider, db } = emptyProvider(steppingClock());
    insertPeople(db); // accounts Acme (1), Globex (2)
    const account = (name: string) => provider.accounts!.create!({ name }, {}).then((p) => p.execute());
    await account('Acme Holdings');
    await account('100% Acme');
    await account('Acme_Labs');
    await account('AcmeXLabs');
    await (await provider.contacts!.create!({ last_name: 'Rossi', emails: ['olivia@acme.example'], account_id: '2' }, {})).execute();
    const names = async (query: string, types: SearchType[] = ['accounts']) =>
      (await provider.search!({ query, types, limit: 10 }, {})).hits.map((h) => h.name);
    expect(await names('acme')).toEqual(['Acme', 'Acme_Labs', 'AcmeXLabs', 'Acme Holdings', '100% Acme']);
    expect(await names('100%')).toEqual(['100% Acme']);
    expect(await names('e_L')).toEqual(['Acme_Labs']);
    const contact = (await provider.search!({ query: 'olivia@acme', types: ['contacts'], limit: 5 }, {})).hits;
    expect(contact).toEqual([{ type: 'contacts', id: '1', name: 'Rossi', account: { id: '2', name: 'Globex' }, email: 'olivia@acme.example' }]);
    expect(await names('zzz', ['accounts', 'users', 'deals'])).toEqual([]);
  });
});

describe('the search tool', () => {
  const env = (provider: CrmProvider) => ({
    registry: new ConnectionRegistry([{ name: 'crm', provider }], 'crm'),
    logger: createLogger('silent'),
    idempotency: new IdempotencyStore(':memory:'),
  });
  const text = (r: { content: Array<{ text: string }> }) => r.content[0].text;

  it('says plainly which asked-for types this CRM cannot search, and searches the others', async () => {
    const asked: SearchType[][] = [];
    const provider: CrmProvider = {
      kind: 'fake',
      label: 'FakeCRM',
      remote: true,
      // It lists stages and users: those are what the answers point to.
      capabilities: { search: ['deals', 'accounts'], stages: { list: true }, users: { list: true } },
      async search(q) {
        asked.push([...q.types]);
        return { hits: [hit('accounts', '7', 'Acme'), hit('deals', '3', 'Acme – Pilot', { stage: { id: '2', name: 'Lead' } })] };
      },
    };
    const r = await search.invoke({ query: 'acme', types: ['accounts', 'stages', 'deals'] }, new AbortController().signal, env(provider));
    expect(asked).toEqual([['accounts', 'deals']]);
    expect(r.structuredContent).toEqual({
      results: [
        { type: 'accounts', id: '7', name: 'Acme' },
        { type: 'deals', id: '3', name: 'Acme – Pilot', detail: 'Lead (2)' },
      ],
      connection: { name: 'crm', provider: 'fake' },
    });
    expect(text(r)).toContain('FakeCRM has no server-side search for stages; use list_stages or get_pipeline.');

    const only = await search.invoke({ query: 'acme', types: ['users'] }, new AbortController().signal, env(provider));
    expect(only.isError).toBe(true);
    expect(text(only)).toBe('FakeCRM has no server-side search for users; use list_users with name, or search deals, accounts.');
    expect(asked).toHaveLength(1);
  });

  it('points to a list tool only where this connection lists that type; otherwise says the CRM has none', async () => {
    const provider: CrmProvider = {
      kind: 'fake',
      label: 'FakeCRM',
      remote: true,
      // No projects at all; users read one by one but never listed; stages listed.
      capabilities: { search: ['deals'], users: { get: true }, stages: { list: true } },
      search: async () => ({ hits: [hit('deals', '3', 'Acme – Pilot')] }),
    };
    const none = await search.invoke({ query: 'acme', types: ['projects'] }, new AbortController().signal, env(provider));
    expect(none.isError).toBe(true);
    expect(text(none)).toBe('FakeCRM has no projects; it can search deals.');
    const partly = await search.invoke({ query: 'acme', types: ['deals', 'projects', 'users', 'stages'] }, new AbortController().signal, env(provider));
    expect(text(partly).split('\n').slice(-1)[0]).toBe(
      'FakeCRM has no projects. FakeCRM can neither search nor list users. FakeCRM has no server-side search for stages; use list_stages or get_pipeline.',
    );
    expect(text(partly)).not.toMatch(/list_projects|list_users/);
  });

  it('refuses in one sentence where the CRM has no search at all, and short queries', async () => {
    const provider: CrmProvider = { kind: 'bare', label: 'BareCRM', remote: true, capabilities: { deals: { list: true } } };
    const r = await search.invoke({ query: 'acme' }, new AbortController().signal, env(provider));
    expect(text(r)).toBe('BareCRM does not support search; this connection supports deals (list).');
    const short = await search.invoke({ query: ' a ' }, new AbortController().signal, env(provider));
    expect(text(short)).toMatch(/at least 2 characters/);
  });
});

describe('capabilities of the new records', () => {
  const crm: CrmProvider = {
    kind: 'notes-and-tasks',
    label: 'NotesCRM',
    remote: true,
    capabilities: {
      activities: { list: true, create: { supported: ['type', 'subject', 'body', 'deal_id'], required: ['type'], enums: { type: ['note', 'task'] } } },
      users: { list: true },
      search: ['deals'],
    },
  };

  it('refuses an activity type or field the CRM does not have, before anything is sent', () => {
    expect(() => checkWrite(crm, 'activities', 'create', { type: 'meeting', deal_id: '1' })).toThrow(
      "NotesCRM does not accept type 'meeting' for an activity; allowed: note, task.",
    );
    expect(() => checkWrite(crm, 'activities', 'create', { type: 'task', due_date: '2026-01-01', deal_id: '1' })).toThrow(
      /NotesCRM does not support `due_date` when creating an activity; supported fields: type, subject, body, deal_id\./,
    );
    expect(() => checkWrite(crm, 'activities', 'create', { type: 'note', body: 'x', deal_id: '1' })).not.toThrow();
  });

  it('list_connections shows the new groups and what the CRM searches', () => {
    expect(supportedOperations(crm.capabilities)).toEqual({ users: ['list'], activities: ['list', 'create'], search: ['deals'] });
  });
});

describe('progress notifications', () => {
  const context = (token?: string | number) => {
    const sent: Array<Record<string, unknown>> = [];
    return {
      sent,
      ctx: {
        mcpReq: {
          _meta: token === undefined ? {} : { progressToken: token },
          notify: async (n: { method: string; params?: Record<string, unknown> }) => void sent.push({ method: n.method, ...n.params }),
        },
      },
    };
  };

  it('none without a progress token', () => {
    expect(progressReporter(context().ctx)).toBeUndefined();
  });

  it('one step per report, always increasing, with the total only when it is not behind', async () => {
    const { ctx, sent } = context('t1');
    const progress = progressReporter(ctx)!;
    progress.report(1, 3, 'searched deals');
    progress.report(1, undefined, 'read 1 page'); // parallel work restarting its own count
    progress.report(3, 2);
    await progress.sent();
    expect(sent).toEqual([
      { method: 'notifications/progress', progressToken: 't1', progress: 1, total: 3, message: 'searched deals' },
      { method: 'notifications/progress', progressToken: 't1', progress: 2, message: 'read 1 page' },
      { method: 'notifications/progress', progressToken: 't1', progress: 3 },
    ]);
  });
});
