/**
 * Writes of projects and opportunities, shared by projects.ts and deals.ts. PIPELINE_ID and
 * STAGE_ID are read-only on both records: a record changes stage through
 * `PUT /{Collection}/{id}/PipelineStage` ({STAGE_ID}) within its pipeline, or through
 * `PUT /{Collection}/{id}/Pipeline` ({PIPELINE_ID, PIPELINE_STAGE_CHANGE: {STAGE_ID}}) into another
 * pipeline (or out of none). So a write that changes fields and the stage is two requests, a
 * create with a stage too: crm/writes.ts preparedSequence shows both in a dry run and says exactly
 * what happened when the second fails after the first succeeded.
 */
import { CrmError, excerpt, nothingWritten } from '../../crm/errors.js';
import { path } from '../../crm/http.js';
import type { PreparedWrite } from '../../crm/provider.js';
import { requireChange } from '../../crm/records.js';
import { afterWrite, prepareRequest, preparedSequence, type WriteRequest, type WriteStep } from '../../crm/writes.js';
import { answeredId, HINT, orNotFound, recordIn, type Collection, type Kind } from './client.js';
import { namesAfterWrite, requireReferences, type Ctx, type Placed, type References } from './directory.js';
import type { Names } from './map.js';

/** Where a record is to stand: a stage and the pipeline it belongs to. */
export interface Placement {
  stageId: number;
  pipelineId: number;
  /** "stage Proposal (12) of Sales [opportunities] (3)", for messages. */
  label: string;
}

/**
 * The stage a record of `c` moves to, checked before anything is sent: it exists, it belongs to
 * `pipelineId` when one is given, and its pipeline holds this kind of record (Insightly keeps
 * opportunity and project pipelines apart).
 */
export async function targetStage(ctx: Ctx, c: Collection, stageId: number, pipelineId: number | undefined, signal?: AbortSignal): Promise<Placement> {
  const stages = await ctx.dir.stages.resolve([stageId], signal);
  const stage = stages.get(stageId);
  if (!stage) throw new CrmError('not_found', `No stage with id '${stageId}'. ${HINT.stage}`);
  const ownPipeline = stage.native.PIPELINE_ID;
  const pipelines = await ctx.dir.pipelines.resolve([ownPipeline, ...(pipelineId === undefined ? [] : [pipelineId])], signal);
  const pipeline = pipelines.get(ownPipeline);
  const named = (id: number) => `${pipelines.get(id)?.name ?? 'pipeline'} (${id})`;
  if (pipelineId !== undefined && pipelineId !== ownPipeline) {
    throw new CrmError(
      'validation',
      `Stage ${excerpt(stage.name)} (${stageId}) belongs to ${named(ownPipeline)}, not to ${named(pipelineId)}; pass a stage of that pipeline (list_stages with pipeline_id).`,
    );
  }
  if (pipeline && !pipeline.native[c.pipelineFlag]) {
    const fitting = await fittingPipelines(ctx, c, signal);
    throw new CrmError(
      'validation',
      `Stage ${excerpt(stage.name)} (${stageId}) is in ${named(ownPipeline)}, which holds no ${c.native}; a ${c.noun} moves only in a pipeline for ${c.native}${fitting}.`,
    );
  }
  return { stageId, pipelineId: ownPipeline, label: `stage ${stage.name} (${stageId}) of ${named(ownPipeline)}` };
}

async function fittingPipelines(ctx: Ctx, c: Collection, signal?: AbortSignal): Promise<string> {
  const all = [...(await ctx.dir.pipelines.all(signal)).values()].filter((p) => p.native[c.pipelineFlag]);
  return all.length ? `: ${all.map((p) => `${excerpt(p.name)} (${p.id})`).join(', ')}` : ' (this Insightly account has none)';
}

/**
 * `prepared`, with the ids it refers to checked when it is sent (requireReferences): a dry run
 * shows the write and sends nothing; a real one refuses an unknown id before its first request.
 */
