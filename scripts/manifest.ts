/**
 * Generates the two files that describe crm-mcp to installers, from the server's own definitions:
 * `manifest.json` (the Claude Desktop extension, MCPB) and `server.json` (the MCP Registry entry).
 * Tools come from ALL_TOOLS, providers from PROVIDERS, toolsets from TOOLSETS, versions from
 * package.json, so adding a tool or a provider is `npm run manifest` (a test fails until then).
 * The settings a user can give live once, in SETTINGS below, for both files.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PROVIDERS, TRUTO_INTEGRATIONS } from '../src/config.js';
import { ALL_TOOLS } from '../src/tools/index.js';
import { TOOLSETS } from '../src/tools/define.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  license: string;
  mcpName: string;
  homepage: string;
  repository: { url: string };
  bugs: { url: string };
  engines: { node: string };
};

/** The official MCPB CLI (the package's bin), to run with `node`. */
export const MCPB_CLI = join(dirname(createRequire(import.meta.url).resolve('@anthropic-ai/mcpb')), 'cli', 'cli.js');

export const PROJECT_URL = 'https://github.com/crm-mcp/crm-mcp';
/** Where a release's bundle is published; server.json points there with the bundle's SHA-256. */
export const mcpbReleaseUrl = (version: string) => `${PROJECT_URL}/releases/download/v${version}/crm-mcp.mcpb`;
/**
 * The bundle has no native module, so it runs only where Node has SQLite built in (node:sqlite,
 * unflagged from 22.13). Claude Desktop runs extensions on its own recent Node.
 */
export const MCPB_NODE = '>=22.13.0';

type Provider = (typeof PROVIDERS)[number];

export interface Setting {
  /** user_config key in the manifest. */
  key: string;
  /** The env var crm-mcp reads (see --help). */
  env: string;
  title: string;
  description: string;
  type: 'string' | 'boolean' | 'number';
  /** Only meaningful for this provider (shown in the title). */
  provider?: Provider;
  sensitive?: boolean;
  default?: string | boolean;
  min?: number;
  max?: number;
}

