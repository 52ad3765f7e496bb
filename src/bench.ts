// `bench`: how much does opening a connection cost on this server, compared with reusing one, under
// a pgbench workload? Runs the scripts in `fresh` mode (a new connection per operation, like
// `pgbench -C`) and/or in `pooled` mode (the factory's pool), each with CLIENTS concurrent clients
// spread over JOBS threads (like pgbench -c/-j), against one or several targets, and merges the
// threads' exact counters and HDR histograms.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { ConnectError, EXIT, InterruptedError, PgfactoryError, UsageError } from './errors.js';
import type { ConnectionFactory, FactoryStats } from './factory.js';
import type { ConnectionSettings } from './settings.js';
import { prepareRunner, type CommandTotal, type IntervalSnapshot, type PhaseTotal, type RunnerSpec, type ShardResult } from './bench/runner.js';
import type { QueryMode, ScriptSource } from './bench/script/script.js';
import type { ResultPaths } from './bench/skipping-query.js';
import { LatencyRecorder } from './bench/stats.js';
import { openTransactionLogs, transactionLogNames } from './bench/transaction-log.js';
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
  scripts: ScriptSource[];
  queryMode: QueryMode;
  /** -D name=value. */
  defines: Array<[string, string]>;
  /** -s: :scale for custom scripts (built-ins read pgbench_branches). */
  scale?: number;
  /** --random-seed; default a random one. */
  randomSeed?: string;
  warmupS: number;
  /** Pooled mode's pool size; default the client count. */
  poolSize?: number;
  progressS?: number;
  /** --rate: operations per second over all clients. */
  rate?: number;
  latencyLimitMs?: number;
  /** -r: each script command's average latency and failures (pgbench -r). */
  reportPerCommand?: boolean;
  /** --max-tries: tries per operation on a serialization failure or deadlock (default 1; 0: no limit). */
  maxTries?: number;
  /** -l: pgbench's per-transaction log, written to PREFIX.PID[.THREAD] files. */
  transactionLog?: { prefix: string; samplingRate: number; aggregateS: number };
  /** --failures-detailed: serialization failures and deadlocks counted apart. */
  failuresDetailed?: boolean;
}

/** One --progress interval, all threads merged. */
export interface IntervalResult {
  index: number;
  /** Seconds from the start of the measured phase to the interval's end. */
  elapsedS: number;
  intervalS: number;
  ops: number;
  errors: number;
  skipped: number;
  latency: LatencyRecorder;
}

export interface ModeResult {
  mode: BenchMode;
  clients: number;
  jobs: number;
  poolSize: number | undefined;
  ops: number;
  errors: number;
  /** Failed operations whose last error was a serialization failure, or a deadlock. */
  serializationFailures: number;
  deadlockFailures: number;
  skipped: number;
  late: number;
  /** Operations tried again (--max-tries), and the tries again in all. */
  retried: number;
  retries: number;
  durationS: number;
  startedAtMs: number;
  endedAtMs: number;
  latency: LatencyRecorder;
  lag: LatencyRecorder;
  connect: LatencyRecorder;
  close: LatencyRecorder;
  phases: { tcp: PhaseTotal; tls: PhaseTotal; startup: PhaseTotal };
  scripts: Array<{ ops: number; errors: number }>;
  intervals: IntervalResult[];
  errorMessages: Map<string, number>;
  /** With --report-per-command: per script, per command. */
  commands?: CommandTotal[][];
  /** Simple-protocol results stepped over unparsed, and those pg's parser read (see src/bench/skipping-query.ts). */
  resultPaths: ResultPaths;
  factory: Omit<FactoryStats, 'mode'>;
  /** Set by `bench merge`: runs side by side on several machines add their rates. */
  opsPerSec?: number;
}

/** A server to run against: `--target NAME=DSN`, or the command's own connection (name ''). */
export interface BenchTarget {
  name: string;
  settings: ConnectionSettings;
  probe: ConnectionFactory;
}

