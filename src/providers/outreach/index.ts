/**
 * Outreach as a CrmProvider: prospect stages and opportunity stages as two fixed pipelines
 * (`prospects`, `opportunities`), opportunities as deals, accounts, prospects as contacts, users,
 * tasks, calls and notes as activities, and search, over Outreach's JSON:API with a bearer token
 * that crm-mcp renews itself when given the OAuth client and a refresh token. This file only
 * assembles the folder's parts (see src/providers/README.md).
 */
import type { Logger } from '../../log.js';
import type { CrmProvider } from '../../crm/provider.js';
import { accountOps } from './accounts.js';
import { activityOps } from './activities.js';
import { OUTREACH_CAPABILITIES } from './capabilities.js';
import { OutreachClient, type OutreachClientOptions } from './client.js';
import { dealOps } from './deals.js';
import { contactOps } from './contacts.js';
import { createCtx } from './directory.js';
import { pipelineOps } from './pipelines.js';
import { searchOp } from './search.js';
import { stageOps } from './stages.js';
import { userOps } from './users.js';

export interface OutreachProviderOptions {
  /** A bearer token (OUTREACH_ACCESS_TOKEN); optional when `oauth` is given. */
  accessToken?: string;
  /** OUTREACH_CLIENT_ID, OUTREACH_CLIENT_SECRET, OUTREACH_REFRESH_TOKEN (and OUTREACH_REDIRECT_URI). */
  oauth?: OutreachClientOptions['oauth'];
  /** Default https://api.outreach.io/api/v2. */
  baseUrl?: string;
  logger?: Logger;
  /** Tuning and test hooks for the HTTP client. */
  http?: OutreachClientOptions['http'];
}

export function createOutreachProvider(options: OutreachProviderOptions): CrmProvider {
  const client = new OutreachClient(options);
  const ctx = createCtx(client, options.logger);
  return {
    kind: 'outreach',
    label: 'Outreach',
    remote: true,
    capabilities: OUTREACH_CAPABILITIES,
    pipelines: pipelineOps(ctx),
    stages: stageOps(ctx),
    deals: dealOps(ctx),
    accounts: accountOps(ctx),
    contacts: contactOps(ctx),
    users: userOps(ctx),
    activities: activityOps(ctx),
    search: searchOp(ctx),
  };
}

export { OUTREACH_CAPABILITIES } from './capabilities.js';
