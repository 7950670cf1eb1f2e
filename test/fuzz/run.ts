/**
 * `npm run fuzz`: the long fuzz run (see harness.ts). Prints the counts of every problem; exits 1
 * when any is not zero.
 *
 *   npm run fuzz                                     # 10,000 calls on the local CRM, seed 1
 *   npm run fuzz -- --calls 25000 --seed 7           # more, another seed
 *   npm run fuzz -- --target local,pipedrive         # also against the fake Pipedrive
 *   node --import tsx test/fuzz/run.ts --cli /other/dist/cli.js   # another build (before/after)
 *   (or FUZZ_CALLS, FUZZ_SEED, FUZZ_TARGET; FUZZ_DEBUG=1 prints every isError sentence)
 */
import { parseArgs } from 'node:util';
import { formatReport, fuzz, PROBLEMS, type Target } from './harness.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: process.env.FUZZ_CALLS ?? '10000' },
    seed: { type: 'string', default: process.env.FUZZ_SEED ?? '1' },
    target: { type: 'string', default: process.env.FUZZ_TARGET ?? 'local' },
    cli: { type: 'string' },
  },
});
const calls = Number(values.calls);
const seed = Number(values.seed);
const targets = values.target.split(',').map((t) => t.trim()) as Target[];
if (!Number.isInteger(calls) || calls < 1 || !Number.isInteger(seed) || targets.some((t) => t !== 'local' && t !== 'pipedrive' && t !== 'capsule')) {
  console.error('usage: npm run fuzz -- [--calls N] [--seed N] [--target local,pipedrive,capsule]');
  process.exit(2);
}

let failed = false;
for (const target of targets) {
  console.log(`fuzzing ${target}: ${calls.toLocaleString('en-US')} calls, seed ${seed}`);
  const report = await fuzz({
    target,
    calls,
    seed,
    cli: values.cli,
    every: 1_000,
    progress: (r) => console.log(`  ${r.calls.toLocaleString('en-US')} calls, ${(r.durationMs / 1000).toFixed(0)} s, problems ${PROBLEMS.reduce((n, p) => n + r[p], 0)}`),
  });
  console.log(formatReport(report));
  for (const p of PROBLEMS) for (const e of report.examples[p] ?? []) console.log(`  [${p}] ${e}`);
  failed ||= PROBLEMS.some((p) => report[p] > 0);
}
process.exit(failed ? 1 : 0);
