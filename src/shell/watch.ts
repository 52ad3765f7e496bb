// `query --watch N` and the shell's `\watch N`: the same statements again every N seconds, each
// run under a header with the time, as psql's \watch prints it. Ctrl-C ends the loop (the caller
// aborts `signal`); a failing run ends it with that run's error.
import { setTimeout as sleep } from 'node:timers/promises';

export interface WatchOptions {
  intervalSeconds: number;
  /** One run; `run` counts from 1. */
  runOnce(run: number): Promise<void>;
  /** Writes the header before a run (`2026-12-01 22:05:03 (every 2s)`). */
  writeHeader(text: string): void | Promise<void>;
  /** Aborted by Ctrl-C: the loop ends quietly, also in the middle of a run. */
  signal: AbortSignal;
  now?: () => Date;
}

/** Runs until `signal` is aborted; a run's error is rethrown unless it came from the abort. */
export async function watch(options: WatchOptions): Promise<number> {
  const now = options.now ?? (() => new Date());
  const intervalMs = options.intervalSeconds * 1000;
  let run = 0;
  while (!options.signal.aborted) {
    run += 1;
    const started = Date.now();
    await options.writeHeader(`${formatWatchTime(now())} (every ${options.intervalSeconds}s)\n\n`);
    try {
      await options.runOnce(run);
    } catch (error) {
      if (options.signal.aborted) break;
      throw error;
    }
    // Runs start every N seconds, however long each took (never sooner than the last one ended).
    const wait = Math.max(0, intervalMs - (Date.now() - started));
    try {
      await sleep(wait, undefined, { signal: options.signal });
    } catch {
      break;
    }
  }
  return run;
}

/** Local time as `YYYY-MM-DD HH:MM:SS`. */
export function formatWatchTime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}
