import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeServer, type RecordedRequest } from '../fakes/server.js';
import { HttpClient, closeAllPools, path, type Clock, type HttpClientOptions } from '../../src/crm/http.js';
import { CrmError } from '../../src/crm/errors.js';
import { expectNoFragment } from '../helpers/secrets.js';
import { createLogger } from '../../src/log.js';

const TOKEN = 'tok-SECRET-123/abc';

/** A clock the test moves by hand: no wall-time assertions, no flakiness under load. */
class ManualClock implements Clock {
  t = 0;
  private sleepers: Array<{ at: number; resolve: () => void }> = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = { at: this.t + ms, resolve };
      this.sleepers.push(s);
      signal?.addEventListener('abort', () => {
        this.sleepers = this.sleepers.filter((x) => x !== s);
        reject(signal.reason);
      });
    });
  }
  advance(ms: number): void {
    this.t += ms;
    const due = this.sleepers.filter((s) => s.at <= this.t);
    this.sleepers = this.sleepers.filter((s) => s.at > this.t);
    for (const s of due) s.resolve();
  }
}

const server = new FakeServer((r: RecordedRequest) => {
  if (r.path.startsWith('/api/v2/echo')) return { status: 200, body: { success: true, data: { method: r.method, body: r.body } } };
  if (r.path === '/api/v2/empty') return { status: 204 };
  return { status: 200, body: { success: true, data: { path: r.path } } };
});
let base = '';

beforeAll(async () => {
  base = await server.start();
});
afterEach(() => server.reset());
afterAll(async () => {
  await closeAllPools();
  await server.stop();
});

function client(extra: Partial<HttpClientOptions> = {}): HttpClient {
  return new HttpClient({
    provider: 'Pipedrive',
    baseUrl: base,
    headers: { 'x-api-token': TOKEN },
    retryBaseMs: 1,
    describeError: (_status, body) => {
      const b = body as { error?: string; error_info?: string } | undefined;
      return b?.error ? [b.error, b.error_info].filter(Boolean).join(' — ') : undefined;
    },
    ...extra,
  });
}

async function failure(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CrmError);
    return e as CrmError;
  }
  throw new Error('expected the request to fail');
}

describe('reads retry', () => {
  it('retries a GET after 429 with Retry-After: 1, then succeeds', async () => {
    server.inject({ kind: 'status', status: 429, headers: { 'Retry-After': '1' }, body: { success: false, error: 'Request over limit' } });
    const res = await client().request<{ data: { path: string } }>({ method: 'GET', path: '/api/v2/pipelines' });
    expect(res.status).toBe(200);
    expect(res.body.data.path).toBe('/api/v2/pipelines');
    expect(server.requests).toHaveLength(2);
  });

  it('retries a GET after 503', async () => {
    server.inject({ kind: 'status', status: 503, body: { success: false, error: 'Requested service is not available' } });
    const res = await client().request({ method: 'GET', path: '/api/v2/stages' });
    expect(res.status).toBe(200);
    expect(server.requests).toHaveLength(2);
  });

  it('retries a GET after the socket is reset', async () => {
    server.inject({ kind: 'reset' });
    const res = await client().request({ method: 'GET', path: '/api/v2/stages' });
    expect(res.status).toBe(200);
    expect(server.requests).toHaveLength(2);
  });

  it('honours x-ratelimit-reset (seconds left) on a 429', async () => {
    server.inject({ kind: 'status', status: 429, headers: { 'x-ratelimit-reset': '0' } });
    await client().request({ method: 'GET', path: '/api/v2/stages' });
    expect(server.requests).toHaveLength(2);
  });

  it('stops when the server asks for a wait beyond the budget: rate_limited with retryAfterSeconds', async () => {
    server.inject({ kind: 'status', status: 429, headers: { 'Retry-After': '30' }, body: { success: false, error: 'Request over limit' } });
    const e = await failure(client({ maxRetryWaitMs: 8000 }).request({ method: 'GET', path: '/api/v2/deals' }));
    expect(e.kind).toBe('rate_limited');
    expect(e.retryAfterSeconds).toBe(30);
    expect(e.message).toContain('Pipedrive is rate limiting this token; retry in about 30 s.');
    expect(server.requests).toHaveLength(1);
  });

  it('reads x-ratelimit-reset as an epoch time when it is large, and Retry-After as an HTTP-date', async () => {
    const epoch = Math.floor(Date.now() / 1000) + 120;
    server.inject({ kind: 'status', status: 429, headers: { 'x-ratelimit-reset': String(epoch) } });
    const e1 = await failure(client().request({ method: 'GET', path: '/api/v2/deals' }));
    expect(e1.kind).toBe('rate_limited');
    expect(e1.retryAfterSeconds).toBeGreaterThan(100);
    expect(e1.retryAfterSeconds).toBeLessThanOrEqual(121);

    server.inject({ kind: 'status', status: 503, headers: { 'Retry-After': new Date(Date.now() + 3_600_000).toUTCString() } });
    const e2 = await failure(client().request({ method: 'GET', path: '/api/v2/deals' }));
    expect(e2.kind).toBe('upstream');
    expect(e2.retryAfterSeconds).toBeGreaterThan(3000);
    expect(e2.message).toMatch(/retry in about 60 min/);
  });

  it('gives up after maxAttempts on persistent 5xx with an upstream error', async () => {
    server.inject({ kind: 'status', status: 502, body: 'Bad gateway' }, { times: 10 });
    const e = await failure(client({ maxAttempts: 3 }).request({ method: 'GET', path: '/api/v2/stages' }));
    expect(e.kind).toBe('upstream');
    expect(e.status).toBe(502);
    expect(e.message).toContain('after 3 attempts');
    expect(server.requests).toHaveLength(3);
  });
});

