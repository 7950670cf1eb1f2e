/**
 * Insightly <-> unified mapping both ways, as pure functions (src/providers/insightly/map.ts), and
 * the pure readings of its client: base URL, error bodies, the daily quota.
 */
import { describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { dailyQuotaSpent, describeInsightlyError, insightlyBaseUrl } from '../../src/providers/insightly/client.js';
import { personFields } from '../../src/providers/insightly/search.js';
import {
  dealStatus,
  domainOf,
  fromAccountInput,
  fromContactInput,
  fromNoteInput,
  fromTaskInput,
  linkedParents,
  parseActivityId,
  titleOf,
  toAccount,
  toActivity,
  toContact,
  toUser,
  fromDealInput,
  fromProjectInput,
  projectStatus,
  summarizeOpenDeals,
  timestamp,
  toDeal,
  toPipeline,
  toProject,
  toStage,
  type IlOpportunity,
  type IlProject,
} from '../../src/providers/insightly/map.js';

const names = {
  pipelines: new Map([[1, 'Sales [opportunities]'], [3, 'Delivery [projects]']]),
  stages: new Map([[102, 'Qualified'], [302, 'Build']]),
  users: new Map([[11, 'Ada Lovelace'], [12, 'Grace Hopper']]),
};

function thrown(f: () => unknown): CrmError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CrmError);
    return e as CrmError;
  }
  throw new Error('expected a CrmError');
}

describe('statuses', () => {
  it('reads the six project statuses in any case, and nothing else', () => {
    expect(projectStatus('In Progress')).toBe('in progress');
    expect(projectStatus('NOT STARTED')).toBe('not started');
    expect(projectStatus('completed')).toBe('completed');
    expect(projectStatus('Open')).toBeUndefined();
    expect(projectStatus(null)).toBeUndefined();
  });

  it('reads the five opportunity states as open, won or lost: abandoned is lost, suspended is open', () => {
    expect(['Open', 'Won', 'Lost', 'Abandoned', 'Suspended', 'OPEN', 'WON'].map(dealStatus)).toEqual(['open', 'won', 'lost', 'lost', 'open', 'open', 'won']);
  });
});

