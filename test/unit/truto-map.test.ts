import { describe, expect, it } from 'vitest';
import { Deal, Pipeline, Project, Stage } from '../../src/crm/model.js';
import { describeTrutoError } from '../../src/providers/truto/client.js';
import {
  UNKNOWN_REF,
  accountFromTruto,
  accountToTruto,
  activityLinked,
  contactFromTruto,
  contactToTruto,
  domainOf,
  emailIs,
  engagementFromTruto,
  engagementToTruto,
  engagementType,
  nameContains,
  noteFromTruto,
  noteToTruto,
  parseActivityId,
  taskDone,
  taskFromTruto,
  taskToTruto,
  userFromTruto,
  dealFromTruto,
  dealStatus,
  dealToTruto,
  isPartialRecord,
  pipelineFromTruto,
  pipelineToTruto,
  projectFromTruto,
  projectStatus,
  projectToTruto,
  stageFromTruto,
  stageToTruto,
  summarizeOpenDeals,
  toDate,
  toRef,
} from '../../src/providers/truto/map.js';

describe('refs and dates', () => {
  it('turns ids into strings and treats empty refs as absent', () => {
    expect(toRef({ id: 12, name: 'Sales' })).toEqual({ id: '12', name: 'Sales' });
    expect(toRef({ id: '7' })).toEqual({ id: '7' });
    expect(toRef({ id: '7', name: '' })).toEqual({ id: '7' });
    expect(toRef({})).toBeUndefined();
    expect(toRef({ id: null })).toBeUndefined();
    expect(toRef(null)).toBeUndefined();
    expect(toRef([{ id: 1 }])).toBeUndefined();
  });

  it('keeps the date part of Truto date-times', () => {
    expect(toDate('2026-03-31T00:00:00.000Z')).toBe('2026-03-31');
    expect(toDate('2026-03-31 10:00:00')).toBe('2026-03-31');
    expect(toDate('2026-03-31')).toBe('2026-03-31');
    expect(toDate('next week')).toBe('next week');
    expect(toDate(null)).toBeUndefined();
  });
});

describe('stages', () => {
  it('maps a Truto stage, dropping remote_data unless asked', () => {
    const native = {
      id: 5,
      name: 'Qualified',
      position: 2,
      status: 'inactive',
      pipeline: { id: 1, name: 'Sales' },
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-02T00:00:00Z',
      remote_data: { order_nr: 2 },
    };
    const s = stageFromTruto(native);
    expect(s).toEqual({
      id: '5',
      name: 'Qualified',
      pipeline: { id: '1', name: 'Sales' },
      position: 2,
      status: 'inactive',
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-02T00:00:00Z',
    });
    Stage.parse(s);
    expect(stageFromTruto(native, { include_remote_data: true }).remote_data).toEqual({ order_nr: 2 });
  });

  it('fills what integrations leave out: position, status, pipeline', () => {
    expect(stageFromTruto({ id: 'a', name: 'X' })).toEqual({ id: 'a', name: 'X', pipeline: null, position: 0, status: 'active' });
    expect(stageFromTruto({ id: 'a', position: '2.6', status: 'ACTIVE' }, {}, { position: 9 })).toMatchObject({
      name: '',
      position: 3,
      status: 'active',
    });
    expect(stageFromTruto({ id: 'a' }, {}, { position: 4, pipeline: { id: 'p' } })).toMatchObject({
      position: 4,
      pipeline: { id: 'p' },
    });
  });

  it('a record without an id is an upstream error, not a half record', () => {
    expect(() => stageFromTruto({ id: '' })).toThrow(/without an id/);
  });

  it('writes only name, position and pipeline {id}', () => {
    expect(stageToTruto({ pipeline_id: '1', name: 'N', position: 3 })).toEqual({ name: 'N', position: 3, pipeline: { id: '1' } });
    expect(stageToTruto({ name: 'Only' })).toEqual({ name: 'Only' });
    expect(stageToTruto({})).toEqual({});
  });
});

