/**
 * Bounds on what goes in and what comes out of every tool (issue 7): arguments of any size get a
 * short sentence, never an echo; records of any size come back cut to the output cap, saying so;
 * nested free-form input is refused before anything deep walks it; dates are calendar dates; ids
 * may be sent as whole numbers. Tools run in-process over the real local provider (SQLite in
 * memory), sometimes wrapped to return records no CRM should hold.
 */
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/client/validators/ajv';
import { createLogger } from '../../src/log.js';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectionRegistry } from '../../src/connections.js';
import { CrmError, excerpt } from '../../src/crm/errors.js';
import { IdempotencyStore } from '../../src/crm/idempotency.js';
import { isCalendarDate } from '../../src/crm/model.js';
import type { CrmProvider } from '../../src/crm/provider.js';
import { createLocalProvider } from '../../src/providers/local/index.js';
import { ALL_TOOLS } from '../../src/tools/index.js';
import { OUTPUT_CAP, type CallToolResultLike, type ToolDefinition } from '../../src/tools/define.js';
import { compactJsonSchema } from '../../src/tools/schema.js';

const logger = createLogger('silent');
const local = createLocalProvider({ path: ':memory:', seed: true });
const idempotency = new IdempotencyStore(':memory:');
afterAll(async () => {
  await local.close();
});

const tool = (name: string): ToolDefinition => {
  const t = ALL_TOOLS.find((x) => x.name === name);
  if (!t) throw new Error(`no tool ${name}`);
  return t;
};

async function run(name: string, args: unknown, provider: CrmProvider = local): Promise<CallToolResultLike> {
  const registry = new ConnectionRegistry([{ name: 'test', provider }], 'test');
  return tool(name).invoke(args, new AbortController().signal, { registry, logger, idempotency });
}

const text = (r: CallToolResultLike) => r.content.map((c) => c.text).join('\n');
/** Size of a whole result as it travels. */
const wire = (r: CallToolResultLike) => Buffer.byteLength(JSON.stringify(r));

const MB = 1_048_576;
const huge = 'A'.repeat(MB);

describe('excerpt', () => {
  it('quotes short values whole and long ones as a head plus their length', () => {
    expect(excerpt('abc')).toBe('abc');
    expect(excerpt(42)).toBe('42');
    expect(excerpt(huge)).toBe(`${'A'.repeat(60)}…(1,048,576 characters)`);
    // Never half a surrogate pair.
    expect(excerpt(`${'a'.repeat(59)}😀tail`, 60)).toBe(`${'a'.repeat(59)}…(65 characters)`);
  });
});

