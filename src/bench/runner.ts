// One thread's share of a bench run: its own connection factory and CLIENTS concurrent client
// loops, each running one script per operation through `withConnection` until the time or the op
// count is reached. Used directly by the main thread (one job) and by every worker thread (several
// jobs). With a rate, operations follow this thread's Poisson schedule (pgbench -R) and latency
// counts from the scheduled start, so a stall shows in the percentiles instead of hiding.
import { performance } from 'node:perf_hooks';
import { createConnectionFactory, type ConnectionFactory, type FactoryMode, type FactoryStats } from '../factory.js';
import { formatServerError, isDatabaseError } from '../db-errors.js';
import type { ConnectionSettings } from '../settings.js';
import { retryableFailure, ScriptChooser, ScriptClient, type ScriptVariables } from './script/execute.js';
import { PgPrng } from './script/random.js';
import { parseScript, type QueryMode, type ScriptSource } from './script/script.js';
import { readingSocket, type ResultPaths } from './skipping-query.js';
import { LatencyRecorder, type SerializedLatency } from './stats.js';
import { epochMicros, TransactionLog, type OperationOutcome, type TransactionLogSpec } from './transaction-log.js';

export interface RunnerSpec {
  mode: FactoryMode;
  scripts: ScriptSource[];
  queryMode: QueryMode;
  variables: ScriptVariables;
  /** :client_id of this thread's first client. */
  firstClientId: number;
  /** Client loops in this thread. */
  clients: number;
  /** This thread's share of the pool (pooled mode). */
  poolSize: number;
  /** Measure for this long (-T) … */
  durationS?: number;
  /** … or run exactly this many operations per client (-t). */
  opsPerClient?: number;
  /** Run unrecorded for this long first. */
  warmupS: number;
  /** This thread's share of --rate, operations per second. */
  rate?: number;
  latencyLimitMs?: number;
  /** Report an interval snapshot this often (--progress). */
  intervalS?: number;
  /** Time each script command (--report-per-command). */
  perCommand?: boolean;
  /** Tries per operation on a serialization failure or deadlock (--max-tries; 0: no limit). */
  maxTries: number;
  /** pgbench -l: this thread's log file and its format. */
  transactionLog?: TransactionLogSpec;
  /** This thread's number (its log file's suffix). */
  thread: number;
}

/** One script command's totals (--report-per-command): successful runs, their summed latency, failures, retries. */
export interface CommandTotal {
  count: number;
  sumMs: number;
  failures: number;
  retries: number;
}

/** Sum and count of one connect phase, for its average. */
export interface PhaseTotal {
  sum: number;
  count: number;
}

/** What one thread measured during one --progress interval. */
export interface IntervalSnapshot {
  index: number;
  /** Seconds from the start of the measured phase to this snapshot (the last one may be short). */
  elapsedS: number;
  ops: number;
  errors: number;
  skipped: number;
  latency: SerializedLatency;
}

/** What one thread measured, as plain data. */
export interface ShardResult {
  ops: number;
  errors: number;
  /** Failed operations whose last error was a serialization failure (40001) or a deadlock (40P01). */
  serializationFailures: number;
  deadlockFailures: number;
  /** Operations not started because they were already later than --latency-limit. */
  skipped: number;
  /** Successful operations that took longer than --latency-limit. */
  late: number;
  /** Operations tried again after a serialization failure or deadlock (--max-tries), and the tries again in all. */
  retried: number;
  retries: number;
  /** Wall-clock (epoch ms) start of the measured phase and end of its last operation. */
  startedAtMs: number;
  endedAtMs: number;
  /** From the start of the measured phase to the end of the last operation. */
  elapsedS: number;
  latency: SerializedLatency;
  /** With a rate: how late each operation started after its scheduled time. */
  lag: SerializedLatency;
  connect: SerializedLatency;
  close: SerializedLatency;
  phases: { tcp: PhaseTotal; tls: PhaseTotal; startup: PhaseTotal };
  /** Per script, in order: operations and failed ones. */
  scripts: Array<{ ops: number; errors: number }>;
  /** Distinct error messages with how often each occurred (first ones only). */
  errorMessages: Array<[string, number]>;
  /** With --report-per-command: per script, per command. */
  commands?: CommandTotal[][];
  factory: FactoryStats;
  /** Simple-protocol results stepped over unparsed, and those pg's parser read (see skipping-query.ts). */
  resultPaths: ResultPaths;
}

