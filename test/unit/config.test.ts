import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DB, loadConfig, PROVIDERS } from '../../src/config.js';

const load = (argv: string[], env: Record<string, string> = {}) => loadConfig(argv, env, '/work');

describe('config', () => {
  it('defaults to stdio on the local provider with the home database', () => {
    const c = load([]);
    expect(c.connections).toEqual([{ name: 'local', provider: 'local', db: DEFAULT_DB }]);
    expect(c).toMatchObject({ http: false, port: 3333, host: '127.0.0.1', readOnly: false, toolsets: null, logLevel: 'info' });
  });

  it('takes flags over env vars and resolves --db against the working directory', () => {
    const c = load(['--db', 'crm.db', '--port', '4000', '--read-only'], { CRM_MCP_DB: '/x.db', CRM_MCP_PORT: '5000' });
    expect(c.connections[0]).toMatchObject({ db: '/work/crm.db' });
    expect(c.port).toBe(4000);
    expect(c.readOnly).toBe(true);
    expect(load([], { CRM_MCP_HTTP: '1', CRM_MCP_TOOLSETS: 'stages, deals' })).toMatchObject({
      http: true,
      toolsets: new Set(['stages', 'deals']),
    });
    expect(load(['--db', ':memory:']).connections[0]).toMatchObject({ db: ':memory:' });
  });

  it('names the bad setting in every error', () => {
    expect(() => load(['--port', 'abc'])).toThrow("--port must be a port number from 0 (any free port) to 65535 (got 'abc').");
    expect(() => load([], { CRM_MCP_PORT: '70000' })).toThrow(/^CRM_MCP_PORT must be/);
    expect(() => load(['--toolsets', 'stages,nope'])).toThrow(/--toolsets takes a comma list .* unknown: nope/);
    expect(() => load([], { CRM_MCP_READ_ONLY: 'maybe' })).toThrow("CRM_MCP_READ_ONLY must be 1 or 0 (got 'maybe').");
    expect(() => load([], { CRM_MCP_LOG_LEVEL: 'loud' })).toThrow(/^CRM_MCP_LOG_LEVEL must be one of/);
    expect(() => load(['--bogus'])).toThrow(/Unknown option '--bogus'.*see crm-mcp --help/);
    expect(() => load([], { CRM_PROVIDER: 'salesforce' })).toThrow(/CRM_PROVIDER must be one of local, pipedrive, truto/);
    expect(() => load([], { CRM_PROVIDER: 'planhat' })).toThrow(/not available yet.*TRUTO_INTEGRATION=planhat/);
    expect(() => load([], { CRM_PROVIDER: 'capsule' })).toThrow('CAPSULE_API_TOKEN is not set; it is needed for CRM_PROVIDER=capsule.');
    expect(load([], { CRM_MCP_AUTH_TOKEN: 'short' }).warnings).toEqual([
      expect.stringContaining('CRM_MCP_AUTH_TOKEN is shorter than 16 characters'),
    ]);
  });

  it('never echoes a base URL past scheme://host:port, names the setting, and refuses credentials and queries', () => {
    const secret = 'pdTOK3N-9f8e7d6c5b4a3921-SECRET-a1';
    const env = (baseUrl: string) => ({ CRM_PROVIDER: 'pipedrive', PIPEDRIVE_API_TOKEN: 'tok-123', PIPEDRIVE_BASE_URL: baseUrl });
    const cases: Array<[string, RegExp]> = [
      [`http://127.0.0.1:9/?api_token=${secret}`, /^PIPEDRIVE_BASE_URL \(http:\/\/127\.0\.0\.1:9\/…\) must not have a query string.*PIPEDRIVE_API_TOKEN/],
      [`https://proxy.example/x#${secret}`, /^PIPEDRIVE_BASE_URL \(https:\/\/proxy\.example\/…\) must not have a query string or fragment/],
      [`http://crm-user:${secret}@proxy.example:8443/t`, /^PIPEDRIVE_BASE_URL \(http:\/\/proxy\.example:8443\/…\) must not contain a user name or password/],
      [`ftp://proxy.example/${secret}`, /^PIPEDRIVE_BASE_URL must start with http:\/\/ or https:\/\//],
      [`not a url ${secret}`, /^PIPEDRIVE_BASE_URL must be an http\(s\) URL/],
    ];
    for (const [baseUrl, message] of cases) {
      let text = '';
      try {
        load([], env(baseUrl));
      } catch (e) {
        text = (e as Error).message;
      }
      expect(text, baseUrl).toMatch(message);
      for (let i = 0; i + 8 <= secret.length; i++) expect(text).not.toContain(secret.slice(i, i + 8));
      expect(text).not.toContain('crm-user');
    }
    // A token in the path is allowed (some proxies want it) and kept as given.
    expect(load([], env(`https://proxy.example/t/${secret}/`)).connections[0]).toMatchObject({ baseUrl: `https://proxy.example/t/${secret}` });
    expect(() => load([], { CRM_PROVIDER: 'truto', TRUTO_API_TOKEN: 't', TRUTO_INTEGRATED_ACCOUNT_ID: 'a', TRUTO_BASE_URL: `http://h/?k=${secret}` })).toThrow(
      /^TRUTO_BASE_URL \(http:\/\/h\/…\).*TRUTO_API_TOKEN/,
    );
  });

  it('refuses a blank CRM_MCP_AUTH_TOKEN, or one no client could send, without echoing it', () => {
    for (const blank of ['   ', '\t', ' \n ']) {
      expect(() => load(['--http'], { CRM_MCP_AUTH_TOKEN: blank })).toThrow(
        'CRM_MCP_AUTH_TOKEN is blank; set a long random token (openssl rand -hex 32) or unset it.',
      );
    }
    for (const padded of [' 0123456789abcdef0123', '0123456789abcdef0123\n', '0123456789abcdef0123\r']) {
      expect(() => load(['--http'], { CRM_MCP_AUTH_TOKEN: padded })).toThrow(/^CRM_MCP_AUTH_TOKEN starts or ends with whitespace[^0-9]*$/);
    }
    // Empty means unset; a long token passes without a word; a short one draws a warning only.
    expect(load(['--http'], { CRM_MCP_AUTH_TOKEN: '' }).authToken).toBeUndefined();
    expect(load(['--http'], { CRM_MCP_AUTH_TOKEN: 'a b c d e f g h i j' })).toMatchObject({ authToken: 'a b c d e f g h i j', warnings: [] });
    expect(load(['--http'], { CRM_MCP_AUTH_TOKEN: 'short' }).authToken).toBe('short');
  });

  it('needs the provider credentials and never echoes them', () => {
    expect(() => load([], { CRM_PROVIDER: 'pipedrive' })).toThrow('PIPEDRIVE_API_TOKEN is not set; it is needed for CRM_PROVIDER=pipedrive.');
    const c = load([], { CRM_PROVIDER: 'pipedrive', PIPEDRIVE_API_TOKEN: 'tok-123', PIPEDRIVE_BASE_URL: 'https://acme.pipedrive.com/' });
    expect(c.connections[0]).toEqual({ name: 'pipedrive', provider: 'pipedrive', apiToken: 'tok-123', baseUrl: 'https://acme.pipedrive.com' });
    expect(load([], { CRM_PROVIDER: 'pipedrive', PIPEDRIVE_API_TOKEN: 't', PIPEDRIVE_BURST_LIMIT: '100' }).connections[0]).toMatchObject({
      burstLimit: 100,
    });
    expect(() => load([], { CRM_PROVIDER: 'pipedrive', PIPEDRIVE_API_TOKEN: 't', PIPEDRIVE_BURST_LIMIT: 'lots' })).toThrow(
      "PIPEDRIVE_BURST_LIMIT must be a whole number of requests per 2 seconds, 1 to 1000 (got 'lots').",
    );
    expect(() => load([], { CRM_PROVIDER: 'truto', TRUTO_API_TOKEN: 't' })).toThrow(/TRUTO_INTEGRATED_ACCOUNT_ID is not set/);
    expect(() =>
      load([], { CRM_PROVIDER: 'truto', TRUTO_API_TOKEN: 't', TRUTO_INTEGRATED_ACCOUNT_ID: 'a', TRUTO_INTEGRATION: 'hubspot' }),
    ).toThrow(/TRUTO_INTEGRATION must be one of capsule/);
  });

  it('Outreach: an access token, or the OAuth client and refresh token (all three), and never echoes them', () => {
    expect(() => load([], { CRM_PROVIDER: 'outreach' })).toThrow(
      'OUTREACH_ACCESS_TOKEN is not set; it is needed for Outreach (or give OUTREACH_CLIENT_ID, OUTREACH_CLIENT_SECRET and OUTREACH_REFRESH_TOKEN so crm-mcp gets and renews tokens itself).',
    );
    expect(load([], { CRM_PROVIDER: 'outreach', OUTREACH_ACCESS_TOKEN: 'at-1', OUTREACH_BASE_URL: 'http://127.0.0.1:9/api/v2/' }).connections[0]).toEqual({
      name: 'outreach',
      provider: 'outreach',
      accessToken: 'at-1',
      oauth: undefined,
      baseUrl: 'http://127.0.0.1:9/api/v2',
    });
    const oauth = { OUTREACH_CLIENT_ID: 'cid', OUTREACH_CLIENT_SECRET: 'csecret-abcdef123', OUTREACH_REFRESH_TOKEN: 'rt-abcdef123456' };
    expect(load([], { CRM_PROVIDER: 'outreach', ...oauth, OUTREACH_REDIRECT_URI: 'https://app.example/cb' }).connections[0]).toMatchObject({
      accessToken: undefined,
      oauth: { clientId: 'cid', clientSecret: 'csecret-abcdef123', refreshToken: 'rt-abcdef123456', redirectUri: 'https://app.example/cb' },
    });
    let text = '';
    try {
      load([], { CRM_PROVIDER: 'outreach', OUTREACH_CLIENT_ID: 'cid', OUTREACH_CLIENT_SECRET: 'csecret-abcdef123' });
    } catch (e) {
      text = (e as Error).message;
    }
    expect(text).toBe(
      'OUTREACH_REFRESH_TOKEN is not set; OUTREACH_CLIENT_ID, OUTREACH_CLIENT_SECRET and OUTREACH_REFRESH_TOKEN go together (crm-mcp renews Outreach access tokens with all three).',
    );
    expect(text).not.toContain('csecret');
    expect(() => load([], { CRM_PROVIDER: 'outreach', ...oauth, OUTREACH_REDIRECT_URI: 'not a url' })).toThrow(/OUTREACH_REDIRECT_URI must be the redirect URI/);
    expect(() => load([], { CRM_PROVIDER: 'outreach', OUTREACH_ACCESS_TOKEN: 't', OUTREACH_BASE_URL: 'https://x.example/?token=s3cr3t-value' })).toThrow(
      /^OUTREACH_BASE_URL \(https:\/\/x\.example\/…\) must not have a query string/,
    );
  });

  describe('--config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'crm-mcp-config-'));
    const file = (name: string, body: unknown) => {
      const p = join(dir, name);
      writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
      return p;
    };

    it('reads several named connections with secrets from env vars', () => {
      const p = file('ok.json', {
        default: 'sales',
        connections: {
          demo: { provider: 'local', db: 'demo.db' },
          sales: { provider: 'pipedrive', api_token_env: 'PD_TOKEN' },
          delivery: { provider: 'truto', api_token_env: 'TRUTO_TOKEN', integrated_account_id: 'acc', integration: 'capsule' },
        },
      });
      const c = load(['--config', p], { PD_TOKEN: 'secret-pd', TRUTO_TOKEN: 'secret-truto' });
      expect(c.defaultConnection).toBe('sales');
      expect(c.connections).toEqual([
        { name: 'demo', provider: 'local', db: join(dir, 'demo.db') },
        { name: 'sales', provider: 'pipedrive', apiToken: 'secret-pd', baseUrl: undefined, burstLimit: undefined },
        { name: 'delivery', provider: 'truto', apiToken: 'secret-truto', integratedAccountId: 'acc', baseUrl: undefined, integration: 'capsule' },
      ]);
    });

    it('a Capsule connection: its token from an env var, its base URL checked like every other', () => {
      const p = file('capsule.json', { connections: { delivery: { provider: 'capsule', api_token_env: 'CAP_TOKEN', base_url: 'https://proxy.example/api/v2/' } } });
      expect(load(['--config', p], { CAP_TOKEN: 'secret-cap' }).connections).toEqual([
        { name: 'delivery', provider: 'capsule', apiToken: 'secret-cap', baseUrl: 'https://proxy.example/api/v2' },
      ]);
      expect(load([], { CRM_PROVIDER: 'capsule', CAPSULE_API_TOKEN: 'secret-cap' }).connections).toEqual([
        { name: 'capsule', provider: 'capsule', apiToken: 'secret-cap', baseUrl: undefined },
      ]);
      expect(() => load([], { CRM_PROVIDER: 'capsule', CAPSULE_API_TOKEN: 't', CAPSULE_BASE_URL: 'https://x.example/?token=abc' })).toThrow(
        /^CAPSULE_BASE_URL \(https:\/\/x\.example\/…\) must not have a query string.*CAPSULE_API_TOKEN/,
      );
    });

    it("the README's --config example loads, with every provider as a named connection", () => {
      const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
      const example = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]).find((j) => j.includes('"connections"'));
      expect(example, 'the README has no --config example').toBeDefined();
      const config = JSON.parse(example!.replaceAll('"…"', '"acc"')) as { connections: Record<string, Record<string, unknown>> };
      // Every secret the example names by env var (api_token_env, client_secret_env, ...), set.
      const env = Object.fromEntries(
        Object.values(config.connections).flatMap((c) => Object.entries(c).filter(([k]) => k.endsWith('_env')).map(([, v]) => [String(v), 'secret-from-env'])),
      );
      const c = load(['--config', file('readme.json', config)], env);
      expect(new Set(c.connections.map((x) => x.provider))).toEqual(new Set(PROVIDERS));
    });

    it('reads an Outreach connection: the token and OAuth secrets by env var name, the client id and redirect URI as they are', () => {
      const p = file('outreach.json', {
        connections: {
          outreach: {
            provider: 'outreach',
            api_token_env: 'OR_TOKEN',
            client_id: 'cid',
            client_secret_env: 'OR_SECRET',
            refresh_token_env: 'OR_REFRESH',
            redirect_uri: 'https://app.example/cb',
            base_url: 'https://api.outreach.io/api/v2',
          },
          renewing: { provider: 'outreach', client_id: 'cid', client_secret_env: 'OR_SECRET', refresh_token_env: 'OR_REFRESH' },
        },
      });
      const c = load(['--config', p], { OR_TOKEN: 'at-1', OR_SECRET: 'cs-1', OR_REFRESH: 'rt-1' });
      expect(c.connections).toEqual([
        {
          name: 'outreach',
          provider: 'outreach',
          accessToken: 'at-1',
          oauth: { clientId: 'cid', clientSecret: 'cs-1', refreshToken: 'rt-1', redirectUri: 'https://app.example/cb' },
          baseUrl: 'https://api.outreach.io/api/v2',
        },
        { name: 'renewing', provider: 'outreach', accessToken: undefined, oauth: { clientId: 'cid', clientSecret: 'cs-1', refreshToken: 'rt-1' }, baseUrl: undefined },
      ]);
      const half = file('outreach-half.json', { connections: { o: { provider: 'outreach', client_id: 'cid', client_secret_env: 'OR_SECRET' } } });
      expect(() => load(['--config', half], { OR_SECRET: 'cs-1' })).toThrow(/connection 'o' refresh_token_env is not set; .* go together/);
      const literal = file('outreach-literal.json', { connections: { o: { provider: 'outreach', client_secret: 'cs-literal' } } });
      expect(() => load(['--config', literal])).toThrow(/has 'client_secret'; secrets must not be stored in the file/);
    });

    it('refuses secrets stored in the file, without echoing them', () => {
      const p = file('secret.json', { connections: { sales: { provider: 'pipedrive', api_token: 'literal-secret' } } });
      let text = '';
      try {
        load(['--config', p]);
      } catch (e) {
        text = (e as Error).message;
      }
      expect(text).toContain("connection 'sales' has 'api_token'; secrets must not be stored in the file");
      expect(text).not.toContain('literal-secret');
    });

    it('names the missing env var, a bad default and unreadable JSON', () => {
      const missing = file('missing.json', { connections: { sales: { provider: 'pipedrive', api_token_env: 'NOPE_TOKEN' } } });
      expect(() => load(['--config', missing])).toThrow(/NOPE_TOKEN is not set; it is needed by --config .* connection 'sales'/);
      const bad = file('default.json', { default: 'x', connections: { demo: { provider: 'local' } } });
      expect(() => load(['--config', bad])).toThrow(/default 'x' is not one of the connections \(demo\)/);
      expect(() => load(['--config', file('broken.json', '{nope')])).toThrow(/cannot read it as JSON/);
      const unknownKey = file('unknown.json', { connections: { demo: { provider: 'local', colour: 'red' } } });
      expect(() => load(['--config', unknownKey])).toThrow(/connections\.demo/);
    });
  });
});