describe('pipelines', () => {
  it('maps embedded stages in order, naming their pipeline', () => {
    const p = pipelineFromTruto({
      id: 1,
      name: 'Sales',
      entity: 'opportunity',
      stages: [
        { id: 's1', name: 'A', status: 'active', pipeline: { id: '1' } },
        { id: 's2', name: 'B', status: 'inactive', pipeline: { id: '1' } },
        { id: 's3', name: 'C' },
      ],
      remote_data: { raw: true },
    });
    expect(p).toEqual({
      id: '1',
      name: 'Sales',
      stages: [
        { id: 's1', name: 'A', pipeline: { id: '1', name: 'Sales' }, position: 1, status: 'active' },
        { id: 's2', name: 'B', pipeline: { id: '1', name: 'Sales' }, position: 2, status: 'inactive' },
        { id: 's3', name: 'C', pipeline: { id: '1', name: 'Sales' }, position: 3, status: 'active' },
      ],
    });
    Pipeline.parse(p);
    expect(pipelineFromTruto({ id: 'x', name: 'N' })).toEqual({ id: 'x', name: 'N' });
  });

  it('writes only the name', () => {
    expect(pipelineToTruto({ name: 'New', is_deal_probability_enabled: true })).toEqual({ name: 'New' });
  });
});

describe('deals (opportunities)', () => {
  it('maps the obvious fields and keeps the raw record in remote_data on request', () => {
    const native = {
      id: 42,
      name: 'Big deal',
      description: 'not in the unified Deal',
      amount: '1200.50',
      currency: 'EUR',
      owner: { id: 'u1', name: 'Ada' },
      account: { id: 'a1', name: 'Acme' },
      contact: [{ id: 'c1' }],
      stage: { id: 's1', name: 'Proposal' },
      pipeline: { id: 'p1', name: 'Sales' },
      status: 'open',
      close_date: '2026-05-01T00:00:00.000Z',
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-02-01T00:00:00Z',
      remote_data: { title: 'Big deal' },
    };
    const d = dealFromTruto(native, { include_remote_data: true });
    expect(d).toEqual({
      id: '42',
      name: 'Big deal',
      status: 'open',
      pipeline: { id: 'p1', name: 'Sales' },
      stage: { id: 's1', name: 'Proposal' },
      amount: 1200.5,
      currency: 'EUR',
      owner: { id: 'u1', name: 'Ada' },
      account: { id: 'a1', name: 'Acme' },
      close_date: '2026-05-01',
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-02-01T00:00:00Z',
      remote_data: { title: 'Big deal' },
    });
    Deal.parse(d);
    expect(dealFromTruto(native)).not.toHaveProperty('remote_data');
  });

  it('finds the pipeline on the stage, or says plainly that it is unknown', () => {
    expect(dealFromTruto({ id: 1, stage: { id: 's', pipeline: { id: 'p' } } }).pipeline).toEqual({ id: 'p' });
    const bare = dealFromTruto({ id: 1 });
    expect(bare.pipeline).toEqual(UNKNOWN_REF);
    expect(bare.stage).toEqual(UNKNOWN_REF);
    expect(bare.name).toBe('');
    Deal.parse(bare);
  });

  it('normalises status spellings across integrations', () => {
    for (const [raw, want] of [
      ['open', 'open'],
      ['WON', 'won'],
      ['closed_won', 'won'],
      ['ClosedWon', 'won'],
      ['lost', 'lost'],
      ['closed-lost', 'lost'],
      ['active', 'open'],
      [undefined, 'open'],
    ] as const) {
      expect(dealStatus(raw), String(raw)).toBe(want);
    }
  });

  it('writes refs as {id} and only the fields given', () => {
    expect(
      dealToTruto({
        name: 'N',
        pipeline_id: 'p',
        stage_id: 's',
        amount: 0,
        currency: 'USD',
        status: 'lost',
        owner_id: 'u',
        account_id: 'a',
        close_date: '2026-01-31',
      }),
    ).toEqual({
      name: 'N',
      pipeline: { id: 'p' },
      stage: { id: 's' },
      amount: 0,
      currency: 'USD',
      status: 'lost',
      owner: { id: 'u' },
      account: { id: 'a' },
      close_date: '2026-01-31',
    });
    expect(dealToTruto({ stage_id: 's' })).toEqual({ stage: { id: 's' } });
  });

  it('summarises open deals per stage and per currency', () => {
    const deals: Deal[] = [
      { id: '1', name: 'a', status: 'open', pipeline: { id: 'p' }, stage: { id: 's1' }, amount: 0.1, currency: 'USD' },
      { id: '2', name: 'b', status: 'open', pipeline: { id: 'p' }, stage: { id: 's1' }, amount: 0.2, currency: 'USD' },
      { id: '3', name: 'c', status: 'open', pipeline: { id: 'p' }, stage: { id: 's2' }, amount: 5, currency: 'EUR' },
      { id: '4', name: 'd', status: 'won', pipeline: { id: 'p' }, stage: { id: 's2' }, amount: 7, currency: 'EUR' },
      { id: '5', name: 'e', status: 'open', pipeline: { id: 'other' }, stage: { id: 's1' }, amount: 9, currency: 'EUR' },
      { id: '6', name: 'f', status: 'open', pipeline: { ...UNKNOWN_REF }, stage: { id: 's2' }, amount: 1 },
      { id: '7', name: 'g', status: 'open', pipeline: { ...UNKNOWN_REF }, stage: { id: 'elsewhere' }, amount: 1, currency: 'EUR' },
    ];
    const { byStage, total } = summarizeOpenDeals(deals, 'p', new Set(['s1', 's2']));
    expect(byStage.get('s1')).toEqual({ count: 2, values: { USD: 0.3 } });
    expect(byStage.get('s2')).toEqual({ count: 2, values: { EUR: 5 } });
    expect(total).toEqual({ count: 4, values: { USD: 0.3, EUR: 5 } });
  });
});

