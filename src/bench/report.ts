// Bench results as text: the JSON document (a stable interface for CI), the side-by-side table,
// the overhead summary and the terminal histograms. Pure functions of a BenchResult.
import type { BenchResult, IntervalResult, ModeResult, TargetResult } from '../bench.js';
import { describeServer } from '../describe.js';
import { formatGrid } from '../output/table.js';
import type { CommandTotal } from './runner.js';
import { parseScript } from './script/script.js';
import { BUCKET_BOUNDS_MS, type LatencyRecorder } from './stats.js';

const round = (value: number, digits: number) => Number(value.toFixed(digits));
const ms = (value: number) => round(value, 3);

/** Successful operations per second of measured time (a merged report carries the sum of its parts). */
export function opsPerSec(result: ModeResult): number {
  if (result.opsPerSec !== undefined) return result.opsPerSec;
  const successes = result.ops - result.errors;
  return result.durationS > 0 ? successes / result.durationS : 0;
}

const phaseAvg = (phase: { sum: number; count: number }) => (phase.count > 0 ? ms(phase.sum / phase.count) : null);

/** Extra latency per operation in fresh mode, and how many times the pooled throughput is fresh's. */
export function overhead(target: Pick<TargetResult, 'modes'>): { overheadMs: number | null; throughputRatio: number | null } {
  const { fresh, pooled } = target.modes;
  if (fresh === undefined || pooled === undefined || fresh.latency.count === 0 || pooled.latency.count === 0) return { overheadMs: null, throughputRatio: null };
  const freshRate = opsPerSec(fresh);
  return {
    overheadMs: fresh.latency.mean - pooled.latency.mean,
    throughputRatio: freshRate > 0 ? opsPerSec(pooled) / freshRate : null,
  };
}

/**
 * How the results were read: `skipping` (stepped over on the socket, the fast path), `pg` (pg's
 * parser, when pg's socket could not be shared), `mixed`, or null when no simple-protocol query
 * ran (extended and prepared modes read results through pg by design; merged runs).
 */
export function resultPath(result: ModeResult): 'skipping' | 'pg' | 'mixed' | null {
  const { skipping, pg } = result.resultPaths;
  if (skipping === 0 && pg === 0) return null;
  return pg === 0 ? 'skipping' : skipping === 0 ? 'pg' : 'mixed';
}

const summaryJson = (recorder: LatencyRecorder) => {
  const summary = recorder.summary();
  return { avg: ms(summary.avg), p50: ms(summary.p50), p99: ms(summary.p99) };
};

/** Each command of each script as pgbench -r names it: its line and its first line of text. */
function commandLabels(options: BenchResult['options']): Array<Array<{ line: number; text: string }>> {
  return options.scripts.map((script) => {
    const lines = script.text.split('\n');
    return parseScript(script).commands.map((command) => ({
      line: command.line,
      text: (command.type === 'sql' ? command.text.trim().split('\n')[0] : lines[command.line - 1]).trim(),
    }));
  });
}

/** Whether operations are tried again after a serialization failure or deadlock (--max-tries other than 1). */
const retrying = (options: BenchResult['options']) => options.maxTries !== undefined && options.maxTries !== 1;

const averageMs = (total: CommandTotal) => (total.count > 0 ? total.sumMs / total.count : 0);

function perCommandJson(commands: CommandTotal[][], options: BenchResult['options']): Array<Record<string, unknown>> {
  const labels = commandLabels(options);
  return options.scripts.map((script, s) => ({
    script: script.name,
    commands: commands[s].map((total, c) => ({
      line: labels[s][c].line,
      command: labels[s][c].text,
      executed: total.count,
      failures: total.failures,
      retries: total.retries,
      latency_ms_avg: ms(averageMs(total)),
      latency_ms_sum: ms(total.sumMs),
    })),
  }));
}

