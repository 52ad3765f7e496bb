// `bench`: how much does opening a connection cost on this server, compared with reusing one?
// Runs the query in `fresh` mode (a new connection per operation, like `pgbench -C`) and/or in
// `pooled` mode (the factory's pool), each with CLIENTS concurrent clients spread over JOBS threads
// (like pgbench -c/-j), and merges the threads' exact counters and HDR histograms.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { ConnectError, EXIT, InterruptedError, PgfactoryError } from './errors.js';
import type { ConnectionFactory, FactoryStats } from './factory.js';
import type { ConnectionSettings } from './settings.js';
import { prepareRunner, type PhaseTotal, type RunnerSpec, type ShardResult } from './bench/runner.js';
import { LatencyRecorder, PROGRESS, PROGRESS_FIELDS } from './bench/stats.js';
import type { WorkerInput, WorkerMessage } from './bench/worker.js';

// Loaded when bench runs: esbuild hoists a static import of a built-in to the top of the bundle,
// where it would cost every command's start-up.
const workerThreads = (): typeof import('node:worker_threads') => createRequire(import.meta.url)('node:worker_threads');

export type BenchMode = 'fresh' | 'pooled';

export interface BenchOptions {
  modes: BenchMode[];
  clients: number;
  /** Threads to spread the clients over; default min(clients, CPU cores). 1 = the main thread. */
  jobs?: number;
  durationS?: number;
  opsPerClient?: number;
  sql: string;
  /** Where the SQL came from, for the report: 'default', 'query' or the file name. */
  sqlSource: string;
  warmupS: number;
  /** Pooled mode's pool size; default the client count. */
  poolSize?: number;
  progressS?: number;
}

export interface ModeResult {
  mode: BenchMode;
  clients: number;
  jobs: number;
  poolSize: number | undefined;
  ops: number;
  errors: number;
  durationS: number;
  latency: LatencyRecorder;
  connect: LatencyRecorder;
  close: LatencyRecorder;
  phases: { tcp: PhaseTotal; tls: PhaseTotal; startup: PhaseTotal };
  errorMessages: Map<string, number>;
  factory: Omit<FactoryStats, 'mode'>;
}

export interface BenchResult {
  serverVersion: string;
  options: BenchOptions;
  settings: ConnectionSettings;
  modes: Partial<Record<BenchMode, ModeResult>>;
}

export interface BenchHooks {
  /** A `--progress` line (without newline). */
  onProgress?: (line: string) => void;
  /** True once Ctrl-C was pressed: stop starting operations. */
  interrupted: () => boolean;
}

/** Splits `total` into `parts` near-equal whole shares, larger ones first. */
export function splitEvenly(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, index) => Math.floor(total / parts) + (index < total % parts ? 1 : 0));
}

export async function runBench(probe: ConnectionFactory, settings: ConnectionSettings, options: BenchOptions, hooks: BenchHooks): Promise<BenchResult> {
  // One connection first: a server that cannot be reached fails at once (exit 2), not after -T.
  const serverVersion = await probe.withConnection(async (client) => {
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0].server_version;
  });
  const modes: BenchResult['modes'] = {};
  for (const mode of options.modes) {
    modes[mode] = await runMode(settings, mode, options, hooks);
    if (hooks.interrupted()) throw new InterruptedError('interrupted: the benchmark was stopped');
  }
  return { serverVersion, options, settings, modes };
}

async function runMode(settings: ConnectionSettings, mode: BenchMode, options: BenchOptions, hooks: BenchHooks): Promise<ModeResult> {
  const poolSize = options.poolSize ?? options.clients;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  let jobs = Math.min(options.jobs ?? Math.min(options.clients, cores), options.clients);
  // Every thread needs at least one pooled connection of its own.
  if (mode === 'pooled') jobs = Math.min(jobs, poolSize);
  const clientShares = splitEvenly(options.clients, jobs);
  const poolShares = splitEvenly(poolSize, jobs);
  const specs: RunnerSpec[] = clientShares.map((clients, index) => ({
    mode,
    sql: options.sql,
    clients,
    poolSize: mode === 'pooled' ? poolShares[index] : clients,
    durationS: options.durationS,
    opsPerClient: options.opsPerClient,
    warmupS: options.warmupS,
  }));

  const progressBuffer = new SharedArrayBuffer(jobs * PROGRESS_FIELDS * Float64Array.BYTES_PER_ELEMENT);
  const progress = new Float64Array(progressBuffer);
  const shards = jobs === 1 ? await runInline(settings, specs[0], progress, options, hooks) : await runInWorkers(settings, specs, progressBuffer, progress, mode, options, hooks);
  return mergeShards(mode, options, jobs, mode === 'pooled' ? poolSize : undefined, shards);
}

