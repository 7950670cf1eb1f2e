/**
 * The Outreach provider and the fake Outreach held against Outreach's published OpenAPI 3.0.3
 * spec ("Outreach REST API Reference"): every request the provider sends goes to an operation the
 * spec has (path and method), with integer path ids and a body the operation's requestBody schema
 * accepts (strictly: no attribute or relationship the schema does not name, none it marks
 * read-only); every answer of the fake fits the operation's response schema for its status. And
 * the facts src/providers/outreach/capabilities.ts rests on are read from the spec itself.
 *
 * The spec is public material and is not copied into this repository: it is read from
 * CRM_MCP_SPECS_DIR (a folder laid out like ../shared/specs: outreach/outreach-openapi.json) or
 * from <repo>/../shared/specs, and the suite is skipped, saying so in its name, when neither has it
 * (as in CI, which runs offline on a fresh clone).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAllPools } from '../../src/crm/http.js';
import type { CrmProvider } from '../../src/crm/provider.js';
import { createOutreachProvider } from '../../src/providers/outreach/index.js';
import { FAKE_OUTREACH_TOKEN, startFakeOutreach, type FakeOutreach } from '../fakes/outreach.js';
import { ROOT } from '../helpers/server.js';

const SPEC = [process.env.CRM_MCP_SPECS_DIR && join(process.env.CRM_MCP_SPECS_DIR, 'outreach', 'outreach-openapi.json'), join(ROOT, '..', 'shared', 'specs', 'outreach', 'outreach-openapi.json')].find(
  (p): p is string => !!p && existsSync(p),
);
if (!SPEC) console.warn("Skipping the checks against Outreach's OpenAPI spec: set CRM_MCP_SPECS_DIR to a folder holding outreach/outreach-openapi.json.");

type Json = Record<string, any>;
const JSON_API = 'application/vnd.api+json';

/** The spec, and validators for request bodies (strict) and answers (as published). */
function load(path: string) {
  const spec = JSON.parse(readFileSync(path, 'utf8')) as Json;
  const readOnly = (s: Json) => typeof s?.description === 'string' && s.description.includes('badges/readonly.svg');
  /** Strict for what we send: only the properties the schema names, none it marks read-only. */
  const strict = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strict);
    if (!node || typeof node !== 'object') return node;
    const out: Json = {};
    for (const [k, v] of Object.entries(node as Json)) {
      if (k === '$ref' && typeof v === 'string') out[k] = v.replace('#/components/', 'strict#/components/');
      else if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as Json).filter(([, p]) => !readOnly(p)).map(([n, p]) => [n, strict(p)]));
      else out[k] = strict(v);
    }
    if (out.properties) out.additionalProperties = false;
    return out;
  };
  const asPublished = (node: unknown): unknown => JSON.parse(JSON.stringify(node).replaceAll('"#/components/', '"spec#/components/'));
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
  (ajvFormats as unknown as { default: (a: Ajv) => void }).default(ajv);
  ajv.addSchema({ $id: 'spec', components: asPublished(spec.components) });
  ajv.addSchema({ $id: 'strict', components: strict(spec.components) });
  const templates = Object.keys(spec.paths).map((t) => ({ t, re: new RegExp(`^${t.replace(/\{[^}]+\}/g, '([^/]+)')}$`) }));
  const cache = new Map<string, ValidateFunction>();
  const compile = (key: string, schema: unknown) => {
    let v = cache.get(key);
    if (!v) cache.set(key, (v = ajv.compile(schema as Json)));
    return v;
  };
  return {
    spec,
    /** The operation a request goes to, with its path template, or undefined. */
    operation(method: string, path: string): { template: string; op: Json; params: string[] } | undefined {
      for (const { t, re } of templates) {
        const m = re.exec(path);
        const op = m && spec.paths[t][method.toLowerCase()];
        if (op) return { template: t, op, params: m.slice(1) };
      }
      return undefined;
    },
    requestValidator: (template: string, method: string, schema: Json) => compile(`req ${method} ${template}`, strict(schema)),
    responseValidator: (template: string, method: string, status: number, schema: Json) => compile(`res ${method} ${template} ${status}`, asPublished(schema)),
  };
}

