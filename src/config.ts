/**
 * Configuration from flags, env vars and an optional JSON file of named connections. Every
 * failure names the bad setting; secret values are never echoed.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as z from 'zod';
import { isLogLevel, type LogLevel } from './log.js';
import { TOOLSETS, type Toolset } from './tools/toolsets.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const PROVIDERS = ['local', 'pipedrive', 'truto', 'outreach', 'capsule', 'insightly'] as const;
/** Named in DESIGN.md but not built yet: refused with a clear message instead of half-working. */
const PLANNED = ['pipeliner', 'planhat', 'teamleader'];
export const TRUTO_INTEGRATIONS = ['capsule', 'insightly', 'pipeliner', 'planhat', 'teamleader'] as const;
export type TrutoIntegration = (typeof TRUTO_INTEGRATIONS)[number];

export type ConnectionConfig =
  | { name: string; provider: 'local'; db: string }
  | { name: string; provider: 'pipedrive'; apiToken: string; baseUrl?: string; burstLimit?: number }
  | {
      name: string;
      provider: 'truto';
      apiToken: string;
      integratedAccountId: string;
      baseUrl?: string;
      integration?: TrutoIntegration;
    }
  | { name: string; provider: 'outreach'; accessToken?: string; oauth?: OutreachOAuth; baseUrl?: string }
  | { name: string; provider: 'capsule'; apiToken: string; baseUrl?: string }
  | { name: string; provider: 'insightly'; apiKey: string; pod?: string; baseUrl?: string };

/** What lets crm-mcp renew Outreach access tokens itself (the OAuth refresh grant). */
export interface OutreachOAuth {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  redirectUri?: string;
}

export interface Config {
  connections: ConnectionConfig[];
  defaultConnection: string;
  http: boolean;
  port: number;
  host: string;
  readOnly: boolean;
  toolsets: Set<Toolset> | null;
  authToken?: string;
  /** Extra Host names accepted over HTTP (comma list in CRM_MCP_ALLOWED_HOSTS). */
  allowedHosts: string[];
  logLevel: LogLevel;
  /** Where idempotency keys of CRMs without their own are kept: beside the local database. */
  idempotencyFile: string;
  /** Settings that work but deserve a word on stderr. */
  warnings: string[];
  help: boolean;
  version: boolean;
}

export const DEFAULT_DB = join(homedir(), '.crm-mcp', 'crm.db');

