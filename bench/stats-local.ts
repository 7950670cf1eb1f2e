/**
 * In-process timing of the local provider's pipeline statistics as one pipeline grows (not part of
 * `npm run bench`): a seeded temp database, then deals created in pipeline 1 (a 'created' event
 * each, as create_deal writes them) in steps; median ms per call of movement and conversion
 * statistics over the last 30 days (the soak's period), beside the implementation they replaced
 * (test/helpers/stats-reference.ts) when `--reference` is given. Run: node --import tsx bench/stats-local.ts [--steps 0,5000,10000] [--reference]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLocalProvider } from '../src/providers/local/index.js';
import { openDatabase, type Db } from '../src/providers/local/client.js';
import { conversionStats, movementStats } from '../src/providers/local/stats.js';
import type { StatsQuery } from '../src/crm/provider.js';

type Fn = (db: Db, q: StatsQuery) => unknown;

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const steps = (arg('--steps') ?? '0,5000,10000').split(',').map(Number);
const withReference = process.argv.includes('--reference');

/** Median and minimum ms per call (the minimum is the least disturbed by a busy machine). */
function time(fn: () => unknown, budgetMs = 1500, max = 200): { median: number; min: number } {
  for (let i = 0; i < 3; i++) fn();
  const xs: number[] = [];
  const until = performance.now() + budgetMs;
  while (xs.length < 5 || (xs.length < max && performance.now() < until)) {
    const t = performance.now();
    fn();
    xs.push(performance.now() - t);
  }
  xs.sort((a, b) => a - b);
  return { median: xs[Math.floor(xs.length / 2)], min: xs[0] };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'crm-mcp-stats-'));
  try {
    const path = join(dir, 'stats.db');
    await createLocalProvider({ path }).close();
    const db = openDatabase(path);
    const fns: [string, Fn][] = [
      ['movement', (d, q) => movementStats(d, q)],
      ['conversion', conversionStats],
    ];
    if (withReference) {
      const ref = await import('../test/helpers/stats-reference.js');
      fns.push(['movement (reference)', (d, q) => ref.movementStats(d, q)], ['conversion (reference)', ref.conversionStats]);
    }
    const stage = (db.prepare('SELECT id FROM stages WHERE pipeline_id = 1 ORDER BY position, id LIMIT 1').get() as { id: number }).id;
    const today = new Date().toISOString().slice(0, 10);
    const monthAgo = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
    const q: StatsQuery = { pipeline_id: '1', start_date: monthAgo, end_date: today };
    const insertDeal = db.prepare(
      `INSERT INTO deals (name, stage_id, amount, currency, stage_changed_at, created_at, updated_at) VALUES (?, ?, ?, 'USD', ?, ?, ?)`,
    );
    const insertEvent = db.prepare("INSERT INTO deal_events (deal_id, at, kind, to_stage_id) VALUES (?, ?, 'created', ?)");
    let added = 0;
    console.log(`node ${process.version}, driver ${db.driver}; period ${monthAgo}..${today}; median (min) ms per call`);
    for (const target of steps) {
      db.immediate(() => {
        for (; added < target; added++) {
          const at = new Date().toISOString();
          const id = Number(insertDeal.run(`Bench ${added}`, stage, added, at, at, at).lastInsertRowid);
          insertEvent.run(id, at, stage);
        }
      });
      const row = fns
        .map(([name, fn]) => {
          const t = time(() => fn(db, q));
          return `${name} ${t.median.toFixed(2)} (min ${t.min.toFixed(2)})`;
        })
        .join(' | ');
      console.log(`+${String(target).padStart(6)} deals: ${row}`);
    }
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
