/**
 * The server's start: flags/env -> config -> connections -> server factory -> transport. Loaded by
 * the bin entry (bin.ts, built as dist/cli.js) once the compile cache is on.
 * Nothing but JSON-RPC may reach stdout while serving stdio; everything else goes to stderr.
 */
import { resolve, sep } from 'node:path';
import { ConfigError, HELP, loadConfig, type Config } from './config.js';
import { ConnectionRegistry } from './connections.js';
import type { IdempotencyStore } from './crm/idempotency.js';
import { createLogger, type Logger } from './log.js';
import { createProvider } from './providers/index.js';
import type { LocalProvider } from './providers/local/index.js';
import { createServerFactory, selectTools } from './server.js';
import type { Idempotency } from './tools/define.js';
import { isLoopback } from './transports/loopback.js';
import { startStdio } from './transports/stdio.js';
import { VERSION } from './version.js';

function fail(message: string): never {
  process.stderr.write(`crm-mcp: ${message}\n`);
  process.exit(2);
}

function describeConnections(config: Config): string {
  return config.connections
    .map((c) => `${c.name} (${c.provider}${c.provider === 'local' ? `, ${c.db}` : ''})`)
    .join(', ');
}

/** "node:sqlite (Node 24.21.0)" when a local connection serves, for the banner and the logs. */
function sqliteInUse(registry: ConnectionRegistry): string | undefined {
  const local = registry
    .providers()
    .map(({ provider }) => provider)
    .find((p): p is LocalProvider => p.kind === 'local');
  return local && `${local.driver} (Node ${process.versions.node})`;
}

/** Started by hand in a terminal: say what this is and how to use it, instead of sitting silent. */
function banner(config: Config, toolCount: number, sqlite: string | undefined): string {
  // Run through npx, the npx line is right; run from a clone, point the client at this very file.
  const entry = process.argv[1] ? resolve(process.argv[1]) : '';
  const viaNpx = entry.includes(`${sep}_npx${sep}`);
  const launch = viaNpx ? { command: 'npx', args: ['-y', 'crm-mcp'] } : { command: 'node', args: [entry] };
  const snippet = JSON.stringify({ mcpServers: { crm: launch } }, null, 2);
  return [
    `crm-mcp ${VERSION}: an MCP server for CRM pipelines, stages, deals and projects.`,
    `Serving ${toolCount} tools over stdio; connections: ${describeConnections(config)}.`,
    ...(sqlite ? [`SQLite: ${sqlite}.`] : []),
    'It speaks JSON-RPC on stdin/stdout and is meant to be started by an MCP client.',
    'Add it to Claude Desktop (claude_desktop_config.json) or another client with:',
    snippet,
    `Or for Claude Code: claude mcp add crm -- ${[launch.command, ...launch.args].join(' ')}`,
    'crm-mcp --help lists the options. Press Ctrl+C to stop.',
    '',
  ].join('\n');
}

/**
 * The store of idempotency keys for CRMs without their own (Pipedrive). Its module and file are
 * loaded on the first keyed create: most servers never see one, and a start should not pay for it.
 */
function lazyIdempotency(file: string): Idempotency & { close(): void } {
  let store: IdempotencyStore | undefined;
  let loading: Promise<IdempotencyStore> | undefined;
  const load = () => (loading ??= import('./crm/idempotency.js').then((m) => (store = new m.IdempotencyStore(file))));
  return {
    run: async (scope, key, input, create, readBack) => (await load()).run(scope, key, input, create, readBack),
    close: () => store?.close(),
  };
}

async function buildRegistry(config: Config, logger: Logger): Promise<ConnectionRegistry> {
  const entries = [];
  for (const c of config.connections) {
    entries.push({ name: c.name, provider: await createProvider(c, logger) });
  }
  return new ConnectionRegistry(entries, config.defaultConnection);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
  if (config.help) {
    process.stdout.write(HELP);
    return;
  }
  if (config.version) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  if (config.http && !isLoopback(config.host) && !config.authToken) {
    fail(
      `refusing to serve HTTP on ${config.host} without CRM_MCP_AUTH_TOKEN: anyone who can reach it could change your CRM. Set a token or bind 127.0.0.1.`,
    );
  }

  const logger = createLogger(config.logLevel);
  for (const warning of config.warnings) logger.warn(warning);
  // A tool call must never take the process down: log stray failures and keep serving.
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception'));

  let registry: ConnectionRegistry;
  try {
    registry = await buildRegistry(config, logger);
  } catch (e) {
    fail(`cannot open the configured connections: ${(e as Error).message}`);
  }
  const idempotency = lazyIdempotency(config.idempotencyFile);
  const context = {
    registry,
    logger,
    idempotency,
    readOnly: config.readOnly,
    toolsets: config.toolsets,
  };
  const factory = createServerFactory(context);
  const closeAll = async () => {
    await registry.close();
    idempotency.close();
  };
  const toolCount = selectTools(context).length;
  const sqlite = sqliteInUse(registry);

  if (config.http) {
    // Loaded only for HTTP: express is a third of a stdio start-up otherwise.
    const { startHttp } = await import('./transports/http.js');
    const server = await startHttp(factory, {
      host: config.host,
      port: config.port,
      authToken: config.authToken,
      allowedHosts: config.allowedHosts,
      logger,
    }).catch((e: Error) => fail(`cannot listen on ${config.host}:${config.port}: ${e.message}`));
    logger.info(
      { url: server.url, connections: describeConnections(config), sqlite, tools: toolCount, auth: Boolean(config.authToken) },
      `crm-mcp ${VERSION} listening on ${server.url}`,
    );
    const shutdown = async () => {
      await server.close();
      await closeAll();
      process.exit(0);
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
    return;
  }

  startStdio(factory, closeAll, logger);
  if (process.stdin.isTTY) process.stderr.write(banner(config, toolCount, sqlite));
  else logger.debug({ connections: describeConnections(config), sqlite, tools: toolCount }, 'serving stdio');
}

main().catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)));