function modeJson(result: ModeResult, options: BenchResult['options']): Record<string, unknown> {
  const latency = result.latency.summary();
  const json: Record<string, unknown> = {
    clients: result.clients,
    jobs: result.jobs,
    ops: result.ops,
    successes: result.ops - result.errors,
    errors: result.errors,
    serialization_failures: result.serializationFailures,
    deadlock_failures: result.deadlockFailures,
    duration_s: round(result.durationS, 3),
    started_at: new Date(result.startedAtMs).toISOString(),
    ended_at: new Date(result.endedAtMs).toISOString(),
    ops_per_sec: round(opsPerSec(result), 2),
    latency_ms: { avg: ms(latency.avg), stddev: ms(latency.stddev), p50: ms(latency.p50), p90: ms(latency.p90), p99: ms(latency.p99), max: ms(latency.max) },
    result_path: resultPath(result),
  };
  if (options.rate !== undefined) json.lag_ms = { ...summaryJson(result.lag), max: ms(result.lag.summary().max) };
  if (options.rate !== undefined || options.latencyLimitMs !== undefined) {
    json.skipped = result.skipped;
    json.late = result.late;
  }
  if (retrying(options)) {
    json.retried = result.retried;
    json.retries = result.retries;
  }
  if (result.mode === 'fresh') {
    json.connect_ms = { ...summaryJson(result.connect), tcp_avg: phaseAvg(result.phases.tcp), tls_avg: phaseAvg(result.phases.tls), startup_avg: phaseAvg(result.phases.startup) };
    json.close_ms = summaryJson(result.close);
  } else {
    json.pool_size = result.poolSize;
  }
  json.connections = {
    opened: result.factory.connections_opened,
    errors: result.factory.connections_errors,
    reused: result.factory.connections_reused,
    closed: result.factory.connections_closed,
    hosts: result.factory.hosts,
    failovers: result.factory.failovers.map((failover) => ({ ...failover, switch_ms: ms(failover.switch_ms) })),
  };
  if (options.scripts.length > 1) json.scripts = options.scripts.map((script, index) => ({ name: script.name, weight: script.weight, ...result.scripts[index] }));
  if (options.progressS !== undefined) json.intervals = result.intervals.map(intervalJson);
  if (result.commands !== undefined) json.per_command = perCommandJson(result.commands, options);
  json.error_messages = [...result.errorMessages].map(([message, count]) => ({ message, count }));
  // Everything `bench merge` needs to combine runs exactly: the HDR histograms and running totals.
  json.histograms = {
    latency: result.latency.serialize(),
    lag: result.lag.serialize(),
    connect: result.connect.serialize(),
    close: result.close.serialize(),
  };
  return json;
}

/** One --progress interval as JSON (also a --log NDJSON line, with target and mode added). */
export function intervalJson(interval: IntervalResult): Record<string, unknown> {
  const successes = interval.ops - interval.errors;
  return {
    elapsed_s: round(interval.elapsedS, 3),
    ops: interval.ops,
    errors: interval.errors,
    skipped: interval.skipped,
    ops_per_sec: round(successes / interval.intervalS, 2),
    latency_ms: { ...summaryJson(interval.latency), stddev: ms(interval.latency.stddev) },
  };
}

/** The workload: what must match for runs to be merged or compared. */
export function workloadJson(result: BenchResult): Record<string, unknown> {
  const { options } = result;
  const single = options.scripts.length === 1 ? options.scripts[0] : undefined;
  return {
    mode: options.modes.length === 2 ? 'both' : options.modes[0],
    clients: options.clients,
    jobs: options.jobs ?? null,
    duration_s: options.durationS ?? null,
    ops_per_client: options.opsPerClient ?? null,
    warmup_s: options.warmupS,
    pool_size: options.poolSize ?? options.clients,
    query: single !== undefined && !single.builtin ? single.text : null,
    file: single !== undefined && !single.builtin && single.name !== 'query' && single.name !== 'default' ? (single.name === 'stdin' ? '-' : single.name) : null,
    scripts: options.scripts.map((script) => ({ name: script.name, weight: script.weight, text: script.text })),
    protocol: options.queryMode,
    defines: Object.fromEntries(options.defines),
    scale: result.targets.length > 0 ? result.targets[0].scale : null,
    rate: options.rate ?? null,
    latency_limit_ms: options.latencyLimitMs ?? null,
    progress_s: options.progressS ?? null,
    random_seed: result.seed,
    // Only when set: results of earlier versions, without it, stay comparable.
    ...(retrying(options) ? { max_tries: options.maxTries } : {}),
  };
}

function connectionJson(target: TargetResult): Record<string, unknown> {
  const { settings } = target;
  // host/port: the first host, as before; hosts: every one, in the order they are tried.
  const hosts = settings.hosts.map((entry) => ({ host: entry.host, port: entry.port }));
  return { host: settings.host, port: settings.port, hosts, user: settings.user, dbname: settings.dbname, sslmode: settings.sslmode };
}

