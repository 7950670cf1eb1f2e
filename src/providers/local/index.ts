/**
 * The embedded default provider: a SQLite mini-CRM. Safe for several processes sharing one file
 * (WAL, busy timeout, every write in one immediate transaction).
 */
import type { CrmProvider, StatsOperations } from '../../crm/provider.js';
import type { SqliteDriverName } from '../../crm/sqlite.js';
import { isMemoryPath, openDatabase } from './client.js';
import { localCapabilities } from './capabilities.js';
import { accountOps } from './accounts.js';
import { activityOps } from './activities.js';
import { contactOps } from './contacts.js';
import { dealOps } from './deals.js';
import { pipelineOps } from './pipelines.js';
import { projectOps } from './projects.js';
import { seedDemoData } from './seed.js';
import { conversionStats, movementStats } from './stats.js';
import { searchOp } from './search.js';
import { stageOps } from './stages.js';
import { userOps } from './users.js';
import { checkSignal, run, stamp, type Ctx } from './store.js';

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

/**
 * Marks the database initialized exactly once, seeding it if asked and it is empty. The marker
 * lives in the file, so a user who deletes all demo records never gets them back on restart, and
 * two processes opening a new file at once seed it once.
 */
function initialize(ctx: Ctx, seed: boolean): void {
  const { db } = ctx;
  db.immediate(() => {
    if (db.prepare("SELECT 1 FROM meta WHERE key = 'initialized_at'").get()) return;
    const empty = !db.prepare('SELECT 1 FROM pipelines UNION ALL SELECT 1 FROM users LIMIT 1').get();
    if (seed && empty) {
      const summary = seedDemoData(db, ctx.now());
      db.prepare("INSERT INTO meta (key, value) VALUES ('seeded', ?)").run(JSON.stringify(summary));
    }
    db.prepare("INSERT INTO meta (key, value) VALUES ('initialized_at', ?)").run(stamp(ctx));
  });
}

export function createLocalProvider(options: LocalProviderOptions): LocalProvider {
  const db = openDatabase(options.path);
  const ctx: Ctx = { db, now: options.now ?? (() => new Date()) };
  try {
    initialize(ctx, options.seed ?? true);
  } catch (e) {
    db.close();
    throw e;
  }

  const stats: StatsOperations = {
    async conversion(query, opts) {
      checkSignal(opts.signal);
      return run(() => conversionStats(db, query));
    },
    async movement(query, opts) {
      checkSignal(opts.signal);
      return run(() => movementStats(db, query, ctx.now()));
    },
  };

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
    stats,
    search: searchOp(ctx),
    async close() {
      if (db.open) db.close();
    },
  };
}

export { localCapabilities } from './capabilities.js';
export { openDatabase, MIGRATIONS, LOCAL_SCHEMA, type Db } from './client.js';
export { seedDemoData, type SeedSummary } from './seed.js';
