// `insert --jobs N`: N connections load batches of whole records in parallel. One reader cuts the
// input into batches (by records, never by bytes, so a quoted newline never splits a record and
// every error keeps its input line) and keeps a few ready ahead of the workers, so a backend never
// waits for Node to read its next batch; each worker takes the next ready batch when it is free.
// All or nothing: every worker PREPAREs its transaction, then all are COMMIT PREPARED, or all are
// rolled back (prepared ones with ROLLBACK PREPARED) — on an error, Ctrl-C or SIGTERM alike. A
// kill -9 between the two phases leaves prepared transactions: their names start with the
// table's, so the next insert into that table finds and reports them (leftoverPrepared).
// Under --commit-every each worker commits each window on its own instead (no 2PC needed).
import crypto from 'node:crypto';
import type pg from 'pg';
import { UsageError } from '../errors.js';
import { collectAfterSending } from '../memory.js';
import type { ConnectionFactory } from '../factory.js';
import { quoteLiteral } from '../sql.js';
import { Batch, BatchCutter } from './batch.js';
import type { RecordChunk } from './chunks.js';
import { batchRoom, Loader, withResumeInfo, type LoadOptions, type LoadResult } from './load.js';
import { displayTable, type Target } from './target.js';

/** Records per batch when --commit-every does not set it: large enough that a COPY's start costs nothing. */
const PARALLEL_BATCH_RECORDS = 20_000;
/** The first batch's records; each next one twice as many, up to PARALLEL_BATCH_RECORDS. */
const FIRST_BATCH_RECORDS = 1_000;
/** The fewest records of a batch near the input's end. */
const LAST_BATCH_RECORDS = 500;
/** …and at most this many bytes, so wide rows do not hold many large batches in memory. */
const PARALLEL_BATCH_BYTES = 4 * 1024 * 1024;
/** Batches one worker sends in one COPY (see copyBatches). */
const COPY_BATCHES = 64;
/** A batch buffer: a batch stops taking records past PARALLEL_BATCH_BYTES, with room for the last piece. */
const BATCH_BUFFER_BYTES = PARALLEL_BATCH_BYTES + (1 << 20);

const GID_PREFIX = 'pgfactory insert ';

function gidPrefix(target: Target): string {
  return `${GID_PREFIX}${displayTable(target)} `;
}

/** Refuses --jobs N for an all-or-nothing load when the server cannot prepare N transactions. */
export async function checkTwoPhase(client: pg.Client, jobs: number): Promise<void> {
  const found = await client.query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'max_prepared_transactions'");
  const max = Number(found.rows[0]?.setting ?? 0);
  if (max < jobs) {
    throw new UsageError(
      `--jobs ${jobs} loads all or nothing with two-phase commit, and the server allows ${max} prepared transaction${max === 1 ? '' : 's'} (max_prepared_transactions); ` +
        `raise it to at least ${jobs} (a restart), or pass --commit-every N to commit each worker's batches on their own`,
    );
  }
}

/** Prepared transactions an interrupted `insert --jobs` into this table left behind (kill -9), as warnings. */
export async function leftoverPrepared(client: pg.Client, target: Target): Promise<string[]> {
  const found = await client.query<{ gid: string; prepared: string }>(
    'SELECT gid, prepared::text AS prepared FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1) ORDER BY prepared, gid',
    [gidPrefix(target)],
  );
  return found.rows.map(
    (row) =>
      `warning: prepared transaction ${quoteLiteral(row.gid)} (prepared ${row.prepared}) was left by an interrupted insert --jobs into ${displayTable(target)}; ` +
      `its rows are not in the table and it holds locks until removed: ROLLBACK PREPARED ${quoteLiteral(row.gid)}`,
  );
}

interface Worker {
  loader: Loader;
  gid: string;
  prepared: boolean;
}

type Work = (client: pg.Client, index: number) => Promise<void>;

/**
 * The connections of `insert --jobs N` beyond the first, opened alongside it, so their start-up
 * overlaps the first one's and the table's lookup instead of delaying the second COPY. Each waits
 * inside the factory's withConnection, which always gives it back, until it is handed its work or
 * let go.
 */
export class ExtraConnections {
  private assign!: (work: Work | undefined) => void;
  private readonly assigned = new Promise<Work | undefined>((resolve) => (this.assign = resolve));
  private readonly done: Promise<void>[];
  private failure: unknown;
  private report = (error: unknown): void => void (this.failure ??= error);

  constructor(factory: ConnectionFactory, readonly count: number) {
    this.done = Array.from({ length: count }, (_, i) =>
      factory
        .withConnection(async (client) => {
          const work = await this.assigned;
          if (work !== undefined) await work(client, i + 1);
        })
        .catch((error: unknown) => this.report(error)),
    );
  }

  /** Runs `work` on every extra connection; a connection that failed to open reports to `onFailure`. */
  run(work: Work, onFailure: (error: unknown) => void): Promise<void[]> {
    if (this.failure !== undefined) onFailure(this.failure);
    this.report = onFailure;
    this.assign(work);
    return Promise.all(this.done);
  }