describe('native -> unified', () => {
  it('names a pipeline with the kind of record it holds', () => {
    expect(toPipeline({ PIPELINE_ID: 1, PIPELINE_NAME: 'Sales', FOR_OPPORTUNITIES: true, FOR_PROJECTS: false })).toEqual({ id: '1', name: 'Sales [opportunities]' });
    expect(toPipeline({ PIPELINE_ID: 3, PIPELINE_NAME: 'Delivery', FOR_OPPORTUNITIES: false, FOR_PROJECTS: true }).name).toBe('Delivery [projects]');
    expect(toPipeline({ PIPELINE_ID: 5, PIPELINE_NAME: 'Odd' }).name).toBe('Odd');
  });

  it('maps a stage: STAGE_ORDER is the position, always active, remote_data only when asked', () => {
    const s = { STAGE_ID: 102, PIPELINE_ID: 1, STAGE_NAME: 'Qualified', STAGE_ORDER: 2, ACTIVITYSET_ID: null };
    expect(toStage(s, names)).toEqual({ id: '102', name: 'Qualified', pipeline: { id: '1', name: 'Sales [opportunities]' }, position: 2, status: 'active' });
    expect(toStage(s, {}, { remote: true }).remote_data).toEqual(s);
  });

  it('maps an opportunity: the value, the responsible user (else the record owner), UTC timestamps', () => {
    const o: IlOpportunity = {
      OPPORTUNITY_ID: 5001,
      OPPORTUNITY_NAME: 'Big deal',
      OPPORTUNITY_STATE: 'Suspended',
      RESPONSIBLE_USER_ID: null,
      OWNER_USER_ID: 12,
      BID_AMOUNT: 100,
      BID_TYPE: 'Per Month',
      OPPORTUNITY_VALUE: 1200,
      BID_CURRENCY: 'EUR',
      FORECAST_CLOSE_DATE: '2026-07-31 00:00:00',
      PIPELINE_ID: 1,
      STAGE_ID: 102,
      ORGANISATION_ID: 77,
      DATE_CREATED_UTC: '2026-01-02 03:04:05',
      DATE_UPDATED_UTC: '2026-02-03 04:05:06',
    };
    expect(toDeal(o, names)).toEqual({
      id: '5001',
      name: 'Big deal',
      status: 'open',
      pipeline: { id: '1', name: 'Sales [opportunities]' },
      stage: { id: '102', name: 'Qualified' },
      amount: 1200,
      currency: 'EUR',
      owner: { id: '12', name: 'Grace Hopper' },
      account: { id: '77' },
      close_date: '2026-07-31',
      created_at: '2026-01-02T03:04:05Z',
      updated_at: '2026-02-03T04:05:06Z',
    });
    expect(toDeal({ ...o, RESPONSIBLE_USER_ID: 11 }, names).owner).toEqual({ id: '11', name: 'Ada Lovelace' });
    expect(toDeal({ ...o, OPPORTUNITY_VALUE: null }, names).amount).toBe(100);
    // Outside every pipeline: says so instead of inventing one.
    const loose = toDeal({ ...o, PIPELINE_ID: null, STAGE_ID: null });
    expect(loose.pipeline).toEqual({ id: '', name: '(no pipeline)' });
    expect(loose.stage).toEqual({ id: '', name: '(no stage)' });
    expect(toDeal(o).remote_data).toBeUndefined();
    expect(toDeal(o, {}, { remote: true }).remote_data).toEqual(o);
  });

  it('maps a project: details, status, COMPLETED_DATE as close date, tags by name, custom fields, its opportunity', () => {
    const p: IlProject = {
      PROJECT_ID: 8001,
      PROJECT_NAME: 'Onboarding ACME',
      STATUS: 'In Progress',
      PROJECT_DETAILS: 'Kick-off in May',
      OPPORTUNITY_ID: 5001,
      COMPLETED_DATE: '2026-06-30 00:00:00',
      RESPONSIBLE_USER_ID: 11,
      OWNER_USER_ID: 12,
      PIPELINE_ID: 3,
      STAGE_ID: 302,
      DATE_CREATED_UTC: '2026-04-28 09:12:00',
      DATE_UPDATED_UTC: '2026-05-02 10:00:00',
      LAST_ACTIVITY_DATE_UTC: '2026-05-03 11:00:00',
      CUSTOMFIELDS: [{ FIELD_NAME: 'Budget_Code__c', FIELD_VALUE: 'BC-1' }],
      TAGS: [{ TAG_NAME: 'vip' }],
    };
    expect(toProject(p, names)).toEqual({
      id: '8001',
      name: 'Onboarding ACME',
      description: 'Kick-off in May',
      status: 'in progress',
      close_date: '2026-06-30',
      owner: { id: '11', name: 'Ada Lovelace' },
      opportunity: [{ id: '5001' }],
      stage: { id: '302', name: 'Build' },
      tags: [{ id: 'vip', name: 'vip' }],
      custom_fields: { Budget_Code__c: 'BC-1' },
      last_activity_at: '2026-05-03T11:00:00Z',
      created_at: '2026-04-28T09:12:00Z',
      updated_at: '2026-05-02T10:00:00Z',
    });
    const bare = toProject({ PROJECT_ID: 9, PROJECT_NAME: 'Bare', STATUS: 'Weird', TAGS: [], CUSTOMFIELDS: [] });
    expect(bare).toEqual({ id: '9', name: 'Bare' });
  });

  it('reads Insightly timestamps as ISO UTC and leaves other text alone', () => {
    expect(timestamp('2026-04-28 09:12:00')).toBe('2026-04-28T09:12:00Z');
    expect(timestamp('2026-04-28T09:12:00+02:00')).toBe('2026-04-28T09:12:00+02:00');
    expect(timestamp(null)).toBeUndefined();
    expect(timestamp('soon')).toBe('soon');
  });

  it('tallies open deals of the pipeline: suspended counts as open, abandoned does not', () => {
    const o = (id: number, state: string, stage: number, value: number, pipeline = 1): IlOpportunity => ({
      OPPORTUNITY_ID: id,
      OPPORTUNITY_NAME: `o${id}`,
      OPPORTUNITY_STATE: state,
      PIPELINE_ID: pipeline,
      STAGE_ID: stage,
      OPPORTUNITY_VALUE: value,
      BID_CURRENCY: 'USD',
    });
    const { byStage, total } = summarizeOpenDeals(
      [o(1, 'Open', 101, 10.1), o(2, 'Suspended', 101, 20.2), o(3, 'Abandoned', 101, 99), o(4, 'Won', 102, 99), o(5, 'Open', 102, 5, 2)],
      1,
    );
    expect(byStage.get(101)).toEqual({ count: 2, values: { USD: 30.3 } });
    expect(byStage.get(102)).toBeUndefined();
    expect(total).toEqual({ count: 2, values: { USD: 30.3 } });
  });
});