describe('writes are never retried blindly', () => {
  it('sends a POST meeting a 500 once and says the write may or may not have happened', async () => {
    server.inject({ kind: 'status', status: 500, body: { success: false, error: 'Internal error' } });
    const e = await failure(client().request({ method: 'POST', path: '/api/v2/stages', body: { name: 'Won' } }));
    expect(e.kind).toBe('upstream');
    expect(e.message).toContain('may or may not have happened');
    expect(e.message).toContain('Internal error');
    expect(server.requests).toHaveLength(1);
  });

  it('sends a POST meeting a reset once', async () => {
    server.inject({ kind: 'reset' });
    const e = await failure(client().request({ method: 'POST', path: '/api/v2/stages', body: { name: 'Won' } }));
    expect(e.kind).toBe('upstream');
    expect(e.message).toContain('may or may not have happened');
    expect(server.requests).toHaveLength(1);
  });

  it('retries a POST meeting a 429 (nothing was written)', async () => {
    server.inject({ kind: 'status', status: 429, headers: { 'Retry-After': '0' } });
    const res = await client().request<{ data: { body: unknown } }>({ method: 'POST', path: '/api/v2/echo', body: { name: 'Won' } });
    expect(res.body.data.body).toEqual({ name: 'Won' });
    expect(server.requests).toHaveLength(2);
    expect(server.requests.map((r) => r.body)).toEqual([{ name: 'Won' }, { name: 'Won' }]);
  });

  it('retries a POST with an idempotency key on 502 and sends the key both times', async () => {
    server.inject({ kind: 'status', status: 502 });
    const res = await client().request({ method: 'POST', path: '/api/v2/echo', body: { name: 'x' }, idempotencyKey: 'key-42' });
    expect(res.status).toBe(200);
    expect(server.requests).toHaveLength(2);
    expect(server.requests.map((r) => r.headers['idempotency-key'])).toEqual(['key-42', 'key-42']);
  });

  it('keeps a hung upstream within the call deadline: attempts get only the time left', async () => {
    server.inject({ kind: 'delay', ms: 5_000 }, { times: 30 });
    const e = await failure(
      client({ maxAttempts: 20, deadlineMs: 2_500, timeouts: { headersMs: 300 } }).request({ method: 'GET', path: '/api/v2/slow' }),
    );
    expect(e.kind).toBe('upstream');
    // Without the deadline twenty 300 ms attempts would run (6 s); no retry starts with under 1 s
    // left of the 2.5 s, so at most six fit.
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
    expect(server.requests.length).toBeLessThanOrEqual(6);
  });

  it('does not promise a safe retry with a key the caller never had', async () => {
    server.inject({ kind: 'status', status: 500 }, { times: 10 });
    const req = { method: 'POST' as const, path: '/api/v2/echo', body: {}, idempotencyKey: 'made-up-1' };
    const generated = await failure(client().request({ ...req, idempotencyKeyGenerated: true }));
    expect(generated.message).toContain('may or may not have happened');
    expect(generated.message).toContain('Pass idempotency_key');
    expect(generated.message).not.toContain('same idempotency key is safe');
    const own = await failure(client().request(req));
    expect(own.message).toContain('Retrying with the same idempotency key is safe.');
  });

  it('says nothing was written when the connection is refused', async () => {
    const dead = new FakeServer(() => ({ status: 200 }));
    const deadBase = await dead.start();
    await dead.stop();
    const e = await failure(
      new HttpClient({ provider: 'Pipedrive', baseUrl: deadBase, retryBaseMs: 1, maxAttempts: 2 }).request({
        method: 'POST',
        path: '/api/v2/stages',
        body: {},
      }),
    );
    expect(e.kind).toBe('upstream');
    expect(e.message).toContain('connection refused');
    expect(e.message).toContain('Nothing was written');
    expect(e.nothingSent).toBe(true);
  });
});