describe('projects', () => {
  it('maps every unified project field', () => {
    const p = projectFromTruto(
      {
        id: 900,
        name: 'Rollout',
        description: 'EU',
        status: 'IN_PROGRESS',
        amount: 10,
        currency: 'EUR',
        close_date: '2026-12-31T00:00:00Z',
        owner: { id: 'u1', name: 'Ada' },
        account: { id: 'a1' },
        contact: [{ id: 'c1', name: 'Bo' }, {}],
        opportunity: [{ id: 5 }],
        stage: { id: 'st', name: 'Build' },
        tags: [{ id: 't', name: 'vip' }],
        custom_fields: { region: 'EMEA' },
        last_activity_at: '2026-02-02T00:00:00Z',
        created_at: '2026-01-01T00:00:00Z',
        updated_at: '2026-01-03T00:00:00Z',
        remote_data: { PROJECT_ID: 900 },
      },
      { include_remote_data: true },
    );
    expect(p).toEqual({
      id: '900',
      name: 'Rollout',
      description: 'EU',
      status: 'in progress',
      amount: 10,
      currency: 'EUR',
      close_date: '2026-12-31',
      owner: { id: 'u1', name: 'Ada' },
      account: { id: 'a1' },
      contact: [{ id: 'c1', name: 'Bo' }],
      opportunity: [{ id: '5' }],
      stage: { id: 'st', name: 'Build' },
      tags: [{ id: 't', name: 'vip' }],
      custom_fields: { region: 'EMEA' },
      last_activity_at: '2026-02-02T00:00:00Z',
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-03T00:00:00Z',
      remote_data: { PROJECT_ID: 900 },
    });
    Project.parse(p);
    expect(projectFromTruto({ id: 'x', name: 'Min', owner: {}, custom_fields: null })).toEqual({ id: 'x', name: 'Min' });
  });

  it('keeps unified statuses, maps known CRM words, and leaves unknown ones out', () => {
    expect(projectStatus('Not Started')).toBe('not started');
    expect(projectStatus('completed')).toBe('completed');
    expect(projectStatus('OPEN')).toBe('open');
    expect(projectStatus('planned')).toBe('not started');
    expect(projectStatus('running')).toBe('in progress');
    expect(projectStatus('over_budget')).toBe('in progress');
    expect(projectStatus('something else')).toBeUndefined();
    expect(projectStatus(undefined)).toBeUndefined();
  });

  it('writes unified names with refs as {id} and remote_data as-is', () => {
    expect(
      projectToTruto({
        name: 'N',
        owner: { id: 'u' },
        account: { id: 'a' },
        stage: { id: 's' },
        contact: [{ id: 'c' }],
        opportunity: [{ id: 'o' }],
        tags: [{ id: 't' }],
        custom_fields: { k: 1 },
        remote_data: { party: { id: 892 }, nested: [1, 2] },
      }),
    ).toEqual({
      name: 'N',
      owner: { id: 'u' },
      account: { id: 'a' },
      stage: { id: 's' },
      contact: [{ id: 'c' }],
      opportunity: [{ id: 'o' }],
      tags: [{ id: 't' }],
      custom_fields: { k: 1 },
      remote_data: { party: { id: 892 }, nested: [1, 2] },
    });
    expect(projectToTruto({ status: 'closed' })).toEqual({ status: 'closed' });
  });
});

