/**
 * Read-only context a client can attach without a tool call: each pipeline of the default
 * connection with its stages and open deals, as `crm://pipelines/{pipeline_id}`.
 */
import { ProtocolError, ProtocolErrorCode, ResourceNotFoundError, ResourceTemplate, type McpServer } from '@modelcontextprotocol/server';
import type { ConnectionRegistry } from '../connections.js';
import { isCrmError } from '../crm/errors.js';
import { pipelineDetail } from '../tools/format.js';

/** At most `max` characters of a text an error quotes: an answer never echoes unbounded input. */
const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);
const shortUri = (uri: string) => cut(uri, 200);

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
      let id: string;
      try {
        id = decodeURIComponent(String(vars.pipeline_id));
      } catch {
        throw new ResourceNotFoundError(shortUri(uri.href), `No resource ${shortUri(uri.href)}: the pipeline id is not valid percent-encoding.`);
      }
      if (!provider.pipelines?.get) {
        throw new ResourceNotFoundError(shortUri(uri.href), 'This connection has no pipelines to read.');
      }
      try {
        const pipeline = await provider.pipelines.get(id, {});
        return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: pipelineDetail(pipeline, false) }] };
      } catch (e) {
        // Resource reads answer with protocol errors: a missing pipeline is "resource not found"
        // (the SDK's error, as for a URI no template matches), anything else keeps the CRM's
        // actionable sentence.
        if (isCrmError(e) && e.kind === 'not_found') throw new ResourceNotFoundError(shortUri(uri.href), cut(e.message, 500));
        throw new ProtocolError(ProtocolErrorCode.InternalError, isCrmError(e) ? cut(e.message, 500) : `Cannot read ${shortUri(uri.href)}.`);
      }
    },
  );
}
