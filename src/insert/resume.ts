// Resumable loads (--commit-every): each committed window records its record range in a small
// table, in the same transaction as its rows, keyed by the target table, the load id and a
// fingerprint of the input. `--resume` reads those ranges and loads exactly the rest; an input
// whose fingerprint differs is refused. The fingerprint is the input's size and its first and
// last MiB (a file; stdin: its first 64 KiB, so a slow pipe starts loading soon), not a hash of
// everything: hashing a 10 GB file twice would cost more than the rows it saves.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type pg from 'pg';
import { UsageError } from '../errors.js';
import { quoteIdent } from '../sql.js';
import type { DoneRange } from './batch.js';
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
  /** The earlier run finished: nothing is left to load. */
  complete: boolean;
  /** Records one window's progress; runs in the window's transaction. */
  record: (client: pg.Client, window: DoneRange, rows: number) => Promise<void>;
  /** Marks the load complete. */
  finish: (client: pg.Client) => Promise<void>;
}

/** Reads (and creates on demand) the progress of load `loadId` into `target`. */
export async function planResume(client: pg.Client, target: Target, loadId: string, fingerprint: string, resume: boolean): Promise<ResumePlan> {
  const table = `${quoteIdent(target.schema)}.${PROGRESS_TABLE}`;
  const key = [displayTable(target), loadId];
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${table} (target text NOT NULL, load_id text NOT NULL, fingerprint text NOT NULL, first_record int8 NOT NULL, end_record int8 NOT NULL, rows int8 NOT NULL, committed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (target, load_id, first_record))`,
  );
  const found = await client.query<{ fingerprint: string; first_record: string; end_record: string; rows: string }>(
    `SELECT fingerprint, first_record, end_record, rows FROM ${table} WHERE target = $1 AND load_id = $2 ORDER BY first_record`,
    key,
  );
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
  return {
    done: kept.map((row) => ({ from: Number(row.first_record), to: Number(row.end_record) })),
    rowsBefore: resume ? rowsBefore : 0,
    complete: resume && complete,
    record: async (c, window, inserted) => {
      await c.query(`INSERT INTO ${table} (target, load_id, fingerprint, first_record, end_record, rows) VALUES ($1, $2, $3, $4, $5, $6)`, [...key, fingerprint, window.from, window.to, inserted]);
    },
    finish: async (c) => {
      await c.query(`INSERT INTO ${table} (target, load_id, fingerprint, first_record, end_record, rows) VALUES ($1, $2, $3, -1, -1, 0) ON CONFLICT DO NOTHING`, [...key, fingerprint]);
    },
  };
}
