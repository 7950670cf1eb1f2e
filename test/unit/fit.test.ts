/**
 * The list flow measures each record once and records the answer's wire sizes from the sums, so
 * the tool wrapper's guard does not measure the whole answer again. These sizes must be exactly
 * what measuring the answer gives (else the guard could let an oversize answer through), and the
 * cut must fall where measuring record by record puts it: whole records only, at the byte.
 */
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/crm/model.js';
import { decodeCursor, filterFingerprint } from '../../src/crm/paginate.js';
import type { Page } from '../../src/crm/provider.js';
import { listFlow, type ToolCall, type ToolOutput } from '../../src/tools/define.js';
import { cutStrings, fits, FIELD_LIMIT, OUTPUT_CAP, sizesOf, textWireSize, wireSize } from '../../src/tools/fit.js';

type Rec = { id: string; name: string; note?: string };

/** What the records of one list answer may take (define.ts: the cap less room for a cursor and sentences). */
const BUDGET = OUTPUT_CAP - (LIMITS.cursor + 1_000);

const call = (limit: number, detailed = false) =>
  ({ name: 'list_things', connection: 'test', detailed, args: { limit }, options: {} }) as unknown as ToolCall<{ limit: number; cursor?: string }>;

async function list(records: Rec[], opts: { limit?: number; detailed?: boolean; incomplete?: string; more?: boolean } = {}) {
  return listFlow(call(opts.limit ?? 100, opts.detailed), {
    key: 'things',
    filters: {},
    fetch: async (): Promise<Page<Rec>> => ({
      items: records,
      next_cursor: opts.more ? 'native-next' : null,
      ...(opts.incomplete ? { incomplete: opts.incomplete } : {}),
    }),
    line: (r, detailed) => `${r.name} (${r.id})${detailed && r.note ? ` · ${r.note}` : ''}`,
    shape: (r, detailed) => (detailed ? r : { id: r.id, name: r.name }),
  });
}

/** The sizes a fresh measurement gives: a copy of the answer has none recorded. */
const measuredAfresh = (out: ToolOutput) => ({ text: wireSize(out.text), structured: wireSize(out.structured) });

const expectExactSizes = (out: ToolOutput) => {
  expect(sizesOf(out)).toEqual(measuredAfresh(out));
  expect(sizesOf({ ...out })).toEqual(measuredAfresh(out));
};

const things = (out: ToolOutput) => out.structured.things as Rec[];

describe('textWireSize', () => {
  it('is wireSize for every kind of character JSON escapes or encodes in several bytes', () => {
    const samples = [
      '',
      'plain ascii',
      'a · b — c “quoted”',
      'emoji 😀 and 𝄞',
      'lone high \ud83d end',
      'lone low \ude00 start',
      '\ud83d',
      'quote " backslash \\ slash /',
      'controls \u0000\u0001\u001f tab\t cr\r lf\n',
      'del \u007f, line separators \u2028\u2029, bom \ufeff',
      'Ünïcödé ÀÉÎ 日本語 עברית',
    ];
    for (const s of samples) expect(textWireSize(s), JSON.stringify(s)).toBe(wireSize(s));
    // Every BMP code unit, alone and inside text.
    for (let c = 0; c < 0x10000; c += 1) {
      const s = String.fromCharCode(c);
      expect(textWireSize(s)).toBe(wireSize(s));
      expect(textWireSize(`x${s}y`)).toBe(wireSize(`x${s}y`));
    }
  });
});