export const SETTINGS: readonly Setting[] = [
  {
    key: 'provider',
    env: 'CRM_PROVIDER',
    title: 'CRM provider',
    description: `Which CRM to serve: ${PROVIDERS.join(', ')}. local is an embedded SQLite CRM with demo data; the others need their settings below.`,
    type: 'string',
    default: 'local',
  },
  {
    key: 'database',
    env: 'CRM_MCP_DB',
    provider: 'local',
    title: 'Database file',
    description: 'SQLite file of the local CRM, created with demo data if missing. Empty: ~/.crm-mcp/crm.db.',
    type: 'string',
  },
  {
    key: 'pipedrive_api_token',
    env: 'PIPEDRIVE_API_TOKEN',
    provider: 'pipedrive',
    title: 'API token',
    description: 'Personal API token (Pipedrive: Settings > Personal preferences > API).',
    type: 'string',
    sensitive: true,
  },
  {
    key: 'pipedrive_base_url',
    env: 'PIPEDRIVE_BASE_URL',
    provider: 'pipedrive',
    title: 'Company URL',
    description: 'Your company root, e.g. https://acme.pipedrive.com. Empty: https://api.pipedrive.com.',
    type: 'string',
  },
  {
    key: 'pipedrive_burst_limit',
    env: 'PIPEDRIVE_BURST_LIMIT',
    provider: 'pipedrive',
    title: 'Requests per 2 seconds',
    description: "Your plan's limit: Lite 20 (default), Growth 40, Premium 100, Ultimate 120.",
    type: 'number',
    min: 1,
    max: 1000,
  },
  {
    key: 'truto_api_token',
    env: 'TRUTO_API_TOKEN',
    provider: 'truto',
    title: 'API token',
    description: 'Truto API token.',
    type: 'string',
    sensitive: true,
  },
  {
    key: 'truto_integrated_account_id',
    env: 'TRUTO_INTEGRATED_ACCOUNT_ID',
    provider: 'truto',
    title: 'Integrated account id',
    description: 'The integrated account (the connected CRM) to serve.',
    type: 'string',
  },
  {
    key: 'truto_integration',
    env: 'TRUTO_INTEGRATION',
    provider: 'truto',
    title: 'Integration',
    description: `The CRM behind the account, so project fields are checked before sending: ${TRUTO_INTEGRATIONS.join(', ')}. Empty: Truto decides.`,
    type: 'string',
  },
  {
    key: 'outreach_access_token',
    env: 'OUTREACH_ACCESS_TOKEN',
    provider: 'outreach',
    title: 'Access token',
    description: 'An OAuth access token. Optional with the client id, secret and refresh token below, which let crm-mcp get and renew one.',
    type: 'string',
    sensitive: true,
  },
  {
    key: 'outreach_client_id',
    env: 'OUTREACH_CLIENT_ID',
    provider: 'outreach',
    title: 'OAuth client id',
    description: 'Your Outreach app\'s client id, to renew access tokens.',
    type: 'string',
  },
  {
    key: 'outreach_client_secret',
    env: 'OUTREACH_CLIENT_SECRET',
    provider: 'outreach',
    title: 'OAuth client secret',
    description: 'Your Outreach app\'s client secret, to renew access tokens.',
    type: 'string',
    sensitive: true,
  },
  {
    key: 'outreach_refresh_token',
    env: 'OUTREACH_REFRESH_TOKEN',
    provider: 'outreach',
    title: 'Refresh token',
    description: 'A refresh token of your app. Outreach replaces it at each renewal; crm-mcp keeps the new one in memory only.',
    type: 'string',
    sensitive: true,
  },
  {
    key: 'outreach_redirect_uri',
    env: 'OUTREACH_REDIRECT_URI',
    provider: 'outreach',
    title: 'OAuth redirect URI',
    description: 'The redirect URI your app was authorized with, sent with each renewal.',
    type: 'string',
  },
  {
    key: 'outreach_base_url',
    env: 'OUTREACH_BASE_URL',
    provider: 'outreach',
    title: 'API URL',
    description: 'Empty: https://api.outreach.io/api/v2.',
    type: 'string',
  },
  {
    key: 'capsule_api_token',
    env: 'CAPSULE_API_TOKEN',
    provider: 'capsule',
    title: 'API token',
    description: 'Personal access token (Capsule: My Preferences > API Authentication Tokens).',
    type: 'string',
    sensitive: true,
  },
  {
    key: 'capsule_base_url',
    env: 'CAPSULE_BASE_URL',
    provider: 'capsule',
    title: 'API URL',
    description: 'Empty: https://api.capsulecrm.com/api/v2.',
    type: 'string',
  },
  {
    key: 'insightly_api_key',
    env: 'INSIGHTLY_API_KEY',
    provider: 'insightly',
    title: 'API key',
    description: 'Your API key (Insightly: User Settings > API).',
    type: 'string',
    sensitive: true,
  },
  {
    key: 'insightly_pod',
    env: 'INSIGHTLY_POD',
    provider: 'insightly',
    title: 'Pod',
    description: 'The pod of the API URL under your API key, e.g. na1 for https://api.na1.insightly.com/v3.1/.',
    type: 'string',
  },
  {
    key: 'insightly_base_url',
    env: 'INSIGHTLY_BASE_URL',
    provider: 'insightly',
    title: 'API URL',
    description: 'The API URL itself, instead of the pod (e.g. https://api.na1.insightly.com/v3.1).',
    type: 'string',
  },
  {
    key: 'read_only',
    env: 'CRM_MCP_READ_ONLY',
    title: 'Read-only',
    description: 'Offer only tools that change nothing.',
    type: 'boolean',
    default: false,
  },
  {
    key: 'toolsets',
    env: 'CRM_MCP_TOOLSETS',
    title: 'Toolsets',
    description: `Comma list of ${TOOLSETS.join(', ')} to offer (list_connections, list_users and search always). Empty: all.`,
    type: 'string',
  },
];

const PROVIDER_NAMES: Record<Provider, string> = { local: 'Local CRM', pipedrive: 'Pipedrive', truto: 'Truto', outreach: 'Outreach', capsule: 'Capsule', insightly: 'Insightly' };

/** Every provider but local needs settings; a new provider without any would be unusable. */
function checkSettings(): void {
  for (const p of PROVIDERS) {
    if (p !== 'local' && !SETTINGS.some((s) => s.provider === p)) {
      throw new Error(`provider '${p}' has no settings in scripts/manifest.ts SETTINGS: add its token and options.`);
    }
    if (!(p in PROVIDER_NAMES)) throw new Error(`provider '${p}' has no display name in scripts/manifest.ts PROVIDER_NAMES.`);
  }
}

/** The remote CRMs, as the descriptions name them: "Pipedrive, Truto or Capsule". */
const REMOTE = PROVIDERS.filter((p) => p !== 'local');
const REMOTE_LIST = REMOTE.map((p) => PROVIDER_NAMES[p]).join(', ').replace(/, ([^,]*)$/, ' or $1');

const DESCRIPTION =
  `CRM pipelines, deals, accounts, contacts, notes and tasks for Claude: a demo CRM built in, or your ${REMOTE_LIST} account.`;