export function checkedFirst<T>(ctx: Ctx, prepared: PreparedWrite<T>, refs: References, signal?: AbortSignal): PreparedWrite<T> {
  return {
    ...prepared,
    async execute() {
      try {
        await requireReferences(ctx, refs, signal);
      } catch (e) {
        throw nothingWritten(e);
      }
      return prepared.execute();
    },
  };
}

/**
 * A write Insightly takes in one request and answers with the record (organisations, contacts):
 * POST, or PUT with the id in the body. An update of a record that is gone names it.
 */
export function singleWrite<N extends object, T>(
  ctx: Ctx,
  w: {
    request: WriteRequest;
    refs: References;
    signal?: AbortSignal;
    updating?: { kind: Kind; id: string };
    /** The fields of the answer that name other records (default: all it has). */
    placed?: (native: N) => Placed;
    toRecord(native: N, names: Names): T;
  },
): PreparedWrite<T> {
  const prepared = prepareRequest(ctx.client.http, w.request);
  return checkedFirst(
    ctx,
    {
      request: prepared.request,
      async execute() {
        const sent = prepared.send(w.signal);
        const answer = (await (w.updating ? orNotFound(w.updating.kind, w.updating.id, sent) : sent)).body;
        if (!answer || typeof answer !== 'object') {
          throw new CrmError('upstream', `Insightly accepted the ${w.request.method === 'POST' ? 'create' : 'update'} but answered without the record; list the records to see it.`, { provider: 'Insightly' });
        }
        const native = answer as N;
        return w.toRecord(native, await namesAfterWrite(ctx, [w.placed ? w.placed(native) : native], w.signal));
      },
    },
    w.refs,
    w.signal,
  );
}

export interface RecordWrite<N, T> {
  c: Collection;
  /** The record's id for an update; absent for a create. */
  id?: number;
  /** The record as it stood before an update (its pipeline decides which endpoint moves it). */
  current?: N & { PIPELINE_ID?: number | null; STAGE_ID?: number | null };
  /** Fields of the record's own body (never pipeline or stage). */
  body: Record<string, unknown>;
  move?: Placement;
  /** The record named in messages: "project 'Onboarding' (5)". */
  label: string;
  /** Ids the write refers to (owner, organisation), checked before its first request. */
  refs?: References;
  signal?: AbortSignal;
  toRecord(native: N, names: Names): T;
}

/**
 * A create or update of a project or opportunity: its fields (POST, or PUT with the id in the
 * body), then its stage, and the record as read back with names. Each request a dry run shows is
 * exactly what `execute` sends.
 */
