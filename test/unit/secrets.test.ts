/**
 * The secret scanner the e2e helpers run over every output (test/helpers/secrets.ts): what it
 * finds, what it does not, and that its own report never prints what it found.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  assertNoLeaks,
  expectNoFragment,
  FRAGMENT_LENGTH,
  leakedFragment,
  SecretLeakError,
  SecretScanner,
  takeLeaks,
  watchLines,
} from '../helpers/secrets.js';

// 46 characters, as the token in issue 7's report.
const TOKEN = 'pdTOK3N-9f8e7d6c5b4a3921-SECRET-a1Zq8Xw2Lm5Rt7';
const windows = (s: string) => Array.from({ length: s.length - FRAGMENT_LENGTH + 1 }, (_, i) => s.slice(i, i + FRAGMENT_LENGTH));

function scanner(): SecretScanner {
  const s = new SecretScanner();
  s.add('PIPEDRIVE_API_TOKEN', TOKEN);
  return s;
}

describe('SecretScanner', () => {
  it('finds the whole secret', () => {
    const [f] = scanner().scan(`error: token ${TOKEN} rejected`);
    expect(f).toMatchObject({ name: 'PIPEDRIVE_API_TOKEN', length: TOKEN.length, secretLength: TOKEN.length, offset: 13 });
  });

  it('finds a cut-off token as one run of its real length (the 34 of 46 of issue 7)', () => {
    const text = `Pipedrive answered 400: … ${TOKEN.slice(0, 34)}.`;
    const found = scanner().scan(text);
    expect(found).toHaveLength(1);
    expect(found[0].length).toBe(34);
    expect(found[0].offset).toBe(text.indexOf(TOKEN.slice(0, 34)));
  });

  it('finds fragments of 8 characters anywhere: start, middle, end of the secret and of the text', () => {
    const s = scanner();
    for (const at of [0, 13, TOKEN.length - 8]) {
      const frag = TOKEN.slice(at, at + 8);
      for (const text of [frag, `x${frag}`, `${frag}y`, `a b c ${frag} d e f`]) {
        const found = s.scan(text);
        expect(found, `${at} in ${text.length}`).toHaveLength(1);
        expect(found[0].length).toBe(8);
      }
    }
  });

  it('lets 7 characters, other text and other secrets pass', () => {
    const s = scanner();
    expect(s.scan(TOKEN.slice(10, 17))).toEqual([]);
    expect(s.scan(`${TOKEN.slice(0, 7)} ${TOKEN.slice(7, 14)} ${TOKEN.slice(14, 21)}`)).toEqual([]);
    expect(s.scan('Pipedrive answered 401: the API token is not valid. Check PIPEDRIVE_API_TOKEN.')).toEqual([]);
    expect(s.scan('')).toEqual([]);
    expect(new SecretScanner().scan(TOKEN)).toEqual([]);
  });

  it('reports every run in a text, and several secrets by name', () => {
    const s = scanner();
    s.add('TRUTO_API_TOKEN', 'tr_6LxTk_FS3DMjnU40C7XmVJCPJewMrzvS1q5VqyX0');
    const text = `a ${TOKEN.slice(5, 20)} b tr_6LxTk_FS3DMjn c ${TOKEN.slice(30)}`;
    const found = s.scan(text);
    expect(found.map((f) => [f.name, f.length])).toEqual([
      ['PIPEDRIVE_API_TOKEN', 15],
      ['TRUTO_API_TOKEN', 16],
      ['PIPEDRIVE_API_TOKEN', TOKEN.length - 30],
    ]);
  });

  it('handles characters beyond Latin-1 around and inside the text', () => {
    const s = new SecretScanner();
    s.add('X_SECRET', 'ключ-секрет-Ωmega-42');
    expect(s.scan(`— «секрет-Ωmeg» —`)).toHaveLength(1);
    expect(s.scan('ключ-се')).toEqual([]);
  });

  it('ignores values too short to tell from ordinary text, and duplicates', () => {
    const s = new SecretScanner();
    s.add('A_TOKEN', 'short');
    s.add('B_TOKEN', TOKEN);
    s.add('C_TOKEN', TOKEN);
    expect(s.names()).toEqual(['B_TOKEN']);
  });

  it('takes secrets from env var names, and credentials inside URLs', () => {
    const s = new SecretScanner().addEnv({
      PATH: '/usr/local/bin:/usr/bin:/bin/with-a-long-path',
      HOME: '/tmp/crm-mcp-e2e-abcdef/home',
      CRM_MCP_DB: '/tmp/some/long/database.db',
      TRUTO_INTEGRATED_ACCOUNT_ID: '62f44730-dd91-461e-bd6a-aedd9e0ad79d',
      PIPEDRIVE_BURST_LIMIT: '100000000',
      MONKEY_BUSINESS: 'not-a-secret-at-all',
      PIPEDRIVE_API_TOKEN: 'secret-value-00000001',
      TRUTO_API_TOKEN: 'secret-value-00000002',
      CRM_MCP_AUTH_TOKEN: 'secret-value-00000003',
      OUTREACH_ACCESS_TOKEN: 'secret-value-00000004',
      CAPSULE_API_TOKEN: 'secret-value-00000005',
      INSIGHTLY_API_KEY: 'secret-value-00000006',
      PIPELINER_PASSWORD: 'secret-value-00000007',
      OUTREACH_CLIENT_SECRET: 'secret-value-00000008',
      E2E_PIPEDRIVE_TOKEN_B: 'secret-value-00000009',
      PIPEDRIVE_BASE_URL: 'http://user:secret-value-0000000A@127.0.0.1:1/x?api_token=secret-value-0000000B&page=100000000',
      EMPTY_TOKEN: '',
    });
    expect(s.names()).toEqual([
      'PIPEDRIVE_API_TOKEN',
      'TRUTO_API_TOKEN',
      'CRM_MCP_AUTH_TOKEN',
      'OUTREACH_ACCESS_TOKEN',
      'CAPSULE_API_TOKEN',
      'INSIGHTLY_API_KEY',
      'PIPELINER_PASSWORD',
      'OUTREACH_CLIENT_SECRET',
      'E2E_PIPEDRIVE_TOKEN_B',
      'PIPEDRIVE_BASE_URL (password)',
      'PIPEDRIVE_BASE_URL (api_token)',
    ]);
  });

  it('checks every string and key of a JSON-RPC result', () => {
    const s = scanner();
    const result = {
      content: [{ type: 'text', text: 'fine' }],
      structuredContent: { dry_run: { method: 'POST', path: `/t/${TOKEN.slice(3, 20)}/api/v2/deals`, body: {} } },
    };
    expect(() => s.checkValue(result, 'create_deal result')).toThrow(SecretLeakError);
    expect(() => s.checkValue(result, 'create_deal result')).toThrow(/17 of 46 characters of the secret PIPEDRIVE_API_TOKEN in create_deal result structuredContent\.dry_run\.path/);
    expect(() => s.checkValue({ [TOKEN]: 1 }, 'x')).toThrow(/whole secret/);
    expect(() => s.checkValue({ content: [{ type: 'text', text: 'fine' }], n: 3, ok: true, none: null }, 'x')).not.toThrow();
  });

  it('never prints what it found: every run is masked in the report, context included', () => {
    const s = scanner();
    const text = `${TOKEN.slice(0, 12)}::${TOKEN.slice(14, 30)}::${TOKEN}`;
    let message = '';
    try {
      s.check(text, 'here');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^Secret leak: /);
    expect(message).toContain('[12 chars of PIPEDRIVE_API_TOKEN]');
    for (const w of windows(TOKEN)) expect(message).not.toContain(w);
  });
});

describe('watchLines', () => {
  it('finds a secret split across chunks, keeps it for the test, and flushes an unfinished line', () => {
    const s = scanner();
    const stream = new PassThrough();
    const watch = watchLines(stream, s, 'fake stderr');
    stream.write('{"msg":"ok"}\n{"msg":"bad ');
    stream.write(`${TOKEN.slice(0, 20)}`);
    stream.write(`${TOKEN.slice(20, 30)}"}\nlast ${TOKEN.slice(35)}`);
    expect(() => assertNoLeaks()).toThrow(/30 of 46 characters of the secret PIPEDRIVE_API_TOKEN in fake stderr line 2/);
    expect(takeLeaks()).toEqual([]); // assertNoLeaks cleared them
    watch.flush();
    expect(takeLeaks()).toEqual([expect.stringMatching(/11 of 46 characters .* fake stderr line 3/)]);
    stream.end();
  });
});

describe('one-off checks', () => {
  it('leakedFragment names the first fragment found; expectNoFragment throws without printing it', () => {
    expect(leakedFragment('nothing here', [TOKEN])).toBeUndefined();
    expect(leakedFragment(`x ${TOKEN.slice(20, 31)} y`, ['another-secret-value', TOKEN])).toBe(TOKEN.slice(20, 28));
    expect(() => expectNoFragment('clean text', TOKEN, 'log')).not.toThrow();
    expect(() => expectNoFragment(`a ${TOKEN.slice(3, 12)}`, [TOKEN], 'log')).toThrow(/9 of 46 characters of the secret secret #1 in log/);
    let message = '';
    try {
      expectNoFragment(TOKEN, TOKEN, 'here');
    } catch (e) {
      message = (e as Error).message;
    }
    for (const w of windows(TOKEN)) expect(message).not.toContain(w);
  });
});
