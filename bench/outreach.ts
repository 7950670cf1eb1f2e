/**
 * (h) The Outreach provider against the fake Outreach (test/fakes/outreach.ts) at 20 ms of
 * injected latency, over stdio (lib/remote.ts): get_pipeline opportunities (stages with open deals
 * summed per stage), list_stages (both pipelines), list_deals limit 100. Outreach allows 10,000
 * requests an hour, so no call is ever held by crm-mcp's pacing here.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordSizeRow } from './local.js';
import { ROOT, onCleanup } from './lib/procs.js';
import { measureRemote, type FakeLike, type RemoteToolRow } from './lib/remote.js';
import type { Summary } from './lib/stats.js';

export const OUTREACH_FAKE_PATH = join(ROOT, 'test', 'fakes', 'outreach.ts');

export interface OutreachResult {
  latencyMs: number;
  warmup: number;
  bareGet: Summary;
  rows: RemoteToolRow[];
  textPerDeal: RecordSizeRow[];
}

export async function outreachBench(latencyMs = 20, warmup = 5, count = 50): Promise<OutreachResult | { skipped: string }> {
  if (!existsSync(OUTREACH_FAKE_PATH)) return { skipped: `${OUTREACH_FAKE_PATH} does not exist yet` };
  const mod = (await import('../test/fakes/outreach.js')) as {
    startFakeOutreach(opts: { latencyMs?: number }): Promise<FakeLike>;
    FAKE_OUTREACH_TOKEN: string;
  };
  const token = mod.FAKE_OUTREACH_TOKEN;
  const fake = await mod.startFakeOutreach({ latencyMs });
  const removeFake = onCleanup(() => fake.stop());
  try {
    const m = await measureRemote({
      fake,
      env: { CRM_PROVIDER: 'outreach', OUTREACH_ACCESS_TOKEN: token, OUTREACH_BASE_URL: fake.url },
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.api+json', accept: 'application/vnd.api+json' },
      bareGetPath: '/api/v2/opportunityStages/1',
      latencyMs,
      warmup,
      count,
      plan: async () => [
        { tool: 'get_pipeline', label: 'pipeline_id opportunities', args: { pipeline_id: 'opportunities' } },
        { tool: 'list_stages', label: 'defaults (both pipelines)', args: {} },
        { tool: 'list_deals', label: 'limit 100', args: { limit: 100 } },
      ],
    });
    await m.session.close();
    return { latencyMs, warmup, bareGet: m.bareGet, rows: m.rows, textPerDeal: m.textPerDeal };
  } finally {
    await fake.stop();
    removeFake();
  }
}
