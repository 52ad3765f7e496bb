import { describe, expect, it } from 'vitest';
import { databaseUrl, runCli, sql, useTestSchema } from './helpers.js';

const SCHEMA = 'bench_cli';

useTestSchema(SCHEMA);

/** Runs bench with --format json and parses stdout. */
async function benchJson(args: string[], env: Record<string, string> = {}) {
  const result = await runCli(['bench', '--format', 'json', ...args], { env });
  return { ...result, json: result.stdout === '' ? undefined : JSON.parse(result.stdout) };
}

const LATENCY_KEYS = ['avg', 'stddev', 'p50', 'p90', 'p99', 'max'];

function expectModeShape(mode: Record<string, unknown>, fresh: boolean) {
  for (const key of ['clients', 'ops', 'errors', 'duration_s', 'ops_per_sec']) expect(typeof mode[key], key).toBe('number');
  expect(Object.keys(mode.latency_ms as object).sort()).toEqual([...LATENCY_KEYS].sort());
  for (const value of Object.values(mode.latency_ms as object)) expect(typeof value).toBe('number');
  if (fresh) {
    expect(mode.connect_ms).toMatchObject({ avg: expect.any(Number), p50: expect.any(Number), p99: expect.any(Number) });
    expect(mode.close_ms).toEqual({ avg: expect.any(Number), p50: expect.any(Number), p99: expect.any(Number) });
  } else {
    expect(mode).not.toHaveProperty('connect_ms');
    expect(mode).not.toHaveProperty('close_ms');
  }
}

