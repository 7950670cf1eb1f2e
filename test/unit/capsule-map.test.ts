/**
 * Capsule <-> unified mapping (src/providers/capsule/map.ts) alone: ids of both kinds of pipeline
 * and stage, deal status from Capsule's closing milestones, project fields both ways (status, the
 * board stage as a bare id, one opportunity, tags replacing the list), filter conditions, and the
 * refusals that come before anything is sent; parties as accounts and contacts (domain, lists
 * replaced with `_delete`), users, entries and tasks as activities (prefixed ids, one record
 * each, a note's subject as its first line), and search hits.
 */
import { describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { describeCapsuleError } from '../../src/providers/capsule/client.js';
import {
  activityParent,
  argumentName,
  dealConditions,
  dealMatches,
  domainOf,
  entryToActivity,
  fromAccountInput,
  fromContactInput,
  fromEntryPatch,
  fromNoteInput,
  fromTaskInput,
  hangsOn,
  noteContent,
  parseActivityId,
  partyConditions,
  partyHit,
  taskStatuses,
  taskToActivity,
  toAccount,
  toContact,
  toUser,
  type CapsuleEntry,
  type CapsulePartyRecord,
  type CapsuleTask,
  dealStatus,
  fromDealInput,
  fromProjectInput,
  milestoneId,
  milestoneStatus,
  parsePipelineId,
  parseStageId,
  projectConditions,
  projectStageId,
  toBoardStage,
  toDeal,
  toMilestoneStage,
  toProject,
  type CapsuleKase,
  type CapsuleOpportunity,
  type MilestoneEntry,
} from '../../src/providers/capsule/map.js';

const refusal = (f: () => unknown): CrmError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CrmError);
    return e as CrmError;
  }
  throw new Error('expected a refusal');
};

// The documented examples (Opportunity and Project operations), trimmed.
const OPPORTUNITY: CapsuleOpportunity = {
  id: 12,
  updatedAt: '2015-10-29T12:55:12Z',
  description: 'Scope and design web site shopping cart',
  owner: { id: 6, username: 'scottspacey', name: 'Scott Spacey' },
  party: { id: 581, pictureURL: 'https://capsulecrm.com/theme/default/images/person_avatar_70.png', type: 'organisation', name: 'Capsule' },
  lostReason: null,
  milestone: { id: 14, name: 'Bid' },
  value: { amount: 500, currency: 'GBP' },
  expectedCloseOn: '2015-10-31',
  probability: 50,
  closedOn: null,
  createdAt: '2015-10-29T12:55:12Z',
  name: 'Consulting',
};

const KASE: CapsuleKase = {
  id: 12,
  party: { id: 892, type: 'organisation', name: 'Zestia', pictureURL: 'https://capsulecrm.com/theme/default/images/org_avatar_70.png' },
  owner: { id: 61, username: 'ted', name: 'Ted Danson' },
  status: 'OPEN',
  opportunity: { id: 83948362, name: 'Scope and design web site shopping cart' },
  stage: { name: 'Project Brief', id: 149 },
  createdAt: '2015-12-07T16:54:27Z',
  updatedAt: '2015-12-07T16:54:27Z',
  expectedCloseOn: '2015-12-09',
  description: 'Scope and design web site shopping cart',
  name: 'Consulting',
  closedOn: null,
  lastContactedAt: null,
};

describe('ids', () => {
  it('sales pipelines and milestones are numbers; boards and board stages carry a prefix', () => {
    expect(parsePipelineId('12')).toEqual({ kind: 'pipeline', id: 12 });
    expect(parsePipelineId('board-34')).toEqual({ kind: 'board', id: 34 });
    expect(parseStageId('5')).toEqual({ kind: 'milestone', id: 5 });
    expect(parseStageId('stage-149')).toEqual({ kind: 'boardStage', id: 149 });
    for (const bad of ['', '0', '-1', 'abc', 'board-', 'board-x', '1.5', 'stage-0']) {
      expect(() => parsePipelineId(bad)).toThrow(/not a Capsule pipeline id|not a Capsule/);
    }
    expect(refusal(() => parseStageId('milestone-3')).message).toContain('Call list_stages');
  });

  it('a deal takes only milestones, a project only board stages, each refusal saying why', () => {
    expect(milestoneId('7')).toBe(7);
    expect(refusal(() => milestoneId('stage-149')).message).toMatch(/stage of a Capsule project board; a deal stands in a milestone/);
    expect(projectStageId('stage-149')).toBe(149);
    expect(refusal(() => projectStageId('149')).message).toMatch(/milestone of a Capsule sales pipeline; a project stands in a stage of a project board/);
  });
});

