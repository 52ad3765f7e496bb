// `npm run bench`: pgfactory side by side with psql, pgbench and a plain `pg` script, in one run,
// as ratios. Runs the built CLI (bin/pgfactory) as child processes, like a user would.
// Knobs (environment): PGFACTORY_BENCH_URL, BENCH_SERVER, BENCH_CASES, BENCH_ROWS, BENCH_RUNS,
// BENCH_WARMUP, BENCH_SECONDS, BENCH_SCALE_ROWS, BENCH_BIG_ROWS, BENCH_RESULTS, BENCH_SERVER_OPTIONS.
// See bench/README.md.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropSchema } from './lib/data.mjs';
import { TIME_BIN } from './lib/measure.mjs';
import { resultsDocument, skippedRow, tableLines } from './lib/report.mjs';
import { connectionEnv, startServer } from './lib/server.mjs';
import { setupSql, versionOf, which } from './lib/tools.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PGFACTORY = path.join(ROOT, 'bin', 'pgfactory');
const CASES = ['startup', 'export', 'import', 'parallel', 'bench', 'scaling', 'workload', 'restore'];

function positiveInt(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got "${text}"`);
  return value;
}

function settingsFromEnv() {
  const cases = (process.env.BENCH_CASES ?? CASES.join(',')).split(',').map((name) => name.trim()).filter((name) => name !== '');
  const unknown = cases.filter((name) => !CASES.includes(name));
  if (unknown.length > 0) throw new Error(`BENCH_CASES: unknown case ${unknown.join(', ')} (cases: ${CASES.join(', ')})`);
  const scaleRows = (process.env.BENCH_SCALE_ROWS ?? '100000,1000000,4000000').split(',').map((text) => Number(text.trim().replace(/_/g, '')));
  if (scaleRows.some((value) => !Number.isInteger(value) || value <= 0)) throw new Error('BENCH_SCALE_ROWS must be a comma-separated list of row counts');
  const runs = positiveInt('BENCH_RUNS', 5);
  if (runs < 1) throw new Error('BENCH_RUNS must be at least 1');
  return {
    cases,
    rows: positiveInt('BENCH_ROWS', 1_000_000),
    runs,
    warmup: positiveInt('BENCH_WARMUP', 1),
    seconds: positiveInt('BENCH_SECONDS', 10),
    scaleRows: [...new Set(scaleRows)].sort((a, b) => a - b),
    resultsFile: process.env.BENCH_RESULTS ?? path.join(ROOT, 'bench', 'results.json'),
  };
}

const rowsLabel = (rows) => (rows % 1_000_000 === 0 ? `${rows / 1_000_000}M` : rows % 1000 === 0 ? `${rows / 1000}k` : String(rows));
const log = (message) => process.stderr.write(`bench: ${message}\n`);

function preflight() {
  if (!fs.existsSync(TIME_BIN)) throw new Error(`${TIME_BIN} (GNU time) is needed for peak RSS: apt-get install time`);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.cjs'))) {
    log('dist/ is missing: building …');
    const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit', cwd: ROOT });
    if (build.status !== 0) throw new Error('the build failed');
  }
}

async function main() {
  const settings = settingsFromEnv();
  preflight();
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-bench-'));
  // Children run here: no ./.env of the checkout can redirect pgfactory to another server.
  const workDir = path.join(tmpDir, 'work');
  fs.mkdirSync(workDir);

  let server;
  const cleanUp = async () => {
    const stopping = server;
    server = undefined;
    try {
      await stopping?.stop();
    } finally {
      fs.rmSync(tmpDir, { recursive: true, force: true });
    }
  };
  const onSignal = (signal) => {
    log(`${signal}: stopping the server and removing ${tmpDir}`);
    cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    server = await startServer({ pgfactory: PGFACTORY, tmpDir });
    const env = connectionEnv(server);
    const tools = { psql: which('psql'), pgbench: which('pgbench') };
    const ctx = {
      ...settings,
      pgfactory: PGFACTORY,
      env,
      tmpDir,
      workDir,
      tools,
      runOptions: { env, cwd: workDir, tmpDir },
      rowsLabel,
      log,
      progress: (caseName) => (side, phase, sample) => {
        const value = sample.value !== undefined ? `value ${Number(sample.value).toFixed(2)}, ` : '';
        log(`[${caseName}] ${side} ${phase}: ${value}${sample.seconds.toFixed(3)} s, ${Math.round(sample.rssMiB)} MiB`);
      },
    };
    const serverVersion = setupSql(ctx, 'SHOW server_version');
    const sharedBuffers = setupSql(ctx, 'SHOW shared_buffers');
    log(`server: ${server.kind}, PostgreSQL ${serverVersion}, shared_buffers ${sharedBuffers}, ${server.host}:${server.port}`);
    for (const [tool, where] of Object.entries(tools)) if (where === undefined) log(`${tool} is not on PATH: its rows are skipped`);

    const rows = [];
    for (const name of settings.cases) {
      log(`case ${name} …`);
      const { run } = await import(`./cases/${name}.mjs`);
      try {
        rows.push(...await run(ctx));
      } catch (error) {
        // One broken case must not cost the others: report it and go on.
        log(`case ${name} failed: ${error.message}`);
        rows.push(skippedRow(name, `failed: ${error.message}`));
      }
    }
    try {
      dropSchema(ctx);
    } catch {
      // the server may be gone; the cluster is removed anyway
    }

    const finishedAt = new Date();
    const machine = {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      memory_gib: Number((os.totalmem() / 2 ** 30).toFixed(1)),
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      server: `PostgreSQL ${serverVersion}`,
      server_kind: server.kind,
      server_options: process.env.BENCH_SERVER_OPTIONS ?? null,
      shared_buffers: sharedBuffers,
      psql: tools.psql !== undefined ? versionOf(tools.psql) : null,
      pgbench: tools.pgbench !== undefined ? versionOf(tools.pgbench) : null,
      load_average_before: loadBefore.map((value) => Number(value.toFixed(2))),
      load_average_after: os.loadavg().map((value) => Number(value.toFixed(2))),
    };
    const printable = { ...settings, resultsFile: path.relative(ROOT, settings.resultsFile) };
    fs.writeFileSync(settings.resultsFile, `${JSON.stringify(resultsDocument({ rows, machine, settings: printable, startedAt, finishedAt }), null, 2)}\n`);

    process.stdout.write(`\npgfactory bench — ${finishedAt.toISOString().slice(0, 10)}, ${machine.cores} cores, Node ${process.version}, PostgreSQL ${serverVersion}, `
      + `median of ${settings.runs} runs after ${settings.warmup} warm-up, load ${machine.load_average_before[0]} → ${machine.load_average_after[0]}\n\n`);
    process.stdout.write(`${tableLines(rows).join('\n')}\n\n`);
    const missed = rows.filter((row) => row.pass === false);
    for (const row of missed) process.stdout.write(`MISS ${row.case}: ${row.failures.join('; ')}\n`);
    process.stdout.write(`results: ${path.relative(process.cwd(), settings.resultsFile)}\n`);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanUp();
  }
}

main().catch((error) => {
  process.stderr.write(`bench: ${error.message}\n`);
  process.exitCode = 1;
});