export const HELP = `crm-mcp — an MCP server for CRM pipelines, deals, accounts, contacts, notes and tasks

Usage: crm-mcp [options]

Serves stdio by default (for Claude Desktop, Claude Code and other MCP clients). With no
configuration it serves an embedded SQLite CRM with demo data at ${DEFAULT_DB}.

Options (env equivalent in brackets):
  --db <path>          SQLite file of the local CRM, created if new (another program's SQLite
                       file is refused unchanged); ":memory:" for a throwaway one [CRM_MCP_DB]
  --config <file>      JSON file of named connections (secrets by env var name) [CRM_MCP_CONFIG]
  --http               Serve Streamable HTTP at /mcp instead of stdio [CRM_MCP_HTTP=1]
  --port <n>           HTTP port, default 3333 [CRM_MCP_PORT]
  --host <addr>        HTTP bind address, default 127.0.0.1; any other address needs
                       CRM_MCP_AUTH_TOKEN [CRM_MCP_HOST]
  --read-only          Register only tools that change nothing [CRM_MCP_READ_ONLY=1]
  --toolsets <list>    Comma list of ${TOOLSETS.join(',')}
                       (list_connections, list_users and search are always on) [CRM_MCP_TOOLSETS]
  --log-level <level>  fatal, error, warn, info (default), debug, trace, silent; logs go to
                       stderr [CRM_MCP_LOG_LEVEL]
  -h, --help           Show this help
  -v, --version        Show the version

Other environment:
  CRM_MCP_AUTH_TOKEN   Bearer token every HTTP request must carry
  CRM_MCP_ALLOWED_HOSTS  Extra Host header names accepted over HTTP (comma list)
  CRM_PROVIDER         local (default), pipedrive, truto, outreach, capsule or insightly, for a single connection
  PIPEDRIVE_API_TOKEN, PIPEDRIVE_BASE_URL (company root, default https://api.pipedrive.com),
    PIPEDRIVE_BURST_LIMIT (requests per 2 s for your plan: Lite 20 default, Growth 40, Premium 100)
  TRUTO_API_TOKEN, TRUTO_INTEGRATED_ACCOUNT_ID, TRUTO_BASE_URL, TRUTO_INTEGRATION
    (capsule, insightly, pipeliner, planhat or teamleader; unset = let Truto decide)
  OUTREACH_ACCESS_TOKEN, OUTREACH_BASE_URL (default https://api.outreach.io/api/v2); to renew
    tokens: OUTREACH_CLIENT_ID, OUTREACH_CLIENT_SECRET, OUTREACH_REFRESH_TOKEN (not persisted:
    a refresh token Outreach replaces lives in memory only), OUTREACH_REDIRECT_URI
  CAPSULE_API_TOKEN, CAPSULE_BASE_URL (default https://api.capsulecrm.com/api/v2)
  INSIGHTLY_API_KEY, INSIGHTLY_POD (the pod of your API URL, e.g. na1 for
    https://api.na1.insightly.com/v3.1) or INSIGHTLY_BASE_URL (that URL)

Examples:
  npx crm-mcp
  crm-mcp --db ./crm.db --read-only --toolsets pipelines,stages
  CRM_PROVIDER=pipedrive PIPEDRIVE_API_TOKEN=... crm-mcp
  CRM_MCP_AUTH_TOKEN=... crm-mcp --http --port 3333
`;

type Env = Record<string, string | undefined>;

/**
 * A setting left empty in a Claude Desktop extension reaches us as '' or as its unreplaced template
 * (`${user_config.database}`, what MCPB's reference resolver leaves for an optional setting with no
 * value): both mean unset, never a value.
 */
const UNSET_TEMPLATE = /^\$\{user_config\.[^}]*\}$/;
const withoutUnset = (env: Env): Env =>
  Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '' && !UNSET_TEMPLATE.test(v)));

const truthy = (name: string, v: string | undefined): boolean | undefined => {
  if (v === undefined || v === '') return undefined;
  if (['1', 'true', 'yes', 'on'].includes(v.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(v.toLowerCase())) return false;
  throw new ConfigError(`${name} must be 1 or 0 (got '${v}').`);
};

function port(name: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) {
    throw new ConfigError(`${name} must be a port number from 0 (any free port) to 65535 (got '${v}').`);
  }
  return n;
}

function toolsets(name: string, v: string): Set<Toolset> {
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = items.filter((s) => !(TOOLSETS as readonly string[]).includes(s));
  if (bad.length || !items.length) {
    throw new ConfigError(
      `${name} takes a comma list of ${TOOLSETS.join(', ')} (got '${v}'${bad.length ? `; unknown: ${bad.join(', ')}` : ''}).`,
    );
  }
  return new Set(items as Toolset[]);
}

function required(env: Env, name: string, why: string): string {
  const v = env[name];
  if (!v) throw new ConfigError(`${name} is not set; it is needed ${why}.`);
  return v;
}

/**
 * A base URL setting. Errors show at most scheme://host[:port] of it: its path, query or user part
 * may hold a token. Credentials and a query are refused rather than silently dropped: crm-mcp sends
 * neither (the token goes in the header of the provider's own env var).
 */
function url(name: string, v: string | undefined, tokenSetting: string): string | undefined {
  if (v === undefined || v === '') return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL such as https://acme.example.com (the value is not shown: it may hold a token).`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new ConfigError(`${name} must start with http:// or https:// (the value is not shown: it may hold a token).`);
  }
  const shown = `${u.protocol}//${u.host}`;
  if (u.username || u.password) {
    throw new ConfigError(`${name} (${shown}/…) must not contain a user name or password; put the credential in ${tokenSetting}.`);
  }
  if (u.search || u.hash) {
    throw new ConfigError(
      `${name} (${shown}/…) must not have a query string or fragment: crm-mcp would not send it; put a token in ${tokenSetting}.`,
    );
  }
  return v.replace(/\/+$/, '');
}