describe('arguments of any size are answered with a short sentence (defect 4)', () => {
  it('get_pipeline with a 1 MB id', async () => {
    const r = await run('get_pipeline', { pipeline_id: huge });
    expect(r.isError).toBe(true);
    expect(text(r)).toBe('Invalid arguments for get_pipeline: `pipeline_id` is too long for an id: 1,048,576 characters, at most 128.');
  });

  it('an unknown connection of 1 MB, and an unknown one within bounds', async () => {
    const r = await run('list_pipelines', { connection: huge });
    expect(text(r)).toBe('Invalid arguments for list_pipelines: `connection` is too long: 1,048,576 characters, at most 64.');
    const registry = new ConnectionRegistry([{ name: 'test', provider: local }], 'test');
    const unknown = 'c'.repeat(64);
    expect(() => registry.get(unknown)).toThrow(`No connection named '${'c'.repeat(60)}…(64 characters)'`);
  });

  it('an unknown argument with a 1 MB name is quoted as an excerpt, with the arguments the tool takes', async () => {
    const r = await run('update_deal', { deal_id: '1', acount_id: '3', [huge]: 1 });
    expect(wire(r)).toBeLessThan(600);
    expect(text(r)).toMatch(/^Invalid arguments for update_deal: unknown arguments `acount_id`, `A{40}…\(1,048,576 characters\)`; it takes deal_id, name, .*account_id/);
  });

  it('every string argument of every tool: a 1 MB value gets an answer under 1 KB', async () => {
    const tried: string[] = [];
    for (const t of ALL_TOOLS) {
      const properties = (compactJsonSchema(t.inputSchema, 'input').properties ?? {}) as Record<string, { type?: unknown; enum?: unknown }>;
      for (const [arg, schema] of Object.entries(properties)) {
        const types = [schema.type].flat();
        if (!types.includes('string')) continue;
        const r = await run(t.name, { [arg]: huge });
        tried.push(`${t.name}.${arg}`);
        expect(r.isError, `${t.name}.${arg}`).toBe(true);
        expect(wire(r), `${t.name}.${arg}: ${text(r).slice(0, 200)}`).toBeLessThan(1_000);
        expect(text(r)).not.toContain('A'.repeat(61));
      }
    }
    expect(tried.length).toBeGreaterThan(60);
  });

  it('values of any size that pass the schema are quoted as excerpts in not-found errors', async () => {
    const id = 'x'.repeat(128);
    for (const [name, args] of [
      ['get_deal', { deal_id: id }],
      ['get_stage', { stage_id: id }],
      ['get_project', { project_id: id }],
      ['list_stages', { pipeline_id: id }],
    ] as const) {
      const r = await run(name, args);
      expect(r.isError, name).toBe(true);
      expect(text(r), name).not.toContain('x'.repeat(61));
      expect(text(r), name).toContain('…(128 characters)');
    }
  });

  it('a list of references, an idempotency key and a cursor are bounded too', async () => {
    const refs = await run('create_project', { name: 'P', contact: Array.from({ length: 101 }, (_, i) => ({ id: i })) });
    expect(text(refs)).toBe('Invalid arguments for create_project: `contact` has too many items: 101, at most 100.');
    const key = await run('create_pipeline', { name: 'P', idempotency_key: 'k'.repeat(256) });
    expect(text(key)).toBe('Invalid arguments for create_pipeline: `idempotency_key` is too long: 256 characters, at most 255.');
    const cursor = await run('list_deals', { cursor: 'c'.repeat(5_000) });
    expect(text(cursor)).toBe('Invalid arguments for list_deals: `cursor` is too long: 5,000 characters, at most 2,048.');
  });

  it('error texts are capped whatever builds them', async () => {
    const failing: CrmProvider = {
      ...local,
      deals: { ...local.deals, get: async () => Promise.reject(new CrmError('upstream', `CRM said: ${huge}`)) },
    };
    const r = await run('get_deal', { deal_id: '1' }, failing);
    expect(r.isError).toBe(true);
    expect(wire(r)).toBeLessThan(4_200);
    expect(text(r)).toContain('…[cut: 1,048,586 characters in all]');
  });
});

// A local CRM whose records hold what no CRM should: a 20 MB deal title, a 1 MB project description.
const title = 'T'.repeat(20 * MB);
const description = 'D'.repeat(MB);
const oversized: CrmProvider = {
  ...local,
  deals: {
    ...local.deals,
    get: async (id, o) => ({ ...(await local.deals!.get!(id, o)), name: title }),
    list: async (q, o) => {
      const page = await local.deals!.list!(q, o);
      return { ...page, items: page.items.map((d, i) => (i === 0 ? { ...d, name: title } : i === 1 ? { ...d, name: 'N'.repeat(5_000) } : d)) };
    },
    update: async (id, patch, o) => {
      const prepared = await local.deals!.update!(id, patch, o);
      return { ...prepared, execute: async () => ({ ...(await prepared.execute()), name: title }) };
    },
  },
  projects: {
    ...local.projects,
    get: async (id, o) => ({ ...(await local.projects!.get!(id, o)), description }),
  },
};