describe('native -> unified', () => {
  it('maps the documented opportunity: names inline, value split, pipeline from the directory', () => {
    expect(toDeal(OPPORTUNITY, { id: '3', name: 'Sales' })).toEqual({
      id: '12',
      name: 'Consulting',
      status: 'open',
      pipeline: { id: '3', name: 'Sales' },
      stage: { id: '14', name: 'Bid' },
      amount: 500,
      currency: 'GBP',
      owner: { id: '6', name: 'Scott Spacey' },
      account: { id: '581', name: 'Capsule' },
      close_date: '2015-10-31',
      created_at: '2015-10-29T12:55:12Z',
      updated_at: '2015-10-29T12:55:12Z',
    });
    // A milestone no listing shows: the pipeline is said to be unknown, not guessed.
    expect(toDeal(OPPORTUNITY, undefined).pipeline).toEqual({ id: '' });
    expect(toDeal({ ...OPPORTUNITY, value: null }, undefined, { remote: true }).remote_data).toMatchObject({ id: 12, value: null });
  });

  it('deal status: open until closed, then won at 100 and lost otherwise; milestones the same way', () => {
    expect(dealStatus({ closedOn: null, probability: 100 })).toBe('open');
    expect(dealStatus({ closedOn: '2026-06-30', probability: 100 })).toBe('won');
    expect(dealStatus({ closedOn: '2026-06-30', probability: 0 })).toBe('lost');
    expect(milestoneStatus({ complete: false, probability: 100 })).toBe('open');
    expect(milestoneStatus({ complete: true, probability: 100 })).toBe('won');
    expect(milestoneStatus({ complete: true, probability: 0 })).toBe('lost');
  });

  it('a person as party reads as first and last name', () => {
    const d = toDeal({ ...OPPORTUNITY, party: { id: 9, type: 'person', firstName: 'Mary', lastName: 'Major' } }, undefined);
    expect(d.account).toEqual({ id: '9', name: 'Mary Major' });
  });

  it('maps the documented project: OPEN -> open, the board stage with its prefix, one opportunity', () => {
    expect(toProject(KASE)).toEqual({
      id: '12',
      name: 'Consulting',
      description: 'Scope and design web site shopping cart',
      status: 'open',
      close_date: '2015-12-09',
      owner: { id: '61', name: 'Ted Danson' },
      account: { id: '892', name: 'Zestia' },
      opportunity: [{ id: '83948362', name: 'Scope and design web site shopping cart' }],
      stage: { id: 'stage-149', name: 'Project Brief' },
      created_at: '2015-12-07T16:54:27Z',
      updated_at: '2015-12-07T16:54:27Z',
    });
    const embedded = toProject({
      ...KASE,
      status: 'CLOSED',
      stage: null,
      tags: [{ id: 501, name: 'VIP' }],
      fields: [{ id: 1, definition: { id: 701, name: 'Region' }, value: 'EMEA' }],
    });
    expect(embedded).toMatchObject({ status: 'closed', tags: [{ id: '501', name: 'VIP' }], custom_fields: { Region: 'EMEA' } });
    expect(embedded.stage).toBeUndefined();
  });

  it('stages: a milestone at its place in its pipeline, a board stage at its displayOrder', () => {
    const m: MilestoneEntry = { id: 2, name: 'Bid', complete: false, probability: 50, pipeline: { id: 1, name: 'Sales' }, position: 2 };
    expect(toMilestoneStage(m)).toEqual({ id: '2', name: 'Bid', pipeline: { id: '1', name: 'Sales' }, position: 2, status: 'active', probability: 50 });
    expect(toBoardStage({ id: 149, name: 'Planning', board: { id: 34, name: 'Projects' }, displayOrder: 1 })).toEqual({
      id: 'stage-149',
      name: 'Planning',
      pipeline: { id: 'board-34', name: 'Projects' },
      position: 1,
      status: 'active',
    });
  });
});

