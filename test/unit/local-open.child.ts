/**
 * A separate OS process, possibly under another Node (and so another SQLite driver), that opens
 * local CRM files on command, for the open-race and cross-driver tests.
 * Usage: node --import tsx local-open.child.ts
 * Reads one JSON command per line on stdin and answers each with one JSON line on stdout:
 *   {"op":"open","path":p,"seed":true,"at":ms}  opens p (at epoch ms `at`, spinning until then, so
 *                                               several processes open at the same instant)
 *                                               -> {"driver","ms"}
 *   {"op":"deal","name":n,"key":k}              creates a deal in stage 1 -> {"id"}
 *   {"op":"deals"}                              -> {"names": [...]} (every deal, by id)
 *   {"op":"close"}                              -> {}
 *   {"op":"inspect","path":p}                   what the file holds, read through a fresh connection
 * A failure answers {"error": message}. Prints {"ready": driver} first.
 */
import { createInterface } from 'node:readline';
import { sqliteDriverName } from '../../src/crm/sqlite.js';
import { openDatabase } from '../../src/providers/local/client.js';
import { createLocalProvider, type LocalProvider } from '../../src/providers/local/index.js';

let provider: LocalProvider | undefined;

interface Command {
  op: string;
  path?: string;
  seed?: boolean;
  at?: number;
  name?: string;
  key?: string;
}

async function handle(cmd: Command): Promise<object> {
  switch (cmd.op) {
    case 'open': {
      while (cmd.at !== undefined && Date.now() < cmd.at) {
        // spin: a timer would add its own jitter
      }
      const started = performance.now();
      provider = createLocalProvider({ path: cmd.path!, seed: cmd.seed ?? true });
      return { driver: provider.driver, ms: performance.now() - started };
    }
    case 'deal': {
      const write = await provider!.deals!.create!(
        { name: cmd.name!, stage_id: '1' },
        cmd.key === undefined ? {} : { idempotency_key: cmd.key },
      );
      return { id: (await write.execute()).id };
    }
    case 'deals': {
      const page = await provider!.deals!.list!({ limit: 1000 }, {});
      return { names: page.items.sort((a, b) => Number(a.id) - Number(b.id)).map((d) => d.name) };
    }
    case 'close':
      await provider?.close();
      provider = undefined;
      return {};
    case 'inspect': {
      const db = openDatabase(cmd.path!);
      try {
        const n = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
        return {
          applicationId: db.pragma('application_id'),
          userVersion: db.pragma('user_version'),
          journalMode: db.pragma('journal_mode'),
          users: n('users'),
          pipelines: n('pipelines'),
          deals: n('deals'),
          seeded: n("meta WHERE key = 'seeded'"),
        };
      } finally {
        db.close();
      }
    }
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

process.stdout.write(`${JSON.stringify({ ready: sqliteDriverName() })}\n`);
const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on('line', (line) => {
  queue = queue.then(async () => {
    let answer: object;
    try {
      answer = await handle(JSON.parse(line) as Command);
    } catch (e) {
      answer = { error: (e as Error).message };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  });
});
lines.on('close', () => void queue.then(() => provider?.close()));