describe('records of any size come back within the output cap, cut where they were cut (defect 5)', () => {
  const cut20mb = '…[cut: 20,971,520 characters in all]';

  it('get_deal with a 20 MB title: concise and detailed', async () => {
    for (const response_format of ['concise', 'detailed']) {
      const r = await run('get_deal', { deal_id: '1', response_format }, oversized);
      expect(r.isError, text(r).slice(0, 300)).toBeUndefined();
      expect(text(r)).toContain(cut20mb);
      const name = (r.structuredContent as { deal: { name: string } }).deal.name;
      expect(name.endsWith(cut20mb)).toBe(true);
      expect(name.length).toBe((response_format === 'concise' ? 2_000 : 10_000) + cut20mb.length);
      expect(Buffer.byteLength(text(r))).toBeLessThanOrEqual(OUTPUT_CAP);
      expect(Buffer.byteLength(JSON.stringify(r.structuredContent))).toBeLessThanOrEqual(OUTPUT_CAP);
    }
  });

  it('list_deals whose first record has a 20 MB title', async () => {
    const r = await run('list_deals', { limit: 100, response_format: 'detailed' }, oversized);
    expect(r.isError).toBeUndefined();
    const deals = (r.structuredContent as { deals: Array<{ name: string }> }).deals;
    expect(deals[0].name.endsWith(cut20mb)).toBe(true);
    expect(text(r)).toContain(cut20mb);
    // A long field in a record that fits the cap is cut too (at 10,000 in detailed answers, 2,000 in concise).
    expect(deals[1].name).toBe('N'.repeat(5_000));
    const concise = await run('list_deals', { limit: 100 }, oversized);
    const second = (concise.structuredContent as { deals: Array<{ name: string }> }).deals[1].name;
    expect(second).toBe(`${'N'.repeat(2_000)}…[cut: 5,000 characters in all]`);
    expect(text(concise)).toContain(`${'N'.repeat(2_000)}…[cut: 5,000 characters in all]`);
    expect(Buffer.byteLength(JSON.stringify(r.structuredContent))).toBeLessThanOrEqual(OUTPUT_CAP);
  });

  it('a page of records that fills the cap leaves room for the list around them and its cursor', async () => {
    // Records of every size near the cap: some count of them lands just under 25,000 characters, and
    // the wrapper (head line, cursor sentence, next_cursor) must still fit beside them.
    for (let size = 200; size <= 330; size += 3) {
      const deal = (i: number) => ({
        id: String(i),
        name: `${i} ${'x'.repeat(size)}`,
        status: 'open' as const,
        pipeline: { id: '1', name: 'Sales' },
        stage: { id: '2', name: 'Proposal' },
      });
      const filled: CrmProvider = {
        ...local,
        deals: { async list() { return { items: Array.from({ length: 100 }, (_, i) => deal(i + 1)), next_cursor: 'n'.repeat(1_400) }; } },
      };
      for (const response_format of ['concise', 'detailed']) {
        const r = await run('list_deals', { limit: 100, response_format }, filled);
        expect(r.isError, `${size} ${response_format}: ${text(r).slice(0, 200)}`).toBeUndefined();
        expect(Buffer.byteLength(JSON.stringify(text(r)))).toBeLessThanOrEqual(OUTPUT_CAP);
        expect(Buffer.byteLength(JSON.stringify(r.structuredContent))).toBeLessThanOrEqual(OUTPUT_CAP + 200);
        expect((r.structuredContent as { next_cursor: string | null }).next_cursor).toBeTruthy();
      }
    }
  });

  it('update_deal reads back a 20 MB title: the answer is cut, the write stands', async () => {
    const r = await run('update_deal', { deal_id: '2', amount: 1234 }, oversized);
    expect(r.isError).toBeUndefined();
    expect(text(r)).toContain(cut20mb);
    expect((r.structuredContent as { deal: { amount: number } }).deal.amount).toBe(1234);
    expect(wire(r)).toBeLessThan(2 * OUTPUT_CAP);
  });

  it('get_project with a 1 MB description: cut at 10,000 characters in detailed answers', async () => {
    const r = await run('get_project', { project_id: '1', response_format: 'detailed' }, oversized);
    expect(r.isError).toBeUndefined();
    const p = (r.structuredContent as { project: { description: string } }).project;
    expect(p.description).toBe(`${'D'.repeat(10_000)}…[cut: 1,048,576 characters in all]`);
    expect(text(r)).toContain('…[cut: 1,048,576 characters in all]');
  });

  it('a record too large even cut (thousands of raw fields) loses its raw record, then is refused with a way out', async () => {
    const fields = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`field_${i}`, i]));
    const raw: CrmProvider = {
      ...local,
      deals: { ...local.deals, get: async (id, o) => ({ ...(await local.deals!.get!(id, o)), remote_data: fields }) },
    };
    const withRaw = await run('get_deal', { deal_id: '1', include_remote_data: true, response_format: 'detailed' }, raw);
    expect(withRaw.isError).toBeUndefined();
    expect((withRaw.structuredContent as { deal: { remote_data: unknown } }).deal.remote_data).toMatch(
      /^\[cut: the raw CRM record is [\d,]+ bytes as JSON, too large for one answer\]$/,
    );
    const many: CrmProvider = {
      ...local,
      deals: { ...local.deals, get: async (id, o) => ({ ...(await local.deals!.get!(id, o)), ...fields }) },
    };
    const refused = await run('get_deal', { deal_id: '1', response_format: 'detailed' }, many);
    expect(refused.isError).toBe(true);
    expect(text(refused)).toBe(
      'Deal 1 is too large for one answer (more than 25,000 characters even with long fields cut); ask for less: response_format concise.',
    );
  });
});