describe('unified -> native', () => {
  it('an opportunity body: party, milestone, owner, value with its currency, expectedCloseOn; never a pipeline', () => {
    expect(
      fromDealInput({ name: 'Big', pipeline_id: '1', stage_id: '2', amount: 1200.5, currency: 'eur', owner_id: '62', account_id: '892', close_date: '2026-12-24' }),
    ).toEqual({
      name: 'Big',
      party: { id: 892 },
      milestone: { id: 2 },
      owner: { id: 62 },
      value: { amount: 1200.5, currency: 'EUR' },
      expectedCloseOn: '2026-12-24',
    });
    expect(fromDealInput({ name: 'Only a name' })).toEqual({ name: 'Only a name' });
  });

  it('refuses an amount without its currency (and the reverse), a board stage, a bad date', () => {
    expect(refusal(() => fromDealInput({ amount: 5 })).message).toMatch(/pass amount and currency together/);
    expect(refusal(() => fromDealInput({ currency: 'GBP' })).message).toMatch(/pass amount and currency together/);
    expect(refusal(() => fromDealInput({ stage_id: 'stage-150' })).message).toMatch(/project board/);
    expect(refusal(() => fromDealInput({ close_date: '31/12/2026' })).message).toMatch(/YYYY-MM-DD/);
    expect(refusal(() => fromDealInput({ account_id: 'acme' })).message).toMatch(/not a Capsule party/);
  });

  it('a kase body: OPEN/CLOSED, party, owner, the stage as a bare id, one opportunity', () => {
    expect(
      fromProjectInput({
        name: 'Rollout',
        description: 'Phase 1',
        status: 'closed',
        close_date: '2026-03-31',
        owner: { id: '61' },
        account: { id: '892' },
        stage: { id: 'stage-150' },
        opportunity: [{ id: '1001' }],
        tags: [{ id: '501' }],
      }),
    ).toEqual({
      name: 'Rollout',
      description: 'Phase 1',
      party: { id: 892 },
      owner: { id: 61 },
      status: 'CLOSED',
      stage: 150,
      opportunity: { id: 1001 },
      expectedCloseOn: '2026-03-31',
      tags: [{ id: 501 }],
    });
    // An empty opportunity list unlinks it.
    expect(fromProjectInput({ opportunity: [] })).toEqual({ opportunity: null });
  });

  it('tags replace the list on update: new ones added, missing ones deleted with _delete', () => {
    expect(fromProjectInput({ tags: [{ id: '501' }, { id: '503' }] }, [502, 503])).toEqual({
      tags: [{ id: 501 }, { id: 502, _delete: true }],
    });
    expect(fromProjectInput({ tags: [] }, [502])).toEqual({ tags: [{ id: 502, _delete: true }] });
  });

  it('refuses what a Capsule project cannot hold', () => {
    expect(refusal(() => fromProjectInput({ amount: 5 })).message).toBe('Capsule does not support `amount` when writing a project.');
    expect(refusal(() => fromProjectInput({ contact: [{ id: '1' }] })).kind).toBe('unsupported');
    expect(refusal(() => fromProjectInput({ status: 'completed' })).message).toContain('allowed: open, closed');
    expect(refusal(() => fromProjectInput({ opportunity: [{ id: '1' }, { id: '2' }] })).message).toMatch(/one opportunity at most/);
    expect(refusal(() => fromProjectInput({ stage: { id: '5' } })).message).toMatch(/milestone of a Capsule sales pipeline/);
  });
});

