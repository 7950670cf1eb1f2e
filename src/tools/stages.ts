import * as z from 'zod';
import { checkFilters, checkWrite, requireOperation } from '../crm/capabilities.js';
import { Stage, STAGE_STATUSES } from '../crm/model.js';
import { WRITE_FIELDS, type CrudOperations, type StageInput, type StageQuery } from '../crm/provider.js';
import {
  defineTool,
  deleteFlow,
  deleteOutput,
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
import { stageLine } from './format.js';

type Ops = Required<CrudOperations<Stage, StageQuery, StageInput>>;
const op = <K extends keyof Ops>(call: ToolCall<object>, name: K) =>
  requireOperation(call.provider, 'stages', name) as Ops[K];

const CONCISE = ['id', 'name', 'pipeline', 'position', 'status', 'probability'] as const;
const Summary = outline(Stage, CONCISE);

const fields = {
  pipeline_id: id('Pipeline the stage belongs to'),
  name: z.string().min(1).describe('Stage name, e.g. "Qualified"'),
  position: z.number().int().min(0).optional().describe('Order; later stages shift'),
  probability: z.number().min(0).max(100).optional().describe('Win %'),
  color: z.string().max(32).optional().describe('Hex colour'),
  status: z.enum(STAGE_STATUSES).optional().describe('Stage status'),
};
const FIELD_NAMES = Object.keys(fields);

export const listStages = defineTool({
  name: 'list_stages',
  title: 'List stages',
  description:
    'Lists stages, in pipeline order by default. Filter by pipeline_id for the stages a deal can move to.',
  toolset: 'stages',
  kind: 'read',
  remoteQuery: true,
  args: {
    pipeline_id: id('Pipeline').optional(),
    name: z.string().optional().describe('Name contains'),
    status: z.enum(STAGE_STATUSES).optional().describe('Stage status'),
    sort_by: z.enum(['position', 'name', 'created_at', 'updated_at']).optional().describe('Default position'),
    sort_direction: z.enum(['asc', 'desc']).optional().describe('Default asc'),
    ...pageArgs,
  },
  output: { stages: z.array(Summary), next_cursor: z.string().nullable() },
  run(call) {
    const a = call.args;
    const query = given({
      pipeline_id: a.pipeline_id,
      name: a.name,
      status: a.status,
      sort_by: a.sort_by,
      sort_direction: a.sort_direction,
    });
    checkFilters(call.provider, 'stages', query);
    return listFlow(call, {
      resource: 'stages',
      key: 'stages',
      filters: query,
      fetch: (q) => op(call, 'list')({ ...query, ...q }, call.options),
      line: stageLine,
      shape: (s, d) => shapeRecord(s, d, CONCISE, Boolean(call.options.include_remote_data)),
    });
  },
});

export const getStage = defineTool({
  name: 'get_stage',
  title: 'Get a stage',
  description: 'One stage by id, with its pipeline, position, probability and status.',
  toolset: 'stages',
  kind: 'read',
  args: { stage_id: id('Stage') },
  output: { stage: Summary },
  async run(call) {
    const s = await op(call, 'get')(call.args.stage_id, call.options);
    return {
      structured: { stage: shapeRecord(s, call.detailed, CONCISE, Boolean(call.options.include_remote_data)) },
      text: `Stage ${stageLine(s, true)}`,
    };
  },
});

export const createStage = defineTool({
  name: 'create_stage',
  title: 'Create a stage',
  description:
    'Adds a stage to a pipeline, at the end unless position is given. Fields a CRM lacks are refused before sending.',
  toolset: 'stages',
  kind: 'create',
  args: fields,
  output: writeOutput('stage'),
  async run(call) {
    const data: StageInput = writeFields(call.args, WRITE_FIELDS.stages);
    checkWrite(call.provider, 'stages', 'create', data);
    const prepared = await op(call, 'create')(data, call.options);
    return createFlow(call, 'stages', data, prepared, (s) => ({
      structured: { stage: written(s) },
      text: `Created stage ${stageLine(s, false)}.`,
    }));
  },
});

export const updateStage = defineTool({
  name: 'update_stage',
  title: 'Update a stage',
  description: 'Changes a stage: name, position, probability, color or status; sends only the fields given.',
  toolset: 'stages',
  kind: 'update',
  args: {
    stage_id: id('Stage'),
    ...fields,
    pipeline_id: fields.pipeline_id.optional(),
    name: fields.name.optional(),
  },
  output: writeOutput('stage'),
  async run(call) {
    const data: StageInput = writeFields(call.args, WRITE_FIELDS.stages);
    requireSomeField(data, call.name, FIELD_NAMES);
    checkWrite(call.provider, 'stages', 'update', data);
    const prepared = await op(call, 'update')(call.args.stage_id, data, call.options);
    return writeFlow(call, prepared, (s) => ({
      structured: { stage: written(s) },
      text: `Updated stage ${stageLine(s, true)}.`,
    }));
  },
});

export const deleteStage = defineTool({
  name: 'delete_stage',
  title: 'Delete a stage',
  description: 'Deletes a stage that holds no deals (move them with update_deal first). Needs confirm: true.',
  toolset: 'stages',
  kind: 'delete',
  args: { stage_id: id('Stage') },
  output: deleteOutput('stage'),
  run: (call) => deleteFlow(call, 'stages', 'stage', call.args.stage_id),
});

export const stageTools = [listStages, getStage, createStage, updateStage, deleteStage];
