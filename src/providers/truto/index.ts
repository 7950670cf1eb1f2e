/**
 * Truto provider: one integrated account of Truto's unified CRM API (https://api.truto.one),
 * serving stages, pipelines, projects, and deals as Truto `opportunities`. No statistics: Truto
 * has none, so `stats` is left undefined and the tool layer says so. This file only assembles the
 * folder's parts (see src/providers/README.md).
 */
import type { Logger } from '../../log.js';
import { CrmError, excerpt } from '../../crm/errors.js';
import type { CrmProvider } from '../../crm/provider.js';
import { INTEGRATION_LABELS, TRUTO_PROJECT_INTEGRATIONS, trutoCapabilities, type TrutoIntegration } from './capabilities.js';
import type { HttpTuning } from '../../crm/http.js';
import { TRUTO_DEFAULT_BASE_URL, TrutoClient } from './client.js';
import { dealOps } from './deals.js';
import { pipelineOps } from './pipelines.js';
import { projectOps } from './projects.js';
import { stageOps } from './stages.js';

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
  return {
    kind: 'truto',
    label,
    remote: true,
    capabilities: trutoCapabilities(integration),
    pipelines: pipelineOps(client),
    stages: stageOps(client),
    deals: dealOps(client),
    projects: projectOps(client),
  };
}
