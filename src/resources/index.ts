/**
 * Read-only context a client can attach without a tool call: each pipeline of the default
 * connection with its stages and open deals, as `crm://pipelines/{pipeline_id}`.
 */
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/server';
import type { ConnectionRegistry } from '../connections.js';
import { isCrmError } from '../crm/errors.js';
import { pipelineDetail } from '../tools/format.js';

export function registerResources(server: McpServer, registry: ConnectionRegistry): void {
  const template = new ResourceTemplate('crm://pipelines/{pipeline_id}', {
    list: async () => {
      const { provider } = registry.get(undefined);
      if (!provider.pipelines?.list || !provider.capabilities.pipelines?.list) return { resources: [] };
      const page = await provider.pipelines.list({ limit: 100 }, {});
      return {
        resources: page.items.map((p) => ({
          uri: `crm://pipelines/${encodeURIComponent(p.id)}`,
          name: p.name,
          mimeType: 'text/plain',
        })),
      };
    },
  });
  server.registerResource(
    'pipeline',
    template,
    {
      title: 'Pipeline',
      description: 'A pipeline of the default connection: stages in order with open deals per stage.',
      mimeType: 'text/plain',
    },
    async (uri, vars) => {
      const { provider } = registry.get(undefined);
      const id = decodeURIComponent(String(vars.pipeline_id));
      try {
        if (!provider.pipelines?.get) throw new Error('This connection cannot read pipelines.');
        const pipeline = await provider.pipelines.get(id, {});
        return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: pipelineDetail(pipeline, false) }] };
      } catch (e) {
        // Resource reads answer with protocol errors; keep the CRM's actionable sentence.
        throw new Error(isCrmError(e) ? e.message : `Cannot read ${uri.href}.`);
      }
    },
  );
}
