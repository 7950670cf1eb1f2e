/**
 * Shared plumbing of the local provider: the per-provider context, SQLite error mapping, record
 * lookups with actionable not-found messages, input validators, and idempotent creates.
 */
import { canonicalHash } from '../../crm/canonical.js';
import { CrmError, invalidCursor, notFound, unknownReference } from '../../crm/errors.js';
import type { PreparedWrite, Resource, WriteOptions } from '../../crm/provider.js';
import { sqliteErrorCode } from '../../crm/sqlite.js';
import type { Db } from './client.js';
import { named, type ActivityRow, type DealRow, type PipelineRow, type ProjectRow, type StageRow } from './map.js';
import { compact } from '../../crm/records.js';

export interface Ctx {
  db: Db;
  now: () => Date;
}

export const stamp = (ctx: Ctx): string => ctx.now().toISOString();

// ---------------------------------------------------------------------------------------------
// Errors

export function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CrmError('cancelled', 'The request was cancelled before the local CRM ran it.');
}

/** Turns SQLite failures (of either driver) into CrmErrors; CrmErrors pass through untouched. */
export function mapSqliteError(e: unknown): CrmError {
  if (e instanceof CrmError) return e;
  const code = sqliteErrorCode(e) ?? '';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new CrmError(
      'upstream',
      'The local CRM database stayed locked by another process for over 5 seconds; retry in a few seconds.',
      { retryAfterSeconds: 2, provider: 'local', cause: e },
    );
  }
  if (/^SQLITE_CONSTRAINT_(CHECK|NOTNULL|DATATYPE)$/.test(code)) {
    // The validators should have caught it; still say it is the value, not a race.
    return new CrmError('validation', `The local CRM rejected a value (${code.slice(18).toLowerCase()} rule); check the fields and retry.`, {
      provider: 'local',
      cause: e,
    });
  }
  if (code.startsWith('SQLITE_CONSTRAINT')) {
    return new CrmError(
      'conflict',
      'The change conflicts with data another client changed meanwhile; read the record again and retry.',
      { provider: 'local', cause: e },
    );
  }
  const message = e instanceof Error ? e.message : String(e);
  return new CrmError('upstream', `The local CRM database failed: ${message}.`, { provider: 'local', cause: e });
}

/** Runs a synchronous SQLite operation with error mapping. */
export function run<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw mapSqliteError(e);
  }
}

// ---------------------------------------------------------------------------------------------
// Ids and lookups

/** Model ids are strings; only canonical positive integers can exist in SQLite. */
export function parseId(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !/^[1-9][0-9]{0,15}$/.test(raw)) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : undefined;
}

const HINT = {
  pipeline: 'Call list_pipelines to see valid pipeline ids.',
  stage: 'Call list_stages to see valid stage ids.',
  deal: 'Call list_deals to see valid deal ids.',
  project: 'Call list_projects to see valid project ids.',
} as const;

const byId = <T>(db: Db, table: string, id: number): T | undefined =>
  db.prepare(`SELECT * FROM ${table} WHERE id = ?`).get(id) as T | undefined;

function requireRow<T>(db: Db, table: string, what: keyof typeof HINT, raw: unknown): T {
  const id = parseId(raw);
  const row = id === undefined ? undefined : byId<T>(db, table, id);
  if (!row) throw notFound(what, String(raw), HINT[what]);
  return row;
}

export const requirePipeline = (db: Db, raw: unknown): PipelineRow =>
  requireRow<PipelineRow>(db, 'pipelines', 'pipeline', raw);
export const requireStage = (db: Db, raw: unknown): StageRow => requireRow<StageRow>(db, 'stages', 'stage', raw);
export const requireDeal = (db: Db, raw: unknown): DealRow => requireRow<DealRow>(db, 'deals', 'deal', raw);
export const requireProject = (db: Db, raw: unknown): ProjectRow =>
  requireRow<ProjectRow>(db, 'projects', 'project', raw);

/** Records other records refer to by id: a miss says where to find ids, never lists them inline. */
type Directory = 'users' | 'accounts' | 'contacts' | 'tags';
const DIRECTORY_NOUN = { users: 'user', accounts: 'account', contacts: 'contact' } as const;