function targetModesJson(target: TargetResult, options: BenchResult['options']): Record<string, unknown> {
  const modes: Record<string, unknown> = {};
  for (const mode of ['fresh', 'pooled'] as const) {
    const modeResult = target.modes[mode];
    if (modeResult !== undefined) modes[mode] = modeJson(modeResult, options);
  }
  const { overheadMs, throughputRatio } = overhead(target);
  return {
    modes,
    overhead_ms_per_op: overheadMs === null ? null : ms(overheadMs),
    pooled_vs_fresh_throughput: throughputRatio === null ? null : round(throughputRatio, 2),
  };
}

/**
 * The `--format json` document; the password is never part of it. One target: the server and
 * its modes at the top; several (--target): `targets` keyed by name.
 */
export function benchJson(result: BenchResult): Record<string, unknown> {
  const times = { started_at: new Date(result.startedAtMs).toISOString(), ended_at: new Date(result.endedAtMs).toISOString() };
  if (result.targets.length === 1 && result.targets[0].name === '') {
    const [target] = result.targets;
    return {
      server_version: target.serverVersion,
      settings: { ...connectionJson(target), ...workloadJson(result) },
      ...times,
      ...targetModesJson(target, result.options),
    };
  }
  const targets: Record<string, unknown> = {};
  for (const target of result.targets) targets[target.name] = { server_version: target.serverVersion, connection: connectionJson(target), ...targetModesJson(target, result.options) };
  return { settings: workloadJson(result), ...times, targets };
}

const fixed3 = (value: number) => value.toFixed(3);
const DASH = '-';

function serverLine(target: TargetResult): string {
  const { settings } = target;
  return `PostgreSQL ${target.serverVersion}, ${describeServer(settings)}, database "${settings.dbname}", user "${settings.user}"`;
}

