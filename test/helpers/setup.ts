/**
 * Loaded before every test file (vitest setupFiles): a secret found in a process's output lines
 * during a test fails that test (see ./secrets.ts).
 */
import { afterEach } from 'vitest';
import { assertNoLeaks, openWatchedStreams } from './secrets.js';

afterEach(async () => {
  // The last lines of a test's processes may still be in a pipe.
  if (openWatchedStreams() > 0) await new Promise((r) => setTimeout(r, 10));
  assertNoLeaks();
});