export function requireDirectory(db: Db, table: Directory, raw: unknown): { id: number; name: string } {
  const id = parseId(raw);
  const row =
    id === undefined
      ? undefined
      : (db.prepare(`SELECT id, name FROM ${table} WHERE id = ?`).get(id) as { id: number; name: string } | undefined);
  if (!row) {
    if (table === 'tags') {
      throw notFound('tag', String(raw), 'Tag ids show on projects: list_projects or get_project with response_format detailed.');
    }
    throw unknownReference(DIRECTORY_NOUN[table], String(raw));
  }
  return row;
}

export const requireActivity = (db: Db, raw: unknown): ActivityRow => {
  const id = parseId(raw);
  const row = id === undefined ? undefined : byId<ActivityRow>(db, 'activities', id);
  if (!row) throw unknownReference('activity', String(raw));
  return row;
};

/** "Lead In (1), Qualified (2)" in position order. */
export function stageList(db: Db, pipelineId: number, activeOnly = false): string {
  const rows = db
    .prepare(
      `SELECT id, name FROM stages WHERE pipeline_id = ? ${activeOnly ? "AND status = 'active'" : ''} ORDER BY position, id`,
    )
    .all(pipelineId) as { id: number; name: string }[];
  return rows.length ? rows.map((r) => named(r.name, r.id)).join(', ') : 'none yet (add one with create_stage)';
}

export const countOf = (db: Db, sql: string, ...params: unknown[]): number =>
  (db.prepare(sql).get(...params) as { n: number }).n;

// ---------------------------------------------------------------------------------------------
// Field validators: each returns the normalized value or throws one actionable sentence.

const invalid = (message: string): CrmError => new CrmError('validation', message);

export function checkName(value: unknown, field = 'name', max = 200): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (!text || text.length > max) throw invalid(`\`${field}\` must be a non-empty text of at most ${max} characters.`);
  return text;
}

export function checkText(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.length > max) {
    throw invalid(`\`${field}\` must be a text of at most ${max} characters.`);
  }
  return value;
}

export function checkAmount(value: unknown, field = 'amount'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(`\`${field}\` must be a number of 0 or more (e.g. 12000).`);
  }
  return value;
}

export function checkCurrency(value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z]{3}$/.test(value)) {
    throw invalid('`currency` must be a 3-letter ISO 4217 code such as USD, EUR or GBP.');
  }
  return value.toUpperCase();
}

export function isIsoDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === value;
}

export function checkDate(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isIsoDate(value)) {
    throw invalid(`\`${field}\` must be a calendar date written YYYY-MM-DD, e.g. 2026-03-31.`);
  }
  return value;
}

export function checkProbability(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100) {
    throw invalid('`probability` must be a number from 0 to 100.');
  }
  return value;
}

export function checkColor(value: unknown): string {
  if (typeof value !== 'string' || !value.trim() || value.length > 32) {
    throw invalid('`color` must be a short text such as #1f77b4 or green.');
  }
  return value.trim();
}

export function checkBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalid(`\`${field}\` must be true or false.`);
  return value;
}

export function checkEnum<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw invalid(`\`${field}\` must be one of: ${allowed.join(', ')}.`);
  }
  return value as T;
}

export function checkPosition(value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw invalid(
      max === 1
        ? '`position` must be 1 here, the only place in this pipeline.'
        : `\`position\` must be a whole number from 1 to ${max} (1 = first stage of the pipeline).`,
    );
  }
  return value;
}

export function checkJsonObject(value: unknown, field: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(`\`${field}\` must be an object of field names to values.`);
  }
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    throw invalid(`\`${field}\` must contain only JSON values.`);
  }
  if (text.length > 65_536) throw invalid(`\`${field}\` must be under 64 KB as JSON.`);
  return JSON.parse(text) as Record<string, unknown>;
}


// ---------------------------------------------------------------------------------------------
// Idempotent creates

export const fingerprintOf = (input: unknown): string => canonicalHash(input);

interface KeyRow {
  fingerprint: string;
  record_id: number;
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || !key.length || key.length > 255) {
    throw invalid('`idempotency_key` must be a non-empty text of at most 255 characters.');
  }
  return key;
}

