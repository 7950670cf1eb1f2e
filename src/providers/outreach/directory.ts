/**
 * What every resource file of the Outreach provider works with: the client, and two short-lived
 * directories (crm/names.ts). Records read the names of their stage, owner, account, prospect and
 * opportunity from the resources their own answer includes; the opportunity stages serve what a
 * deal's answer cannot (which stages are open, won or lost before deals are asked for, the names
 * of stages an answer left out), and the users serve list_users and search, since Outreach filters
 * users only by an exact first name, last name or email (the whole list is a page or two).
 */
import type { Logger } from '../../log.js';
import { NAME_TTL_MS, NameDirectory } from '../../crm/names.js';
import { completeItems } from '../../crm/paginate.js';
import { OPPORTUNITY_STAGES, USERS, type OutreachClient } from './client.js';
import { dealStatus, type OrOpportunityStage, type OrUser } from './map.js';

export interface Ctx {
  client: OutreachClient;
  opportunityStages: NameDirectory<number, OrOpportunityStage>;
  /** Every user, name and email and locked only. */
  users: NameDirectory<number, OrUser>;

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
  const loadUsers = async () => {
    const walk = await client.walk<OrUser>(USERS, { sort: 'lastName', fields: { user: 'name,firstName,lastName,email,locked' } });
    return completeItems(walk, 'Outreach', 'users', 'Try again later.');
  };
  return {
    client,
    opportunityStages: new NameDirectory(load, { provider: 'Outreach', logger }),
    users: new NameDirectory(loadUsers, { provider: 'Outreach', logger }),

    listedStages,
    recentOpenStages: () => (recent && Date.now() - recent.at < NAME_TTL_MS ? recent.open : undefined),
    logger,
  };
}
