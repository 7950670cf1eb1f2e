/**
 * (capsule) The Capsule provider against the fake Capsule (test/fakes/capsule.ts) with injected
 * upstream latency, measured like Pipedrive by bench/lib/upstream.ts: get_pipeline (the pipeline,
 * its milestones and its open deals, a search, sent together), list_stages (one pipeline's
 * milestones; every pipeline's and every board's stages), list_deals at limit 100; p50/p95,
 * upstream requests and round trips per call, overhead over a bare GET, text bytes per deal.
 *
 * Capsule allows 4,000 requests an hour per user; crm-mcp's limiter starts with the hour's budget,
 * so no measured call waits for it.
 */
import { join } from 'node:path';
import { ROOT } from './lib/procs.js';
import { upstreamBench, type FakeLike, type UpstreamResult } from './lib/upstream.js';

export const CAPSULE_FAKE_PATH = join(ROOT, 'test', 'fakes', 'capsule.ts');

export async function capsuleBench(latencyMs = 20, warmup = 5, count = 50): Promise<UpstreamResult | { skipped: string }> {
  const mod = (await import('../test/fakes/capsule.js')) as {
    startFakeCapsule(opts: { latencyMs?: number }): Promise<FakeLike>;
    CAPSULE_TOKEN: string;
  };
  return upstreamBench(
    {
      label: 'Capsule',
      fakePath: CAPSULE_FAKE_PATH,
      start: (ms) => mod.startFakeCapsule({ latencyMs: ms }),
      env: (url) => ({ CRM_PROVIDER: 'capsule', CAPSULE_API_TOKEN: mod.CAPSULE_TOKEN, CAPSULE_BASE_URL: url }),
      headers: { authorization: `Bearer ${mod.CAPSULE_TOKEN}` },
      barePath: '/api/v2/pipelines/1',
      limiter: { requests: 4000, windowMs: 3_600_000 },
      // Open deals are read 100 a page (Capsule's largest) and each page names the next: a pipeline
      // with up to 100 open deals is one round trip, one with more takes a round trip per 100.
      // The fake's pipeline 2 has 50 open deals, pipeline 1 has 120. list_stages for one pipeline is
      // one listing; for the whole account, the pipelines first, then their milestones.
      plan: () => [
        { tool: 'get_pipeline', label: 'pipeline_id 2 (50 open)', args: { pipeline_id: '2' } },
        { tool: 'get_pipeline', label: 'pipeline_id 1 (120 open)', args: { pipeline_id: '1' } },
        { tool: 'list_stages', label: 'pipeline_id 1', args: { pipeline_id: '1' } },
        { tool: 'list_stages', label: 'defaults', args: {} },
        { tool: 'list_deals', label: 'limit 100', args: { limit: 100 } },
      ],
      recordTool: 'list_deals',
    },
    latencyMs,
    warmup,
    count,
  );
}
