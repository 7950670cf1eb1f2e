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
