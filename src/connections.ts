/**
 * Named connections to CRMs. Tools never import a provider: they ask the registry for the
 * connection the caller named (or the default one).
 */
import { supportedOperations } from './crm/capabilities.js';
import { CrmError, excerpt } from './crm/errors.js';
import type { Connection } from './crm/model.js';
import type { CrmProvider } from './crm/provider.js';

export interface NamedProvider {
  name: string;
  provider: CrmProvider;
}

export class ConnectionRegistry {
  private readonly byName = new Map<string, CrmProvider>();

  constructor(
    entries: NamedProvider[],
    readonly defaultName: string,
  ) {
    for (const e of entries) this.byName.set(e.name, e.provider);
    if (!this.byName.has(defaultName)) {
      throw new Error(`default connection '${defaultName}' is not among the configured connections`);
    }
  }

  get(name: string | undefined): NamedProvider {
    const key = name ?? this.defaultName;
    const provider = this.byName.get(key);
    if (!provider) {
      throw new CrmError(
        'validation',
        `No connection named '${excerpt(key)}'. Configured connections: ${[...this.byName.keys()].join(', ')} ` +
          `(default ${this.defaultName}); call list_connections for details.`,
      );
    }
    return { name: key, provider };
  }

  providers(): NamedProvider[] {
    return [...this.byName].map(([name, provider]) => ({ name, provider }));
  }

  describe(): Connection[] {
    return this.providers().map(({ name, provider }) => ({
      name,
      provider: provider.kind,
      default: name === this.defaultName,
      supports: supportedOperations(provider.capabilities),
    }));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.byName.values()].map((p) => p.close?.()));
  }
}
