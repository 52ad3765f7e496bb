// Case 3b, parallel and resumable imports (issue 13): `insert --jobs 2` of the CSV and the NDJSON
// file vs `psql -c "\copy … csv header"` (≤ 0.80 and ≤ 1.2), the one-job CSV load in the same run
// (≤ 1.1), a load killed (kill -9) at about half-way and finished with --resume vs a one-shot
// load (total ≤ 1.2), and BENCH_BIG_ROWS rows (default 10M; 0 skips) with --jobs 2 vs its own
// BENCH_ROWS time in rounds that alternate the two (≤ rows ratio × 1.05, peak RSS ≤ 150 MiB).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { performance } from 'node:perf_hooks';
import { emptyLike, ensureRows, importFile } from '../lib/data.mjs';
import { alternate, runTimed, summarise } from '../lib/measure.mjs';
import { makeRow, skippedRow } from '../lib/report.mjs';
import { hasCommand, setupSql, trySetupSql } from '../lib/tools.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// The resume case's --commit-every: the load in this many windows.
const WINDOWS = 20;
// Measured rounds of the big load (each round also loads the small file, and psql both).
const BIG_RUNS = 3;

export async function run(ctx) {
  const label = ctx.rowsLabel(ctx.rows);
  const bigRows = Number((process.env.BENCH_BIG_ROWS ?? '10000000').replace(/_/g, ''));
  const names = [
    `parallel import csv --jobs 2, ${label} rows`,
    `parallel import ndjson --jobs 2, ${label} rows`,
    `import csv one job (same run), ${label} rows`,
    `import csv killed at ~50% + --resume, ${label} rows`,
    `parallel import csv --jobs 2, ${ctx.rowsLabel(bigRows)} rows`,
  ];
  if (!hasCommand(ctx, 'insert')) return names.map((name) => skippedRow(name, 'pgfactory insert is not available in this build'));
  const prepared = Number(setupSql(ctx, "SELECT setting FROM pg_settings WHERE name = 'max_prepared_transactions'"));
  if (prepared < 2) return names.map((name) => skippedRow(name, `the server allows ${prepared} prepared transactions; --jobs 2 needs 2`));

  const source = ensureRows(ctx, ctx.rows);
  const csvFile = importFile(ctx, ctx.rows, 'csv');
  const ndjsonFile = importFile(ctx, ctx.rows, 'ndjson');
  const target = emptyLike(ctx, source, 'parallel_target');
  const empty = () => {
    setupSql(ctx, [`TRUNCATE ${target}`, `DROP TABLE IF EXISTS ${target.split('.')[0]}.pgfactory_load_progress`]);
    trySetupSql(ctx, 'CHECKPOINT');
  };
  const timed = (argv) => () => runTimed(argv, ctx.runOptions);

  // kill -9 once half the rows are committed, then the same command with --resume; the figure is
  // the time of both runs together.
  const progressTable = `${target.split('.')[0]}.pgfactory_load_progress`;
  const killAndResume = async () => {
    const argv = [ctx.pgfactory, 'insert', target, '--file', csvFile, '--commit-every', String(Math.max(1, Math.round(ctx.rows / WINDOWS)))];
    // One connection watches the progress table each window commits with its rows (a psql per
    // look, or a count(*) of the target, took enough CPU on 2 cores to slow the load it watched).
    const watcher = new pg.Client({ host: ctx.env.PGHOST, port: Number(ctx.env.PGPORT), user: ctx.env.PGUSER, password: ctx.env.PGPASSWORD, database: ctx.env.PGDATABASE,
      ssl: ['require', 'verify-ca', 'verify-full'].includes(ctx.env.PGSSLMODE) ? { rejectUnauthorized: false } : undefined });
    await watcher.connect();
    const committedRows = async () => {
      const found = await watcher.query(`SELECT to_regclass('${progressTable}') IS NOT NULL AS present`);
      if (!found.rows[0].present) return 0;
      return Number((await watcher.query(`SELECT coalesce(sum(rows), 0) AS rows FROM ${progressTable}`)).rows[0].rows);
    };
    try {
      const started = performance.now();
      const child = spawn(argv[0], argv.slice(1), { env: ctx.env, cwd: ctx.workDir, stdio: 'ignore' });
      const exited = new Promise((resolve) => child.on('close', resolve));
      let killed = false;
      for (;;) {
        const done = await Promise.race([exited.then(() => true), sleep(20).then(() => false)]);
        if (done) break;
        if ((await committedRows()) >= ctx.rows / 2) {
          child.kill('SIGKILL');
          killed = true;
          await exited;
          break;
        }
      }
      const firstSeconds = (performance.now() - started) / 1000;
      if (!killed) throw new Error('the load finished before it could be killed at half-way');
      const resumed = await runTimed([...argv, '--resume'], ctx.runOptions);
      const loaded = Number(setupSql(ctx, `SELECT count(*) FROM ${target}`));
      if (loaded !== ctx.rows) throw new Error(`after --resume the table holds ${loaded} rows, expected ${ctx.rows}`);
      return { seconds: firstSeconds + resumed.seconds, rssMiB: resumed.rssMiB };
    } finally {
      await watcher.end();
    }
  };
  const sides = [
    { key: 'jobs2csv', prepare: empty, run: timed([ctx.pgfactory, 'insert', target, '--file', csvFile, '--jobs', '2']) },
    { key: 'jobs2ndjson', prepare: empty, run: timed([ctx.pgfactory, 'insert', target, '--file', ndjsonFile, '--jobs', '2']) },
    { key: 'csv', prepare: empty, run: timed([ctx.pgfactory, 'insert', target, '--file', csvFile]) },
    { key: 'resume', prepare: empty, run: killAndResume },
  ];
  const psql = ctx.tools.psql;
  if (psql !== undefined) {
    sides.splice(1, 0, { key: 'psql', prepare: empty, run: timed([psql, '-X', '-v', 'ON_ERROR_STOP=1', '-c', copyCommand(target, csvFile, true)]) });
    // psql itself on the two shapes the targets ask of pgfactory: the file's halves loaded at
    // once, and the load cut into the resume case's windows (each \copy its own transaction).
    const { halves, windowsScript } = psqlPieces(ctx, csvFile, target, WINDOWS);
    const copyPiece = (file) => [psql, '-X', '-v', 'ON_ERROR_STOP=1', '-c', copyCommand(target, file)];
    sides.push(
      { key: 'psqlHalves', prepare: empty, run: () => runTogether(halves.map(copyPiece), ctx.runOptions) },
      { key: 'psqlWindows', prepare: empty, run: timed([psql, '-X', '-v', 'ON_ERROR_STOP=1', '-f', windowsScript]) },
    );
  }
  const samples = await alternate(sides, { runs: ctx.runs, warmup: ctx.warmup, onProgress: ctx.progress('parallel') });
  const reference = psql !== undefined ? summarise(samples.psql) : undefined;
  const noPsql = psql === undefined ? ' (psql not on PATH: no ratio)' : '';
  const vsPsql = (name, key, ratioMax) => makeRow({
    name: name + noPsql, pgfactory: summarise(samples[key]), reference, referenceName: 'psql \\copy',
    target: { ...(reference !== undefined ? { ratioMax } : {}), rssMaxMiB: 150 },
  });
  const oneShot = summarise(samples.csv);
  const rows = [
    vsPsql(names[0], 'jobs2csv', 0.8),
    vsPsql(names[1], 'jobs2ndjson', 1.2),
    vsPsql(names[2], 'csv', 1.1),
    makeRow({ name: names[3], pgfactory: summarise(samples.resume), reference: oneShot, referenceName: 'one-shot insert', target: { ratioMax: 1.2 } }),
  ];
  if (psql !== undefined) {
    // Information rows: psql in the pgfactory column, against its own one \copy.
    rows.push(
      makeRow({ name: `psql itself: 2 \\copy of the halves at once, ${label} rows`, pgfactory: summarise(samples.psqlHalves), reference, referenceName: 'psql \\copy' }),
      makeRow({ name: `psql itself: ${WINDOWS} \\copy windows, ${label} rows`, pgfactory: summarise(samples.psqlWindows), reference, referenceName: 'psql \\copy' }),
    );
  }

  if (bigRows > 0) {
    const bigSource = ensureRows(ctx, bigRows);
    const bigFile = importFile(ctx, bigRows, 'csv');
    const bigTarget = emptyLike(ctx, bigSource, 'parallel_big');
    const emptyBig = () => {
      setupSql(ctx, `TRUNCATE ${bigTarget}`);
      trySetupSql(ctx, 'CHECKPOINT');
    };
    // The big load alternates with the small one, as the sides of every other ratio do: a host
    // that slows these VMs down for a minute then slows both. psql's two loads join the rounds as
    // information. The warm-up round matters here too: a fresh server's pg_wal holds the segments
    // of a small load (recycled at each checkpoint), and its first big load would also pay for
    // zero-filling and syncing the rest, once (bench/README.md, How it measures).
    const bigSides = [
      { key: 'small', prepare: empty, run: timed([ctx.pgfactory, 'insert', target, '--file', csvFile, '--jobs', '2']) },
      { key: 'big', prepare: emptyBig, run: timed([ctx.pgfactory, 'insert', bigTarget, '--file', bigFile, '--jobs', '2']) },
    ];
    if (psql !== undefined) {
      bigSides.push(
        { key: 'psqlSmall', prepare: empty, run: timed([psql, '-X', '-v', 'ON_ERROR_STOP=1', '-c', copyCommand(target, csvFile, true)]) },
        { key: 'psqlBig', prepare: emptyBig, run: timed([psql, '-X', '-v', 'ON_ERROR_STOP=1', '-c', copyCommand(bigTarget, bigFile, true)]) },
      );
    }
    const bigSamples = await alternate(bigSides, { runs: Math.min(ctx.runs, BIG_RUNS), warmup: Math.max(ctx.warmup, 1), onProgress: ctx.progress('parallel big') });
    setupSql(ctx, `DROP TABLE ${bigTarget}`);
    const scale = bigRows / ctx.rows;
    rows.push(makeRow({
      name: names[4], pgfactory: summarise(bigSamples.big), reference: summarise(bigSamples.small),
      referenceName: `itself at ${label}, alternating`, target: { ratioMax: scale * 1.05, rssMaxMiB: 150 },
    }));
    if (psql !== undefined) {
      // psql's own big load against its own small one: how much more a row of the big load costs
      // the server, whatever the client.
      rows.push(makeRow({
        name: `psql itself: one \\copy of ${ctx.rowsLabel(bigRows)} rows`, pgfactory: summarise(bigSamples.psqlBig),
        reference: summarise(bigSamples.psqlSmall), referenceName: `psql \\copy at ${label}, alternating`,
      }));
    }
  } else {
    rows.push(skippedRow(names[4], 'BENCH_BIG_ROWS=0'));
  }
  return rows;
}

