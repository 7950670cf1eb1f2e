import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/providers/local/client.js';
import type { LocalProvider } from '../../src/providers/local/index.js';
import { cleanupTempDirs, emptyProvider, expectCrmError, insertPeople, steppingClock } from './local-helpers.js';

let provider: LocalProvider;
let db: Db;
let clock: ReturnType<typeof steppingClock>;

beforeEach(() => {
  clock = steppingClock();
  ({ provider, db } = emptyProvider(clock));
});
afterEach(cleanupTempDirs);

const pipelines = () => provider.pipelines!;
const stages = () => provider.stages!;

async function createPipeline(name: string) {
  return (await pipelines().create!({ name }, {})).execute();
}
async function createStage(pipeline_id: string, name: string, extra: { position?: number; probability?: number; status?: 'active' | 'inactive' } = {}) {
  return (await stages().create!({ pipeline_id, name, ...extra }, {})).execute();
}
async function order(pipelineId: string): Promise<string[]> {
  const p = await pipelines().get!(pipelineId, {});
  expect(p.stages!.map((s) => s.position)).toEqual(p.stages!.map((_, i) => i + 1));
  return p.stages!.map((s) => s.name);
}
function insertDeal(stageId: string, status = 'open', amount: number | null = 100, currency: string | null = 'USD') {
  const at = '2026-02-01T00:00:00.000Z';
  db.prepare(
    `INSERT INTO deals (name, stage_id, status, amount, currency, stage_changed_at, created_at, updated_at)
     VALUES ('d', ?, ?, ?, ?, ?, ?, ?)`,
  ).run(Number(stageId), status, amount, currency, at, at, at);
}

