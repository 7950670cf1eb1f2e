import * as z from 'zod';
import { Connection } from '../crm/model.js';
import { defineTool } from './define.js';

export const listConnections = defineTool({
  name: 'list_connections',
  title: 'List CRM connections',
  description:
    'The CRM connections this server serves: name, provider, whether it is the default, and which ' +
    'operations each supports. Pass a name as `connection` to any other tool.',
  toolset: 'connections',
  kind: 'read',
  args: {},
  bare: true,
  output: { connections: z.array(Connection) },
  async run(call) {
    const connections = call.registry.describe();
    const lines = connections.map(
      (c) =>
        `- ${c.name}${c.default ? ' (default)' : ''}: ${c.provider} · ` +
        Object.entries(c.supports)
          .map(([r, ops]) => `${r} ${ops.join('/')}`)
          .join(', '),
    );
    return { structured: { connections }, text: lines.join('\n') };
  },
});
