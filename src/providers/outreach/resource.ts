/**
 * List, get, create and update of an Outreach collection whose records map one to one onto a
 * unified record, read with the names of what they include (accounts, prospects): a spec per
 * collection in its own file, the requests here once.
 */
import type { CallOptions, CrudOperations, PageQuery } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { pageSize, readBack, type Collection } from './client.js';
import type { Ctx } from './directory.js';
import { includedOf, nativeId, type Included, type Resource, type ResourceBody } from './map.js';

export interface ResourceSpec<T, Q extends PageQuery, I, R extends Resource> {
  collection: Collection;
  /** The record in messages, and where an agent finds its ids ("search (types: accounts) or list_accounts"). */
  noun: 'account' | 'contact';
  findIds: string;
  /** The tool that reads one, for the sentence after a failed read-back. */
  getTool: string;
  /** The write fields, for "Nothing to update". */
  fields: readonly string[];
  /** `include` and sparse fieldsets of every read. */
  readQuery(opts: CallOptions): Record<string, unknown>;
  /** The listing's order (an attribute Outreach sorts by). */
  sort: string;
  /** Outreach's `filter[...]` for a list query (empty: none). */
  filter(query: Q): Record<string, unknown>;
  toRecord(raw: R, names: Included, opts: { remote?: boolean }): T;
  toBody(input: I, op: 'create' | 'update'): ResourceBody;
}

export function resourceOps<T, Q extends PageQuery, I, R extends Resource>(ctx: Ctx, spec: ResourceSpec<T, Q, I, R>): CrudOperations<T, Q, I> {
  const { client } = ctx;
  const c = spec.collection;

  async function get(id: string, opts: CallOptions): Promise<T> {
    const { data, included } = await client.read<R>(c, nativeId(id, spec.noun, spec.findIds), id, spec.readQuery(opts), opts.signal);
    return spec.toRecord(data, includedOf(included), { remote: opts.include_remote_data });
  }

  const after = readBack(spec.noun, spec.getTool, get);

  return {
    async list(query, opts) {
      const filter = spec.filter(query);
      const page = await client.page<R>(
        c,
        { ...(Object.keys(filter).length ? { filter } : {}), sort: spec.sort, ...spec.readQuery(opts) },
        { size: pageSize(query.limit), cursor: query.cursor },
        opts.signal,
      );
      const names = includedOf(page.included);
      return { items: page.items.map((r) => spec.toRecord(r, names, { remote: opts.include_remote_data })), next_cursor: page.next_cursor };
    },

    get,

    async create(input, opts) {
      return client.prepareWrite(c, { body: spec.toBody(input, 'create'), signal: opts.signal }, after(opts));
    },

    async update(id, patch, opts) {
      const native = nativeId(id, spec.noun, spec.findIds);
      const body = spec.toBody(patch, 'update');
      requireChange({ ...body.attributes, ...body.relationships }, spec.noun, spec.fields);
      return client.prepareWrite(c, { id: { native, shown: id }, body, signal: opts.signal }, after(opts));
    },
  };
}