describe('error mapping', () => {
  it('retries a read answered with malformed JSON, like a 502, and says so when it persists', async () => {
    server.inject({ kind: 'malformed' });
    const res = await client().request<{ data: { path: string } }>({ method: 'GET', path: '/api/v2/stages' });
    expect(res.body.data.path).toBe('/api/v2/stages');
    expect(server.requests).toHaveLength(2);

    server.reset();
    server.inject({ kind: 'malformed' }, { times: 10 });
    const e = await failure(client({ maxAttempts: 3 }).request({ method: 'GET', path: '/api/v2/stages' }));
    expect(e.kind).toBe('upstream');
    expect(e.message).toContain('not valid JSON (after 3 attempts)');
    expect(server.requests).toHaveLength(3);
  });

  it('never resends a write answered with malformed JSON, keyed or not, and says how to check', async () => {
    server.inject({ kind: 'malformed' }, { times: 4 });
    const plain = await failure(client().request({ method: 'POST', path: '/api/v2/echo', body: { name: 'x' } }));
    expect(plain.message).toContain('not valid JSON');
    expect(plain.message).toContain('may or may not have happened; check with a read');
    const withKey = await failure(client().request({ method: 'POST', path: '/api/v2/echo', body: { name: 'x' }, idempotencyKey: 'k-1' }));
    expect(withKey.message).toContain('repeating it with the same idempotency_key is safe');
    expect(server.requests).toHaveLength(2);
  });

  it('maps statuses to kinds and keeps the provider message', async () => {
    const cases: Array<[number, string]> = [
      [400, 'validation'],
      [422, 'validation'],
      [401, 'auth'],
      [403, 'auth'],
      [404, 'not_found'],
      [409, 'conflict'],
    ];
    for (const [status, kind] of cases) {
      server.inject({ kind: 'status', status, body: { success: false, error: `boom ${status}`, error_info: 'Please check developers.pipedrive.com' } });
      const e = await failure(client().request({ method: 'GET', path: '/api/v2/stages/1' }));
      expect(e.kind).toBe(kind);
      expect(e.status).toBe(status);
      expect(e.message).toContain(`boom ${status}`);
      expect(e.message).not.toMatch(/\n\s+at /);
    }
    server.inject({ kind: 'status', status: 401, body: { success: false, error: 'unauthorized access' } });
    const e = await failure(client().request({ method: 'GET', path: '/api/v2/stages/1' }));
    expect(e.message).toContain('Check the API token');
  });

  it('returns undefined for an empty 2xx body', async () => {
    const res = await client().request({ method: 'DELETE', path: '/api/v2/empty' });
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
  });
});

describe('cancellation', () => {
  it('aborts an in-flight slow request promptly with kind cancelled', async () => {
    server.inject({ kind: 'delay', ms: 60_000 });
    const ac = new AbortController();
    const p = failure(client().request({ method: 'GET', path: '/api/v2/stages', signal: ac.signal }));
    await vi.waitFor(() => expect(server.requests).toHaveLength(1));
    ac.abort();
    const e = await p;
    expect(e.kind).toBe('cancelled');
    expect(server.requests).toHaveLength(1);
  });

  it('aborts a retry wait', async () => {
    server.inject({ kind: 'status', status: 503, headers: { 'Retry-After': '5' } });
    const ac = new AbortController();
    const p = failure(client().request({ method: 'GET', path: '/api/v2/stages', signal: ac.signal }));
    await vi.waitFor(() => expect(server.requests).toHaveLength(1));
    ac.abort();
    expect((await p).kind).toBe('cancelled');
  });
});

