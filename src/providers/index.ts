/**
 * Builds a provider from a connection's config. Remote providers are imported on demand so the
 * default (local) start-up loads no HTTP client code. The shape of a provider folder and the
 * checklist for adding a CRM: README.md in this folder.
 */
import type { ConnectionConfig } from '../config.js';
import type { CrmProvider } from '../crm/provider.js';
import type { Logger } from '../log.js';
import { createLocalProvider } from './local/index.js';

export async function createProvider(config: ConnectionConfig, logger: Logger): Promise<CrmProvider> {
  const log = logger.child({ connection: config.name, provider: config.provider });
  switch (config.provider) {
    case 'local':
      return createLocalProvider({ path: config.db });
    case 'pipedrive': {
      const { createPipedriveProvider } = await import('./pipedrive/index.js');
      return createPipedriveProvider({
        apiToken: config.apiToken,
        baseUrl: config.baseUrl,
        burstLimit: config.burstLimit,
        logger: log,
      });
    }
    case 'truto': {
      const { createTrutoProvider } = await import('./truto/index.js');
      return createTrutoProvider({
        apiToken: config.apiToken,
        integratedAccountId: config.integratedAccountId,
        baseUrl: config.baseUrl,
        integration: config.integration,
        logger: log,
      });
    }
    case 'outreach': {
      const { createOutreachProvider } = await import('./outreach/index.js');
      return createOutreachProvider({ accessToken: config.accessToken, oauth: config.oauth, baseUrl: config.baseUrl, logger: log });
    }
    case 'capsule': {
      const { createCapsuleProvider } = await import('./capsule/index.js');
      return createCapsuleProvider({ apiToken: config.apiToken, baseUrl: config.baseUrl, logger: log });
    }
    case 'insightly': {
      const { createInsightlyProvider } = await import('./insightly/index.js');
      return createInsightlyProvider({ apiKey: config.apiKey, pod: config.pod, baseUrl: config.baseUrl, logger: log });
    }
  }
}
