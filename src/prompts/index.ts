/**
 * Workflows an agent can start from. Each names the tools to call and what to report, so a
 * pipeline review takes three tool calls.
 */
import type { McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { IsoDate, LIMITS } from '../crm/model.js';

// Prompt arguments are strings (MCP); the prompt text quotes them, so they are bounded like tool ids.
const promptId = z.string().min(1).max(LIMITS.id);

const reviewArgs = z.object({
  pipeline_id: promptId.describe('Pipeline id (list_pipelines)'),
  start_date: IsoDate.describe('Period start, YYYY-MM-DD'),
  end_date: IsoDate.describe('Period end, YYYY-MM-DD'),
});

const projectArgs = z.object({
  project_id: promptId.describe('Project id (list_projects)'),
});

const user = (text: string) => ({ messages: [{ role: 'user' as const, content: { type: 'text' as const, text } }] });

export function pipelineReviewText(a: z.infer<typeof reviewArgs>): string {
  return [
    `Review the health of pipeline ${a.pipeline_id} from ${a.start_date} to ${a.end_date}.`,
    '',
    'Make exactly these three tool calls (they are independent, so make them together):',
    `1. get_pipeline {"pipeline_id": "${a.pipeline_id}"} — stages in order with open deals (count and value) per stage.`,
    `2. pipeline_conversion_stats {"pipeline_id": "${a.pipeline_id}", "start_date": "${a.start_date}", "end_date": "${a.end_date}"}`,
    `3. pipeline_movement_stats {"pipeline_id": "${a.pipeline_id}", "start_date": "${a.start_date}", "end_date": "${a.end_date}"}`,
    '',
    'Then report, in under 200 words:',
    '- Where value sits: open deals and value per stage; name any stage holding more than a third of the value.',
    '- The weakest stage-to-stage conversion (the bottleneck) and the win and loss rates.',
    '- Flow in the period: new, won and lost deals with their values, and stage moves.',
    '- Stalled stages: stages whose average age of open deals is well above the pipeline average.',
    '- Three concrete next actions, naming stages and, where useful, deals (call list_deals with stage_id only if you need names).',
    'Quote numbers from the tool results; do not estimate. Do not change any data during the review.',
  ].join('\n');
}

export function projectStatusText(a: z.infer<typeof projectArgs>): string {
  return [
    `Write a status update for project ${a.project_id}.`,
    '',
    `1. Call get_project {"project_id": "${a.project_id}", "response_format": "detailed"}.`,
    '2. If it links deals (opportunity), call get_deal for each, at most three, to see their stage and status.',
    '',
    'Report in under 150 words: status and stage, owner and account, close date (flag it if past or within 14 days),',
    'last activity (flag if older than 30 days), linked deals with their stage and status, and one recommended next step.',
    'Do not change any data; if the status looks wrong, say so and suggest the update_project call instead of making it.',
  ].join('\n');
}

export function registerPrompts(server: McpServer): void {
  server.registerPrompt(
    'pipeline_review',
    {
      title: 'Pipeline health review',
      description: 'Review one pipeline over a period: value by stage, conversion, flow, stalls, next actions.',
      argsSchema: reviewArgs,
    },
    (a) => user(pipelineReviewText(a)),
  );
  server.registerPrompt(
    'project_status_update',
    {
      title: 'Project status update',
      description: 'A short status update for one project, with its linked deals.',
      argsSchema: projectArgs,
    },
    (a) => user(projectStatusText(a)),
  );
}
