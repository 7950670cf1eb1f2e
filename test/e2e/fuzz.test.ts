/**
 * The bounded fuzz run of `npm test` (issue 7): a few hundred seeded calls of every tool through
 * the real client against the built binary, on the local CRM and on the fake Pipedrive and Capsule. Every
 * problem count must be zero: no crash, no protocol error, no answer that is neither a result nor
 * an isError sentence, none over 100 KB, no stack trace or path, no output-schema violation, no
 * "failed unexpectedly", no stray stderr line. `npm run fuzz` runs the same harness for 10,000+.
 * FUZZ_SEED picks another seed (the failure message names the seed to replay).
 */
import { describe, expect, it } from 'vitest';
import { formatReport, fuzz, PROBLEMS, type Target } from '../fuzz/harness.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_301);

describe('fuzzing every tool through the real client', () => {
  for (const [target, calls] of [
    ['local', 400],
    ['pipedrive', 200],
    ['capsule', 200],
  ] as Array<[Target, number]>) {
    it(`${target}: ${calls} seeded calls, no problem of any kind`, { timeout: 180_000 }, async () => {
      const report = await fuzz({ target, calls, seed: SEED });
      const problems = Object.fromEntries(PROBLEMS.map((p) => [p, report[p]]));
      expect(problems, formatReport(report) + '\n' + JSON.stringify(report.examples, null, 1)).toEqual(
        Object.fromEntries(PROBLEMS.map((p) => [p, 0])),
      );
      // The run exercised both outcomes, so the zero counts mean something.
      expect(report.results).toBeGreaterThan(calls / 20);
      expect(report.errorSentences).toBeGreaterThan(calls / 4);
    });
  }
});
