/**
 * Every tool, in the order tools/list shows them, and the one function that registers a tool on a
 * server. Loaded through the catalog (catalog.ts): at once when run from source, on the first tool
 * call in the bundle.
 */
import { accountTools } from './accounts.js';
import { activityTools } from './activities.js';
import { listConnections } from './connections.js';
import { contactTools } from './contacts.js';
import { dealTools } from './deals.js';
import type { ToolDefinition } from './define.js';
import { pipelineTools } from './pipelines.js';
import { projectTools } from './projects.js';
import { stageTools } from './stages.js';
import { search } from './search.js';
import { statsTools } from './stats.js';
import { listUsers } from './users.js';

export { registerTool } from './define.js';

export const ALL_TOOLS: readonly ToolDefinition[] = [
  listConnections,
  search,
  listUsers,
  ...pipelineTools,
  ...stageTools,
  ...dealTools,
  ...projectTools,
  ...statsTools,
  ...accountTools,
  ...contactTools,
  ...activityTools,
];
