/**
 * Loaded before every test file (vitest setupFiles): a secret found in a process's output lines
 * during a test fails that test (see ./secrets.ts); what the scan covered is handed to
 * ./global-setup.ts, which prints the figure once the run is over.
 */
import { appendFileSync } from 'node:fs';
import { afterAll, afterEach, expect } from 'vitest';
import { assertNoLeaks, openWatchedStreams, scanStats } from './secrets.js';

afterEach(async () => {
  // The last lines of a test's processes may still be in a pipe.
  if (openWatchedStreams() > 0) await new Promise((r) => setTimeout(r, 10));
  assertNoLeaks();
});

afterAll(() => {
  const log = process.env.CRM_MCP_SECRET_SCAN_LOG;
  if (!log || !scanStats.texts) return;
  const file = expect.getState().testPath ?? 'unknown';
  appendFileSync(log, `${JSON.stringify({ file, ...scanStats, secrets: scanStats.secrets.size })}\n`);
});