export function recordWrite<N extends object, T>(ctx: Ctx, w: RecordWrite<N, T>): PreparedWrite<T> {
  const { c, client } = { c: w.c, client: ctx.client };
  const creating = w.id === undefined;
  const steps: WriteStep[] = [];
  const guard = (s: WriteStep): WriteStep =>
    creating ? s : { ...s, send: (answers, signal) => orNotFound(c.noun, String(w.id), s.send(answers, signal)) };
  const fields = Object.keys(w.body);
  if (creating) {
    steps.push(client.step({ method: 'POST', path: c.path, body: w.body }, `create the ${c.noun}`));
  } else if (fields.length) {
    steps.push(guard(client.step({ method: 'PUT', path: c.path, body: { [c.idKey]: w.id, ...w.body } }, `change its ${fields.join(', ')}`)));
  }
  const move = w.move;
  if (move) {
    const purpose = `put it in ${move.label}`;
    // Within its own pipeline the stage changes alone; otherwise the pipeline changes, carrying the stage.
    const within = !creating && w.current?.PIPELINE_ID === move.pipelineId;
    const body = within ? { STAGE_ID: move.stageId } : { PIPELINE_ID: move.pipelineId, PIPELINE_STAGE_CHANGE: { STAGE_ID: move.stageId } };
    const tail = within ? 'PipelineStage' : 'Pipeline';
    steps.push(
      creating
        ? client.laterStep(`${c.path}/{${c.idKey}}/${tail}`, { method: 'PUT', body }, purpose, (answers) => `${c.path}${path`/${answeredId(answers[0], c)}`}/${tail}`)
        : guard(client.step({ method: 'PUT', path: `${c.path}${path`/${w.id!}`}/${tail}`, body }, purpose)),
    );
  }
  const sequence = preparedSequence(
    {
      provider: 'Insightly',
      what: creating ? `this create of a ${c.noun}` : `this update of ${w.label}`,
      signal: w.signal,
      recovery: (answers) =>
        creating
          ? `The ${c.noun} exists (id ${safeId(answers[0], c)}): read it with get_${c.noun}, then set its stage with update_${c.noun}; do not create it again.`
          : `Read it with get_${c.noun}, then repeat only what is missing.`,
    },
    steps,
    async (answers) => {
      const native = await finalRecord(ctx, w, answers);
      return w.toRecord(native, await namesAfterWrite(ctx, [native], w.signal));
    },
  );
  return w.refs ? checkedFirst(ctx, sequence, w.refs, w.signal) : sequence;
}

const safeId = (answer: unknown, c: Collection): string => {
  try {
    return String(answeredId(answer, c));
  } catch {
    return 'not given in its answer';
  }
};

/**
 * An update of a project or opportunity: its fields and, when `move` names a stage other than its
 * current one, the move (the record is read first: its pipeline decides the endpoint). An update
 * that would change nothing is refused, naming what it could change.
 */
export async function recordUpdate<N extends object & { PIPELINE_ID?: number | null; STAGE_ID?: number | null }, T>(
  ctx: Ctx,
  u: Omit<RecordWrite<N, T>, 'current' | 'label'> & {
    id: number;
    /** The fields an update can change, for the "nothing to update" sentence. */
    fields: readonly string[];
    read(): Promise<N>;
    name(record: N): string;
  },
): Promise<PreparedWrite<T>> {
  const { c, id, body, move } = u;
  if (!move) requireChange(body, c.noun, u.fields);
  const current = move ? await u.read() : undefined;
  const moving = move && current?.STAGE_ID !== move.stageId ? move : undefined;
  if (move && !moving) requireChange(body, c.noun, ['a stage other than its current one', ...u.fields.filter((f) => f !== 'stage' && f !== 'stage_id')]);
  return recordWrite(ctx, {
    ...u,
    current,
    move: moving,
    label: current ? `${c.noun} '${excerpt(u.name(current))}' (${id})` : `${c.noun} ${id}`,
  });
}

/**
 * The record after the write: the last answer when Insightly answered with the record, else read
 * back. Best effort: if the read-back fails, the first answer (or the record before) with the
 * placement written, rather than an error that invites a resend.
 */
async function finalRecord<N extends object, T>(ctx: Ctx, w: RecordWrite<N, T>, answers: unknown[]): Promise<N> {
  const c = w.c;
  const id = w.id ?? answeredId(answers[0], c);
  const last = recordIn<N>(answers[answers.length - 1], c, id);
  if (last && (!w.move || (last as { STAGE_ID?: unknown }).STAGE_ID === w.move.stageId)) return last;
  const known = (recordIn<N>(answers[0], c, id) ?? w.current ?? ({ [c.idKey]: id } as N)) as N;
  const placed = w.move ? ({ ...known, PIPELINE_ID: w.move.pipelineId, STAGE_ID: w.move.stageId } as N) : known;
  return afterWrite(ctx.client.get<N>(`${c.path}${path`/${id}`}`, w.signal), (e) => {
    ctx.logger?.warn({ err: (e as Error).message }, 'read-back after a write failed; answering with what was written');
    return placed;
  });
}
