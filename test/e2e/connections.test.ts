/**
 * End-to-end with several named connections from a --config JSON file: the built binary over
 * stdio with a local (SQLite demo) connection and a Pipedrive connection (the fake on 127.0.0.1,
 * token by env var name). list_connections shows both; `connection` routes each call; an unknown
 * name is an error listing the configured ones; a config file holding a literal secret is refused
 * at start-up without echoing it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_TOKEN, startFakePipedrive, type FakePipedrive } from '../fakes/pipedrive.js';
import { fails, ok, recordLines, recordResults, type S } from '../helpers/mcp.js';
import { isolatedDbPath, runCli, startStdio, stopAll, tempDir, type StdioServer } from '../helpers/server.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const TOKEN = DEFAULT_TOKEN;

let fake: FakePipedrive;
beforeAll(async () => {
  fake = await startFakePipedrive();
});
afterAll(async () => {
  await stopAll();
  await fake?.stop();
});

const mark = () => fake.server.requests.length;
const since = (m: number) => fake.server.requests.slice(m);

function writeConfig(config: unknown): string {
  const path = join(tempDir(), 'crm-mcp.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

// =============================================================================================

describe('--config with a local and a pipedrive connection', () => {
  let srv: StdioServer;
  let outputs: string[];

  beforeAll(async () => {
    const config = writeConfig({
      default: 'demo',
      connections: {
        demo: { provider: 'local', db: 'demo.db' },
        pd: { provider: 'pipedrive', base_url: fake.url, api_token_env: 'E2E_PIPEDRIVE_TOKEN' },
      },
    });
    srv = await startStdio({
      db: isolatedDbPath(),
      args: ['--config', config],
      env: { E2E_PIPEDRIVE_TOKEN: TOKEN },
      logLevel: 'debug',
    });
    outputs = recordResults(srv.client);
  });
  afterAll(async () => srv?.close());

  it('list_connections shows both, with providers, the default and what each supports', async () => {
    const m = mark();
    const { s, text } = await ok(srv.client, 'list_connections');
    const byName = Object.fromEntries((s.connections as S[]).map((c) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(['demo', 'pd']);
    expect(byName.demo).toMatchObject({ provider: 'local', default: true });
    expect(byName.pd).toMatchObject({ provider: 'pipedrive', default: false });
    // The local CRM does everything; Pipedrive has no projects, cannot delete deals and searches four types.
    expect(byName.demo.supports).toMatchObject({
      pipelines: ['list', 'get', 'create', 'update', 'delete'],
      stages: ['list', 'get', 'create', 'update', 'delete'],
      projects: ['list', 'get', 'create', 'update', 'delete'],
      stats: ['conversion', 'movement'],
    });
    expect(byName.pd.supports).toEqual({
      pipelines: ['list', 'get', 'create', 'update', 'delete'],
      stages: ['list', 'get', 'create', 'update', 'delete'],
      deals: ['list', 'get', 'create', 'update'],
      accounts: ['list', 'get', 'create', 'update'],
      contacts: ['list', 'get', 'create', 'update'],
      users: ['list', 'get'],
      activities: ['list', 'get', 'create', 'update'],
      stats: ['conversion', 'movement'],
      search: ['deals', 'accounts', 'contacts', 'users'],
    });
    expect(text).toContain('demo (default): local');
    expect(text).toMatch(/^- pd: pipedrive · /m);
    expect(since(m)).toHaveLength(0);
  });

  it('without `connection` a call goes to the default (local demo CRM); nothing reaches Pipedrive', async () => {
    const m = mark();
    const { s } = await ok(srv.client, 'list_pipelines');
    expect(s.pipelines.map((p: S) => p.name)).toEqual(expect.arrayContaining(['Sales', 'Partnerships', 'Renewals']));
    const explicit = await ok(srv.client, 'list_pipelines', { connection: 'demo' });
    expect(explicit.s).toEqual(s);
    expect(since(m)).toHaveLength(0);
  });

  it("`connection: 'pd'` routes to Pipedrive: its pipelines and stages, not the demo's", async () => {
    const m = mark();
    const { s, text } = await ok(srv.client, 'list_pipelines', { connection: 'pd' });
    expect(s.pipelines).toEqual([
      { id: '1', name: 'Sales' },
      { id: '2', name: 'Partnerships' },
    ]);
    expect(recordLines(text)).toEqual(['- Sales (1)', '- Partnerships (2)']);
    expect(since(m).map((r) => r.path)).toContain('/api/v2/pipelines');

    // Both CRMs have a "Sales" pipeline; their stages tell them apart.
    const demoSales = (await ok(srv.client, 'list_pipelines', { connection: 'demo' })).s.pipelines.find((p: S) => p.name === 'Sales');
    const local = await ok(srv.client, 'get_pipeline', { pipeline_id: demoSales.id });
    const remote = await ok(srv.client, 'get_pipeline', { pipeline_id: '1', connection: 'pd' });
    expect(local.s.pipeline.stages.map((st: S) => st.name)).toContain('Lead In');
    expect(remote.s.pipeline.stages.map((st: S) => st.name)).toEqual([
      'Qualified',
      'Contact Made',
      'Demo Scheduled',
      'Proposal Made',
      'Negotiations Started',
    ]);
  });

  it('each connection answers with its own capabilities', async () => {
    const m = mark();
    const projects = await ok(srv.client, 'list_projects', { connection: 'demo', limit: 3 });
    expect(projects.s.projects.length).toBeGreaterThan(0);
    const refused = await fails(srv.client, 'list_projects', { connection: 'pd' });
    expect(refused).toContain('Pipedrive does not support listing projects');
    expect(since(m)).toHaveLength(0);

    const dryLocal = await ok(srv.client, 'create_pipeline', { name: 'Routed', dry_run: true });
    const dryRemote = await ok(srv.client, 'create_pipeline', { name: 'Routed', dry_run: true, connection: 'pd' });
    expect(dryRemote.s.dry_run).toEqual({ method: 'POST', path: '/api/v2/pipelines', body: { name: 'Routed' } });
    expect(dryLocal.s.dry_run.path).not.toBe('/api/v2/pipelines');
    expect(since(m)).toHaveLength(0);
  });

  it('an unknown connection name is an error listing the configured ones', async () => {
    const m = mark();
    for (const tool of ['list_pipelines', 'get_deal', 'pipeline_conversion_stats']) {
      const args: Record<string, unknown> = { connection: 'hubspot' };
      if (tool === 'get_deal') args.deal_id = '1';
      if (tool === 'pipeline_conversion_stats') Object.assign(args, { pipeline_id: '1', start_date: '2026-01-01', end_date: '2026-02-01' });
      const err = await fails(srv.client, tool, args);
      expect(err, tool).toContain("No connection named 'hubspot'");
      expect(err, tool).toContain('Configured connections: demo, pd');
      expect(err, tool).toContain('list_connections');
    }
    expect(since(m)).toHaveLength(0);
  });

  it('the Pipedrive token never appears in outputs or logs', () => {
    expect(outputs.length).toBeGreaterThan(8);
    for (const o of outputs) expect(o).not.toContain(TOKEN);
    expect(srv.stderr()).toContain('upstream request');
    expect(srv.stderr()).not.toContain(TOKEN);
  });
});

// =============================================================================================

describe('--config refusals at start-up', () => {
  const SECRET = 'pd-literal-secret-9f8e7d6c5b4a';

  it('a literal api_token in the file: exit non-zero, say why, never echo the secret', async () => {
    const config = writeConfig({
      connections: {
        demo: { provider: 'local', db: ':memory:' },
        pd: { provider: 'pipedrive', base_url: fake.url, api_token: SECRET },
      },
    });
    const res = await runCli(['--config', config, '--db', isolatedDbPath()]);
    expect(res.timedOut).toBe(false);
    expect(res.code).not.toBe(0);
    expect(res.code).not.toBeNull();
    expect(res.stderr).toContain("connection 'pd' has 'api_token'");
    expect(res.stderr).toContain('api_token_env');
    expect(res.stderr).not.toContain(SECRET);
    expect(res.stdout).not.toContain(SECRET);
  });

  it('api_token_env naming an unset variable: exit non-zero naming the variable', async () => {
    const config = writeConfig({
      connections: { pd: { provider: 'pipedrive', base_url: fake.url, api_token_env: 'E2E_UNSET_TOKEN_VAR' } },
    });
    const res = await runCli(['--config', config, '--db', isolatedDbPath()]);
    expect(res.timedOut).toBe(false);
    expect(res.code).not.toBe(0);
    expect(res.code).not.toBeNull();
    expect(res.stderr).toContain('E2E_UNSET_TOKEN_VAR');
  });
});