const errorsOf = (v: ValidateFunction) => JSON.stringify(v.errors?.slice(0, 3));

describe.skipIf(!SPEC)(`Outreach against its published OpenAPI spec${SPEC ? '' : ' [skipped: CRM_MCP_SPECS_DIR not set and ../shared/specs absent]'}`, () => {
  let o: ReturnType<typeof load>;
  let fake: FakeOutreach;
  let p: CrmProvider;

  beforeAll(async () => {
    o = load(SPEC!);
    fake = await startFakeOutreach();
    p = createOutreachProvider({ accessToken: FAKE_OUTREACH_TOKEN, baseUrl: fake.url, http: { retryBaseMs: 1 } });
    // Every operation the provider uses, the way the tools use it, answers and refusals included.
    const w = async <T>(prepared: Promise<{ execute(): Promise<T> }>) => (await prepared).execute();
    await p.pipelines!.get!('prospects', {});
    await p.pipelines!.get!('opportunities', {});
    const first = await p.stages!.list!({ pipeline_id: 'prospects', limit: 3, sort_by: 'name' }, {});
    await p.stages!.list!({ pipeline_id: 'prospects', limit: 3, sort_by: 'name', cursor: first.next_cursor! }, {});
    await p.stages!.list!({ limit: 50, name: 'e' }, {});
    await p.stages!.get!('p1', { include_remote_data: true });
    await p.stages!.get!('o5', {});
    for (const pipeline_id of ['prospects', 'opportunities']) {
      const s = await w(p.stages!.create!({ pipeline_id, name: `Spec ${pipeline_id}`, position: 8, color: '#123456' }, {}));
      await w(p.stages!.update!(s.id, { name: `Spec ${pipeline_id} renamed`, position: 9, color: '#654321' }, {}));
      await w(p.stages!.delete!(s.id, {}));
    }
    await p.deals!.list!({ limit: 10 }, {});
    await p.deals!.list!({ status: 'open', owner_id: '2', limit: 10 }, {});
    await p.deals!.list!({ stage_id: 'o3', limit: 10, cursor: undefined }, {});
    await p.deals!.get!('3', { include_remote_data: true });
    const d = await w(
      p.deals!.create!({ name: 'Spec deal', pipeline_id: 'opportunities', stage_id: 'o2', amount: 999.5, currency: 'USD', owner_id: '1', account_id: '4', close_date: '2026-12-31' }, {}),
    );
    await w(p.deals!.update!(d.id, { stage_id: 'o5', amount: 1000, name: 'Spec deal won', close_date: '2027-01-15' }, {}));
    await p.stages!.get!('o404', {}).catch(() => undefined);
    await w(p.deals!.update!(d.id, { owner_id: '99' }, {})).catch(() => undefined);
    await p.deals!.list!({ account_id: '2', limit: 5 }, {});
    // Accounts, prospects, users, activities, search: every operation the new tools use.
    await p.accounts!.list!({ limit: 5, name: 'ac', owner_id: '1' }, {});
    await p.accounts!.get!('1', { include_remote_data: true });
    const a = await w(p.accounts!.create!({ name: 'Spec account', domain: 'spec.example', industry: 'Testing', owner_id: '2' }, {}));
    await w(p.accounts!.update!(a.id, { name: 'Spec account renamed', owner_id: '1' }, {}));
    await p.contacts!.list!({ limit: 5, name: 'ma', email: 'x@y.example', account_id: '1', owner_id: '2' }, {});
    await p.contacts!.get!('1', {});
    const c = await w(
      p.contacts!.create!({ first_name: 'Spec', last_name: 'Person', emails: ['spec@spec.example'], phones: ['+1 555 0100'], title: 'Tester', account_id: a.id, owner_id: '1' }, {}),
    );
    await w(p.contacts!.update!(c.id, { phones: ['+1 555 0101'], title: 'Lead tester' }, {}));
    await p.users!.list!({ limit: 10, name: 'an' }, {});
    await p.activities!.list!({ limit: 5 }, {});
    await p.activities!.list!({ limit: 5, deal_id: '1', done: false }, {});
    await p.activities!.list!({ limit: 5, account_id: '1' }, {});
    await p.activities!.list!({ limit: 5, contact_id: '1', type: 'note' }, {});
    await p.activities!.get!('t1', {});
    const t = await w(p.activities!.create!({ type: 'task', body: 'Spec task', due_date: '2027-01-01', deal_id: '1', owner_id: '2' }, {}));
    await w(p.activities!.update!(t.id, { body: 'Spec task, changed', account_id: '1', done: true }, {}));
    await w(p.activities!.update!(t.id, { done: true }, {})).catch(() => undefined);
    await w(p.activities!.create!({ type: 'call', body: 'Spec call', contact_id: '1', deal_id: '1', owner_id: '3' }, {}));
    const an = await w(p.activities!.create!({ type: 'note', body: 'Spec account note', account_id: '1' }, {}));
    await w(p.activities!.update!(an.id, { body: 'Spec account note, changed' }, {}));
    const pn = await w(p.activities!.create!({ type: 'note', body: 'Spec prospect note', contact_id: '1' }, {}));
    await w(p.activities!.update!(pn.id, { body: 'Spec prospect note, changed', contact_id: '2' }, {}));
    await p.search!({ query: 'Acme', types: ['deals', 'accounts', 'contacts', 'users'], limit: 5 }, {});
    await p.search!({ query: 'maria.nguyen@acmecorp.example', types: ['contacts'], limit: 5 }, {});
  });
  afterAll(async () => {
    await fake?.stop();
    await closeAllPools();
  });

  it('every request goes to an operation of the spec, with integer ids, the JSON:API media type and a body its schema accepts', () => {
    const covered = new Set<string>();
    const requests = fake.server.requests.filter((r) => r.path !== '/oauth/token');
    expect(requests.length).toBeGreaterThan(25);
    for (const r of requests) {
      const at = `${r.method} ${r.path}`;
      const found = o.operation(r.method, r.path);
      expect(found, `${at} is not an operation of the spec`).toBeDefined();
      covered.add(`${r.method} ${found!.template}`);
      for (const param of found!.params) expect(param, `${at}: path ids are integers in the spec`).toMatch(/^[1-9]\d*$/);
      expect(r.headers['content-type'], at).toBe(JSON_API);
      const declared = found!.op.requestBody?.content?.[JSON_API]?.schema;
      if (r.body === undefined) {
        expect(found!.op.requestBody?.required === true, `${at} needs a body`).toBe(false);
        continue;
      }
      expect(declared, `${at} sends a body the operation does not take`).toBeDefined();
      const v = o.requestValidator(found!.template, r.method, declared);
      expect(v(r.body), `${at}: ${JSON.stringify(r.body)} ${errorsOf(v)}`).toBe(true);
    }
    expect([...covered].sort()).toEqual(
      [
        'GET /stages',
        'POST /stages',
        'GET /stages/{id}',
        'PATCH /stages/{id}',
        'DELETE /stages/{id}',
        'GET /opportunityStages',
        'POST /opportunityStages',
        'GET /opportunityStages/{id}',
        'PATCH /opportunityStages/{id}',
        'DELETE /opportunityStages/{id}',
        'GET /opportunities',
        'POST /opportunities',
        'GET /opportunities/{id}',
        'PATCH /opportunities/{id}',
        'GET /accounts',
        'POST /accounts',
        'GET /accounts/{id}',
        'PATCH /accounts/{id}',
        'GET /prospects',
        'POST /prospects',
        'GET /prospects/{id}',
        'PATCH /prospects/{id}',
        'GET /users',
        'GET /users/{id}',
        'GET /tasks',
        'POST /tasks',
        'GET /tasks/{id}',
        'PATCH /tasks/{id}',
        'POST /tasks/{id}/actions/markComplete',
        'GET /calls',
        'POST /calls',
        'GET /calls/{id}',
        'GET /accountNotes',
        'POST /accountNotes',
        'GET /accountNotes/{id}',
        'PATCH /accountNotes/{id}',
        'GET /prospectNotes',
        'POST /prospectNotes',
        'GET /prospectNotes/{id}',
        'PATCH /prospectNotes/{id}',
      ].sort(),
    );
  });

  it("every answer of the fake fits the spec's schema for its status (errors the spec does not declare: its error schema)", () => {
    const apiAnswers = fake.answers.filter((a) => a.path !== '/oauth/token');
    const statuses = new Set(apiAnswers.map((a) => a.status));
    expect([...statuses].sort()).toEqual([200, 201, 204, 404, 422]);
    const errorSchema = o.spec.paths['/stages'].get.responses['422'].content[JSON_API].schema;
    for (const a of apiAnswers) {
      const found = o.operation(a.method, a.path)!;
      const declared = found.op.responses[String(a.status)];
      if (a.status === 204) {
        expect(declared, `${a.method} ${a.path} 204`).toBeDefined();
        expect(a.body).toBeUndefined();
        continue;
      }
      const schema = declared?.content?.[JSON_API]?.schema ?? (a.status >= 400 ? errorSchema : undefined);
      expect(schema, `${a.method} ${found.template} ${a.status} is not an answer the spec declares`).toBeDefined();
      const v = o.responseValidator(found.template, a.method, a.status, schema);
      expect(v(a.body), `${a.method} ${a.path} ${a.status}: ${errorsOf(v)}`).toBe(true);
    }
  });

  it('has teeth: read-only or unknown attributes, the read-only stage relationship, string ids and wrong types are refused', () => {
    const post = o.operation('POST', '/opportunities')!;
    const patch = o.operation('PATCH', '/opportunities/1')!;
    const req = o.requestValidator(post.template, 'POST', post.op.requestBody.content[JSON_API].schema);
    const upd = o.requestValidator(patch.template, 'PATCH', patch.op.requestBody.content[JSON_API].schema);
    expect(req({ data: { type: 'opportunity', attributes: { name: 'ok' } } })).toBe(true);
    expect(req({ data: { type: 'opportunity', attributes: { name: 'x', createdAt: '2026-01-01T00:00:00Z' } } })).toBe(false);
    expect(req({ data: { type: 'opportunity', attributes: { name: 'x', bogus: 1 } } })).toBe(false);
    expect(req({ data: { type: 'opportunity', attributes: { amount: 12.5 } } })).toBe(false);
    expect(req({ data: { type: 'opportunity', relationships: { stage: { data: { type: 'opportunityStage', id: 1 } } } } })).toBe(false);
    expect(req({ data: { type: 'opportunity', relationships: { opportunityStage: { data: { type: 'stage', id: 1 } } } } })).toBe(false);
    expect(upd({ data: { type: 'opportunity', attributes: { name: 'x' } } })).toBe(false);
    expect(upd({ data: { type: 'opportunity', id: '1', attributes: { name: 'x' } } })).toBe(false);
    const get = o.operation('GET', '/stages/1')!;
    const res = o.responseValidator(get.template, 'GET', 200, get.op.responses['200'].content[JSON_API].schema);
    expect(res({ data: { type: 'stage', id: 1, attributes: { name: 'x', order: 1 } } })).toBe(true);
    expect(res({ data: { type: 'stage', id: 'p1', attributes: { name: 'x' } } })).toBe(false);
    expect(res({ data: { type: 'stage', id: 1, attributes: { order: 'first' } } })).toBe(false);
  });

  it('says what capabilities.ts rests on: both stage collections fully writable, isClosed without won/lost or probability', () => {
    const { paths, components } = o.spec;
    for (const c of ['/stages', '/opportunityStages']) {
      expect(Object.keys(paths[c]).sort(), c).toEqual(['get', 'post']);
      expect(Object.keys(paths[`${c}/{id}`]).sort(), c).toEqual(['delete', 'get', 'patch']);
      expect(paths[`${c}/{id}`].delete.responses['204']).toBeDefined();
      expect(paths[`${c}/{id}`].patch.requestBody.content[JSON_API].schema.properties.data.required).toEqual(['type', 'id']);
      expect(paths[`${c}/{id}`].patch.requestBody.content[JSON_API].schema.properties.data.properties.id.type).toBe('integer');
    }
    expect(Object.keys(components.schemas.stage.properties).sort()).toEqual(['color', 'createdAt', 'name', 'order', 'updatedAt']);
    expect(Object.keys(components.schemas.stageRelationships.properties).sort()).toEqual(['creator', 'prospects', 'updater']);
    const opportunityStage = Object.keys(components.schemas.opportunityStage.properties).sort();
    expect(opportunityStage).toEqual(['color', 'createdAt', 'isClosed', 'name', 'order', 'updatedAt']);
    // No won/lost flag anywhere: not a property, not a word of any schema.
    expect(JSON.stringify(components.schemas.opportunityStage)).not.toMatch(/\bwon\b|\blost\b|probability/i);
  });

  it('says what deals rest on: amount integer, amountPrecise text, closeDate a date-time, stage read-only, opportunityStage writable', () => {
    const a = o.spec.components.schemas.opportunity.properties;
    expect(a.amount.type).toBe('integer');
    expect(a.amountPrecise.type).toBe('string');
    expect(a.currencyType.type).toBe('string');
    expect([a.closeDate.type, a.closeDate.format]).toEqual(['string', 'date-time']);
    expect(a.probability.type).toBe('integer');
    const r = o.spec.components.schemas.opportunityRelationships.properties;
    expect(r.stage.description).toContain('badges/readonly.svg');
    expect(r.opportunityStage.description).not.toContain('badges/readonly.svg');
    expect(r.opportunityStage.properties.data.properties.type.enum).toEqual(['opportunityStage']);
    expect(r.owner.properties.data.properties.type.enum).toEqual(['user']);
    expect(r.account.properties.data.properties.type.enum).toEqual(['account']);
    expect(r.opportunityStage.description).toContain('filter[stage][id]=X');
    expect(a.updatedAt.description).toContain('badges/sortable.svg');
  });

  it('says what the records rest on: the attributes and relationships map.ts reads and writes, and which are read-only', () => {
    const { schemas } = o.spec.components;
    const ro = (p: Json) => String(p?.description ?? '').includes('badges/readonly.svg');
    const filterable = (p: Json) => String(p?.description ?? '').includes('badges/filterable.svg');
    const account = schemas.account.properties;
    for (const k of ['name', 'domain', 'industry', 'named']) expect(ro(account[k]), `account.${k}`).toBe(false);
    expect(account.named.description).toContain('Only named accounts will show up on the collection index');
    expect(filterable(account.name) && filterable(account.domain)).toBe(true);
    expect(schemas.accountRelationships.properties.owner.description).toContain('filter[owner][id]=X');
    const prospect = schemas.prospect.properties;
    for (const k of ['firstName', 'lastName', 'emails', 'title', 'homePhones', 'mobilePhones', 'otherPhones', 'voipPhones', 'workPhones']) expect(ro(prospect[k]), `prospect.${k}`).toBe(false);
    expect(ro(prospect.name)).toBe(true);
    expect(prospect.emails.type).toBe('array');
    expect(filterable(prospect.emails)).toBe(true);
    expect(schemas.prospectRelationships.properties.account.description).toContain('filter[account][id]=X');
    const user = schemas.user.properties;
    expect(ro(user.name)).toBe(true);
    expect(user.locked.type).toBe('boolean');
    for (const k of ['firstName', 'lastName', 'email']) expect(filterable(user[k]), `user.${k}`).toBe(true);
    expect(Object.keys(o.spec.paths['/users/{id}']).sort()).toEqual(['get', 'patch']);
    // Tasks: no title; the text is `note`; state and completed read-only; completion is an action.
    const task = schemas.task.properties;
    expect(task.subject).toBeUndefined();
    expect(ro(task.note) || ro(task.dueAt) || ro(task.action)).toBe(false);
    expect(ro(task.state) && ro(task.completed)).toBe(true);
    expect(task.dueAt.format).toBe('date-time');
    expect(o.spec.paths['/tasks/{id}/actions/markComplete'].post).toBeDefined();
    const tr = schemas.taskRelationships.properties;
    expect(ro(tr.subject)).toBe(false);
    expect(tr.subject.properties.data.properties.type.enum).toEqual(['account', 'opportunity', 'prospect']);
    for (const k of ['account', 'prospect', 'opportunity']) {
      expect(ro(tr[k]), `task.${k}`).toBe(true);
      expect(tr[k].description, `task.${k}`).toContain(`filter[${k}][id]=X`);
    }
    // Calls: logged, never updated; prospect, opportunity and user writable; no filter by account.
    expect(Object.keys(o.spec.paths['/calls/{id}']).sort()).toEqual(['delete', 'get']);
    expect(schemas.call.properties.subject).toBeUndefined();
    const cr = schemas.callRelationships.properties;
    for (const k of ['prospect', 'opportunity', 'user']) expect(ro(cr[k]), `call.${k}`).toBe(false);
    expect(ro(cr.associatedId)).toBe(true);
    expect(cr.associatedId.description).toContain('cannot be used as a filter');
    expect(cr.account).toBeUndefined();
    // Notes: per account and per prospect; the opportunity read-only and no filter; the creator read-only.
    for (const [kind, parent] of [['accountNote', 'account'], ['prospectNote', 'prospect']]) {
      expect(Object.keys(schemas[kind].properties).sort()).toEqual(['createdAt', 'message', 'noteType', 'opportunityAssociationRule', 'pinned']);
      const nr = schemas[`${kind}Relationships`].properties;
      expect(ro(nr[parent])).toBe(false);
      expect(nr[parent].description).toContain(`filter[${parent}][id]=X`);
      expect(ro(nr.opportunity) && ro(nr.creator)).toBe(true);
      expect(nr.opportunity.description).toContain('cannot be used as a filter');
    }
    expect(Object.keys(o.spec.paths).filter((x) => /note/i.test(x) && !x.includes('{id}'))).toEqual(['/accountNotes', '/prospectNotes']);
  });

  it('says what it does not: no query parameters on lists (paging, filters and sort are the docs\'), no OAuth scopes, no statistics, no projects', () => {
    const { paths, components, security } = o.spec;
    for (const c of ['/stages', '/opportunityStages', '/opportunities', '/accounts', '/prospects', '/users', '/tasks', '/calls', '/accountNotes', '/prospectNotes']) {
      expect(paths[c].get.parameters, c).toBeUndefined();
    }
    expect(Object.values(components.securitySchemes).map((s) => (s as Json).type)).toEqual(['http', 'http']);
    expect(Object.keys(components.securitySchemes).sort()).toEqual(['bearerAuth', 's2sAuthToken']);
    expect(security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(paths).filter((x) => /statistic|\/stats|report|analytic|project|pipeline/i.test(x))).toEqual([]);
    // Errors the spec declares: 404 (reads by id) and 422; the others come from the docs.
    const declared = new Set(Object.values(paths).flatMap((ops) => Object.values(ops as Json).flatMap((op) => Object.keys((op as Json).responses ?? {}))));
    expect([...declared].filter((s) => Number(s) >= 400).sort()).toEqual(['404', '422']);
  });
});
