// The loader: sends batches of records to the server over one connection, inside one transaction
// (or one per --commit-every window). A plain load streams straight into `COPY … FROM STDIN`;
// upserts and --returning stream into a temporary staging table and then run one set-based
// `INSERT … SELECT`. Under --on-error skip each batch runs under a SAVEPOINT and a failing batch
// is split around the row the server names (or halved when it names none), so the rest still goes
// through COPY. `load()` drives one Loader over the whole input; parallel.ts drives several.
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { describePlace, InputError, InterruptedError, ServerError } from '../errors.js';
import { RAW_TEXT_TYPES } from '../factory.js';
import type { Row } from '../output/values.js';
import { isDatabaseError } from '../db-errors.js';
import { copyFromFlushed } from '../pg-internals.js';
import { quoteIdent, quoteLiteral } from '../sql.js';
import { Batch, BatchCutter, type DoneRange } from './batch.js';
import type { RecordChunk } from './chunks.js';
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
  /** The columns sent, in COPY field order (JSON chunks may name wider ones). */
  columns: TargetColumn[];
  copyFormat: 'csv' | 'text';
  /** COPY options beyond FORMAT, as SQL (`, DELIMITER ';'`); empty for none. */
  copyExtra?: string;
  /** The input's name in messages. */
  file: string;
  onConflict?: ConflictAction;
  returning?: string[] | '*';
  commitEvery?: number;
  /** Set for --on-error skip: where rejected rows go. */
  onReject?: (row: Rejected) => void;
  /** Records sent (a delta) and input bytes read so far. */
  onSent?: (records: number, bytesRead: number) => void;
  /** Rows of RETURNING, batch by batch. */
  onReturned?: (fields: pg.FieldDef[], rows: Row[]) => Promise<void>;
  interrupted: () => boolean;
  /** Input line of the first record the reader has not handed out yet (for resume information). */
  pendingLine?: () => number | undefined;
  /** Rows per batch under --on-error skip (default 10000). */
  skipBatchRows?: number;
  /** --resume: the ordinal of the first record read, when the input was opened past the start. */
  firstRecord?: number;
  /** --resume: record ordinals an earlier run committed. */
  done?: DoneRange[];
  /** Runs in the transaction of every --commit-every window, before its COMMIT (resume progress). */
  onWindowCommit?: (client: pg.Client, window: DoneRange, rows: number) => Promise<void>;
  /** The input is read into a few buffers in turn (fileInTurns): no read buffer is left for a collection to free. */
  inputInTurns?: boolean;
  /** The input's size in bytes, when it is a regular file (--jobs makes its last batches smaller). */
  inputBytes?: number;
}

export interface LoadResult {
  /** Rows the server took: inserted (and, for upserts, updated). */
  rows: number;
  /** Rows sent but left alone by ON CONFLICT DO NOTHING. */
  conflicts: number;
  rejected: number;
  batches: number;
}

export const SKIP_BATCH_BYTES = 8 * 1024 * 1024;
const STAGE = 'pg_temp.pgfactory_stage';
const STAGE_SEQUENCE = 'pg_temp.pgfactory_stage_row';
const NUMBERED = 'pg_temp.pgfactory_numbered';

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

type CopyStream = ReturnType<typeof copyFrom>;

