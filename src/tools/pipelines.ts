import * as z from 'zod';
import { checkWrite, requireOperation } from '../crm/capabilities.js';
import { Pipeline } from '../crm/model.js';
import type { CrudOperations, PageQuery, PipelineInput } from '../crm/provider.js';
import {
  defineTool,
  deleteFlow,
  deleteOutput,
  createFlow,
  given,
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
import { pipelineDetail, pipelineLine } from './format.js';

type Ops = Required<CrudOperations<Pipeline, PageQuery, PipelineInput>>;
const op = <K extends keyof Ops>(call: ToolCall<object>, name: K) =>
  requireOperation(call.provider, 'pipelines', name) as Ops[K];

const CONCISE = ['id', 'name', 'stages', 'open_deals'] as const;
const StageSummary = outline(Pipeline.shape.stages.unwrap().element, ['id', 'name', 'position', 'status', 'probability', 'open_deals']);
const Summary = outline(Pipeline, ['id', 'name', 'open_deals']).extend({ stages: z.array(StageSummary).optional() });
const shape = (p: Pipeline, call: ToolCall<object>) =>
  shapeRecord(p, call.detailed, CONCISE, Boolean(call.options.include_remote_data));

const fields = {
  name: z.string().min(1).describe('Pipeline name'),
  is_deal_probability_enabled: z.boolean().optional().describe('Weight deals by stage probability'),
};

export const listPipelines = defineTool({
  name: 'list_pipelines',
  title: 'List pipelines',
  description:
    'Lists pipelines. get_pipeline shows one with its stages and open deals.',
  toolset: 'pipelines',
  kind: 'read',
  remoteQuery: true,
  args: { ...pageArgs },
  output: { pipelines: z.array(outline(Pipeline, ['id', 'name'])), next_cursor: z.string().nullable() },
  run: (call) =>
    listFlow(call, {
      resource: 'pipelines',
      key: 'pipelines',
      filters: {},
      fetch: (q) => op(call, 'list')(q, call.options),
      line: (p, d) => pipelineLine(p, d),
      shape: (p) => shape(p, call),
    }),
});

export const getPipeline = defineTool({
  name: 'get_pipeline',
  title: 'Get a pipeline',
  description:
    'A pipeline with its ordered stages and open deals (count, value) per stage; where reviews start.',
  toolset: 'pipelines',
  kind: 'read',
  args: { pipeline_id: id('Pipeline') },
  output: { pipeline: Summary },
  async run(call) {
    const p = await op(call, 'get')(call.args.pipeline_id, call.options);
    return { structured: { pipeline: shape(p, call) }, text: pipelineDetail(p, call.detailed) };
  },
});

export const createPipeline = defineTool({
  name: 'create_pipeline',
  title: 'Create a pipeline',
  description: 'Creates an empty pipeline; add its stages with create_stage.',
  toolset: 'pipelines',
  kind: 'create',
  args: fields,
  output: writeOutput('pipeline'),
  async run(call) {
    const input = given({ name: call.args.name, is_deal_probability_enabled: call.args.is_deal_probability_enabled });
    checkWrite(call.provider, 'pipelines', 'create', input);
    const prepared = await op(call, 'create')(input, call.options);
    return createFlow(call, 'pipelines', input, prepared, (p) => ({
      structured: { pipeline: written(p) },
      text: `Created pipeline ${pipelineLine(p, false)}.`,
    }));
  },
});

export const updatePipeline = defineTool({
  name: 'update_pipeline',
  title: 'Update a pipeline',
  description: 'Renames a pipeline or switches deal probability; sends only the fields given.',
  toolset: 'pipelines',
  kind: 'update',
  args: { pipeline_id: id('Pipeline'), ...fields, name: fields.name.optional() },
  output: writeOutput('pipeline'),
  async run(call) {
    const input = given({ name: call.args.name, is_deal_probability_enabled: call.args.is_deal_probability_enabled });
    requireSomeField(input, call.name, Object.keys(fields));
    checkWrite(call.provider, 'pipelines', 'update', input);
    const prepared = await op(call, 'update')(call.args.pipeline_id, input, call.options);
    return writeFlow(call, prepared, (p) => ({
      structured: { pipeline: written(p) },
      text: `Updated pipeline ${pipelineLine(p, true)}.`,
    }));
  },
});

export const deletePipeline = defineTool({
  name: 'delete_pipeline',
  title: 'Delete a pipeline',
  description: 'Deletes an empty pipeline (move or close its deals first). Needs confirm: true.',
  toolset: 'pipelines',
  kind: 'delete',
  args: { pipeline_id: id('Pipeline') },
  output: deleteOutput('pipeline'),
  run: (call) => deleteFlow(call, 'pipelines', 'pipeline', call.args.pipeline_id),
});

export const pipelineTools = [listPipelines, getPipeline, createPipeline, updatePipeline, deletePipeline];
