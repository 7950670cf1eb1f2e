/**
 * Outreach <-> unified mapping (src/providers/outreach/map.ts), alone: stage ids that name their
 * collection, the two fixed pipelines, deal status from the stage, amounts, dates, request bodies
 * and the JSON:API pointer -> argument name of error messages.
 */
import { describe, expect, it } from 'vitest';
import { CrmError } from '../../src/crm/errors.js';
import {
  dealStatus,
  document,
  fromDealInput,
  fromStageInput,
  includedOf,
  parseStageId,
  pipelineKey,
  pointerField,
  stageId,
  stagesWithStatus,
  toDeal,
  toStage,
  type OrOpportunity,
  type OrOpportunityStage,
} from '../../src/providers/outreach/map.js';

const oppStage = (id: number, name: string, isClosed: boolean): OrOpportunityStage => ({
  type: 'opportunityStage',
  id,
  attributes: { name, isClosed, order: id },
});

function thrown(f: () => unknown): CrmError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CrmError);
    return e as CrmError;
  }
  throw new Error('expected a CrmError');
}

describe('stage ids say their collection', () => {
  it('p12 is prospect stage 12, o12 opportunity stage 12, both ways', () => {
    expect(stageId('prospects', 12)).toBe('p12');
    expect(stageId('opportunities', 12)).toBe('o12');
    expect(parseStageId('p12')).toEqual({ pipeline: 'prospects', id: 12 });
    expect(parseStageId(' O7 ')).toEqual({ pipeline: 'opportunities', id: 7 });
  });

  it('refuses a bare number or anything else with how stage ids are written', () => {
    for (const bad of ['12', 'x12', 'p', 'p0', 'o-1', 'o1.5', 'prospects:1']) {
      const e = thrown(() => parseStageId(bad));
      expect(e.kind).toBe('validation');
      expect(e.message).toContain("'p' + the id for a prospect stage (p12)");
    }
  });

  it('two fixed pipelines; any other id is not_found naming both', () => {
    expect(pipelineKey('prospects')).toBe('prospects');
    expect(pipelineKey('Opportunities')).toBe('opportunities');
    const e = thrown(() => pipelineKey('sales'));
    expect(e.kind).toBe('not_found');
    expect(e.message).toBe("No pipeline with id 'sales'. Outreach has two, both fixed: prospects (prospect stages) and opportunities (opportunity stages).");
  });
});

describe('stages', () => {
  it('maps seed 001 attributes: order -> position, color, dates; always active; remote_data only when asked', () => {
    const raw = {
      type: 'stage',
      id: 1,
      attributes: { color: '#5951ff', createdAt: '2025-01-01T00:00:00.000Z', name: 'Qualified Lead', order: 1, updatedAt: '2025-01-02T00:00:00.000Z' },
      relationships: { creator: { data: { type: 'user', id: 1 } } },
    };
    expect(toStage(raw, 'prospects')).toEqual({
      id: 'p1',
      name: 'Qualified Lead',
      pipeline: { id: 'prospects', name: 'Prospects' },
      position: 1,
      status: 'active',
      color: '#5951ff',
      created_at: '2025-01-01T00:00:00.000Z',
      updated_at: '2025-01-02T00:00:00.000Z',
    });
    expect(toStage(raw, 'prospects', { remote: true }).remote_data).toEqual(raw);
    expect(toStage({ type: 'opportunityStage', id: 3, attributes: { name: 'Proposal', order: null, color: null } }, 'opportunities')).toEqual({
      id: 'o3',
      name: 'Proposal',
      pipeline: { id: 'opportunities', name: 'Opportunities' },
      position: 0,
      status: 'active',
    });
  });

  it('writes name, order and color only, as given', () => {
    expect(fromStageInput({ name: 'Negotiating', position: 4, color: '#ff9900' })).toEqual({ attributes: { name: 'Negotiating', order: 4, color: '#ff9900' } });
    expect(fromStageInput({ name: 'Late' })).toEqual({ attributes: { name: 'Late' } });
    expect(thrown(() => fromStageInput({ position: 1.5 })).message).toMatch(/whole number/);
  });

  it('documents: type, the integer id on PATCH, empty parts left out', () => {
    expect(document('stage', { attributes: { name: 'X' } })).toEqual({ data: { type: 'stage', attributes: { name: 'X' } } });
    expect(document('stage', { attributes: { name: 'X' }, relationships: {} }, 12)).toEqual({ data: { type: 'stage', id: 12, attributes: { name: 'X' } } });
  });
});

describe('deal status from the stage', () => {
  it('open unless the stage is closed; a closed stage named with "won" is won, any other closed one lost', () => {
    expect(dealStatus(undefined)).toBe('open');
    expect(dealStatus(oppStage(1, 'Prospecting', false))).toBe('open');
    expect(dealStatus(oppStage(2, 'Won back (reopened)', false))).toBe('open');
    expect(dealStatus(oppStage(5, 'Closed Won', true))).toBe('won');
    expect(dealStatus(oppStage(7, 'WON - signed', true))).toBe('won');
    expect(dealStatus(oppStage(6, 'Closed Lost', true))).toBe('lost');
    expect(dealStatus(oppStage(8, 'Closed', true))).toBe('lost');
    // "won" as a word only: "Wonderland" is not a win.
    expect(dealStatus(oppStage(9, 'Closed - Wonderland', true))).toBe('lost');
    const stages = [oppStage(1, 'A', false), oppStage(5, 'Closed Won', true), oppStage(6, 'Closed Lost', true), oppStage(3, 'C', false)];
    expect(stagesWithStatus(stages, 'open')).toEqual([1, 3]);
    expect(stagesWithStatus(stages, 'won')).toEqual([5]);
    expect(stagesWithStatus(stages, 'lost')).toEqual([6]);
  });
});