const findKey = (db: Db, scope: string, key: string): KeyRow | undefined =>
  db.prepare('SELECT fingerprint, record_id FROM idempotency_keys WHERE scope = ? AND key = ?').get(scope, key) as
    | KeyRow
    | undefined;

function keyReuse(noun: string, key: string, recordId: number): CrmError {
  return new CrmError(
    'conflict',
    `idempotency_key '${key}' was already used to create ${noun} '${recordId}' with different input; use a new key for a different ${noun}, or repeat the original input unchanged.`,
  );
}

/** A validated create: the body to show, and the insert to run inside the write transaction. */
export interface CreatePlan {
  body: Record<string, unknown>;
  insert(at: string): number;
}

export interface CreateSpec<T> {
  scope: Resource;
  noun: string;
  path: string;
  input: object;
  opts: WriteOptions;
  /** Validates against the current data; runs in prepare and again inside the transaction. */
  plan(): CreatePlan;
  read(id: number): T;
}

/**
 * Prepares a create with optional idempotency. A key seen before with the same input fingerprint
 * replays the first record; with other input it is a conflict. The key check and the insert share
 * one immediate transaction, so concurrent repeats (even from another process) create one record.
 */
export function prepareCreate<T>(ctx: Ctx, spec: CreateSpec<T>): PreparedWrite<T> {
  const { db } = ctx;
  checkSignal(spec.opts.signal);
  const key = spec.opts.idempotency_key === undefined ? undefined : checkKey(spec.opts.idempotency_key);
  const fingerprint = fingerprintOf(spec.input);

  const replay = (row: KeyRow): T => {
    if (row.fingerprint !== fingerprint) throw keyReuse(spec.noun, key as string, row.record_id);
    const exists = db.prepare(`SELECT 1 FROM ${spec.scope} WHERE id = ?`).get(row.record_id);
    if (!exists) {
      throw new CrmError(
        'conflict',
        `The ${spec.noun} created earlier with idempotency_key '${key}' (id '${row.record_id}') has since been deleted; use a new key to create it again.`,
      );
    }
    return spec.read(row.record_id);
  };

  let body: Record<string, unknown>;
  const prior = run(() => (key === undefined ? undefined : findKey(db, spec.scope, key)));
  if (prior) {
    if (prior.fingerprint !== fingerprint) throw keyReuse(spec.noun, key as string, prior.record_id);
    // A replay returns the first record even if the input would no longer validate.
    try {
      body = run(() => spec.plan()).body;
    } catch {
      body = compact(spec.input as Record<string, unknown>);
    }
  } else {
    body = run(() => spec.plan()).body;
  }

  return {
    request: { method: 'POST', path: spec.path, body },
    execute: async () => {
      checkSignal(spec.opts.signal);
      return run(() =>
        db.immediate(() => {
          if (key !== undefined) {
            const seen = findKey(db, spec.scope, key);
            if (seen) return replay(seen);
          }
          const at = stamp(ctx);
          const id = spec.plan().insert(at);
          if (key !== undefined) {
            db.prepare(
              'INSERT INTO idempotency_keys (scope, key, fingerprint, record_id, created_at) VALUES (?, ?, ?, ?, ?)',
            ).run(spec.scope, key, fingerprint, id, at);
          }
          return spec.read(id);
        }),
      );
    },
  };
}

/** A validated update or delete: the body to show and the change to apply inside the transaction. */
export interface ChangePlan<R> {
  body?: Record<string, unknown>;
  apply(at: string): R;
}

