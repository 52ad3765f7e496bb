// Case 6, bench as a workload tool: pgbench's built-in scripts through `pgfactory bench` against
// pgbench itself on the same server (after `pgbench -i -s 2`), --rate accuracy and a server-side
// stall that must show in p99, and `bench merge` of two concurrent half runs vs one run.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { alternate, runTimed, summarise } from '../lib/measure.mjs';
import { makeRow, skippedRow } from '../lib/report.mjs';
import { hasCommand, setupSql } from '../lib/tools.mjs';
import { parsePgbench } from './bench.mjs';

const RATE = 500;
const STALL_S = 1;

export async function run(ctx) {
  const names = [
    'workload select-only pooled, 1 client', 'workload select-only pooled, 4 clients',
    'workload tpcb-like pooled, 1 client', 'workload tpcb-like pooled, 4 clients', 'workload tpcb-like fresh, 1 client',
    `workload --rate ${RATE}: achieved rate`, `workload --rate ${RATE}, ${STALL_S} s stall: p99`, 'workload merge of 2 half runs: ops',
    `workload --rate ${RATE}, ${STALL_S} s stall: p99 vs pgbench's`,
  ];
  if (!hasCommand(ctx, 'bench')) return names.map((name) => skippedRow(name, 'pgfactory bench is not available in this build'));
  if (ctx.tools.pgbench === undefined) return names.map((name) => skippedRow(name, 'pgbench not on PATH'));
  const pgbenchInit = await runChecked(ctx.tools.pgbench, ['-i', '-s', '2', '-q'], ctx);
  if (pgbenchInit !== undefined) return names.map((name) => skippedRow(name, `pgbench -i failed: ${pgbenchInit}`));
  try {
    return await measure(ctx, names);
  } finally {
    setupSql(ctx, 'DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers');
  }
}

