import { describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { Account, Activity, Contact, ConversionStats, Deal, MovementStats, Pipeline, Stage, User } from '../../src/crm/model.js';
import {
  activityKey,
  activityType,
  activityTypeKey,
  domainOf,
  fromAccountInput,
  fromActivityInput,
  fromContactInput,
  fromNoteInput,
  noteToActivity,
  toAccount,
  toActivity,
  toContact,
  toSearchHit,
  toUser,
  v1Time,
  type PdActivity,
  type PdNote,
  type PdOrganization,
  type PdPerson,
  dealStatus,
  fromDealInput,
  fromPipelineInput,
  fromStageInput,
  nativeId,
  summarizeOpenDeals,
  toConversionStats,
  toDeal,
  toMovementStats,
  toPipeline,
  toStage,
  type Names,
  type PdDeal,
  type PdPipeline,
  type PdStage,
} from '../../src/providers/pipedrive/map.js';

const pipeline: PdPipeline = {
  id: 1,
  name: 'Sales',
  order_nr: 1,
  is_selected: true,
  is_deleted: false,
  is_deal_probability_enabled: true,
  add_time: '2024-01-01T00:00:00Z',
  update_time: '2024-02-01T00:00:00Z',
};

const stage: PdStage = {
  id: 7,
  order_nr: 3,
  name: 'Negotiation',
  is_deleted: false,
  deal_probability: 60,
  pipeline_id: 1,
  is_deal_rot_enabled: true,
  days_to_rotten: 14,
  add_time: '2024-01-01T00:00:00Z',
  update_time: '2024-01-02T00:00:00Z',
};

const deal: PdDeal = {
  id: 42,
  title: 'Acme renewal',
  creator_user_id: 1,
  owner_id: 2,
  value: 1200.5,
  person_id: null,
  org_id: 9,
  stage_id: 7,
  pipeline_id: 1,
  currency: 'EUR',
  add_time: '2025-01-01T00:00:00Z',
  update_time: '2025-03-01T10:00:00Z',
  stage_change_time: '2025-02-01T09:00:00Z',
  status: 'open',
  is_deleted: false,
  probability: 90,
  expected_close_date: '2025-06-30',
  custom_fields: {},
};

const names: Names = {
  pipelines: new Map([[1, 'Sales']]),
  stages: new Map([[7, 'Negotiation']]),
  users: new Map([[2, 'Bob Seller']]),
  orgs: new Map([[9, 'Acme Corp']]),
};

describe('Pipedrive -> unified', () => {
  it('maps a pipeline: string id, timestamps, no remote_data unless asked', () => {
    const p = toPipeline(pipeline);
    expect(p).toEqual({
      id: '1',
      name: 'Sales',
      is_deal_probability_enabled: true,
      created_at: '2024-01-01T00:00:00Z',
      updated_at: '2024-02-01T00:00:00Z',
    });
    expect(Pipeline.parse(p)).toEqual(p);
    expect(toPipeline(pipeline, { remote: true }).remote_data).toEqual(pipeline);
  });

  it('maps a stage: order_nr -> position, deal_probability -> probability, pipeline named', () => {
    const s = toStage(stage, names);
    expect(s).toEqual({
      id: '7',
      name: 'Negotiation',
      pipeline: { id: '1', name: 'Sales' },
      position: 3,
      status: 'active',
      probability: 60,
      created_at: '2024-01-01T00:00:00Z',
      updated_at: '2024-01-02T00:00:00Z',
    });
    expect(Stage.parse(s)).toEqual(s);
    expect(s).not.toHaveProperty('color');
    expect(s).not.toHaveProperty('remote_data');
  });

  it('maps a soft-deleted stage to inactive and leaves unknown pipeline names out', () => {
    const s = toStage({ ...stage, is_deleted: true, pipeline_id: 99, deal_probability: null, update_time: null });
    expect(s.status).toBe('inactive');
    expect(s.pipeline).toEqual({ id: '99' });
    expect(s).not.toHaveProperty('probability');
    expect(s).not.toHaveProperty('updated_at');
  });

  it('maps a deal with names: title -> name, value -> amount, org -> account, dates', () => {
    const d = toDeal(deal, names);
    expect(d).toEqual({
      id: '42',
      name: 'Acme renewal',
      status: 'open',
      pipeline: { id: '1', name: 'Sales' },
      stage: { id: '7', name: 'Negotiation' },
      amount: 1200.5,
      currency: 'EUR',
      owner: { id: '2', name: 'Bob Seller' },
      account: { id: '9', name: 'Acme Corp' },
      close_date: '2025-06-30',
      stage_changed_at: '2025-02-01T09:00:00Z',
      created_at: '2025-01-01T00:00:00Z',
      updated_at: '2025-03-01T10:00:00Z',
    });
    expect(Deal.parse(d)).toEqual(d);
  });

  it('maps a deal without org, owner names or close date to bare refs and omitted fields', () => {
    const d = toDeal({ ...deal, org_id: null, expected_close_date: null, stage_change_time: null });
    expect(d.owner).toEqual({ id: '2' });
    expect(d.stage).toEqual({ id: '7' });
    expect(d).not.toHaveProperty('account');
    expect(d).not.toHaveProperty('close_date');
    expect(d).not.toHaveProperty('stage_changed_at');
  });

  it('attaches the native deal as remote_data only on request', () => {
    expect(toDeal(deal, names, { remote: true }).remote_data).toEqual(deal);
    expect(toDeal(deal, names)).not.toHaveProperty('remote_data');
  });

  it('keeps open/won/lost and treats anything else as closed', () => {
    expect(dealStatus('won')).toBe('won');
    expect(dealStatus('lost')).toBe('lost');
    expect(dealStatus('open')).toBe('open');
    expect(dealStatus('deleted')).toBe('lost');
  });

  it('sums open deals per stage and per currency, skipping closed and deleted ones', () => {
    const rows: PdDeal[] = [
      { ...deal, id: 1, stage_id: 7, value: 0.1, currency: 'USD' },
      { ...deal, id: 2, stage_id: 7, value: 0.2, currency: 'USD' },
      { ...deal, id: 3, stage_id: 7, value: 5, currency: 'EUR' },
      { ...deal, id: 4, stage_id: 8, value: 10, currency: 'USD' },
      { ...deal, id: 5, stage_id: 8, value: 99, status: 'won' },
      { ...deal, id: 6, stage_id: 8, value: 99, is_deleted: true },
    ];
    const { byStage, total } = summarizeOpenDeals(rows);
    expect(byStage.get(7)).toEqual({ count: 3, values: { USD: 0.3, EUR: 5 } });
    expect(byStage.get(8)).toEqual({ count: 1, values: { USD: 10 } });
    expect(total).toEqual({ count: 4, values: { USD: 10.3, EUR: 5 } });
  });

  it('maps conversion statistics with stage names', () => {
    const stats = toConversionStats(
      { stage_conversions: [{ from_stage_id: 7, to_stage_id: 8, conversion_rate: 45 }], won_conversion: 20, lost_conversion: 10 },
      {
        pipeline: { id: '1', name: 'Sales' },
        period: { start_date: '2026-01-01', end_date: '2026-03-31' },
        stages: new Map([
          [7, 'Negotiation'],
          [8, 'Closing'],
        ]),
      },
    );
    expect(stats).toEqual({
      pipeline: { id: '1', name: 'Sales' },
      period: { start_date: '2026-01-01', end_date: '2026-03-31' },
      stage_conversions: [
        { from_stage: { id: '7', name: 'Negotiation' }, to_stage: { id: '8', name: 'Closing' }, conversion_rate: 45 },
      ],
      won_conversion: 20,
      lost_conversion: 10,
    });
    expect(ConversionStats.parse(stats)).toEqual(stats);
  });

  it('maps movement statistics: deals_ids -> deal_ids strings, stage ids -> refs, drops formatted values', () => {
    const g = (ids: number[]) => ({ count: ids.length, deals_ids: ids, values: { USD: 10 }, formatted_values: { USD: 'US$10' } });
    const stats = toMovementStats(
      {
        movements_between_stages: { count: 3 },
        new_deals: g([1, 2]),
        deals_left_open: g([3]),
        won_deals: g([]),
        lost_deals: g([4]),
        average_age_in_days: { across_all_stages: 12, by_stages: [{ stage_id: 7, value: 5 }, { stage_id: 99, value: 1 }] },
      },
      { pipeline: { id: '1' }, period: { start_date: '2026-01-01', end_date: '2026-01-31' }, stages: new Map([[7, 'Negotiation']]) },
    );
    expect(stats.new_deals).toEqual({ count: 2, deal_ids: ['1', '2'], values: { USD: 10 } });
    expect(stats.lost_deals.deal_ids).toEqual(['4']);
    expect(stats.movements_between_stages).toEqual({ count: 3 });
    expect(stats.average_age_in_days).toEqual({
      across_all_stages: 12,
      by_stages: [
        { stage: { id: '7', name: 'Negotiation' }, value: 5 },
        { stage: { id: '99' }, value: 1 },
      ],
    });
    expect(MovementStats.parse(stats)).toEqual(stats);
  });
});

describe('unified -> Pipedrive', () => {
  it('builds pipeline bodies with only the given fields', () => {
    expect(fromPipelineInput({ name: 'Enterprise', is_deal_probability_enabled: true })).toEqual({
      name: 'Enterprise',
      is_deal_probability_enabled: true,
    });
    expect(fromPipelineInput({ name: 'Renamed' })).toEqual({ name: 'Renamed' });
    expect(fromPipelineInput({ is_deal_probability_enabled: false })).toEqual({ is_deal_probability_enabled: false });
  });

  it('builds stage bodies: probability -> deal_probability, pipeline id as a number', () => {
    expect(fromStageInput({ name: 'Negotiation', pipeline_id: '1', probability: 60 })).toEqual({
      name: 'Negotiation',
      pipeline_id: 1,
      deal_probability: 60,
    });
    expect(fromStageInput({ probability: 0 })).toEqual({ deal_probability: 0 });
  });

  it('refuses stage fields Pipedrive does not have instead of dropping them', () => {
    for (const input of [{ position: 2 }, { color: '#fff' }, { status: 'inactive' as const }]) {
      expect(() => fromStageInput({ name: 'x', ...input })).toThrow(CrmError);
    }
    try {
      fromStageInput({ position: 2 });
    } catch (e) {
      expect((e as CrmError).kind).toBe('unsupported');
      expect((e as CrmError).message).toContain('`position`');
    }
    expect(() => fromStageInput({ probability: 101 })).toThrow(/0 to 100/);
    expect(() => fromStageInput({ probability: 12.5 })).toThrow(/whole number/);
  });

  it('builds deal bodies with Pipedrive names and numeric ids', () => {
    expect(
      fromDealInput({
        name: 'Acme renewal',
        pipeline_id: '1',
        stage_id: '7',
        amount: 1200.5,
        currency: 'eur',
        status: 'won',
        owner_id: '2',
        account_id: '9',
        close_date: '2025-06-30',
      }),
    ).toEqual({
      title: 'Acme renewal',
      pipeline_id: 1,
      stage_id: 7,
      value: 1200.5,
      currency: 'EUR',
      status: 'won',
      owner_id: 2,
      org_id: 9,
      expected_close_date: '2025-06-30',
    });
    expect(fromDealInput({ stage_id: '8' })).toEqual({ stage_id: 8 });
  });

  it('validates deal input before anything is sent', () => {
    expect(() => fromDealInput({ close_date: '30/06/2025' })).toThrow(/YYYY-MM-DD/);
    expect(() => fromDealInput({ currency: 'euro' })).toThrow(/3-letter/);
    expect(() => fromDealInput({ stage_id: 'abc' })).toThrow(/list_stages/);
    expect(() => fromDealInput({ status: 'closed' as never })).toThrow(/open, won, lost/);
  });

  it('round-trips: a unified input sent and read back yields the same unified fields', () => {
    const input = {
      name: 'Round trip',
      pipeline_id: '1',
      stage_id: '7',
      amount: 300,
      currency: 'USD',
      status: 'open' as const,
      owner_id: '2',
      account_id: '9',
      close_date: '2026-01-31',
    };
    const body = fromDealInput(input);
    const echoed: PdDeal = { ...deal, ...body, id: 77, title: body.title!, pipeline_id: body.pipeline_id!, stage_id: body.stage_id!, status: body.status! };
    const back = toDeal(echoed, names);
    expect({
      name: back.name,
      pipeline_id: back.pipeline.id,
      stage_id: back.stage.id,
      amount: back.amount,
      currency: back.currency,
      status: back.status,
      owner_id: back.owner?.id,
      account_id: back.account?.id,
      close_date: back.close_date,
    }).toEqual(input);

    const s = toStage({ ...stage, ...fromStageInput({ name: 'N', pipeline_id: '1', probability: 25 }) } as PdStage);
    expect({ name: s.name, pipeline_id: s.pipeline?.id, probability: s.probability }).toEqual({
      name: 'N',
      pipeline_id: '1',
      probability: 25,
    });
  });

  it('parses Pipedrive ids and refuses anything that cannot be one', () => {
    expect(nativeId('12', 'deal', 'list_deals')).toBe(12);
    expect(nativeId(' 12 ', 'deal', 'list_deals')).toBe(12);
    for (const bad of ['0', '-1', '1.5', 'abc', '', '1e3', '../1']) {
      expect(() => nativeId(bad, 'deal', 'list_deals')).toThrow(/Call list_deals/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The records around a deal

describe('organizations, persons and users', () => {
  const org: PdOrganization = {
    id: 3,
    name: 'Initech',
    owner_id: 2,
    website: 'https://www.initech.example/about',
    industry: 17,
    is_deleted: false,
    add_time: '2026-01-05T09:00:00Z',
    update_time: '2026-02-05T09:00:00Z',
  };

  it('an organization reads as an account: website as domain, owner named, industry (an option id) left out', () => {
    const a = toAccount(org, { users: new Map([[2, 'Bob']]) });
    expect(a).toEqual({
      id: '3',
      name: 'Initech',
      domain: 'initech.example',
      owner: { id: '2', name: 'Bob' },
      created_at: '2026-01-05T09:00:00Z',
      updated_at: '2026-02-05T09:00:00Z',
    });
    expect(Account.parse(a)).toEqual(a);
    expect(toAccount(org, {}, { remote: true }).remote_data).toMatchObject({ industry: 17, website: org.website });
  });

  it('domainOf takes the host of a URL or a bare host, and keeps other text as typed', () => {
    expect(domainOf('https://www.acme.example/x?y=1')).toBe('acme.example');
    expect(domainOf('acme.example')).toBe('acme.example');
    expect(domainOf('WWW.Acme.Example')).toBe('acme.example');
    expect(domainOf('http://shop.acme.example:8080')).toBe('shop.acme.example');
    expect(domainOf('  ')).toBeUndefined();
    expect(domainOf(null)).toBeUndefined();
    expect(domainOf('not a url at all')).toBe('not a url at all');
  });

  it('account writes: domain as website, owner as an id; industry refused', () => {
    expect(fromAccountInput({ name: ' Pilot Co ', domain: 'pilot.example', owner_id: '4' })).toEqual({ name: 'Pilot Co', owner_id: 4, website: 'pilot.example' });
    expect(() => fromAccountInput({ industry: 'Retail' })).toThrow(/does not support `industry`/);
    expect(() => fromAccountInput({ name: '  ' })).toThrow(/`name` must not be empty/);
    expect(() => fromAccountInput({ owner_id: 'ana' })).toThrow(
      "'ana' is not a Pipedrive user id (they are positive whole numbers). Find ids with list_users or search (types: users).",
    );
  });

  const person: PdPerson = {
    id: 8,
    name: 'Rosa Diaz',
    first_name: 'Rosa',
    last_name: 'Diaz',
    owner_id: 1,
    org_id: 3,
    emails: [
      { value: 'rosa@home.example', primary: false, label: 'home' },
      { value: 'rosa@initech.example', primary: true, label: 'work' },
      { value: '', primary: false, label: 'other' },
    ],
    phones: [],
    job_title: 'CTO',
    add_time: '2026-01-05T09:00:00Z',
    update_time: '2026-01-05T09:00:00Z',
  };

  it('a person reads as a contact: the primary email first, empty values and lists left out', () => {
    const c = toContact(person, { orgs: new Map([[3, 'Initech']]), users: new Map([[1, 'Alice']]) });
    expect(c).toEqual({
      id: '8',
      name: 'Rosa Diaz',
      first_name: 'Rosa',
      last_name: 'Diaz',
      emails: ['rosa@initech.example', 'rosa@home.example'],
      title: 'CTO',
      account: { id: '3', name: 'Initech' },
      owner: { id: '1', name: 'Alice' },
      created_at: '2026-01-05T09:00:00Z',
      updated_at: '2026-01-05T09:00:00Z',
    });
    expect(Contact.parse(c)).toEqual(c);
  });

  it('contact writes: one name, contact points with the first primary; half a name completed from the person', () => {
    expect(fromContactInput({ first_name: 'Rosa', last_name: 'Diaz', emails: ['a@x.example', 'b@x.example'], phones: ['+1 555'], title: 'CTO', account_id: '3', owner_id: '1' })).toEqual({
      name: 'Rosa Diaz',
      owner_id: 1,
      org_id: 3,
      emails: [
        { value: 'a@x.example', primary: true, label: 'work' },
        { value: 'b@x.example', primary: false, label: 'work' },
      ],
      phones: [{ value: '+1 555', primary: true, label: 'work' }],
      job_title: 'CTO',
    });
    expect(fromContactInput({ last_name: 'Garcia' }, person)).toEqual({ name: 'Rosa Garcia' });
    expect(fromContactInput({ first_name: 'Ana' }, { name: 'Diaz', first_name: null, last_name: 'Diaz' })).toEqual({ name: 'Ana Diaz' });
    expect(fromContactInput({ last_name: 'Solo' })).toEqual({ name: 'Solo' });
    expect(fromContactInput({ emails: [] })).toEqual({ emails: [] });
    expect(() => fromContactInput({ account_id: 'acme' })).toThrow(/not a Pipedrive organization id.*search \(types: accounts\)/);
  });

  it('a user reads with its email and whether it is active', () => {
    const u = toUser({ id: 4, name: 'Ana Souza', email: 'ana@example.com', active_flag: false, is_you: false });
    expect(u).toEqual({ id: '4', name: 'Ana Souza', email: 'ana@example.com', active: false });
    expect(User.parse(u)).toEqual(u);
  });
});

describe('activities and notes', () => {
  const activity: PdActivity = {
    id: 12,
    subject: 'Call back',
    type: 'call',
    owner_id: 2,
    deal_id: 5,
    person_id: 8,
    org_id: 3,
    project_id: 9,
    due_date: '2026-03-01',
    done: false,
    note: 'Ask about the budget.',
    add_time: '2026-02-01T10:00:00Z',
    update_time: '2026-02-02T10:00:00Z',
  };

  it('types: the standard keys both ways; deadline a task, lunch a meeting, a company type a task', () => {
    for (const t of ['task', 'call', 'meeting', 'email'] as const) {
      expect(activityTypeKey(t)).toBe(t);
      expect(activityType(activityTypeKey(t))).toBe(t);
    }
    expect(activityType('deadline')).toBe('task');
    expect(activityType('lunch')).toBe('meeting');
    expect(activityType('site_visit')).toBe('task');
  });

  it('an activity reads with its body, due date, done and every parent named', () => {
    const a = toActivity(activity, {
      users: new Map([[2, 'Bob']]),
      deals: new Map([[5, 'Pilot']]),
      persons: new Map([[8, 'Rosa Diaz']]),
      orgs: new Map([[3, 'Initech']]),
    });
    expect(a).toEqual({
      id: '12',
      type: 'call',
      subject: 'Call back',
      body: 'Ask about the budget.',
      due_date: '2026-03-01',
      done: false,
      owner: { id: '2', name: 'Bob' },
      deal: { id: '5', name: 'Pilot' },
      account: { id: '3', name: 'Initech' },
      contact: { id: '8', name: 'Rosa Diaz' },
      project: { id: '9' },
      created_at: '2026-02-01T10:00:00Z',
      updated_at: '2026-02-02T10:00:00Z',
    });
    expect(Activity.parse(a)).toEqual(a);
  });

  it('a note reads as an activity of type note, id note-<id>, v1 times as ISO, names from the note itself', () => {
    const n: PdNote = {
      id: 7,
      content: 'They want a pilot.',
      user_id: 1,
      deal_id: 5,
      org_id: null,
      person_id: 8,
      project_id: null,
      active_flag: true,
      add_time: '2026-03-04 05:06:07',
      update_time: '2026-03-04 05:06:08',
      user: { name: 'Alice', email: 'alice@example.com' },
      deal: { title: 'Pilot' },
      person: { name: 'Rosa Diaz' },
    };
    const a = noteToActivity(n);
    expect(a).toEqual({
      id: 'note-7',
      type: 'note',
      body: 'They want a pilot.',
      owner: { id: '1', name: 'Alice' },
      deal: { id: '5', name: 'Pilot' },
      contact: { id: '8', name: 'Rosa Diaz' },
      created_at: '2026-03-04T05:06:07Z',
      updated_at: '2026-03-04T05:06:08Z',
    });
    expect(Activity.parse(a)).toEqual(a);
    expect(v1Time('2026-03-04T05:06:07Z')).toBe('2026-03-04T05:06:07Z');
  });

  it('activity ids: a number is an activity, note-<n> a note; anything else points at list_activities', () => {
    expect(activityKey('12')).toEqual({ kind: 'activity', id: 12 });
    expect(activityKey('note-7')).toEqual({ kind: 'note', id: 7 });
    expect(activityKey(' NOTE-7 ')).toEqual({ kind: 'note', id: 7 });
    for (const bad of ['note-', 'note-x', 'task-3', '0']) expect(() => activityKey(bad)).toThrow(/Find ids with list_activities\./);
  });

  it('activity writes: type keys, parents by Pipedrive name, body as note; notes: content, author, no due date', () => {
    expect(
      fromActivityInput({ type: 'meeting', subject: 'Kick-off', body: 'Agenda', due_date: '2026-04-01', done: false, owner_id: '2', deal_id: '5', account_id: '3', contact_id: '8', project_id: '9' }),
    ).toEqual({ subject: 'Kick-off', type: 'meeting', owner_id: 2, deal_id: 5, org_id: 3, person_id: 8, project_id: 9, due_date: '2026-04-01', done: false, note: 'Agenda' });
    expect(fromActivityInput({ done: true })).toEqual({ done: true });
    expect(() => fromActivityInput({ due_date: '1 April' })).toThrow(/YYYY-MM-DD/);
    expect(fromNoteInput({ type: 'note', body: 'Text', owner_id: '1', deal_id: '5' })).toEqual({ content: 'Text', user_id: 1, deal_id: 5 });
    expect(fromNoteInput({ subject: 'Meeting notes', body: 'We agreed.' })).toEqual({ content: 'Meeting notes\n\nWe agreed.' });
    expect(fromNoteInput({ subject: 'Only a subject' })).toEqual({ content: 'Only a subject' });
    expect(() => fromNoteInput({ body: 'x', due_date: '2026-01-01' })).toThrow('A note has no due_date; make it a task (type: task) to track a to-do.');
  });
});

describe('search hits', () => {
  it('carry what the search answer has: a deal its stage, status and owner; a person its organization and first email', () => {
    const users = new Map([[2, 'Bob']]);
    expect(
      toSearchHit({ id: 5, type: 'deal', title: 'Pilot', status: 'won', owner: { id: 2 }, stage: { id: 3, name: 'Demo' }, organization: { id: 1, name: 'Acme' } }, { users }),
    ).toEqual({ type: 'deals', id: '5', name: 'Pilot', status: 'won', stage: { id: '3', name: 'Demo' }, owner: { id: '2', name: 'Bob' }, account: { id: '1', name: 'Acme' } });
    expect(toSearchHit({ id: 8, type: 'person', name: 'Rosa', emails: ['', 'rosa@x.example'], owner: { id: 9 } }, { users })).toEqual({
      type: 'contacts',
      id: '8',
      name: 'Rosa',
      owner: { id: '9' },
      email: 'rosa@x.example',
    });
    expect(toSearchHit({ id: 1, type: 'organization', name: 'Acme', owner: { id: 2 } }, { users })).toEqual({
      type: 'accounts',
      id: '1',
      name: 'Acme',
      owner: { id: '2', name: 'Bob' },
    });
    expect(toSearchHit({ id: 1, type: 'product', name: 'Widget' })).toBeUndefined();
  });
});
