/**
 * What the README promises a new user, held true: the two fresh-clone commands (and that CI runs
 * exactly its test command), the Node versions CI tests, and the demo CRM's figures, compared with
 * what the built server serves from a freshly seeded database.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROVIDERS, loadConfig } from '../../src/config.js';
import { listAll, type S } from '../helpers/mcp.js';
import { ROOT, startStdio, stopAll } from '../helpers/server.js';

afterAll(stopAll);

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
const DAY = 86_400_000;

describe('README', () => {
  it('opens with the two fresh-clone commands: run the demo server, run the tests', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const commands = firstBlock.split('\n').filter(Boolean).map((l) => l.replace(/\s+#.*$/, '').trim());
    expect(commands).toEqual(['npm ci && npm start', 'npm test']);
    expect(readme.indexOf(firstBlock)).toBeLessThan(200);
  });

  it('its test command is exactly what .ci/run runs, on the Node versions the README names', () => {
    const runs = ci.split('\n').filter((l) => l.trim() === 'npm test');
    expect(runs).toHaveLength(2);
    expect(ci).toContain('node@24');
    const tested = /CI runs `npm test` on (.+)\./.exec(readme)?.[1];
    expect(tested).toMatch(/Node 20/);
    expect(tested).toMatch(/Node 24/);
  });

  it('its --config example is a file crm-mcp loads, every provider a named connection beside the local demo', () => {
    const example = /--config \.\/crm-mcp\.json`[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example, 'the README --config example is missing').toBeDefined();
    const parsed = JSON.parse(example!) as { connections: Record<string, Record<string, string>> };
    const envNames = Object.values(parsed.connections).flatMap((c) => Object.entries(c).filter(([k]) => k.endsWith('_env')).map(([, v]) => v));
    const file = join(mkdtempSync(join(tmpdir(), 'crm-mcp-readme-')), 'crm-mcp.json');
    writeFileSync(file, example!);
    const config = loadConfig(['--config', file], Object.fromEntries(envNames.map((n) => [n, `value-of-${n}`])), ROOT);
    const providers = new Set(config.connections.map((c) => c.provider));
    for (const p of PROVIDERS) expect(providers.has(p), `no ${p} connection in the README's --config example`).toBe(true);
  });

  it("states the demo CRM's true figures", async () => {
    const m =
      /demo CRM: (\d+) pipelines with (\d+) stages, (\d+) deals with (\d+) days of stage history, (\d+) projects, (\d+) accounts and (\d+) owners, (\d+) contacts, (\d+) notes and (\d+) tasks \((\d+) of them overdue on the first day\)/.exec(
        readme,
      );
    expect(m, 'the README demo figures sentence is missing or reworded').not.toBeNull();
    const [pipelines, stages, deals, days, projects, accounts, owners, contacts, notes, tasks, overdue] = m!.slice(1).map(Number);

    const server = await startStdio({ db: ':memory:' });
    try {
      const served = {
        pipelines: (await listAll(server.client, 'list_pipelines', 'pipelines')).items,
        stages: (await listAll(server.client, 'list_stages', 'stages')).items,
        deals: (await listAll(server.client, 'list_deals', 'deals', { response_format: 'detailed' })).items,
        projects: (await listAll(server.client, 'list_projects', 'projects', { response_format: 'detailed' })).items,
        contacts: (await listAll(server.client, 'list_contacts', 'contacts')).items,
        notes: (await listAll(server.client, 'list_activities', 'activities', { type: 'note' })).items,
        tasks: (await listAll(server.client, 'list_activities', 'activities', { type: 'task' })).items,
      };
      const distinct = (records: S[], key: string) => new Set(records.map((r) => r[key]?.id).filter(Boolean));
      const all = [...served.deals, ...served.projects];
      const oldest = Math.min(...served.deals.map((d) => Date.parse(d.created_at)));
      expect({
        pipelines: served.pipelines.length,
        stages: served.stages.length,
        deals: served.deals.length,
        days: Math.round((Date.now() - oldest) / DAY),
        projects: served.projects.length,
        accounts: distinct(all, 'account').size,
        owners: distinct(all, 'owner').size,
        contacts: served.contacts.length,
        notes: served.notes.length,
        tasks: served.tasks.length,
        overdue: served.tasks.filter((t) => t.overdue).length,
      }).toEqual({ pipelines, stages, deals, days, projects, accounts, owners, contacts, notes, tasks, overdue });
    } finally {
      await server.close();
    }
  });
});