describe('client-side limiter', () => {
  it('spaces requests by the token bucket, in order, and aborts queued ones', async () => {
    const clock = new ManualClock();
    const c = client({ clock, limiter: { capacity: 2, windowMs: 1000 } });
    const get = (n: number, signal?: AbortSignal) => c.request({ method: 'GET', path: path`/api/v2/r/${n}`, signal });
    const first = Promise.all([get(1), get(2)]);
    const third = get(3);
    const fourth = get(4);
    const ac = new AbortController();
    const fifth = failure(get(5, ac.signal));
    await first;
    // 1 and 2 go out together on two sockets, so their arrival order is not defined.
    const paths = () => server.requests.map((r) => r.path);
    expect(paths().slice(0, 2).sort()).toEqual(['/api/v2/r/1', '/api/v2/r/2']);
    expect(paths()).toHaveLength(2);

    ac.abort();
    expect((await fifth).kind).toBe('cancelled');

    clock.advance(500); // one token back
    await third;
    expect(paths().slice(2)).toEqual(['/api/v2/r/3']);

    clock.advance(499); // not quite another token
    await new Promise((r) => setTimeout(r, 20));
    expect(server.requests).toHaveLength(3);

    clock.advance(1);
    await fourth;
    expect(paths().slice(2)).toEqual(['/api/v2/r/3', '/api/v2/r/4']);
  });
});

describe('paths and queries', () => {
  it('encodes ids so they cannot escape their route', async () => {
    const p = path`/api/v2/pipelines/${'1/../2'}`;
    expect(p).toBe('/api/v2/pipelines/1%2F..%2F2');
    await client().request({ method: 'GET', path: p });
    expect(server.requests[0].path).toBe('/api/v2/pipelines/1%2F..%2F2');
    expect(path`/a/${12}/b/${'x y?#'}`).toBe('/a/12/b/x%20y%3F%23');
  });

  it("rejects '', '.' and '..' ids, dot segments and other origins", async () => {
    for (const bad of ['', '.', '..']) expect(() => path`/api/v2/stages/${bad}`).toThrow(CrmError);
    const c = client();
    await expect(c.request({ method: 'GET', path: '/api/v2/../v1/users' })).rejects.toMatchObject({ kind: 'validation' });
    await expect(c.request({ method: 'GET', path: '//evil.example/steal' })).rejects.toMatchObject({ kind: 'validation' });
    await expect(c.request({ method: 'GET', path: 'api/v2/stages' })).rejects.toMatchObject({ kind: 'validation' });
    expect(server.requests).toHaveLength(0);
  });

  it('prefixes the base path and encodes queries with qs brackets', async () => {
    const c = client({ baseUrl: `${base}/unified/crm/` });
    const query = {
      integrated_account_id: 'acc-1',
      truto_exclude_fields: ['id', 'name'],
      remote_query: { foo: 'bar', nested: { a: 'b' } },
      limit: 50,
      truto_ignore_limit: true,
      skipped: undefined,
    };
    const target = c.target({ path: '/stages', query });
    await c.request({ method: 'GET', path: '/stages', query });
    const r = server.requests[0];
    expect(r.rawUrl).toBe(target);
    expect(r.path).toBe('/unified/crm/stages');
    expect(r.rawUrl).toContain('truto_exclude_fields%5B%5D=id&truto_exclude_fields%5B%5D=name');
    expect(r.rawUrl).not.toContain('skipped');
    expect(r.query).toEqual({
      integrated_account_id: 'acc-1',
      truto_exclude_fields: ['id', 'name'],
      remote_query: { foo: 'bar', nested: { a: 'b' } },
      limit: '50',
      truto_ignore_limit: 'true',
    });
  });

  it('sends JSON bodies, auth headers and header overrides', async () => {
    await client().request({
      method: 'PATCH',
      path: '/api/v2/echo',
      body: { data: { type: 'stage' } },
      headers: { 'Content-Type': 'application/vnd.api+json' },
    });
    const r = server.requests[0];
    expect(r.method).toBe('PATCH');
    expect(r.headers['content-type']).toBe('application/vnd.api+json');
    expect(r.headers['x-api-token']).toBe(TOKEN);
    expect(r.body).toEqual({ data: { type: 'stage' } });
  });
});

