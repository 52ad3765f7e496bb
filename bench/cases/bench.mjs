// Case 4, bench accuracy: `pgfactory bench` against pgbench on the same one-statement script.
// fresh: the time an operation waits for its connection (connect_ms) vs pgbench -C "average
// connection time" (connect + PQfinish, which returns once Terminate is sent, as pgfactory's
// close in the background), within ±25 %, and ops/s vs tps for information; pooled: ops/s ≥ 0.8×
// pgbench tps at 1 client, ≥ 0.5× at 4 clients.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { alternate, runTimed, summarise } from '../lib/measure.mjs';
import { makeRow, skippedRow } from '../lib/report.mjs';
import { hasCommand } from '../lib/tools.mjs';

const QUERY = 'SELECT 1';
const NODE_PG_LOOP = fileURLToPath(new URL('../lib/pg-loop.mjs', import.meta.url));

export function parsePgbench(output) {
  const connection = /average connection time = ([0-9.]+) ms/.exec(output);
  const tps = /tps = ([0-9.]+)/.exec(output);
  return { connectMs: connection !== null ? Number(connection[1]) : NaN, tps: tps !== null ? Number(tps[1]) : NaN };
}

export async function run(ctx) {
  const names = ['bench fresh: connect, 1 client', 'bench pooled: ops/s, 1 client', 'bench pooled: ops/s, 4 clients', 'bench pooled: vs node+pg loop (info)', 'bench fresh: ops/s, 1 client (info)'];
  if (!hasCommand(ctx, 'bench')) return names.slice(0, 3).map((name) => skippedRow(name, 'pgfactory bench is not available in this build'));
  if (ctx.tools.pgbench === undefined) return names.slice(0, 3).map((name) => skippedRow(name, 'pgbench not on PATH'));

  const script = path.join(ctx.tmpDir, 'select1.sql');
  fs.writeFileSync(script, `${QUERY};\n`);
  // Warm-up runs are short: they only need to touch the code paths and the server once.
  const duration = (warmup) => String(warmup ? Math.min(2, ctx.seconds) : ctx.seconds);

  const pgfactory = (mode, clients, jobs, pick) => async ({ warmup }) => {
    const sample = await runTimed([ctx.pgfactory, 'bench', '--mode', mode, '-c', String(clients), '-j', String(jobs), '-T', duration(warmup), '--query', QUERY, '--format', 'json'], { ...ctx.runOptions, captureStdout: true });
    const report = JSON.parse(sample.stdout).modes[mode];
    return { seconds: sample.seconds, rssMiB: sample.rssMiB, value: pick(report), ops_per_sec: report.ops_per_sec };
  };
  const pgbench = (clients, jobs, fresh, pick) => async ({ warmup }) => {
    const args = ['-n', '-f', script, '-c', String(clients), '-j', String(jobs), '-T', duration(warmup), ...(fresh ? ['-C'] : [])];
    const sample = await runTimed([ctx.tools.pgbench, ...args], { ...ctx.runOptions, captureStdout: true });
    const parsed = parsePgbench(sample.stdout);
    return { seconds: sample.seconds, rssMiB: sample.rssMiB, value: pick(parsed), tps: parsed.tps };
  };

  const variants = [
    {
      name: names[0], unit: 'ms', target: { ratioMin: 0.75, ratioMax: 1.25 }, referenceName: 'pgbench -C',
      pgfactory: pgfactory('fresh', 1, 1, (report) => report.connect_ms.avg),
      reference: pgbench(1, 1, true, (parsed) => parsed.connectMs),
      // The whole operation, connection included: the same runs' ops/s against pgbench's tps.
      throughput: names[4],
    },
    {
      name: names[1], unit: 'ops/s', target: { ratioMin: 0.8 }, referenceName: 'pgbench',
      pgfactory: pgfactory('pooled', 1, 1, (report) => report.ops_per_sec),
      reference: pgbench(1, 1, false, (parsed) => parsed.tps),
      // What a bare Node `pg` loop reaches: how much of the gap to pgbench is Node + pg itself.
      ceiling: async ({ warmup }) => {
        const sample = await runTimed([process.execPath, NODE_PG_LOOP, duration(warmup)], { ...ctx.runOptions, captureStdout: true });
        return { seconds: sample.seconds, rssMiB: sample.rssMiB, value: JSON.parse(sample.stdout).ops_per_sec };
      },
    },
    {
      name: names[2], unit: 'ops/s', target: { ratioMin: 0.5 }, referenceName: 'pgbench -j 2',
      pgfactory: pgfactory('pooled', 4, 2, (report) => report.ops_per_sec),
      reference: pgbench(4, 2, false, (parsed) => parsed.tps),
    },
  ];
  const rows = [];
  let ceilingRow;
  for (const variant of variants) {
    const sides = [{ key: 'pgfactory', run: variant.pgfactory }, { key: 'pgbench', run: variant.reference }];
    if (variant.ceiling !== undefined) sides.push({ key: 'node-pg', run: variant.ceiling });
    const samples = await alternate(sides, { runs: ctx.runs, warmup: ctx.warmup, onProgress: ctx.progress(variant.name) });
    const pgfactory = summarise(samples.pgfactory, 'value');
    rows.push(makeRow({
      name: variant.name, unit: variant.unit, target: variant.target, referenceName: variant.referenceName,
      pgfactory, reference: summarise(samples.pgbench, 'value'),
    }));
    if (variant.throughput !== undefined) {
      rows.push(makeRow({ name: variant.throughput, unit: 'ops/s', pgfactory: summarise(samples.pgfactory, 'ops_per_sec'), reference: summarise(samples.pgbench, 'tps'), referenceName: 'pgbench -C' }));
    }
    if (variant.ceiling !== undefined) {
      ceilingRow = makeRow({ name: names[3], unit: variant.unit, pgfactory, reference: summarise(samples['node-pg'], 'value'), referenceName: 'node+pg loop' });
    }
  }
  if (ceilingRow !== undefined) rows.push(ceilingRow);
  return rows;
}
