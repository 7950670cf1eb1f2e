import * as z from 'zod';
import { requireStats } from '../crm/capabilities.js';
import { CrmError } from '../crm/errors.js';
import { ConversionStats, MovementStats } from '../crm/model.js';
import type { StatsQuery } from '../crm/provider.js';
import { defineTool, id } from './define.js';
import { conversionText, movementText } from './format.js';

const day = (what: string) =>
  z.string().regex(/^\d{4}-\d{2}-\d{2}$/).describe(`${what}, YYYY-MM-DD (inclusive, UTC)`);

const args = {
  pipeline_id: id('Pipeline'),
  start_date: day('Period start'),
  end_date: day('Period end'),
  user_id: id('Only deals owned by this user').optional(),
};

function query(a: StatsQuery): StatsQuery {
  if (a.start_date > a.end_date) {
    throw new CrmError('validation', `start_date ${a.start_date} is after end_date ${a.end_date}; swap them.`);
  }
  return { pipeline_id: a.pipeline_id, start_date: a.start_date, end_date: a.end_date, user_id: a.user_id };
}

export const conversionStats = defineTool({
  name: 'pipeline_conversion_stats',
  title: 'Pipeline conversion rates',
  description:
    'Stage-to-stage and win/loss conversion rates (percent, 1 decimal) of a pipeline over a period. ' +
    'Local CRM definitions, from each deal\'s stage history: for consecutive stages A→B, of the deals ' +
    'that entered A in the period, the share that later (by period end) entered B or a later stage, ' +
    'or were won. won/lost_conversion: of the deals created in the pipeline in the period, the share ' +
    'won/lost by period end. Remote CRMs report their own figures.',
  toolset: 'stats',
  kind: 'read',
  args,
  output: { stats: ConversionStats },
  async run(call) {
    const stats = await requireStats(call.provider, 'conversion')(query(call.args), call.options);
    return { structured: { stats }, text: conversionText(stats) };
  },
});

export const movementStats = defineTool({
  name: 'pipeline_movement_stats',
  title: 'Pipeline deal movements',
  description:
    'What happened in a pipeline over a period. Local CRM definitions: stage moves = moves between ' +
    'its stages in the period; new / won / lost = deals created / won / lost in the period; left open ' +
    '= deals open at period end; average age = of those open deals, days since creation, and per ' +
    'stage days since entering the stage they stand in. Values are summed per currency.',
  toolset: 'stats',
  kind: 'read',
  args,
  output: { stats: MovementStats },
  async run(call) {
    const stats = await requireStats(call.provider, 'movement')(query(call.args), call.options);
    return { structured: { stats }, text: movementText(stats) };
  },
});

export const statsTools = [conversionStats, movementStats];
