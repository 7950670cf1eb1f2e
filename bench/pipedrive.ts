/**
 * (f) The Pipedrive provider against the fake Pipedrive (test/fakes/pipedrive.ts) with injected
 * upstream latency: tool latency over stdio, upstream requests per call, sequential upstream round
 * trips ("waves") per call, and overhead over a bare undici GET to the same fake (lib/remote.ts).
 *
 * The provider's client-side limiter allows 20 requests per rolling 2 s (Pipedrive's default burst
 * limit). Latency calls are paced so the limiter never queues them: this measures the server's own
 * overhead. A short unpaced burst is measured separately to show what the limiter does.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { call, type RecordSizeRow } from './local.js';
import { Deadline, ROOT, onCleanup, sleep } from './lib/procs.js';
import { firstId, measureRemote, type FakeLike, type RemoteToolRow } from './lib/remote.js';
import { summarize, type Summary } from './lib/stats.js';

export const FAKE_PATH = join(ROOT, 'test', 'fakes', 'pipedrive.ts');

const BURST = 20;
const WINDOW_MS = 2000;

export type PdToolRow = RemoteToolRow;

export interface PipedriveResult {
  latencyMs: number;
  warmup: number;
  bareGet: Summary;
  rows: PdToolRow[];
  textPerDeal: RecordSizeRow[];
  unpaced: { tool: string; calls: number; seconds: number; callsPerSecond: number; latency: Summary; requests: number };
}

export async function pipedriveBench(latencyMs = 20, warmup = 5, count = 50): Promise<PipedriveResult | { skipped: string }> {
  if (!existsSync(FAKE_PATH)) return { skipped: `${FAKE_PATH} does not exist yet` };
  const mod = (await import('../test/fakes/pipedrive.js')) as {
    startFakePipedrive(opts: { latencyMs?: number }): Promise<FakeLike>;
    DEFAULT_TOKEN?: string;
  };
  const token = mod.DEFAULT_TOKEN ?? 'pd_jK10LfqJctw9di9gfaVVoi1LHvlNNfoEqWKKD11J';
  const fake = await mod.startFakePipedrive({ latencyMs });
  const removeFake = onCleanup(() => fake.stop());
  let pipelineId = '';
  try {
    const m = await measureRemote({
      fake,
      env: { CRM_PROVIDER: 'pipedrive', PIPEDRIVE_API_TOKEN: token, PIPEDRIVE_BASE_URL: fake.url },
      headers: { 'x-api-token': token },
      bareGetPath: '/api/v2/pipelines/1',
      latencyMs,
      warmup,
      count,
      async plan(session) {
        pipelineId = await firstId(session, 'list_pipelines', 'pipelines');
        return [
          { tool: 'get_pipeline', label: `pipeline_id ${pipelineId}`, args: { pipeline_id: pipelineId } },
          { tool: 'list_stages', label: 'defaults', args: {} },
          { tool: 'list_deals', label: 'limit 100', args: { limit: 100 } },
        ];
      },
      // Pacing: never let the provider's limiter queue a measured call.
      async pace(arrivals, perCallMax) {
        for (let guard = 0; guard < 200; guard++) {
          const now = performance.now();
          const inWindow = arrivals.filter((t) => t > now - WINDOW_MS);
          if (inWindow.length <= BURST - perCallMax - 2) return;
          await sleep(Math.max(5, inWindow[0] + WINDOW_MS - now + 5));
        }
      },
    });
    try {
      // Unpaced: back-to-back get_pipeline, as an agent in a tight loop would; the limiter shows.
      await sleep(WINDOW_MS + 100);
      const reqs = fake.server.requests;
      const unpacedSamples: number[] = [];
      const u0 = performance.now();
      const before = reqs.length;
      const uDeadline = new Deadline(15_000);
      for (let i = 0; i < 20 && !uDeadline.passed; i++) {
        const t0 = performance.now();
        await call(m.session.client, 'get_pipeline', { pipeline_id: pipelineId });
        unpacedSamples.push(performance.now() - t0);
      }
      const uWall = (performance.now() - u0) / 1000;
      return {
        latencyMs,
        warmup,
        bareGet: m.bareGet,
        rows: m.rows,
        textPerDeal: m.textPerDeal,
        unpaced: {
          tool: 'get_pipeline',
          calls: unpacedSamples.length,
          seconds: uWall,
          callsPerSecond: unpacedSamples.length / uWall,
          latency: summarize(unpacedSamples),
          requests: reqs.length - before,
        },
      };
    } finally {
      await m.session.close();
    }
  } finally {
    await fake.stop();
    removeFake();
  }
}
