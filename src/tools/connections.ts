import * as z from 'zod';
import { defineTool } from './define.js';

export const listConnections = defineTool({
  name: 'list_connections',
  title: 'List CRM connections',
  description:
    'CRM connections: name, provider, default, what each supports. Pass a name as `connection`.',
  toolset: 'core',
  kind: 'read',
  args: {},
  common: [],
  // Each is {name, provider, default, supports}; declared by the fields an agent passes on.
  output: { connections: z.array(z.looseObject({ name: z.string(), provider: z.string() })) },
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
