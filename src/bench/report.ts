// Bench results as text: the JSON document (a stable interface for CI), the side-by-side table,
// the overhead summary and the terminal histograms. Pure functions of a BenchResult.
import type { BenchResult, ModeResult } from '../bench.js';
import { describeServer } from '../describe.js';
import { formatGrid } from '../output/table.js';
import { BUCKET_BOUNDS_MS, type LatencyRecorder } from './stats.js';

const round = (value: number, digits: number) => Number(value.toFixed(digits));
const ms = (value: number) => round(value, 3);

/** Successful operations per second of measured time. */
export function opsPerSec(result: ModeResult): number {
  const successes = result.ops - result.errors;
  return result.durationS > 0 ? successes / result.durationS : 0;
}

const phaseAvg = (phase: { sum: number; count: number }) => (phase.count > 0 ? ms(phase.sum / phase.count) : null);

/** Extra latency per operation in fresh mode, and how many times the pooled throughput is fresh's. */
export function overhead(result: BenchResult): { overheadMs: number | null; throughputRatio: number | null } {
  const { fresh, pooled } = result.modes;
  if (fresh === undefined || pooled === undefined || fresh.latency.count === 0 || pooled.latency.count === 0) return { overheadMs: null, throughputRatio: null };
  const freshRate = opsPerSec(fresh);
  return {
    overheadMs: fresh.latency.mean - pooled.latency.mean,
    throughputRatio: freshRate > 0 ? opsPerSec(pooled) / freshRate : null,
  };
}

