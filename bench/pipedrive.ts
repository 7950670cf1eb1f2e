/**
 * (f) The Pipedrive provider against the fake Pipedrive (test/fakes/pipedrive.ts) with injected
 * upstream latency, measured by bench/lib/upstream.ts: tool latency over stdio, upstream requests
 * and sequential round trips ("waves") per call, overhead over a bare undici GET to the same fake.
 *
 * The provider's client-side limiter allows 20 requests per rolling 2 s (Pipedrive's default burst
 * limit). Latency calls are paced so the limiter never queues them: this measures the server's own
 * overhead. A short unpaced burst is measured separately to show what the limiter does.
 */
import { join } from 'node:path';
import { ROOT } from './lib/procs.js';
import { upstreamBench, type FakeLike, type UpstreamResult, type UpstreamToolRow } from './lib/upstream.js';

export const FAKE_PATH = join(ROOT, 'test', 'fakes', 'pipedrive.ts');

export type PdToolRow = UpstreamToolRow;
export type PipedriveResult = UpstreamResult;

export async function pipedriveBench(latencyMs = 20, warmup = 5, count = 50): Promise<PipedriveResult | { skipped: string }> {
  const mod = (await import('../test/fakes/pipedrive.js')) as {
    startFakePipedrive(opts: { latencyMs?: number }): Promise<FakeLike>;
    DEFAULT_TOKEN?: string;
  };
  const token = mod.DEFAULT_TOKEN ?? 'pd_jK10LfqJctw9di9gfaVVoi1LHvlNNfoEqWKKD11J';
  return upstreamBench(
    {
      label: 'Pipedrive',
      fakePath: FAKE_PATH,
      start: (ms) => mod.startFakePipedrive({ latencyMs: ms }),
      env: (url) => ({ CRM_PROVIDER: 'pipedrive', PIPEDRIVE_API_TOKEN: token, PIPEDRIVE_BASE_URL: url }),
      headers: { 'x-api-token': token },
      barePath: '/api/v2/pipelines/1',
      limiter: { requests: 20, windowMs: 2000 },
      plan: (pipelineId) => [
        { tool: 'get_pipeline', label: `pipeline_id ${pipelineId}`, args: { pipeline_id: pipelineId } },
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
