/**
 * (i) The Insightly provider against the fake Insightly (test/fakes/insightly.ts) at 20 ms
 * injected latency, measured as Pipedrive is (bench/pipedrive.ts remoteProviderBench):
 * get_pipeline, list_stages, list_deals and list_projects at limit 100; p50/p95, upstream requests
 * and sequential round trips per call, overhead over a bare GET, text bytes per record. Calls are
 * paced under the provider's limiter (10 requests a second, Insightly's documented limit).
 */
import { join } from 'node:path';
import { ROOT } from './lib/procs.js';
import { remoteProviderBench, type FakeLike, type PipedriveResult } from './pipedrive.js';

const KEY = 'il7c1f3a9e-52d4-4b8e-a6f0-9dX2qLmV8nTz'; // test/fakes/insightly.ts FAKE_INSIGHTLY_KEY

export function insightlyBench(latencyMs = 20, warmup = 5, count = 50): Promise<PipedriveResult | { skipped: string }> {
  return remoteProviderBench(
    {
      label: 'Insightly',
      fakePath: join(ROOT, 'test', 'fakes', 'insightly.ts'),
      async startFake(latency) {
        const mod = (await import('../test/fakes/insightly.js')) as { startFakeInsightly(opts: { latencyMs?: number }): Promise<FakeLike> };
        return mod.startFakeInsightly({ latencyMs: latency });
      },
      env: (url) => ({ CRM_PROVIDER: 'insightly', INSIGHTLY_API_KEY: KEY, INSIGHTLY_BASE_URL: url }),
      bareHeaders: { authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}`, accept: 'application/json' },
      barePath: '/v3.1/Pipelines/1',
      burst: 10,
      windowMs: 1000,
      listTools: ['list_deals', 'list_projects'],
    },
    latencyMs,
    warmup,
    count,
  );
}
