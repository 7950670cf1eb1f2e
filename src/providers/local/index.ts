/**
 * The embedded default provider: a SQLite mini-CRM. Safe for several processes sharing one file
 * (WAL, busy timeout, every write in one immediate transaction). This file only assembles the
 * folder's parts (see src/providers/README.md).
 */
import type { CrmProvider } from '../../crm/provider.js';
import type { SqliteDriverName } from '../../crm/sqlite.js';
import { isMemoryPath, openDatabase } from './client.js';
import { localCapabilities } from './capabilities.js';
import { accountOps } from './accounts.js';
import { activityOps } from './activities.js';
import { contactOps } from './contacts.js';
import { dealOps } from './deals.js';
import { pipelineOps } from './pipelines.js';
import { projectOps } from './projects.js';
import { initialize } from './seed.js';
import { searchOp } from './search.js';
import { statsOps } from './stats.js';
import { stageOps } from './stages.js';
import type { Ctx } from './store.js';
import { userOps } from './users.js';

export interface LocalProviderOptions {
  /** Database file, or ":memory:" for a throwaway one. */
  path: string;
  /** Seed demo data when the database is brand new (default true). */
  seed?: boolean;
  /** Clock for timestamps and seed dates (tests pin it). */
  now?: () => Date;
}

export type LocalProvider = CrmProvider & {
  /** The database file this provider serves. */
  readonly path: string;
  /** The SQLite driver serving it: node:sqlite, or better-sqlite3 on a Node without it. */
  readonly driver: SqliteDriverName;
  close(): Promise<void>;
};

export function createLocalProvider(options: LocalProviderOptions): LocalProvider {
  const db = openDatabase(options.path);
  const ctx: Ctx = { db, now: options.now ?? (() => new Date()) };
  try {
    initialize(ctx, options.seed ?? true);
  } catch (e) {
    db.close();
    throw e;
  }

  return {
    kind: 'local',
    label: 'the local CRM',
    remote: false,
    path: isMemoryPath(options.path) ? ':memory:' : options.path,
    driver: db.driver,
    capabilities: localCapabilities,
    pipelines: pipelineOps(ctx),
    stages: stageOps(ctx),
    deals: dealOps(ctx),
    projects: projectOps(ctx),
    accounts: accountOps(ctx),
    contacts: contactOps(ctx),
    users: userOps(ctx),
    activities: activityOps(ctx),
    stats: statsOps(ctx),
    search: searchOp(ctx),
    async close() {
      if (db.open) db.close();
    },
  };
}

export { localCapabilities } from './capabilities.js';
export { openDatabase, MIGRATIONS, LOCAL_SCHEMA, type Db } from './client.js';
export { seedDemoData, type SeedSummary } from './seed.js';
