/**
 * (outreach) The Outreach provider against the fake Outreach (test/fakes/outreach.ts) at 20 ms of
 * injected latency, measured like Pipedrive by bench/lib/upstream.ts: get_pipeline opportunities
 * (opportunity stages with open deals summed per stage; after the first call the stage list is
 * known for a minute, so stages and deals go out together), list_stages (both pipelines),
 * list_deals limit 100 (stage, owner and account included in the one request); and the records
 * around a deal: list_activities on a deal (its tasks and calls read together and merged),
 * list_accounts limit 100, search across deals, accounts, contacts and users (one request per type,
 * together; users from the user list). Outreach allows 10,000 requests an hour, so no measured
 * call waits for crm-mcp's pacing.
 */
import { join } from 'node:path';
import { ROOT } from './lib/procs.js';
import { upstreamBench, type FakeLike, type UpstreamResult } from './lib/upstream.js';

export const OUTREACH_FAKE_PATH = join(ROOT, 'test', 'fakes', 'outreach.ts');

export async function outreachBench(latencyMs = 20, warmup = 5, count = 50): Promise<UpstreamResult | { skipped: string }> {
  const mod = (await import('../test/fakes/outreach.js')) as {
    startFakeOutreach(opts: { latencyMs?: number }): Promise<FakeLike>;
    FAKE_OUTREACH_TOKEN: string;
  };
  const token = mod.FAKE_OUTREACH_TOKEN;
  return upstreamBench(
    {
      label: 'Outreach',
      fakePath: OUTREACH_FAKE_PATH,
      start: (ms) => mod.startFakeOutreach({ latencyMs: ms }),
      env: (url) => ({ CRM_PROVIDER: 'outreach', OUTREACH_ACCESS_TOKEN: token, OUTREACH_BASE_URL: url }),
      headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.api+json', 'content-type': 'application/vnd.api+json' },
      barePath: '/api/v2/opportunityStages/1',
      limiter: { requests: 10_000, windowMs: 3_600_000 },
      plan: () => [
        { tool: 'get_pipeline', label: 'pipeline_id opportunities', args: { pipeline_id: 'opportunities' } },
        { tool: 'list_stages', label: 'defaults (both pipelines)', args: {} },
        { tool: 'list_deals', label: 'limit 100', args: { limit: 100 } },
        { tool: 'list_activities', label: 'deal_id 1 (tasks and calls merged)', args: { deal_id: '1', limit: 50 } },
        { tool: 'list_accounts', label: 'limit 100', args: { limit: 100 } },
        { tool: 'search', label: "query 'acme' (4 types)", args: { query: 'acme' } },
      ],
      recordTool: 'list_deals',
    },
    latencyMs,
    warmup,
    count,
  );
}
