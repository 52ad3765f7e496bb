// Results across runs: `bench merge` combines the JSON results of the same workload run on several
// client machines at once (operations summed, ops/s added up, percentiles from the merged HDR
// histograms, never an average of percentiles), and `--baseline` compares a run with an earlier
// result for CI. Both read the `--format json` document, with one target or several.
import { EXIT, UsageError } from '../errors.js';
import type { BenchMode, BenchOptions, BenchResult, ModeResult, TargetResult } from '../bench.js';
import { BenchOutcomeError, sumCommandTotals } from '../bench.js';
import type { ConnectionSettings } from '../settings.js';
import type { CommandTotal } from './runner.js';
import { LatencyRecorder, type SerializedLatency } from './stats.js';

type Json = Record<string, any>;

interface RunDoc {
  file: string;
  workload: Json;
  startedAtMs: number;
  endedAtMs: number;
  targets: Array<{ name: string; serverVersion: string; connection: Json; modes: Partial<Record<BenchMode, Json>> }>;
}

const CONNECTION_KEYS = ['host', 'port', 'hosts', 'user', 'dbname', 'sslmode'];
// Settings that may differ between machines running the same workload.
const FREE_KEYS = new Set([...CONNECTION_KEYS, 'jobs', 'random_seed', 'progress_s']);

/** A `bench --format json` document in one shape, whatever its number of targets. */
export function readRunDoc(json: unknown, file: string): RunDoc {
  const doc = json as Json;
  const bad = (what: string) => new UsageError(`"${file}" is not a bench --format json result: ${what}`);
  if (doc === null || typeof doc !== 'object' || typeof doc.settings !== 'object' || doc.settings === null) throw bad('no "settings"');
  const modesOf = (holder: Json, where: string) => {
    if (typeof holder.modes !== 'object' || holder.modes === null) throw bad(`no "modes"${where}`);
    return holder.modes as Partial<Record<BenchMode, Json>>;
  };
  const workload: Json = {};
  for (const [key, value] of Object.entries(doc.settings as Json)) if (!CONNECTION_KEYS.includes(key)) workload[key] = value;
  const targets: RunDoc['targets'] = [];
  if (typeof doc.targets === 'object' && doc.targets !== null) {
    for (const [name, target] of Object.entries(doc.targets as Record<string, Json>)) {
      targets.push({ name, serverVersion: target.server_version, connection: target.connection ?? {}, modes: modesOf(target, ` for target ${name}`) });
    }
  } else {
    const connection = Object.fromEntries(CONNECTION_KEYS.map((key) => [key, (doc.settings as Json)[key]]));
    targets.push({ name: '', serverVersion: doc.server_version, connection, modes: modesOf(doc, '') });
  }
  return { file, workload, startedAtMs: Date.parse(doc.started_at), endedAtMs: Date.parse(doc.ended_at), targets };
}

/** The first setting in which `other` differs from `first`, as "settings.KEY: A vs B". */
function workloadDifference(first: RunDoc, other: RunDoc): string | undefined {
  const keys = new Set([...Object.keys(first.workload), ...Object.keys(other.workload)]);
  for (const key of keys) {
    if (FREE_KEYS.has(key)) continue;
    const a = JSON.stringify(first.workload[key]);
    const b = JSON.stringify(other.workload[key]);
    if (a === b) continue;
    const show = (text: string | undefined) => (text === undefined ? 'absent' : text.length > 60 ? `${text.slice(0, 57)}...` : text);
    return `settings.${key}: ${show(b)} vs ${show(a)}`;
  }
  const names = (doc: RunDoc) => doc.targets.map((target) => target.name).join(', ');
  if (names(first) !== names(other)) return `targets: ${names(other) || '(the command\'s own connection)'} vs ${names(first) || '(the command\'s own connection)'}`;
  return undefined;
}

function histogram(mode: Json, key: string, file: string): SerializedLatency {
  const value = mode.histograms?.[key];
  if (value === undefined) throw new UsageError(`"${file}" has no histograms (written by a pgfactory older than bench merge?)`);
  return value as SerializedLatency;
}

