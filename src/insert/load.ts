// The loader: sends record chunks to the server inside one transaction (or one per --commit-every
// batch). Plain loads stream straight into `COPY … FROM STDIN`; upserts and --returning stream
// into a temporary staging table and then run one set-based `INSERT … SELECT`. With
// --on-error skip each batch runs under a SAVEPOINT and a failing batch is split around the row
// the server names (or halved when it names none), so the rest still goes through COPY.
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { InterruptedError, ServerError } from '../errors.js';
import { RAW_TEXT_TYPES } from '../factory.js';
import type { Row } from '../output/values.js';
import { isDatabaseError } from '../db-errors.js';
import { quoteIdent } from '../sql.js';
import { sliceChunk, type RecordChunk } from './chunks.js';
import { sqlTable, type Target, type TargetColumn } from './target.js';

/** ON CONFLICT: `key` names the arbiter columns (may be empty for DO NOTHING). */
export type ConflictAction = { action: 'nothing' | 'update'; key: string[] };

export interface Rejected {
  line: number;
  reason: string;
  raw: string;
}

export interface LoadOptions {
  target: Target;
  /** The columns sent, in COPY field order. */
  columns: TargetColumn[];
  copyFormat: 'csv' | 'text';
  /** The input's name in messages. */
  file: string;
  onConflict?: ConflictAction;
  returning?: string[] | '*';
  commitEvery?: number;
  /** Set for --on-error skip: where rejected rows go. */
  onReject?: (row: Rejected) => Promise<void>;
  onProgress?: (rows: number, bytesRead: number) => void;
  /** Rows of RETURNING, batch by batch. */
  onReturned?: (fields: pg.FieldDef[], rows: Row[]) => Promise<void>;
  interrupted: () => boolean;
  /** Input line of the first record the reader has not handed out yet (for resume information). */
  pendingLine?: () => number | undefined;
  /** Rows per batch under --on-error skip (default 10000). */
  skipBatchRows?: number;
}

export interface LoadResult {
  /** Rows the server took: inserted (and, for upserts, updated). */
  rows: number;
  /** Rows sent but left alone by ON CONFLICT DO NOTHING. */
  conflicts: number;
  rejected: number;
  batches: number;
}

const SKIP_BATCH_BYTES = 8 * 1024 * 1024;
const STAGE = 'pg_temp.pgfactory_stage';
const STAGE_SEQUENCE = 'pg_temp.pgfactory_stage_row';
const NUMBERED = 'pg_temp.pgfactory_numbered';

/** Records of one batch: where each came from, and (when it may be re-sent) its bytes. */
class Batch {
  readonly pieces: RecordChunk[] = [];
  // Compact line map: consecutive lines are stored as their first line only.
  private readonly lineRuns: Array<{ start: number; count: number; first: number; lines: number[] | undefined }> = [];
  count = 0;
  bytes = 0;

  constructor(private readonly keepBytes: boolean) {}

  add(chunk: RecordChunk): void {
    const n = chunk.lines.length;
    const first = chunk.lines[0];
    const consecutive = chunk.lines[n - 1] - first === n - 1 && chunk.lines.every((line, i) => line === first + i);
    this.lineRuns.push({ start: this.count, count: n, first, lines: consecutive ? undefined : chunk.lines });
    if (this.keepBytes) this.pieces.push(chunk);
    this.count += n;
    this.bytes += chunk.data.length;
  }

  lineOf(index: number): number {
    for (const run of this.lineRuns) {
      if (index < run.start + run.count) return run.lines !== undefined ? run.lines[index - run.start] : run.first + index - run.start;
    }
    return NaN;
  }

  /** Bytes of records [from, to) (keepBytes only). */
  data(from: number, to: number): Buffer[] {
    const parts: Buffer[] = [];
    let start = 0;
    for (const piece of this.pieces) {
      const n = piece.lines.length;
      const a = Math.max(from, start) - start;
      const b = Math.min(to, start + n) - start;
      if (a < b) parts.push(piece.data.subarray(piece.offsets[a], piece.offsets[b]));
      start += n;
    }
    return parts;
  }

  raw(index: number): string {
    let start = 0;
    for (const piece of this.pieces) {
      if (index < start + piece.lines.length) return piece.raw?.[index - start] ?? piece.data.toString('utf8', piece.offsets[index - start], piece.offsets[index - start + 1]).replace(/\r?\n$/, '');
      start += piece.lines.length;
    }
    return '';
  }
}

