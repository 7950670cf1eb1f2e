/**
 * The secret scan is live in the e2e helpers: a fragment of a configured secret planted in a
 * tool's output, an HTTP answer, a log line or a one-shot run's stderr is caught, reported
 * without being printed, and fails the call or test that produced it.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { call, ok, until } from '../helpers/mcp.js';
import { SecretLeakError, takeLeaks } from '../helpers/secrets.js';
import { rawRequest, runCli, startHttp, startStdio, stopAll } from '../helpers/server.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });
afterAll(stopAll);

// Any *_TOKEN variable is a secret to the scan, whether or not crm-mcp reads it.
const PLANTED = `e2e_${randomBytes(24).toString('base64url')}`;
const fragment = PLANTED.slice(6, 18); // 12 characters from the middle
const windows = Array.from({ length: PLANTED.length - 7 }, (_, i) => PLANTED.slice(i, i + 8));

function expectMasked(message: string): void {
  for (const w of windows) expect(message).not.toContain(w);
}

describe('secret scan: planted fragments are caught', () => {
  it('in a tool result over stdio (text and structuredContent): the call throws', async () => {
    const s = await startStdio({ db: ':memory:', env: { E2E_PLANTED_TOKEN: PLANTED } });
    try {
      const stage = (await ok(s.client, 'list_stages', { limit: 1 })).s.stages[0];
      // Clean calls pass.
      await ok(s.client, 'list_connections');
      const err = await call(s.client, 'create_deal', { name: `Deal ${fragment}`, stage_id: stage.id, dry_run: true }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(SecretLeakError);
      expect(err?.message).toMatch(/12 of \d+ characters of the secret E2E_PLANTED_TOKEN in stdio server: tools\/call create_deal result/);
      expectMasked(err!.message);
    } finally {
      await s.close();
    }
  });

  it('in a tool result over HTTP, in a raw HTTP answer and in a log line', async () => {
    const server = await startHttp({ db: ':memory:', env: { E2E_PLANTED_TOKEN: PLANTED } });
    try {
      const client = await server.connect();
      const stage = (await ok(client, 'list_stages', { limit: 1 })).s.stages[0];
      await expect(call(client, 'create_deal', { name: fragment, stage_id: stage.id, dry_run: true })).rejects.toThrow(
        /E2E_PLANTED_TOKEN in HTTP server: tools\/call create_deal result/,
      );

      // A refused request's path is logged: plant the fragment there and watch stderr catch it.
      const res = await rawRequest(server.port, { path: `/nothing-here-${fragment}` });
      expect(res.status).toBe(404);
      const leaks = await until(() => {
        const l = takeLeaks();
        return l.length ? l : undefined;
      }, 'the stderr finding');
      expect(leaks.join('\n')).toMatch(/12 of \d+ characters of the secret E2E_PLANTED_TOKEN in HTTP server stderr line \d+/);
      expectMasked(leaks.join('\n'));
    } finally {
      await server.stop();
    }
  });

  it('in a one-shot run: runCli throws', async () => {
    const err = await runCli(['--toolsets', `deals,${fragment}`], { env: { E2E_PLANTED_TOKEN: PLANTED } }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(SecretLeakError);
    expect(err?.message).toMatch(/E2E_PLANTED_TOKEN in stderr of crm-mcp --toolsets/);
    expectMasked(err!.message);
  });

  it('a secret written into a config file is scanned when the test names it', async () => {
    const err = await runCli(['--toolsets', `x${fragment}`], { secrets: { 'literal in config': PLANTED } }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/secret literal in config in stderr/);
  });
});
