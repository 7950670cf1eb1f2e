import { describe, expect, it } from 'vitest';
import { LineGuard, type DroppedLine } from '../../src/transports/line-guard.js';

/** Feeds `input` in chunks of `size` bytes; returns what passed and what was dropped. */
async function through(input: string, max: number, size: number): Promise<{ out: string; dropped: DroppedLine[] }> {
  const dropped: DroppedLine[] = [];
  const guard = new LineGuard(max, (d) => dropped.push(d));
  const parts: Buffer[] = [];
  guard.on('data', (c: Buffer) => parts.push(c));
  const bytes = Buffer.from(input, 'utf8');
  for (let i = 0; i < bytes.length; i += size) guard.write(bytes.subarray(i, i + size));
  guard.end();
  await new Promise((r) => guard.on('end', r));
  return { out: Buffer.concat(parts).toString('utf8'), dropped };
}

describe('LineGuard', () => {
  const small = '{"jsonrpc":"2.0","id":1,"method":"ping"}\n';
  const big = (id: string, filler = 200) =>
    `{"method":"tools/call","params":{"arguments":{"id":"inner","s":"${'é'.repeat(filler)} \\" {\\"id\\": 5}"},"list":[{"id":3}]},"jsonrpc":"2.0","id":${id}}\n`;

  it.each([1, 3, 7, 64, 4096])('passes short lines whole and drops long ones by their top-level id (chunks of %i bytes)', async (size) => {
    const { out, dropped } = await through(small + big('42') + small + big('"req-\\u00e9"') + big('null') + small, 300, size);
    expect(out).toBe(small + small + small);
    expect(dropped.map((d) => d.id)).toEqual([42, 'req-é', null]);
    expect(dropped[0].bytes).toBe(Buffer.byteLength(big('42')) - 1);
  });

  it('keeps a line exactly at the limit, and a last line without a newline', async () => {
    const line = `{"id":1,"s":"${'a'.repeat(90)}"}`;
    const { out, dropped } = await through(`${line}\n${line}`, Buffer.byteLength(line), 5);
    expect(out).toBe(`${line}\n${line}`);
    expect(dropped).toEqual([]);
  });

  it('answers null for an id too long to echo, and for a message with no id', async () => {
    const { dropped } = await through(`{"id":"${'z'.repeat(500)}","x":"${'y'.repeat(500)}"}\n{"method":"n","x":"${'y'.repeat(500)}"}\n`, 100, 16);
    expect(dropped.map((d) => d.id)).toEqual([null, null]);
  });
});
