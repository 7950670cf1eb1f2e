/**
 * Pipedrive as a CrmProvider: pipelines and stages (API v2), deals (API v2 /deals), conversion
 * and movement statistics (API v1); organizations as accounts and persons as contacts (API v2),
 * users (API v1), activities (API v2) and notes (API v1) as activities, and search (API v2 per-type
 * search). Records read as names (stage, pipeline, owner, account, contact, deal), from a
 * short-lived directory cache; independent requests go out together. This file only assembles the
 * folder's parts (see src/providers/README.md).
 */
import type { Logger } from '../../log.js';
import type { CrmProvider } from '../../crm/provider.js';
import { accountOps } from './accounts.js';
import { activityOps } from './activities.js';
import { PIPEDRIVE_CAPABILITIES } from './capabilities.js';
import { PipedriveClient, type PipedriveClientOptions } from './client.js';
import { contactOps } from './contacts.js';
import { dealOps } from './deals.js';
import { createDirectory, type Ctx } from './directory.js';
import { pipelineOps } from './pipelines.js';
import { searchOp } from './search.js';
import { stageOps } from './stages.js';
import { statsOps } from './stats.js';
import { userOps } from './users.js';

export interface PipedriveProviderOptions {
  apiToken: string;
  /** Company root, e.g. https://acme.pipedrive.com (default https://api.pipedrive.com). */
  baseUrl?: string;
  logger?: Logger;
  /** Requests per rolling 2 s window (Lite 20 by default; Growth 40, Premium 100, Ultimate 120). */
  burstLimit?: number;
  /** Tuning and test hooks for the HTTP client. */
  http?: PipedriveClientOptions['http'];
}

export function createPipedriveProvider(options: PipedriveProviderOptions): CrmProvider {
  const client = new PipedriveClient(options);
  const ctx: Ctx = { client, dir: createDirectory(client, options.logger), logger: options.logger };
  return {
    kind: 'pipedrive',
    label: 'Pipedrive',
    remote: true,
    capabilities: PIPEDRIVE_CAPABILITIES,
    pipelines: pipelineOps(ctx),
    stages: stageOps(ctx),
    deals: dealOps(ctx),
    accounts: accountOps(ctx),
    contacts: contactOps(ctx),
    users: userOps(ctx),
    activities: activityOps(ctx),
    stats: statsOps(ctx),
    search: searchOp(ctx),
  };
}

export { PIPEDRIVE_CAPABILITIES } from './capabilities.js';
