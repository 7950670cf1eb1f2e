/**
 * Representative upstream faults through the built binary (`node dist/cli.js` over stdio, the real
 * MCP client) against the fake CRMs: transient faults recovered, a token echoed in error bodies or
 * carried in the base URL never shown (fragments included), a 20 MB record refused in a sentence,
 * organizations the token may not read shown as ids, a looping cursor reported as an incomplete
 * listing, and the process answering after all of it. The bulk of the fault matrix runs against
 * the provider objects in test/fault/faults.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakePipedrive, type FakePipedrive } from '../fakes/pipedrive.js';
import { FAKE_TRUTO_ACCOUNT, FAKE_TRUTO_TOKEN, startFakeTruto, type FakeTruto } from '../fakes/truto.js';
import { fails, ok, recordResults, textOf, call } from '../helpers/mcp.js';
import { leakedFragment } from '../helpers/secrets.js';
import { isolatedDbPath, runCli, startStdio, stopAll, type StdioServer } from '../helpers/server.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const TOKEN = 'pdTOK3N-9f8e7d6c5b4a3921-SECRET-a1b2c3d4e5f6';
const PATH_TOKEN = 'proxyTOK-0a1b2c3d4e5f6a7b8c9d';
const SECRETS = [TOKEN, PATH_TOKEN];

afterAll(async () => {
  await stopAll();
});

describe('pipedrive through the binary, behind a proxy whose path carries a token', () => {
  let fake: FakePipedrive;
  let srv: StdioServer;
  let outputs: string[];

  beforeAll(async () => {
    fake = await startFakePipedrive({ token: TOKEN, basePath: `/t/${PATH_TOKEN}` });
    srv = await startStdio({
      db: isolatedDbPath(),
      logLevel: 'debug',
      env: { CRM_PROVIDER: 'pipedrive', PIPEDRIVE_API_TOKEN: TOKEN, PIPEDRIVE_BASE_URL: fake.url },
    });
    outputs = recordResults(srv.client);
  });
  afterAll(async () => {
    await srv?.close();
    await fake?.stop();
  });

  const gets = (path: string) => fake.server.requests.filter((r) => r.method === 'GET' && r.path === path);

  it('recovers a read from a burst of 502s, a reset mid-body and malformed JSON', async () => {
    fake.server.reset();
    const match = (r: { path: string }) => r.path === '/api/v2/pipelines';
    fake.server.inject({ kind: 'status', status: 502, body: { success: false, error: 'Bad gateway' } }, { match });
    fake.server.inject({ kind: 'resetMidBody' }, { match });
    fake.server.inject({ kind: 'malformed' }, { match });
    const { s } = await ok(srv.client, 'list_pipelines', {});
    expect(s.pipelines).toHaveLength(2);
    expect(gets('/api/v2/pipelines').map((r) => r.fault?.kind ?? 'ok')).toEqual(['status', 'resetMidBody', 'malformed', 'ok']);
  });

  it('dry runs show the path under the base URL, never the proxy path with its token', async () => {
    const { s, text } = await ok(srv.client, 'create_deal', { name: 'Via proxy', stage_id: '1', dry_run: true });
    expect(s.dry_run).toMatchObject({ method: 'POST', path: '/api/v2/deals' });
    expect(text).toContain('Would send: POST /api/v2/deals ');
  });

  it('a token echoed in error bodies around the excerpt cut never comes back, on any error path', async () => {
    for (const offset of [280, 293, 299, 300, 301, 307, 320]) {
      const echo = `${'x'.repeat(offset - 7)} token ${TOKEN} at /t/${PATH_TOKEN}/api/v2 is refused.`;
      fake.server.reset();
      fake.server.inject({ kind: 'status', status: 400, body: { success: false, error: echo } }, { match: (r) => r.path === '/api/v2/stages' });
      await fails(srv.client, 'list_stages', { pipeline_id: '1' });
      fake.server.inject(
        { kind: 'status', status: 429, headers: { 'Retry-After': '120' }, body: { success: false, error: echo } },
        { match: (r) => r.path === '/api/v2/deals/4' },
      );
      expect(await fails(srv.client, 'get_deal', { deal_id: '4' })).toMatch(/rate limiting this token; retry in about 2 min/);
      fake.server.inject({ kind: 'status', status: 503, body: { success: false, error: echo } }, { match: (r) => r.method === 'POST' });
      expect(await fails(srv.client, 'create_deal', { name: `Echo ${offset}`, stage_id: '1' })).toContain('may or may not have happened');
    }
    for (const o of outputs) expect(leakedFragment(o, SECRETS)).toBeUndefined();
  });

  it('a deal with a 20 MB title is refused in one sentence instead of a 40 MB answer', async () => {
    fake.state.deals.get(5)!.title = 'T'.repeat(20 * 1024 * 1024);
    const res = await call(srv.client, 'get_deal', { deal_id: '5' });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toBe('Pipedrive answered with more than 8 MB; narrow the request (limit, filters).');
    expect(JSON.stringify(res).length).toBeLessThan(1_000);
    fake.state.deals.get(5)!.title = 'Back to normal';
  });

  it('organizations the token may not read show as ids; the deals still list', async () => {
    fake.server.reset();
    fake.server.inject(
      { kind: 'status', status: 403, body: { success: false, error: 'You have no permission to view organizations' } },
      { times: 100, match: (r) => r.path === '/api/v2/organizations' },
    );
    const { s } = await ok(srv.client, 'list_deals', { limit: 30, response_format: 'detailed' });
    const withAccount = (s.deals as Array<{ account?: { id: string; name?: string } }>).filter((d) => d.account);
    expect(withAccount.length).toBeGreaterThan(0);
    for (const d of withAccount) expect(d.account).toEqual({ id: expect.any(String) });
  });

  it('still answers after all of it, and nothing it said or logged holds a secret', async () => {
    fake.server.reset();
    await ok(srv.client, 'list_connections', {});
    const { s } = await ok(srv.client, 'get_pipeline', { pipeline_id: '1' });
    expect(s.pipeline.stages.length).toBeGreaterThan(0);
    for (const o of outputs) expect(leakedFragment(o, SECRETS)).toBeUndefined();
    const stderr = srv.stderr();
    expect(stderr).toContain('upstream request');
    expect(leakedFragment(stderr, SECRETS)).toBeUndefined();
  });
});

describe('a base URL with credentials in it', () => {
  it('is refused at start-up naming the setting, showing only scheme://host:port', async () => {
    for (const baseUrl of [`http://127.0.0.1:9/?api_token=${TOKEN}`, `http://crm:${TOKEN}@127.0.0.1:9/`]) {
      const run = await runCli([], { env: { CRM_PROVIDER: 'pipedrive', PIPEDRIVE_API_TOKEN: 'x'.repeat(20), PIPEDRIVE_BASE_URL: baseUrl } });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^crm-mcp: PIPEDRIVE_BASE_URL \(http:\/\/127\.0\.0\.1:9\/…\) must not/);
      expect(leakedFragment(run.stderr + run.stdout, [TOKEN])).toBeUndefined();
    }
  });
});

describe('truto through the binary', () => {
  let fake: FakeTruto;
  let srv: StdioServer;

  beforeAll(async () => {
    fake = await startFakeTruto();
    srv = await startStdio({
      db: isolatedDbPath(),
      env: {
        CRM_PROVIDER: 'truto',
        TRUTO_API_TOKEN: FAKE_TRUTO_TOKEN,
        TRUTO_INTEGRATED_ACCOUNT_ID: FAKE_TRUTO_ACCOUNT,
        TRUTO_BASE_URL: fake.url,
      },
    });
  });
  afterAll(async () => {
    await srv?.close();
    await fake?.stop();
  });

  it('list_stages never sends sort_by, and sorts by position itself', async () => {
    fake.state.records.stages = new Map([...fake.state.records.stages].reverse());
    const { s } = await ok(srv.client, 'list_stages', { pipeline_id: '1' });
    expect((s.stages as Array<{ position: number }>).map((x) => x.position)).toEqual([1, 2, 3, 4, 5]);
    const lists = fake.requestsFor('GET', 'stages');
    expect(lists.length).toBeGreaterThan(0);
    for (const r of lists) expect(r.query.sort_by).toBeUndefined();
  });

  it('a listing whose cursor repeats is cut short and the answer says it is incomplete', async () => {
    const model = fake.state.records.stages.get('11')!;
    for (let i = 0; i < 250; i++) fake.state.records.stages.set(`x${i}`, { ...structuredClone(model), id: `x${i}`, name: `Extra ${i}`, position: 10 + i });
    fake.state.loopCursor.add('stages');
    fake.server.reset();
    const { text } = await ok(srv.client, 'list_stages', { pipeline_id: '1', limit: 5 });
    expect(text).toContain('Truto gave the same page cursor twice while listing stages');
    expect(text).toContain('the listing is incomplete');
    expect(fake.requestsFor('GET', 'stages')).toHaveLength(2);
  });
});