describe('filters', () => {
  const won: MilestoneEntry = { id: 8, name: 'Won', complete: true, probability: 100, pipeline: { id: 2 }, position: 3 };

  it('deals: pipeline, owner and status as Capsule conditions; a stage by its pipeline and name', () => {
    expect(dealConditions({ pipeline_id: '2', owner_id: '61', status: 'open' })).toEqual([
      { field: 'pipeline', operator: 'is', value: 2 },
      { field: 'owner', operator: 'is', value: 61 },
      { field: 'isOpen', operator: 'is', value: true },
    ]);
    expect(dealConditions({ status: 'won' })).toEqual([
      { field: 'isOpen', operator: 'is', value: false },
      { field: 'probability', operator: 'is', value: 100 },
    ]);
    expect(dealConditions({ status: 'lost' })).toContainEqual({ field: 'probability', operator: 'is not', value: 100 });
    expect(dealConditions({}, won)).toEqual([
      { field: 'pipeline', operator: 'is', value: 2 },
      { field: 'milestone', operator: 'is', value: 'Won' },
    ]);
    expect(dealConditions({})).toEqual([]);
    expect(refusal(() => dealConditions({ pipeline_id: 'board-34' })).message).toMatch(/project board: it holds projects, not deals/);
  });

  it('projects: name contains, status, owner, board stage', () => {
    expect(projectConditions({ name: 'roll', status: 'closed', owner_id: '62', stage_id: 'stage-150' })).toEqual([
      { field: 'name', operator: 'contains', value: 'roll' },
      { field: 'status', operator: 'is', value: 'CLOSED' },
      { field: 'owner', operator: 'is', value: 62 },
      { field: 'stage', operator: 'is', value: 150 },
    ]);
  });
});