describe('deals', () => {
  const opp: OrOpportunity = {
    type: 'opportunity',
    id: 42,
    attributes: {
      name: 'Acme renewal',
      amount: 12000,
      amountPrecise: '12000.5',
      currencyType: 'EUR',
      closeDate: '2026-12-15T00:00:00.000Z',
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-02-01T00:00:00.000Z',
    },
    relationships: {
      opportunityStage: { data: { type: 'opportunityStage', id: 5 } },
      stage: { data: { type: 'opportunityStage', id: 5 } },
      owner: { data: { type: 'user', id: 2 } },
      account: { data: { type: 'account', id: 3 } },
    },
  };

  it('reads names and status from what the answer included', () => {
    const names = includedOf([
      { type: 'opportunityStage', id: 5, attributes: { name: 'Closed Won', isClosed: true } },
      { type: 'user', id: 2, attributes: { name: 'Ben Okafor' } },
      { type: 'account', id: 3, attributes: { name: 'Globex' } },
    ]);
    expect(toDeal(opp, names)).toEqual({
      id: '42',
      name: 'Acme renewal',
      status: 'won',
      pipeline: { id: 'opportunities', name: 'Opportunities' },
      stage: { id: 'o5', name: 'Closed Won' },
      amount: 12000.5,
      currency: 'EUR',
      owner: { id: '2', name: 'Ben Okafor' },
      account: { id: '3', name: 'Globex' },
      close_date: '2026-12-15',
      created_at: '2026-01-01T00:00:00.000Z',
      updated_at: '2026-02-01T00:00:00.000Z',
    });
  });

  it('shows ids without names it was not given; the whole amount when there is no precise one; no stage said plainly', () => {
    const bare = toDeal({ ...opp, attributes: { ...opp.attributes, amountPrecise: null } }, includedOf([]));
    expect(bare).toMatchObject({ stage: { id: 'o5' }, owner: { id: '2' }, account: { id: '3' }, amount: 12000, status: 'open' });
    expect(bare.stage.name).toBeUndefined();
    const stageless = toDeal({ type: 'opportunity', id: 1, attributes: { name: 'Loose' } }, includedOf([]));
    expect(stageless).toMatchObject({ status: 'open', stage: { id: '', name: '(no stage)' } });
    expect(stageless.owner).toBeUndefined();
  });

  it('writes the writable opportunityStage relationship (never `stage`), integer amounts, date-times', () => {
    expect(
      fromDealInput({
        name: 'New',
        pipeline_id: 'opportunities',
        stage_id: 'o3',
        amount: 1234.5,
        currency: 'eur',
        owner_id: '2',
        account_id: '7',
        close_date: '2026-12-24',
      }),
    ).toEqual({
      attributes: { name: 'New', amount: 1235, amountPrecise: '1234.5', currencyType: 'EUR', closeDate: '2026-12-24T00:00:00.000Z' },
      relationships: {
        opportunityStage: { data: { type: 'opportunityStage', id: 3 } },
        owner: { data: { type: 'user', id: 2 } },
        account: { data: { type: 'account', id: 7 } },
      },
    });
    expect(fromDealInput({ amount: 500 })).toEqual({ attributes: { amount: 500 }, relationships: {} });
  });

  it('refuses what cannot be an Outreach deal write, each in one sentence', () => {
    expect(thrown(() => fromDealInput({ status: 'won' })).message).toMatch(/^Outreach has no deal status to set: .*closed opportunity stage/);
    expect(thrown(() => fromDealInput({ stage_id: 'p3' })).message).toMatch(/is a prospect stage/);
    expect(thrown(() => fromDealInput({ pipeline_id: 'prospects' })).message).toMatch(/all in pipeline 'opportunities'/);
    expect(thrown(() => fromDealInput({ close_date: '24/12/2026' })).message).toMatch(/YYYY-MM-DD/);
    expect(thrown(() => fromDealInput({ owner_id: 'ana' })).message).toMatch(/not an Outreach user id/);
  });
});

describe('error pointers name the argument an agent passed', () => {
  it('maps attributes and relationships; keeps an unknown attribute name; ignores other pointers', () => {
    expect(pointerField('/data/attributes/order')).toBe('position:');
    expect(pointerField('/data/attributes/closeDate')).toBe('close_date:');
    expect(pointerField('/data/attributes/currencyType')).toBe('currency:');
    expect(pointerField('/data/relationships/opportunityStage')).toBe('stage_id:');
    expect(pointerField('/data/relationships/owner')).toBe('owner_id:');
    expect(pointerField('/data/attributes/custom7')).toBe('custom7:');
    expect(pointerField('/data/type')).toBeUndefined();
  });
});