describe('local pipelines', () => {
  it('creates: the request shows only the given fields and the record comes back as read', async () => {
    const write = await pipelines().create!({ name: '  Enterprise  ' }, {});
    expect(write.request).toEqual({ method: 'POST', path: '/pipelines', body: { name: 'Enterprise' } });
    const created = await write.execute();
    expect(created).toMatchObject({
      id: '1',
      name: 'Enterprise',
      is_deal_probability_enabled: true,
      stages: [],
      open_deals: { count: 0, values: {} },
      created_at: expect.stringMatching(/^2026-03-01T09:00:\d\d\.000Z$/),
    });
    expect(created.remote_data).toBeUndefined();
  });

  it('writes nothing until execute (dry runs are truthful)', async () => {
    const write = await pipelines().create!({ name: 'Draft', is_deal_probability_enabled: false }, {});
    expect(write.request.body).toEqual({ name: 'Draft', is_deal_probability_enabled: false });
    expect((await pipelines().list!({ limit: 10 }, {})).items).toEqual([]);
    expect((await write.execute()).is_deal_probability_enabled).toBe(false);
  });

  it('validates names', async () => {
    await expectCrmError(pipelines().create!({ name: '   ' }, {}), 'validation', '`name` must be a non-empty text of at most 200 characters.');
    await expectCrmError(pipelines().create!({}, {}), 'validation', /`name`/);
  });

  it('lists by id with keyset cursors that survive a delete between pages', async () => {
    const [a] = [await createPipeline('A'), await createPipeline('B'), await createPipeline('C')];
    const first = await pipelines().list!({ limit: 2 }, {});
    expect(first.items.map((p) => p.name)).toEqual(['A', 'B']);
    expect(first.next_cursor).not.toBeNull();
    // With an offset cursor, deleting A would shift C onto the first page and out of sight.
    await (await pipelines().delete!(a.id, {})).execute();
    const second = await pipelines().list!({ limit: 2, cursor: first.next_cursor! }, {});
    expect(second.items.map((p) => p.name)).toEqual(['C']);
    expect(second.next_cursor).toBeNull();
    await expectCrmError(pipelines().list!({ limit: 2, cursor: 'abc' }, {}), 'validation', /cursor is not valid/);
  });

  it('gets with ordered stages and open deals per stage and in total', async () => {
    const p = await createPipeline('Sales');
    const a = await createStage(p.id, 'Lead');
    const b = await createStage(p.id, 'Won soon');
    await createStage(p.id, 'Empty');
    insertDeal(a.id, 'open', 100, 'USD');
    insertDeal(a.id, 'open', 250.5, 'USD');
    insertDeal(a.id, 'won', 9999, 'USD');
    insertDeal(b.id, 'open', 50, 'EUR');
    insertDeal(b.id, 'open', null, null);
    const got = await pipelines().get!(p.id, {});
    expect(got.stages!.map((s) => [s.name, s.position, s.open_deals])).toEqual([
      ['Lead', 1, { count: 2, values: { USD: 350.5 } }],
      ['Won soon', 2, { count: 2, values: { EUR: 50 } }],
      ['Empty', 3, { count: 0, values: {} }],
    ]);
    expect(got.open_deals).toEqual({ count: 4, values: { USD: 350.5, EUR: 50 } });
    expect(got.stages![0].pipeline).toEqual({ id: p.id, name: 'Sales' });
  });

  it('names the tool to call for unknown ids', async () => {
    const message = "No pipeline with id '999'. Call list_pipelines to see valid pipeline ids.";
    await expectCrmError(pipelines().get!('999', {}), 'not_found', message);
    await expectCrmError(pipelines().update!('999', { name: 'x' }, {}), 'not_found', message);
    await expectCrmError(pipelines().delete!('999', {}), 'not_found', message);
    await expectCrmError(pipelines().get!('abc', {}), 'not_found', /No pipeline with id 'abc'/);
  });

  it('updates only the given fields and refuses an empty update', async () => {
    const p = await createPipeline('Old');
    const write = await pipelines().update!(p.id, { name: 'New' }, {});
    expect(write.request).toEqual({ method: 'PATCH', path: `/pipelines/${p.id}`, body: { name: 'New' } });
    const updated = await write.execute();
    expect(updated.name).toBe('New');
    expect(updated.is_deal_probability_enabled).toBe(true);
    expect(updated.updated_at! > p.updated_at!).toBe(true);
    await expectCrmError(pipelines().update!(p.id, {}, {}), 'validation', /^Nothing to update/);
  });

  it('refuses to delete a pipeline that still holds deals, saying how many and what to do', async () => {
    const p = await createPipeline('Sales');
    const s = await createStage(p.id, 'Lead');
    insertDeal(s.id);
    insertDeal(s.id, 'lost');
    await expectCrmError(
      pipelines().delete!(p.id, {}),
      'conflict',
      `Pipeline 'Sales' (${p.id}) still holds 2 deals; move them to a stage of another pipeline with update_deal first (list_deals with pipeline_id '${p.id}' shows them).`,
    );
  });

  it('deletes an empty pipeline together with its stages', async () => {
    const p = await createPipeline('Temp');
    const s = await createStage(p.id, 'Only');
    const write = await pipelines().delete!(p.id, {});
    expect(write.request).toEqual({ method: 'DELETE', path: `/pipelines/${p.id}` });
    expect(await write.execute()).toEqual({ id: p.id, name: 'Temp' });
    await expectCrmError(stages().get!(s.id, {}), 'not_found', /No stage/);
    await expectCrmError(pipelines().get!(p.id, {}), 'not_found', /No pipeline/);
  });

  it('returns the raw row as remote_data only when asked', async () => {
    const p = await createPipeline('Raw');
    const got = await pipelines().get!(p.id, { include_remote_data: true });
    expect(got.remote_data).toEqual({
      id: 1,
      name: 'Raw',
      is_deal_probability_enabled: 1,
      created_at: p.created_at,
      updated_at: p.updated_at,
    });
    expect((await pipelines().list!({ limit: 5 }, {})).items[0].remote_data).toBeUndefined();
  });

  it('honours an aborted signal', async () => {
    const ac = new AbortController();
    ac.abort();
    await expectCrmError(pipelines().list!({ limit: 5 }, { signal: ac.signal }), 'cancelled');
  });
});

