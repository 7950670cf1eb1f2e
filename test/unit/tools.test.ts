import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { ConnectionRegistry } from '../../src/connections.js';
import { IdempotencyStore } from '../../src/crm/idempotency.js';
import { createLogger } from '../../src/log.js';
import type { Deal } from '../../src/crm/model.js';
import type { CrmProvider, DealQuery } from '../../src/crm/provider.js';
import { listDeals, updateDeal } from '../../src/tools/deals.js';
import { OUTPUT_CAP } from '../../src/tools/define.js';
import { dealLine, money, projectLine, stageLine } from '../../src/tools/format.js';

const logger = createLogger('silent');

/** A provider over an in-memory array, enough to exercise the tool layer's own logic. */
function arrayProvider(deals: Deal[]): CrmProvider {
  return {
    kind: 'array',
    label: 'Array CRM',
    remote: false,
    capabilities: {
      deals: { list: true, get: true, update: { supported: ['stage_id', 'pipeline_id', 'amount'] } },
      stages: { list: true },
    },
    deals: {
      async list(q: DealQuery) {
        const start = Number(q.cursor ?? 0);
        const items = deals.slice(start, start + q.limit);
        const next = start + q.limit < deals.length ? String(start + q.limit) : null;
        return { items, next_cursor: next };
      },
      async get(id) {
        return deals.find((d) => d.id === id)!;
      },
      async update(id, patch) {
        const d = deals.find((x) => x.id === id)!;
        return {
          request: { method: 'PATCH', path: `/deals/${id}`, body: patch },
          execute: async () => Object.assign(d, { amount: patch.amount ?? d.amount }),
        };
      },
    },
    stages: {
      async get(id) {
        const page = await this.list!({ limit: 100 }, {});
        return page.items.find((s) => s.id === id)!;
      },
      async list(q) {
        const all = [
          { id: '1', name: 'Lead', pipeline: { id: 'p1', name: 'Sales' }, position: 1, status: 'active' as const },
          { id: '2', name: 'Won over', pipeline: { id: 'p1', name: 'Sales' }, position: 2, status: 'active' as const },
          { id: '9', name: 'Intro', pipeline: { id: 'p2', name: 'Partners' }, position: 1, status: 'active' as const },
        ];
        return { items: all.filter((s) => !q.pipeline_id || s.pipeline.id === q.pipeline_id), next_cursor: null };
      },
    },
  };
}

function deal(i: number, nameLength = 20): Deal {
  return {
    id: String(i),
    name: `Deal ${i} `.padEnd(nameLength, 'x'),
    status: 'open',
    pipeline: { id: 'p1', name: 'Sales' },
    stage: { id: '1', name: 'Lead' },
    amount: 1000 + i,
    currency: 'USD',
    owner: { id: 'u1', name: 'Ana Silva' },
  };
}

const call = (tool: typeof listDeals, provider: CrmProvider, args: Record<string, unknown>) =>
  tool.invoke(tool.inputSchema.parse(args), new AbortController().signal, {
    registry: new ConnectionRegistry([{ name: 'test', provider }], 'test'),
    logger,
    idempotency: new IdempotencyStore(':memory:'),
  });

describe('list output cap', () => {
  it('returns whole records under the cap and a cursor that resumes at the first one left out', async () => {
    const deals = Array.from({ length: 100 }, (_, i) => deal(i + 1, 600));
    const provider = arrayProvider(deals);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const r = await call(listDeals, provider, { limit: 100, ...(cursor ? { cursor } : {}) });
      expect(r.isError).toBeUndefined();
      const text = r.content[0].text;
      const rows = (r.structuredContent as { deals: Deal[] }).deals;
      expect(text.length).toBeLessThan(OUTPUT_CAP + 500);
      expect(JSON.stringify(rows).length).toBeLessThanOrEqual(OUTPUT_CAP + 2);
      // Every record shown is whole: its full name is in the text.
      for (const d of rows) expect(text).toContain(d.name);
      seen.push(...rows.map((d) => d.id));
      cursor = (r.structuredContent as { next_cursor: string | null }).next_cursor ?? undefined;
      if (!cursor) break;
      expect(text).toContain(`cursor "${cursor}"`);
    }
    expect(seen).toEqual(deals.map((d) => d.id));
  });

  it('keeps small pages whole and ends with next_cursor null', async () => {
    const provider = arrayProvider(Array.from({ length: 30 }, (_, i) => deal(i + 1)));
    const first = await call(listDeals, provider, { limit: 25 });
    const next = (first.structuredContent as { next_cursor: string }).next_cursor;
    expect((first.structuredContent as { deals: unknown[] }).deals).toHaveLength(25);
    const second = await call(listDeals, provider, { limit: 25, cursor: next });
    expect((second.structuredContent as { deals: unknown[] }).deals).toHaveLength(5);
    expect((second.structuredContent as { next_cursor: unknown }).next_cursor).toBeNull();
    const replay = await call(listDeals, provider, { limit: 25, cursor: next, status: 'won' });
    expect(replay.isError).toBe(true);
  });
});

