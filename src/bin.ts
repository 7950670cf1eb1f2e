#!/usr/bin/env node
/**
 * The bin entry (built as dist/cli.js): switches on V8's on-disk compile cache, then loads the
 * server (cli.ts), so every start after the first reads the bundle's compiled code from disk
 * instead of parsing it again. Whatever this file imports is compiled before the cache is on:
 * keep it to these lines.
 */
import module from 'node:module';

// Node 22.1+; Node 20 has no compile cache and starts uncached. The cache lives where Node keeps
// it by default (os.tmpdir()/node-compile-cache, or $NODE_COMPILE_CACHE), one folder per Node
// version, entries keyed by file content, so an upgrade never reads stale code;
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. An unwritable place only makes it report a failure:
// it never throws, never writes to stdout, and the start goes on uncached.
const cache = module as { enableCompileCache?: () => unknown; flushCompileCache?: () => void };
try {
  cache.enableCompileCache?.();
} catch {
  // a start never depends on the cache
}

await import('./cli.js');

// The cache is written when the process exits; a server that lives a while also writes it now,
// off the start-up path, in case its client ends it with SIGKILL.
setTimeout(() => {
  try {
    cache.flushCompileCache?.();
  } catch {
    // as above
  }
}, 1000).unref();