describe('local stages', () => {
  let pid: string;
  beforeEach(async () => {
    pid = (await createPipeline('Sales')).id;
  });

  it('appends at the end when no position is given', async () => {
    const a = await createStage(pid, 'Lead', { probability: 10 });
    const write = await stages().create!({ pipeline_id: pid, name: 'Demo', color: '#00ff00' }, {});
    expect(write.request).toEqual({ method: 'POST', path: '/stages', body: { pipeline_id: pid, name: 'Demo', color: '#00ff00' } });
    const b = await write.execute();
    expect([a.position, b.position]).toEqual([1, 2]);
    expect(b).toMatchObject({ pipeline: { id: pid, name: 'Sales' }, status: 'active', color: '#00ff00' });
    expect(b.probability).toBeUndefined();
    expect(a.probability).toBe(10);
  });

  it('inserts at a position and shifts the later stages', async () => {
    await createStage(pid, 'A');
    await createStage(pid, 'B');
    await createStage(pid, 'C');
    const x = await createStage(pid, 'X', { position: 2 });
    expect(x.position).toBe(2);
    expect(await order(pid)).toEqual(['A', 'X', 'B', 'C']);
    await createStage(pid, 'First', { position: 1 });
    await createStage(pid, 'Last', { position: 6 });
    expect(await order(pid)).toEqual(['First', 'A', 'X', 'B', 'C', 'Last']);
  });

  it('rejects positions outside the pipeline', async () => {
    await createStage(pid, 'A');
    await expectCrmError(
      stages().create!({ pipeline_id: pid, name: 'Z', position: 5 }, {}),
      'validation',
      '`position` must be a whole number from 1 to 2 (1 = first stage of the pipeline).',
    );
    await expectCrmError(stages().create!({ pipeline_id: pid, name: 'Z', position: 0 }, {}), 'validation', /position/);
    await expectCrmError(stages().create!({ pipeline_id: pid, name: 'Z', position: 1.5 }, {}), 'validation', /position/);
  });

  it('reorders on a position update, both directions', async () => {
    const [a, , , d] = [await createStage(pid, 'A'), await createStage(pid, 'B'), await createStage(pid, 'C'), await createStage(pid, 'D')];
    const write = await stages().update!(d.id, { position: 2 }, {});
    expect(write.request).toEqual({ method: 'PATCH', path: `/stages/${d.id}`, body: { position: 2 } });
    expect((await write.execute()).position).toBe(2);
    expect(await order(pid)).toEqual(['A', 'D', 'B', 'C']);
    await (await stages().update!(a.id, { position: 4 }, {})).execute();
    expect(await order(pid)).toEqual(['D', 'B', 'C', 'A']);
    await expectCrmError(stages().update!(a.id, { position: 5 }, {}), 'validation', /from 1 to 4/);
  });

  it('closes the gap when a stage is deleted, and refuses while it holds deals', async () => {
    const a = await createStage(pid, 'A');
    const b = await createStage(pid, 'B');
    await createStage(pid, 'C');
    insertDeal(b.id);
    await expectCrmError(
      stages().delete!(b.id, {}),
      'conflict',
      `Stage 'B' (${b.id}) still holds 1 deal; move it to another stage with update_deal first (list_deals with stage_id '${b.id}' shows it).`,
    );
    const write = await stages().delete!(a.id, {});
    expect(write.request).toEqual({ method: 'DELETE', path: `/stages/${a.id}` });
    expect(await write.execute()).toEqual({ id: a.id, name: 'A' });
    expect(await order(pid)).toEqual(['B', 'C']);
  });

  it('moves an empty stage to another pipeline, and refuses one that holds deals', async () => {
    const other = (await createPipeline('Partners')).id;
    await createStage(other, 'P1');
    const a = await createStage(pid, 'A');
    const b = await createStage(pid, 'B');
    await createStage(pid, 'C');
    const moved = await (await stages().update!(b.id, { pipeline_id: other }, {})).execute();
    expect(moved).toMatchObject({ pipeline: { id: other, name: 'Partners' }, position: 2 });
    expect(await order(pid)).toEqual(['A', 'C']);
    expect(await order(other)).toEqual(['P1', 'B']);
    await (await stages().update!(b.id, { pipeline_id: pid, position: 1 }, {})).execute();
    expect(await order(pid)).toEqual(['B', 'A', 'C']);
    insertDeal(a.id);
    await expectCrmError(stages().update!(a.id, { pipeline_id: other }, {}), 'conflict', /still holds 1 deal, so it cannot move/);
  });

  it('validates fields and the pipeline', async () => {
    await expectCrmError(stages().create!({ name: 'A' }, {}), 'validation', /`pipeline_id` is required/);
    await expectCrmError(
      stages().create!({ pipeline_id: '77', name: 'A' }, {}),
      'not_found',
      "No pipeline with id '77'. Call list_pipelines to see valid pipeline ids.",
    );
    await expectCrmError(stages().create!({ pipeline_id: pid, name: 'A', probability: 101 }, {}), 'validation', '`probability` must be a number from 0 to 100.');
    await expectCrmError(
      stages().create!({ pipeline_id: pid, name: 'A', status: 'archived' as never }, {}),
      'validation',
      '`status` must be one of: active, inactive.',
    );
    await expectCrmError(stages().get!('55', {}), 'not_found', "No stage with id '55'. Call list_stages to see valid stage ids.");
  });

  it('updates only given fields', async () => {
    const a = await createStage(pid, 'A', { probability: 20 });
    const updated = await (await stages().update!(a.id, { status: 'inactive', name: 'A2' }, {})).execute();
    expect(updated).toMatchObject({ name: 'A2', status: 'inactive', probability: 20, position: 1 });
  });

  it('lists: by pipeline then position, with filters and sorting', async () => {
    const other = (await createPipeline('Partners')).id;
    await createStage(other, 'Prospect');
    await createStage(pid, 'Lead');
    await createStage(pid, 'Qualified lead', { status: 'inactive' });
    await createStage(pid, 'Demo');
    await createStage(pid, 'Closing', { position: 1 });
    const all = await stages().list!({ limit: 50 }, {});
    expect(all.items.map((s) => `${s.pipeline!.name}:${s.position}:${s.name}`)).toEqual([
      'Sales:1:Closing',
      'Sales:2:Lead',
      'Sales:3:Qualified lead',
      'Sales:4:Demo',
      'Partners:1:Prospect',
    ]);
    const names = async (q: object) => (await stages().list!({ limit: 50, ...q }, {})).items.map((s) => s.name);
    expect(await names({ pipeline_id: other })).toEqual(['Prospect']);
    expect(await names({ name: 'LEAD' })).toEqual(['Lead', 'Qualified lead']);
    expect(await names({ name: '%' })).toEqual([]);
    expect(await names({ status: 'inactive' })).toEqual(['Qualified lead']);
    expect(await names({ pipeline_id: pid, sort_direction: 'desc' })).toEqual(['Demo', 'Qualified lead', 'Lead', 'Closing']);
    expect(await names({ sort_by: 'name' })).toEqual(['Closing', 'Demo', 'Lead', 'Prospect', 'Qualified lead']);
    expect(await names({ sort_by: 'created_at', sort_direction: 'desc' })).toEqual(['Closing', 'Demo', 'Qualified lead', 'Lead', 'Prospect']);
    const paged = await stages().list!({ limit: 3, pipeline_id: pid }, {});
    expect(paged.next_cursor).not.toBeNull();
    expect((await stages().list!({ limit: 3, pipeline_id: pid, cursor: paged.next_cursor! }, {})).items.map((s) => s.name)).toEqual([
      'Demo',
    ]);
    // Keyset paging follows every sort: by name, descending, the second page starts after 'Lead'.
    const byName = await stages().list!({ limit: 3, sort_by: 'name', sort_direction: 'desc' }, {});
    expect(byName.items.map((s) => s.name)).toEqual(['Qualified lead', 'Prospect', 'Lead']);
    const next = await stages().list!({ limit: 3, sort_by: 'name', sort_direction: 'desc', cursor: byName.next_cursor! }, {});
    expect(next.items.map((s) => s.name)).toEqual(['Demo', 'Closing']);
    await expectCrmError(stages().list!({ limit: 5, pipeline_id: '404' }, {}), 'not_found', /Call list_pipelines/);
  });

  it('keeps a project pointing at a deleted stage, without the stage', async () => {
    insertPeople(db);
    const s = await createStage(pid, 'Kickoff');
    const project = await (await provider.projects!.create!({ name: 'Rollout', stage: { id: s.id } }, {})).execute();
    expect(project.stage).toEqual({ id: s.id, name: 'Kickoff' });
    await (await stages().delete!(s.id, {})).execute();
    expect((await provider.projects!.get!(project.id, {})).stage).toBeUndefined();
  });
});
