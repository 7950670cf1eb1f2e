import * as z from 'zod';
import { NameArg, type Pipeline } from '../crm/model.js';
import { createTool, deleteTool, getTool, listTool, updateTool, type ResourceSpec } from './crud.js';
import { RecordOutline } from './define.js';
import { pipelineDetail, pipelineLine } from './format.js';

const pipelines: ResourceSpec<Pipeline> = {
  resource: 'pipelines',
  singular: 'pipeline',
  summary: RecordOutline.extend({ stages: z.array(RecordOutline).optional() }),
  listSummary: RecordOutline,
  concise: ['id', 'name', 'stages', 'open_deals'],
  line: pipelineLine,
  detail: pipelineDetail,
  fields: {
    name: NameArg.describe('Pipeline name'),
    is_deal_probability_enabled: z.boolean().optional().describe('Weight deals by stage probability'),
  },
};

export const pipelineTools = [
  listTool(pipelines, {
    description: 'Lists pipelines. get_pipeline shows one with its stages and open deals.',
    filters: {},
  }),
  getTool(pipelines, {
    description:
      'A pipeline with its ordered stages and open deals (count, value) per stage; where reviews start.',
  }),
  createTool(pipelines, { description: 'Creates an empty pipeline; add its stages with create_stage.' }),
  updateTool(pipelines, { description: 'Renames a pipeline or switches deal probability; sends only the fields given.' }),
  deleteTool(pipelines, {
    description: 'Deletes a pipeline without deals (move all of them, won and lost too, first). Needs confirm: true.',
  }),
];