function modeJson(result: ModeResult): Record<string, unknown> {
  const latency = result.latency.summary();
  const json: Record<string, unknown> = {
    clients: result.clients,
    jobs: result.jobs,
    ops: result.ops,
    successes: result.ops - result.errors,
    errors: result.errors,
    duration_s: round(result.durationS, 3),
    ops_per_sec: round(opsPerSec(result), 2),
    latency_ms: { avg: ms(latency.avg), stddev: ms(latency.stddev), p50: ms(latency.p50), p90: ms(latency.p90), p99: ms(latency.p99), max: ms(latency.max) },
  };
  if (result.mode === 'fresh') {
    const connect = result.connect.summary();
    const close = result.close.summary();
    json.connect_ms = {
      avg: ms(connect.avg),
      p50: ms(connect.p50),
      p99: ms(connect.p99),
      tcp_avg: phaseAvg(result.phases.tcp),
      tls_avg: phaseAvg(result.phases.tls),
      startup_avg: phaseAvg(result.phases.startup),
    };
    json.close_ms = { avg: ms(close.avg), p50: ms(close.p50), p99: ms(close.p99) };
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
  json.error_messages = [...result.errorMessages].map(([message, count]) => ({ message, count }));
  return json;
}

/** The `--format json` document; the password is never part of it. */
export function benchJson(result: BenchResult): Record<string, unknown> {
  const { options, settings } = result;
  const { overheadMs, throughputRatio } = overhead(result);
  const modes: Record<string, unknown> = {};
  for (const mode of ['fresh', 'pooled'] as const) {
    const modeResult = result.modes[mode];
    if (modeResult !== undefined) modes[mode] = modeJson(modeResult);
  }
  return {
    server_version: result.serverVersion,
    settings: {
      host: settings.host,
      port: settings.port,
      user: settings.user,
      dbname: settings.dbname,
      sslmode: settings.sslmode,
      mode: options.modes.length === 2 ? 'both' : options.modes[0],
      clients: options.clients,
      jobs: options.jobs ?? null,
      duration_s: options.durationS ?? null,
      ops_per_client: options.opsPerClient ?? null,
      warmup_s: options.warmupS,
      pool_size: options.poolSize ?? options.clients,
      query: options.sql,
      file: options.sqlSource === 'default' || options.sqlSource === 'query' ? null : options.sqlSource,
    },
    modes,
    overhead_ms_per_op: overheadMs === null ? null : ms(overheadMs),
    pooled_vs_fresh_throughput: throughputRatio === null ? null : round(throughputRatio, 2),
  };
}

const fixed3 = (value: number) => value.toFixed(3);
const DASH = '-';

/** The table (modes side by side), the summary lines and a histogram per mode. */
export function benchText(result: BenchResult, paint?: (text: string) => string): string {
  const modes = (['fresh', 'pooled'] as const).filter((mode) => result.modes[mode] !== undefined).map((mode) => result.modes[mode]!);
  const { options, settings } = result;
  const length = options.opsPerClient !== undefined ? `${options.opsPerClient} ops per client` : `${options.durationS} s`;
  let out = `server: PostgreSQL ${result.serverVersion}, ${describeServer(settings)}, database "${settings.dbname}", user "${settings.user}"\n`;
  out += `query: ${oneLine(options.sql)}\n`;
  out += `clients: ${options.clients}, ${length}, warmup: ${options.warmupS} s\n`;

  const cell = (pick: (mode: ModeResult) => string | undefined) => modes.map((mode) => pick(mode) ?? DASH);
  const freshOnly = (pick: (mode: ModeResult) => string | undefined) => cell((mode) => (mode.mode === 'fresh' ? pick(mode) : undefined));
  const summaries = new Map(modes.map((mode) => [mode, { latency: mode.latency.summary(), connect: mode.connect.summary(), close: mode.close.summary() }]));
  const get = (mode: ModeResult) => summaries.get(mode)!;
  const phase = (p: { sum: number; count: number }) => (p.count > 0 ? fixed3(p.sum / p.count) : undefined);
  const rows: string[][] = [
    ['clients / threads', ...cell((mode) => `${mode.clients} / ${mode.jobs}`)],
    ['pool size', ...cell((mode) => (mode.poolSize !== undefined ? String(mode.poolSize) : undefined))],
    ['operations', ...cell((mode) => String(mode.ops))],
    ['errors', ...cell((mode) => String(mode.errors))],
    ['duration (s)', ...cell((mode) => fixed3(mode.durationS))],
    ['ops/s', ...cell((mode) => opsPerSec(mode).toFixed(1))],
    ['latency avg (ms)', ...cell((mode) => fixed3(get(mode).latency.avg))],
    ['latency stddev (ms)', ...cell((mode) => fixed3(get(mode).latency.stddev))],
    ['latency p50 (ms)', ...cell((mode) => fixed3(get(mode).latency.p50))],
    ['latency p90 (ms)', ...cell((mode) => fixed3(get(mode).latency.p90))],
    ['latency p99 (ms)', ...cell((mode) => fixed3(get(mode).latency.p99))],
    ['latency max (ms)', ...cell((mode) => fixed3(get(mode).latency.max))],
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
  // Rows that apply to no mode run (pool size in fresh mode, TLS on a plain connection) are left out.
  const shown = rows.filter((row) => row.slice(1).some((value) => value !== DASH));
  out += formatGrid(['', ...modes.map((mode) => mode.mode)], shown, { paint });

  const fresh = result.modes.fresh;
  if (fresh !== undefined && fresh.connect.count > 0) {
    const open = fresh.connect.mean;
    const close = fresh.close.count > 0 ? fresh.close.mean : 0;
    out += `a fresh connection costs ${fixed3(open + close)} ms: ${fixed3(open)} ms to open, ${fixed3(close)} ms to close\n`;
  }
  for (const mode of modes) {
    if (mode.factory.hosts.length > 1) {
      const perHost = mode.factory.hosts.map((host) => `${host.host}: ${host.connections_opened} opened, ${host.connections_errors} failed, ${host.connections_lost} lost`);
      out += `connections per host (${mode.mode}): ${perHost.join('; ')}\n`;
    }
    for (const failover of mode.factory.failovers) {
      out += `failover (${mode.mode}): connection lost on ${failover.from}, next one open on ${failover.to} after ${fixed3(failover.switch_ms)} ms\n`;
    }
  }
  const { overheadMs, throughputRatio } = overhead(result);
  if (overheadMs !== null) {
    out += `overhead: a fresh connection adds ${fixed3(overheadMs)} ms per operation (latency avg ${fixed3(result.modes.fresh!.latency.mean)} ms fresh vs ${fixed3(result.modes.pooled!.latency.mean)} ms pooled)\n`;
  }
  if (throughputRatio !== null) {
    out += `throughput: pooled runs ${throughputRatio.toFixed(2)}x the operations per second of fresh (${opsPerSec(result.modes.pooled!).toFixed(1)} vs ${opsPerSec(fresh!).toFixed(1)} ops/s)\n`;
  }
  for (const mode of modes) out += `\n${formatHistogram(`latency histogram (${mode.mode}), ms:`, mode.latency)}`;
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
