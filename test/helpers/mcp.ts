/**
 * Small helpers over a connected MCP client: call a tool, insist on success or failure, read the
 * text, walk every page of a list tool.
 */
import type { Client } from '@modelcontextprotocol/client';

// Tests read structuredContent loosely; the tool contract is asserted field by field.
export type S = Record<string, any>;

export interface ToolResult {
  isError?: boolean;
  content?: unknown;
  structuredContent?: Record<string, unknown>;
  [key: string]: unknown;
}

export function textOf(res: ToolResult): string {
  const content = (res.content ?? []) as Array<{ type: string; text?: string }>;
  return content
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
}

export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolResult> {
  return (await client.callTool({ name, arguments: args })) as ToolResult;
}

export interface AnsweringConnection {
  name: string;
  provider: string;
}

/**
 * The connection that answered, which every structuredContent carries (DESIGN §5): checked on
 * every successful call, and split off so shape assertions see the tool's own keys.
 */
export function splitConnection(name: string, structured: Record<string, unknown>): { s: S; connection: AnsweringConnection } {
  const { connection, ...rest } = structured as { connection?: AnsweringConnection };
  const keys = connection && typeof connection === 'object' ? Object.keys(connection).sort().join(',') : '';
  if (keys !== 'name,provider' || typeof connection!.name !== 'string' || typeof connection!.provider !== 'string') {
    throw new Error(`${name} answered without connection {name, provider}: ${JSON.stringify(connection)}`);
  }
  return { s: rest, connection: connection! };
}

/** Calls a tool that must succeed; returns structuredContent (without `connection`), text and the connection. */
export async function ok(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<{ s: S; text: string; res: ToolResult; connection: AnsweringConnection }> {
  const res = await call(client, name, args);
  if (res.isError) {
    throw new Error(`${name} ${JSON.stringify(args)} failed: ${textOf(res)}`);
  }
  if (!res.structuredContent) throw new Error(`${name} returned no structuredContent: ${textOf(res)}`);
  return { ...splitConnection(name, res.structuredContent), text: textOf(res), res };
}

/** Calls a tool that must fail with isError; returns the error text. */
export async function fails(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const res = await call(client, name, args);
  if (!res.isError) {
    throw new Error(
      `${name} ${JSON.stringify(args)} was expected to fail but succeeded: ${textOf(res)}`,
    );
  }
  const text = textOf(res);
  if (!text.trim()) throw new Error(`${name} failed with an empty message`);
  return text;
}

/** Follows next_cursor through every page of a list tool; returns all records and page count. */
export async function listAll(
  client: Client,
  tool: string,
  key: string,
  args: Record<string, unknown> = {},
  limit = 100,
): Promise<{ items: S[]; pages: number }> {
  const items: S[] = [];
  let cursor: string | null | undefined;
  let pages = 0;
  do {
    const { s } = await ok(client, tool, { ...args, limit, ...(cursor ? { cursor } : {}) });
    if (!Array.isArray(s[key])) throw new Error(`${tool} returned no ${key} array`);
    items.push(...(s[key] as S[]));
    cursor = s.next_cursor as string | null;
    pages++;
    if (pages > 200) throw new Error(`${tool} paginates without end`);
  } while (cursor);
  return { items, pages };
}

/** The record lines of a concise list text ("- ..."). */
export const recordLines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('- '));

/** "Name (12)" -> "12", as an agent reads an id from a line of text (ids such as note-7 too). */
export function idIn(line: string | undefined, what: string): string {
  const m = line ? /\(([\w-]+)\)/.exec(line) : null;
  if (!m) throw new Error(`no id for ${what} in: ${line}`);
  return m[1];
}

/** "Name (id)", as every text names a record. */
export const named = (r: S): string => `${r.name} (${r.id})`;

export const todayUtc = (): string => new Date().toISOString().slice(0, 10);

/**
 * Records every tool result this client receives from now on (JSON text of the whole result,
 * including isError results and dry runs), e.g. to assert that a secret never appears in any
 * output. Returns the live array.
 */
export function recordResults(client: Client): string[] {
  const seen: string[] = [];
  const original = client.callTool.bind(client);
  client.callTool = (async (...args: Parameters<Client['callTool']>) => {
    const res = await original(...args);
    seen.push(JSON.stringify(res));
    return res;
  }) as Client['callTool'];
  return seen;
}

/** Polls `check` until it returns a truthy value (or throws after `timeoutMs`, default 30 s). */
export async function until<T>(check: () => T | undefined | null | false, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