function mergeMode(mode: BenchMode, parts: Array<{ file: string; json: Json }>): ModeResult {
  const sum = (pick: (json: Json) => number | undefined) => parts.reduce((total, part) => total + (pick(part.json) ?? 0), 0);
  const recorder = (key: string) => LatencyRecorder.fromSerialized(parts.map((part) => histogram(part.json, key, part.file)));
  const connect = recorder('connect');
  const phase = (key: string) => {
    let total = 0;
    let count = 0;
    for (const part of parts) {
      const avg = part.json.connect_ms?.[key];
      const n = histogram(part.json, 'connect', part.file).count;
      if (typeof avg === 'number') {
        total += avg * n;
        count += n;
      }
    }
    return { sum: total, count };
  };
  const errorMessages = new Map<string, number>();
  for (const part of parts) for (const { message, count } of part.json.error_messages ?? []) errorMessages.set(message, (errorMessages.get(message) ?? 0) + count);
  const scriptCount = Math.max(...parts.map((part) => (Array.isArray(part.json.scripts) ? part.json.scripts.length : 1)));
  const scripts = Array.from({ length: scriptCount }, (_, index) => ({
    ops: sum((json) => (Array.isArray(json.scripts) ? json.scripts[index].ops : json.ops)),
    errors: sum((json) => (Array.isArray(json.scripts) ? json.scripts[index].errors : json.errors)),
  }));
  return {
    mode,
    clients: sum((json) => json.clients),
    jobs: sum((json) => json.jobs),
    poolSize: mode === 'pooled' ? sum((json) => json.pool_size) : undefined,
    ops: sum((json) => json.ops),
    errors: sum((json) => json.errors),
    serializationFailures: sum((json) => json.serialization_failures),
    deadlockFailures: sum((json) => json.deadlock_failures),
    skipped: sum((json) => json.skipped),
    late: sum((json) => json.late),
    retried: sum((json) => json.retried),
    retries: sum((json) => json.retries),
    durationS: Math.max(...parts.map((part) => part.json.duration_s as number)),
    startedAtMs: Math.min(...parts.map((part) => Date.parse(part.json.started_at))),
    endedAtMs: Math.max(...parts.map((part) => Date.parse(part.json.ended_at))),
    latency: recorder('latency'),
    lag: recorder('lag'),
    connect,
    close: recorder('close'),
    phases: { tcp: phase('tcp_avg'), tls: phase('tls_avg'), startup: phase('startup_avg') },
    scripts,
    intervals: [],
    errorMessages,
    // Per-command totals when every run timed its commands (-r).
    ...(parts.every((part) => Array.isArray(part.json.per_command)) ? { commands: sumCommandTotals(parts.map((part) => commandTotals(part.json))) } : {}),
    factory: {
      connections_opened: sum((json) => json.connections?.opened),
      connections_errors: sum((json) => json.connections?.errors),
      connections_reused: sum((json) => json.connections?.reused),
      connections_closed: sum((json) => json.connections?.closed),
      hosts: mergeHosts(parts.map((part) => part.json.connections?.hosts ?? [])),
      failovers: parts.flatMap((part) => part.json.connections?.failovers ?? []),
    } as ModeResult['factory'],
    // Each machine's JSON says which path read its results; the merged counts are not kept.
    resultPaths: { skipping: 0, pg: 0 },
    // The machines ran side by side: their rates add up.
    opsPerSec: sum((json) => json.ops_per_sec),
  };
}

/** A run's `per_command` JSON back as totals (the sum is kept: averages of averages would be wrong). */
function commandTotals(mode: Json): CommandTotal[][] {
  return (mode.per_command as Json[]).map((script) => (script.commands as Json[]).map((command) => ({ count: command.executed, sumMs: command.latency_ms_sum, failures: command.failures, retries: command.retries ?? 0 })));
}

/** Per-host connection counts of several runs: summed host by host (each run lists its hosts in the same order). */
function mergeHosts(runs: Array<Array<Record<string, unknown>>>): ModeResult['factory']['hosts'] {
  const merged = new Map<string, Record<string, unknown>>();
  for (const hosts of runs) {
    for (const host of hosts) {
      const into = merged.get(host.host as string);
      if (into === undefined) merged.set(host.host as string, { ...host });
      else for (const [key, value] of Object.entries(host)) if (typeof value === 'number') into[key] = ((into[key] as number | undefined) ?? 0) + value;
    }
  }
  return [...merged.values()] as unknown as ModeResult['factory']['hosts'];
}

