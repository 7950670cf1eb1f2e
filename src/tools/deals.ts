import * as z from 'zod';
import { requireOperation } from '../crm/capabilities.js';
import { Deal, DEAL_STATUSES } from '../crm/model.js';
import { resolvePlacement } from '../crm/placement.js';
import type { DealInput } from '../crm/provider.js';
import { createTool, getTool, listTool, updateTool, type ResourceSpec } from './crud.js';
import { id, outline } from './define.js';
import { dealLine } from './format.js';

const CONCISE = ['id', 'name', 'status', 'pipeline', 'stage', 'amount', 'currency', 'owner'] as const;

const deals: ResourceSpec<Deal> = {
  resource: 'deals',
  singular: 'deal',
  summary: outline(Deal, CONCISE),
  concise: CONCISE,
  line: dealLine,
  fields: {
    name: z.string().min(1).describe('Deal title'),
    pipeline_id: id('Pipeline').optional(),
    // Checked by the create hook instead of the schema, so a missing stage is answered with the
    // pipeline's stages rather than a bare "expected string".
    stage_id: id('Stage').optional(),
    amount: z.number().min(0).optional().describe('Deal value'),
    currency: z.string().regex(/^[A-Z]{3}$/).optional().describe('ISO 4217'),
    status: z.enum(DEAL_STATUSES).optional().describe('Deal status'),
    owner_id: id('User').optional(),
    account_id: id('Account').optional(),
    close_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).optional().describe('Expected close'),
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
