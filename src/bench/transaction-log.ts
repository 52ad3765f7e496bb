// pgbench's per-transaction log (-l): a line per operation, or with --aggregate-interval a line
// per interval, in pgbench 15's formats and file names (PREFIX.PID for the first thread,
// PREFIX.PID.N for thread N), so the tools people already point at pgbench logs read them as
// they are. The main thread opens every file before the run (a prefix that cannot be written
// fails before anything connects); each thread writes its own, buffered.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { UsageError } from '../errors.js';
import { PgPrng } from './script/random.js';

export interface TransactionLogSpec {
  fd: number;
  /** --sampling-rate: the fraction of operations written (1: every one). */
  samplingRate: number;
  /** --aggregate-interval in seconds; 0: a line per operation. */
  aggregateS: number;
  /** The fields pgbench adds: schedule lag (with --rate), skipped (with --rate and -L), retries (--max-tries other than 1). */
  withLag: boolean;
  withSkipped: boolean;
  withRetries: boolean;
  /** --failures-detailed: a failed operation's time reads serialization or deadlock where it was one. */
  failuresDetailed: boolean;
  /** Seeds the sampling's random draws. */
  seed: string;
}

/** How an operation ended, as the log's time field names it. */
export type OperationOutcome = 'ok' | 'failed' | 'serialization' | 'deadlock' | 'skipped';

/** count, sum, sum of squares, min, max (pgbench's SimpleStats; min and max are 0 while empty). */
class SimpleStats {
  count = 0;
  sum = 0;
  sum2 = 0;
  min = 0;
  max = 0;

  add(value: number): void {
    if (this.count === 0 || value < this.min) this.min = value;
    if (this.count === 0 || value > this.max) this.max = value;
    this.count += 1;
    this.sum += value;
    this.sum2 += value * value;
  }
}

/** Running totals of one aggregate interval (pgbench's StatsData). */
class IntervalTotals {
  count = 0;
  latency = new SimpleStats();
  lag = new SimpleStats();
  skipped = 0;
  retried = 0;
  retries = 0;
  serialization = 0;
  deadlock = 0;
}

/** Lines kept before one write. */
const FLUSH_LINES = 512;

/** pgbench prints these with %.0f: whole numbers, never in exponent notation. */
function whole(value: number): string {
  const rounded = Math.round(value);
  return Math.abs(rounded) < 1e21 ? String(rounded) : BigInt(rounded).toString();
}

/** Microseconds since the Unix epoch for a performance.now() reading. */
export function epochMicros(at: number): number {
  return Math.round((performance.timeOrigin + at) * 1000);
}

export class TransactionLog {
  private lines: string[] = [];
  private readonly sampler: PgPrng | undefined;
  private totals = new IntervalTotals();
  /** Start of the interval being totalled, µs since the epoch. */
  private intervalStart = 0;

  constructor(private readonly spec: TransactionLogSpec, thread: number) {
    this.sampler = spec.samplingRate < 1 ? new PgPrng(BigInt(spec.seed) ^ BigInt(thread + 13)) : undefined;
  }

  /** The measured phase starts (µs since the epoch): the first aggregate interval starts here. */
  start(atUs: number): void {
    this.intervalStart = atUs;
  }

  /**
   * One operation of client `clientId`, its `number`-th; latency and lag in ms (lag only with a
   * rate), `endUs` when it ended (µs since the epoch).
   */
  operation(clientId: number, number: number, scriptIndex: number, outcome: OperationOutcome, latencyMs: number, lagMs: number, retries: number, endUs: number): void {
    const { spec } = this;
    if (spec.aggregateS > 0) {
      this.closeIntervalsBefore(endUs);
      this.total(outcome, latencyMs, lagMs, retries);
      return;
    }
    if (this.sampler !== undefined && this.sampler.double() > spec.samplingRate) return;
    // As pgbench: a failed or skipped operation's time is a word, and its lag 0.
    const ok = outcome === 'ok';
    const time = ok ? whole(latencyMs * 1000) : outcome === 'skipped' || spec.failuresDetailed ? outcome : 'failed';
    let line = `${clientId} ${number} ${time} ${scriptIndex} ${Math.floor(endUs / 1e6)} ${endUs % 1e6}`;
    if (spec.withLag) line += ` ${ok ? whole(lagMs * 1000) : '0'}`;
    if (spec.withRetries) line += ` ${retries}`;
    this.push(line);
  }