function runChecked(program, args, ctx) {
  return new Promise((resolve) => {
    const child = spawn(program, args, { env: ctx.env, cwd: ctx.workDir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve(code === 0 ? undefined : stderr.trim().split('\n').at(-1)));
  });
}

async function measure(ctx, names) {
  const duration = (warmup) => String(warmup ? Math.min(2, ctx.seconds) : ctx.seconds);
  const benchJson = async (args) => {
    const sample = await runTimed([ctx.pgfactory, 'bench', '--format', 'json', ...args], { ...ctx.runOptions, captureStdout: true });
    return { sample, json: JSON.parse(sample.stdout) };
  };
  const pgfactory = (builtin, mode, clients, jobs) => async ({ warmup }) => {
    const { sample, json } = await benchJson(['-b', builtin, '--mode', mode, '-c', String(clients), '-j', String(jobs), '-T', duration(warmup)]);
    return { seconds: sample.seconds, rssMiB: sample.rssMiB, value: json.modes[mode].ops_per_sec };
  };
  const pgbench = (builtin, clients, jobs, fresh) => async ({ warmup }) => {
    const args = ['-n', '-b', builtin, '-c', String(clients), '-j', String(jobs), '-T', duration(warmup), ...(fresh ? ['-C'] : [])];
    const sample = await runTimed([ctx.tools.pgbench, ...args], { ...ctx.runOptions, captureStdout: true });
    return { seconds: sample.seconds, rssMiB: sample.rssMiB, value: parsePgbench(sample.stdout).tps };
  };
  const variants = [
    { name: names[0], target: { ratioMin: 0.8 }, ref: 'pgbench -S', a: pgfactory('select-only', 'pooled', 1, 1), b: pgbench('select-only', 1, 1, false) },
    { name: names[1], target: { ratioMin: 0.5 }, ref: 'pgbench -S -j 2', a: pgfactory('select-only', 'pooled', 4, 2), b: pgbench('select-only', 4, 2, false) },
    { name: names[2], target: { ratioMin: 0.8 }, ref: 'pgbench', a: pgfactory('tpcb-like', 'pooled', 1, 1), b: pgbench('tpcb-like', 1, 1, false) },
    { name: names[3], target: { ratioMin: 0.6 }, ref: 'pgbench -j 2', a: pgfactory('tpcb-like', 'pooled', 4, 2), b: pgbench('tpcb-like', 4, 2, false) },
    { name: names[4], target: { ratioMin: 0.9 }, ref: 'pgbench -C', a: pgfactory('tpcb-like', 'fresh', 1, 1), b: pgbench('tpcb-like', 1, 1, true) },
  ];
  const rows = [];
  for (const variant of variants) {
    const samples = await alternate([{ key: 'pgfactory', run: variant.a }, { key: 'pgbench', run: variant.b }], { runs: ctx.runs, warmup: ctx.warmup, onProgress: ctx.progress(variant.name) });
    rows.push(makeRow({ name: variant.name, unit: 'ops/s', target: variant.target, referenceName: variant.ref, pgfactory: summarise(samples.pgfactory, 'value'), reference: summarise(samples.pgbench, 'value') }));
  }

  // --rate: the achieved rate over -T, select-only, one client.
  const rateRuns = [];
  for (let round = 0; round < ctx.runs; round += 1) {
    const { sample, json } = await benchJson(['-b', 'select-only', '--mode', 'pooled', '--rate', String(RATE), '-T', String(ctx.seconds)]);
    const pooled = json.modes.pooled;
    rateRuns.push({ seconds: sample.seconds, rssMiB: sample.rssMiB, value: pooled.ops_per_sec, lag_p99_ms: pooled.lag_ms.p99, p99_ms: pooled.latency_ms.p99 });
    ctx.progress(names[5])('pgfactory', `run ${round + 1}/${ctx.runs}`, rateRuns.at(-1));
  }
  const constant = (value) => ({ median: value, peakRssMiB: NaN, runs: [] });
  rows.push(makeRow({ name: names[5], unit: 'ops/s', target: { ratioMin: 0.98, ratioMax: 1.02 }, referenceName: '--rate', pgfactory: summarise(rateRuns, 'value'), reference: constant(RATE) }));

  // The same with a server-side stall mid-run: a lock on pgbench_accounts held for STALL_S.
  const stallRuns = [];
  for (let round = 0; round < ctx.runs; round += 1) {
    const running = benchJson(['-b', 'select-only', '--mode', 'pooled', '--rate', String(RATE), '-T', String(ctx.seconds)]);
    await stallMidRun(ctx);
    const { sample, json } = await running;
    const pooled = json.modes.pooled;
    stallRuns.push({ seconds: sample.seconds, rssMiB: sample.rssMiB, value: pooled.latency_ms.p99, max_ms: pooled.latency_ms.max, lag_p99_ms: pooled.lag_ms.p99, ops_per_sec: pooled.ops_per_sec });
    ctx.progress(names[6])('pgfactory', `run ${round + 1}/${ctx.runs}`, stallRuns.at(-1));
  }
  rows.push(makeRow({ name: names[6], unit: 'ms', target: { ratioMin: 1 }, referenceName: 'the stall', pgfactory: summarise(stallRuns, 'value'), reference: constant(STALL_S * 1000) }));

  // pgbench -R under the same stall: its per-transaction log times each transaction from its
  // scheduled start too, so its p99 is what an exact measurement of this stall gives.
  const pgbenchStallRuns = [];
  for (let round = 0; round < ctx.runs; round += 1) {
    const prefix = path.join(ctx.tmpDir, `stall-log-${round}`);
    const running = runTimed([ctx.tools.pgbench, '-n', '-b', 'select-only', '-R', String(RATE), '-T', String(ctx.seconds), '-l', '--log-prefix', prefix], ctx.runOptions);
    await stallMidRun(ctx);
    const sample = await running;
    const latencies = transactionLatenciesMs(prefix);
    pgbenchStallRuns.push({ seconds: sample.seconds, rssMiB: sample.rssMiB, value: percentile(latencies, 0.99), max_ms: latencies.at(-1), ops: latencies.length });
    ctx.progress(names[8])('pgbench', `run ${round + 1}/${ctx.runs}`, pgbenchStallRuns.at(-1));
  }
  rows.push(makeRow({ name: names[8], unit: 'ms', referenceName: 'pgbench -R, same stall', pgfactory: summarise(stallRuns, 'value'), reference: summarise(pgbenchStallRuns, 'value') }));

  // bench merge: two concurrent runs of one client each vs one run of two clients.
  const ops = 5000;
  const single = await benchJson(['--mode', 'pooled', '-c', '2', '-j', '2', '-t', String(ops)]);
  const halves = await Promise.all([0, 1].map(() => benchJson(['--mode', 'pooled', '-c', '1', '-j', '1', '-t', String(ops)])));
  const files = halves.map((half, index) => {
    const file = path.join(ctx.tmpDir, `half-${index}.json`);
    fs.writeFileSync(file, half.sample.stdout);
    return file;
  });
  const merged = await runTimed([ctx.pgfactory, 'bench', 'merge', '--format', 'json', ...files], { ...ctx.runOptions, captureStdout: true });
  const mergedPooled = JSON.parse(merged.stdout).modes.pooled;
  const singlePooled = single.json.modes.pooled;
  const parts = halves.map((half) => half.json.modes.pooled);
  const within = (key) => mergedPooled.latency_ms[key] >= Math.min(...parts.map((part) => part.latency_ms[key])) * 0.999 && mergedPooled.latency_ms[key] <= Math.max(...parts.map((part) => part.latency_ms[key])) * 1.001;
  rows.push(makeRow({
    name: names[7], unit: 'ops', target: { ratioMin: 1, ratioMax: 1 }, referenceName: 'one run, 2 clients',
    pgfactory: constant(mergedPooled.ops), reference: constant(singlePooled.ops),
    note: `merged p50 ${mergedPooled.latency_ms.p50} / p99 ${mergedPooled.latency_ms.p99} ms (between the halves': ${within('p50') && within('p99')}), one run p50 ${singlePooled.latency_ms.p50} / p99 ${singlePooled.latency_ms.p99} ms; ops/s merged ${mergedPooled.ops_per_sec} vs one run ${singlePooled.ops_per_sec}`,
  }));
  return rows;
}

/** Half-way through a -T run started just before: another session holds a lock on pgbench_accounts for STALL_S. */
async function stallMidRun(ctx) {
  await sleep((ctx.seconds / 2) * 1000);
  setupSql(ctx, [`BEGIN; LOCK TABLE pgbench_accounts IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(${STALL_S}); COMMIT`]);
}

/** Latencies (ms, ascending) from pgbench's per-transaction logs `prefix.*`: the third field is µs. */
function transactionLatenciesMs(prefix) {
  const dir = path.dirname(prefix);
  const latencies = [];
  for (const name of fs.readdirSync(dir).filter((entry) => entry.startsWith(`${path.basename(prefix)}.`))) {
    for (const line of fs.readFileSync(path.join(dir, name), 'utf8').split('\n')) {
      const fields = line.split(' ');
      if (fields.length >= 3 && fields[2] !== 'skipped') latencies.push(Number(fields[2]) / 1000);
    }
  }
  if (latencies.length === 0) throw new Error(`pgbench wrote no per-transaction log at ${prefix}.*`);
  return latencies.sort((a, b) => a - b);
}

/** Nearest-rank percentile of ascending values. */
function percentile(sorted, fraction) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}