/** Pipedrive's requests per 2 s for the plan: Lite 20 (default), Growth 40, Premium 100, Ultimate 120. */
function burstLimit(name: string, v: string | number | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new ConfigError(`${name} must be a whole number of requests per 2 seconds, 1 to 1000 (got '${v}').`);
  }
  return n;
}

function integration(name: string, v: string | undefined): TrutoIntegration | undefined {
  if (v === undefined || v === '') return undefined;
  if (!(TRUTO_INTEGRATIONS as readonly string[]).includes(v)) {
    throw new ConfigError(`${name} must be one of ${TRUTO_INTEGRATIONS.join(', ')} (got '${v}').`);
  }
  return v as TrutoIntegration;
}

/** The pod of an Insightly API URL (https://api.na1.insightly.com/v3.1 -> na1). */
function pod(name: string, v: string | undefined): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^[a-z0-9-]{1,20}$/i.test(v)) throw new ConfigError(`${name} must be a pod name such as na1 or eu1 (got '${v.slice(0, 20)}').`);
  return v.toLowerCase();
}

/** Insightly needs its pod or its API URL: without either there is no instance to reach. */
function insightlyPlace(where: string, podValue: string | undefined, baseUrl: string | undefined, names: [string, string]) {
  if (!podValue && !baseUrl) {
    throw new ConfigError(
      `${where}: ${names[0]} is not set; it is needed for Insightly, e.g. na1 from the API URL in Insightly's User Settings > API (https://api.na1.insightly.com/v3.1/), or set ${names[1]} to that URL.`,
    );
  }
  return { pod: podValue, baseUrl };
}

/** The OAuth client and refresh token, all three or none; `where` names the settings in errors. */
function outreachOAuth(
  values: { clientId?: string; clientSecret?: string; refreshToken?: string; redirectUri?: string },
  names: { clientId: string; clientSecret: string; refreshToken: string; redirectUri: string },
): OutreachOAuth | undefined {
  const { clientId, clientSecret, refreshToken, redirectUri } = values;
  const given = [clientId, clientSecret, refreshToken].filter(Boolean).length;
  if (given === 0) {
    if (redirectUri) throw new ConfigError(`${names.redirectUri} is set without ${names.clientId}, ${names.clientSecret} and ${names.refreshToken}, which the token renewal needs.`);
    return undefined;
  }
  const missing = (['clientId', 'clientSecret', 'refreshToken'] as const).filter((k) => !values[k]).map((k) => names[k]);
  if (missing.length) {
    throw new ConfigError(
      `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set; ${names.clientId}, ${names.clientSecret} and ${names.refreshToken} go together (crm-mcp renews Outreach access tokens with all three).`,
    );
  }
  if (redirectUri !== undefined) {
    try {
      new URL(redirectUri);
    } catch {
      throw new ConfigError(`${names.redirectUri} must be the redirect URI of your Outreach app, a URL.`);
    }
  }
  return { clientId: clientId!, clientSecret: clientSecret!, refreshToken: refreshToken!, ...(redirectUri ? { redirectUri } : {}) };
}

function outreachCredentials(accessToken: string | undefined, oauth: OutreachOAuth | undefined, tokenSetting: string): void {
  if (!accessToken && !oauth) {
    throw new ConfigError(
      `${tokenSetting} is not set; it is needed for Outreach (or give OUTREACH_CLIENT_ID, OUTREACH_CLIENT_SECRET and OUTREACH_REFRESH_TOKEN so crm-mcp gets and renews tokens itself).`,
    );
  }
}

function providerKind(name: string, v: string): (typeof PROVIDERS)[number] {
  if ((PROVIDERS as readonly string[]).includes(v)) return v as (typeof PROVIDERS)[number];
  if (PLANNED.includes(v)) {
    throw new ConfigError(
      `${name}=${v}: that provider is not available yet; available: ${PROVIDERS.join(', ')} (Truto's unified API reaches ${v} today: CRM_PROVIDER=truto TRUTO_INTEGRATION=${v}).`,
    );
  }
  throw new ConfigError(`${name} must be one of ${PROVIDERS.join(', ')} (got '${v}').`);
}