  /** The run ended at `endUs`: the last interval (aggregating) goes out, and everything is written. */
  finish(endUs: number): void {
    if (this.spec.aggregateS > 0) {
      this.closeIntervalsBefore(endUs);
      this.push(this.intervalLine());
    }
    this.flush();
  }

  private total(outcome: OperationOutcome, latencyMs: number, lagMs: number, retries: number): void {
    const totals = this.totals;
    if (outcome === 'skipped') {
      totals.skipped += 1;
      return;
    }
    if (retries > 0) {
      totals.retried += 1;
      totals.retries += retries;
    }
    if (outcome === 'ok') {
      totals.count += 1;
      totals.latency.add(latencyMs * 1000);
      if (this.spec.withLag) totals.lag.add(lagMs * 1000);
      return;
    }
    if (outcome === 'serialization') totals.serialization += 1;
    if (outcome === 'deadlock') totals.deadlock += 1;
  }

  /** Writes every interval that ended before `atUs`, empty ones too (as pgbench). */
  private closeIntervalsBefore(atUs: number): void {
    const lengthUs = this.spec.aggregateS * 1e6;
    while (this.intervalStart + lengthUs <= atUs) {
      this.push(this.intervalLine());
      this.intervalStart += lengthUs;
      this.totals = new IntervalTotals();
    }
  }

  /**
   * pgbench 15's aggregate line (as pgbench 15.18 writes it): interval_start num_transactions
   * sum_latency sum_latency_2 min_latency max_latency sum_lag sum_lag_2 min_lag max_lag skipped
   * retried retries serialization_failures deadlock_failures, 0 where an option is not given.
   * Other failures have no field: pgbench stops a client on them.
   */
  private intervalLine(): string {
    const { totals, spec } = this;
    const { latency, lag } = totals;
    const fields = [Math.floor(this.intervalStart / 1e6), totals.count, whole(latency.sum), whole(latency.sum2), whole(latency.min), whole(latency.max)];
    fields.push(whole(lag.sum), whole(lag.sum2), whole(lag.min), whole(lag.max), spec.withSkipped ? totals.skipped : 0);
    fields.push(spec.withRetries ? totals.retried : 0, spec.withRetries ? totals.retries : 0);
    fields.push(spec.failuresDetailed ? totals.serialization : 0, spec.failuresDetailed ? totals.deadlock : 0);
    return fields.join(' ');
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length >= FLUSH_LINES) this.flush();
  }

  private flush(): void {
    if (this.lines.length === 0) return;
    fs.writeSync(this.spec.fd, `${this.lines.join('\n')}\n`);
    this.lines = [];
  }
}

/**
 * The log files' names, as pgbench's: PREFIX.PID, then PREFIX.PID.N for thread N. Several modes
 * or targets in one run each get their own set: PREFIX.[TARGET.][MODE.]PID[.N].
 */
export function transactionLogNames(prefix: string, pid: number, threads: number, qualifiers: string[]): string[] {
  const base = [prefix, ...qualifiers, String(pid)].join('.');
  return Array.from({ length: threads }, (_, thread) => (thread === 0 ? base : `${base}.${thread}`));
}

/** Opens the files for writing (truncated, as pgbench's); a file that cannot be opened is a usage error. */
export function openTransactionLogs(names: string[]): number[] {
  const fds: number[] = [];
  try {
    for (const name of names) fds.push(fs.openSync(name, 'w'));
  } catch (error) {
    for (const fd of fds) fs.closeSync(fd);
    throw new UsageError(`-l/--transaction-log: cannot write "${names[fds.length]}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return fds;
}
