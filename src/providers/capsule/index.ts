/**
 * Capsule as a CrmProvider: sales pipelines and project boards as pipelines, their milestones and
 * board stages as stages (read only), opportunities as deals, projects (Capsule's `/kases`),
 * organisations as accounts and people as contacts (parties), users, entries and tasks as
 * activities, and search through Capsule's own. No statistics: Capsule has none. This file only assembles the folder's parts (see
 * src/providers/README.md; what Capsule can and cannot do: capabilities.ts).
 */
import type { Logger } from '../../log.js';
import type { CrmProvider } from '../../crm/provider.js';
import { accountOps } from './accounts.js';
import { activityOps } from './activities.js';
import { CAPSULE_CAPABILITIES } from './capabilities.js';
import { CapsuleClient, type CapsuleClientOptions } from './client.js';
import { dealOps } from './deals.js';
import { contactOps } from './contacts.js';
import { createCtx } from './directory.js';
import { pipelineOps } from './pipelines.js';
import { projectOps } from './projects.js';
import { searchOp } from './search.js';
import { stageOps } from './stages.js';
import { userOps } from './users.js';

export interface CapsuleProviderOptions {
  apiToken: string;
  /** Default https://api.capsulecrm.com/api/v2 (CAPSULE_BASE_URL). */
  baseUrl?: string;
  logger?: Logger;
  /** Tuning and test hooks for the HTTP client. */
  http?: CapsuleClientOptions['http'];
}

export function createCapsuleProvider(options: CapsuleProviderOptions): CrmProvider {
  const ctx = createCtx(new CapsuleClient(options), options.logger);
  return {
    kind: 'capsule',
    label: 'Capsule',
    remote: true,
    capabilities: CAPSULE_CAPABILITIES,
    pipelines: pipelineOps(ctx),
    stages: stageOps(ctx),
    deals: dealOps(ctx),
    projects: projectOps(ctx),
    accounts: accountOps(ctx),
    contacts: contactOps(ctx),
    users: userOps(ctx),
    activities: activityOps(ctx),
    search: searchOp(ctx),
  };
}

export { CAPSULE_CAPABILITIES } from './capabilities.js';