describe('bench --format json', () => {
  it('runs both modes with the documented shape, consistent counts and no password', async () => {
    const { json, stderr, code, stdout } = await benchJson(['-c', '2', '-t', '15']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const [{ server_version }] = await sql<{ server_version: string }>('SHOW server_version');
    expect(json.server_version).toBe(server_version);
    expect(Object.keys(json).sort()).toEqual(['ended_at', 'modes', 'overhead_ms_per_op', 'pooled_vs_fresh_throughput', 'server_version', 'settings', 'started_at']);
    expect(json.settings).toMatchObject({ mode: 'both', clients: 2, ops_per_client: 15, duration_s: null, pool_size: 2, query: 'SELECT 1', warmup_s: 0 });
    expect(json.settings).not.toHaveProperty('password');
    const password = new URL(databaseUrl()).password;
    expect(password).not.toBe('');
    expect(stdout).not.toContain(password);

    const { fresh, pooled } = json.modes;
    expectModeShape(fresh, true);
    expectModeShape(pooled, false);
    for (const mode of [fresh, pooled]) {
      // -t is per client: exactly 2 x 15 operations, all successful.
      expect(mode.ops).toBe(30);
      expect(mode.errors).toBe(0);
      expect(mode.successes).toBe(30);
      expect(mode.clients).toBe(2);
    }
    // Fresh: one connection per operation, each closed again. (connections.errors may count a
    // refused TLS attempt under sslmode=prefer, once per thread, before the plain retry.)
    expect(fresh.connections).toMatchObject({ opened: 30, reused: 0, closed: 30 });
    expect(fresh.connect_ms.avg).toBeGreaterThan(0);
    expect(fresh.close_ms.avg).toBeGreaterThan(0);
    // Pooled: never more than the pool size, every other request reused one.
    expect(pooled.connections.opened).toBeLessThanOrEqual(2);
    expect(pooled.connections.opened + pooled.connections.reused).toBe(30 + pooled.connections.opened);
    expect(typeof json.overhead_ms_per_op).toBe('number');
    expect(typeof json.pooled_vs_fresh_throughput).toBe('number');
  });

  it('a mode not run is absent, and the summary figures are null', async () => {
    const { json, code } = await benchJson(['--mode', 'pooled', '-t', '5']);
    expect(code).toBe(0);
    expect(Object.keys(json.modes)).toEqual(['pooled']);
    expect(json.overhead_ms_per_op).toBeNull();
    expect(json.pooled_vs_fresh_throughput).toBeNull();
    expect(json.modes.pooled.ops).toBe(5);
  });

  it('-t runs exactly that many operations per client, also spread over threads', async () => {
    const { json, code } = await benchJson(['--mode', 'pooled', '-c', '3', '-j', '2', '-t', '7']);
    expect(code).toBe(0);
    expect(json.modes.pooled).toMatchObject({ ops: 21, errors: 0, clients: 3, jobs: 2 });
    expect(json.modes.pooled.connections.opened).toBeLessThanOrEqual(3);
  });

  it('pooled mode never holds more than --pool-size connections on the server; fresh opens new ones', async () => {
    // Each operation records, on the server, its backend and how many of the bench's backends
    // existed at that moment: evidence from every operation, not from a poller's samples. (The
    // connection that asked for the server version before the run is not one of the bench's.)
    await sql(`CREATE TABLE ${SCHEMA}.seen (pid int, backends int)`);
    const record = `INSERT INTO ${SCHEMA}.seen SELECT pg_backend_pid(), (SELECT count(*) FROM pg_stat_activity WHERE application_name = current_setting('application_name') AND query <> 'SHOW server_version')`;
    const seen = async () => (await sql<{ ops: number; pids: number; most: number }>(`SELECT count(*)::int AS ops, count(DISTINCT pid)::int AS pids, max(backends)::int AS most FROM ${SCHEMA}.seen`))[0]!;
    const appName = `bench_cli_${process.pid}`;

    const pooled = await benchJson(['--mode', 'pooled', '-c', '4', '--pool-size', '2', '-t', '50', '--query', record], { PGAPPNAME: appName });
    expect(pooled.code).toBe(0);
    expect(pooled.json.modes.pooled).toMatchObject({ ops: 200, errors: 0, successes: 200 });
    const opened = pooled.json.modes.pooled.connections.opened;
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(opened).toBeLessThanOrEqual(2);
    const onPool = await seen();
    expect(onPool.ops).toBe(200);
    expect(onPool.pids).toBe(opened);
    expect(onPool.most).toBeGreaterThanOrEqual(1);
    expect(onPool.most).toBeLessThanOrEqual(2);

    await sql(`TRUNCATE ${SCHEMA}.seen`);
    const fresh = await benchJson(['--mode', 'fresh', '-c', '2', '-t', '10', '--query', record], { PGAPPNAME: appName });
    expect(fresh.code).toBe(0);
    expect(fresh.json.modes.fresh).toMatchObject({ ops: 20, errors: 0, successes: 20 });
    expect(fresh.json.modes.fresh.connections.opened).toBe(20);
    // Every operation had a backend of its own.
    expect(await seen()).toMatchObject({ ops: 20, pids: 20 });
  });
});

describe('bench errors', () => {
  it('counts query errors; exit 2 when no operation succeeds', async () => {
    const { json, stderr, code } = await benchJson(['--mode', 'both', '-t', '4', '--query', 'SELECT 1/0']);
    expect(code).toBe(2);
    for (const mode of ['fresh', 'pooled']) expect(json.modes[mode]).toMatchObject({ ops: 4, errors: 4, successes: 0 });
    expect(stderr).toBe([
      'fresh: 4 x ERROR:  22012: division by zero',
      'pooled: 4 x ERROR:  22012: division by zero',
      'pgfactory: fresh mode: no operation succeeded (4 of 4 failed)',
      '',
    ].join('\n'));
  });

  it('some errors are reported but not fatal; --max-error-rate turns them into exit 3', async () => {
    await sql(`CREATE SEQUENCE ${SCHEMA}.s`);
    // Every second operation divides by zero.
    const query = `SELECT 1 / (nextval('${SCHEMA}.s') % 2)::int`;
    const lenient = await benchJson(['--mode', 'pooled', '-t', '10', '--query', query]);
    expect(lenient.code).toBe(0);
    expect(lenient.json.modes.pooled).toMatchObject({ ops: 10, errors: 5, successes: 5 });
    expect(lenient.stderr).toBe('pooled: 5 x ERROR:  22012: division by zero\n');

    const atLimit = await benchJson(['--mode', 'pooled', '-t', '10', '--query', query, '--max-error-rate', '0.5']);
    expect(atLimit.code).toBe(0);

    const strict = await benchJson(['--mode', 'fresh', '-t', '10', '--query', query, '--max-error-rate', '0.1']);
    expect(strict.code).toBe(3);
    expect(strict.json.modes.fresh).toMatchObject({ ops: 10, errors: 5 });
    expect(strict.stderr).toBe('fresh: 5 x ERROR:  22012: division by zero\npgfactory: fresh mode: error rate 0.5000 (5 of 10) exceeds --max-error-rate 0.1\n');
  });

  it('steps over any result: rows larger than a socket read, notices, several statements; every operation runs', async () => {
    await sql(`CREATE TABLE ${SCHEMA}.ran (n int)`);
    const query = `DO $$BEGIN RAISE NOTICE 'hello'; END$$; INSERT INTO ${SCHEMA}.ran VALUES (1); SELECT repeat('é', 100000) AS big, g FROM generate_series(1, 3) g`;
    const { json, stderr, code } = await benchJson(['--mode', 'both', '-c', '2', '-t', '10', '--query', query]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    for (const mode of ['fresh', 'pooled']) expect(json.modes[mode]).toMatchObject({ ops: 20, errors: 0, successes: 20 });
    expect(await sql(`SELECT count(*)::int AS n FROM ${SCHEMA}.ran`)).toEqual([{ n: 40 }]);
  });

  it('an error after rows, and a COPY from the client, are counted as errors on a connection that stays usable', async () => {
    await sql(`CREATE TABLE ${SCHEMA}.copied (n int)`);
    const late = await benchJson(['--mode', 'pooled', '-t', '5', '--query', 'SELECT g FROM generate_series(1, 1000) g; SELECT 1/0']);
    expect(late.json.modes.pooled).toMatchObject({ ops: 5, errors: 5 });
    expect(late.stderr).toBe('pooled: 5 x ERROR:  22012: division by zero\npgfactory: pooled mode: no operation succeeded (5 of 5 failed)\n');
    const copy = await benchJson(['--mode', 'pooled', '-t', '3', '--query', `COPY ${SCHEMA}.copied FROM STDIN`]);
    expect(copy.json.modes.pooled).toMatchObject({ ops: 3, errors: 3 });
    expect(copy.stderr).toMatch(/^pooled: 3 x ERROR: {2}57014: COPY from stdin failed: bench does not send COPY data\n/);
    expect(copy.json.modes.pooled.connections).toMatchObject({ opened: 1, errors: 0 });
    expect(late.json.modes.pooled.connections).toMatchObject({ opened: 1, errors: 0 });
  });

  it('a connection lost during the run is counted and the pool opens a new one', async () => {
    const { json, code } = await benchJson(['--mode', 'pooled', '-t', '3', '--query', 'SELECT pg_terminate_backend(pg_backend_pid())']);
    expect(code).toBe(2);
    expect(json.modes.pooled).toMatchObject({ ops: 3, errors: 3 });
    expect(json.modes.pooled.connections.opened).toBe(3);
    expect(json.modes.pooled.error_messages).toHaveLength(1);
    expect(json.modes.pooled.error_messages[0].message).toMatch(/terminat/);
  });

  it('an unreachable server fails at once with exit 2', async () => {
    const result = await runCli(['bench', '-d', 'postgres://nobody@127.0.0.1:1/none', '-T', '30'], { noDatabaseUrl: true });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^pgfactory: cannot connect to host "127\.0\.0\.1", port 1: connection refused/);
  });

  it.each([
    [['-T', '5', '-t', '5'], 'pgfactory: give either -T/--time or -t/--transactions, not both'],
    [['--mode', 'fast'], "pgfactory: error: option '--mode <mode>' argument 'fast' is invalid. Allowed choices are fresh, pooled, both."],
    [['-c', 'many'], 'pgfactory: error: option \'-c, --clients <n>\' argument \'many\' is invalid. -c/--clients takes a whole number >= 1, got "many"'],
    [['-c', '0'], 'pgfactory: error: option \'-c, --clients <n>\' argument \'0\' is invalid. -c/--clients takes a whole number >= 1, got "0"'],
    [['-T', 'ten'], 'pgfactory: error: option \'-T, --time <seconds>\' argument \'ten\' is invalid. -T/--time takes a number > 0, got "ten"'],
    [['--max-error-rate', '1.5'], 'pgfactory: error: option \'--max-error-rate <rate>\' argument \'1.5\' is invalid. --max-error-rate takes a fraction from 0 to 1, got "1.5"'],
    [['--warmup', '-1'], 'pgfactory: error: option \'--warmup <seconds>\' argument \'-1\' is invalid. --warmup takes a number >= 0, got "-1"'],
    [['--format', 'csv'], "pgfactory: error: option '--format <format>' argument 'csv' is invalid. Allowed choices are table, json."],
    [['--query', 'SELECT 1', '-f', 'x.sql'], 'pgfactory: give the workload either with --query or with -f/-b/-S/-N, not both'],
    [['-f', 'missing.sql'], 'pgfactory: cannot read SQL from "missing.sql": ENOENT'],
    [['-t', '5', '--max-tries', '0'], 'pgfactory: --max-tries 0 (no limit) needs -T/--time or -L/--latency-limit'],
  ])('bad option %j is a one-line error (exit 1)', async (args, message) => {
    const result = await runCli(['bench', ...args]);
    expect(result.stderr).toBe(`${message}\n`);
    expect(result.stdout).toBe('');
    expect(result.code).toBe(1);
  });
});

describe('bench table output', () => {
  it('prints the modes side by side, the overhead summary and a histogram per mode; progress on stderr', async () => {
    const result = await runCli(['bench', '-T', '2', '--progress', '0.5']);
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^server: PostgreSQL \S+, host "127\.0\.0\.1", port \d+, database "\w+", user "\w+"$/);
    expect(lines[1]).toBe('query: SELECT 1');
    expect(lines[2]).toBe('clients: 1, 2 s, warmup: 0 s');
    expect(lines[4]).toMatch(/^│ +│ +fresh │ +pooled │$/);
    for (const label of ['operations', 'errors', 'ops/s', 'latency avg (ms)', 'latency p99 (ms)', 'connect avg (ms)', '  TCP connect avg', '  startup + auth avg', 'close avg (ms)']) {
      expect(result.stdout).toContain(`│ ${label}`);
    }
    expect(result.stdout).toMatch(/^│ latency p50 \(ms\) +│ +\d+\.\d{3} │ +\d+\.\d{3} │$/m);
    expect(result.stdout).toMatch(/^│ connect avg \(ms\) +│ +\d+\.\d{3} │ +- │$/m);
    expect(result.stdout).toMatch(/^a fresh connection costs \d+\.\d{3} ms to open; closing it takes \d+\.\d{3} ms more, in the background \(operations do not wait for it, as with pgbench -C\)$/m);
    expect(result.stdout).toMatch(/^overhead: a fresh connection adds -?\d+\.\d{3} ms per operation \(latency avg \d+\.\d{3} ms fresh vs \d+\.\d{3} ms pooled\)$/m);
    expect(result.stdout).toMatch(/^throughput: pooled runs \d+\.\d{2}x the operations per second of fresh \(\d+\.\d vs \d+\.\d ops\/s\)$/m);
    expect(result.stdout).toMatch(/^latency histogram \(fresh\), ms:\n( +\d+\.\d{3} - +\d+\.\d{3} \|#+ *\d+ +\d+\.\d\d%\n)+/m);
    expect(result.stdout).toContain('\nlatency histogram (pooled), ms:\n');
    // Progress every 0.5 s of a 2 s run: at least one line per mode however loaded the machine
    // (how many depends on when the timer gets to run), fresh ones first.
    const progress = result.stderr.trimEnd().split('\n');
    for (const line of progress) expect(line).toMatch(/^progress \((fresh|pooled)\): \d+\.\d s, \d+\.\d ops\/s, lat \d+\.\d{3} ms stddev \d+\.\d{3}, 0 failed$/);
    const modes = progress.map((line) => /^progress \((\w+)\)/.exec(line)![1]);
    expect([...new Set(modes)]).toEqual(['fresh', 'pooled']);
    expect(modes).toEqual([...modes].sort());
  });

  it('reads the SQL from a file', async () => {
    const result = await runCli(['bench', '--mode', 'pooled', '-t', '3', '-f', '-', '--format', 'json'], { input: 'SELECT 2;\n' });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).settings).toMatchObject({ query: 'SELECT 2;\n', file: '-' });
  });
});