describe('Truto error bodies -> one actionable sentence', () => {
  it('turns missing_required_body_fields into words and names the CRM that said it', () => {
    const body = {
      statusCode: 422,
      error: 'Unprocessable Entity',
      message: 'Validation failed',
      truto_is_remote_error: true,
      raw_response: { errors: [{ field: 'STATUS', message: 'is required' }] },
      truto_error_insight: {
        missing_required_body_fields: { description: 'Missing: status', value: ['status'] },
      },
    };
    expect(describeTrutoError(body, 'Insightly')).toBe('Insightly says: missing required body field status; STATUS is required');
    expect(
      describeTrutoError({
        ...body,
        raw_response: undefined,
        truto_error_insight: { missing_required_body_fields: { value: ['name', 'status'] } },
      }, 'Insightly'),
    ).toBe('Insightly says: missing required body fields name, status');
  });

  it('covers the other insight kinds', () => {
    const base = { statusCode: 400, message: 'Bad', truto_is_remote_error: true };
    expect(
      describeTrutoError({ ...base, truto_error_insight: { missing_required_query_parameters: { value: ['pipeline_id'] } } }, 'Capsule'),
    ).toBe('Capsule says: missing required query parameter pipeline_id');
    expect(
      describeTrutoError({ ...base, statusCode: 403, truto_error_insight: { forbidden_error: { value: { missing_scopes: ['projects.write'] } } } }),
    ).toBe('the CRM behind Truto says: missing scopes projects.write');
    expect(
      describeTrutoError({ ...base, truto_error_insight: { remote_error: { description: 'Owner is not a member of the team' } } }, 'Capsule'),
    ).toBe('Capsule says: Owner is not a member of the team');
  });

  it("uses Truto's own message for Truto errors and the raw message for plain remote errors", () => {
    expect(describeTrutoError({ statusCode: 400, error: 'Bad Request', message: 'integrated_account_id is required' })).toBe(
      'integrated_account_id is required',
    );
    expect(
      describeTrutoError({ statusCode: 404, message: 'Not Found', truto_is_remote_error: true, raw_response: { message: 'Kase 9 not found' } }, 'Capsule'),
    ).toBe('Capsule says: Kase 9 not found');
    expect(describeTrutoError({ statusCode: 500, message: 'Boom', truto_is_remote_error: true, raw_response: '' }, 'Planhat')).toBe(
      'Planhat says: Boom',
    );
    expect(describeTrutoError('plain text')).toBe('plain text');
    expect(describeTrutoError(undefined)).toBeUndefined();
    expect(describeTrutoError({})).toBeUndefined();
  });
});

