/**
 * A separate OS process that hammers one local CRM file, for the two-process safety test.
 * Usage: node --import tsx local-writer.child.ts <db> <worker> <deals> <shared> <stages> [open-late]
 * Prints "ready", waits for "go" on stdin (so all workers start together), then prints one JSON
 * line: {errors, sharedIds}. With `open-late` the database is opened (and seeded if brand new)
 * only after "go", so several processes race to create the same file.
 */
import { createInterface } from 'node:readline';
import { createLocalProvider, type LocalProvider } from '../../src/providers/local/index.js';

const [path, worker, dealsArg, sharedArg, stagesArg, mode] = process.argv.slice(2);
const deals = Number(dealsArg);
const shared = Number(sharedArg);
const stages = Number(stagesArg);
const openLate = mode === 'open-late';

const open = () => createLocalProvider({ path, seed: openLate, now: () => new Date('2026-06-15T12:00:00.000Z') });
let provider: LocalProvider | undefined = openLate ? undefined : open();
const errors: string[] = [];
const sharedIds: string[] = [];

async function attempt<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    const err = e as { kind?: string; message?: string; code?: string };
    errors.push(`${err.kind ?? err.code ?? 'error'}: ${err.message}`);
    return undefined;
  }
}

async function work(): Promise<void> {
  if (!provider) {
    try {
      provider = open();
    } catch (e) {
      errors.push(`open: ${(e as Error).message}`);
      return;
    }
  }
  const p = provider;
  for (let i = 0; i < Math.max(deals, shared, stages); i++) {
    if (i < deals) {
      await attempt(async () => (await p.deals!.create!({ name: `w${worker}-${i}`, stage_id: '1' }, {})).execute());
    }
    if (i < shared) {
      // Every worker sends the same input under the same key: exactly one deal may result.
      const deal = await attempt(async () =>
        (await p.deals!.create!({ name: `shared-${i}`, stage_id: '1', amount: i }, { idempotency_key: `k-${i}` })).execute(),
      );
      if (deal) sharedIds.push(deal.id);
    }
    if (i < stages) {
      // Appending reads the stage count and inserts: a race here would duplicate positions.
      await attempt(async () => (await p.stages!.create!({ pipeline_id: '2', name: `w${worker}-s${i}` }, {})).execute());
    }
  }
}

process.stdout.write('ready\n');
const rl = createInterface({ input: process.stdin });
rl.once('line', () => {
  void work().then(async () => {
    process.stdout.write(`${JSON.stringify({ errors, sharedIds })}\n`);
    await provider?.close();
    rl.close();
  });
});
