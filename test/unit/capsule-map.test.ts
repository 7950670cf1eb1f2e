/**
 * Capsule <-> unified mapping (src/providers/capsule/map.ts) alone: ids of both kinds of pipeline
 * and stage, deal status from Capsule's closing milestones, project fields both ways (status, the
 * board stage as a bare id, one opportunity, tags replacing the list), filter conditions, and the
 * refusals that come before anything is sent.
 */
import { describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import { describeCapsuleError } from '../../src/providers/capsule/client.js';
import {
  argumentName,
  dealConditions,
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
