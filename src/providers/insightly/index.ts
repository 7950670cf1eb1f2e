/**
 * Insightly as a CrmProvider, straight on its REST API v3.1: projects, opportunities as deals,
 * pipelines and stages (read-only in Insightly), organisations as accounts, contacts, users, notes
 * and tasks as activities, and search through Insightly's field search. Records read as names
 * (stage, pipeline, owner, organisation) from short-lived directory caches; independent requests
 * go out together. No statistics: Insightly has no pipeline statistics endpoint. This file only
 * assembles the folder's parts (see src/providers/README.md).
 */
import type { Logger } from '../../log.js';
import type { HttpTuning } from '../../crm/http.js';
import type { CrmProvider } from '../../crm/provider.js';
import { accountOps } from './accounts.js';
import { activityOps } from './activities.js';
import { INSIGHTLY_CAPABILITIES } from './capabilities.js';
import { InsightlyClient } from './client.js';
import { contactOps } from './contacts.js';
import { dealOps } from './deals.js';
import { createDirectory, type Ctx } from './directory.js';
import { pipelineOps } from './pipelines.js';
import { projectOps } from './projects.js';
import { searchOp } from './search.js';
import { stageOps } from './stages.js';
import { userOps } from './users.js';

export interface InsightlyProviderOptions {
  /** The user's API key (Insightly: User Settings > API), sent as the Basic auth user name. */
  apiKey: string;
  /** The instance's pod, e.g. na1: https://api.na1.insightly.com/v3.1. */
  pod?: string;
  /** The API root instead of the pod's (a proxy, a test fake); a bare origin gets /v3.1. */
  baseUrl?: string;
  logger?: Logger;
  /** Tuning and test hooks for the HTTP client (the limiter defaults to 10 requests a second). */
  http?: HttpTuning;
}

export function createInsightlyProvider(options: InsightlyProviderOptions): CrmProvider {
  const client = new InsightlyClient(options);
  const ctx: Ctx = { client, dir: createDirectory(client, options.logger), logger: options.logger };
  return {
    kind: 'insightly',
    label: 'Insightly',
    remote: true,
    capabilities: INSIGHTLY_CAPABILITIES,
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

export { INSIGHTLY_CAPABILITIES } from './capabilities.js';
