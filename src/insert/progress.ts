// Progress on stderr: a live bar on a terminal (cli-progress), nothing in CI; the summary line is
// printed by the caller either way.
import type { Writable } from 'node:stream';
import cliProgress from 'cli-progress';

export interface Progress {
  update(rows: number, bytesRead: number): void;
  stop(): void;
}

const NO_PROGRESS: Progress = { update: () => undefined, stop: () => undefined };

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