export interface TargetResult {
  name: string;
  serverVersion: string;
  settings: ConnectionSettings;
  /** :scale as used (from pgbench_branches for built-ins). */
  scale: number;
  modes: Partial<Record<BenchMode, ModeResult>>;
}

export interface BenchResult {
  options: BenchOptions;
  seed: string;
  startedAtMs: number;
  endedAtMs: number;
  targets: TargetResult[];
}

export interface BenchHooks {
  /** One merged --progress interval. */
  onInterval?: (target: string, mode: BenchMode, interval: IntervalResult) => void;
  /** True once Ctrl-C was pressed: stop starting operations. */
  interrupted: () => boolean;
}

/** Splits `total` into `parts` near-equal whole shares, larger ones first. */
export function splitEvenly(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, index) => Math.floor(total / parts) + (index < total % parts ? 1 : 0));
}

export async function runBench(targets: BenchTarget[], options: BenchOptions, hooks: BenchHooks): Promise<BenchResult> {
  const seed = options.randomSeed ?? BigInt.asIntN(64, crypto.randomBytes(8).readBigUInt64BE()).toString();
  // One connection to each target first: a server that cannot be reached fails at once (exit 2), not after -T.
  const prepared = [];
  for (const target of targets) {
    const serverVersion = await target.probe.withConnection(async (client) => {
      const result = await client.query<{ server_version: string }>('SHOW server_version');
      return result.rows[0].server_version;
    });
    prepared.push({ target, serverVersion, scale: await findScale(target, options) });
  }
  const startedAtMs = Date.now();
  const results: TargetResult[] = [];
  // Mode by mode, every target in turn, so targets see the same conditions as close together as possible.
  const byTarget = prepared.map(({ target, serverVersion, scale }) => ({ name: target.name, serverVersion, settings: target.settings, scale, modes: {} as TargetResult['modes'] }));
  for (const mode of options.modes) {
    for (const [index, { target }] of prepared.entries()) {
      // Transaction log files of one run each: the target and mode join the name where there are several.
      const logQualifiers = [...(targets.length > 1 ? [target.name] : []), ...(options.modes.length > 1 ? [mode] : [])];
      byTarget[index].modes[mode] = await runMode(target, byTarget[index].scale, seed, mode, options, hooks, logQualifiers);
      if (hooks.interrupted()) throw new InterruptedError('interrupted: the benchmark was stopped');
    }
  }
  results.push(...byTarget);
  return { options, seed, startedAtMs, endedAtMs: Date.now(), targets: results };
}

/** :scale as pgbench sets it: count(*) of pgbench_branches when a built-in runs, else -s (1). */
async function findScale(target: BenchTarget, options: BenchOptions): Promise<number> {
  if (!options.scripts.some((script) => script.builtin) || options.defines.some(([name]) => name === 'scale')) return options.scale ?? 1;
  const where = target.name === '' ? '' : ` on target "${target.name}"`;
  try {
    const count = await target.probe.withConnection(async (client) => Number((await client.query<{ count: string }>('SELECT count(*) FROM pgbench_branches')).rows[0].count));
    if (count < 1) throw new UsageError(`count(*) from pgbench_branches is ${count}${where}: initialise the tables first (pgfactory bench init, or pgbench -i)`);
    return count;
  } catch (error) {
    if (error instanceof PgfactoryError) throw error;
    throw new UsageError(`the built-in scripts need pgbench's tables${where}: ${(error as Error).message} (create them with pgfactory bench init, or pgbench -i)`);
  }
}