/** The single connection described by CRM_PROVIDER and the provider's env vars. */
function envConnection(env: Env, db: string): ConnectionConfig {
  const kind = providerKind('CRM_PROVIDER', env.CRM_PROVIDER || 'local');
  switch (kind) {
    case 'local':
      return { name: 'local', provider: 'local', db };
    case 'pipedrive':
      return {
        name: 'pipedrive',
        provider: 'pipedrive',
        apiToken: required(env, 'PIPEDRIVE_API_TOKEN', 'for CRM_PROVIDER=pipedrive'),
        baseUrl: url('PIPEDRIVE_BASE_URL', env.PIPEDRIVE_BASE_URL, 'PIPEDRIVE_API_TOKEN'),
        burstLimit: burstLimit('PIPEDRIVE_BURST_LIMIT', env.PIPEDRIVE_BURST_LIMIT),
      };
    case 'truto':
      return {
        name: 'truto',
        provider: 'truto',
        apiToken: required(env, 'TRUTO_API_TOKEN', 'for CRM_PROVIDER=truto'),
        integratedAccountId: required(env, 'TRUTO_INTEGRATED_ACCOUNT_ID', 'for CRM_PROVIDER=truto'),
        baseUrl: url('TRUTO_BASE_URL', env.TRUTO_BASE_URL, 'TRUTO_API_TOKEN'),
        integration: integration('TRUTO_INTEGRATION', env.TRUTO_INTEGRATION),
      };
    case 'outreach': {
      const oauth = outreachOAuth(
        { clientId: env.OUTREACH_CLIENT_ID, clientSecret: env.OUTREACH_CLIENT_SECRET, refreshToken: env.OUTREACH_REFRESH_TOKEN, redirectUri: env.OUTREACH_REDIRECT_URI },
        { clientId: 'OUTREACH_CLIENT_ID', clientSecret: 'OUTREACH_CLIENT_SECRET', refreshToken: 'OUTREACH_REFRESH_TOKEN', redirectUri: 'OUTREACH_REDIRECT_URI' },
      );
      outreachCredentials(env.OUTREACH_ACCESS_TOKEN, oauth, 'OUTREACH_ACCESS_TOKEN');
      return {
        name: 'outreach',
        provider: 'outreach',
        accessToken: env.OUTREACH_ACCESS_TOKEN,
        oauth,
        baseUrl: url('OUTREACH_BASE_URL', env.OUTREACH_BASE_URL, 'OUTREACH_ACCESS_TOKEN'),
      };
    }
    case 'capsule':
      return {
        name: 'capsule',
        provider: 'capsule',
        apiToken: required(env, 'CAPSULE_API_TOKEN', 'for CRM_PROVIDER=capsule'),
        baseUrl: url('CAPSULE_BASE_URL', env.CAPSULE_BASE_URL, 'CAPSULE_API_TOKEN'),
      };
    case 'insightly':
      return {
        name: 'insightly',
        provider: 'insightly',
        apiKey: required(env, 'INSIGHTLY_API_KEY', 'for CRM_PROVIDER=insightly'),
        ...insightlyPlace(
          'CRM_PROVIDER=insightly',
          pod('INSIGHTLY_POD', env.INSIGHTLY_POD),
          url('INSIGHTLY_BASE_URL', env.INSIGHTLY_BASE_URL, 'INSIGHTLY_API_KEY'),
          ['INSIGHTLY_POD', 'INSIGHTLY_BASE_URL'],
        ),
      };
  }
}