describe('redaction', () => {
  it('strips secrets echoed by the upstream (plain and URL-encoded) from messages and logs', async () => {
    const lines: string[] = [];
    const logger = createLogger('debug', (s) => void lines.push(s));
    server.inject({
      kind: 'status',
      status: 401,
      body: { success: false, error: `Invalid token ${TOKEN}`, error_info: `see ?api_token=${encodeURIComponent(TOKEN)} and other-secret-xyz` },
    });
    const e = await failure(
      client({ logger, secrets: ['other-secret-xyz'] }).request({
        method: 'GET',
        path: '/api/v2/stages',
        query: { api_token: TOKEN },
      }),
    );
    expect(e.kind).toBe('auth');
    expect(e.message).toContain('[REDACTED]');
    for (const text of [e.message, ...lines]) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(encodeURIComponent(TOKEN));
      expect(text).not.toContain('other-secret-xyz');
    }
    expect(lines.some((l) => l.includes('upstream request'))).toBe(true);
  });

  it('redacts the credential inside Bearer and Basic header values', async () => {
    const basic = Buffer.from('alice:hunter2-pass').toString('base64');
    server.inject({ kind: 'status', status: 403, body: { message: 'token abcd-efgh-ijkl user alice pw hunter2-pass not allowed' } });
    const e = await failure(
      new HttpClient({
        provider: 'Truto',
        baseUrl: base,
        headers: { authorization: 'Bearer abcd-efgh-ijkl', 'x-basic': `Basic ${basic}` },
      }).request({ method: 'GET', path: '/x' }),
    );
    expect(e.kind).toBe('auth');
    expect(e.message).not.toContain('abcd-efgh-ijkl');
    expect(e.message).not.toContain('hunter2-pass');
    expect(e.message).toContain('not allowed');
  });
});

describe('secret fragments never survive an excerpt', () => {
  const SECRET = 'pdTOK3N-9f8e7d6c5b4a3921-SECRET-a1b2c3d4e5';
  const pad = (n: number) => 'x'.repeat(Math.max(0, n - 7)) + ' token ';

  it('redacts before cutting, at every offset around the cut, on every error path', async () => {
    const lines: string[] = [];
    const logger = createLogger('debug', (s) => void lines.push(s));
    const c = client({ headers: { 'x-api-token': SECRET }, logger, maxAttempts: 2, maxRetryWaitMs: 1000 });
    let checked = 0;
    for (let offset = 250; offset <= 350; offset++) {
      const body = { success: false, error: `${pad(offset)}${SECRET} was refused; see the docs.` };
      const paths: Array<[string, () => void]> = [
        ['400', () => server.inject({ kind: 'status', status: 400, body })],
        ['503 exhausted', () => server.inject({ kind: 'status', status: 503, body }, { times: 2 })],
        ['429 exhausted', () => server.inject({ kind: 'status', status: 429, headers: { 'Retry-After': '60' }, body })],
      ];
      for (const [what, inject] of paths) {
        server.reset();
        inject();
        const e = await failure(c.request({ method: 'GET', path: '/api/v2/deals' }));
        expectNoFragment(e.message, SECRET, `${what} at offset ${offset}`);
        expect(e.message.length).toBeLessThan(600);
        checked++;
      }
    }
    expect(checked).toBe(303);
    for (const l of lines) expectNoFragment(l, SECRET, 'log');
  });

  it('removes a token the upstream itself echoed only in part, wherever it stands', async () => {
    for (const part of [SECRET.slice(0, 12), SECRET.slice(9, 30), SECRET.slice(-8)]) {
      server.reset();
      server.inject({ kind: 'status', status: 401, body: { success: false, error: `Invalid token '${part}…' for company acme` } });
      const e = await failure(client({ headers: { 'x-api-token': SECRET } }).request({ method: 'GET', path: '/api/v2/deals' }));
      expectNoFragment(e.message, SECRET, part);
      expect(e.message).toContain('for company acme');
    }
  });

  it('keeps ordinary text: a secret shorter than 8 characters is redacted whole only', async () => {
    server.inject({ kind: 'status', status: 400, body: { success: false, error: 'field title is required' } });
    const e = await failure(client({ headers: { 'x-api-token': 'Bearer title-is' } }).request({ method: 'GET', path: '/x' }));
    expect(e.message).toContain('field title is required');
  });
});

