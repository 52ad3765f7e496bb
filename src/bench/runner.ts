// One thread's share of a bench run: its own connection factory and CLIENTS concurrent client
// loops, each running the query through `withConnection` until the time or the op count is
// reached. Used directly by the main thread (one job) and by every worker thread (several jobs).
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { createConnectionFactory, type ConnectionFactory, type FactoryMode, type FactoryStats } from '../factory.js';
import { formatServerError, isDatabaseError } from '../db-errors.js';
import type { ConnectionSettings } from '../settings.js';
import { queryMessage, SkippingQuery, type ResultPaths } from './skipping-query.js';
import { LatencyRecorder, PROGRESS, PROGRESS_FIELDS, type SerializedLatency } from './stats.js';

export interface RunnerSpec {
  mode: FactoryMode;
  sql: string;
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
}

/** Sum and count of one connect phase, for its average. */
export interface PhaseTotal {
  sum: number;
  count: number;
}

/** What one thread measured, as plain data. */
export interface ShardResult {
  ops: number;
  errors: number;
  /** From the start of the measured phase to the end of the last operation. */
  elapsedS: number;
  latency: SerializedLatency;
  connect: SerializedLatency;
  close: SerializedLatency;
  phases: { tcp: PhaseTotal; tls: PhaseTotal; startup: PhaseTotal };
  /** Distinct error messages with how often each occurred (first ones only). */
  errorMessages: Array<[string, number]>;
  factory: FactoryStats;
  /** Which way the operations' results were read (warm-up included). */
  resultPaths: ResultPaths;
}

export interface PreparedRunner {
  run(): Promise<ShardResult>;
  /** Stops starting operations and cancels the running ones (Ctrl-C). */
  stop(): void;
}

const MAX_DISTINCT_ERRORS = 20;

function runSkipping(client: pg.Client, text: string, message: Buffer, paths: ResultPaths): Promise<void> {
  return new Promise((resolve, reject) => {
    client.query(new SkippingQuery(text, message, resolve, reject, paths));
  });
}

export function describeError(error: unknown): string {
  if (isDatabaseError(error)) return formatServerError(error).split('\n')[0];
  return error instanceof Error ? error.message : String(error);
}

/**
 * Creates the factory and, in pooled mode, opens this thread's connections before the clock
 * starts (as pgbench opens its connections before measuring). `progress` is a running-totals slot
 * (PROGRESS_FIELDS numbers at `slot`) that the main thread reads for `--progress` lines.
 */
export async function prepareRunner(settings: ConnectionSettings, spec: RunnerSpec, progress: Float64Array, slot: number): Promise<PreparedRunner> {
  let recording = false;
  const latency = new LatencyRecorder();
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
    onConnect: (timing) => {
      if (!recording) return;
      connect.record(timing.total_ms);
      addPhase(phases.tcp, timing.tcp_ms);
      addPhase(phases.tls, timing.tls_ms);
      addPhase(phases.startup, timing.startup_ms);
    },
    onClose: (ms) => {
      if (recording) close.record(ms);
    },
  });

  if (spec.mode === 'pooled') {
    // All requests are issued before any finishes, so the pool opens one connection for each.
    const opening = Math.min(spec.clients, spec.poolSize);
    await Promise.allSettled(Array.from({ length: opening }, () => factory.withConnection(async () => undefined)));
  }

  const sql = spec.sql;
  const message = queryMessage(sql);
  const resultPaths: ResultPaths = { skipping: 0, pg: 0 };
  const operation = () => factory.withConnection((client) => runSkipping(client, sql, message, resultPaths));
  const base = slot * PROGRESS_FIELDS;
  let stopped = false;
  let ops = 0;
  let errors = 0;
  const errorMessages = new Map<string, number>();

  return {
    stop() {
      if (stopped) return;
      stopped = true;
      void factory.cancelActive();
    },
    async run(): Promise<ShardResult> {
      const startedAt = performance.now();
      const measureFrom = startedAt + spec.warmupS * 1000;
      const endAt = spec.durationS !== undefined ? measureFrom + spec.durationS * 1000 : Infinity;
      let lastEnd = measureFrom;
      recording = spec.warmupS <= 0;

      const client = async () => {
        while (!stopped && performance.now() < measureFrom) {
          await operation().catch(() => undefined);
        }
        recording = true;
        let done = 0;
        while (!stopped) {
          if (spec.opsPerClient !== undefined ? done >= spec.opsPerClient : performance.now() >= endAt) break;
          done += 1;
          const began = performance.now();
          try {
            await operation();
            const ended = performance.now();
            const ms = ended - began;
            latency.record(ms);
            progress[base + PROGRESS.latencySum] += ms;
            progress[base + PROGRESS.latencySumSquares] += ms * ms;
            lastEnd = ended;
          } catch (error) {
            errors += 1;
            progress[base + PROGRESS.errors] += 1;
            lastEnd = performance.now();
            const message = describeError(error);
            const seen = errorMessages.get(message);
            if (seen !== undefined) errorMessages.set(message, seen + 1);
            else if (errorMessages.size < MAX_DISTINCT_ERRORS) errorMessages.set(message, 1);
          }
          ops += 1;
          progress[base + PROGRESS.ops] += 1;
        }
      };
      try {
        await Promise.all(Array.from({ length: spec.clients }, client));
      } finally {
        recording = false;
        await factory.close();
      }
      return {
        ops,
        errors,
        elapsedS: Math.max(0, lastEnd - measureFrom) / 1000,
        latency: latency.serialize(),
        connect: connect.serialize(),
        close: close.serialize(),
        phases,
        errorMessages: [...errorMessages],
        factory: factory.stats(),
        resultPaths,
      };
    },
  };
}