describe('remote_query', () => {
  it('is refused on a connection whose CRM takes none, instead of being dropped', async () => {
    const provider = arrayProvider([deal(1)]);
    const args = listDeals.inputSchema.extend({ remote_query: z.record(z.string(), z.unknown()) }).parse({ remote_query: { a: 1 } });
    const r = await listDeals.invoke(args, new AbortController().signal, {
      registry: new ConnectionRegistry([{ name: 'test', provider }], 'test'),
      logger,
      idempotency: new IdempotencyStore(':memory:'),
    });
    expect(r.isError).toBe(true);
    expect(r.content[0].text).toBe(
      "Array CRM takes no remote_query; it is passed only to Truto connections. Use the tool's own filters.",
    );
  });
});

describe('stage moves', () => {
  it('refuses a stage of another pipeline and lists the deal pipeline stages', async () => {
    const provider = arrayProvider([deal(1)]);
    const r = await call(updateDeal as never, provider, { deal_id: '1', stage_id: '9' });
    expect(r.isError).toBe(true);
    expect(r.content[0].text).toBe(
      "Stage '9' is not a stage of Sales (p1), the pipeline of deal Deal 1 xxxxxxxxxxxxx (1). Its stages: Lead (1), Won over (2). " +
        'To move a deal to another pipeline, pass pipeline_id together with a stage of that pipeline.',
    );
  });

  it('refuses a pipeline change without a stage of the new pipeline', async () => {
    const r = await call(updateDeal as never, arrayProvider([deal(1)]), { deal_id: '1', pipeline_id: 'p2' });
    expect(r.isError).toBe(true);
    expect(r.content[0].text).toContain('also pass stage_id, one of its stages: Intro (9)');
  });

  it('refuses a pipeline with no stages (or an unknown one) instead of letting any stage through', async () => {
    const r = await call(updateDeal as never, arrayProvider([deal(1)]), { deal_id: '1', pipeline_id: 'p9', stage_id: '9' });
    expect(r.isError).toBe(true);
    expect(r.content[0].text).toBe(
      "Pipeline 'p9' has no stages, so no deal can stand in it; add one with create_stage, or call list_pipelines for the others.",
    );
  });

  it("places a deal whose record names no pipeline by its current stage's pipeline", async () => {
    const orphan = { ...deal(1), pipeline: { id: '' } };
    const r = await call(updateDeal as never, arrayProvider([orphan]), { deal_id: '1', stage_id: '9' });
    expect(r.isError).toBe(true);
    expect(r.content[0].text).toContain("Stage '9' is not a stage of pipeline (p1)");
    const ok = await call(updateDeal as never, arrayProvider([orphan]), { deal_id: '1', stage_id: '2', dry_run: true });
    expect(ok.isError).toBeUndefined();
  });

  it('says plainly when the provider cannot update deals at all', async () => {
    const provider = arrayProvider([deal(1)]);
    provider.capabilities.deals = { list: true, get: true };
    const moved = await call(updateDeal as never, arrayProvider([deal(1)]), { deal_id: '1', amount: 5, dry_run: true });
    expect(moved.structuredContent).toEqual({
      dry_run: { method: 'PATCH', path: '/deals/1', body: { amount: 5 } },
      connection: { name: 'test', provider: 'array' },
    });
    const r = await call(updateDeal as never, provider, { deal_id: '1', amount: 5 });
    expect(r.isError).toBe(true);
    expect(r.content[0].text).toBe('Array CRM does not support updating deals; this connection supports stages (list) and deals (list, get).');
  });
});