describe('a token inside the configured base URL', () => {
  const PATH_TOKEN = 'pTOK-77aa88bb99cc00dd';
  const QUERY_TOKEN = 'qTOK-11ee22ff33gg44hh';
  const PASSWORD = 'pw-5566778899aabbcc';

  it('never reaches a dry-run path, a message or a log line', async () => {
    const lines: string[] = [];
    const logger = createLogger('debug', (s) => void lines.push(s));
    const withSecrets = `${base.replace('http://', `http://crm:${PASSWORD}@`)}/t/${PATH_TOKEN}/?api_token=${QUERY_TOKEN}`;
    const c = client({ baseUrl: withSecrets, logger });
    expect(c.shownPath({ path: '/api/v2/deals', query: { limit: 5 } })).toBe('/api/v2/deals?limit=5');
    expect(c.target({ path: '/api/v2/deals' })).toBe(`/t/${PATH_TOKEN}/api/v2/deals`);
    server.inject({
      kind: 'status',
      status: 404,
      body: { success: false, error: `No route ${withSecrets}api/v2/deals (user crm:${PASSWORD}, key ${QUERY_TOKEN}, path /t/${PATH_TOKEN})` },
    });
    const e = await failure(c.request({ method: 'GET', path: '/api/v2/deals' }));
    expect(server.requests[0].path).toBe(`/t/${PATH_TOKEN}/api/v2/deals`);
    for (const text of [e.message, ...lines]) {
      for (const secret of [PATH_TOKEN, QUERY_TOKEN, PASSWORD]) expectNoFragment(text, secret, 'base URL secret');
    }
    expect(e.message).toContain('No route');
  });

  it('leaves ordinary path words of a base URL alone', async () => {
    server.inject({ kind: 'status', status: 400, body: { success: false, error: 'Region pipedrive-eu-west-1 rejects api v2 filters' } });
    const c = client({ baseUrl: `${base}/proxy/pipedrive-eu-west-1/api` });
    const e = await failure(c.request({ method: 'GET', path: '/v2/deals' }));
    expect(e.message).toContain('Region pipedrive-eu-west-1 rejects api v2 filters');
  });
});

describe('answers are read up to a bound', () => {
  it('stops reading a success larger than maxResponseBytes, declared or streamed, and does not retry it', async () => {
    for (const declareLength of [true, false]) {
      server.reset();
      server.inject({ kind: 'oversize', bytes: 1024 * 1024, declareLength });
      const e = await failure(client({ maxResponseBytes: 64 * 1024 }).request({ method: 'GET', path: '/api/v2/deals/1' }));
      expect(e.kind).toBe('upstream');
      expect(e.message).toBe('Pipedrive answered with more than 64 KB; narrow the request (limit, filters).');
      expect(server.requests).toHaveLength(1);
    }
  });

  it('is 8 MB by default, and an answer under the bound reads normally', async () => {
    server.inject({ kind: 'oversize', bytes: 9 * 1024 * 1024 });
    const e = await failure(client().request({ method: 'GET', path: '/api/v2/deals/1' }));
    expect(e.message).toContain('more than 8 MB');
    server.inject({ kind: 'oversize', bytes: 200 * 1024, declareLength: false });
    const res = await client({ maxResponseBytes: 256 * 1024 }).request<{ data: { name: string } }>({ method: 'GET', path: '/x' });
    expect(res.body.data.name).toHaveLength(200 * 1024 - '{"success":true,"data":{"id":1,"name":""}}'.length);
  });

  it('reads only the start of a huge error answer, and quotes a short excerpt of it', async () => {
    server.inject({ kind: 'status', status: 400, body: { success: false, error: `Field title is too long: ${'T'.repeat(2_000_000)}` } });
    const e = await failure(client().request({ method: 'GET', path: '/api/v2/deals/1' }));
    expect(e.kind).toBe('validation');
    expect(e.message).toMatch(/^Pipedrive rejected the request \(400\): \{"success":false,"error":"Field title is too long: T+…\.$/);
    expect(e.message.length).toBeLessThan(400);
  });

  it('a write whose success answer is too large says it may have happened', async () => {
    server.inject({ kind: 'oversize', bytes: 128 * 1024 });
    const e = await failure(client({ maxResponseBytes: 64 * 1024 }).request({ method: 'POST', path: '/api/v2/deals', body: { title: 'x' } }));
    expect(e.message).toContain('accepted the request (200) but its answer was larger than 64 KB');
    expect(e.message).toContain('may or may not have happened');
    expect(server.requests).toHaveLength(1);
  });
});

describe('the call deadline covers the limiter', () => {
  it('fails at once, unsent, when the limiter would hold a call past the deadline, and says when to retry', async () => {
    const clock = new ManualClock();
    const c = client({ clock, limiter: { capacity: 1, windowMs: 60_000 }, deadlineMs: 2_000 });
    await c.request({ method: 'GET', path: '/api/v2/r/1' });
    const second = c.request({ method: 'GET', path: '/api/v2/r/2' }).then(
      () => 'sent',
      (e: unknown) => e,
    );
    // With a manual clock a queued request would wait forever: it must not wait at all.
    const outcome = await Promise.race([second, new Promise((r) => setTimeout(() => r('still waiting'), 2_000))]);
    expect(outcome).toBeInstanceOf(CrmError);
    const e = outcome as CrmError;
    expect(e.kind).toBe('rate_limited');
    expect(e.nothingSent).toBe(true);
    expect(e.retryAfterSeconds).toBe(60);
    expect(e.message).toMatch(/pacing requests to Pipedrive .*1 requests per 60 s.*nothing was sent\. Retry in about 60 s\./);
    expect(server.requests).toHaveLength(1);
    // Once the window has passed the next call goes out.
    clock.advance(60_000);
    await c.request({ method: 'GET', path: '/api/v2/r/3' });
    expect(server.requests.map((r) => r.path)).toEqual(['/api/v2/r/1', '/api/v2/r/3']);
  });

  it('still queues a call whose limiter wait fits in the deadline', async () => {
    const clock = new ManualClock();
    const c = client({ clock, limiter: { capacity: 1, windowMs: 1_000 }, deadlineMs: 5_000 });
    await c.request({ method: 'GET', path: '/a' });
    const p = c.request({ method: 'GET', path: '/b' });
    await new Promise((r) => setTimeout(r, 20));
    expect(server.requests).toHaveLength(1);
    clock.advance(1_000);
    await p;
    expect(server.requests).toHaveLength(2);
  });
});

describe('retry waits', () => {
  it('reads x-ratelimit-reset in epoch milliseconds', async () => {
    const clock = new ManualClock();
    clock.t = Date.parse('2026-11-20T12:00:00Z');
    server.inject({ kind: 'status', status: 429, headers: { 'x-ratelimit-reset': String(clock.t + 45_000) } });
    const e = await failure(client({ clock }).request({ method: 'GET', path: '/api/v2/deals' }));
    expect(e.kind).toBe('rate_limited');
    expect(e.retryAfterSeconds).toBe(45);
    // In seconds since the epoch it means the same instant.
    server.inject({ kind: 'status', status: 429, headers: { 'x-ratelimit-reset': String(clock.t / 1000 + 45) } });
    expect((await failure(client({ clock }).request({ method: 'GET', path: '/api/v2/deals' }))).retryAfterSeconds).toBe(45);
  });

  it('never resends a DELETE, even one given an idempotency key', async () => {
    server.inject({ kind: 'status', status: 502 }, { times: 5 });
    const e = await failure(client().request({ method: 'DELETE', path: '/api/v2/deals/1', idempotencyKey: 'k-del' }));
    expect(e.message).toContain('may or may not have happened');
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0].headers['idempotency-key']).toBeUndefined();
  });
});