describe('config: insightly', () => {
  const key = 'b1d5f0c2-7a4e-4c3b-9e8d-insightly-key';
  it('takes the API key and the pod, or the API URL, and names what is missing', () => {
    expect(load([], { CRM_PROVIDER: 'insightly', INSIGHTLY_API_KEY: key, INSIGHTLY_POD: 'NA1' }).connections[0]).toEqual({
      name: 'insightly',
      provider: 'insightly',
      apiKey: key,
      pod: 'na1',
      baseUrl: undefined,
    });
    expect(load([], { CRM_PROVIDER: 'insightly', INSIGHTLY_API_KEY: key, INSIGHTLY_BASE_URL: 'https://api.eu1.insightly.com/v3.1/' }).connections[0]).toMatchObject({
      baseUrl: 'https://api.eu1.insightly.com/v3.1',
    });
    expect(() => load([], { CRM_PROVIDER: 'insightly', INSIGHTLY_POD: 'na1' })).toThrow('INSIGHTLY_API_KEY is not set; it is needed for CRM_PROVIDER=insightly.');
    expect(() => load([], { CRM_PROVIDER: 'insightly', INSIGHTLY_API_KEY: key })).toThrow(/^CRM_PROVIDER=insightly: INSIGHTLY_POD is not set.*na1.*INSIGHTLY_BASE_URL/);
    expect(() => load([], { CRM_PROVIDER: 'insightly', INSIGHTLY_API_KEY: key, INSIGHTLY_POD: 'na1/../x' })).toThrow(/^INSIGHTLY_POD must be a pod name/);
  });

  it('reads an Insightly connection from a config file, the key by env var name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'crm-mcp-config-'));
    const p = join(dir, 'insightly.json');
    writeFileSync(p, JSON.stringify({ connections: { delivery: { provider: 'insightly', api_token_env: 'IL_KEY', pod: 'eu1' } } }));
    expect(load(['--config', p], { IL_KEY: key }).connections).toEqual([
      { name: 'delivery', provider: 'insightly', apiKey: key, pod: 'eu1', baseUrl: undefined },
    ]);
    writeFileSync(p, JSON.stringify({ connections: { delivery: { provider: 'insightly', api_token_env: 'IL_KEY' } } }));
    expect(() => load(['--config', p], { IL_KEY: key })).toThrow(/connection 'delivery': pod is not set.*base_url/);
  });
});
