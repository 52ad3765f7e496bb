// Resumable loads (--commit-every): each committed window records its record range in a small
// table, in the same transaction as its rows, keyed by the target table, the load id and a
// fingerprint of the input. `--resume` reads those ranges and loads exactly the rest; an input
// whose fingerprint differs is refused. The fingerprint is the input's size and its first and
// last MiB (a file; stdin: its first 64 KiB, so a slow pipe starts loading soon), not a hash of
// everything: hashing a 10 GB file twice would cost more than the rows it saves.
// A window's COMMIT does not wait for its WAL to reach disk (synchronous_commit = off for that
// transaction): that wait cost a windowed load much of its time (bench/README.md). Its rows
// and its progress row share the transaction, so a server crash can only lose whole windows
// together with their progress, which --resume then loads again. The load's last write (the
// completion mark, or flush() after a failure) commits synchronously, and that flushes every
// earlier commit: when insert reports rows as committed, they are on disk.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type pg from 'pg';
import { UsageError } from '../errors.js';
import { quoteIdent } from '../sql.js';
import type { DoneRange } from './batch.js';
import type { InputPosition } from './chunks.js';
import { displayTable, type Target } from './target.js';

export const PROGRESS_TABLE = 'pgfactory_load_progress';
const SAMPLE_BYTES = 1 << 20;
const STDIN_SAMPLE_BYTES = 1 << 16;

/** The input's fingerprint; for stdin the first 64 KiB are read here and handed on in `source`. */
export async function fingerprintInput(input: { stream: Readable; name: string; size: number | undefined }, format: string): Promise<{ fingerprint: string; source: AsyncIterable<Buffer> }> {
  const hash = crypto.createHash('sha256').update(`${format}\n`);
  if (input.size !== undefined) {
    const fd = fs.openSync(input.name, 'r');
    try {
      const head = Buffer.alloc(Math.min(SAMPLE_BYTES, input.size));
      fs.readSync(fd, head, 0, head.length, 0);
      const tail = Buffer.alloc(Math.min(SAMPLE_BYTES, input.size));
      fs.readSync(fd, tail, 0, tail.length, input.size - tail.length);
      hash.update(`${input.size}\n`).update(head).update(tail);
    } finally {
      fs.closeSync(fd);
    }
    return { fingerprint: hash.digest('hex').slice(0, 32), source: input.stream };
  }
  const iterator = input.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const held: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < STDIN_SAMPLE_BYTES) {
    const next = await iterator.next();
    if (next.done === true) {
      ended = true;
      break;
    }
    held.push(next.value);
    length += next.value.length;
  }
  hash.update(Buffer.concat(held).subarray(0, STDIN_SAMPLE_BYTES));
  async function* source(): AsyncGenerator<Buffer> {
    yield* held;
    if (ended) return;
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) yield next.value;
  }
  return { fingerprint: hash.digest('hex').slice(0, 32), source: source() };
}

export interface ResumePlan {
  /** Record ranges committed by earlier runs (empty for a fresh load). */
  done: DoneRange[];
  /** Rows those runs inserted. */
  rowsBefore: number;
  /** Where the records after the committed ones from the start begin: a file is read on from there. */
  seek: (DoneRange & { next: InputPosition }) | undefined;
  /** The earlier run finished: nothing is left to load. */
  complete: boolean;
  /** Records one window's progress; runs in the window's transaction. */
  record: (client: pg.Client, window: DoneRange, rows: number) => Promise<void>;
  /** Marks the load complete. */
  finish: (client: pg.Client) => Promise<void>;
  /** After a failure: waits until the windows committed so far are on disk (best effort). */
  flush: (client: pg.Client) => Promise<void>;
}