export function buildManifest(): Record<string, unknown> {
  checkSettings();
  const userConfig = Object.fromEntries(
    SETTINGS.map((s) => [
      s.key,
      {
        type: s.type,
        title: s.provider ? `${PROVIDER_NAMES[s.provider]}: ${s.title}` : s.title,
        description: s.description,
        required: false,
        ...(s.sensitive ? { sensitive: true } : {}),
        ...(s.default !== undefined ? { default: s.default } : {}),
        ...(s.min !== undefined ? { min: s.min } : {}),
        ...(s.max !== undefined ? { max: s.max } : {}),
      },
    ]),
  );
  return {
    manifest_version: '0.3',
    name: pkg.name,
    display_name: 'CRM (crm-mcp)',
    version: pkg.version,
    description: DESCRIPTION,
    long_description:
      'Lets Claude read and change CRM pipelines, stages, deals, projects, accounts, contacts, notes and tasks ' +
      'through one typed model, and find any of them by name. ' +
      'Out of the box it serves an embedded SQLite CRM filled with demo data; ' +
      `set the provider to ${REMOTE.join(', ').replace(/, ([^,]*)$/, ' or $1')} and give the token in the settings to work on your own CRM. ` +
      'Writes can be previewed (dry_run), creates take an idempotency key, deletes need confirm: true, and ' +
      'the read-only setting offers only tools that change nothing.',
    author: { name: 'crm-mcp contributors', url: PROJECT_URL },
    repository: { type: 'git', url: `${PROJECT_URL}.git` },
    homepage: pkg.homepage,
    documentation: `${PROJECT_URL}#readme`,
    support: pkg.bugs.url,
    server: {
      type: 'node',
      entry_point: 'dist/cli.js',
      mcp_config: {
        command: 'node',
        args: ['${__dirname}/dist/cli.js'],
        env: Object.fromEntries(SETTINGS.map((s) => [s.env, `\${user_config.${s.key}}`])),
      },
    },
    tools: ALL_TOOLS.map((t) => ({ name: t.name, description: t.description })),
    tools_generated: false,
    // Prompts are served at run time (a manifest prompt needs its text inline).
    prompts_generated: true,
    keywords: ['crm', ...REMOTE, 'sales', 'pipeline', 'deals', 'projects', 'contacts', 'tasks', 'sqlite'],
    license: pkg.license,
    compatibility: { platforms: ['darwin', 'win32', 'linux'], runtimes: { node: MCPB_NODE } },
    user_config: userConfig,
  };
}

/** server.json as committed: the npm package. The release adds the .mcpb (see withMcpb). */
export function buildServerJson(): Record<string, unknown> {
  checkSettings();
  return {
    $schema: 'https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json',
    name: pkg.mcpName,
    title: 'CRM (crm-mcp)',
    description: 'CRM pipelines, deals, contacts, notes and tasks: a built-in demo CRM, or your own CRM',
    version: pkg.version,
    repository: { url: PROJECT_URL, source: 'github' },
    websiteUrl: pkg.homepage,
    packages: [
      {
        registryType: 'npm',
        registryBaseUrl: 'https://registry.npmjs.org',
        identifier: pkg.name,
        version: pkg.version,
        runtimeHint: 'npx',
        transport: { type: 'stdio' },
        environmentVariables: SETTINGS.map((s) => ({
          name: s.env,
          description: s.provider ? `${PROVIDER_NAMES[s.provider]}: ${s.description}` : s.description,
          format: s.type,
          isRequired: false,
          ...(s.sensitive ? { isSecret: true } : {}),
          ...(s.default !== undefined ? { default: String(s.default) } : {}),
          ...(s.key === 'provider' ? { choices: [...PROVIDERS] } : {}),
        })),
      },
    ],
  };
}

/** The release's server.json: the committed one plus the bundle at its release URL with its SHA-256. */
export function withMcpb(server: Record<string, unknown>, sha256: string): Record<string, unknown> {
  const npm = (server.packages as Record<string, unknown>[])[0];
  return {
    ...server,
    packages: [
      ...(server.packages as unknown[]),
      {
        registryType: 'mcpb',
        identifier: mcpbReleaseUrl(String(server.version)),
        version: server.version,
        fileSha256: sha256,
        transport: { type: 'stdio' },
        environmentVariables: npm.environmentVariables,
      },
    ],
  };
}

export const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(join(ROOT, 'manifest.json'), json(buildManifest()));
  writeFileSync(join(ROOT, 'server.json'), json(buildServerJson()));
  process.stdout.write(`manifest.json and server.json written (${ALL_TOOLS.length} tools, version ${pkg.version}).\n`);
}