describe('concise formatting', () => {
  it('renders names beside ids, under 120 characters for a typical deal', () => {
    const line = dealLine(
      { ...deal(12), name: 'Acme Corp – 50 seats expansion', stage: { id: '4', name: 'Proposal made' } },
      false,
    );
    expect(line).toBe('Acme Corp – 50 seats expansion (12) · Proposal made (4) · open · 1,012 USD · Ana Silva (u1)');
    expect(line.length).toBeLessThan(120);
  });

  it('adds detail only when asked', () => {
    const d = { ...deal(1), account: { id: 'a1', name: 'Acme' }, close_date: '2026-12-01' };
    expect(dealLine(d, true)).toContain('account Acme (a1)');
    expect(dealLine(d, false)).not.toContain('account');
    expect(money(1234.5, 'EUR')).toBe('1,234.5 EUR');
    expect(money(undefined, 'EUR')).toBe('');
  });

  it('renders stages and projects on one line', () => {
    expect(
      stageLine({ id: '3', name: 'Demo', pipeline: { id: '1', name: 'Sales' }, position: 2, status: 'inactive', probability: 40 }, false),
    ).toBe('Demo (3) · #2 in Sales (1) · 40% · inactive');
    expect(projectLine({ id: '7', name: 'Onboarding', status: 'in progress', owner: { id: '2', name: 'Bo' } }, false)).toBe(
      'Onboarding (7) · in progress · Bo (2)',
    );
  });
});

describe('writes a CRM takes in several requests, and operations it lacks', () => {
  it('a dry run shows every request in the order it would be sent, in text and structuredContent', async () => {
    const provider = arrayProvider([deal(1)]);
    provider.deals!.update = async (id) => ({
      request: { method: 'PUT', path: '/Opportunities', body: { OPPORTUNITY_ID: Number(id), BID_AMOUNT: 5 } },
      then: [{ method: 'PUT', path: `/Opportunities/${id}/PipelineStage`, body: { STAGE_ID: 2 } }],
      execute: async () => deal(1),
    });
    const r = await call(updateDeal as never, provider, { deal_id: '1', amount: 5, dry_run: true });
    expect(r.structuredContent).toEqual({
      connection: { name: 'test', provider: 'array' },
      dry_run: {
        method: 'PUT',
        path: '/Opportunities',
        body: { OPPORTUNITY_ID: 1, BID_AMOUNT: 5 },
        then: [{ method: 'PUT', path: '/Opportunities/1/PipelineStage', body: { STAGE_ID: 2 } }],
      },
    });
    expect(r.content[0].text).toBe(
      'Dry run, nothing was sent. Would send: PUT /Opportunities {"OPPORTUNITY_ID":1,"BID_AMOUNT":5}\n' +
        'then: PUT /Opportunities/1/PipelineStage {"STAGE_ID":2}\n' +
        'Call again without dry_run to do it.',
    );
  });

  it("says the provider's own sentence for an operation its CRM lacks, then what the connection supports", async () => {
    const provider = arrayProvider([deal(1)]);
    provider.capabilities.deals = { list: true, get: true, refusals: { update: "Array CRM's API cannot change deals; change them in its settings." } };
    const r = await call(updateDeal as never, provider, { deal_id: '1', amount: 5 });
    expect(r.isError).toBe(true);
    expect(r.content[0].text).toBe(
      "Array CRM's API cannot change deals; change them in its settings. This connection supports stages (list) and deals (list, get).",
    );
  });
});

describe('list text', () => {
  it('keeps one line per record when a CRM field holds line breaks', async () => {
    const multi = { ...deal(1), name: 'Acme\r\nrenewal\n\n  phase 2' };
    const r = await call(listDeals, arrayProvider([multi, deal(2)]), { limit: 10 });
    const lines = (r.content[0].text as string).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^- Acme renewal phase 2 \(1\)/);
    // The record itself keeps its text as the CRM has it.
    expect((r.structuredContent as { deals: Array<{ name: string }> }).deals[0].name).toBe('Acme\r\nrenewal\n\n  phase 2');
  });
});
