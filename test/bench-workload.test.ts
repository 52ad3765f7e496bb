// bench as a workload tool, against the real test server: pgbench scripts and built-ins, every
// meta-command, the protocols, weights, run-time errors, --rate (a stall is not hidden),
// --progress/--log, bench merge and --baseline.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, runCli, scratchDir, sql, useTestSchema, writeFileIn } from './helpers.js';

const SCHEMA = 'bench_workload';
useTestSchema(SCHEMA);

const dir = scratchDir();
const script = (name: string, text: string) => writeFileIn(dir, name, text);

async function bench(args: string[], env: Record<string, string> = {}) {
  const result = await runCli(['bench', '--format', 'json', ...args], { env, cwd: dir, timeoutMs: 60_000 });
  return { ...result, json: result.stdout === '' ? undefined : JSON.parse(result.stdout) };
}

describe('pgbench built-in scripts', () => {
  beforeAll(async () => {
    // pgbench -i's tables at scale 2 (accounts cut short: an UPDATE of a missing aid changes nothing).
    await sql(`DROP TABLE IF EXISTS pgbench_branches, pgbench_tellers, pgbench_accounts, pgbench_history;
      CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int, filler char(88));
      CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int, tbalance int, filler char(84));
      CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
      CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
      INSERT INTO pgbench_branches SELECT g, 0 FROM generate_series(1, 2) g;
      INSERT INTO pgbench_tellers SELECT g, (g - 1) / 10 + 1, 0 FROM generate_series(1, 20) g;
      INSERT INTO pgbench_accounts SELECT g, (g - 1) / 100000 + 1, 0 FROM generate_series(1, 2000) g;`);
  });
  afterAll(async () => {
    await sql('DROP TABLE IF EXISTS pgbench_branches, pgbench_tellers, pgbench_accounts, pgbench_history');
  });

  it.each(['simple', 'extended', 'prepared'])('tpcb-like (-M %s) adds exactly one history row per operation, balances add up', async (protocol) => {
    await sql('TRUNCATE pgbench_history');
    const { json, code, stderr } = await bench(['-b', 'tpcb-like', '-M', protocol, '-c', '3', '-j', '2', '-t', '20']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(json.settings).toMatchObject({ scale: 2, protocol, scripts: [{ name: 'builtin: tpcb-like', weight: 1 }] });
    expect(json.modes.fresh).toMatchObject({ ops: 60, errors: 0 });
    expect(json.modes.pooled).toMatchObject({ ops: 60, errors: 0 });
    const [history] = await sql<{ n: string; delta: string; bad: string }>('SELECT count(*) AS n, sum(delta) AS delta, count(*) FILTER (WHERE aid NOT BETWEEN 1 AND 200000 OR bid NOT BETWEEN 1 AND 2 OR tid NOT BETWEEN 1 AND 20 OR delta NOT BETWEEN -5000 AND 5000) AS bad FROM pgbench_history');
    expect(history).toMatchObject({ n: '120', bad: '0' });
    const [branches] = await sql<{ total: string }>('SELECT sum(bbalance) AS total FROM pgbench_branches');
    const [tellers] = await sql<{ total: string }>('SELECT sum(tbalance) AS total FROM pgbench_tellers');
    await sql('UPDATE pgbench_branches SET bbalance = 0; UPDATE pgbench_tellers SET tbalance = 0');
    // Every delta went to one branch and one teller, as the history says.
    expect(branches.total).toBe(history.delta);
    expect(tellers.total).toBe(history.delta);
  });

  it('-S and -N are pgbench\'s select-only and simple-update; --show-script prints a built-in', async () => {
    await sql('TRUNCATE pgbench_history');
    const selectOnly = await bench(['-S', '--mode', 'pooled', '-t', '5']);
    expect(selectOnly.code).toBe(0);
    expect(selectOnly.json.settings.scripts).toEqual([expect.objectContaining({ name: 'builtin: select-only', weight: 1 })]);
    expect(selectOnly.json.modes.pooled).toMatchObject({ ops: 5, errors: 0 });
    const simpleUpdate = await bench(['-N', '--mode', 'pooled', '-t', '7']);
    expect(simpleUpdate.code).toBe(0);
    expect(simpleUpdate.json.settings.scripts).toEqual([expect.objectContaining({ name: 'builtin: simple-update', weight: 1 })]);
    expect(simpleUpdate.json.modes.pooled).toMatchObject({ ops: 7, errors: 0 });
    expect(await sql('SELECT count(*)::int AS n FROM pgbench_history')).toEqual([{ n: 7 }]);
    expect(await runCli(['bench', '--show-script', 'select'])).toMatchObject({
      stdout: '\\set aid random(1, 100000 * :scale)\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n',
      stderr: '',
      code: 0,
    });
    expect(await runCli(['bench', '--show-script', 'nope'])).toMatchObject({
      stdout: '',
      stderr: 'pgfactory: --show-script: no built-in script named "nope" (available: tpcb-like, simple-update, select-only)\n',
      code: 1,
    });
  });

  it('built-ins need pgbench\'s tables: a one-line error naming them', async () => {
    const result = await runCli(['bench', '-b', 'select-only', '-t', '1'], { env: { PGOPTIONS: '-c search_path=nowhere' } });
    expect(result.stderr).toMatch(/^pgfactory: the built-in scripts need pgbench's tables: relation "pgbench_branches" does not exist \(create them with pgfactory bench init, or pgbench -i\)\n$/);
    expect(result.code).toBe(1);
  });
});

describe('pgbench scripts', () => {
  beforeAll(async () => {
    await sql(`CREATE TABLE ${SCHEMA}.seen (client int, tag text, v1 text, v2 text, v3 text, v4 text, v5 text, v6 text)`);
  });

  it('every function and meta-command gives the value computed by hand (hash and permute as pgbench)', async () => {
    await sql(`TRUNCATE ${SCHEMA}.seen`);
    const file = script('functions.sql', [
      '\\set h hash(12345, 42)',
      '\\set f hash_fnv1a(12345, 42) ',
      '\\set p permute(7, 1000003, -99)',
      '\\set x abs(-3) * 2 + mod(7, 3) + least(5, 2) + greatest(1, 4) + int(2.5) + int(sqrt(16)) \\',
      '  + int(exp(0)) + int(ln(1)) + int(pow(2, 3)) + int(pi() * 0) + :n',
      '\\set b case when :n > 1 and not false then 1.5 / 3 else 0 end',
      '\\set r random(10, 12)',
      '\\sleep 1 ms',
      '\\sleep :n us',
      `INSERT INTO ${SCHEMA}.seen VALUES (:client_id, 'f', :h, :f, :p, :x, :b, :r);`,
    ].join('\n'));
    const { json, code, stderr } = await bench(['--mode', 'pooled', '-f', file, '-D', 'n=2', '-t', '3']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(json.modes.pooled).toMatchObject({ ops: 3, errors: 0 });
    const rows = await sql(`SELECT client, v1, v2, v3, v4, v5, v6 FROM ${SCHEMA}.seen`);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      // 6 + 1 + 2 + 4 + 2 + 4 + 1 + 0 + 8 + 0 + 2 = 30
      expect(row).toMatchObject({ client: 0, v1: '-591810079667318857', v2: '-5267424053501251834', v3: '339850', v4: '30', v5: '0.5' });
      expect(['10', '11', '12']).toContain(row.v6);
    }
  });

  it(':client_id numbers the clients across threads; variables keep their values between operations', async () => {
    await sql(`TRUNCATE ${SCHEMA}.seen`);
    const file = script('clients.sql', `\\set n :n + 1\nINSERT INTO ${SCHEMA}.seen (client, tag, v1) VALUES (:client_id, 'c', :n);\n`);
    const { code } = await bench(['--mode', 'fresh', '-f', file, '-D', 'n=0', '-c', '3', '-j', '2', '-t', '4']);
    expect(code).toBe(0);
    const rows = await sql<{ client: number; counts: string }>(`SELECT client, string_agg(v1, ',' ORDER BY v1::int) AS counts FROM ${SCHEMA}.seen GROUP BY client ORDER BY client`);
    expect(rows).toEqual([0, 1, 2].map((client) => ({ client, counts: '1,2,3,4' })));
  });

  it.each([['simple', 0], ['extended', 0], ['prepared', 1]])('-M %s sends the SQL that way (named prepared statements: %i)', async (protocol, prepared) => {
    await sql(`TRUNCATE ${SCHEMA}.seen`);
    const file = script('protocol.sql', `\\set v 7\nINSERT INTO ${SCHEMA}.seen (tag, v1, v2) SELECT 'p', :v, count(*) FROM pg_prepared_statements WHERE NOT from_sql;\n`);
    const { code, stderr } = await bench(['--mode', 'pooled', '-f', file, '-M', protocol, '-t', '2']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const rows = await sql<{ v1: string; v2: string }>(`SELECT v1, v2 FROM ${SCHEMA}.seen ORDER BY v2`);
    // The second run on the pooled connection sees the statement prepared by the first.
    expect(rows).toEqual([{ v1: '7', v2: String(prepared) }, { v1: '7', v2: String(prepared) }]);
  });

  it('scripts are chosen by weight', async () => {
    await sql(`TRUNCATE ${SCHEMA}.seen`);
    const a = script('a.sql', `INSERT INTO ${SCHEMA}.seen (tag) VALUES ('a');\n`);
    const b = script('b.sql', `INSERT INTO ${SCHEMA}.seen (tag) VALUES ('b');\n`);
    const c = script('c.sql', `INSERT INTO ${SCHEMA}.seen (tag) VALUES ('c');\n`);
    const { json, code } = await bench(['--mode', 'pooled', '-f', `${a}@1`, '-f', `${b}@3`, '-f', `${c}@0`, '-c', '2', '-t', '400']);
    expect(code).toBe(0);
    const counts = Object.fromEntries((await sql<{ tag: string; n: string }>(`SELECT tag, count(*) AS n FROM ${SCHEMA}.seen GROUP BY tag`)).map((row) => [row.tag, Number(row.n)]));
    expect(counts.a + counts.b).toBe(800);
    expect(counts.c).toBeUndefined();
    // b's share is 3/4: 600 expected, standard deviation 12.2; the bounds are 6 of them.
    expect(counts.b).toBeGreaterThan(526);
    expect(counts.b).toBeLessThan(674);
    expect(json.modes.pooled.scripts.map((entry: { ops: number }) => entry.ops)).toEqual([counts.a, counts.b, 0]);
  });

  it('a meta-command bench does not run is an error naming file and line, before anything runs', async () => {
    await sql(`TRUNCATE ${SCHEMA}.seen`);
    const file = script('shell.sql', `INSERT INTO ${SCHEMA}.seen (tag) VALUES ('x');\n\\setshell v echo 1\n`);
    const result = await runCli(['bench', '-f', file, '-t', '1'], { cwd: dir });
    expect(result).toMatchObject({ stdout: '', stderr: `pgfactory: ${file}, line 2: unsupported meta-command "\\setshell" (bench runs \\set and \\sleep)\n`, code: 1 });
    const syntax = await runCli(['bench', '-f', script('syntax.sql', 'SELECT 1;\n\\set x (1 + \n')], { cwd: dir });
    expect(syntax).toMatchObject({ stdout: '', stderr: `pgfactory: ${path.join(dir, 'syntax.sql')}, line 2: \\set: syntax error: unexpected end of expression at column 12\n`, code: 1 });
    expect(await sql(`SELECT * FROM ${SCHEMA}.seen`)).toEqual([]);
  });

  it('a run-time expression error fails the operation, as pgbench counts it, and the run goes on', async () => {
    const file = script('divide.sql', '\\set d :client_id % 2\n\\set x 10 / :d\nSELECT :x;\n');
    const { json, code, stderr } = await bench(['--mode', 'pooled', '-f', file, '-c', '2', '-j', '1', '-t', '5']);
    expect(code).toBe(0);
    expect(json.modes.pooled).toMatchObject({ ops: 10, errors: 5, successes: 5 });
    expect(json.modes.pooled.error_messages).toEqual([{ message: `${file}, line 2: division by zero`, count: 5 }]);
    expect(stderr).toBe(`pooled: 5 x ${file}, line 2: division by zero\n`);
  });

  it('-r reports each command\'s average latency and failures, summed over threads and merged runs', async () => {
    const file = script('per-command.sql', '\\set d :client_id % 2\n\\sleep 20 ms\nSELECT 10 / :d;\nSELECT pg_sleep(0.03);\n');
    const runs = [];
    for (const name of ['r1', 'r2']) {
      const { json, stdout, code } = await bench(['--mode', 'pooled', '-f', file, '-c', '2', '-j', '2', '-t', '10', '-r']);
      expect(code).toBe(0);
      fs.writeFileSync(path.join(dir, `${name}.json`), stdout);
      runs.push(json.modes.pooled);
    }
    const [run] = runs;
    expect(run).toMatchObject({ ops: 20, errors: 10 });
    // Client 0 divides by zero on line 3 every time; client 1 runs every command.
    expect(run.per_command).toEqual([{
      script: file,
      commands: [
        { line: 1, command: '\\set d :client_id % 2', executed: 20, failures: 0, retries: 0, latency_ms_avg: expect.any(Number), latency_ms_sum: expect.any(Number) },
        { line: 2, command: '\\sleep 20 ms', executed: 20, failures: 0, retries: 0, latency_ms_avg: expect.any(Number), latency_ms_sum: expect.any(Number) },
        { line: 3, command: 'SELECT 10 / :d', executed: 10, failures: 10, retries: 0, latency_ms_avg: expect.any(Number), latency_ms_sum: expect.any(Number) },
        { line: 4, command: 'SELECT pg_sleep(0.03)', executed: 10, failures: 0, retries: 0, latency_ms_avg: expect.any(Number), latency_ms_sum: expect.any(Number) },
      ],
    }]);
    const [set, sleep, divide, pgSleep] = run.per_command[0].commands;
    expect(sleep.latency_ms_avg).toBeGreaterThanOrEqual(19);
    expect(pgSleep.latency_ms_avg).toBeGreaterThanOrEqual(29);
    expect(set.latency_ms_avg).toBeLessThan(sleep.latency_ms_avg);
    expect(divide.latency_ms_avg).toBeLessThan(pgSleep.latency_ms_avg);
    for (const command of run.per_command[0].commands) expect(command.latency_ms_sum).toBeCloseTo(command.latency_ms_avg * command.executed, 0);

    const merged = await runCli(['bench', 'merge', '--format', 'json', 'r1.json', 'r2.json'], { cwd: dir });
    expect(merged.code).toBe(0);
    const mergedCommands = JSON.parse(merged.stdout).modes.pooled.per_command[0].commands;
    expect(mergedCommands.map((command: { executed: number; failures: number }) => [command.executed, command.failures])).toEqual([[40, 0], [40, 0], [20, 20], [20, 0]]);
    mergedCommands.forEach((command: { latency_ms_sum: number }, index: number) => {
      expect(command.latency_ms_sum).toBeCloseTo(runs[0].per_command[0].commands[index].latency_ms_sum + runs[1].per_command[0].commands[index].latency_ms_sum, 2);
    });

    const table = await runCli(['bench', '--mode', 'pooled', '-f', file, '-c', '2', '-t', '2', '-r'], { cwd: dir });
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(`\nstatement latencies in milliseconds and failures (pooled, ${file}):\n`);
    expect(table.stdout).toMatch(/^ +\d+\.\d{3} +0  \\set d :client_id % 2\n +\d+\.\d{3} +0  \\sleep 20 ms\n +\d+\.\d{3} +2  SELECT 10 \/ :d\n +\d+\.\d{3} +0  SELECT pg_sleep\(0\.03\)\n/m);
    // Without -r nothing is timed per command.
    const plain = await bench(['--mode', 'pooled', '-f', file, '-c', '2', '-t', '2']);
    expect(plain.json.modes.pooled.per_command).toBeUndefined();
  }, 120_000);

  it('--max-tries retries serialization failures (every operation lands once); without it they fail and are counted', async () => {
    await sql(`CREATE TABLE ${SCHEMA}.counter (id int PRIMARY KEY, n int); INSERT INTO ${SCHEMA}.counter VALUES (1, 0)`);
    // Four clients read, wait and update one row in REPEATABLE READ: concurrent updates conflict.
    const file = script('conflict.sql', `BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT n FROM ${SCHEMA}.counter WHERE id = 1;\nSELECT pg_sleep(0.01);\nUPDATE ${SCHEMA}.counter SET n = n + 1 WHERE id = 1;\nEND;\n`);
    const retried = await bench(['--mode', 'pooled', '-f', file, '-c', '4', '-j', '2', '-t', '25', '--max-tries', '1000', '-r']);
    expect(retried.code).toBe(0);
    const pooled = retried.json.modes.pooled;
    expect(pooled).toMatchObject({ ops: 100, errors: 0 });
    expect(retried.json.settings.max_tries).toBe(1000);
    expect(pooled.retried).toBeGreaterThanOrEqual(1);
    expect(pooled.retries).toBeGreaterThanOrEqual(pooled.retried);
    const tries = pooled.per_command[0].commands.map((command: { failures: number; retries: number }) => [command.failures, command.retries]);
    expect(tries).toEqual([[0, 0], [0, 0], [0, 0], [0, pooled.retries], [0, 0]]);
    expect(await sql(`SELECT n FROM ${SCHEMA}.counter`)).toEqual([{ n: 100 }]);

    await sql(`UPDATE ${SCHEMA}.counter SET n = 0`);
    const failing = await bench(['--mode', 'pooled', '-f', file, '-c', '4', '-j', '2', '-t', '25', '-r']);
    expect(failing.code).toBe(0);
    const once = failing.json.modes.pooled;
    expect(once.errors).toBeGreaterThanOrEqual(1);
    expect(once.retries).toBeUndefined();
    expect(once.per_command[0].commands[3]).toMatchObject({ failures: once.errors, retries: 0 });
    expect(await sql(`SELECT n FROM ${SCHEMA}.counter`)).toEqual([{ n: 100 - once.errors }]);
    expect(failing.stderr).toBe(`pooled: ${once.errors} x ERROR:  40001: could not serialize access due to concurrent update\n`);
  }, 120_000);

  it('a retried operation draws the same random values again, as pgbench', async () => {
    await sql(`CREATE TABLE ${SCHEMA}.flaky_mode (fail boolean); INSERT INTO ${SCHEMA}.flaky_mode VALUES (false);
      CREATE SEQUENCE ${SCHEMA}.flaky_seq; CREATE TABLE ${SCHEMA}.flaky_log (ord serial, r bigint);
      CREATE FUNCTION ${SCHEMA}.flaky(r bigint) RETURNS void LANGUAGE plpgsql AS $$ BEGIN
        IF (SELECT fail FROM ${SCHEMA}.flaky_mode) AND nextval('${SCHEMA}.flaky_seq') % 2 = 1 THEN RAISE EXCEPTION 'try %', r USING ERRCODE = '40001'; END IF;
        INSERT INTO ${SCHEMA}.flaky_log (r) VALUES (r); END $$`);
    const file = script('flaky.sql', `\\set r random(1, 1000000000)\nSELECT ${SCHEMA}.flaky(:r);\n`);
    const args = ['--mode', 'pooled', '-f', file, '-t', '10', '--max-tries', '2', '--random-seed', '11'];
    const logged = async () => (await sql<{ r: string }>(`SELECT r FROM ${SCHEMA}.flaky_log ORDER BY ord`)).map((row) => row.r);
    const smooth = await bench(args);
    expect(smooth.json.modes.pooled).toMatchObject({ ops: 10, errors: 0, retried: 0, retries: 0 });
    const values = await logged();
    expect(values).toHaveLength(10);
    expect(new Set(values).size).toBe(10);
    // Now every operation's first try fails: the second must log the value the first drew.
    await sql(`TRUNCATE ${SCHEMA}.flaky_log; UPDATE ${SCHEMA}.flaky_mode SET fail = true`);
    const flaky = await bench(args);
    expect(flaky.json.modes.pooled).toMatchObject({ ops: 10, errors: 0, retried: 10, retries: 10 });
    expect(await logged()).toEqual(values);
  }, 120_000);

  it('a failed statement inside BEGIN does not leave the pooled connection in an aborted transaction', async () => {
    const file = script('abort.sql', 'BEGIN;\nSELECT 1 / (:client_id - :client_id);\nEND;\n');
    const ok = script('ok.sql', 'SELECT 1;\n');
    const { json, code } = await bench(['--mode', 'pooled', '-f', `${file}@1`, '-f', `${ok}@1`, '-t', '40', '--random-seed', '5']);
    expect(code).toBe(0);
    const [failing, fine] = json.modes.pooled.scripts;
    expect(failing.errors).toBe(failing.ops);
    expect(failing.ops).toBeGreaterThan(0);
    expect(fine).toMatchObject({ errors: 0 });
    expect(fine.ops).toBeGreaterThan(0);
  });
});

describe('--rate, --latency-limit, --progress and --log', () => {
  it('latency counts from the scheduled start: a 1 s stall shows in p99 and in the schedule lag', async () => {
    const file = script('stall.sql', '\\set n :n + 1\nSELECT pg_sleep(CASE WHEN :n = 40 THEN 1 ELSE 0 END);\n');
    const { json, code } = await bench(['--mode', 'pooled', '-f', file, '-D', 'n=0', '--rate', '100', '-T', '2.5', '-L', '5000']);
    expect(code).toBe(0);
    const pooled = json.modes.pooled;
    expect(json.settings).toMatchObject({ rate: 100, latency_limit_ms: 5000 });
    // The operations scheduled during the stall waited for it: about 100 of ~250.
    expect(pooled.latency_ms.max).toBeGreaterThanOrEqual(1000);
    expect(pooled.latency_ms.p99).toBeGreaterThanOrEqual(900);
    expect(pooled.lag_ms.max).toBeGreaterThanOrEqual(900);
    expect(pooled).toMatchObject({ errors: 0, skipped: 0, late: 0 });
    // Poisson arrivals: 250 expected, standard deviation 15.8.
    expect(pooled.ops).toBeGreaterThan(150);
    expect(pooled.ops).toBeLessThan(350);
  });

  it('--latency-limit with --rate skips operations that would start too late and counts the late ones', async () => {
    const file = script('slow.sql', 'SELECT pg_sleep(0.05);\n');
    const { json, code } = await bench(['--mode', 'pooled', '-f', file, '--rate', '100', '-L', '20', '-t', '30']);
    expect(code).toBe(0);
    const pooled = json.modes.pooled;
    // One client needs 50 ms an operation for a schedule of one per 10 ms: it falls behind.
    expect(pooled.skipped).toBeGreaterThan(0);
    expect(pooled.ops + pooled.skipped).toBe(30);
    expect(pooled.late).toBe(pooled.ops);
  });

  it('intervals go into the JSON and, as the run goes, into the --log file; they add up to the run', async () => {
    const log = path.join(dir, 'intervals.ndjson');
    const { json, code, stderr } = await bench(['--mode', 'both', '-T', '1.2', '--progress', '0.5', '--log', log]);
    expect(code).toBe(0);
    const lines = fs.readFileSync(log, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
    for (const mode of ['fresh', 'pooled']) {
      const intervals = json.modes[mode].intervals;
      expect(intervals.length).toBeGreaterThanOrEqual(2);
      expect(intervals.reduce((sum: number, interval: { ops: number }) => sum + interval.ops, 0)).toBe(json.modes[mode].ops);
      expect(lines.filter((line) => line.mode === mode).map(({ mode: _, ...rest }) => rest)).toEqual(intervals);
      expect(Object.keys(intervals[0]).sort()).toEqual(['elapsed_s', 'errors', 'latency_ms', 'ops', 'ops_per_sec', 'skipped']);
      expect(Object.keys(intervals[0].latency_ms).sort()).toEqual(['avg', 'p50', 'p99', 'stddev']);
    }
    expect(stderr.trimEnd().split('\n')).toHaveLength(lines.length);
  });
});

describe('bench merge and --baseline', () => {
  it('merges runs of one workload: operations summed, percentiles from the merged histograms', async () => {
    const runs = [];
    for (const name of ['one', 'two']) {
      const { json, stdout } = await bench(['--mode', 'pooled', '-t', '150', '-c', '2']);
      fs.writeFileSync(path.join(dir, `${name}.json`), stdout);
      runs.push(json.modes.pooled);
    }
    const merged = await runCli(['bench', 'merge', '--format', 'json', 'one.json', 'two.json'], { cwd: dir });
    expect(merged.stderr).toBe('');
    expect(merged.code).toBe(0);
    const pooled = JSON.parse(merged.stdout).modes.pooled;
    expect(pooled.ops).toBe(600);
    expect(pooled.errors).toBe(0);
    expect(pooled.ops_per_sec).toBeCloseTo(runs[0].ops_per_sec + runs[1].ops_per_sec, 1);
    expect(pooled.latency_ms.max).toBe(Math.max(runs[0].latency_ms.max, runs[1].latency_ms.max));
    for (const key of ['p50', 'p99']) {
      expect(pooled.latency_ms[key]).toBeGreaterThanOrEqual(Math.min(runs[0].latency_ms[key], runs[1].latency_ms[key]) * 0.999);
      expect(pooled.latency_ms[key]).toBeLessThanOrEqual(Math.max(runs[0].latency_ms[key], runs[1].latency_ms[key]) * 1.001);
    }
    const table = await runCli(['bench', 'merge', 'one.json', 'two.json'], { cwd: dir });
    expect(table.stdout).toMatch(/^│ operations +│ +600 │$/m);
  }, 180_000);

  it('refuses results of different workloads, naming the difference', async () => {
    const { stdout } = await bench(['--mode', 'pooled', '-t', '150', '-c', '1']);
    fs.writeFileSync(path.join(dir, 'other.json'), stdout);
    const result = await runCli(['bench', 'merge', 'one.json', 'other.json'], { cwd: dir });
    expect(result).toMatchObject({ stdout: '', stderr: 'pgfactory: cannot merge "other.json" with "one.json": different workloads (settings.clients: 1 vs 2)\n', code: 1 });
    fs.writeFileSync(path.join(dir, 'junk.json'), '{"a": 1}');
    const junk = await runCli(['bench', 'merge', 'one.json', 'junk.json'], { cwd: dir });
    expect(junk).toMatchObject({ stdout: '', stderr: 'pgfactory: "junk.json" is not a bench --format json result: no "settings"\n', code: 1 });
  });

  it('--baseline --max-regression: exit 3 naming the figure that regressed', async () => {
    const { stdout } = await bench(['--mode', 'pooled', '-t', '100']);
    fs.writeFileSync(path.join(dir, 'baseline.json'), stdout);
    // A slowdown far above the baseline's p99 even on a busy machine.
    const slow = script('sleep.sql', 'SELECT pg_sleep(0.2);\n');
    const result = await bench(['--mode', 'pooled', '-t', '20', '-f', slow, '--baseline', 'baseline.json', '--max-regression', '50']);
    expect(result.code).toBe(3);
    expect(result.json.modes.pooled.ops).toBe(20);
    expect(result.stderr).toMatch(/^pgfactory: regression against "baseline\.json" \(more than --max-regression 50%\): pooled mode: ops\/s fell \d+\.\d% \([\d.]+ -> [\d.]+\); pooled mode: p99 latency rose \d+\.\d% \([\d.]+ ms -> [\d.]+ ms\)\n$/);
    const same = await bench(['--mode', 'pooled', '-t', '5', '-f', slow, '--baseline', 'baseline.json', '--max-regression', '1000000']);
    expect(same.code).toBe(0);
  });
});