/** Errors that belong to one row's data (so --on-error skip may reject the row), not to the load. */
export function isRowError(error: unknown): error is pg.DatabaseError {
  if (!isDatabaseError(error)) return false;
  const code = error.code ?? '';
  return ['22', '23', '44', 'P0', '2F', '38', '39', '27', '09'].includes(code.slice(0, 2)) || code === '42804';
}

/** `COPY t, line 3, column age: "abc"` → line 3, column age (the line counts records of this COPY). */
export function copyErrorPosition(error: pg.DatabaseError): { record: number | undefined; column: string | undefined } {
  for (const line of (error.where ?? '').split('\n')) {
    const match = /^COPY .*?, line (\d+)(?:, column (.*?))?(?::|$)/.exec(line);
    if (match !== null) return { record: Number(match[1]), column: match[2] };
  }
  return { record: undefined, column: undefined };
}

export function serverMessage(error: pg.DatabaseError): string {
  return `${error.message}${error.detail !== undefined ? ` (${error.detail.replace(/\.$/, '')})` : ''}`;
}

/** Writes to a COPY stream, waiting for 'drain'; fails as soon as the server has rejected the COPY. */
async function writeCopy(stream: NodeJS.WritableStream & { errored?: Error | null }, data: Buffer, failure: () => Error | undefined): Promise<void> {
  const failed = failure();
  if (failed !== undefined) throw failed;
  if (!stream.write(data)) {
    // 'error' too: the server may reject the COPY while its data waits to be sent.
    await new Promise<void>((resolve) => {
      const done = () => {
        stream.removeListener('drain', done);
        stream.removeListener('close', done);
        stream.removeListener('error', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
      stream.on('error', done);
    });
    const after = failure();
    if (after !== undefined) throw after;
  }
}

/** Runs one COPY … FROM STDIN of the given buffers; resolves with the row count. */
export async function copyIn(client: pg.Client, sql: string, source: AsyncIterable<Buffer> | Buffer[]): Promise<number> {
  const stream = client.query(copyFrom(sql));
  let error: Error | undefined;
  stream.on('error', (e: Error) => (error ??= e));
  try {
    for await (const data of source) await writeCopy(stream, data, () => error);
    stream.end();
    await finished(stream);
  } catch (e) {
    throw error ?? e;
  }
  if (error !== undefined) throw error;
  return stream.rowCount;
}

export async function load(client: pg.Client, chunks: AsyncIterable<RecordChunk>, options: LoadOptions): Promise<LoadResult> {
  const { target, columns } = options;
  const skip = options.onReject !== undefined;
  const staged = options.onConflict !== undefined || options.returning !== undefined;
  const columnList = columns.map((column) => quoteIdent(column.name)).join(', ');
  const copyOptions = `(FORMAT ${options.copyFormat})`;
  const result: LoadResult = { rows: 0, conflicts: 0, rejected: 0, batches: 0 };
  let committedRows = 0;
  let sentRows = 0;
  let inTransaction = false;

  const rowColumn = uniqueName('pgfactory row', columns.map((c) => c.name));
  // The staging table gets row numbers only under --on-error skip (a sequence default costs time
  // on every row); otherwise they are added after the fact, in COPY order, only when a row fails.
  const wholeSql = buildInsertSelect(options, columnList, STAGE, undefined);
  const rangedSql = buildInsertSelect(options, columnList, skip ? STAGE : NUMBERED, rowColumn);

  const reject = async (batch: Batch, index: number, reason: string) => {
    result.rejected += 1;
    await options.onReject!({ line: batch.lineOf(index), reason, raw: batch.raw(index) });
  };

  const rowFailure = (batch: Batch, index: number | undefined, error: pg.DatabaseError, column?: string): ServerError => {
    const line = index !== undefined ? batch.lineOf(index) : undefined;
    const name = error.column ?? column;
    const place = [options.file, line !== undefined && !Number.isNaN(line) ? `line ${line}` : undefined, name !== undefined ? `column ${name}` : undefined]
      .filter((part) => part !== undefined)
      .join(', ');
    return new ServerError(`${place}: ${serverMessage(error)}`, error.code);
  };

  /** Copies records [a, b) of a kept batch; a COPY error names the failing record when it can. */
  const copyRange = async (batch: Batch, sql: string, a: number, b: number) => {
    if (staged) await client.query(`SELECT setval('${STAGE_SEQUENCE}', ${a}, false)`);
    return copyIn(client, sql, batch.data(a, b));
  };

  /**
   * --on-error skip: applies [0, count) in ranges under savepoints; a failing range is split around
   * the row `locate` names (or halved), that row rejected, the rest retried.
   */
  const applyWithSkips = async (batch: Batch, apply: (a: number, b: number) => Promise<number>, locate: (error: pg.DatabaseError, a: number, b: number) => Promise<number | undefined>) => {
    const ranges: Array<[number, number]> = [[0, batch.count]];
    let done = 0;
    while (ranges.length > 0) {
      const [a, b] = ranges.shift()!;
      if (a >= b) continue;
      await client.query('SAVEPOINT pgfactory_batch');
      try {
        done += await apply(a, b);
        await client.query('RELEASE SAVEPOINT pgfactory_batch');
      } catch (error) {
        if (options.interrupted() || !isRowError(error)) throw error;
        await client.query('ROLLBACK TO SAVEPOINT pgfactory_batch');
        const k = await locate(error, a, b);
        if (k !== undefined && k >= a && k < b) {
          const { column } = copyErrorPosition(error);
          const name = error.column ?? column;
          await reject(batch, k, `${name !== undefined ? `column ${name}: ` : ''}${serverMessage(error)}`);
          ranges.unshift([a, k], [k + 1, b]);
        } else if (b - a === 1) {
          await reject(batch, a, serverMessage(error));
        } else {
          const mid = a + Math.floor((b - a) / 2);
          ranges.unshift([a, mid], [mid, b]);
        }
      }
    }
    return done;
  };

  /** The first row of [a, b) whose INSERT … SELECT fails, found by bisecting prefixes under a savepoint. */
  const bisectInsert = async (a: number, b: number): Promise<{ index: number; error: pg.DatabaseError } | undefined> => {
    let lo = a + 1;
    let hi = b;
    let found: { index: number; error: pg.DatabaseError } | undefined;
    // Invariant: [a, hi) fails; find the smallest such hi.
    while (lo <= hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      await client.query('SAVEPOINT pgfactory_probe');
      try {
        await client.query({ text: rangedSql, values: [a, mid], types: RAW_TEXT_TYPES });
        lo = mid + 1;
      } catch (error) {
        if (options.interrupted() || !isRowError(error)) throw error;
        found = { index: mid - 1, error };
        hi = mid - 1;
      }
      await client.query('ROLLBACK TO SAVEPOINT pgfactory_probe');
    }
    return found;
  };

  const runInsertSelect = async (a: number, b: number | undefined): Promise<number> => {
    const query = b === undefined ? { text: wholeSql } : { text: rangedSql, values: [a, b] };
    const inserted = await client.query({ ...query, types: RAW_TEXT_TYPES, rowMode: 'array' });
    if (options.onReturned !== undefined && inserted.fields.length > 0) await options.onReturned(inserted.fields, inserted.rows as Row[]);
    return inserted.rowCount ?? 0;
  };

  /** Streams a batch's chunks into a COPY while they are read (the fast path: nothing kept). */
  const streamBatch = async (batch: Batch, first: RecordChunk, more: () => Promise<RecordChunk | undefined>, sql: string): Promise<number> => {
    const stream = client.query(copyFrom(sql));
    let error: Error | undefined;
    stream.on('error', (e: Error) => (error ??= e));
    try {
      let chunk: RecordChunk | undefined = first;
      while (chunk !== undefined) {
        batch.add(chunk);
        await writeCopy(stream, chunk.data, () => error);
        sentRows += chunk.lines.length;
        options.onProgress?.(sentRows, chunk.bytesRead);
        chunk = await more();
      }
      stream.end();
      await finished(stream);
    } catch (e) {
      if (error === undefined && !stream.destroyed) {
        // The input failed (malformed row, read error): abandon the COPY so the server rolls it back.
        stream.destroy(e as Error);
        await finished(stream).catch(() => undefined);
        throw e;
      }
      const failure = error ?? e;
      if (isDatabaseError(failure) && !options.interrupted()) {
        const { record, column } = copyErrorPosition(failure);
        throw rowFailure(batch, record !== undefined ? record - 1 : undefined, failure, column);
      }
      throw failure;
    }
    if (error !== undefined) throw error;
    return stream.rowCount;
  };

  // Chunks cut to batch boundaries; `more` hands out the rest of the input one piece at a time.
  const iterator = chunks[Symbol.asyncIterator]();
  let leftover: RecordChunk | undefined;
  let resumeLine: number | undefined;
  const nextPiece = async (room: number): Promise<RecordChunk | undefined> => {
    let chunk = leftover;
    leftover = undefined;
    if (chunk === undefined) {
      const next = await iterator.next();
      if (next.done === true) return undefined;
      chunk = next.value;
    }
    const n = chunk.lines.length;
    if (n > room) {
      leftover = sliceChunk(chunk, room, n);
      chunk = sliceChunk(chunk, 0, room);
    }
    return chunk;
  };

  try {
    await client.query('BEGIN');
    inTransaction = true;
    if (staged) await createStage(client, columns, skip ? rowColumn : undefined);
    let sinceCommit = 0;
    for (;;) {
      // A batch ends at --commit-every boundaries and, under --on-error skip, after skipBatchRows.
      const limit = Math.min(skip ? options.skipBatchRows ?? 10_000 : Infinity, options.commitEvery !== undefined ? options.commitEvery - sinceCommit : Infinity);
      const room = (batch: Batch) => (limit === Infinity ? Number.MAX_SAFE_INTEGER : limit - batch.count);
      const batch = new Batch(skip);
      const first = await nextPiece(room(batch));
      if (first === undefined) break;
      if (sinceCommit === 0) resumeLine = first.lines[0];
      result.batches += 1;
      const more = async () => (batch.count >= limit || (skip && batch.bytes >= SKIP_BATCH_BYTES) ? undefined : nextPiece(room(batch)));
      if (staged && result.batches > 1) await client.query(`TRUNCATE ${STAGE}`);
      const copySql = staged
        ? `COPY ${STAGE} (${columnList}) FROM STDIN ${copyOptions}`
        : `COPY ${sqlTable(target)} (${columnList}) FROM STDIN ${copyOptions}`;

      if (!skip) {
        const copied = await streamBatch(batch, first, more, copySql);
        if (!staged) result.rows += copied;
        else {
          await client.query('SAVEPOINT pgfactory_batch');
          try {
            const inserted = await runInsertSelect(0, undefined);
            result.rows += inserted;
            if (options.onConflict !== undefined) result.conflicts += copied - inserted;
            await client.query('RELEASE SAVEPOINT pgfactory_batch');
          } catch (error) {
            if (options.interrupted() || !isRowError(error)) throw error;
            await client.query('ROLLBACK TO SAVEPOINT pgfactory_batch');
            // A fresh heap filled by one COPY holds its rows in COPY order: ctid order numbers them.
            await client.query(`DROP TABLE IF EXISTS ${NUMBERED}`);
            await client.query(
              `CREATE TEMP TABLE ${NUMBERED.slice('pg_temp.'.length)} AS SELECT row_number() OVER (ORDER BY ctid) - 1 AS ${quoteIdent(rowColumn)}, ${columnList} FROM ${STAGE}`,
            );
            const found = await bisectInsert(0, batch.count);
            throw found !== undefined ? rowFailure(batch, found.index, found.error) : rowFailure(batch, undefined, error);
          }
        }
      } else {
        // Read the whole batch first: a failing range is sent again.
        let chunk: RecordChunk | undefined = first;
        while (chunk !== undefined) {
          batch.add(chunk);
          sentRows += chunk.lines.length;
          options.onProgress?.(sentRows, chunk.bytesRead);
          chunk = await more();
        }
        const locateCopy = async (error: pg.DatabaseError, a: number) => {
          const { record } = copyErrorPosition(error);
          return record !== undefined ? a + record - 1 : undefined;
        };
        const copied = await applyWithSkips(batch, (a, b) => copyRange(batch, copySql, a, b), locateCopy);
        if (!staged) result.rows += copied;
        else {
          const rejectedBefore = result.rejected;
          const inserted = await applyWithSkips(batch, runInsertSelect, async (_error, a, b) => (await bisectInsert(a, b))?.index);
          result.rows += inserted;
          if (options.onConflict !== undefined) result.conflicts += copied - inserted - (result.rejected - rejectedBefore);
        }
      }

      sinceCommit += batch.count;
      if (options.commitEvery !== undefined && sinceCommit >= options.commitEvery) {
        await client.query('COMMIT');
        committedRows = result.rows;
        sinceCommit = 0;
        resumeLine = undefined;
        await client.query('BEGIN');
      }
    }
    inTransaction = false;
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (inTransaction) await client.query('ROLLBACK').catch(() => undefined);
    throw withResumeInfo(error, options, committedRows, resumeLine ?? leftover?.lines[0] ?? options.pendingLine?.());
  }
}

/** Under --commit-every, a failure says what is already in the table and where to start again. */
function withResumeInfo(error: unknown, options: LoadOptions, committedRows: number, batchLine: number | undefined): unknown {
  const interrupted = options.interrupted();
  if (options.commitEvery === undefined) {
    return interrupted ? new InterruptedError('interrupted: the load was cancelled and rolled back; nothing was committed') : error;
  }
  const failedLine = (error as { line?: number }).line;
  const resume = batchLine ?? failedLine;
  const info = `${committedRows} row${committedRows === 1 ? '' : 's'} committed in earlier batches${resume !== undefined ? `; resume from input line ${resume}` : ''}`;
  if (interrupted) return new InterruptedError(`interrupted: the current batch was rolled back; ${info}`);
  if (error instanceof Error) error.message = `${error.message}; ${info}`;
  return error;
}

function uniqueName(base: string, taken: string[]): string {
  let name = base;
  for (let i = 2; taken.includes(name); i += 1) name = `${base} ${i}`;
  return name;
}

async function createStage(client: pg.Client, columns: TargetColumn[], rowColumn: string | undefined): Promise<void> {
  // Typed like the target (domains included, so their checks name the COPY line), no constraints.
  const definitions = columns.map((column) => `${quoteIdent(column.name)} ${column.typeName}`);
  if (rowColumn === undefined) {
    await client.query(`CREATE TEMP TABLE ${STAGE.slice('pg_temp.'.length)} (${definitions.join(', ')})`);
    return;
  }
  await client.query(`CREATE TEMP SEQUENCE ${STAGE_SEQUENCE.slice('pg_temp.'.length)} MINVALUE 0`);
  await client.query(
    `CREATE TEMP TABLE ${STAGE.slice('pg_temp.'.length)} (${[...definitions, `${quoteIdent(rowColumn)} int8 NOT NULL DEFAULT nextval('${STAGE_SEQUENCE}')`].join(', ')})`,
  );
}

function buildInsertSelect(options: LoadOptions, columnList: string, source: string, rowColumn: string | undefined): string {
  let sql = `INSERT INTO ${sqlTable(options.target)} AS ${TARGET_ALIAS} (${columnList}) SELECT ${columnList} FROM ${source}`;
  if (rowColumn !== undefined) sql += ` WHERE ${quoteIdent(rowColumn)} >= $1 AND ${quoteIdent(rowColumn)} < $2`;
  return sql + conflictAndReturning(options.onConflict, options.columns, options.returning);
}

/** The alias the insert paths give their target table, for conflictAndReturning's comparison. */
export const TARGET_ALIAS = 'pgfactory_target';

/**
 * ON CONFLICT and RETURNING, shared by every insert path (the INSERT must alias its table as
 * TARGET_ALIAS). An upsert leaves a row alone when no value would change: rewriting an identical
 * row costs a new tuple version and index entries (reloading the same 1M rows took 3x longer).
 * Values are compared as text because some types (json, point, xml) have no equality operator.
 */
export function conflictAndReturning(conflict: ConflictAction | undefined, columns: TargetColumn[], returning: string[] | '*' | undefined): string {
  let sql = '';
  if (conflict?.action === 'nothing') sql += ` ON CONFLICT${conflict.key.length > 0 ? ` (${conflict.key.map(quoteIdent).join(', ')})` : ''} DO NOTHING`;
  if (conflict?.action === 'update') {
    const keys = new Set(conflict.key);
    const updated = columns.filter((column) => !keys.has(column.name)).map((column) => quoteIdent(column.name));
    const target = `(${conflict.key.map(quoteIdent).join(', ')})`;
    if (updated.length === 0) sql += ` ON CONFLICT ${target} DO NOTHING`;
    else {
      const current = updated.map((column) => `${TARGET_ALIAS}.${column}::text`).join(', ');
      const proposed = updated.map((column) => `EXCLUDED.${column}::text`).join(', ');
      sql += ` ON CONFLICT ${target} DO UPDATE SET ${updated.map((column) => `${column} = EXCLUDED.${column}`).join(', ')}`;
      sql += ` WHERE (${current}) IS DISTINCT FROM (${proposed})`;
    }
  }
  if (returning !== undefined) sql += ` RETURNING ${returning === '*' ? '*' : returning.map(quoteIdent).join(', ')}`;
  return sql;
}