/** Reads (and creates on demand) the progress of load `loadId` into `target`. */
export async function planResume(client: pg.Client, target: Target, loadId: string, fingerprint: string, resume: boolean): Promise<ResumePlan> {
  const table = `${quoteIdent(target.schema)}.${PROGRESS_TABLE}`;
  const key = [displayTable(target), loadId];
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${table} (target text NOT NULL, load_id text NOT NULL, fingerprint text NOT NULL, first_record int8 NOT NULL, end_record int8 NOT NULL, rows int8 NOT NULL, ` +
      `committed_at timestamptz NOT NULL DEFAULT now(), next_byte int8, next_line int8, PRIMARY KEY (target, load_id, first_record))`,
  );
  type Row = { fingerprint: string; first_record: string; end_record: string; rows: string; next_byte: string | null; next_line: string | null };
  const select = () => client.query<Row>(`SELECT fingerprint, first_record, end_record, rows, next_byte, next_line FROM ${table} WHERE target = $1 AND load_id = $2 ORDER BY first_record`, key);
  const found = await select().catch(async (error: unknown) => {
    // A table made by a pgfactory that did not record input positions yet.
    if ((error as { code?: string }).code !== '42703') throw error;
    await client.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS next_byte int8, ADD COLUMN IF NOT EXISTS next_line int8`);
    return select();
  });
  const rows = found.rows;
  const complete = rows.some((row) => row.first_record === '-1');
  const rowsBefore = rows.reduce((sum, row) => sum + Number(row.rows), 0);
  const shown = `load ${JSON.stringify(loadId)} into ${displayTable(target)}`;
  if (resume && rows.length > 0 && rows[0].fingerprint !== fingerprint) {
    throw new UsageError(`--resume: ${shown} was started from a different input (fingerprint ${rows[0].fingerprint}, this input ${fingerprint}); give this input another --load-id, or drop --resume`);
  }
  if (!resume && rows.length > 0 && !complete) {
    throw new UsageError(`${shown} stopped part-way earlier (${rowsBefore} row${rowsBefore === 1 ? '' : 's'} committed): pass --resume to load the rest, or --load-id NAME to start a new load`);
  }
  if (!resume && complete) await client.query(`DELETE FROM ${table} WHERE target = $1 AND load_id = $2`, key);
  const kept = resume ? rows.filter((row) => row.first_record !== '-1') : [];
  const done: DoneRange[] = kept.map((row) => ({
    from: Number(row.first_record),
    to: Number(row.end_record),
    next: row.next_byte !== null && row.next_line !== null ? { byte: Number(row.next_byte), line: Number(row.next_line) } : undefined,
  }));
  return {
    done,
    rowsBefore: resume ? rowsBefore : 0,
    seek: committedFromStart(done),
    complete: resume && complete,
    record: async (c, window, inserted) => {
      await c.query('SET LOCAL synchronous_commit = off');
      await c.query(`INSERT INTO ${table} (target, load_id, fingerprint, first_record, end_record, rows, next_byte, next_line) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
        ...key, fingerprint, window.from, window.to, inserted, window.next?.byte ?? null, window.next?.line ?? null,
      ]);
    },
    finish: async (c) => {
      await c.query(`INSERT INTO ${table} (target, load_id, fingerprint, first_record, end_record, rows) VALUES ($1, $2, $3, -1, -1, 0) ON CONFLICT DO NOTHING`, [...key, fingerprint]);
    },
    flush: async (c) => {
      // A transaction with an xid writes a commit record, and a synchronous commit waits for the
      // WAL up to it: all earlier commits included.
      await c.query('BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_current_xact_id(); COMMIT').catch(() => c.query('ROLLBACK').catch(() => undefined));
    },
  };
}

/**
 * The furthest point up to which every record is committed (windows of parallel workers commit
 * out of order) and whose input position is known; undefined when there is nothing to skip. The
 * done ranges past it are still skipped record by record.
 */
export function committedFromStart(done: DoneRange[]): (DoneRange & { next: InputPosition }) | undefined {
  let reached = 0;
  let known: (DoneRange & { next: InputPosition }) | undefined;
  for (const range of [...done].sort((a, b) => a.from - b.from)) {
    if (range.from > reached) break;
    if (range.to <= reached) continue;
    reached = range.to;
    if (range.next !== undefined) known = { from: 0, to: range.to, next: range.next };
  }
  return known;
}
