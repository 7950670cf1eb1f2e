/**
 * Prepared writes (src/crm/writes.ts): what a dry run shows and what is sent come from one
 * description, so they match; the Idempotency-Key is shown only when the caller chose it; and what
 * follows an accepted write is best effort.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, closeAllPools, path } from '../../src/crm/http.js';
import { afterWrite, prepareRequest } from '../../src/crm/writes.js';
import { FakeServer } from '../fakes/server.js';

const server = new FakeServer((r) => ({ status: r.method === 'DELETE' ? 204 : 200, body: r.method === 'DELETE' ? undefined : { id: 7, echo: r.body } }));
let http: HttpClient;

beforeAll(async () => {
  const url = await server.start();
  server.basePath = '/api/v2';
  http = new HttpClient({ provider: 'TestCRM', baseUrl: `${url}/api/v2`, headers: { authorization: 'Bearer tok-WRITES-0123456789' }, retryBaseMs: 1 });
});
afterEach(() => server.reset());
afterAll(async () => {
  await closeAllPools();
  await server.stop();
});

describe('prepareRequest', () => {
  it('shows the path under the base, the query and the body, and sends exactly that', async () => {
    const w = prepareRequest(http, {
      method: 'PATCH',
      path: path`/stages/${'12 a'}`,
      query: { account: 'acc-1', opts: { keep: true } },
      body: { data: { type: 'stage', id: 12, attributes: { name: 'Won' } } },
      headers: { 'content-type': 'application/vnd.api+json' },
    });
    expect(w.request).toEqual({
      method: 'PATCH',
      path: '/stages/12%20a?account=acc-1&opts%5Bkeep%5D=true',
      body: { data: { type: 'stage', id: 12, attributes: { name: 'Won' } } },
    });
    expect(server.requests).toHaveLength(0); // preparing sends nothing
    const res = await w.send();
    expect(res.body).toMatchObject({ id: 7 });
    const r = server.requests[0];
    expect(r.method).toBe('PATCH');
    expect(r.rawUrl).toBe(`/api/v2${w.request.path}`);
    expect(r.body).toEqual(w.request.body);
    expect(r.headers['content-type']).toBe('application/vnd.api+json');
  });

  it("shows the caller's Idempotency-Key and sends it; a generated one is sent but not shown", async () => {
    const chosen = prepareRequest(http, { method: 'POST', path: '/stages', body: { name: 'A' }, idempotencyKey: { key: 'caller-key-1', chosenByCaller: true } });
    expect(chosen.request.headers).toEqual({ 'Idempotency-Key': 'caller-key-1' });
    await chosen.send();
    expect(server.requests[0].headers['idempotency-key']).toBe('caller-key-1');

    const generated = prepareRequest(http, { method: 'POST', path: '/stages', body: { name: 'B' }, idempotencyKey: { key: 'made-up-2', chosenByCaller: false } });
    expect(generated.request.headers).toBeUndefined();
    await generated.send();
    expect(server.requests[1].headers['idempotency-key']).toBe('made-up-2');
  });

  it('a DELETE shows no body', () => {
    expect(prepareRequest(http, { method: 'DELETE', path: '/stages/3' }).request).toEqual({ method: 'DELETE', path: '/stages/3' });
  });
});

describe('afterWrite', () => {
  it('gives the follow-up read, or what `otherwise` says when it fails', async () => {
    expect(await afterWrite(Promise.resolve('read back'), () => 'fallback')).toBe('read back');
    expect(await afterWrite(Promise.reject(new Error('503')), (e) => `ids only (${(e as Error).message})`)).toBe('ids only (503)');
    await expect(afterWrite(Promise.reject(new Error('503')), () => {
      throw new Error('it was saved; do not send it again');
    })).rejects.toThrow(/do not send it again/);
  });
});
