import * as z from 'zod';
import { checkFilters, checkWrite, requireOperation } from '../crm/capabilities.js';
import { Deal, DEAL_STATUSES } from '../crm/model.js';
import { resolvePlacement } from '../crm/placement.js';
import { WRITE_FIELDS, type CrudOperations, type DealInput, type DealQuery } from '../crm/provider.js';
import {
  defineTool,
  createFlow,
  given,
  writeFields,
  outline,
  id,
  listFlow,
  pageArgs,
  requireSomeField,
  shapeRecord,
  writeFlow,
  writeOutput,
  written,
  type ToolCall,
} from './define.js';
import { dealLine } from './format.js';

type Ops = Required<CrudOperations<Deal, DealQuery, DealInput>>;
const op = <K extends keyof Ops>(call: ToolCall<object>, name: K) =>
  requireOperation(call.provider, 'deals', name) as Ops[K];

const CONCISE = ['id', 'name', 'status', 'pipeline', 'stage', 'amount', 'currency', 'owner'] as const;
const Summary = outline(Deal, CONCISE);

const fields = {
  name: z.string().min(1).describe('Deal title'),
  pipeline_id: id('Pipeline').optional(),
  stage_id: id('Stage'),
  amount: z.number().min(0).optional().describe('Deal value'),
  currency: z.string().regex(/^[A-Z]{3}$/).optional().describe('ISO 4217'),
  status: z.enum(DEAL_STATUSES).optional().describe('Deal status'),
  owner_id: id('User').optional(),
  account_id: id('Account').optional(),
  close_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).optional().describe('Expected close'),
};
const FIELD_NAMES = Object.keys(fields);

const shape = (d: Deal, call: ToolCall<object>) =>
  shapeRecord(d, call.detailed, CONCISE, Boolean(call.options.include_remote_data));

export const listDeals = defineTool({
  name: 'list_deals',
  title: 'List deals',
  description:
    'Lists deals, latest update first: name (id), stage, status, value, owner. Filter to keep answers small.',
  toolset: 'deals',
  kind: 'read',
  remoteQuery: true,
  args: {
    pipeline_id: id('Pipeline').optional(),
    stage_id: id('Stage').optional(),
    status: z.enum(DEAL_STATUSES).optional().describe('Deal status'),
    owner_id: id('Owner (user)').optional(),
    ...pageArgs,
  },
  output: { deals: z.array(Summary), next_cursor: z.string().nullable() },
  run(call) {
    const a = call.args;
    const query = given({ pipeline_id: a.pipeline_id, stage_id: a.stage_id, status: a.status, owner_id: a.owner_id });
    checkFilters(call.provider, 'deals', query);
    return listFlow(call, {
      resource: 'deals',
      key: 'deals',
      filters: query,
      fetch: (q) => op(call, 'list')({ ...query, ...q }, call.options),
      line: dealLine,
      shape: (d) => shape(d, call),
    });
  },
});

export const getDeal = defineTool({
  name: 'get_deal',
  title: 'Get a deal',
  description: 'One deal by id: stage, pipeline, status, value, owner, account and dates.',
  toolset: 'deals',
  kind: 'read',
  args: { deal_id: id('Deal') },
  output: { deal: Summary },
  async run(call) {
    const d = await op(call, 'get')(call.args.deal_id, call.options);
    return { structured: { deal: shape(d, call) }, text: `Deal ${dealLine(d, true)}` };
  },
});

export const createDeal = defineTool({
  name: 'create_deal',
  title: 'Create a deal',
  description:
    'Creates a deal in stage_id (get_pipeline lists stages); the pipeline follows from the stage.',
  toolset: 'deals',
  kind: 'create',
  args: fields,
  output: writeOutput('deal'),
  async run(call) {
    const create = op(call, 'create');
    const data: DealInput = writeFields(call.args, WRITE_FIELDS.deals);
    const placement = await resolvePlacement(call.provider, data, undefined, call.options);
    if (placement) Object.assign(data, placement);
    checkWrite(call.provider, 'deals', 'create', data);
    const prepared = await create(data, call.options);
    return createFlow(call, 'deals', data, prepared, (d) => ({
      structured: { deal: written(d) },
      text: `Created deal ${dealLine(d, false)}.`,
    }));
  },
});

export const updateDeal = defineTool({
  name: 'update_deal',
  title: 'Update a deal',
  description:
    'Moves a deal (stage_id; plus pipeline_id to change pipeline), wins/loses it, changes value, owner ' +
    "or close date. A stage outside the deal's pipeline is refused, listing valid ones.",
  toolset: 'deals',
  kind: 'update',
  args: { deal_id: id('Deal'), ...fields, name: fields.name.optional(), stage_id: fields.stage_id.optional() },
  output: writeOutput('deal'),
  async run(call) {
    const update = op(call, 'update');
    const data: DealInput = writeFields(call.args, WRITE_FIELDS.deals);
    requireSomeField(data, call.name, FIELD_NAMES);
    if (data.stage_id !== undefined || data.pipeline_id !== undefined) {
      const current = await op(call, 'get')(call.args.deal_id, { signal: call.options.signal });
      const placement = await resolvePlacement(call.provider, data, current, call.options);
      // Send the pipeline only when it changes: updates carry just what the caller meant.
      if (placement && placement.pipeline_id === current.pipeline.id && call.args.pipeline_id === undefined) {
        delete data.pipeline_id;
      }
    }
    checkWrite(call.provider, 'deals', 'update', data);
    const prepared = await update(call.args.deal_id, data, call.options);
    return writeFlow(call, prepared, (d) => ({
      structured: { deal: written(d) },
      text: `Updated deal ${dealLine(d, true)}.`,
    }));
  },
});

export const dealTools = [listDeals, getDeal, createDeal, updateDeal];