describe('unified -> native', () => {
  it('writes a deal as Insightly fields: a fixed bid, title-case state, dates with a time, no pipeline or stage', () => {
    expect(
      fromDealInput({ name: 'X', amount: 5000, currency: 'eur', status: 'won', owner_id: '11', account_id: '77', close_date: '2026-07-31', stage_id: '102', pipeline_id: '1' }),
    ).toEqual({
      OPPORTUNITY_NAME: 'X',
      OPPORTUNITY_STATE: 'Won',
      BID_AMOUNT: 5000,
      BID_TYPE: 'Fixed Bid',
      BID_CURRENCY: 'EUR',
      RESPONSIBLE_USER_ID: 11,
      ORGANISATION_ID: 77,
      FORECAST_CLOSE_DATE: '2026-07-31 00:00:00',
    });
    expect(fromDealInput({ status: 'lost' })).toEqual({ OPPORTUNITY_STATE: 'Lost' });
    expect(fromDealInput({ status: 'open' })).toEqual({ OPPORTUNITY_STATE: 'Open' });
  });

  it('refuses what Insightly cannot take, naming the argument', () => {
    expect(thrown(() => fromDealInput({ owner_id: 'ada' })).message).toBe(
      "'ada' is not an Insightly user id (they are positive whole numbers). Call list_users to see valid user ids.",
    );
    expect(thrown(() => fromDealInput({ currency: 'EURO' })).message).toMatch(/^currency must be a 3-letter code/);
    expect(thrown(() => fromDealInput({ close_date: '31/07/2026' })).message).toMatch(/^close_date must be a date as YYYY-MM-DD/);
    expect(thrown(() => fromDealInput({ status: 'abandoned' as never })).message).toMatch(/^Insightly does not accept deal status 'abandoned'; allowed: open, won, lost\.$/);
  });

  it('writes a project: title-case status, details, completed date, responsible user, tags, custom fields, raw fields', () => {
    expect(
      fromProjectInput(
        {
          name: 'Onboarding',
          status: 'not started',
          description: 'Kick-off',
          close_date: '2026-06-30',
          owner: { id: '12' },
          opportunity: [{ id: '5001' }],
          tags: [{ id: ' vip ' }],
          custom_fields: { Budget_Code__c: 'BC-9' },
          remote_data: { CATEGORY_ID: 4, STARTED_DATE: '2026-05-01 00:00:00' },
          stage: { id: '302' },
        },
        'create',
      ),
    ).toEqual({
      PROJECT_NAME: 'Onboarding',
      STATUS: 'Not Started',
      PROJECT_DETAILS: 'Kick-off',
      COMPLETED_DATE: '2026-06-30 00:00:00',
      RESPONSIBLE_USER_ID: 12,
      OPPORTUNITY_ID: 5001,
      TAGS: [{ TAG_NAME: 'vip' }],
      CUSTOMFIELDS: [{ FIELD_NAME: 'Budget_Code__c', FIELD_VALUE: 'BC-9' }],
      CATEGORY_ID: 4,
      STARTED_DATE: '2026-05-01 00:00:00',
    });
    expect(fromProjectInput({ status: 'in progress' }, 'update')).toEqual({ STATUS: 'In Progress' });
  });

  it('refuses project fields Insightly cannot take, in one sentence each', () => {
    expect(thrown(() => fromProjectInput({ description: 'x'.repeat(4001) }, 'update')).message).toBe(
      'Insightly stores at most 4,000 characters of project details; description has 4,001.',
    );
    expect(thrown(() => fromProjectInput({ status: 'open' }, 'create')).message).toMatch(/^Insightly does not accept project status 'open'; allowed: not started, in progress/);
    expect(thrown(() => fromProjectInput({ opportunity: [{ id: '1' }] }, 'update')).message).toMatch(/cannot be changed afterwards/);
    expect(thrown(() => fromProjectInput({ opportunity: [{ id: '1' }, { id: '2' }] }, 'create')).message).toMatch(/at most one opportunity; opportunity has 2/);
    expect(thrown(() => fromProjectInput({ remote_data: { STAGE_ID: 3 } }, 'update')).message).toMatch(/^remote_data cannot set STAGE_ID: pass stage instead/);
    expect(thrown(() => fromProjectInput({ remote_data: { PROJECT_ID: 3 } }, 'update')).message).toMatch(/^remote_data cannot set PROJECT_ID: Insightly sets it/);
    expect(thrown(() => fromProjectInput({ name: 'a', remote_data: { PROJECT_NAME: 'b' } }, 'update')).message).toMatch(/already sets; give it once/);
    expect(thrown(() => fromProjectInput({ tags: [{ id: '  ' }] }, 'update')).message).toMatch(/tag id is the tag's name/);
  });
});

describe('client readings', () => {
  it('builds the API root from the pod or the given URL, and refuses another API version', () => {
    expect(insightlyBaseUrl({ pod: 'NA1' })).toBe('https://api.na1.insightly.com/v3.1');
    expect(insightlyBaseUrl({ baseUrl: 'http://127.0.0.1:9' })).toBe('http://127.0.0.1:9/v3.1');
    expect(insightlyBaseUrl({ baseUrl: 'https://api.eu1.insightly.com/v3.1/' })).toBe('https://api.eu1.insightly.com/v3.1');
    expect(insightlyBaseUrl({ baseUrl: 'https://proxy.example/insightly', pod: 'na1' })).toBe('https://proxy.example/insightly');
    expect(thrown(() => insightlyBaseUrl({ baseUrl: 'https://api.na1.insightly.com/v3.0' })).message).toMatch(/speaks Insightly's API v3\.1.*ends in \/v3\.0/);
    expect(thrown(() => insightlyBaseUrl({})).message).toMatch(/^Insightly needs its pod: set INSIGHTLY_POD/);
    expect(thrown(() => insightlyBaseUrl({ pod: 'na1.evil.example/x' })).kind).toBe('validation');
  });

  it('reads Message, the first ModelState entry as the argument name, and bare strings', () => {
    expect(describeInsightlyError(400, { Message: 'The request is invalid.', ModelState: { 'project.STATUS': ['STATUS must be one of …'] } })).toBe(
      'The request is invalid. `status`: STATUS must be one of …',
    );
    expect(describeInsightlyError(400, { ModelState: { OTHER_FIELD: ['bad'] } })).toBe('`OTHER_FIELD`: bad');
    expect(describeInsightlyError(404, { Message: 'Not Found' })).toBe('Not Found');
    expect(describeInsightlyError(500, 'Internal error ')).toBe('Internal error');
    expect(describeInsightlyError(500, { nothing: 1 })).toBeUndefined();
  });

  it('knows a daily-quota 429 from a per-second one', () => {
    expect(dailyQuotaSpent({ 'x-ratelimit-remaining': '0', 'x-ratelimit-limit': '40000' })).toBe(
      "Insightly's daily API limit for this account (40,000 requests a day) is used up; it resets the next day, so retrying now will not help.",
    );
    expect(dailyQuotaSpent({ 'x-ratelimit-remaining': '12' })).toBeUndefined();
    expect(dailyQuotaSpent({})).toBeUndefined();
  });
});

describe('the records around a deal', () => {
  it('reads an organisation: its website as a domain, its owner by name', () => {
    expect(['https://www.acme.example/about', 'http://acme.example', 'acme.example', 'WWW.Acme.example?x=1'].map(domainOf)).toEqual([
      'acme.example',
      'acme.example',
      'acme.example',
      'Acme.example',
    ]);
    expect(domainOf('  ')).toBeUndefined();
    expect(toAccount({ ORGANISATION_ID: 7, ORGANISATION_NAME: 'Acme', WEBSITE: null, OWNER_USER_ID: 11, DATE_CREATED_UTC: '2026-01-02 03:04:05' }, names)).toEqual({
      id: '7',
      name: 'Acme',
      owner: { id: '11', name: 'Ada Lovelace' },
      created_at: '2026-01-02T03:04:05Z',
    });
    expect(fromAccountInput({ name: 'Acme', domain: 'acme.example', owner_id: '12' })).toEqual({ ORGANISATION_NAME: 'Acme', WEBSITE: 'acme.example', OWNER_USER_ID: 12 });
    expect(thrown(() => fromAccountInput({ owner_id: 'ana' })).message).toMatch(/^'ana' is not an Insightly user id .* Call list_users/);
  });

  it('reads a contact: one email, the four phone fields in order, a name from what it has', () => {
    const c = { CONTACT_ID: 5, FIRST_NAME: 'Ana', LAST_NAME: null, EMAIL_ADDRESS: 'ana@x.example', PHONE: null, PHONE_MOBILE: '+1 2', PHONE_OTHER: '+1 4', PHONE_ASSISTANT: '+1 9', ORGANISATION_ID: 70, OWNER_USER_ID: 12 };
    expect(toContact(c, { ...names, accounts: new Map([[70, 'Acme']]) })).toEqual({
      id: '5',
      name: 'Ana',
      first_name: 'Ana',
      emails: ['ana@x.example'],
      phones: ['+1 2', '+1 4'],
      account: { id: '70', name: 'Acme' },
      owner: { id: '12', name: 'Grace Hopper' },
    });
    expect(toContact({ CONTACT_ID: 6, EMAIL_ADDRESS: 'x@y.example' }).name).toBe('x@y.example');
    expect(toContact({ CONTACT_ID: 7 }).name).toBe('Contact 7');
    expect(toUser({ USER_ID: 3, FIRST_NAME: 'Ed', LAST_NAME: 'D', EMAIL_ADDRESS: 'ed@x.example', ACTIVE: false })).toEqual({ id: '3', name: 'Ed D', email: 'ed@x.example', active: false });
  });

  it('writes a contact: a list replaces the phones and the email, an update clears what a shorter list leaves out', () => {
    expect(fromContactInput({ first_name: 'Ana', phones: ['1'], emails: ['a@x.example'], account_id: '70' }, 'create')).toEqual({
      FIRST_NAME: 'Ana',
      EMAIL_ADDRESS: 'a@x.example',
      PHONE: '1',
      ORGANISATION_ID: 70,
    });
    expect(fromContactInput({ phones: ['1', '2'], emails: [] }, 'update')).toEqual({ EMAIL_ADDRESS: null, PHONE: '1', PHONE_MOBILE: '2', PHONE_HOME: null, PHONE_OTHER: null });
    expect(thrown(() => fromContactInput({ emails: ['a@x.example', 'b@x.example'] }, 'create')).message).toBe('An Insightly contact has one email address; emails has 2.');
    expect(thrown(() => fromContactInput({ title: 'x'.repeat(256) }, 'create')).message).toBe('Insightly stores at most 255 characters of title; it has 256.');
  });

  it('reads the ids of notes and tasks, and nothing else', () => {
    expect(parseActivityId('note-12')).toEqual({ kind: 'note', id: 12 });
    expect(parseActivityId(' Task-40 ')).toEqual({ kind: 'task', id: 40 });
    for (const bad of ['12', 'note-0', 'event-3', 'note-', 'task-1x']) expect(thrown(() => parseActivityId(bad)).message).toMatch(/is not an Insightly activity id: they are note-<number> or task-<number>/);
  });

  it('reads the parents of a link from either end, and only the kinds of record activities hang on', () => {
    const links = [
      { LINK_ID: 1, OBJECT_NAME: 'Note', OBJECT_ID: 9, LINK_OBJECT_NAME: 'Opportunity', LINK_OBJECT_ID: 50 },
      { LINK_ID: 2, OBJECT_NAME: 'Contact', OBJECT_ID: 60, LINK_OBJECT_NAME: 'Note', LINK_OBJECT_ID: 9 },
      { LINK_ID: 3, OBJECT_NAME: 'Note', OBJECT_ID: 9, LINK_OBJECT_NAME: 'Organization', LINK_OBJECT_ID: 70 },
      { LINK_ID: 4, OBJECT_NAME: 'Note', OBJECT_ID: 9, LINK_OBJECT_NAME: 'Lead', LINK_OBJECT_ID: 80 },
    ];
    expect(linkedParents(links, { object: 'Note', id: 9 })).toEqual([
      { kind: 'deal', id: 50, linkId: 1 },
      { kind: 'contact', id: 60, linkId: 2 },
      { kind: 'account', id: 70, linkId: 3 },
    ]);
  });

  it('reads a note and a task as activities: parents, done from COMPLETED (else STATUS), the due date', () => {
    const note = toActivity('note', { NOTE_ID: 9, TITLE: 'Call', BODY: 'They want a pilot', OWNER_USER_ID: 11, LINKS: [{ OBJECT_NAME: 'Note', OBJECT_ID: 9, LINK_OBJECT_NAME: 'Project', LINK_OBJECT_ID: 3 }] }, names);
    expect(note).toEqual({ id: 'note-9', type: 'note', subject: 'Call', body: 'They want a pilot', owner: { id: '11', name: 'Ada Lovelace' }, project: { id: '3' } });
    const task = toActivity('task', { TASK_ID: 4, TITLE: 'Send', DUE_DATE: '2026-03-01 00:00:00', STATUS: 'Completed', RESPONSIBLE_USER_ID: 12, OPPORTUNITY_ID: 50, LINKS: [{ OBJECT_NAME: 'Task', OBJECT_ID: 4, LINK_OBJECT_NAME: 'Organisation', LINK_OBJECT_ID: 70 }] }, names);
    expect(task).toEqual({ id: 'task-4', type: 'task', subject: 'Send', due_date: '2026-03-01', done: true, owner: { id: '12', name: 'Grace Hopper' }, deal: { id: '50' }, account: { id: '70' } });
    expect(toActivity('task', { TASK_ID: 5, COMPLETED: false, STATUS: 'Completed' }).done).toBe(false);
  });

  it('writes notes and tasks: a title from the subject or the body, done with its status, a note without a due date', () => {
    expect(titleOf({ body: '\n  First line\nsecond' }, 255, 'note')).toBe('First line');
    expect(titleOf({ body: `${'word '.repeat(60)}end` }, 255, 'note')).toMatch(/^(word ){49}word…$/);
    expect(titleOf({}, 255, 'note')).toBeUndefined();
    expect(fromNoteInput({ body: 'Pilot in March', owner_id: '11' }, 'create')).toEqual({ TITLE: 'Pilot in March', BODY: 'Pilot in March', OWNER_USER_ID: 11 });
    expect(fromNoteInput({ body: 'Only the body changes' }, 'update')).toEqual({ BODY: 'Only the body changes' });
    expect(thrown(() => fromNoteInput({ body: 'x', due_date: '2026-01-01' }, 'create')).message).toBe(
      'An Insightly note has no due_date or done; make it a task (type: task) to track a to-do.',
    );
    expect(fromTaskInput({ subject: 'Send', due_date: '2026-03-01', deal_id: '50', project_id: '3' }, 'create')).toEqual({
      TITLE: 'Send',
      DUE_DATE: '2026-03-01 00:00:00',
      COMPLETED: false,
      OPPORTUNITY_ID: 50,
      PROJECT_ID: 3,
    });
    expect(fromTaskInput({ done: true }, 'update')).toEqual({ COMPLETED: true, STATUS: 'Completed' });
    expect(fromTaskInput({ done: false }, 'update')).toEqual({ COMPLETED: false, STATUS: 'Not Started' });
    expect(thrown(() => fromTaskInput({ subject: 'x', body: 'y'.repeat(4001) }, 'create')).message).toBe('Insightly stores at most 4,000 characters of a task body; it has 4,001.');
  });

  it('searches a person by email, or by first and last name', () => {
    expect(personFields('ana@example.com')).toEqual([{ field: 'EMAIL_ADDRESS', value: 'ana@example.com' }]);
    expect(personFields(' Silva ')).toEqual([{ field: 'FIRST_NAME', value: 'Silva' }, { field: 'LAST_NAME', value: 'Silva' }]);
    expect(personFields('Mary Ann  Smith')).toEqual([{ field: 'LAST_NAME', value: 'Smith' }, { field: 'FIRST_NAME', value: 'Mary' }]);
  });
});