function optionsFromWorkload(workload: Json, clients: number): BenchOptions {
  const modes: BenchMode[] = workload.mode === 'both' ? ['fresh', 'pooled'] : [workload.mode];
  return {
    modes,
    clients,
    jobs: workload.jobs ?? undefined,
    durationS: workload.duration_s ?? undefined,
    opsPerClient: workload.ops_per_client ?? undefined,
    scripts: (workload.scripts ?? []).map((script: Json) => ({ name: script.name, text: script.text, weight: script.weight, builtin: String(script.name).startsWith('builtin: ') })),
    queryMode: workload.protocol ?? 'simple',
    defines: Object.entries(workload.defines ?? {}) as Array<[string, string]>,
    scale: workload.scale ?? undefined,
    warmupS: workload.warmup_s ?? 0,
    poolSize: workload.pool_size ?? undefined,
    rate: workload.rate ?? undefined,
    latencyLimitMs: workload.latency_limit_ms ?? undefined,
    maxTries: workload.max_tries ?? undefined,
  };
}

/** Combines the results of one workload run on several machines; refuses different workloads. */
export function mergeResults(files: Array<{ file: string; json: unknown }>): BenchResult {
  const docs = files.map(({ file, json }) => readRunDoc(json, file));
  const [first] = docs;
  for (const doc of docs.slice(1)) {
    const difference = workloadDifference(first, doc);
    if (difference !== undefined) throw new UsageError(`cannot merge "${doc.file}" with "${first.file}": different workloads (${difference})`);
  }
  const targets: TargetResult[] = first.targets.map((target, index) => {
    const modes: TargetResult['modes'] = {};
    for (const mode of ['fresh', 'pooled'] as const) {
      const parts = docs.map((doc) => ({ file: doc.file, json: doc.targets[index].modes[mode] }));
      if (parts.some((part) => part.json === undefined)) continue;
      modes[mode] = mergeMode(mode, parts as Array<{ file: string; json: Json }>);
    }
    return { name: target.name, serverVersion: target.serverVersion, settings: target.connection as ConnectionSettings, scale: first.workload.scale ?? 1, modes };
  });
  const clients = docs.reduce((total, doc) => total + (doc.workload.clients as number), 0);
  return {
    options: optionsFromWorkload(first.workload, clients),
    seed: docs.map((doc) => doc.workload.random_seed).join(','),
    startedAtMs: Math.min(...docs.map((doc) => doc.startedAtMs)),
    endedAtMs: Math.max(...docs.map((doc) => doc.endedAtMs)),
    targets,
  };
}

/** Exit 3 when, in a target and mode both runs have, ops/s fell or p99 rose by more than `maxPct`. */
export function checkRegression(baselineJson: unknown, currentJson: unknown, maxPct: number, baselineFile: string): void {
  const baseline = readRunDoc(baselineJson, baselineFile);
  const current = readRunDoc(currentJson, 'this run');
  const regressions: string[] = [];
  let compared = 0;
  for (const target of current.targets) {
    const before = baseline.targets.find((candidate) => candidate.name === target.name);
    if (before === undefined) continue;
    for (const mode of ['fresh', 'pooled'] as const) {
      const now = target.modes[mode];
      const then = before.modes[mode];
      if (now === undefined || then === undefined) continue;
      compared += 1;
      const label = target.name === '' ? `${mode} mode` : `target ${target.name}, ${mode} mode`;
      const fell = ((then.ops_per_sec - now.ops_per_sec) / then.ops_per_sec) * 100;
      if (then.ops_per_sec > 0 && fell > maxPct) regressions.push(`${label}: ops/s fell ${fell.toFixed(1)}% (${then.ops_per_sec} -> ${now.ops_per_sec})`);
      const rose = ((now.latency_ms.p99 - then.latency_ms.p99) / then.latency_ms.p99) * 100;
      if (then.latency_ms.p99 > 0 && rose > maxPct) regressions.push(`${label}: p99 latency rose ${rose.toFixed(1)}% (${then.latency_ms.p99} ms -> ${now.latency_ms.p99} ms)`);
    }
  }
  if (compared === 0) throw new UsageError(`--baseline "${baselineFile}" has no target and mode in common with this run`);
  if (regressions.length > 0) throw new BenchOutcomeError(`regression against "${baselineFile}" (more than --max-regression ${maxPct}%): ${regressions.join('; ')}`, EXIT.server, 'bench-regression');
}