describe('error bodies', () => {
  it("Capsule's validation errors name the argument an agent passed, after Capsule's words", () => {
    const body = (resource: string, field: string, message: string) => ({ message: 'Validation Failed', errors: [{ resource, field, message }] });
    expect(describeCapsuleError(422, body('opportunity', 'party', 'party is required'))).toBe('party is required (account_id)');
    expect(describeCapsuleError(422, body('kase', 'party', 'party is required'))).toBe('party is required (account)');
    expect(describeCapsuleError(422, body('opportunity', 'value.currency', 'currency is required'))).toBe('currency is required');
    expect(describeCapsuleError(422, body('kase', 'name', 'name is required'))).toBe('name is required');
    expect(describeCapsuleError(404, { message: 'Could not find resource' })).toBe('Could not find resource');
    expect(describeCapsuleError(429, { error: 'rate limit reached' })).toBe('rate limit reached');
    expect(argumentName('milestone', 'opportunity')).toBe('stage_id');
    expect(argumentName('expectedCloseOn', 'kase')).toBe('close_date');
    expect(argumentName('whatever', 'track')).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// The records around a deal

const person: CapsulePartyRecord = {
  id: 11587,
  type: 'person',
  firstName: 'Scott',
  lastName: 'Spacey',
  jobTitle: 'Creative Director',
  organisation: { id: 892, type: 'organisation', name: 'Zestia' },
  owner: { id: 61, username: 'ted', name: 'Ted Danson' },
  emailAddresses: [
    { id: 12134, type: 'Work', address: 'scott@homestyleshop.co' },
    { id: 12135, type: 'Home', address: 'scott@example.com' },
  ],
  phoneNumbers: [{ id: 12133, type: null, number: '773-338-7786' }],
  websites: [],
  createdAt: '2015-09-15T10:43:23Z',
  updatedAt: '2015-09-15T10:43:23Z',
};

const org: CapsulePartyRecord = {
  id: 892,
  type: 'organisation',
  name: 'Zestia',
  websites: [
    { id: 106, type: 'Work', service: 'TWITTER', address: 'zestia' },
    { id: 107, type: 'Work', service: 'URL', address: 'https://www.zestia.example/about?x=1' },
  ],
};

describe('parties as accounts and contacts', () => {
  it('an organisation as an account: its first web address (not a social one) as the domain', () => {
    expect(toAccount(org)).toEqual({ id: '892', name: 'Zestia', domain: 'www.zestia.example' });
    expect(domainOf([{ id: 1, address: 'acme.example' }])).toBe('acme.example');
    expect(domainOf([])).toBeUndefined();
    expect(toAccount(org, { remote: true }).remote_data).toMatchObject({ websites: org.websites });
  });

  it('a person as a contact: job title as title, organisation as account, every address and number', () => {
    expect(toContact(person)).toEqual({
      id: '11587',
      name: 'Scott Spacey',
      first_name: 'Scott',
      last_name: 'Spacey',
      emails: ['scott@homestyleshop.co', 'scott@example.com'],
      phones: ['773-338-7786'],
      title: 'Creative Director',
      account: { id: '892', name: 'Zestia' },
      owner: { id: '61', name: 'Ted Danson' },
      created_at: '2015-09-15T10:43:23Z',
      updated_at: '2015-09-15T10:43:23Z',
    });
  });

  it('a user: its name, its own party\'s first email, active when ACTIVE', () => {
    expect(toUser({ id: 1, username: 'scott', name: 'Scott Spacey', status: 'ACTIVE', party: person })).toEqual({
      id: '1',
      name: 'Scott Spacey',
      email: 'scott@homestyleshop.co',
      active: true,
    });
    expect(toUser({ id: 2, username: 'john', name: null, status: 'INACTIVE' })).toEqual({ id: '2', name: 'john', active: false });
  });

  it('account writes: an organisation on create; the domain rewrites the first web address in place; no industry', () => {
    expect(fromAccountInput({ name: 'Acme', domain: ' acme.example ', owner_id: '61' })).toEqual({
      type: 'organisation',
      name: 'Acme',
      owner: { id: 61 },
      websites: [{ service: 'URL', address: 'acme.example' }],
    });
    expect(fromAccountInput({ domain: 'zestia.test' }, org)).toEqual({ websites: [{ id: 107, address: 'zestia.test' }] });
    expect(fromAccountInput({ domain: 'x.test' }, { ...org, websites: [] })).toEqual({ websites: [{ service: 'URL', address: 'x.test' }] });
    expect(() => fromAccountInput({ industry: 'Software' })).toThrow(/does not support `industry`/);
    expect(() => fromAccountInput({ domain: '  ' })).toThrow(/must not be empty/);
    expect(() => fromAccountInput({ owner_id: 'ana' })).toThrow(/not a Capsule user id/);
  });

  it('contact writes: a person on create; emails and phones replace the lists (kept as they are, dropped with _delete, new added)', () => {
    expect(fromContactInput({ first_name: 'A', last_name: 'B', title: 'CTO', account_id: '892', emails: ['a@b.example', 'A@B.example'] })).toEqual({
      type: 'person',
      firstName: 'A',
      lastName: 'B',
      jobTitle: 'CTO',
      organisation: { id: 892 },
      emailAddresses: [{ address: 'a@b.example' }],
    });
    expect(fromContactInput({ emails: ['SCOTT@example.com', 'new@example.com'], phones: [] }, person)).toEqual({
      emailAddresses: [{ id: 12134, _delete: true }, { address: 'new@example.com' }],
      phoneNumbers: [{ id: 12133, _delete: true }],
    });
    expect(fromContactInput({ title: 'x' }, person)).toEqual({ jobTitle: 'x' });
  });

  it('filters: the kind of party first, then name contains, email is, owner is', () => {
    expect(partyConditions('person', { name: 'sc', email: ' scott@example.com ', owner_id: '61' })).toEqual([
      { field: 'type', operator: 'is', value: 'person' },
      { field: 'name', operator: 'contains', value: 'sc' },
      { field: 'email', operator: 'is', value: 'scott@example.com' },
      { field: 'owner', operator: 'is', value: 61 },
    ]);
    expect(partyConditions('organisation', {})).toEqual([{ field: 'type', operator: 'is', value: 'organisation' }]);
  });

  it("an account's deals checked here: pipeline, owner and status, ids refused before anything is sent", () => {
    const match = dealMatches({ pipeline_id: '2', owner_id: '61', status: 'open' });
    const o = { id: 1, name: 'x', party: { id: 892 }, milestone: { id: 6 }, owner: { id: 61 }, closedOn: null } as CapsuleOpportunity;
    expect(match(o, () => 2)).toBe(true);
    expect(match(o, () => 1)).toBe(false);
    expect(match({ ...o, owner: { id: 62 } }, () => 2)).toBe(false);
    expect(match({ ...o, closedOn: '2026-01-01', probability: 100 }, () => 2)).toBe(false);
    expect(() => dealMatches({ pipeline_id: 'board-34' })).toThrow(/project board/);
  });
});

const entry: CapsuleEntry = {
  id: 11,
  type: 'note',
  creator: { id: 61, username: 'ted', name: 'Ted Danson' },
  activityType: { id: -1, name: 'Note' },
  createdAt: '2015-12-07T16:54:27Z',
  updatedAt: '2015-12-07T16:54:27Z',
  content: 'Shall I compare thee',
  entryAt: '2015-12-07T16:54:27Z',
  party: { id: 892, type: 'organisation', name: 'Zestia' },
  opportunity: null,
  kase: null,
};

const task: CapsuleTask = {
  id: 493,
  description: 'Send quarterly invoice',
  detail: 'By post',
  status: 'OPEN',
  party: null,
  opportunity: { id: 83948362, name: 'Scope and design web site' },
  kase: null,
  owner: { id: 1, username: 'owner', name: 'Rupert Ada' },
  createdAt: '2015-10-26T14:37:52Z',
  updatedAt: '2015-10-26T14:37:52Z',
  dueOn: '2015-10-01',
};

describe('entries and tasks as activities', () => {
  it('ids carry the kind: entry-12, task-493; anything else is refused naming list_activities', () => {
    expect(parseActivityId('entry-12')).toEqual({ kind: 'entry', id: 12 });
    expect(parseActivityId(' task-493 ')).toEqual({ kind: 'task', id: 493 });
    for (const bad of ['12', 'task-', 'note-1', 'task-0', 'entry-1x']) expect(() => parseActivityId(bad), bad).toThrow(/notes and emails look like entry-12, tasks like task-493/);
  });

  it('an entry: a note or an email, its author as owner, its party as account or contact', () => {
    expect(entryToActivity(entry)).toEqual({
      id: 'entry-11',
      type: 'note',
      body: 'Shall I compare thee',
      owner: { id: '61', name: 'Ted Danson' },
      account: { id: '892', name: 'Zestia' },
      created_at: '2015-12-07T16:54:27Z',
      updated_at: '2015-12-07T16:54:27Z',
    });
    const email = entryToActivity({ ...entry, type: 'email', subject: 'Hello', party: { id: 7, type: 'person', firstName: 'Eva', lastName: 'Lu' } });
    expect(email).toMatchObject({ type: 'email', subject: 'Hello', contact: { id: '7', name: 'Eva Lu' } });
    expect(email.account).toBeUndefined();
    // A note has no subject of its own, even when Capsule sends one.
    expect(entryToActivity({ ...entry, subject: 'ignored' }).subject).toBeUndefined();
  });

  it('a task: description as subject, detail as body, dueOn as due date, COMPLETED as done', () => {
    expect(taskToActivity(task)).toEqual({
      id: 'task-493',
      type: 'task',
      subject: 'Send quarterly invoice',
      body: 'By post',
      due_date: '2015-10-01',
      done: false,
      owner: { id: '1', name: 'Rupert Ada' },
      deal: { id: '83948362', name: 'Scope and design web site' },
      created_at: '2015-10-26T14:37:52Z',
      updated_at: '2015-10-26T14:37:52Z',
    });
    expect(taskToActivity({ ...task, status: 'COMPLETED' }).done).toBe(true);
    expect(taskToActivity({ ...task, opportunity: null, kase: { id: 5, name: 'P' } }).project).toEqual({ id: '5', name: 'P' });
  });

  it('one record per activity: two are refused, for a create and for a list; each maps to its Capsule key', () => {
    expect(activityParent({ deal_id: '5' }, 'create')).toEqual({ field: 'deal_id', key: 'opportunity', id: 5, given: '5' });
    expect(activityParent({ contact_id: '7' }, 'list')).toMatchObject({ key: 'party', id: 7 });
    expect(activityParent({ project_id: '9' }, 'list')).toMatchObject({ key: 'kase', id: 9 });
    expect(activityParent({}, 'list')).toBeUndefined();
    expect(() => activityParent({ deal_id: '5', project_id: '9' }, 'create')).toThrow(
      'Capsule files a note or task on one record only (a party, an opportunity or a project): give one of deal_id, account_id, contact_id, project_id, not deal_id and project_id.',
    );
    expect(() => activityParent({ account_id: 'acme' }, 'list')).toThrow(/not a Capsule party \(account\) id/);
    expect(hangsOn(task, activityParent({ deal_id: '83948362' }, 'list')!)).toBe(true);
    expect(hangsOn(task, activityParent({ account_id: '83948362' }, 'list')!)).toBe(false);
  });

  it('writes: a note is one text (a subject its first line), never an owner; a task, its fields; status for done', () => {
    const parent = activityParent({ account_id: '892' }, 'create')!;
    expect(noteContent('S', 'B')).toBe('S\n\nB');
    expect(noteContent(undefined, 'B')).toBe('B');
    expect(noteContent('S', undefined)).toBe('S');
    expect(fromNoteInput({ type: 'note', body: 'Hi' }, parent)).toEqual({ type: 'note', content: 'Hi', party: { id: 892 } });
    expect(() => fromNoteInput({ type: 'note', body: 'Hi', owner_id: '61' }, parent)).toThrow(/leave out owner_id/);
    expect(() => fromNoteInput({ type: 'note' }, parent)).toThrow(/needs `body`/);
    expect(fromTaskInput({ subject: 'Call', body: 'About X', due_date: '2026-01-02', owner_id: '62', done: false }, parent)).toEqual({
      description: 'Call',
      detail: 'About X',
      dueOn: '2026-01-02',
      owner: { id: 62 },
      status: 'OPEN',
      party: { id: 892 },
    });
    expect(fromTaskInput({ done: true })).toEqual({ status: 'COMPLETED' });
    expect(() => fromTaskInput({ due_date: '2026/01/02' })).toThrow('due_date must be a date as YYYY-MM-DD');
    expect(taskStatuses(undefined)).toBe('open,completed');
    expect(taskStatuses(true)).toBe('completed');
    expect(taskStatuses(false)).toBe('open');
  });

  it('entry changes: a note takes its text (a subject only with it), an email subject and body; no due date, done or owner', () => {
    expect(fromEntryPatch({ body: 'New' }, undefined)).toEqual({ content: 'New' });
    expect(fromEntryPatch({ subject: 'S', body: 'B' }, 'note')).toEqual({ content: 'S\n\nB' });
    expect(fromEntryPatch({ subject: 'S' }, 'email')).toEqual({ subject: 'S' });
    expect(() => fromEntryPatch({ subject: 'S' }, 'note')).toThrow(/one text with no subject of its own/);
    expect(() => fromEntryPatch({ done: true }, 'note')).toThrow('A Capsule note or email has no done; only tasks do.');
    expect(() => fromEntryPatch({ owner_id: '1' }, 'email')).toThrow(/leave out owner_id/);
  });
});

describe('search hits and error fields of the new records', () => {
  it('a party hit as an account (domain, owner) or a contact (account, first email)', () => {
    expect(partyHit(org)).toEqual({ type: 'accounts', id: '892', name: 'Zestia', domain: 'www.zestia.example' });
    expect(partyHit(person)).toEqual({ type: 'contacts', id: '11587', name: 'Scott Spacey', account: { id: '892', name: 'Zestia' }, email: 'scott@homestyleshop.co' });
  });

  it("Capsule's fields of parties, entries and tasks as the arguments an agent passed", () => {
    expect(argumentName('emailAddresses.address', 'party')).toBe('emails');
    expect(argumentName('jobTitle', 'person')).toBe('title');
    expect(argumentName('organisation', 'party')).toBe('account_id');
    expect(argumentName('content', 'entry')).toBe('body');
    expect(argumentName('dueOn', 'task')).toBe('due_date');
    expect(argumentName('description', 'task')).toBe('subject');
  });
});
