/**
 * List, get, create, update and delete over one resource of Truto's unified CRM API: every Truto
 * resource answers them the same way, so the resource files (stages, pipelines, deals, projects,
 * accounts, contacts, users, activities) give only their mappers and filters, and override what
 * differs.
 */
import { CrmError, excerpt, isCrmError, replaceNotFound, unknownReference, type ReferencedRecord } from '../../crm/errors.js';
import type { Ref } from '../../crm/model.js';
import { together } from '../../crm/parallel.js';
import type { CallOptions, CrudOperations, Page, PageQuery, PreparedWrite, WriteOptions } from '../../crm/provider.js';
import { afterWrite } from '../../crm/writes.js';
import type { ReadOptions, TrutoClient, TrutoResource } from './client.js';
import { isPartialRecord, str, type MapOptions } from './map.js';

/** Page size of scans and full walks: the largest page Truto's lists are asked for. */
export const SCAN_PAGE = 100;
/** Pages one list call reads at most while looking for records that pass a filter checked here. */
export const MAX_SCAN_PAGES = 5;

/** Ids a write refers to, by the kind of record; undefined members are not checked. */
export type References = Partial<Record<CheckedRecord, string>>;
type CheckedRecord = Extract<ReferencedRecord, 'user' | 'account' | 'contact' | 'deal'>;
const REFERENCE_RESOURCES: Record<CheckedRecord, TrutoResource> = {
  user: 'users',
  account: 'accounts',
  contact: 'contacts',
  deal: 'opportunities',
};

/** Checks the ids a write refers to before it is sent; resolves when all exist (or cannot be checked). */
export type ReferenceCheck = (refs: References, signal: AbortSignal | undefined) => Promise<void>;

/**
 * Reads each referenced record with one GET, in parallel: a 404 is the shared sentence pointing to
 * search and list_users (never a directory inline). A record the integration cannot read by id
 * (`readable` false, or Truto refusing the method) is left to the CRM's own answer to the write.
 */
export function referenceChecker(client: TrutoClient, readable: (kind: CheckedRecord) => boolean): ReferenceCheck {
  return async (refs, signal) => {
    const asked = (Object.entries(refs) as Array<[CheckedRecord, string | undefined]>).filter(
      (e): e is [CheckedRecord, string] => e[1] !== undefined && readable(e[0]),
    );
    if (!asked.length) return;
    await together(
      signal,
      asked.map(([kind, id]) => async (s: AbortSignal) => {
        try {
          await client.get(REFERENCE_RESOURCES[kind], id, { signal: s });
        } catch (e) {
          if (isCrmError(e) && e.kind === 'not_found') throw unknownReference(kind, id);
          if (isCrmError(e) && (e.kind === 'unsupported' || e.kind === 'validation')) return;
          throw e;
        }
      }),
    );
  };
}

export interface ResourceSpec<T, N, I, Q> {
  resource: TrutoResource;
  /** "stage", "deal": the record in messages. */
  noun: string;
  /** The tool that lists valid ids, named in a not-found message. */
  listTool: string;
  fromTruto: (native: N, opts: MapOptions) => T;
  toTruto: (input: I) => Record<string, unknown>;
  /** The query's filters as Truto query options. */
  listParams: (q: Q) => Record<string, unknown>;
  /** Fields to leave out of every read (truto_exclude_fields[]). */
  exclude?: readonly string[];
  /**
   * Filters of the query checked here on every record (Truto may not apply them, or apply them
   * differently): a predicate makes the list a scan of pages until enough records pass.
   */
  localFilter?: (q: Q) => ((record: T) => boolean) | undefined;
  /** Whether a write answer is the whole record (else it is read back); by default, one with a name. */
  complete?: (answer: Record<string, unknown>) => boolean;
  /** The sentence for an id Truto does not know; by default it names the record and `listTool`. */
  notFound?: (id: string, answer: CrmError) => CrmError;
  /** Ids a write refers to, checked before it is sent (with `check`). */
  references?: (input: I) => References;
  check?: ReferenceCheck;
}

export type ResourceOperations<T, Q, I> = Required<Pick<CrudOperations<T, Q, I>, 'list' | 'get' | 'create' | 'update' | 'delete'>>;