describe('a spent quota', () => {
  it('answers a 429 the provider reads as a spent daily quota at once, unretried, in its own words', async () => {
    server.inject({ kind: 'status', status: 429, headers: { 'X-RateLimit-Remaining': '0', 'Retry-After': '0' } }, { times: 5 });
    const spent = (h: Record<string, string>) => (h['x-ratelimit-remaining'] === '0' ? 'The daily quota is used up; it resets tomorrow.' : undefined);
    const e = await failure(client({ quotaExhausted: spent }).request({ method: 'GET', path: '/api/v2/deals' }));
    expect(e.kind).toBe('rate_limited');
    expect(e.status).toBe(429);
    expect(e.message).toBe('The daily quota is used up; it resets tomorrow.');
    expect(server.requests).toHaveLength(1);
    // A 429 the reading does not claim is retried as before.
    server.reset();
    server.inject({ kind: 'status', status: 429, headers: { 'X-RateLimit-Remaining': '7', 'Retry-After': '0' } });
    await client({ quotaExhausted: spent }).request({ method: 'GET', path: '/api/v2/deals' });
    expect(server.requests).toHaveLength(2);
  });
});

describe('credentials that change while the client runs (AuthRenewal, setAuth)', () => {
  const OLD = 'old-access-token-7f3a9c2e1b';
  const NEW = 'new-access-token-4d8b6e0a5c';
  const ROTATED = 'rotated-refresh-token-9e2c7a4f1d';

  /** A client whose renewal installs NEW; `fail` makes the renewal throw instead. */
  function renewing(opts: { fail?: CrmError; onRenew?: () => void } = {}) {
    let renewals = 0;
    const c: HttpClient = new HttpClient({
      provider: 'Outreach',
      baseUrl: base,
      headers: { authorization: `Bearer ${OLD}` },
      retryBaseMs: 1,
      renewal: {
        async afterUnauthorized() {
          renewals += 1;
          opts.onRenew?.();
          if (opts.fail) throw opts.fail;
          c.setAuth({ authorization: `Bearer ${NEW}` }, [ROTATED]);
          return true;
        },
      },
    });
    return { c, renewals: () => renewals };
  }

  it('after a 401, renews once and repeats the request with the new header; a write too (a 401 wrote nothing)', async () => {
    const { c, renewals } = renewing();
    server.inject({ kind: 'status', status: 401, body: { errors: [{ detail: 'The access token expired.' }] } });
    const res = await c.request<{ data: { method: string } }>({ method: 'POST', path: '/api/v2/echo', body: { a: 1 } });
    expect(res.body.data.method).toBe('POST');
    expect(renewals()).toBe(1);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${OLD}`, `Bearer ${NEW}`]);
    expect(server.requests[1].body).toEqual({ a: 1 });
  });

  it('a second 401 after renewing is an auth error, not a loop', async () => {
    const { c, renewals } = renewing();
    server.inject({ kind: 'status', status: 401, body: { message: 'no' } }, { times: 5 });
    const e = await failure(c.request({ method: 'GET', path: '/api/v2/stages' }));
    expect(e.kind).toBe('auth');
    expect(renewals()).toBe(1);
    expect(server.requests).toHaveLength(2);
  });

  it('a 401 to a request sent with credentials another request has since renewed is repeated without renewing again', async () => {
    const { c, renewals } = renewing();
    server.inject({ kind: 'status', status: 401 }, { times: 2 });
    // Both go out with OLD; the first 401 renews, the second sees new credentials and just repeats.
    await Promise.all([c.request({ method: 'GET', path: '/api/v2/a' }), c.request({ method: 'GET', path: '/api/v2/b' })]);
    expect(renewals()).toBe(1);
    expect(server.requests.filter((r) => r.headers.authorization === `Bearer ${NEW}`)).toHaveLength(2);
  });

  it('a failed renewal reaches the caller redacted, marked as nothing done', async () => {
    const { c } = renewing({ fail: new CrmError('auth', `Outreach refused refresh token ${ROTATED} and ${OLD}.`) });
    c.addSecrets([ROTATED]);
    server.inject({ kind: 'status', status: 401 });
    const e = await failure(c.request({ method: 'GET', path: '/api/v2/stages' }));
    expect(e.kind).toBe('auth');
    expect(e.nothingSent).toBe(true);
    expect(e.message).toContain('Outreach refused refresh token');
    expectNoFragment(e.message, [ROTATED, OLD], 'renewal error');
  });

  it('redacts credentials set after construction, and keeps redacting the old ones', async () => {
    const c = client();
    c.setAuth({ authorization: `Bearer ${NEW}` }, [ROTATED]);
    server.inject({ kind: 'status', status: 400, body: { success: false, error: `echo ${NEW} ${ROTATED} ${TOKEN}` } });
    const e = await failure(c.request({ method: 'GET', path: '/api/v2/x' }));
    expect(server.requests[0].headers.authorization).toBe(`Bearer ${NEW}`);
    expect(server.requests[0].headers['x-api-token']).toBeUndefined();
    expectNoFragment(e.message, [NEW, ROTATED, TOKEN], 'echoed credentials');
  });

  it('runs beforeRequest before every request (a renewal ahead of expiry)', async () => {
    let calls = 0;
    const c: HttpClient = new HttpClient({
      provider: 'Outreach',
      baseUrl: base,
      renewal: {
        async beforeRequest() {
          calls += 1;
          if (calls === 1) c.setAuth({ authorization: `Bearer ${NEW}` });
        },
        afterUnauthorized: async () => false,
      },
    });
    await c.request({ method: 'GET', path: '/api/v2/a' });
    await c.request({ method: 'GET', path: '/api/v2/b' });
    expect(calls).toBe(2);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${NEW}`, `Bearer ${NEW}`]);
  });

  it('sends a form body as application/x-www-form-urlencoded', async () => {
    await client().request({ method: 'POST', path: '/api/v2/echo', form: { grant_type: 'refresh_token', refresh_token: 'a b&c' } });
    const r = server.requests[0];
    expect(r.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(r.body).toBe('grant_type=refresh_token&refresh_token=a+b%26c');
  });
});