/** Starts the timers shared by both ways of running: progress lines and the Ctrl-C check. */
function startTimers(mode: BenchMode, progress: Float64Array, options: BenchOptions, hooks: BenchHooks, stop: () => void): () => void {
  const startedAt = performance.now();
  const previous = { ops: 0, errors: 0, sum: 0, squares: 0 };
  const progressTimer = options.progressS !== undefined && hooks.onProgress !== undefined
    ? setInterval(() => {
        const now = { ops: 0, errors: 0, sum: 0, squares: 0 };
        for (let base = 0; base < progress.length; base += PROGRESS_FIELDS) {
          now.ops += progress[base + PROGRESS.ops];
          now.errors += progress[base + PROGRESS.errors];
          now.sum += progress[base + PROGRESS.latencySum];
          now.squares += progress[base + PROGRESS.latencySumSquares];
        }
        hooks.onProgress!(progressLine(mode, (performance.now() - startedAt) / 1000, options.progressS!, {
          ops: now.ops - previous.ops,
          errors: now.errors - previous.errors,
          sum: now.sum - previous.sum,
          squares: now.squares - previous.squares,
        }));
        Object.assign(previous, now);
      }, options.progressS * 1000)
    : undefined;
  const interruptTimer = setInterval(() => {
    if (hooks.interrupted()) stop();
  }, 50);
  return () => {
    if (progressTimer !== undefined) clearInterval(progressTimer);
    clearInterval(interruptTimer);
  };
}

/** pgbench -P style: `progress: 5.0 s, 10251.2 tps, lat 0.097 ms stddev 0.013, 0 failed`. */
export function progressLine(mode: BenchMode, elapsedS: number, intervalS: number, delta: { ops: number; errors: number; sum: number; squares: number }): string {
  const successes = delta.ops - delta.errors;
  const mean = successes > 0 ? delta.sum / successes : 0;
  const stddev = successes > 0 ? Math.sqrt(Math.max(0, delta.squares / successes - mean * mean)) : 0;
  return `progress (${mode}): ${elapsedS.toFixed(1)} s, ${(successes / intervalS).toFixed(1)} ops/s, lat ${mean.toFixed(3)} ms stddev ${stddev.toFixed(3)}, ${delta.errors} failed`;
}

async function runInline(settings: ConnectionSettings, spec: RunnerSpec, progress: Float64Array, options: BenchOptions, hooks: BenchHooks): Promise<ShardResult[]> {
  const runner = await prepareRunner(settings, spec, progress, 0);
  const stopTimers = startTimers(spec.mode, progress, options, hooks, () => runner.stop());
  try {
    return [await runner.run()];
  } finally {
    stopTimers();
  }
}

/** The worker entry next to the bundle (dist/bench-worker.js), wherever this chunk landed. */
export function workerEntry(): URL {
  for (const candidate of ['./bench-worker.js', '../bench-worker.js', '../../dist/bench-worker.js']) {
    const url = new URL(candidate, import.meta.url);
    if (fs.existsSync(fileURLToPath(url))) return url;
  }
  throw new Error('bench-worker.js not found next to the bundle: run `npm run build`');
}

