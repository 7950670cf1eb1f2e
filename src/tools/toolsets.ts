/** Groups of tools a server can be limited to (--toolsets). Apart from define.ts so config needs no tool code. */
export const TOOLSETS = ['pipelines', 'stages', 'deals', 'projects', 'stats'] as const;
export type Toolset = (typeof TOOLSETS)[number] | 'connections';