export interface PreparedRunner {
  run(onInterval?: (snapshot: IntervalSnapshot) => void): Promise<ShardResult>;
  /** Stops starting operations and cancels the running ones (Ctrl-C). */
  stop(): void;
}

const MAX_DISTINCT_ERRORS = 20;

export function describeError(error: unknown): string {
  if (isDatabaseError(error)) return formatServerError(error).split('\n')[0];
  return error instanceof Error ? error.message : String(error);
}

const sleepUntil = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));

/** pgbench's throttle: one Poisson schedule per thread, shared by its clients. */
class Schedule {
  private next: number;
  private readonly prng: PgPrng;
  constructor(private readonly meanGapUs: number, start: number, seed: bigint) {
    this.next = start;
    this.prng = new PgPrng(seed);
  }

  /** The next operation's scheduled start (performance.now() ms). */
  take(): number {
    // getPoissonRand: exponential gaps, in whole microseconds.
    const uniform = 1 - this.prng.double();
    this.next += Math.trunc(-Math.log(uniform) * this.meanGapUs + 0.5) / 1000;
    return this.next;
  }
}

/**
 * Creates the factory and, in pooled mode, opens this thread's connections before the clock
 * starts (as pgbench opens its connections before measuring).
 */
export async function prepareRunner(settings: ConnectionSettings, spec: RunnerSpec): Promise<PreparedRunner> {
  let recording = false;
  // Fresh mode closes in the background: the closes of the last operations end after the run.
  let recordingCloses = false;
  const latency = new LatencyRecorder();
  const lag = new LatencyRecorder();
  const connect = new LatencyRecorder();
  const close = new LatencyRecorder();
  const phases = { tcp: { sum: 0, count: 0 }, tls: { sum: 0, count: 0 }, startup: { sum: 0, count: 0 } };
  const addPhase = (phase: PhaseTotal, ms: number | undefined) => {
    if (ms === undefined) return;
    phase.sum += ms;
    phase.count += 1;
  };
  const factory: ConnectionFactory = createConnectionFactory(settings, {
    mode: spec.mode,
    poolSize: spec.poolSize,
    // As pgbench -C: the next operation does not wait for the previous backend's exit.
    closeInBackground: true,
    plainSocket: readingSocket,
    onConnect: (timing) => {
      if (!recording) return;
      connect.record(timing.total_ms);
      addPhase(phases.tcp, timing.tcp_ms);
      addPhase(phases.tls, timing.tls_ms);
      addPhase(phases.startup, timing.startup_ms);
    },
    onClose: (ms) => {
      if (recording || recordingCloses) close.record(ms);
    },
  });

  if (spec.mode === 'pooled') {
    // All requests are issued before any finishes, so the pool opens one connection for each.
    const opening = Math.min(spec.clients, spec.poolSize);
    await Promise.allSettled(Array.from({ length: opening }, () => factory.withConnection(async () => undefined)));
  }

  const scripts = spec.scripts.map(parseScript);
  const seed = BigInt(spec.variables.seed);
  const chooser = new ScriptChooser(scripts, new PgPrng(seed ^ BigInt(spec.firstClientId + 7)));
  const scriptCounts = scripts.map(() => ({ ops: 0, errors: 0 }));
  const commandTotals = spec.perCommand === true ? scripts.map((script) => script.commands.map(() => ({ count: 0, sumMs: 0, failures: 0, retries: 0 }))) : undefined;
  const resultPaths: ResultPaths = { skipping: 0, pg: 0 };
  let stopped = false;
  let ops = 0;
  let errors = 0;
  let serializationFailures = 0;
  let deadlockFailures = 0;
  let skipped = 0;
  let late = 0;
  let retried = 0;
  let retries = 0;
  const errorMessages = new Map<string, number>();
  let interval = { ops: 0, errors: 0, skipped: 0, latency: new LatencyRecorder() };
  const newInterval = () => ({ ops: 0, errors: 0, skipped: 0, latency: new LatencyRecorder() });

  return {
    stop() {
      if (stopped) return;
      stopped = true;
      void factory.cancelActive();
    },
    async run(onInterval): Promise<ShardResult> {
      const startedAt = performance.now();
      const measureFrom = startedAt + spec.warmupS * 1000;
      const wallStart = Date.now() + spec.warmupS * 1000;
      const endAt = spec.durationS !== undefined ? measureFrom + spec.durationS * 1000 : Infinity;
      const schedule = spec.rate !== undefined ? new Schedule(1e6 / spec.rate, measureFrom, seed ^ BigInt(spec.firstClientId + 11)) : undefined;
      let lastEnd = measureFrom;
      recording = spec.warmupS <= 0;
      const log = spec.transactionLog !== undefined ? new TransactionLog(spec.transactionLog, spec.thread) : undefined;
      log?.start(epochMicros(measureFrom));

      let intervalTimer: NodeJS.Timeout | undefined;
      let intervalIndex = 0;
      // Without --progress no interval histogram is kept (one HDR record per operation less).
      const reportIntervals = spec.intervalS !== undefined && onInterval !== undefined;
      if (spec.intervalS !== undefined && onInterval !== undefined) {
        const intervalMs = spec.intervalS * 1000;
        const tick = () => {
          const done = interval;
          interval = newInterval();
          onInterval({ index: intervalIndex, elapsedS: (performance.now() - measureFrom) / 1000, ops: done.ops, errors: done.errors, skipped: done.skipped, latency: done.latency.serialize() });
          intervalIndex += 1;
          intervalTimer = setTimeout(tick, Math.max(0, measureFrom + (intervalIndex + 1) * intervalMs - performance.now()));
        };
        intervalTimer = setTimeout(tick, Math.max(0, measureFrom + intervalMs - performance.now()));
      }

      const client = async (slot: number) => {
        const state = new ScriptClient(spec.firstClientId + slot, spec.variables, spec.queryMode, resultPaths);
        // Latency counts from here (the scheduled start with a rate). As in pgbench, no retry once
        // past --latency-limit or the end of the run.
        let from = 0;
        const withinLimit = () => {
          const now = performance.now();
          return now < endAt && (spec.latencyLimitMs === undefined || now - from <= spec.latencyLimitMs);
        };
        let running = 0;
        // This operation's tries again (the transaction log's retries field).
        let operationRetries = 0;
        // Counted here, where the final failures are counted too.
        const onRetry = (failedCommand: number) => {
          operationRetries += 1;
          if (!recording) return;
          retries += 1;
          if (operationRetries === 1) retried += 1;
          if (state.commandTotals !== undefined && failedCommand >= 0) state.commandTotals[running][failedCommand].retries += 1;
        };
        const operation = (scriptIndex: number) => {
          operationRetries = 0;
          running = scriptIndex;
          state.failedCommand = -1;
          return factory.withConnection((connection) => state.runWithRetries(connection, scripts[scriptIndex], scriptIndex, spec.maxTries, withinLimit, onRetry));
        };
        while (!stopped && performance.now() < measureFrom) {
          await operation(chooser.choose()).catch(() => undefined);
        }
        recording = true;
        state.commandTotals = commandTotals;
        const clientId = spec.firstClientId + slot;
        let done = 0;
        while (!stopped) {
          if (spec.opsPerClient !== undefined && done >= spec.opsPerClient) break;
          // Chosen before a skip, as pgbench chooses: a skipped operation's log line names its script.
          const scriptIndex = chooser.choose();
          let scheduled: number | undefined;
          if (schedule !== undefined) {
            scheduled = schedule.take();
            if (scheduled >= endAt) break;
            // pgbench -R -L: an operation already later than the limit is skipped, not run.
            if (spec.latencyLimitMs !== undefined && performance.now() > scheduled + spec.latencyLimitMs) {
              done += 1;
              skipped += 1;
              interval.skipped += 1;
              log?.operation(clientId, done, scriptIndex, 'skipped', 0, 0, 0, epochMicros(performance.now()));
              continue;
            }
            if (scheduled > performance.now()) await sleepUntil(scheduled);
            if (stopped) break;
          } else if (performance.now() >= endAt) break;
          done += 1;
          const began = performance.now();
          from = scheduled ?? began;
          try {
            await operation(scriptIndex);
            const ended = performance.now();
            const ms = ended - from;
            latency.record(ms);
            if (reportIntervals) interval.latency.record(ms);
            if (scheduled !== undefined) lag.record(began - scheduled);
            if (spec.latencyLimitMs !== undefined && ms > spec.latencyLimitMs) late += 1;
            lastEnd = ended;
            log?.operation(clientId, done, scriptIndex, 'ok', ms, scheduled !== undefined ? began - scheduled : 0, operationRetries, epochMicros(ended));
          } catch (error) {
            errors += 1;
            const outcome: OperationOutcome = retryableFailure(error) ?? 'failed';
            if (outcome === 'serialization') serializationFailures += 1;
            if (outcome === 'deadlock') deadlockFailures += 1;
            interval.errors += 1;
            scriptCounts[scriptIndex].errors += 1;
            // Not a command's failure when the connection could not be had.
            if (commandTotals !== undefined && state.failedCommand >= 0) commandTotals[scriptIndex][state.failedCommand].failures += 1;
            lastEnd = performance.now();
            log?.operation(clientId, done, scriptIndex, outcome, 0, 0, operationRetries, epochMicros(lastEnd));
            const message = describeError(error);
            const seen = errorMessages.get(message);
            if (seen !== undefined) errorMessages.set(message, seen + 1);
            else if (errorMessages.size < MAX_DISTINCT_ERRORS) errorMessages.set(message, 1);
          }
          ops += 1;
          interval.ops += 1;
          scriptCounts[scriptIndex].ops += 1;
        }
      };
      try {
        await Promise.all(Array.from({ length: spec.clients }, (_, slot) => client(slot)));
      } finally {
        recordingCloses = recording && spec.mode === 'fresh';
        recording = false;
        if (intervalTimer !== undefined) {
          clearTimeout(intervalTimer);
          // The operations since the last tick: a last, possibly short, interval.
          if (interval.ops + interval.skipped > 0) {
            onInterval!({ index: intervalIndex, elapsedS: (lastEnd - measureFrom) / 1000, ops: interval.ops, errors: interval.errors, skipped: interval.skipped, latency: interval.latency.serialize() });
          }
        }
        await factory.close();
        recordingCloses = false;
        log?.finish(epochMicros(lastEnd));
      }
      const elapsedMs = Math.max(0, lastEnd - measureFrom);
      return {
        ops,
        errors,
        serializationFailures,
        deadlockFailures,
        skipped,
        late,
        retried,
        retries,
        startedAtMs: wallStart,
        endedAtMs: wallStart + elapsedMs,
        elapsedS: elapsedMs / 1000,
        latency: latency.serialize(),
        lag: lag.serialize(),
        connect: connect.serialize(),
        close: close.serialize(),
        phases,
        scripts: scriptCounts,
        errorMessages: [...errorMessages],
        ...(commandTotals !== undefined ? { commands: commandTotals } : {}),
        factory: factory.stats(),
        resultPaths,
      };
    },
  };
}