/** Prepares a PATCH or DELETE; validation runs now and again inside the write transaction. */
export function prepareChange<R>(
  ctx: Ctx,
  method: 'PATCH' | 'DELETE',
  path: string,
  opts: WriteOptions,
  plan: () => ChangePlan<R>,
): PreparedWrite<R> {
  checkSignal(opts.signal);
  const first = run(plan);
  const request = first.body === undefined ? { method, path } : { method, path, body: first.body };
  return {
    request,
    execute: async () => {
      checkSignal(opts.signal);
      return run(() => ctx.db.immediate(() => plan().apply(stamp(ctx))));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Paging

/** One column of a list's order; `field` is the row property holding its value. */
export interface SortKey {
  expr: string;
  field: string;
  desc?: boolean;
  nocase?: boolean;
}


function decodeKeyset(cursor: string, width: number): Array<string | number> {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  const ok =
    Array.isArray(values) &&
    values.length === width &&
    values.every((v) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)));
  if (!ok) throw invalidCursor();
  return values as Array<string | number>;
}

const pageSize = (limit: number): number =>
  Number.isFinite(limit) && limit >= 1 ? Math.min(Math.floor(limit), 1000) : 50;

/**
 * One page of `select` (filtered by `where`, in `order`). The cursor holds the sort values of the
 * last row returned (keyset paging), not an offset: records updated, added or removed while an
 * agent pages through a list never make it skip one it has not seen. `map` gets the page's rows
 * together, so callers can load related rows for the page only.
 */
export function selectPage<R, T>(
  db: Db,
  sql: { select: string; where?: string[]; params?: unknown[]; order: SortKey[] },
  query: { limit: number; cursor?: string },
  map: (rows: R[]) => T[],
): { items: T[]; next_cursor: string | null } {
  const limit = pageSize(query.limit);
  const where = [...(sql.where ?? [])];
  const params = [...(sql.params ?? [])];
  const col = (k: SortKey) => (k.nocase ? `${k.expr} COLLATE NOCASE` : k.expr);
  if (query.cursor !== undefined) {
    const after = decodeKeyset(query.cursor, sql.order.length);
    // (a, b, c) after (x, y, z) in this order: a beyond x, or a = x and b beyond y, or ...
    const branches = sql.order.map((k, i) => {
      const equal = sql.order.slice(0, i).map((e) => `${col(e)} = ?`);
      params.push(...after.slice(0, i), after[i]);
      return `(${[...equal, `${col(k)} ${k.desc ? '<' : '>'} ?`].join(' AND ')})`;
    });
    where.push(`(${branches.join(' OR ')})`);
  }
  const order = sql.order.map((k) => `${col(k)} ${k.desc ? 'DESC' : 'ASC'}`).join(', ');
  const rows = db
    .prepare(`${sql.select} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ?`)
    .all(...params, limit + 1) as R[];
  const items = rows.slice(0, limit);
  const last = items[items.length - 1] as Record<string, string | number> | undefined;
  return {
    items: map(items),
    next_cursor:
      rows.length > limit && last
        ? Buffer.from(JSON.stringify(sql.order.map((k) => last[k.field]))).toString('base64url')
        : null,
  };
}

/** A filter of a list: its SQL condition and parameter, or a falsy value when not asked for. */
export type Filter = readonly [condition: string, param: unknown] | false | undefined;

/**
 * One page of a list tool's records: `filters` run inside the error mapping (an unknown id in a
 * filter is a not-found sentence), then a keyset page of `select` in `order`, each row mapped.
 */
export async function listRecords<R, T>(
  db: Db,
  query: { limit: number; cursor?: string },
  opts: { signal?: AbortSignal; include_remote_data?: boolean },
  sql: { select: string; order: SortKey[] },
  filters: () => Filter[],
  toRecord: (row: R, remote: boolean) => T,
): Promise<{ items: T[]; next_cursor: string | null }> {
  checkSignal(opts.signal);
  return run(() => {
    const given = filters().filter((f): f is readonly [string, unknown] => Boolean(f));
    const where = given.map(([condition]) => condition);
    const params = given.map(([, param]) => param);
    return selectPage(db, { ...sql, where, params }, query, (rows: R[]) =>
      rows.map((r) => toRecord(r, Boolean(opts.include_remote_data))),
    );
  });
}

/** The order of lists by name: case-insensitive, then by id. */
export const byName = (alias: string): SortKey[] => [
  { expr: `${alias}name`, field: 'name', nocase: true },
  { expr: `${alias}id`, field: 'id' },
];

/** LIKE condition for a case-insensitive substring match, with wildcards escaped. */
export const nameContains = (column: string, text: string): Filter => [`${column} LIKE ? ESCAPE '\\'`, likeContains(text)];

/** LIKE pattern for a case-insensitive substring match, with wildcards escaped. */
export const likeContains = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