  /** Lets the connections go (when no load ran: an error before it, a dry run, a finished resume). */
  async release(): Promise<void> {
    this.assign(undefined);
    await Promise.all(this.done);
  }
}

/**
 * Records the next batch may take: the first batches small, so every backend starts its COPY while
 * the reader is still warming up, and, when the input's size is known, fewer as its end nears, so
 * the workers finish together instead of one backend loading the last large batch alone.
 */
export function batchRecords(ordinal: number, jobs: number, remainingBytes: number | undefined, bytesPerRecord: number | undefined): number {
  let records = Math.min(PARALLEL_BATCH_RECORDS, FIRST_BATCH_RECORDS * 2 ** Math.min(ordinal, 16));
  if (remainingBytes !== undefined && bytesPerRecord !== undefined && bytesPerRecord > 0) {
    records = Math.min(records, Math.max(LAST_BATCH_RECORDS, Math.ceil(remainingBytes / bytesPerRecord / (2 * jobs))));
  }
  return records;
}

/**
 * Loads the input over `jobs` connections: `first` (already open) and the extra ones.
 */
export async function loadParallel(
  extra: ExtraConnections,
  first: pg.Client,
  chunks: AsyncIterable<RecordChunk>,
  options: LoadOptions,
): Promise<LoadResult> {
  const jobs = extra.count + 1;
  const skip = options.onReject !== undefined;
  const windows = options.commitEvery !== undefined;
  const cutter = new BatchCutter(chunks, options.columns, options.done, options.firstRecord);
  const token = crypto.randomBytes(4).toString('hex');
  const workers: Worker[] = [];
  let failure: unknown;
  let committedRows = 0;

  // The reader runs ahead of the workers: up to `jobs` batches wait ready (plus one per worker in
  // flight and the one being read), so memory stays bounded.
  const ready = new BatchQueue(jobs);
  // Batches queued, one in flight per worker, one being read, and those whose bytes are still on
  // their way to the kernel.
  const buffers = new BatchBuffers(3 * jobs + 2);
  let batchesRead = 0;
  // The input's bytes read so far; the records before a batch are its firstRecord (without
  // --commit-every a load starts at record 0 and skips nothing).
  let bytesRead = 0;
  const readBatch = async (): Promise<Batch | undefined> => {
    const batch = await cutter.open(true);
    if (batch === undefined) return undefined;
    const recordsRead = batch.firstRecord;
    const limit = windows
      ? Number.MAX_SAFE_INTEGER
      : batchRecords(batchesRead, jobs, options.inputBytes !== undefined ? options.inputBytes - bytesRead : undefined, recordsRead > 0 ? bytesRead / recordsRead : undefined);
    batchesRead += 1;
    while (batch.bytes < PARALLEL_BATCH_BYTES) {
      const piece = await cutter.piece(batch, Math.min(batchRoom(cutter, batch, options, skip), limit - batch.count));
      if (piece === undefined) break;
      batch.add(piece);
      buffers.packLast(batch);
      bytesRead = piece.bytesRead;
      options.onSent?.(piece.lines.length, piece.bytesRead);
    }
    return batch;
  };
  const readAll = async (): Promise<void> => {
    try {
      for (let batch = await readBatch(); batch !== undefined && failure === undefined; batch = await readBatch()) await ready.put(batch);
    } catch (error) {
      failure ??= error;
    } finally {
      ready.end();
    }
  };
  const nextBatch = (): Promise<Batch | undefined> => (failure === undefined ? ready.take() : Promise.resolve(undefined));

  const work = async (client: pg.Client, index: number): Promise<void> => {
    const worker: Worker = { loader: new Loader(client, options), gid: `${gidPrefix(options.target)}${process.pid}-${token} ${index + 1}/${jobs}`, prepared: false };
    workers.push(worker);
    const { loader } = worker;
    try {
      if (!windows) await loader.begin();
      if (!windows && loader.streamsBatches) {
        // One COPY for many batches, a new one where JSON input widens the columns and every
        // COPY_BATCHES batches (the line maps of what one COPY sent stay in memory until it ends).
        let pending = await nextBatch();
        // Batches written to the COPY whose bytes may still wait in the socket.
        const unflushed: Batch[] = [];
        while (pending !== undefined && failure === undefined) {
          const first: Batch = pending;
          pending = undefined;
          let taken = 1;
          await loader.copyBatches(
            first,
            async () => {
              if (failure !== undefined || taken >= COPY_BATCHES) return undefined;
              const batch = await nextBatch();
              if (batch === undefined || failure !== undefined) return undefined;
              if (batch.columns !== first.columns) {
                pending = batch;
                return undefined;
              }
              taken += 1;
              return batch;
            },
            (batch, flushed) => {
              unflushed.push(batch);
              if (flushed()) buffers.release(unflushed.splice(0));
              if (options.inputInTurns !== true) collectAfterSending(batch.bytes);
            },
          );
          // The COPY is over: all its bytes are out.
          buffers.release(unflushed.splice(0));
          if (pending === undefined && failure === undefined) pending = await nextBatch();
        }
      } else {
        for (let batch = await nextBatch(); batch !== undefined && failure === undefined; batch = await nextBatch()) {
          if (!windows) {
            await loader.loadBatch(batch);
          } else {
            await loader.begin();
            const rowsBefore = loader.result.rows;
            await loader.loadBatch(batch);
            const window = { from: batch.firstRecord, to: batch.firstRecord + batch.count, next: batch.next };
            await loader.commit(options.onWindowCommit && ((c) => options.onWindowCommit!(c, window, loader.result.rows - rowsBefore)));
            committedRows += loader.result.rows - rowsBefore;
          }
          buffers.release([batch]);
          if (options.inputInTurns !== true) collectAfterSending(batch.bytes);
        }
      }
      if (failure !== undefined) {
        await loader.rollback();
        return;
      }
      if (!windows) {
        await loader.prepare(worker.gid);
        worker.prepared = true;
      }
    } catch (error) {
      failure ??= error;
      await loader.rollback();
    }
  };

  // Each extra connection is given back when its worker is done.
  void readAll();
  await Promise.all([work(first, 0), extra.run(work, (error) => void (failure ??= error))]);
  // After a failure the reader stops at its next batch (a read it waits for ends when the caller
  // closes the input); on success it has ended already.
  ready.abort();
  // Keep the other connections open until the second phase is decided: work() returned already.

  if (failure === undefined && !windows) {
    // Every worker prepared: the load is decided. Commit them all, even after a Ctrl-C now.
    for (const worker of workers) await commitPrepared(first, worker.gid);
  } else if (!windows) {
    for (const worker of workers.filter((w) => w.prepared)) await first.query(`ROLLBACK PREPARED ${quoteLiteral(worker.gid)}`).catch(() => undefined);
  }
  if (failure !== undefined) throw withResumeInfo(failure, options, committedRows, undefined);
  const result: LoadResult = { rows: 0, conflicts: 0, rejected: 0, batches: 0 };
  for (const { loader } of workers) {
    result.rows += loader.result.rows;
    result.conflicts += loader.result.conflicts;
    result.rejected += loader.result.rejected;
    result.batches += loader.result.batches;
  }
  return result;
}

