/**
 * (insightly) The Insightly provider against the fake Insightly (test/fakes/insightly.ts) at 20 ms
 * injected latency, measured like Pipedrive by bench/lib/upstream.ts: get_pipeline, list_stages,
 * list_deals and list_projects at limit 100; p50/p95, upstream requests and sequential round trips
 * per call, overhead over a bare GET, text bytes per deal. Calls are paced under the provider's
 * limiter (10 requests a second, Insightly's documented limit).
 */
import { join } from 'node:path';
import { ROOT } from './lib/procs.js';
import { upstreamBench, type FakeLike, type UpstreamResult } from './lib/upstream.js';

export const INSIGHTLY_FAKE_PATH = join(ROOT, 'test', 'fakes', 'insightly.ts');

export async function insightlyBench(latencyMs = 20, warmup = 5, count = 50): Promise<UpstreamResult | { skipped: string }> {
  const mod = (await import('../test/fakes/insightly.js')) as {
    startFakeInsightly(opts: { latencyMs?: number }): Promise<FakeLike>;
    FAKE_INSIGHTLY_KEY: string;
  };
  const key = mod.FAKE_INSIGHTLY_KEY;
  return upstreamBench(
    {
      label: 'Insightly',
      fakePath: INSIGHTLY_FAKE_PATH,
      start: (ms) => mod.startFakeInsightly({ latencyMs: ms }),
      env: (url) => ({ CRM_PROVIDER: 'insightly', INSIGHTLY_API_KEY: key, INSIGHTLY_BASE_URL: url }),
      headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`, accept: 'application/json' },
      barePath: '/v3.1/Pipelines/1',
      limiter: { requests: 10, windowMs: 1_000 },
      plan: (pipelineId) => [
        { tool: 'get_pipeline', label: `pipeline_id ${pipelineId}`, args: { pipeline_id: pipelineId } },
        { tool: 'list_stages', label: 'defaults', args: {} },
        { tool: 'list_deals', label: 'limit 100', args: { limit: 100 } },
        { tool: 'list_projects', label: 'limit 100', args: { limit: 100 } },
      ],
      recordTool: 'list_deals',
    },
    latencyMs,
    warmup,
    count,
  );
}
