/**
 * manifest.json (the Claude Desktop extension) and server.json (the MCP Registry entry) are
 * generated from the server's own definitions by `npm run manifest`; these tests fail when the
 * committed files fall out of step, when the manifest breaks MCPB's schema, or when server.json
 * breaks the registry's published schema. That schema is not copied into this repository (it is
 * public material, which the project does not commit): the check reads it from
 * CRM_MCP_REGISTRY_SCHEMA or ../shared/specs/mcp-registry/server.schema.json and is skipped, saying
 * so, where neither exists; the registry's main rules are also checked here without it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getMcpConfigForManifest, MANIFEST_SCHEMAS } from '@anthropic-ai/mcpb/node';
import { Ajv } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { buildManifest, buildServerJson, json, mcpbReleaseUrl, ROOT, SETTINGS, withMcpb } from '../../scripts/manifest.js';
import { ConfigError, HELP, loadConfig, PROVIDERS } from '../../src/config.js';
import { ALL_TOOLS } from '../../src/tools/index.js';

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const manifest = JSON.parse(read('manifest.json'));
const server = JSON.parse(read('server.json'));
const pkg = JSON.parse(read('package.json'));

/** The registry's published server.json schema (https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json). */
const REGISTRY_SCHEMA = [process.env.CRM_MCP_REGISTRY_SCHEMA, join(ROOT, '..', 'shared', 'specs', 'mcp-registry', 'server.schema.json')].find(
  (p): p is string => Boolean(p && existsSync(p)),
);
if (!REGISTRY_SCHEMA) console.warn("Skipping the registry-schema checks of server.json: set CRM_MCP_REGISTRY_SCHEMA to the registry's server.schema.json.");

function registryValidator(path: string) {
  const ajv = new Ajv({ allErrors: true });
  ajv.addKeyword('example'); // the registry's schema documents fields with it
  const addFormats = (ajvFormats as unknown as { default: (a: Ajv) => void }).default;
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(path, 'utf8')));
}

/** The env a client hands the server, resolved from the manifest by MCPB's own resolver. */
async function resolvedEnv(userConfig: Record<string, string | number | boolean>): Promise<Record<string, string>> {
  const config = await getMcpConfigForManifest({
    manifest,
    extensionPath: '/ext',
    systemDirs: { HOME: '/home/u' },
    userConfig,
    pathSeparator: '/',
  });
  if (!config) throw new Error('MCPB resolved no mcp_config');
  return config.env ?? {};
}

describe('manifest.json (Claude Desktop extension)', () => {
  it('is what npm run manifest generates (run it after changing tools, settings or the version)', () => {
    expect(read('manifest.json')).toBe(json(buildManifest()));
    expect(manifest.version).toBe(pkg.version);
  });

  it("passes MCPB's schema for its manifest_version", () => {
    const schema = MANIFEST_SCHEMAS[manifest.manifest_version as keyof typeof MANIFEST_SCHEMAS];
    expect(schema, `mcpb knows no manifest_version ${manifest.manifest_version}`).toBeDefined();
    const parsed = schema.safeParse(manifest);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
  });

  it('lists every tool of the server with its description, and nothing else', () => {
    expect(manifest.tools).toEqual(ALL_TOOLS.map((t) => ({ name: t.name, description: t.description })));
    expect(manifest.tools_generated).toBe(false);
  });

  it('runs the bundled entry point with node, no native module needed', () => {
    expect(manifest.server.type).toBe('node');
    expect(manifest.server.entry_point).toBe('dist/cli.js');
    expect(manifest.server.mcp_config.args).toEqual(['${__dirname}/dist/cli.js']);
    expect(manifest.compatibility.runtimes.node).toBe('>=22.13.0');
  });

  it('asks for the provider and each provider setting, secrets masked, each mapped to an env var crm-mcp reads', () => {
    const env = manifest.server.mcp_config.env as Record<string, string>;
    for (const [name, template] of Object.entries(env)) {
      expect(HELP, `${name} is not an env var crm-mcp documents`).toContain(name);
      const key = /^\$\{user_config\.(\w+)\}$/.exec(template)?.[1];
      expect(key && manifest.user_config[key], `${name} maps to no user_config`).toBeTruthy();
    }
    for (const [key, option] of Object.entries(manifest.user_config as Record<string, { sensitive?: boolean; required?: boolean }>)) {
      const setting = SETTINGS.find((s) => s.key === key)!;
      expect(Boolean(option.sensitive), `${key} masking`).toBe(/TOKEN|SECRET|PASSWORD|KEY/.test(setting.env));
      expect(option.required).toBe(false); // every setting has a working default or a clear error
    }
    expect(env.CRM_PROVIDER).toBe('${user_config.provider}');
    for (const p of PROVIDERS) expect(manifest.user_config.provider.description).toContain(p);
    for (const name of ['CRM_MCP_DB', 'PIPEDRIVE_API_TOKEN', 'PIPEDRIVE_BASE_URL', 'TRUTO_API_TOKEN', 'TRUTO_INTEGRATED_ACCOUNT_ID', 'CRM_MCP_READ_ONLY', 'CRM_MCP_TOOLSETS']) {
      expect(Object.keys(env)).toContain(name);
    }
  });

  it('serves the local demo CRM when the user sets nothing (unset settings arrive as templates)', async () => {
    const env = await resolvedEnv({});
    // MCPB's resolver leaves an optional setting without a value as its literal template.
    expect(env.CRM_MCP_DB).toBe('${user_config.database}');
    expect(env.CRM_PROVIDER).toBe('local');
    const config = loadConfig([], env, '/work');
    expect(config.connections).toEqual([{ name: 'local', provider: 'local', db: expect.stringMatching(/\.crm-mcp[/\\]crm\.db$/) }]);
    expect(config.readOnly).toBe(false);
    expect(config.toolsets).toBeNull();
  });

  it('takes what the user set, and treats a setting left empty as unset', async () => {
    const env = await resolvedEnv({ database: '/data/crm.db', read_only: true, toolsets: 'deals,stats', pipedrive_base_url: '' });
    const config = loadConfig([], env, '/work');
    expect(config.connections[0]).toMatchObject({ provider: 'local', db: '/data/crm.db' });
    expect(config.readOnly).toBe(true);
    expect([...config.toolsets!]).toEqual(['deals', 'stats']);
  });

  it('names the missing token in one sentence when pipedrive is chosen without one, echoing no template', async () => {
    const unset: Record<string, string>[] = [{ provider: 'pipedrive' }, { provider: 'pipedrive', pipedrive_api_token: '' }];
    for (const userConfig of unset) {
      const env = await resolvedEnv(userConfig);
      expect(() => loadConfig([], env, '/work')).toThrow(ConfigError);
      expect(() => loadConfig([], env, '/work')).toThrow(/^PIPEDRIVE_API_TOKEN is not set; it is needed for CRM_PROVIDER=pipedrive\.$/);
    }
    const env = await resolvedEnv({ provider: 'pipedrive', pipedrive_api_token: 'tok-123' });
    expect(loadConfig([], env, '/work').connections[0]).toMatchObject({ provider: 'pipedrive', apiToken: 'tok-123' });
  });
});

