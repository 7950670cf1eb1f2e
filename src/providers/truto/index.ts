/**
 * Truto provider: one integrated account of Truto's unified CRM API (https://api.truto.one),
 * serving stages, pipelines, projects, deals as Truto `opportunities`, accounts, contacts, users,
 * and notes, tasks and engagements as activities, as far as the integration behind the account
 * has them (capabilities.ts). No statistics: Truto has none, so `stats` is left undefined and the
 * tool layer says so. This file only assembles the folder's parts (see src/providers/README.md).
 */
import type { Logger } from '../../log.js';
import { CrmError, excerpt } from '../../crm/errors.js';
import type { CrmProvider } from '../../crm/provider.js';
import type { HttpTuning } from '../../crm/http.js';
import { accountOps } from './accounts.js';
import { activityOps } from './activities.js';
import {
  INTEGRATION_LABELS,
  TRUTO_PROJECT_INTEGRATIONS,
  recordCoverage,
  serves,
  trutoCapabilities,
  type TrutoIntegration,
} from './capabilities.js';
import { TRUTO_DEFAULT_BASE_URL, TrutoClient } from './client.js';
import { contactOps } from './contacts.js';
import { dealOps } from './deals.js';
import { pipelineOps } from './pipelines.js';
import { projectOps } from './projects.js';
import { referenceChecker } from './resource.js';
import { searchOp } from './search.js';
import { stageOps } from './stages.js';
import { userOps } from './users.js';

export { TRUTO_PROJECT_INTEGRATIONS, type TrutoIntegration } from './capabilities.js';

export interface TrutoProviderOptions {
  apiToken: string;
  integratedAccountId: string;
  /** Default https://api.truto.one (TRUTO_BASE_URL in config). */
  baseUrl?: string;
  /** The CRM behind the integrated account; selects the per-integration project rules. */
  integration?: TrutoIntegration;
  logger?: Logger;
  /** Retry/timeout tuning, for tests. */
  http?: HttpTuning;
}

export function createTrutoProvider(options: TrutoProviderOptions): CrmProvider {
  if (!options.apiToken?.trim()) {
    throw new CrmError('validation', 'Truto needs an API token (TRUTO_API_TOKEN).');
  }
  if (!options.integratedAccountId?.trim()) {
    throw new CrmError('validation', 'Truto needs the integrated account id (TRUTO_INTEGRATED_ACCOUNT_ID).');
  }
  const integration = options.integration;
  if (integration !== undefined && !TRUTO_PROJECT_INTEGRATIONS.includes(integration)) {
    throw new CrmError(
      'validation',
      `Unknown Truto integration '${excerpt(integration)}'; use one of ${TRUTO_PROJECT_INTEGRATIONS.join(', ')}, or leave it unset.`,
    );
  }
  const integrationLabel = integration ? INTEGRATION_LABELS[integration] : undefined;
  const label = integrationLabel ? `Truto (${integrationLabel})` : 'Truto';
  const client = new TrutoClient({
    apiToken: options.apiToken,
    integratedAccountId: options.integratedAccountId,
    baseUrl: options.baseUrl ?? TRUTO_DEFAULT_BASE_URL,
    label,
    integrationLabel,
    logger: options.logger,
    http: options.http,
  });
  const coverage = recordCoverage(integration);
  // Ids a write refers to are read first where the integration reads them by id (deals always).
  const check = referenceChecker(client, (kind) =>
    kind === 'deal' ? true : serves(coverage, kind === 'user' ? 'users' : kind === 'account' ? 'accounts' : 'contacts', 'get'),
  );
  const capabilities = trutoCapabilities(integration);
  return {
    kind: 'truto',
    label,
    remote: true,
    capabilities,
    pipelines: pipelineOps(client),
    stages: stageOps(client),
    deals: dealOps(client, check),
    projects: projectOps(client, check),
    accounts: accountOps(client, check),
    contacts: contactOps(client, check),
    users: userOps(client),
    activities: activityOps(client, coverage, check, integration !== undefined),
    search: capabilities.search?.length ? searchOp(client) : undefined,
  };
}