/** Writes to a COPY stream, waiting for 'drain'; fails as soon as the server has rejected the COPY. */
async function writeCopy(stream: CopyStream, data: Buffer, failure: () => Error | undefined): Promise<void> {
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

/**
 * One `COPY … FROM STDIN` fed from `next()` until it returns undefined; resolves with the row
 * count. `next` may ask `flushed()` whether every buffer it gave so far is out (then it may fill
 * them again). An input failure (malformed row, read error) abandons the COPY so the server rolls
 * it back; a server error is thrown as the server's.
 */
export async function copyIn(client: pg.Client, sql: string, next: (flushed: () => boolean) => Promise<Buffer | undefined> | Buffer | undefined): Promise<number> {
  const stream = client.query(copyFrom(sql));
  let error: Error | undefined;
  stream.on('error', (e: Error) => (error ??= e));
  const flushed = () => copyFromFlushed(stream);
  try {
    for (let data = await next(flushed); data !== undefined; data = await next(flushed)) await writeCopy(stream, data, () => error);
    stream.end();
    await finished(stream);
  } catch (e) {
    if (error === undefined && !stream.destroyed) {
      stream.destroy(e as Error);
      await finished(stream).catch(() => undefined);
      throw e;
    }
    throw error ?? e;
  }
  if (error !== undefined) throw error;
  return stream.rowCount;
}

/** The work of one connection: its transaction, its staging table, its batches. */
export class Loader {
  readonly result: LoadResult = { rows: 0, conflicts: 0, rejected: 0, batches: 0 };
  private readonly skip: boolean;
  private readonly staged: boolean;
  private readonly rowColumn: string;
  private readonly copyOptions: string;
  /** Columns of the staging table as it stands (undefined: not created yet). */
  private stageColumns: TargetColumn[] | undefined;
  private inTransaction = false;

  constructor(readonly client: pg.Client, private readonly options: LoadOptions) {
    this.skip = options.onReject !== undefined;
    this.staged = options.onConflict !== undefined || options.returning !== undefined;
    this.rowColumn = uniqueName('pgfactory row', options.target.columns.map((c) => c.name));
    this.copyOptions = `(FORMAT ${options.copyFormat}${options.copyExtra ?? ''})`;
  }

  async begin(): Promise<void> {
    await this.client.query('BEGIN');
    this.inTransaction = true;
  }

  /** Commits; `beforeCommit` runs inside the transaction first (resume progress). */
  async commit(beforeCommit?: (client: pg.Client) => Promise<void>): Promise<void> {
    if (beforeCommit !== undefined) await beforeCommit(this.client);
    this.inTransaction = false;
    await this.client.query('COMMIT');
  }

  /** Ends the transaction as a prepared one (two-phase commit of parallel loads). */
  async prepare(gid: string): Promise<void> {
    this.inTransaction = false;
    await this.client.query(`PREPARE TRANSACTION ${quoteLiteral(gid)}`);
  }

  async rollback(): Promise<void> {
    if (!this.inTransaction) return;
    this.inTransaction = false;
    await this.client.query('ROLLBACK').catch(() => undefined);
  }

  /** Strict path: streams a batch's pieces into COPY while they are read (nothing kept). */
  async streamBatch(batch: Batch, next: () => Promise<RecordChunk | undefined>): Promise<void> {
    this.result.batches += 1;
    await this.prepareStage(batch.columns);
    let copied: number;
    try {
      copied = await copyIn(this.client, this.copySql(batch.columns), async () => {
        const piece = await next();
        if (piece === undefined) return undefined;
        batch.add(piece);
        this.options.onSent?.(piece.lines.length, piece.bytesRead);
        return piece.data;
      });
    } catch (error) {
      throw this.copyFailure(batch, 0, error);
    }
    await this.finishStrict(batch, copied);
  }

  /** Whether copyBatches() may carry this load's batches (strict, straight into the table). */
  get streamsBatches(): boolean {
    return !this.skip && !this.staged;
  }

  /**
   * Parallel workers, strict path: `first` and the batches `next()` gives, in one COPY (each COPY
   * fills a ring of shared buffers of its own, and a new backend pays a page fault for each page
   * of it that it has not touched yet: bench/README.md). `next` returns undefined
   * to end the COPY; `sentBatch` gets each batch once all its bytes are written to the COPY, with
   * copyIn's `flushed`. An error names its input line from the batches' own line maps, kept for
   * the COPY's whole length (their bytes are not).
   */
  async copyBatches(first: Batch, next: () => Promise<Batch | undefined>, sentBatch: (batch: Batch, flushed: () => boolean) => void): Promise<void> {
    const sent = new Batch(first.columns, first.firstRecord, false);
    const parts: Buffer[] = [];
    const take = (batch: Batch) => {
      this.result.batches += 1;
      for (const piece of batch.pieces) {
        sent.add(piece);
        parts.push(piece.data);
      }
    };
    let batch: Batch | undefined = first;
    take(first);
    let copied: number;
    try {
      copied = await copyIn(this.client, this.copySql(first.columns), async (flushed) => {
        while (parts.length === 0) {
          if (batch !== undefined) sentBatch(batch, flushed);
          batch = await next();
          if (batch === undefined) return undefined;
          take(batch);
        }
        return parts.shift();
      });
    } catch (error) {
      throw this.copyFailure(sent, 0, error);
    }
    this.result.rows += copied;
  }

  /** A batch read in full first (--on-error skip, parallel workers): a failing range may be sent again. */
  async loadBatch(batch: Batch): Promise<void> {
    this.result.batches += 1;
    await this.prepareStage(batch.columns);
    if (!this.skip) {
      const parts = batch.data(0, batch.count);
      let copied: number;
      try {
        copied = await copyIn(this.client, this.copySql(batch.columns), () => parts.shift());
      } catch (error) {
        throw this.copyFailure(batch, 0, error);
      }
      await this.finishStrict(batch, copied);
      return;
    }
    const copySql = this.copySql(batch.columns);
    const copied = await this.applyWithSkips(batch, (a, b) => this.copyRange(batch, copySql, a, b), async (error, a) => {
      const { record } = copyErrorPosition(error);
      return record !== undefined ? batch.recordAtCopyLine(a, record) : undefined;
    });
    if (!this.staged) {
      this.result.rows += copied;
      return;
    }
    const rejectedBefore = this.result.rejected;
    const inserted = await this.applyWithSkips(batch, (a, b) => this.insertStaged(batch, a, b), async (_error, a, b) => (await this.bisectInsert(batch, a, b))?.index);
    this.result.rows += inserted;
    if (this.options.onConflict !== undefined) this.result.conflicts += copied - inserted - (this.result.rejected - rejectedBefore);
  }

  /** After a strict COPY: counts its rows, or (staged) moves them to the target in one INSERT … SELECT. */
  private async finishStrict(batch: Batch, copied: number): Promise<void> {
    if (!this.staged) {
      this.result.rows += copied;
      return;
    }
    await this.client.query('SAVEPOINT pgfactory_batch');
    try {
      const inserted = await this.insertStaged(batch, 0, undefined);
      this.result.rows += inserted;
      if (this.options.onConflict !== undefined) this.result.conflicts += copied - inserted;
      await this.client.query('RELEASE SAVEPOINT pgfactory_batch');
    } catch (error) {
      if (this.options.interrupted() || !isRowError(error)) throw error;
      await this.client.query('ROLLBACK TO SAVEPOINT pgfactory_batch');
      // A fresh heap filled by one COPY holds its rows in COPY order: ctid order numbers them.
      const columnList = columnListOf(batch.columns);
      await this.client.query(`DROP TABLE IF EXISTS ${NUMBERED}`);
      await this.client.query(
        `CREATE TEMP TABLE ${bare(NUMBERED)} AS SELECT row_number() OVER (ORDER BY ctid) - 1 AS ${quoteIdent(this.rowColumn)}, ${columnList} FROM ${STAGE}`,
      );
      const found = await this.bisectInsert(batch, 0, batch.count);
      throw found !== undefined ? this.rowFailure(batch, found.index, found.error) : this.rowFailure(batch, undefined, error);
    }
  }

  /** A failed COPY of records starting at `offset` of the batch, as an error naming the input line. */
  private copyFailure(batch: Batch, offset: number, error: unknown): unknown {
    if (!isDatabaseError(error) || this.options.interrupted()) return error;
    const { record, column } = copyErrorPosition(error);
    return this.rowFailure(batch, record !== undefined ? batch.recordAtCopyLine(offset, record) : undefined, error, column);
  }

  private rowFailure(batch: Batch, index: number | undefined, error: pg.DatabaseError, column?: string): ServerError | InputError {
    const line = index !== undefined ? batch.lineOf(index) : undefined;
    const where = { file: this.options.file, line: line !== undefined && !Number.isNaN(line) ? line : undefined, column: error.column ?? column };
    // COPY could not read the record (too many or too few fields, a stray quote): bad input, exit 1.
    if (error.code === '22P04') return new InputError(serverMessage(error), where);
    return new ServerError(`${describePlace(where)}: ${serverMessage(error)}`, error.code);
  }

  private copySql(columns: TargetColumn[]): string {
    const into = this.staged ? STAGE : sqlTable(this.options.target);
    return `COPY ${into} (${columnListOf(columns)}) FROM STDIN ${this.copyOptions}`;
  }

  /** The staging table, empty and shaped for `columns` (upserts and --returning only). */
  private async prepareStage(columns: TargetColumn[]): Promise<void> {
    if (!this.staged) return;
    if (this.stageColumns === columns) {
      await this.client.query(`TRUNCATE ${STAGE}`);
      return;
    }
    if (this.stageColumns !== undefined) await this.client.query(`DROP TABLE ${STAGE}; DROP SEQUENCE IF EXISTS ${STAGE_SEQUENCE}`);
    this.stageColumns = columns;
    // Typed like the target (domains included, so their checks name the COPY line), no constraints.
    const definitions = columns.map((column) => `${quoteIdent(column.name)} ${column.typeName}`);
    // Row numbers only under --on-error skip (a sequence default costs time on every row);
    // otherwise they are added after the fact, in COPY order, only when a row fails.
    if (!this.skip) {
      await this.client.query(`CREATE TEMP TABLE ${bare(STAGE)} (${definitions.join(', ')})`);
      return;
    }
    await this.client.query(`CREATE TEMP SEQUENCE ${bare(STAGE_SEQUENCE)} MINVALUE 0`);
    await this.client.query(
      `CREATE TEMP TABLE ${bare(STAGE)} (${[...definitions, `${quoteIdent(this.rowColumn)} int8 NOT NULL DEFAULT nextval('${STAGE_SEQUENCE}')`].join(', ')})`,
    );
  }

  /** Copies records [a, b) of a kept batch. */
  private async copyRange(batch: Batch, sql: string, a: number, b: number): Promise<number> {
    if (this.staged) await this.client.query(`SELECT setval('${STAGE_SEQUENCE}', ${a}, false)`);
    const parts = batch.data(a, b);
    return copyIn(this.client, sql, () => parts.shift());
  }

  /** INSERT … SELECT from the stage: all of it, or rows [a, b) by row number. */
  private async insertStaged(batch: Batch, a: number, b: number | undefined): Promise<number> {
    const text = this.insertSelectSql(batch.columns, b === undefined ? undefined : this.skip ? STAGE : NUMBERED);
    const query = b === undefined ? { text } : { text, values: [a, b] };
    const inserted = await this.client.query({ ...query, types: RAW_TEXT_TYPES, rowMode: 'array' });
    if (this.options.onReturned !== undefined && inserted.fields.length > 0) await this.options.onReturned(inserted.fields, inserted.rows as Row[]);
    return inserted.rowCount ?? 0;
  }

  /** `ranged`: the numbered source whose rows [$1, $2) are taken; undefined: all of the stage. */
  private insertSelectSql(columns: TargetColumn[], ranged: string | undefined): string {
    const columnList = columnListOf(columns);
    let sql = `INSERT INTO ${sqlTable(this.options.target)} AS ${TARGET_ALIAS} (${columnList}) SELECT ${columnList} FROM ${ranged ?? STAGE}`;
    if (ranged !== undefined) sql += ` WHERE ${quoteIdent(this.rowColumn)} >= $1 AND ${quoteIdent(this.rowColumn)} < $2`;
    return sql + conflictAndReturning(this.options.onConflict, columns, this.options.returning);
  }

  /**
   * --on-error skip: applies [0, count) in ranges under savepoints; a failing range is split around
   * the row `locate` names (or halved), that row rejected, the rest retried.
   */
  private async applyWithSkips(
    batch: Batch,
    apply: (a: number, b: number) => Promise<number>,
    locate: (error: pg.DatabaseError, a: number, b: number) => Promise<number | undefined>,
  ): Promise<number> {
    const ranges: Array<[number, number]> = [[0, batch.count]];
    let done = 0;
    while (ranges.length > 0) {
      const [a, b] = ranges.shift()!;
      if (a >= b) continue;
      await this.client.query('SAVEPOINT pgfactory_batch');
      try {
        done += await apply(a, b);
        await this.client.query('RELEASE SAVEPOINT pgfactory_batch');
      } catch (error) {
        if (this.options.interrupted() || !isRowError(error)) throw error;
        await this.client.query('ROLLBACK TO SAVEPOINT pgfactory_batch');
        const k = await locate(error, a, b);
        if (k !== undefined && k >= a && k < b) {
          const { column } = copyErrorPosition(error);
          const name = error.column ?? column;
          this.reject(batch, k, `${name !== undefined ? `column ${name}: ` : ''}${serverMessage(error)}`);
          ranges.unshift([a, k], [k + 1, b]);
        } else if (b - a === 1) {
          this.reject(batch, a, serverMessage(error));
        } else {
          const mid = a + Math.floor((b - a) / 2);
          ranges.unshift([a, mid], [mid, b]);
        }
      }
    }
    return done;
  }

  private reject(batch: Batch, index: number, reason: string): void {
    this.result.rejected += 1;
    this.options.onReject!({ line: batch.lineOf(index), reason, raw: batch.raw(index) });
  }

  /** The first row of [a, b) whose INSERT … SELECT fails, found by bisecting prefixes under a savepoint. */
  private async bisectInsert(batch: Batch, a: number, b: number): Promise<{ index: number; error: pg.DatabaseError } | undefined> {
    const sql = this.insertSelectSql(batch.columns, this.skip ? STAGE : NUMBERED);
    let lo = a + 1;
    let hi = b;
    let found: { index: number; error: pg.DatabaseError } | undefined;
    // Invariant: [a, hi) fails; find the smallest such hi.
    while (lo <= hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      await this.client.query('SAVEPOINT pgfactory_probe');
      try {
        await this.client.query({ text: sql, values: [a, mid], types: RAW_TEXT_TYPES });
        lo = mid + 1;
      } catch (error) {
        if (this.options.interrupted() || !isRowError(error)) throw error;
        found = { index: mid - 1, error };
        hi = mid - 1;
      }
      await this.client.query('ROLLBACK TO SAVEPOINT pgfactory_probe');
    }
    return found;
  }
}

/** Limits of the next batch: --commit-every windows, skip batch size, done ranges of a resume. */
export function batchRoom(cutter: BatchCutter, batch: Batch, options: LoadOptions, skip: boolean): number {
  const room = Math.min(cutter.roomInWindow(batch, options.commitEvery), cutter.roomBeforeDone());
  if (skip && (batch.bytes >= SKIP_BATCH_BYTES)) return 0;
  return skip ? Math.min(room, (options.skipBatchRows ?? 10_000) - batch.count) : room;
}

/** Loads the whole input over one connection. */
export async function load(client: pg.Client, chunks: AsyncIterable<RecordChunk>, options: LoadOptions): Promise<LoadResult> {
  const loader = new Loader(client, options);
  const skip = options.onReject !== undefined;
  const cutter = new BatchCutter(chunks, options.columns, options.done, options.firstRecord);
  let committedRows = 0;
  // The --commit-every window being filled: its record ordinals, rows before it, its first batch.
  let window: { from: number; to: number; next: DoneRange['next']; rowsBefore: number; first: Batch } | undefined;
  try {
    await loader.begin();
    for (;;) {
      const batch = await cutter.open(skip);
      if (batch === undefined) break;
      window ??= { from: batch.firstRecord, to: batch.firstRecord, next: undefined, rowsBefore: loader.result.rows, first: batch };
      const next = () => cutter.piece(batch, batchRoom(cutter, batch, options, skip));
      if (skip) {
        for (let piece = await next(); piece !== undefined; piece = await next()) {
          batch.add(piece);
          options.onSent?.(piece.lines.length, piece.bytesRead);
        }
        await loader.loadBatch(batch);
      } else {
        await loader.streamBatch(batch, next);
      }
      window.to = batch.firstRecord + batch.count;
      window.next = batch.next;
      if (options.commitEvery !== undefined && cutter.roomInWindow(batch, options.commitEvery) === 0) {
        const ended = window;
        await loader.commit(options.onWindowCommit && ((c) => options.onWindowCommit!(c, ended, loader.result.rows - ended.rowsBefore)));
        committedRows = loader.result.rows;
        window = undefined;
        await loader.begin();
      }
    }
    const ended = window;
    await loader.commit(ended !== undefined && options.onWindowCommit !== undefined ? (c) => options.onWindowCommit!(c, ended, loader.result.rows - ended.rowsBefore) : undefined);
    return loader.result;
  } catch (error) {
    await loader.rollback();
    const windowLine = window !== undefined && !Number.isNaN(window.first.firstLine) ? window.first.firstLine : undefined;
    throw withResumeInfo(error, options, committedRows, windowLine ?? cutter.pendingLine() ?? options.pendingLine?.());
  }
}

/** Under --commit-every, a failure says what is already in the table and where to start again. */
export function withResumeInfo(error: unknown, options: LoadOptions, committedRows: number, batchLine: number | undefined): unknown {
  // A server error outside a COPY (BEGIN, COMMIT, the progress row: e.g. the backend was
  // terminated between batches) is still the server's, with its exit code.
  if (isDatabaseError(error)) error = new ServerError(serverMessage(error), error.code);
  const interrupted = options.interrupted();
  if (options.commitEvery === undefined) {
    return interrupted ? new InterruptedError('interrupted: the load was cancelled and rolled back; nothing was committed') : error;
  }
  const failedLine = (error as { line?: number }).line;
  const resume = batchLine ?? failedLine;
  const info = `${committedRows} row${committedRows === 1 ? '' : 's'} committed in earlier batches${resume !== undefined ? `; resume from input line ${resume}` : ''} (the same command with --resume loads the rest)`;
  if (interrupted) return new InterruptedError(`interrupted: the current batch was rolled back; ${info}`);
  if (error instanceof Error) error.message = `${error.message}; ${info}`;
  return error;
}

function uniqueName(base: string, taken: string[]): string {
  let name = base;
  for (let i = 2; taken.includes(name); i += 1) name = `${base} ${i}`;
  return name;
}

function columnListOf(columns: TargetColumn[]): string {
  return columns.map((column) => quoteIdent(column.name)).join(', ');
}

/** A pg_temp name without its schema, for CREATE TEMP. */
function bare(name: string): string {
  return name.slice('pg_temp.'.length);
}

/** The alias the insert paths give their target table, for conflictAndReturning's comparison. */
export const TARGET_ALIAS = 'pgfactory_target';

/**
 * ON CONFLICT and RETURNING, shared by every insert path (the INSERT must alias its table as
 * TARGET_ALIAS). An upsert leaves a row alone when no value would change: rewriting an identical
 * row costs a new tuple version and index entries (bench/README.md has the figure).
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
