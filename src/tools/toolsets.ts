/** Groups of tools a server can be limited to (--toolsets). Apart from define.ts so config needs no tool code. */
export const TOOLSETS = ['pipelines', 'stages', 'deals', 'projects', 'stats', 'accounts', 'contacts', 'activities'] as const;
/**
 * 'core' is on whatever --toolsets says: list_connections, list_users and search serve ids (and
 * connection names) to every other tool.
 */
export type Toolset = (typeof TOOLSETS)[number] | 'core';
