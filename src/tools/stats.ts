import * as z from 'zod';
import { requireStats } from '../crm/capabilities.js';
import { CrmError } from '../crm/errors.js';
import { IsoDate, type DealGroup, type MovementStats } from '../crm/model.js';
import type { StatsQuery } from '../crm/provider.js';
import { defineTool, id, readAnswer } from './define.js';
import { fitRecord } from './fit.js';
import { conversionText, movementText } from './format.js';

const day = (what: string) => IsoDate.describe(`${what} (inclusive, UTC)`);

const args = {
  pipeline_id: id('Pipeline'),
  start_date: day('Period start'),
  end_date: day('Period end'),
  user_id: id('Deal owner (user)').optional(),
};

// Outlines: the figures an agent reads first; the rest is in the text and the open records.
const ConversionOutline = z.looseObject({ won_conversion: z.number(), lost_conversion: z.number() });
const MovementOutline = z.looseObject({ pipeline: z.looseObject({}) });

const GROUPS = ['new_deals', 'deals_left_open', 'won_deals', 'lost_deals'] as const;

function keepDealIds(stats: MovementStats, keep: number): MovementStats {
  const out = { ...stats };
  for (const g of GROUPS) {
    const group = stats[g];
    if (group.deal_ids.length <= keep) continue;
    const note = `first ${keep} of ${group.deal_ids.length.toLocaleString('en-US')}; list_deals lists them`;
    out[g] = { ...group, deal_ids: group.deal_ids.slice(0, keep), deal_ids_cut: note } as DealGroup;
  }
  return out;
}

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
    'Conversion rates (%) over a period. Local CRM, from stage history: A→B (consecutive stages) = ' +
    'share of deals entering A in the period that reached B or later, or were won, by period end; ' +
    'won/lost = share of deals created in the period won/lost by then. Pipedrive: its own, one user.',
  toolset: 'stats',
  kind: 'read',
  args,
  output: { stats: ConversionOutline },
  async run(call) {
    const stats = await requireStats(call.provider, 'conversion')(query(call.args), call.options);
    return readAnswer(call, 'These statistics', stats, (s) => ({ structured: { stats: s }, text: conversionText(s) }));
  },
});

export const movementStats = defineTool({
  name: 'pipeline_movement_stats',
  title: 'Pipeline deal movements',
  description:
    'Deal flow over a period. Local CRM: moves between stages; new/won/lost = deals created/won/lost ' +
    'in the period; left open = open at period end, average age = days since creation (per stage: ' +
    'since entering it) to period end or now. Values per currency. Pipedrive: its own, one user.',
  toolset: 'stats',
  kind: 'read',
  args,
  output: { stats: MovementOutline },
  async run(call) {
    const stats = await requireStats(call.provider, 'movement')(query(call.args), call.options);
    const render = (s: MovementStats) => ({ structured: { stats: s }, text: movementText(s, call.detailed) });
    // A busy pipeline has thousands of deal ids in a period: past the cap, each group keeps its first
    // ones and says so (its count stays exact).
    for (const keep of [Infinity, 200]) {
      const out = fitRecord(keepDealIds(stats, keep), call.detailed, render);
      if (out) return out;
    }
    return readAnswer(call, 'These statistics', keepDealIds(stats, 20), render);
  },
});

export const statsTools = [conversionStats, movementStats];