async function runMode(target: BenchTarget, scale: number, seed: string, mode: BenchMode, options: BenchOptions, hooks: BenchHooks, logQualifiers: string[]): Promise<ModeResult> {
  const poolSize = options.poolSize ?? options.clients;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  let jobs = Math.min(options.jobs ?? Math.min(options.clients, cores), options.clients);
  // Every thread needs at least one pooled connection of its own.
  if (mode === 'pooled') jobs = Math.min(jobs, poolSize);
  const clientShares = splitEvenly(options.clients, jobs);
  const poolShares = splitEvenly(poolSize, jobs);
  const log = options.transactionLog;
  // Opened here, before any thread starts: descriptors belong to the process, so worker threads write to them too.
  const logFds = log !== undefined ? openTransactionLogs(transactionLogNames(log.prefix, process.pid, jobs, logQualifiers)) : [];
  const specs: RunnerSpec[] = clientShares.map((clients, index) => ({
    mode,
    scripts: options.scripts,
    queryMode: options.queryMode,
    variables: { defines: options.defines, scale, seed },
    firstClientId: clientShares.slice(0, index).reduce((sum, share) => sum + share, 0),
    clients,
    poolSize: mode === 'pooled' ? poolShares[index] : clients,
    durationS: options.durationS,
    opsPerClient: options.opsPerClient,
    warmupS: options.warmupS,
    // pgbench -R: each thread runs its clients' share of the rate.
    rate: options.rate !== undefined ? (options.rate * clients) / options.clients : undefined,
    latencyLimitMs: options.latencyLimitMs,
    intervalS: options.progressS,
    perCommand: options.reportPerCommand,
    maxTries: options.maxTries ?? 1,
    thread: index,
    ...(log !== undefined ? {
      transactionLog: {
        fd: logFds[index],
        samplingRate: log.samplingRate,
        aggregateS: log.aggregateS,
        withLag: options.rate !== undefined,
        withSkipped: options.rate !== undefined && options.latencyLimitMs !== undefined,
        withRetries: (options.maxTries ?? 1) !== 1,
        failuresDetailed: options.failuresDetailed === true,
        seed,
      },
    } : {}),
  }));

  const intervals = new IntervalMerger(jobs, options.progressS ?? 0, (interval) => hooks.onInterval?.(target.name, mode, interval));
  let shards: ShardResult[];
  try {
    shards = jobs === 1 ? await runInline(target.settings, specs[0], intervals, hooks) : await runInWorkers(target.settings, specs, intervals, hooks);
  } finally {
    for (const fd of logFds) fs.closeSync(fd);
  }
  intervals.flush();
  return mergeShards(mode, options, jobs, mode === 'pooled' ? poolSize : undefined, shards, intervals.done);
}

/** Collects the threads' snapshots of each interval and merges an interval once every thread sent it. */
class IntervalMerger {
  readonly done: IntervalResult[] = [];
  private readonly pending = new Map<number, { parts: number; interval: IntervalResult }>();

  constructor(private readonly threads: number, private readonly intervalS: number, private readonly emit: (interval: IntervalResult) => void) {}

  add(snapshot: IntervalSnapshot): void {
    let entry = this.pending.get(snapshot.index);
    if (entry === undefined) {
      const interval: IntervalResult = { index: snapshot.index, elapsedS: 0, intervalS: 0, ops: 0, errors: 0, skipped: 0, latency: new LatencyRecorder() };
      this.pending.set(snapshot.index, (entry = { parts: 0, interval }));
    }
    entry.parts += 1;
    // Every thread's clock ticks on the same boundaries; a short last interval ends with the latest thread.
    entry.interval.elapsedS = Math.max(entry.interval.elapsedS, Math.min(snapshot.elapsedS, (snapshot.index + 1) * this.intervalS));
    entry.interval.intervalS = Math.max(1e-9, entry.interval.elapsedS - snapshot.index * this.intervalS);
    entry.interval.ops += snapshot.ops;
    entry.interval.errors += snapshot.errors;
    entry.interval.skipped += snapshot.skipped;
    entry.interval.latency.merge(snapshot.latency);
    if (entry.parts === this.threads) this.finish(snapshot.index);
  }

  /** At the end: intervals some thread never reached (it finished its -t early) go out as they are. */
  flush(): void {
    for (const index of [...this.pending.keys()].sort((a, b) => a - b)) this.finish(index);
  }