async function runInWorkers(settings: ConnectionSettings, specs: RunnerSpec[], progressBuffer: SharedArrayBuffer, progress: Float64Array, mode: BenchMode, options: BenchOptions, hooks: BenchHooks): Promise<ShardResult[]> {
  const entry = workerEntry();
  // structuredClone drops the non-enumerable password: hand it over explicitly.
  const plainSettings: ConnectionSettings = { ...settings, password: settings.password };
  const workers = specs.map((spec, slot) => new (workerThreads().Worker)(entry, { workerData: { settings: plainSettings, spec, progress: progressBuffer, slot } satisfies WorkerInput }));
  const messages = workers.map((worker) => messageQueue(worker));
  try {
    const ready = await Promise.all(messages.map((next) => next()));
    const failed = ready.find((message) => message.type === 'error');
    if (failed !== undefined && failed.type === 'error') throw new ConnectError(failed.message);
    const stopTimers = startTimers(mode, progress, options, hooks, () => workers.forEach((worker) => worker.postMessage({ type: 'stop' })));
    try {
      for (const worker of workers) worker.postMessage({ type: 'start' });
      const done = await Promise.all(messages.map((next) => next()));
      return done.map((message) => {
        if (message.type !== 'done') throw new Error(message.type === 'error' ? message.message : 'unexpected message from a bench worker');
        return message.result;
      });
    } finally {
      stopTimers();
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/** Turns a worker's messages into a pull queue; an exit or crash becomes an error message. */
function messageQueue(worker: Worker): () => Promise<WorkerMessage> {
  const queued: WorkerMessage[] = [];
  const waiting: Array<(message: WorkerMessage) => void> = [];
  const push = (message: WorkerMessage) => {
    const next = waiting.shift();
    if (next !== undefined) next(message);
    else queued.push(message);
  };
  worker.on('message', push);
  worker.on('error', (error) => push({ type: 'error', message: error.message }));
  worker.on('exit', (code) => push({ type: 'error', message: `bench worker exited with code ${code}` }));
  return () => {
    const message = queued.shift();
    return message !== undefined ? Promise.resolve(message) : new Promise((resolve) => waiting.push(resolve));
  };
}

function mergeShards(mode: BenchMode, options: BenchOptions, jobs: number, poolSize: number | undefined, shards: ShardResult[]): ModeResult {
  const sumPhase = (pick: (shard: ShardResult) => PhaseTotal): PhaseTotal => ({
    sum: shards.reduce((total, shard) => total + pick(shard).sum, 0),
    count: shards.reduce((total, shard) => total + pick(shard).count, 0),
  });
  const errorMessages = new Map<string, number>();
  for (const shard of shards) for (const [message, count] of shard.errorMessages) errorMessages.set(message, (errorMessages.get(message) ?? 0) + count);
  const factory = {} as Record<string, number>;
  for (const shard of shards) {
    for (const [key, value] of Object.entries(shard.factory)) if (typeof value === 'number') factory[key] = (factory[key] ?? 0) + value;
  }
  // Per host, summed over the threads (every thread lists the same hosts in the same order).
  const hosts = (shards[0]?.factory.hosts ?? []).map((host, index) => ({
    host: host.host,
    connections_opened: shards.reduce((total, shard) => total + (shard.factory.hosts[index]?.connections_opened ?? 0), 0),
    connections_errors: shards.reduce((total, shard) => total + (shard.factory.hosts[index]?.connections_errors ?? 0), 0),
    connections_lost: shards.reduce((total, shard) => total + (shard.factory.hosts[index]?.connections_lost ?? 0), 0),
  }));
  const failovers = shards.flatMap((shard) => shard.factory.failovers ?? []);
  return {
    mode,
    clients: options.clients,
    jobs,
    poolSize,
    ops: shards.reduce((total, shard) => total + shard.ops, 0),
    errors: shards.reduce((total, shard) => total + shard.errors, 0),
    // The threads run side by side: the run lasted as long as the slowest.
    durationS: Math.max(...shards.map((shard) => shard.elapsedS)),
    latency: LatencyRecorder.fromSerialized(shards.map((shard) => shard.latency)),
    connect: LatencyRecorder.fromSerialized(shards.map((shard) => shard.connect)),
    close: LatencyRecorder.fromSerialized(shards.map((shard) => shard.close)),
    phases: { tcp: sumPhase((shard) => shard.phases.tcp), tls: sumPhase((shard) => shard.phases.tls), startup: sumPhase((shard) => shard.phases.startup) },
    errorMessages,
    factory: { ...(factory as unknown as Omit<FactoryStats, 'mode'>), hosts, failovers },
  };
}

/** The run's verdict for the exit status; the report has already been printed. */
export class BenchOutcomeError extends PgfactoryError {
  constructor(message: string, exitCode: typeof EXIT.connect | typeof EXIT.server) {
    super(message, exitCode === EXIT.connect ? 'bench-no-success' : 'bench-error-rate', exitCode);
  }
}

/** Exit 2 when a mode had no successful operation; exit 3 when its error rate exceeds `maxErrorRate`. */
export function checkOutcome(result: BenchResult, maxErrorRate: number | undefined): void {
  for (const mode of Object.values(result.modes)) {
    if (mode.ops === mode.errors) throw new BenchOutcomeError(`${mode.mode} mode: no operation succeeded (${mode.errors} of ${mode.ops} failed)`, EXIT.connect);
  }
  if (maxErrorRate === undefined) return;
  for (const mode of Object.values(result.modes)) {
    const rate = mode.errors / mode.ops;
    if (rate > maxErrorRate) {
      throw new BenchOutcomeError(`${mode.mode} mode: error rate ${rate.toFixed(4)} (${mode.errors} of ${mode.ops}) exceeds --max-error-rate ${maxErrorRate}`, EXIT.server);
    }
  }
}