/** COMMIT PREPARED, once more if a Ctrl-C cancelled it: after all prepared, the decision is commit. */
async function commitPrepared(client: pg.Client, gid: string): Promise<void> {
  try {
    await client.query(`COMMIT PREPARED ${quoteLiteral(gid)}`);
  } catch {
    await client.query(`COMMIT PREPARED ${quoteLiteral(gid)}`);
  }
}

/**
 * Buffers that hold one batch's bytes each, filled again once a batch is out. Every piece is
 * copied in as it joins its batch, so the read buffers are free at once: the input can be read
 * into a few buffers in turn (fileInTurns), and no read buffer lives as long as a batch, reaches
 * V8's old generation and waits for a full collection, which made the load take fresh memory, a
 * page fault for every new page (bench/README.md, Figures behind the code).
 */
class BatchBuffers {
  private readonly free: Buffer[] = [];

  constructor(private readonly keep: number) {}

  packLast(batch: Batch): void {
    batch.packLast((bytes) => {
      const reused = bytes <= BATCH_BUFFER_BYTES ? this.free.pop() : undefined;
      return reused ?? Buffer.allocUnsafeSlow(Math.max(bytes * 2, BATCH_BUFFER_BYTES));
    });
  }

  /** Batches whose bytes are out (handed to the kernel): their buffers may be filled again. */
  release(batches: Batch[]): void {
    for (const batch of batches) {
      const buffer = batch.buffer;
      batch.buffer = undefined;
      if (buffer !== undefined && this.free.length < this.keep) this.free.push(buffer);
    }
  }
}

/** Batches read ahead of the workers: put() waits while `capacity` are ready; take() waits for one. */
class BatchQueue {
  private readonly batches: Batch[] = [];
  private closed = false;
  private takers: ((batch: Batch | undefined) => void)[] = [];
  private putter: (() => void) | undefined;

  constructor(private readonly capacity: number) {}

  async put(batch: Batch): Promise<void> {
    if (this.closed) return;
    const taker = this.takers.shift();
    if (taker !== undefined) {
      taker(batch);
      return;
    }
    this.batches.push(batch);
    if (this.batches.length >= this.capacity) await new Promise<void>((resolve) => (this.putter = resolve));
  }

  take(): Promise<Batch | undefined> {
    const batch = this.batches.shift();
    if (batch !== undefined) {
      this.wakePutter();
      return Promise.resolve(batch);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.takers.push(resolve));
  }

  /** The reader is done: batches still queued are taken, then take() gives undefined. */
  end(): void {
    this.closed = true;
    for (const taker of this.takers.splice(0)) taker(undefined);
  }

  /** The load failed: queued batches are dropped and a waiting put() returns. */
  abort(): void {
    this.end();
    this.batches.length = 0;
    this.wakePutter();
  }

  private wakePutter(): void {
    const putter = this.putter;
    this.putter = undefined;
    putter?.();
  }
}