describe('free-form objects are bounded in depth and size (defect 7)', () => {
  const nested = (depth: number): Record<string, unknown> => {
    let v: Record<string, unknown> = { leaf: 1 };
    for (let i = 1; i < depth; i++) v = { a: v };
    return v;
  };

  it('custom_fields nested 5,000 deep is refused with a sentence, not a crash', async () => {
    const r = await run('create_project', { name: 'Deep', custom_fields: nested(5_000) });
    expect(r.isError).toBe(true);
    expect(text(r)).toBe(
      'Invalid arguments for create_project: more than 2,000 values in all (list items and object fields); send only what the call needs.',
    );
  });

  it('six levels are refused, five pass; too many values and too much JSON are refused', async () => {
    const six = await run('create_project', { name: 'Deep', custom_fields: nested(6), dry_run: true });
    expect(text(six)).toMatch(/^Invalid arguments for create_project: `custom_fields` is nested more than 5 levels deep;/);
    const five = await run('update_project', { project_id: '1', custom_fields: nested(5), dry_run: true });
    expect(five.isError, text(five)).toBeUndefined();
    const wide = Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`f${i}`, i]));
    expect(text(await run('create_project', { name: 'Wide', remote_data: wide }))).toMatch(
      /`remote_data` holds more than 200 values in all; send only the fields to set\.$/,
    );
    const big = await run('create_project', { name: 'Big', custom_fields: { note: 'n'.repeat(20_001) } });
    expect(text(big)).toBe(
      'Invalid arguments for create_project: `custom_fields` is 20,012 characters as JSON, more than 20,000; send only the fields to set.',
    );
  });

  it('the largest valid call passes the bound on values in all', async () => {
    const refs = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1 }));
    const fields = (p: string) => Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`${p}${i}`, i]));
    const r = await run('create_project', {
      name: 'Everything',
      contact: refs(100),
      opportunity: refs(100),
      tags: refs(100),
      custom_fields: fields('c'),
      remote_data: fields('r'),
      dry_run: true,
    });
    // The local CRM takes no remote_data: refused by its capabilities, not by the argument bounds.
    expect(text(r)).toMatch(/^the local CRM does not support `remote_data`/i);
  });

  it('remote_query is bounded the same way', async () => {
    const r = await run('list_projects', { remote_query: nested(6) });
    expect(text(r)).toMatch(/`remote_query` is nested more than 5 levels deep/);
  });
});

