/**
 * What every resource file of the Outreach provider works with: the client, and the opportunity
 * stages as a short-lived directory (crm/names.ts). Deals read their stage, owner and account names
 * from the resources their own answer includes; the directory serves what a deal's answer cannot:
 * which stages are open, won or lost before deals are asked for (list_deals' status filter), and
 * the names and statuses of stages a deal's answer left out.
 */
import type { Logger } from '../../log.js';
import { NAME_TTL_MS, NameDirectory } from '../../crm/names.js';
import { completeItems } from '../../crm/paginate.js';
import { OPPORTUNITY_STAGES, type OutreachClient } from './client.js';
import { dealStatus, type OrOpportunityStage } from './map.js';

export interface Ctx {
  client: OutreachClient;
  opportunityStages: NameDirectory<number, OrOpportunityStage>;
  /** Records a whole, fresh listing of the opportunity stages (the directory's, or another's). */
  listedStages(stages: readonly OrOpportunityStage[]): void;
  /**
   * The open opportunity stages of a listing younger than the directory's TTL, or undefined:
   * lets get_pipeline ask for their deals while it lists the stages again.
   */
  recentOpenStages(): number[] | undefined;
  logger?: Logger;
}

export function createCtx(client: OutreachClient, logger?: Logger): Ctx {
  let recent: { at: number; open: number[] } | undefined;
  const listedStages = (stages: readonly OrOpportunityStage[]) => {
    recent = { at: Date.now(), open: stages.filter((s) => dealStatus(s) === 'open').map((s) => s.id) };
  };
  // Whole or not at all: a stage missing from it would read its deals as open.
  const load = async () => {
    const walk = await client.walk<OrOpportunityStage>(OPPORTUNITY_STAGES, { sort: 'order' });
    const stages = completeItems(walk, 'Outreach', 'opportunity stages', 'Try again later.');
    listedStages(stages);
    return stages;
  };
  return {
    client,
    opportunityStages: new NameDirectory(load, { provider: 'Outreach', logger }),
    listedStages,
    recentOpenStages: () => (recent && Date.now() - recent.at < NAME_TTL_MS ? recent.open : undefined),
    logger,
  };
}