describe('partial write answers', () => {
  it('an id-only or nameless answer is partial; a unified record is not', () => {
    expect(isPartialRecord({ id: '1' })).toBe(true);
    expect(isPartialRecord({ type: 'project', id: '1' })).toBe(true);
    expect(isPartialRecord({ id: '1', status: 'open' })).toBe(true);
    expect(isPartialRecord({ id: '1', name: 'X' })).toBe(false);
  });
});

describe('accounts, contacts and users', () => {
  it('takes an account domain from the host of its website, and sends a domain as the website', () => {
    expect(domainOf('https://www.Acme.com/about?x=1')).toBe('acme.com');
    expect(domainOf('acme.io')).toBe('acme.io');
    expect(domainOf('http://shop.acme.co.uk')).toBe('shop.acme.co.uk');
    expect(domainOf('  ')).toBeUndefined();
    expect(domainOf(null)).toBeUndefined();
    expect(accountFromTruto({ id: 9, name: 'Acme', website: 'https://acme.com', industry: '', owner: { id: 'u1' } })).toEqual({
      id: '9',
      name: 'Acme',
      domain: 'acme.com',
      owner: { id: 'u1' },
    });
    expect(accountToTruto({ name: 'Acme', domain: 'acme.com', owner_id: 'u1' })).toEqual({ name: 'Acme', website: 'acme.com', owner: { id: 'u1' } });
    expect(accountToTruto({ industry: 'Retail' })).toEqual({ industry: 'Retail' });
  });

  it('reads contact lists of objects as lists of text, and writes them back as objects', () => {
    const c = contactFromTruto({
      id: 'c1',
      first_name: 'Rosa',
      last_name: 'Diaz',
      email_addresses: [{ email: 'rosa@x.example', type: 'work' }, { email: ' ' }, { type: 'home' }],
      phone_numbers: [{ number: '+1 555 0100', extension: '12' }, null as never],
    });
    expect(c).toEqual({ id: 'c1', name: 'Rosa Diaz', first_name: 'Rosa', last_name: 'Diaz', emails: ['rosa@x.example'], phones: ['+1 555 0100'] });
    expect(contactFromTruto({ id: 2, name: 'Full Name', first_name: 'Full' }).name).toBe('Full Name');
    expect(contactToTruto({ emails: ['a@x.example'], phones: [], account_id: 'a1' })).toEqual({
      email_addresses: [{ email: 'a@x.example' }],
      phone_numbers: [],
      account: { id: 'a1' },
    });
  });

  it('maps users, keeping active only when Truto says', () => {
    expect(userFromTruto({ id: 'u1', name: 'Ana', email: 'ana@x.example', is_active: false })).toEqual({ id: 'u1', name: 'Ana', email: 'ana@x.example', active: false });
    expect(userFromTruto({ id: 'u2', name: 'Ben', is_active: null })).toEqual({ id: 'u2', name: 'Ben' });
  });

  it('matches names by contained text and emails whole, in any case', () => {
    expect(nameContains('Acme  Corp', 'acme corp')).toBe(true);
    expect(nameContains('Acme Corp', 'CORP')).toBe(true);
    expect(nameContains('Acme Corp', 'Globex')).toBe(false);
    expect(nameContains('Anything', undefined)).toBe(true);
    expect(emailIs('Ana@Example.com', 'ana@example.COM')).toBe(true);
    expect(emailIs('ana@example.com', 'ana@example')).toBe(false);
    expect(emailIs(undefined, 'ana@example.com')).toBe(false);
  });
});

