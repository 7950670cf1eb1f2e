/**
 * Prepared writes (src/crm/writes.ts): what a dry run shows and what is sent come from one
 * description, so they match; the Idempotency-Key is shown only when the caller chose it; and what
 * follows an accepted write is best effort.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, closeAllPools, path } from '../../src/crm/http.js';
import { CrmError } from '../../src/crm/errors.js';
import { afterWrite, preparedSequence, prepareRequest, type WriteStep } from '../../src/crm/writes.js';
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

describe('preparedSequence', () => {
  const step = (n: number, fail?: CrmError): WriteStep => ({
    request: { method: 'PUT', path: `/step/${n}`, body: { n } },
    purpose: `do step ${n}`,
    send: async (answers) => {
      if (fail) throw fail;
      return { n, before: answers.length };
    },
  });
  const options = { provider: 'TestCRM', what: 'this update of record 5', recovery: (answers: readonly unknown[]) => `Read it back (${answers.length} answered).` };

  it('shows every request in order and sends them in order, each seeing the answers before it', async () => {
    const w = preparedSequence(options, [step(1), step(2), step(3)], async (answers) => answers);
    expect(w.request).toEqual({ method: 'PUT', path: '/step/1', body: { n: 1 } });
    expect(w.then).toEqual([
      { method: 'PUT', path: '/step/2', body: { n: 2 } },
      { method: 'PUT', path: '/step/3', body: { n: 3 } },
    ]);
    expect(await w.execute()).toEqual([{ n: 1, before: 0 }, { n: 2, before: 1 }, { n: 3, before: 2 }]);
    expect(preparedSequence(options, [step(1)], async () => 'one').then).toBeUndefined();
  });

  it("a failing first request is the CRM's own error: nothing was done", async () => {
    const refused = new CrmError('validation', 'TestCRM rejected the request (400): bad name.');
    await expect(preparedSequence(options, [step(1, refused), step(2)], async () => 'x').execute()).rejects.toBe(refused);
  });

  it('a later failure says what succeeded, what failed and what was not sent, as an upstream error', async () => {
    const limited = new CrmError('rate_limited', 'TestCRM is rate limiting this token; retry in about 3 s.', { status: 429, retryAfterSeconds: 3, nothingSent: true });
    const e = (await preparedSequence(options, [step(1), step(2, limited), step(3)], async () => 'x').execute().catch((x: unknown) => x)) as CrmError;
    expect(e).toBeInstanceOf(CrmError);
    expect(e.kind).toBe('upstream'); // never a refusal: the first request was applied
    expect(e.nothingSent).toBeUndefined();
    expect(e.retryAfterSeconds).toBe(3);
    expect(e.message).toBe(
      'TestCRM did only part of this update of record 5: PUT /step/1 (do step 1) succeeded; then PUT /step/2 (do step 2) failed: ' +
        'TestCRM is rate limiting this token; retry in about 3 s. Not sent: PUT /step/3 (do step 3). Read it back (1 answered).',
    );
  });
});