// Config file: secrets are referenced by env var name (`*_env`), never stored in the file.
const FileConnection = z
  .object({
    provider: z.string(),
    db: z.string().optional(),
    base_url: z.string().optional(),
    api_token_env: z.string().optional(),
    integrated_account_id: z.string().optional(),
    integration: z.string().optional(),
    burst_limit: z.number().optional(),
    pod: z.string().optional(),
    client_id: z.string().optional(),
    client_secret_env: z.string().optional(),
    refresh_token_env: z.string().optional(),
    redirect_uri: z.string().optional(),
  })
  .strict();
const FileConfig = z
  .object({
    default: z.string().optional(),
    connections: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), FileConnection),
  })
  .strict();

const SECRET_KEYS = /token|secret|password|api_key|apikey/i;

function fileConnections(path: string, env: Env, baseDir: string): { list: ConnectionConfig[]; def?: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`--config ${path}: cannot read it as JSON (${(e as Error).message.split('\n')[0]}).`);
  }
  for (const [name, c] of Object.entries((raw as { connections?: Record<string, object> })?.connections ?? {})) {
    const literal = Object.keys(c ?? {}).find((k) => SECRET_KEYS.test(k) && !k.endsWith('_env'));
    if (literal) {
      throw new ConfigError(
        `--config ${path}: connection '${name}' has '${literal}'; secrets must not be stored in the file — put the value in an env var and name it with '${literal}_env'.`,
      );
    }
  }
  const parsed = FileConfig.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`--config ${path}: ${issue.path.join('.') || 'file'}: ${issue.message}.`);
  }
  const list = Object.entries(parsed.data.connections).map(([name, c]): ConnectionConfig => {
    const where = `--config ${path}: connection '${name}'`;
    const kind = providerKind(`${where} provider`, c.provider);
    const secret = (): string => {
      if (!c.api_token_env) throw new ConfigError(`${where} needs api_token_env (the name of the env var holding the token).`);
      return required(env, c.api_token_env, `by ${where}`);
    };
    switch (kind) {
      case 'local':
        return { name, provider: 'local', db: c.db ? (c.db === ':memory:' ? c.db : resolve(baseDir, c.db)) : DEFAULT_DB };
      case 'pipedrive':
        return {
          name,
          provider: 'pipedrive',
          apiToken: secret(),
          baseUrl: url(`${where} base_url`, c.base_url, 'the env var named by api_token_env'),
          burstLimit: burstLimit(`${where} burst_limit`, c.burst_limit),
        };
      case 'truto':
        if (!c.integrated_account_id) throw new ConfigError(`${where} needs integrated_account_id.`);
        return {
          name,
          provider: 'truto',
          apiToken: secret(),
          integratedAccountId: c.integrated_account_id,
          baseUrl: url(`${where} base_url`, c.base_url, 'the env var named by api_token_env'),
          integration: integration(`${where} integration`, c.integration),
        };
      case 'outreach': {
        const fromEnv = (key: string | undefined) => (key ? required(env, key, `by ${where}`) : undefined);
        const oauth = outreachOAuth(
          { clientId: c.client_id, clientSecret: fromEnv(c.client_secret_env), refreshToken: fromEnv(c.refresh_token_env), redirectUri: c.redirect_uri },
          { clientId: `${where} client_id`, clientSecret: `${where} client_secret_env`, refreshToken: `${where} refresh_token_env`, redirectUri: `${where} redirect_uri` },
        );
        const accessToken = fromEnv(c.api_token_env);
        outreachCredentials(accessToken, oauth, `${where} api_token_env`);
        return {
          name,
          provider: 'outreach',
          accessToken,
          oauth,
          baseUrl: url(`${where} base_url`, c.base_url, 'the env var named by api_token_env'),
        };
      }
      case 'capsule':
        return { name, provider: 'capsule', apiToken: secret(), baseUrl: url(`${where} base_url`, c.base_url, 'the env var named by api_token_env') };
      case 'insightly':
        return {
          name,
          provider: 'insightly',
          apiKey: secret(),
          ...insightlyPlace(where, pod(`${where} pod`, c.pod), url(`${where} base_url`, c.base_url, 'the env var named by api_token_env'), ['pod', 'base_url']),
        };
    }
  });
  if (!list.length) throw new ConfigError(`--config ${path}: 'connections' is empty.`);
  if (parsed.data.default && !list.some((c) => c.name === parsed.data.default)) {
    throw new ConfigError(`--config ${path}: default '${parsed.data.default}' is not one of the connections (${list.map((c) => c.name).join(', ')}).`);
  }
  return { list, def: parsed.data.default };
}