describe('activities: notes, tasks and engagements', () => {
  it('gives each resource its own id prefix and reads them back', () => {
    expect(parseActivityId('note:12')).toEqual({ kind: 'note', id: '12' });
    expect(parseActivityId('engagement:a:b')).toEqual({ kind: 'engagement', id: 'a:b' });
    for (const bad of ['12', 'note:', ':12', 'lead:1', 'constructor:1']) {
      expect(() => parseActivityId(bad), bad).toThrow(/Truto activity ids look like note:12, task:7 or engagement:31/);
    }
  });

  it('maps a note: title is the subject, content the body, the first deal and contact are the parents', () => {
    expect(
      noteFromTruto({ id: 1, title: 'T', content: 'C', opportunity: [{ id: 5, name: 'Deal' }, { id: 6 }], contact: [], account: {}, created_at: 'x' }),
    ).toEqual({ id: 'note:1', type: 'note', subject: 'T', body: 'C', deal: { id: '5', name: 'Deal' }, created_at: 'x' });
    expect(noteToTruto({ type: 'note', subject: 'T', body: 'C', deal_id: '5', contact_id: 'c', owner_id: 'u' })).toEqual({
      title: 'T',
      content: 'C',
      owner: { id: 'u' },
      contact: [{ id: 'c' }],
      opportunity: [{ id: '5' }],
    });
  });

  it("maps a task: done from Truto's status (or a completion time without one); due date as a date", () => {
    expect(taskDone({ id: 1, status: 'completed' })).toBe(true);
    expect(taskDone({ id: 1, status: 'OPEN', completed_at: '2026-01-01' })).toBe(false);
    expect(taskDone({ id: 1, completed_at: '2026-01-01T00:00:00Z' })).toBe(true);
    expect(taskDone({ id: 1 })).toBe(false);
    expect(taskFromTruto({ id: 't', subject: 'S', due_date: '2026-03-01T10:00:00.000Z', status: 'open', account: { id: 'a' } })).toEqual({
      id: 'task:t',
      type: 'task',
      subject: 'S',
      due_date: '2026-03-01',
      done: false,
      account: { id: 'a' },
    });
    expect(taskToTruto({ done: true })).toEqual({ status: 'completed' });
    expect(taskToTruto({ done: false, due_date: '2026-03-01', body: 'b' })).toEqual({ content: 'b', due_date: '2026-03-01', status: 'open' });
  });

  it('maps an engagement: calls, meetings and emails only; start time is the due date; a project link', () => {
    expect(engagementType('Call')).toBe('call');
    expect(engagementType('note')).toBeUndefined();
    expect(engagementType('chat')).toBeUndefined();
    expect(engagementFromTruto({ id: 'e', engagement_type: 'meeting', start_time: '2026-02-01T09:00:00Z', project: { id: 'p' } })).toEqual({
      id: 'engagement:e',
      type: 'meeting',
      due_date: '2026-02-01',
      project: { id: 'p' },
    });
    expect(() => engagementFromTruto({ id: 'e', engagement_type: 'chat' })).toThrow(/not a call, meeting or email/);
    expect(engagementToTruto({ type: 'call', due_date: '2026-02-01', project_id: 'p', account_id: 'a' })).toEqual({
      engagement_type: 'call',
      start_time: '2026-02-01',
      project: { id: 'p' },
      account: { id: 'a' },
    });
  });

  it('tells whether a record hangs on every parent asked for', () => {
    const n = { id: 1, opportunity: [{ id: 5 }, { id: 6 }], contact: [{ id: 'c' }], account: { id: 'a' } };
    expect(activityLinked(n, { deal_id: '6', contact_id: 'c', account_id: 'a' })).toBe(true);
    expect(activityLinked(n, { deal_id: '7' })).toBe(false);
    expect(activityLinked(n, { account_id: 'b' })).toBe(false);
    expect(activityLinked(n, { project_id: 'p' })).toBe(false);
    expect(activityLinked({ id: 2, project: { id: 'p' } }, { project_id: 'p' })).toBe(true);
    expect(activityLinked(n, {})).toBe(true);
  });
});