  private finish(index: number): void {
    const entry = this.pending.get(index)!;
    this.pending.delete(index);
    this.done.push(entry.interval);
    this.emit(entry.interval);
  }
}

/** pgbench -P style: `progress (pooled): 5.0 s, 10251.2 ops/s, lat 0.097 ms stddev 0.013, 0 failed`. */
export function progressLine(label: string, interval: IntervalResult, withRate: boolean): string {
  const successes = interval.ops - interval.errors;
  const { mean, stddev } = interval.latency;
  let line = `progress (${label}): ${interval.elapsedS.toFixed(1)} s, ${(successes / interval.intervalS).toFixed(1)} ops/s, lat ${(successes > 0 ? mean : 0).toFixed(3)} ms stddev ${stddev.toFixed(3)}, ${interval.errors} failed`;
  if (withRate) line += `, ${interval.skipped} skipped`;
  return line;
}

function watchInterrupt(hooks: BenchHooks, stop: () => void): () => void {
  const timer = setInterval(() => {
    if (hooks.interrupted()) stop();
  }, 50);
  return () => clearInterval(timer);
}

async function runInline(settings: ConnectionSettings, spec: RunnerSpec, intervals: IntervalMerger, hooks: BenchHooks): Promise<ShardResult[]> {
  const runner = await prepareRunner(settings, spec);
  const stopWatching = watchInterrupt(hooks, () => runner.stop());
  try {
    return [await runner.run((snapshot) => intervals.add(snapshot))];
  } finally {
    stopWatching();
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

async function runInWorkers(settings: ConnectionSettings, specs: RunnerSpec[], intervals: IntervalMerger, hooks: BenchHooks): Promise<ShardResult[]> {
  const entry = workerEntry();
  // structuredClone drops the non-enumerable password: hand it over explicitly.
  const plainSettings: ConnectionSettings = { ...settings, password: settings.password };
  const workers = specs.map((spec) => new (workerThreads().Worker)(entry, { workerData: { settings: plainSettings, spec } satisfies WorkerInput }));
  const messages = workers.map((worker) => messageQueue(worker, (snapshot) => intervals.add(snapshot)));
  try {
    const ready = await Promise.all(messages.map((next) => next()));
    const failed = ready.find((message) => message.type === 'error');
    if (failed !== undefined && failed.type === 'error') throw new ConnectError(failed.message);
    const stopWatching = watchInterrupt(hooks, () => workers.forEach((worker) => worker.postMessage({ type: 'stop' })));
    try {
      for (const worker of workers) worker.postMessage({ type: 'start' });
      const done = await Promise.all(messages.map((next) => next()));
      return done.map((message) => {
        if (message.type !== 'done') throw new Error(message.type === 'error' ? message.message : 'unexpected message from a bench worker');
        return message.result;
      });
    } finally {
      stopWatching();
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/** Turns a worker's messages into a pull queue (intervals go to `onInterval`); an exit or crash becomes an error message. */
function messageQueue(worker: Worker, onInterval: (snapshot: IntervalSnapshot) => void): () => Promise<WorkerMessage> {
  const queued: WorkerMessage[] = [];
  const waiting: Array<(message: WorkerMessage) => void> = [];
  const push = (message: WorkerMessage) => {
    if (message.type === 'interval') {
      onInterval(message.snapshot);
      return;
    }
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

function mergeShards(mode: BenchMode, options: BenchOptions, jobs: number, poolSize: number | undefined, shards: ShardResult[], intervals: IntervalResult[]): ModeResult {
  const sum = (pick: (shard: ShardResult) => number) => shards.reduce((total, shard) => total + pick(shard), 0);
  const sumPhase = (pick: (shard: ShardResult) => PhaseTotal): PhaseTotal => ({ sum: sum((shard) => pick(shard).sum), count: sum((shard) => pick(shard).count) });
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
    ops: sum((shard) => shard.ops),
    errors: sum((shard) => shard.errors),
    serializationFailures: sum((shard) => shard.serializationFailures),
    deadlockFailures: sum((shard) => shard.deadlockFailures),
    skipped: sum((shard) => shard.skipped),
    late: sum((shard) => shard.late),
    retried: sum((shard) => shard.retried),
    retries: sum((shard) => shard.retries),
    // The threads run side by side: the run lasted as long as the slowest.
    durationS: Math.max(...shards.map((shard) => shard.elapsedS)),
    startedAtMs: Math.min(...shards.map((shard) => shard.startedAtMs)),
    endedAtMs: Math.max(...shards.map((shard) => shard.endedAtMs)),
    latency: LatencyRecorder.fromSerialized(shards.map((shard) => shard.latency)),
    lag: LatencyRecorder.fromSerialized(shards.map((shard) => shard.lag)),
    connect: LatencyRecorder.fromSerialized(shards.map((shard) => shard.connect)),
    close: LatencyRecorder.fromSerialized(shards.map((shard) => shard.close)),
    phases: { tcp: sumPhase((shard) => shard.phases.tcp), tls: sumPhase((shard) => shard.phases.tls), startup: sumPhase((shard) => shard.phases.startup) },
    scripts: options.scripts.map((_, index) => ({ ops: sum((shard) => shard.scripts[index].ops), errors: sum((shard) => shard.scripts[index].errors) })),
    intervals,
    errorMessages,
    ...(options.reportPerCommand === true ? { commands: sumCommandTotals(shards.map((shard) => shard.commands ?? [])) } : {}),
    factory: { ...(factory as unknown as Omit<FactoryStats, 'mode'>), hosts, failovers },
    resultPaths: { skipping: sum((shard) => shard.resultPaths.skipping), pg: sum((shard) => shard.resultPaths.pg) },
  };
}

/** Per script, per command: the totals of several threads or runs added up (all of the same scripts). */
export function sumCommandTotals(parts: CommandTotal[][][]): CommandTotal[][] {
  const [first = []] = parts;
  return first.map((script, s) => script.map((_, c) => ({
    count: parts.reduce((total, part) => total + part[s][c].count, 0),
    sumMs: parts.reduce((total, part) => total + part[s][c].sumMs, 0),
    failures: parts.reduce((total, part) => total + part[s][c].failures, 0),
    retries: parts.reduce((total, part) => total + part[s][c].retries, 0),
  })));
}

/** The run's verdict for the exit status; the report has already been printed. */
export class BenchOutcomeError extends PgfactoryError {
  constructor(message: string, exitCode: typeof EXIT.connect | typeof EXIT.server, code?: string) {
    super(message, code ?? (exitCode === EXIT.connect ? 'bench-no-success' : 'bench-error-rate'), exitCode);
  }
}

const targetLabel = (target: TargetResult, mode: ModeResult) => (target.name === '' ? `${mode.mode} mode` : `target ${target.name}, ${mode.mode} mode`);

/** Exit 2 when a mode had no successful operation; exit 3 when its error rate exceeds `maxErrorRate`. */
export function checkOutcome(result: BenchResult, maxErrorRate: number | undefined): void {
  for (const target of result.targets) {
    for (const mode of Object.values(target.modes)) {
      if (mode.ops === mode.errors) throw new BenchOutcomeError(`${targetLabel(target, mode)}: no operation succeeded (${mode.errors} of ${mode.ops} failed)`, EXIT.connect);
    }
  }
  if (maxErrorRate === undefined) return;
  for (const target of result.targets) {
    for (const mode of Object.values(target.modes)) {
      const rate = mode.errors / mode.ops;
      if (rate > maxErrorRate) {
        throw new BenchOutcomeError(`${targetLabel(target, mode)}: error rate ${rate.toFixed(4)} (${mode.errors} of ${mode.ops}) exceeds --max-error-rate ${maxErrorRate}`, EXIT.server);
      }
    }
  }
}