/** The table (targets and modes side by side), the summary lines and a histogram per column. */
export function benchText(result: BenchResult, paint?: (text: string) => string): string {
  const { options } = result;
  const named = result.targets.some((target) => target.name !== '');
  const columns: Array<{ label: string; mode: ModeResult }> = [];
  for (const target of result.targets) {
    for (const mode of ['fresh', 'pooled'] as const) {
      const modeResult = target.modes[mode];
      if (modeResult !== undefined) columns.push({ label: named ? `${target.name} ${mode}` : mode, mode: modeResult });
    }
  }
  const length = options.opsPerClient !== undefined ? `${options.opsPerClient} ops per client` : `${options.durationS} s`;
  let out = '';
  for (const target of result.targets) out += named ? `target ${target.name}: ${serverLine(target)}\n` : `server: ${serverLine(target)}\n`;
  const scripts = options.scripts;
  if (scripts.length === 1 && (scripts[0].name === 'query' || scripts[0].name === 'default')) out += `query: ${oneLine(scripts[0].text)}\n`;
  else out += `scripts: ${scripts.map((script) => `${script.name}${scripts.length > 1 ? ` (weight ${script.weight})` : ''}`).join(', ')}\n`;
  out += `clients: ${options.clients}, ${length}, warmup: ${options.warmupS} s`;
  if (options.queryMode !== 'simple') out += `, protocol: ${options.queryMode}`;
  if (options.rate !== undefined) out += `, rate: ${options.rate} ops/s`;
  if (options.latencyLimitMs !== undefined) out += `, latency limit: ${options.latencyLimitMs} ms`;
  if (retrying(options)) out += `, max tries: ${options.maxTries === 0 ? 'unlimited' : options.maxTries}`;
  out += '\n';

  const modes = columns.map((column) => column.mode);
  const cell = (pick: (mode: ModeResult) => string | undefined) => modes.map((mode) => pick(mode) ?? DASH);
  const freshOnly = (pick: (mode: ModeResult) => string | undefined) => cell((mode) => (mode.mode === 'fresh' ? pick(mode) : undefined));
  const summaries = new Map(modes.map((mode) => [mode, { latency: mode.latency.summary(), lag: mode.lag.summary(), connect: mode.connect.summary(), close: mode.close.summary() }]));
  const get = (mode: ModeResult) => summaries.get(mode)!;
  const phase = (p: { sum: number; count: number }) => (p.count > 0 ? fixed3(p.sum / p.count) : undefined);
  const withRate = options.rate !== undefined;
  const withLimit = options.latencyLimitMs !== undefined;
  const rows: string[][] = [
    ['clients / threads', ...cell((mode) => `${mode.clients} / ${mode.jobs}`)],
    ['pool size', ...cell((mode) => (mode.poolSize !== undefined ? String(mode.poolSize) : undefined))],
    ['operations', ...cell((mode) => String(mode.ops))],
    ['errors', ...cell((mode) => String(mode.errors))],
    ['  serialization failures', ...cell((mode) => (options.failuresDetailed === true ? String(mode.serializationFailures) : undefined))],
    ['  deadlock failures', ...cell((mode) => (options.failuresDetailed === true ? String(mode.deadlockFailures) : undefined))],
    ['skipped (late start)', ...cell((mode) => (withRate && withLimit ? String(mode.skipped) : undefined))],
    ['late (over the limit)', ...cell((mode) => (withLimit ? String(mode.late) : undefined))],
    ['retried operations', ...cell((mode) => (retrying(options) ? String(mode.retried) : undefined))],
    ['retries', ...cell((mode) => (retrying(options) ? String(mode.retries) : undefined))],
    ['duration (s)', ...cell((mode) => fixed3(mode.durationS))],
    ['ops/s', ...cell((mode) => opsPerSec(mode).toFixed(1))],
    ['latency avg (ms)', ...cell((mode) => fixed3(get(mode).latency.avg))],
    ['latency stddev (ms)', ...cell((mode) => fixed3(get(mode).latency.stddev))],
    ['latency p50 (ms)', ...cell((mode) => fixed3(get(mode).latency.p50))],
    ['latency p90 (ms)', ...cell((mode) => fixed3(get(mode).latency.p90))],
    ['latency p99 (ms)', ...cell((mode) => fixed3(get(mode).latency.p99))],
    ['latency max (ms)', ...cell((mode) => fixed3(get(mode).latency.max))],
    ['schedule lag avg (ms)', ...cell((mode) => (withRate ? fixed3(get(mode).lag.avg) : undefined))],
    ['schedule lag p99 (ms)', ...cell((mode) => (withRate ? fixed3(get(mode).lag.p99) : undefined))],
    ['schedule lag max (ms)', ...cell((mode) => (withRate ? fixed3(get(mode).lag.max) : undefined))],
    ['connect avg (ms)', ...freshOnly((mode) => fixed3(get(mode).connect.avg))],
    ['connect p50 (ms)', ...freshOnly((mode) => fixed3(get(mode).connect.p50))],
    ['connect p99 (ms)', ...freshOnly((mode) => fixed3(get(mode).connect.p99))],
    ['  TCP connect avg', ...freshOnly((mode) => phase(mode.phases.tcp))],
    ['  TLS handshake avg', ...freshOnly((mode) => phase(mode.phases.tls))],
    ['  startup + auth avg', ...freshOnly((mode) => phase(mode.phases.startup))],
    ['close avg (ms)', ...freshOnly((mode) => fixed3(get(mode).close.avg))],
    ['close p50 (ms)', ...freshOnly((mode) => fixed3(get(mode).close.p50))],
    ['close p99 (ms)', ...freshOnly((mode) => fixed3(get(mode).close.p99))],
    ['connections opened', ...cell((mode) => String(mode.factory.connections_opened))],
  ];
  if (scripts.length > 1) {
    scripts.forEach((script, index) => rows.push([`ops: ${script.name}`, ...cell((mode) => `${mode.scripts[index].ops} (${mode.ops > 0 ? ((mode.scripts[index].ops / mode.ops) * 100).toFixed(1) : '0.0'}%)`)]));
  }
  // Rows that apply to no mode run (pool size in fresh mode, TLS on a plain connection) are left out.
  const shown = rows.filter((row) => row.slice(1).some((value) => value !== DASH));
  out += formatGrid(['', ...columns.map((column) => column.label)], shown, { paint });

  for (const target of result.targets) {
    const prefix = named ? `${target.name}: ` : '';
    const fresh = target.modes.fresh;
    if (fresh !== undefined && fresh.connect.count > 0) {
      const open = fresh.connect.mean;
      const close = fresh.close.count > 0 ? fresh.close.mean : 0;
      // Operations do not wait for a close (see the factory's closeInBackground): not a cost to add.
      out += `${prefix}a fresh connection costs ${fixed3(open)} ms to open; closing it takes ${fixed3(close)} ms more, in the background (operations do not wait for it, as with pgbench -C)\n`;
    }
    const { overheadMs, throughputRatio } = overhead(target);
    if (overheadMs !== null) {
      out += `${prefix}overhead: a fresh connection adds ${fixed3(overheadMs)} ms per operation (latency avg ${fixed3(target.modes.fresh!.latency.mean)} ms fresh vs ${fixed3(target.modes.pooled!.latency.mean)} ms pooled)\n`;
    }
    if (throughputRatio !== null) {
      out += `${prefix}throughput: pooled runs ${throughputRatio.toFixed(2)}x the operations per second of fresh (${opsPerSec(target.modes.pooled!).toFixed(1)} vs ${opsPerSec(fresh!).toFixed(1)} ops/s)\n`;
    }
  }
  for (const column of columns) {
    const mode = column.mode;
    if (mode.factory.hosts.length > 1) {
      const perHost = mode.factory.hosts.map((host) => `${host.host}: ${host.connections_opened} opened, ${host.connections_errors} failed, ${host.connections_lost} lost`);
      out += `connections per host (${column.label}): ${perHost.join('; ')}\n`;
    }
    for (const failover of mode.factory.failovers) {
      out += `failover (${column.label}): connection lost on ${failover.from}, next one open on ${failover.to} after ${fixed3(failover.switch_ms)} ms\n`;
    }
    const path = resultPath(mode);
    if (path === 'pg' || path === 'mixed') out += `note (${column.label}): ${mode.resultPaths.pg} of ${mode.resultPaths.pg + mode.resultPaths.skipping} results were read by pg's parser, not stepped over: figures include that client CPU\n`;
  }
  if (columns.some((column) => column.mode.commands !== undefined)) {
    const labels = commandLabels(options);
    for (const column of columns) {
      const commands = column.mode.commands;
      if (commands === undefined) continue;
      scripts.forEach((script, s) => {
        // pgbench -r's layout: average latency, failures, retries (when retrying), the command.
        const withRetries = retrying(options);
        out += `\nstatement latencies in milliseconds${withRetries ? ', failures and retries' : ' and failures'} (${column.label}, ${script.name}):\n`;
        commands[s].forEach((total, c) => {
          const retries = withRetries ? `  ${String(total.retries).padStart(10)}` : '';
          out += `   ${fixed3(averageMs(total)).padStart(11)}  ${String(total.failures).padStart(10)}${retries}  ${labels[s][c].text}\n`;
        });
      });
    }
  }
  for (const column of columns) out += `\n${formatHistogram(`latency histogram (${column.label}), ms:`, column.mode.latency)}`;
  return out;
}