/**
 * The CSV file's data lines as two half files and as `windows` files with a psql script that
 * \copies each in its own transaction. Cut at line ends: the bench data has no quoted newlines.
 */
function psqlPieces(ctx, csvFile, target, windows) {
  const data = fs.readFileSync(csvFile);
  const lineStarts = [];
  // Every line after the header.
  for (let end = data.indexOf(10); end !== -1 && end + 1 < data.length; end = data.indexOf(10, end + 1)) lineStarts.push(end + 1);
  const cut = (parts, name) => Array.from({ length: parts }, (_, index) => {
    const from = lineStarts[Math.floor((index * lineStarts.length) / parts)];
    const to = index + 1 < parts ? lineStarts[Math.floor(((index + 1) * lineStarts.length) / parts)] : data.length;
    const file = path.join(ctx.tmpDir, `${name}-${index}.csv`);
    fs.writeFileSync(file, data.subarray(from, to));
    return file;
  });
  const halves = cut(2, 'half');
  const windowsScript = path.join(ctx.tmpDir, 'windows.sql');
  fs.writeFileSync(windowsScript, cut(windows, 'window').map((file) => `${copyCommand(target, file)}\n`).join(''));
  return { halves, windowsScript };
}

/** psql's `\copy` of a CSV file (with a header line or without) into `target`. */
function copyCommand(target, file, header = false) {
  return `\\copy ${target} FROM '${file.replace(/'/g, "''")}' csv${header ? ' header' : ''}`;
}

/** Runs the commands at once; the sample is the wall time until the last one ends. */
async function runTogether(argvs, runOptions) {
  const started = performance.now();
  const samples = await Promise.all(argvs.map((argv) => runTimed(argv, runOptions)));
  return { seconds: (performance.now() - started) / 1000, rssMiB: Math.max(...samples.map((sample) => sample.rssMiB)) };
}
