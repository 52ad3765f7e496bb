// What `insert` prints on stderr: the summary line, the dry-run line, notices, and a live progress
// bar on a terminal (cli-progress; nothing in CI). runInsert returns data and events; this turns
// them into text.
import type { Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import type { InsertSummary } from '../insert.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The one line a finished (or dry-run) insert prints. */
export function formatInsertSummary(summary: InsertSummary): string {
  if (summary.dryRun !== undefined) {
    const { rows, columns, malformed } = summary.dryRun;
    return `dry run: ${plural(rows, 'row')} would be inserted into ${summary.table} (columns: ${columns.join(', ')})`
      + `${malformed !== undefined ? `; ${plural(malformed, 'malformed row')} would be rejected` : ''}; nothing was written`;
  }
  const verb = summary.onConflict === 'update' ? 'inserted or updated' : 'inserted';
  const rate = summary.seconds > 0 ? Math.round(summary.rows / summary.seconds) : summary.rows;
  let line = `${verb} ${plural(summary.rows, 'row')} into ${summary.table} in ${summary.seconds.toFixed(2)} s (${rate} rows/s)`;
  if (summary.workers > 1) line += ` with ${summary.workers} workers`;
  if (summary.onConflict === 'nothing') line += `; skipped ${plural(summary.conflicts, 'conflicting row')}`;
  if (summary.onConflict === 'update') line += `; ${plural(summary.conflicts, 'row')} already up to date`;
  if (summary.rejectFile !== undefined) line += `; rejected ${plural(summary.rejected, 'row')}${summary.rejected > 0 ? ` (see ${summary.rejectFile})` : ''}`;
  if (summary.resumed !== undefined) line += `; resumed: ${plural(summary.resumed, 'row')} were loaded before`;
  return line;
}

export interface Progress {
  update(rows: number, bytesRead: number): void;
  stop(): void;
}

const NO_PROGRESS: Progress = { update: () => undefined, stop: () => undefined };

/** The rate is rows sent by every worker together, over the time since the load started. */
export function createProgress(stderr: Writable & { isTTY?: boolean }, totalBytes: number | undefined): Progress {
  if (stderr.isTTY !== true) return NO_PROGRESS;
  const started = Date.now();
  const sized = totalBytes !== undefined && totalBytes > 0;
  const bar = new cliProgress.SingleBar(
    {
      stream: stderr,
      format: sized ? '{bar} {percentage}% | {rows} rows | {rate} rows/s | {done} of {size}' : '{rows} rows | {rate} rows/s | {done} read',
      hideCursor: true,
      clearOnComplete: true,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(sized ? totalBytes : 1, 0, { rows: 0, rate: 0, done: mib(0), size: sized ? mib(totalBytes) : '' });
  return {
    update(rows, bytesRead) {
      const seconds = (Date.now() - started) / 1000;
      bar.update(sized ? bytesRead : 0, { rows, rate: seconds > 0 ? Math.round(rows / seconds) : 0, done: mib(bytesRead) });
    },
    stop() {
      bar.stop();
    },
  };
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
