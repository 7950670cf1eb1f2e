import * as z from 'zod';
import { requireOperation } from '../crm/capabilities.js';
import { CurrencyArg, Deal, DEAL_STATUSES, IsoDate, NameArg } from '../crm/model.js';
import { resolvePlacement } from '../crm/placement.js';
import type { DealInput } from '../crm/provider.js';
import { createTool, getTool, listTool, updateTool, type ResourceSpec } from './crud.js';
import { id } from './define.js';
import { dealLine } from './format.js';

const CONCISE = ['id', 'name', 'status', 'pipeline', 'stage', 'amount', 'currency', 'owner'] as const;

const deals: ResourceSpec<Deal> = {
  resource: 'deals',
  singular: 'deal',
  concise: CONCISE,
  line: dealLine,
  fields: {
    name: NameArg.describe('Deal title'),
    pipeline_id: id('Pipeline').optional(),
    // Required (update_deal takes it optional); a missing one is answered with where to find stages.
    stage_id: id('Stage', "the stage the deal starts in; get_pipeline lists a pipeline's stages with their ids"),
    amount: z.number().min(0).optional().describe('Deal value'),
    currency: CurrencyArg.optional(),
    status: z.enum(DEAL_STATUSES).optional().describe('Deal status'),
    owner_id: id('User').optional(),
    account_id: id('Account').optional(),
    close_date: IsoDate.optional().describe('Expected close'),
  },
};

export const listDeals = listTool(deals, {
  description:
    'Lists deals, latest update first: name (id), stage, status, value, owner. Filter to keep answers small.',
  filters: {
    pipeline_id: id('Pipeline').optional(),
    stage_id: id('Stage').optional(),
    status: z.enum(DEAL_STATUSES).optional().describe('Deal status'),
    owner_id: id('Owner (user)').optional(),
    account_id: id('Account').optional(),
  },
});

export const getDeal = getTool(deals, {
  description: 'One deal by id: stage, pipeline, status, value, owner, account and dates.',
});

export const createDeal = createTool<Deal, DealInput>(deals, {
  description: 'Creates a deal in stage_id (required; get_pipeline lists stages); the pipeline follows from the stage.',
  // The stage must belong to the pipeline; the pipeline is sent as the stage's own.
  async before(call, data) {
    const placement = await resolvePlacement(call.provider, data, undefined, call.options);
    if (placement) Object.assign(data, placement);
  },
});

export const updateDeal = updateTool<Deal, DealInput>(deals, {
  description:
    'Moves a deal (stage_id, plus pipeline_id to switch pipelines), wins/loses it, or changes its ' +
    "fields. A stage outside the deal's pipeline is refused, listing valid ones.",
  // A move is checked against the stages of the deal's own pipeline (or the new pipeline_id).
  async before(call, data) {
    if (data.stage_id === undefined && data.pipeline_id === undefined) return;
    const get = requireOperation(call.provider, 'deals', 'get') as (id: string, o: object) => Promise<Deal>;
    const current = await get(String(call.args.deal_id), { signal: call.options.signal });
    await resolvePlacement(call.provider, data, current, call.options);
  },
});

export const dealTools = [listDeals, getDeal, createDeal, updateDeal];
