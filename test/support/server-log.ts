// The test server's own log, read through SQL (pg_read_binary_file needs a superuser, which the
// test server's user is): proof that something happened on the server, e.g. that a cancel request
// reached it, rather than the client merely going away.
import { sql } from '../helpers.js';
import { pollUntil } from './cli.js';

export interface ServerLog {
  /** What the server logged since `serverLogFromNow()` was called. */
  read(): Promise<string>;
  /** Polls (up to `timeoutMs`) until the log since then contains `text`; returns whether it did. */
  waitFor(text: string, timeoutMs?: number): Promise<boolean>;
}

/** Marks the current end of the server's log (pg_ctl -l server.log, or the logging collector's file). */
export async function serverLogFromNow(): Promise<ServerLog> {
  const [{ file }] = await sql<{ file: string }>("SELECT coalesce(pg_current_logfile(), 'server.log') AS file");
  const [{ size }] = await sql<{ size: string }>('SELECT size FROM pg_stat_file($1)', [file]);
  // Read as bytes: the file may grow by a half-written line while we read it.
  const read = async () => (await sql<{ bytes: Buffer }>('SELECT pg_read_binary_file($1, $2::bigint, 1000000000) AS bytes', [file, size]))[0].bytes.toString('utf8');
  return {
    read,
    waitFor: (text, timeoutMs = 30_000) => pollUntil(async () => (await read()).includes(text), timeoutMs),
  };
}

/** The line a backend logs when a cancel request stopped its statement (SQLSTATE 57014). */
export const cancelledLine = (pid: number) => `[${pid}] ERROR:  canceling statement due to user request`;
