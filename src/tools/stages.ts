import * as z from 'zod';
import { boundedText, LIMITS, NameArg, Stage, STAGE_STATUSES } from '../crm/model.js';
import { createTool, deleteTool, getTool, listTool, updateTool, type ResourceSpec } from './crud.js';
import { id } from './define.js';
import { stageLine } from './format.js';

const CONCISE = ['id', 'name', 'pipeline', 'position', 'status', 'probability'] as const;

const stages: ResourceSpec<Stage> = {
  resource: 'stages',
  singular: 'stage',
  concise: CONCISE,
  line: stageLine,
  fields: {
    pipeline_id: id('Pipeline the stage belongs to'),
    name: NameArg.describe('Stage name, e.g. "Qualified"'),
    position: z.number().int().min(0).optional().describe('Order; later stages shift'),
    probability: z.number().min(0).max(100).optional().describe('Win %'),
    color: z.string().max(32).optional().describe('Hex colour'),
    status: z.enum(STAGE_STATUSES).optional().describe('Stage status'),
  },
};

export const stageTools = [
  listTool(stages, {
    description: 'Stages in pipeline order. Filter by pipeline_id for the stages a deal can move to.',
    filters: {
      pipeline_id: id('Pipeline').optional(),
      name: boundedText(LIMITS.name).optional().describe('Name contains'),
      status: z.enum(STAGE_STATUSES).optional().describe('Stage status'),
      sort_by: z.enum(['position', 'name', 'created_at', 'updated_at']).optional().describe('Default position'),
      sort_direction: z.enum(['asc', 'desc']).optional().describe('Default asc'),
    },
    defaults: { sort_by: 'position' },
  }),
  getTool(stages, { description: 'One stage by id, with its pipeline, position, probability and status.' }),
  createTool(stages, {
    description:
      'Adds a stage to a pipeline, at the end unless position is given; unsupported fields are refused.',
  }),
  updateTool(stages, {
    description: 'Changes a stage: name, position, probability, color or status; sends only the fields given.',
  }),
  deleteTool(stages, {
    description: 'Deletes a stage that holds no deals (move them with update_deal first). Needs confirm: true.',
  }),
];
