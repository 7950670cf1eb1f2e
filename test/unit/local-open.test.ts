/**
 * Opening one local CRM file from several OS processes, and from both SQLite drivers: node:sqlite
 * (Node 22.13+, 24) and better-sqlite3 (Node 20). The other driver runs in another Node binary
 * found on this machine (test/helpers/nodes.ts); without one the cross-driver cases say why they
 * skip (and fail in CI).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteDriverName } from '../../src/crm/sqlite.js';
import { LOCAL_SCHEMA } from '../../src/providers/local/client.js';
import { otherDriverNode } from '../helpers/nodes.js';
import { cleanupTempDirs, tempDbPath } from './local-helpers.js';

const CHILD = fileURLToPath(new URL('./local-open.child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

type Answer = Record<string, unknown> & { error?: string };

/** One child process running local-open.child.ts under the given Node binary. */
class Opener {
  private readonly pending: ((answer: Answer) => void)[] = [];
  private stderr = '';
  readonly driver: Promise<string>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    let ready: (driver: string) => void;
    this.driver = new Promise((r) => (ready = r));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const answer = JSON.parse(line) as Answer;
      if (typeof answer.ready === 'string') ready(answer.ready);
      else this.pending.shift()?.({ ...answer, stderr: this.stderr });
    });
    child.on('close', (code) => {
      for (const reply of this.pending.splice(0)) reply({ error: `exited ${code}: ${this.stderr}` });
    });
  }

  static start(node: string): Opener {
    return new Opener(spawn(node, ['--import', 'tsx', CHILD], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  send(command: object): Promise<Answer> {
    return new Promise((resolve) => {
      this.pending.push(resolve);
      this.child.stdin.write(`${JSON.stringify(command)}\n`);
    });
  }

  /** Sends a command that must succeed. */
  async ok(command: object): Promise<Answer> {
    const answer = await this.send(command);
    if (answer.error) throw new Error(`${JSON.stringify(command)} failed: ${answer.error}`);
    return answer;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once('close', () => resolve());
      this.child.stdin.end();
    });
  }
}

const openers: Opener[] = [];
const start = (node: string): Opener => {
  const opener = Opener.start(node);
  openers.push(opener);
  return opener;
};

afterEach(async () => {
  await Promise.all(openers.splice(0).map((o) => o.stop()));
  await cleanupTempDirs();
});

const here = sqliteDriverName();
const other = otherDriverNode(here);
const otherNode = other.node?.path;
const withOther = (title: string) => (otherNode ? title : `${title} (skipped: ${other.reason})`);

/**
 * Starts the given processes once, then, round after round, has them all open one brand-new file
 * at the same instant (seeding it), write a deal each and close it. Returns every failure.
 */
async function race(nodes: string[], rounds: number): Promise<string[]> {
  const procs = nodes.map(start);
  const drivers = await Promise.all(procs.map((p) => p.driver));
  const failures: string[] = [];
  const inspector = procs[0];
  for (let round = 1; round <= rounds; round++) {
    const path = tempDbPath(`race-${round}.db`);
    const at = Date.now() + 150;
    const opened = await Promise.all(procs.map((p) => p.send({ op: 'open', path, seed: true, at })));
    const written = await Promise.all(
      procs.map((p, i) => (opened[i].error ? opened[i] : p.send({ op: 'deal', name: `p${i}` }))),
    );
    await Promise.all(procs.map((p) => p.send({ op: 'close' })));
    written.forEach((a, i) => a.error && failures.push(`round ${round}, ${drivers[i]}: ${a.error}`));
    opened.forEach((a, i) => a.stderr && failures.push(`round ${round}, ${drivers[i]} stderr: ${a.stderr}`));
    const file = await inspector.ok({ op: 'inspect', path });
    // Seeded exactly once: 8 users, 3 pipelines, 150 deals, plus one deal per process.
    const expected = { users: 8, pipelines: 3, deals: 150 + nodes.length, seeded: 1 };
    const got = { users: file.users, pipelines: file.pipelines, deals: file.deals, seeded: file.seeded };
    if (JSON.stringify(got) !== JSON.stringify(expected)) failures.push(`round ${round}: ${JSON.stringify(got)}`);
  }
  return failures;
}

// CRM_MCP_TEST_RACE_ROUNDS raises it for a soak run.
const ROUNDS = Number(process.env.CRM_MCP_TEST_RACE_ROUNDS ?? 25);
const RACE_TIMEOUT = 60_000 + ROUNDS * 3_000;

describe('opening one brand-new file from four processes at the same instant', () => {
  it(`succeeds every time and seeds once (${ROUNDS} rounds, ${here})`, { timeout: RACE_TIMEOUT }, async () => {
    expect(await race(Array(4).fill(process.execPath), ROUNDS)).toEqual([]);
  });

  it.skipIf(!otherNode)(
    withOther(`succeeds every time and seeds once (${ROUNDS} rounds, ${other.node?.driver ?? 'the other driver'})`),
    { timeout: RACE_TIMEOUT },
    async () => {
      expect(await race(Array(4).fill(otherNode), ROUNDS)).toEqual([]);
    },
  );

  it.skipIf(!otherNode)(
    withOther('succeeds with both drivers racing on one file (10 rounds, two processes each)'),
    { timeout: RACE_TIMEOUT },
    async () => {
      expect(await race([process.execPath, otherNode!, process.execPath, otherNode!], 10)).toEqual([]);
    },
  );
});

describe('one file, both SQLite drivers', () => {
  it.skipIf(!otherNode)(
    withOther(`a file made by either driver is read and written by the other (${here} and the other)`),
    { timeout: 60_000 },
    async () => {
      const a = start(process.execPath);
      const b = start(otherNode!);
      expect(new Set([await a.driver, await b.driver])).toEqual(new Set(['node:sqlite', 'better-sqlite3']));
      for (const [first, second] of [
        [a, b],
        [b, a],
      ]) {
        const path = tempDbPath();
        const firstDriver = await first.driver;
        await first.ok({ op: 'open', path, seed: true });
        const made = await first.ok({ op: 'deal', name: `made by ${firstDriver}`, key: 'k1' });
        await first.ok({ op: 'close' });

        await second.ok({ op: 'open', path, seed: true });
        // The key written by the first driver replays in the second: same record, none added.
        expect((await second.ok({ op: 'deal', name: `made by ${firstDriver}`, key: 'k1' })).id).toBe(made.id);
        await second.ok({ op: 'deal', name: `made by ${await second.driver}` });
        await second.ok({ op: 'close' });

        await first.ok({ op: 'open', path, seed: true });
        const names = (await first.ok({ op: 'deals' })).names as string[];
        expect(names.slice(-2)).toEqual([`made by ${firstDriver}`, `made by ${await second.driver}`]);
        expect(names).toHaveLength(152);
        await first.ok({ op: 'close' });

        expect(await second.ok({ op: 'inspect', path })).toMatchObject({
          applicationId: LOCAL_SCHEMA.applicationId,
          userVersion: LOCAL_SCHEMA.migrations.length,
          journalMode: 'wal',
          seeded: 1,
          deals: 152,
        });
      }
    },
  );
});