describe('dates are calendar dates, checked before anything is sent (defect 12)', () => {
  it('isCalendarDate', () => {
    for (const d of ['2024-02-29', '2000-02-29', '2026-12-31', '2026-01-01']) expect(isCalendarDate(d), d).toBe(true);
    for (const d of ['2026-02-30', '2025-02-29', '1900-02-29', '2026-13-01', '2026-00-10', '2026-04-31', '2026-1-01', ' 2026-01-01', '2026-01-01T00:00:00Z'])
      expect(isCalendarDate(d), d).toBe(false);
  });

  it('every date argument of every tool refuses 2026-02-30', async () => {
    const sent: string[] = [];
    const spy: CrmProvider = {
      ...local,
      deals: { ...local.deals, create: async (...a) => (sent.push('deal'), local.deals!.create!(...a)) },
    };
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['create_deal', { name: 'D', stage_id: '1', close_date: '2026-02-30' }, 'close_date'],
      ['update_deal', { deal_id: '1', close_date: '2026-02-30' }, 'close_date'],
      ['create_project', { name: 'P', close_date: '2026-02-30' }, 'close_date'],
      ['update_project', { project_id: '1', close_date: '2026-02-30' }, 'close_date'],
      ['pipeline_conversion_stats', { pipeline_id: '1', start_date: '2026-02-30', end_date: '2026-03-31' }, 'start_date'],
      ['pipeline_movement_stats', { pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-02-30' }, 'end_date'],
    ];
    for (const [name, args, field] of cases) {
      const r = await run(name, args, spy);
      expect(text(r), name).toBe(`Invalid arguments for ${name}: \`${field}\` must be a calendar date written YYYY-MM-DD, e.g. 2026-03-31.`);
    }
    expect(sent).toEqual([]);
    expect((await run('create_deal', { name: 'Leap', stage_id: '1', close_date: '2028-02-29', dry_run: true })).isError).toBeUndefined();
  });
});

describe('ids may be whole numbers (defect 13)', () => {
  it('"deal_id": 5 reads deal "5"; nested {id: 7} references too', async () => {
    const r = await run('get_deal', { deal_id: 5 });
    expect(r.isError, text(r)).toBeUndefined();
    expect((r.structuredContent as { deal: { id: string } }).deal.id).toBe('5');
    const moved = await run('list_deals', { stage_id: 2, limit: 5 });
    expect((moved.structuredContent as { deals: Array<{ stage: { id: string } }> }).deals.every((d) => d.stage.id === '2')).toBe(true);
    const dry = await run('create_project', { name: 'Numbers', owner: { id: 1 }, contact: [{ id: 2 }, { id: '3' }], dry_run: true });
    expect(dry.isError, text(dry)).toBeUndefined();
    expect(JSON.stringify(dry.structuredContent)).not.toMatch(/"id":\d/);
  });

  it('negative, fractional and unsafe numbers, booleans and empty text are refused, saying what an id is', async () => {
    for (const bad of [-1, 1.5, 2 ** 60, true, '']) {
      const r = await run('get_deal', { deal_id: bad });
      expect(r.isError).toBe(true);
      expect(text(r), String(bad)).toMatch(/^Invalid arguments for get_deal: `deal_id` must (be an id: text, or a whole number of 0 or more \(got .+\)|not be empty)\.$/);
    }
  });

  it('create_deal requires stage_id in its schema, and a missing one says where to find stages', async () => {
    const schema = compactJsonSchema(tool('create_deal').inputSchema, 'input') as { required: string[] };
    expect(schema.required).toContain('stage_id');
    const r = await run('create_deal', { name: 'No stage', pipeline_id: '1' });
    expect(text(r)).toBe(
      "Invalid arguments for create_deal: `stage_id` is required: the stage the deal starts in; get_pipeline lists a pipeline's stages with their ids.",
    );
    // update_deal still takes it optional.
    expect((compactJsonSchema(tool('update_deal').inputSchema, 'input') as { required: string[] }).required).toEqual(['deal_id']);
  });

  it('every input and output schema is valid JSON Schema 2020-12; ids are advertised as text (integers are accepted besides)', () => {
    // The SDK's own 2020-12 engine (ajv is bundled inside the SDK, not a dependency of ours).
    const ajv = (new AjvJsonSchemaValidator() as unknown as { ajv: { validateSchema(s: unknown): boolean; errors?: unknown } }).ajv;
    let ids = 0;
    for (const t of ALL_TOOLS) {
      for (const [io, listed] of [['input', t.listed.input], ['output', t.listed.output], ['input', t.listedWithRemoteQuery]] as const) {
        if (!listed) continue;
        const schema = listed['~standard'].jsonSchema[io]({ target: 'draft-2020-12' });
        expect(ajv.validateSchema(schema), `${t.name} ${io}: ${JSON.stringify(ajv.errors)}`).toBe(true);
      }
      const props = (t.listed.input['~standard'].jsonSchema.input({ target: 'draft-2020-12' }).properties ?? {}) as Record<string, { type?: unknown }>;
      for (const [name, p] of Object.entries(props)) {
        if (!name.endsWith('_id')) continue;
        expect(p.type, `${t.name}.${name}`).toBe('string');
        ids++;
      }
    }
    expect(ids).toBeGreaterThan(30);
  });
});
