import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { BUNDLE_OPTIONS, requireBuiltins } from '../../scripts/bundle-options.js';

const BANNER = (BUNDLE_OPTIONS.banner as { js: string }).js;

describe('imports of Node built-ins become require() calls', () => {
  it('rewrites every form esbuild writes, hoisted to the top as the imports were, and leaves the rest', () => {
    const code = [
      '#!/usr/bin/env node',
      `${BANNER}`,
      'import{a as b}from"./chunk-X.js";import o from"node:module";var x=1;',
      'import{readFileSync as r,statSync}from"node:fs";import*as p from"node:path";import"node:os";',
      'function f(){return r}import d,{inspect as i}from"util";import y from"better-sqlite3";x+=1;',
    ].join('\n');
    const out = requireBuiltins(code, 5);
    expect(out).toBe(
      [
        '#!/usr/bin/env node',
        `${BANNER}const o=require("node:module");const{readFileSync:r,statSync}=require("node:fs");const p=require("node:path");require("node:os");const d=require("util");const{inspect:i}=require("util");`,
        'import{a as b}from"./chunk-X.js";var x=1;',
        '',
        'function f(){return r}import y from"better-sqlite3";x+=1;',
      ].join('\n'),
    );
  });

  it('fails instead of guessing when what it finds is not what esbuild reports', () => {
    // An import-like text inside a string is found too: the count gives it away.
    const code = `${BANNER}import{x}from"node:fs";var s='a;import{y}from"node:os";';`;
    expect(() => requireBuiltins(code, 1, 'chunk.js')).toThrow(/chunk\.js: found 2 imports of Node built-ins where esbuild reports 1/);
    expect(() => requireBuiltins(`${BANNER}var a=1;`, 1)).toThrow(/found 0/);
  });
});

describe('a bundle built with these options', () => {
  it('runs, minified or not, also where the code names a binding process or imports built-ins every way', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crm-mcp-bundle-'));
    try {
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
      writeFileSync(
        join(dir, 'entry.ts'),
        [
          "import process from 'node:process';",
          "import * as path from 'node:path';",
          "import { EventEmitter } from 'events';",
          "import 'node:os';",
          "const later = () => import('./later.js');",
          "process.stdout.write(JSON.stringify({ sep: path.sep, emitter: typeof EventEmitter, later: (await later()).value }));",
        ].join('\n'),
      );
      writeFileSync(join(dir, 'later.ts'), "import { basename } from 'node:path';\nexport const value = basename('/a/b.txt');\n");
      for (const minify of [true, false]) {
        const out = join(dir, minify ? 'min' : 'plain');
        await build({ ...BUNDLE_OPTIONS, minify, entryPoints: [join(dir, 'entry.ts')], outdir: out });
        const printed = execFileSync(process.execPath, [join(out, 'entry.js')], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
        expect(JSON.parse(printed)).toEqual({ sep: '/', emitter: 'function', later: 'b.txt' });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