describe('server.json (MCP Registry)', () => {
  it('is what npm run manifest generates', () => {
    expect(read('server.json')).toBe(json(buildServerJson()));
  });

  it('names the npm package with the mcpName the registry checks, at this version', () => {
    expect(server.name).toBe(pkg.mcpName);
    expect(server.version).toBe(pkg.version);
    expect(server.packages).toHaveLength(1);
    expect(server.packages[0]).toMatchObject({ registryType: 'npm', identifier: pkg.name, version: pkg.version, transport: { type: 'stdio' } });
    const secrets = server.packages[0].environmentVariables.filter((v: { isSecret?: boolean }) => v.isSecret).map((v: { name: string }) => v.name);
    expect(secrets).toEqual(['PIPEDRIVE_API_TOKEN', 'TRUTO_API_TOKEN', 'OUTREACH_ACCESS_TOKEN', 'OUTREACH_CLIENT_SECRET', 'OUTREACH_REFRESH_TOKEN', 'CAPSULE_API_TOKEN', 'INSIGHTLY_API_KEY']);
  });

  it("keeps the registry's main rules: reverse-DNS name, a description of at most 100 characters, the 2025-12-11 schema", () => {
    expect(server.$schema).toBe('https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json');
    expect(server.name).toMatch(/^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/);
    expect(server.description.length).toBeLessThanOrEqual(100);
    for (const v of server.packages[0].environmentVariables) expect(v.name).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  it('with the release bundle added, points at the release with its SHA-256', () => {
    const sha = 'a'.repeat(64);
    const release = withMcpb(server, sha) as { packages: Record<string, unknown>[] };
    expect(release.packages[1]).toMatchObject({
      registryType: 'mcpb',
      identifier: mcpbReleaseUrl(pkg.version),
      fileSha256: sha,
    });
    expect(mcpbReleaseUrl('1.2.3')).toBe('https://github.com/crm-mcp/crm-mcp/releases/download/v1.2.3/crm-mcp.mcpb');
  });

  describe.skipIf(!REGISTRY_SCHEMA)(`against the registry's published schema${REGISTRY_SCHEMA ? '' : ' [skipped: CRM_MCP_REGISTRY_SCHEMA not set]'}`, () => {
    const validate = REGISTRY_SCHEMA ? registryValidator(REGISTRY_SCHEMA) : () => false;
    const errors = () => JSON.stringify((validate as { errors?: unknown }).errors);

    it('passes it, with and without the release bundle', () => {
      expect(validate(server), errors()).toBe(true);
      expect(validate(withMcpb(server, 'a'.repeat(64))), errors()).toBe(true);
    });

    it('has teeth: a too-long description and a bad hash are refused', () => {
      expect(validate({ ...server, description: 'x'.repeat(101) })).toBe(false);
      expect(validate(withMcpb(server, 'not-a-sha'))).toBe(false);
    });
  });
});