export function loadConfig(argv: string[], rawEnv: Env, cwd = process.cwd()): Config {
  const env = withoutUnset(rawEnv);
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        db: { type: 'string' },
        config: { type: 'string' },
        http: { type: 'boolean' },
        port: { type: 'string' },
        host: { type: 'string' },
        'read-only': { type: 'boolean' },
        toolsets: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    }).values;
  } catch (e) {
    throw new ConfigError(`${(e as Error).message.split('\n')[0]} (see crm-mcp --help).`);
  }

  // A flag wins over its env var; `name` is whichever was used, for error messages.
  const pick = (flag: keyof typeof flags, envName: string): { name: string; v: string } | undefined => {
    const fv = flags[flag];
    if (typeof fv === 'string') return { name: `--${flag}`, v: fv };
    const ev = env[envName];
    return ev ? { name: envName, v: ev } : undefined;
  };

  const dbSetting = pick('db', 'CRM_MCP_DB');
  const db = dbSetting ? (dbSetting.v === ':memory:' ? ':memory:' : resolve(cwd, dbSetting.v)) : DEFAULT_DB;

  const portSetting = pick('port', 'CRM_MCP_PORT');
  const toolsetSetting = pick('toolsets', 'CRM_MCP_TOOLSETS');
  const levelSetting = pick('log-level', 'CRM_MCP_LOG_LEVEL');
  const level = levelSetting?.v ?? 'info';
  if (!isLogLevel(level)) {
    throw new ConfigError(`${levelSetting!.name} must be one of fatal, error, warn, info, debug, trace, silent (got '${level}').`);
  }

  const configSetting = pick('config', 'CRM_MCP_CONFIG');
  let connections: ConnectionConfig[];
  let defaultConnection: string;
  if (configSetting) {
    const path = resolve(cwd, configSetting.v);
    const fc = fileConnections(path, env, resolve(path, '..'));
    connections = fc.list;
    defaultConnection = fc.def ?? fc.list[0].name;
  } else {
    connections = [envConnection(env, db)];
    defaultConnection = connections[0].name;
  }

  const authToken = env.CRM_MCP_AUTH_TOKEN || undefined;
  if (authToken !== undefined && !authToken.trim()) {
    throw new ConfigError('CRM_MCP_AUTH_TOKEN is blank; set a long random token (openssl rand -hex 32) or unset it.');
  }
  if (authToken !== undefined && authToken !== authToken.trim()) {
    throw new ConfigError('CRM_MCP_AUTH_TOKEN starts or ends with whitespace, which no client can send in an Authorization header; remove it.');
  }
  const warnings: string[] = [];
  if (authToken !== undefined && authToken.length < 16) {
    warnings.push('CRM_MCP_AUTH_TOKEN is shorter than 16 characters; a long random token (openssl rand -hex 32) is much harder to guess.');
  }

  return {
    connections,
    defaultConnection,
    http: flags.http ?? truthy('CRM_MCP_HTTP', env.CRM_MCP_HTTP) ?? false,
    port: portSetting ? port(portSetting.name, portSetting.v) : 3333,
    host: pick('host', 'CRM_MCP_HOST')?.v ?? '127.0.0.1',
    readOnly: flags['read-only'] ?? truthy('CRM_MCP_READ_ONLY', env.CRM_MCP_READ_ONLY) ?? false,
    toolsets: toolsetSetting ? toolsets(toolsetSetting.name, toolsetSetting.v) : null,
    authToken,
    allowedHosts: (env.CRM_MCP_ALLOWED_HOSTS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    logLevel: level,
    idempotencyFile: db === ':memory:' ? ':memory:' : join(dirname(db), 'idempotency.db'),
    warnings,
    help: flags.help ?? false,
    version: flags.version ?? false,
  };
}