describe('list answers carry their exact wire sizes', () => {
  it('for empty lists, one record, many, with a cursor, an incomplete note and multi-byte text', async () => {
    const names = ['Acme', 'Ünïcode · deal', 'emoji 😀', 'quote " and \\', 'two\nlines\r\n here', 'lone \ud83d', '\u2028sep'];
    const records = names.map((name, i) => ({ id: String(i + 1), name, note: `note ${name}` }));
    for (const detailed of [false, true]) {
      expectExactSizes(await list([], { detailed }));
      expectExactSizes(await list(records.slice(0, 1), { detailed }));
      expectExactSizes(await list(records, { detailed }));
      expectExactSizes(await list(records, { detailed, more: true, incomplete: 'Only 2 of 3 “types” were read.' }));
      expectExactSizes(await list(records, { detailed, limit: 3 }));
    }
  });

  it('records with fields over FIELD_LIMIT are measured as cut', async () => {
    const out = await list([{ id: '1', name: `${'é'.repeat(FIELD_LIMIT.concise + 5)}` }]);
    expect(things(out)[0].name).toMatch(/…\[cut: 2,005 characters in all\]$/);
    expectExactSizes(out);
  });

  it('a first record too large even cut is fitted, and measured as fitted', async () => {
    // 10,000 characters of 3 bytes each are over the cap: the record is cut to 500 characters.
    const out = await list([{ id: '1', name: 'big', note: '日'.repeat(20_000) }, { id: '2', name: 'small' }], { detailed: true });
    expect(things(out)[0].note).toBe(`${'日'.repeat(500)}…[cut: 20,000 characters in all]`);
    expect(things(out)).toHaveLength(2);
    expectExactSizes(out);
  });
});

describe('the cut falls where the bytes say, multi-byte characters included', () => {
  // Records whose structured JSON is exactly `bytes` long; their lines are shorter.
  const padded = (id: number, bytes: number, char: string): Rec => {
    const base = wireSize({ id: String(id), name: '' });
    const charBytes = Buffer.byteLength(char);
    const n = Math.floor((bytes - base) / charBytes);
    const rest = bytes - base - n * charBytes;
    return { id: String(id), name: char.repeat(n) + 'a'.repeat(rest) };
  };

  for (const char of ['a', '·', '日', '😀']) {
    it(`records of "${char}" filling the budget exactly, and one byte over`, async () => {
      // Records of ~1,700 bytes (under FIELD_LIMIT characters), the last sized so their JSON in the
      // list, commas between them, is exactly the budget.
      const size = 1_700;
      const records = Array.from({ length: 20 }, (_, i) => padded(i + 1, size, char));
      const inList = (rs: Rec[]) => rs.reduce((s, r) => s + wireSize(r) + 1, 0) - 1;
      const fitting = Math.floor(BUDGET / (size + 1));
      const exact = records.slice(0, fitting);
      exact.push(padded(fitting + 1, BUDGET - inList(exact) - 1, char));
      expect(inList(exact)).toBe(BUDGET);
      expect(fitting).toBeLessThan(records.length);

      const atCap = await list(exact, { detailed: true });
      expect(things(atCap)).toEqual(exact);
      expect(atCap.structured.next_cursor).toBeNull();
      expectExactSizes(atCap);
      expect(fits(atCap)).toBe(true);

      const over = exact.slice(0, -1).concat(padded(fitting + 1, BUDGET - inList(exact.slice(0, -1)), char));
      expect(inList(over)).toBe(BUDGET + 1);
      const cut = await list(over, { detailed: true });
      expect(things(cut)).toEqual(over.slice(0, -1));
      // The cursor resumes at the first record left out.
      const fingerprint = filterFingerprint('list_things:test', { remote_query: undefined });
      expect(decodeCursor(cut.structured.next_cursor as string, fingerprint).skip).toBe(over.length - 1);
      expectExactSizes(cut);
    });
  }
});

describe('cutStrings', () => {
  it('cuts long strings and keys at any depth, shares what it does not cut, and keeps holes', () => {
    const long = 'é'.repeat(30);
    // eslint-disable-next-line no-sparse-arrays
    const value = { a: ['x', , long], b: { [long]: 1, c: 'short' }, d: 'short' };
    const cut = cutStrings(value, 10) as unknown as { a: unknown[]; b: Record<string, unknown>; d: string };
    expect(cut).not.toBe(value);
    expect(cut.a).toHaveLength(3);
    expect(1 in cut.a).toBe(false);
    expect(cut.a[2]).toBe(`${'é'.repeat(10)}…[cut: 30 characters in all]`);
    expect(Object.keys(cut.b)).toEqual(['c', `${'é'.repeat(10)}…[cut: 30 characters in all]`]);
    const same = { a: ['x', 'y'], b: { c: 'z' } };
    expect(cutStrings(same, 10)).toBe(same);
  });
});