export function trutoResource<T extends { id: string; name?: string }, N, I, Q extends PageQuery>(
  client: TrutoClient,
  spec: ResourceSpec<T, N, I, Q>,
): ResourceOperations<T, Q, I> {
  const { resource, noun } = spec;
  const label = client.label;
  const readOpts = (opts: CallOptions): ReadOptions => ({ ...opts, exclude: spec.exclude });
  /** A bare "404" becomes a sentence that names the record and the tool that lists valid ids. */
  const notFoundHint = (e: unknown, id: string) =>
    replaceNotFound(
      e,
      (nf) =>
        spec.notFound?.(id, nf) ??
        new CrmError('not_found', `No ${noun} with id '${excerpt(id)}'. ${nf.message} Call ${spec.listTool} to see valid ids.`, {
          status: nf.status,
          provider: nf.provider,
          cause: nf,
        }),
    );

  /** The ids the write refers to must exist: checked when it is sent, never on a dry run (which sends nothing). */
  const checkReferences = async (input: I, opts: WriteOptions): Promise<void> => {
    if (spec.references && spec.check) await spec.check(spec.references(input), opts.signal);
  };

  const get = async (id: string, opts: CallOptions): Promise<T> => {
    try {
      return spec.fromTruto(await client.get<N>(resource, id, readOpts(opts)), opts);
    } catch (e) {
      throw notFoundHint(e, id);
    }
  };

  /**
   * The record as read back after a write. Truto answers writes with the unified record; when the
   * CRM behind it answers only an id (or nothing), read it back with a GET.
   */
  const readBack = async (answer: unknown, id: string | undefined, opts: WriteOptions): Promise<T> => {
    const rec = isObject(answer) ? answer : undefined;
    const answeredId = rec && (typeof rec.id === 'string' || typeof rec.id === 'number') ? String(rec.id) : undefined;
    const recordId = answeredId || id;
    if (!recordId) {
      throw new CrmError(
        'upstream',
        `${label} accepted the ${noun} but did not say its id; call ${spec.listTool} to find it before trying again.`,
        { provider: label },
      );
    }
    const complete = spec.complete ?? ((r: Record<string, unknown>) => !isPartialRecord(r));
    if (rec && answeredId && complete(rec)) return spec.fromTruto({ ...rec, id: answeredId } as N, opts);
    return afterWrite(get(recordId, { signal: opts.signal, include_remote_data: opts.include_remote_data }), (e) => {
      // The write happened: never let a failed read-back look like a failed write (and invite a repeat).
      if (rec) return spec.fromTruto({ ...rec, id: recordId } as N, opts);
      const why = isCrmError(e) ? ` (${e.message})` : '';
      throw new CrmError(
        'upstream',
        `${label} saved the ${noun} (id ${recordId}) but reading it back failed${why}; it exists, so do not send it again — read it later with the get tool.`,
        { provider: label },
      );
    });
  };

  return {
    async list(q: Q, opts: CallOptions): Promise<Page<T>> {
      const keep = spec.localFilter?.(q);
      if (keep) {
        return client.scan<N, T>(resource, spec.listParams(q), readOpts(opts), {
          size: SCAN_PAGE,
          cursor: q.cursor,
          wanted: q.limit,
          maxPages: MAX_SCAN_PAGES,
          map: (n) => spec.fromTruto(n, opts),
          keep,
        });
      }
      const page = await client.list<N>(resource, spec.listParams(q), readOpts(opts), { size: q.limit, cursor: q.cursor });
      return { items: page.items.map((n) => spec.fromTruto(n, opts)), next_cursor: page.next_cursor };
    },
    get,
    async create(input: I, opts: WriteOptions): Promise<PreparedWrite<T>> {
      const prepared = client.prepare('POST', resource, undefined, spec.toTruto(input), opts);
      return {
        request: prepared.request,
        execute: async () => {
          await checkReferences(input, opts);
          return readBack((await prepared.send(opts.signal)).body, undefined, opts);
        },
      };
    },
    async update(id: string, patch: I, opts: WriteOptions): Promise<PreparedWrite<T>> {
      const prepared = client.prepare('PATCH', resource, id, spec.toTruto(patch), opts);
      return {
        request: prepared.request,
        execute: async () => {
          await checkReferences(patch, opts);
          try {
            return await readBack((await prepared.send(opts.signal)).body, id, opts);
          } catch (e) {
            throw notFoundHint(e, id);
          }
        },
      };
    },
    async delete(id: string, opts: WriteOptions): Promise<PreparedWrite<Ref>> {
      const prepared = client.prepare('DELETE', resource, id, undefined, opts);
      return {
        request: prepared.request,
        execute: async () => {
          // Read the name first: Truto's delete answers only {id}. A missing record stops here,
          // before anything is sent; other read failures (some CRMs have no `get`) do not.
          let name: string | undefined;
          try {
            name = (await get(id, { signal: opts.signal })).name || undefined;
          } catch (e) {
            if (isCrmError(e) && (e.kind === 'not_found' || e.kind === 'auth' || e.kind === 'cancelled')) throw e;
          }
          try {
            const answer = (await prepared.send(opts.signal)).body;
            const answeredId = isObject(answer) && answer.id !== undefined && answer.id !== null ? String(answer.id) : id;
            return name === undefined ? { id: answeredId } : { id: answeredId, name };
          } catch (e) {
            throw notFoundHint(e, id);
          }
        },
      };
    },
  };
}

/** A write answer that carries the record's own fields and its dates, not just an id (for records without names). */
export const datedRecord = (answer: Record<string, unknown>): boolean =>
  str(answer.created_at) !== undefined || str(answer.updated_at) !== undefined;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