function oneLine(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 100 ? `${flat.slice(0, 97)}...` : flat;
}

const BAR_WIDTH = 40;

/** One line per display bucket from the first to the last non-empty one, bars scaled to the largest. */
export function formatHistogram(title: string, recorder: Pick<LatencyRecorder, 'buckets' | 'count'>, barWidth = BAR_WIDTH): string {
  const { buckets } = recorder;
  const first = buckets.findIndex((count) => count > 0);
  if (first === -1) return `${title}\n  (no successful operations)\n`;
  let last = buckets.length - 1;
  while (buckets[last] === 0) last -= 1;
  const largest = Math.max(...buckets);
  const lows: string[] = [];
  const highs: string[] = [];
  for (let index = first; index <= last; index += 1) {
    lows.push(fixed3(index === 0 ? 0 : BUCKET_BOUNDS_MS[index - 1]));
    highs.push(index < BUCKET_BOUNDS_MS.length ? fixed3(BUCKET_BOUNDS_MS[index]) : 'inf');
  }
  const lowWidth = Math.max(...lows.map((text) => text.length));
  const highWidth = Math.max(...highs.map((text) => text.length));
  const countWidth = String(largest).length;
  let out = `${title}\n`;
  for (let index = first; index <= last; index += 1) {
    const count = buckets[index];
    // A bucket with any operation gets at least one mark, so rare outliers stay visible.
    const marks = count === 0 ? 0 : Math.max(1, Math.round((count / largest) * barWidth));
    const percent = ((count / recorder.count) * 100).toFixed(2).padStart(6);
    out += `  ${lows[index - first].padStart(lowWidth)} - ${highs[index - first].padStart(highWidth)} |${'#'.repeat(marks).padEnd(barWidth)} ${String(count).padStart(countWidth)} ${percent}%\n`;
  }
  return out;
}
