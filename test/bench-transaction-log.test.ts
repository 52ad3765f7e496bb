// bench's pgbench-compatible transaction log (-l, --log-prefix, --sampling-rate,
// --aggregate-interval), --failures-detailed, and pgbench's -C and -n, against the real test
// server: every line checked against the run's own JSON figures.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, scratchDir, sql, useTestSchema, writeFileIn } from './helpers.js';

const SCHEMA = 'bench_txlog';
useTestSchema(SCHEMA);

const dir = scratchDir();
const script = (name: string, text: string) => writeFileIn(dir, name, text);

async function bench(args: string[]) {
  const result = await runCli(['bench', '--format', 'json', ...args], { cwd: dir, timeoutMs: 60_000 });
  return { ...result, json: result.stdout === '' ? undefined : JSON.parse(result.stdout) };
}

/** The log files of one run, by name (the PID is the run's own), each as lines of fields. */
function logFiles(prefix: string): Map<string, string[][]> {
  const files = new Map<string, string[][]>();
  for (const name of fs.readdirSync(dir).filter((entry) => entry.startsWith(`${prefix}.`)).sort()) {
    const text = fs.readFileSync(path.join(dir, name), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    files.set(name, text.trimEnd().split('\n').map((line) => line.split(' ')));
  }
  return files;
}

beforeAll(async () => {
  // Fails every other call with a serialization failure while flaky_mode says so.
  await sql(`CREATE TABLE ${SCHEMA}.flaky_mode (fail boolean); INSERT INTO ${SCHEMA}.flaky_mode VALUES (true);
    CREATE SEQUENCE ${SCHEMA}.flaky_seq;
    CREATE FUNCTION ${SCHEMA}.flaky() RETURNS void LANGUAGE plpgsql AS $$ BEGIN
      IF (SELECT fail FROM ${SCHEMA}.flaky_mode) AND nextval('${SCHEMA}.flaky_seq') % 2 = 1 THEN RAISE EXCEPTION 'try again' USING ERRCODE = '40001'; END IF; END $$`);
});

describe('-l: a line per operation, in pgbench\'s format', () => {
  it('one file per thread (PREFIX.PID, PREFIX.PID.1); client, number, time, script, completion time', async () => {
    const fails = script('fails.sql', 'SELECT 1 / 0;\n');
    const works = script('works.sql', 'SELECT 1;\n');
    const started = Date.now();
    const { json, code } = await bench(['--mode', 'pooled', '-f', `${works}@3`, '-f', `${fails}@1`, '-c', '3', '-j', '2', '-t', '20', '-l', '--log-prefix', 'tx', '--random-seed', '3']);
    const ended = Date.now();
    expect(code).toBe(0);
    const files = logFiles('tx');
    const names = [...files.keys()];
    expect(names).toHaveLength(2);
    expect(names[0]).toMatch(/^tx\.\d+$/);
    expect(names[1]).toBe(`${names[0]}.1`);
    const lines = [...files.values()].flat();
    const pooled = json.modes.pooled;
    expect(lines).toHaveLength(60);
    for (const fields of lines) expect(fields).toHaveLength(6);
    // Thread 0 runs clients 0 and 1, thread 1 client 2; each numbers its operations from 1.
    expect(new Set(files.get(names[0])!.map((fields) => fields[0]))).toEqual(new Set(['0', '1']));
    expect(new Set(files.get(names[1])!.map((fields) => fields[0]))).toEqual(new Set(['2']));
    for (const client of ['0', '1', '2']) expect(lines.filter((fields) => fields[0] === client).map((fields) => Number(fields[1]))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // Script 1 always fails: its lines say so, and they are as many as the JSON's errors.
    const failed = lines.filter((fields) => fields[2] === 'failed');
    expect(failed.length).toBe(pooled.errors);
    expect(failed.length).toBe(pooled.scripts[1].ops);
    expect(failed.every((fields) => fields[3] === '1')).toBe(true);
    const ok = lines.filter((fields) => fields[2] !== 'failed');
    expect(ok.every((fields) => fields[3] === '0')).toBe(true);
    const micros = ok.map((fields) => Number(fields[2]));
    expect(micros.every((value) => Number.isInteger(value) && value >= 0)).toBe(true);
    expect(Math.max(...micros)).toBeLessThanOrEqual(Math.round(pooled.latency_ms.max * 1000) + 1);
    for (const fields of lines) {
      const at = Number(fields[4]) * 1000 + Number(fields[5]) / 1000;
      expect(Number(fields[5])).toBeLessThan(1e6);
      expect(at).toBeGreaterThanOrEqual(started - 1);
      expect(at).toBeLessThanOrEqual(ended + 1);
    }
  });

  it('with --rate the schedule lag, with --max-tries the retries; --failures-detailed names serialization failures', async () => {
    const file = script('flaky.sql', `SELECT ${SCHEMA}.flaky();\n`);
    const retried = await bench(['--mode', 'pooled', '-f', file, '-t', '10', '--rate', '200', '--max-tries', '2', '-l', '--log-prefix', 'retry']);
    expect(retried.code).toBe(0);
    expect(retried.json.modes.pooled).toMatchObject({ ops: 10, errors: 0, retried: 10, retries: 10 });
    const retryLines = [...logFiles('retry').values()].flat();
    expect(retryLines).toHaveLength(10);
    for (const fields of retryLines) {
      expect(fields).toHaveLength(8);
      // Lag is part of the latency; every operation was tried once again.
      expect(Number(fields[6])).toBeLessThanOrEqual(Number(fields[2]));
      expect(fields[7]).toBe('1');
    }

    const detailed = await runCli(['bench', '--mode', 'pooled', '-f', file, '-t', '10', '--failures-detailed', '-l', '--log-prefix', 'detail'], { cwd: dir });
    expect(detailed.code).toBe(0);
    // Every other call fails: 5 of 10.
    expect(detailed.stdout).toMatch(/^│ errors +│ +5 │$/m);
    expect(detailed.stdout).toMatch(/^│ {3}serialization failures +│ +5 │$/m);
    expect(detailed.stdout).toMatch(/^│ {3}deadlock failures +│ +0 │$/m);
    const detailLines = [...logFiles('detail').values()].flat();
    expect(detailLines.filter((fields) => fields[2] === 'serialization')).toHaveLength(5);
    expect(detailLines.filter((fields) => /^\d+$/.test(fields[2]))).toHaveLength(5);
    const json = await bench(['--mode', 'pooled', '-f', file, '-t', '10']);
    expect(json.json.modes.pooled).toMatchObject({ errors: 5, serialization_failures: 5, deadlock_failures: 0 });
  });

  it('--sampling-rate logs that fraction of the operations', async () => {
    const { json, code } = await bench(['--mode', 'pooled', '-t', '400', '-l', '--log-prefix', 'sample', '--sampling-rate', '0.5']);
    expect(code).toBe(0);
    expect(json.modes.pooled.ops).toBe(400);
    const lines = [...logFiles('sample').values()].flat();
    // Binomial(400, 0.5): mean 200, standard deviation 10.
    expect(lines.length).toBeGreaterThan(140);
    expect(lines.length).toBeLessThan(260);
  });

  it('--aggregate-interval: a line per interval whose totals add up to the run', async () => {
    const { json, code } = await bench(['--mode', 'pooled', '-T', '2', '-l', '--log-prefix', 'agg', '--aggregate-interval', '1']);
    expect(code).toBe(0);
    const lines = [...logFiles('agg').values()].flat();
    const pooled = json.modes.pooled;
    // Two whole intervals, and a third for operations that ended just after the last second.
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(3);
    for (const fields of lines) expect(fields).toHaveLength(15);
    const starts = lines.map((fields) => Number(fields[0]));
    expect(starts.slice(1).map((start, i) => start - starts[i])).toEqual(starts.slice(1).map(() => 1));
    const total = (index: number) => lines.reduce((sum, fields) => sum + Number(fields[index]), 0);
    expect(pooled.errors).toBe(0);
    expect(total(1)).toBe(pooled.ops);
    // No rate, limit, retries or --failures-detailed: those fields are 0.
    for (const index of [6, 7, 8, 9, 10, 11, 12, 13, 14]) expect(total(index)).toBe(0);
    // The average latency from the summed µs, against the run's own.
    expect(total(2) / total(1) / 1000).toBeCloseTo(pooled.latency_ms.avg, 2);
    expect(Math.max(...lines.map((fields) => Number(fields[5])))).toBe(Math.round(pooled.latency_ms.max * 1000));

    // With --failures-detailed the serialization failures have their field; successes only are transactions.
    const file = script('flaky-agg.sql', `SELECT ${SCHEMA}.flaky();\n`);
    const detailed = await bench(['--mode', 'pooled', '-f', file, '-T', '1', '-l', '--log-prefix', 'aggfail', '--aggregate-interval', '1', '--failures-detailed']);
    const flaky = detailed.json.modes.pooled;
    expect(flaky.serialization_failures).toBeGreaterThan(0);
    const failLines = [...logFiles('aggfail').values()].flat();
    expect(failLines.reduce((sum, fields) => sum + Number(fields[1]), 0)).toBe(flaky.ops - flaky.errors);
    expect(failLines.reduce((sum, fields) => sum + Number(fields[13]), 0)).toBe(flaky.serialization_failures);
  });

  it('bad combinations are refused before anything runs, as pgbench refuses them', async () => {
    const cases: Array<[string[], string]> = [
      [['--sampling-rate', '0.5'], 'pgfactory: --sampling-rate goes with -l/--transaction-log\n'],
      [['-l', '--sampling-rate', '0.5', '--aggregate-interval', '1'], 'pgfactory: --sampling-rate and --aggregate-interval cannot be used together (as in pgbench)\n'],
      [['-l', '-T', '10', '--aggregate-interval', '3'], "pgfactory: --aggregate-interval 3 must divide the run's 10 s (-T) evenly, as in pgbench\n"],
      [['-l', '--sampling-rate', '2'], 'pgfactory: error: option \'--sampling-rate <rate>\' argument \'2\' is invalid. --sampling-rate takes a fraction above 0, at most 1, got "2"\n'],
      [['-l', '--log-prefix', path.join(dir, 'missing', 'tx'), '--mode', 'pooled', '-t', '1'], `pgfactory: -l/--transaction-log: cannot write "${path.join(dir, 'missing', 'tx')}.`],
      [['-C', '--mode', 'pooled'], 'pgfactory: -C/--connect is --mode fresh: it cannot go with --mode pooled\n'],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(['bench', ...args], { cwd: dir });
      expect(result.stderr.startsWith(message)).toBe(true);
      expect(result.stderr.split('\n')).toHaveLength(2);
      expect(result).toMatchObject({ stdout: '', code: 1 });
    }
  });

  it('-C runs fresh mode only, as pgbench -C; -n is accepted', async () => {
    const { json, code, stderr } = await bench(['-C', '-n', '-t', '3']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(Object.keys(json.modes)).toEqual(['fresh']);
    expect(json.modes.fresh).toMatchObject({ ops: 3, errors: 0 });
    expect(json.modes.fresh.connections.opened).toBeGreaterThanOrEqual(3);
  });

  it('both modes: a set of files per mode, PREFIX.MODE.PID', async () => {
    const { code } = await bench(['-t', '4', '-l', '--log-prefix', 'both']);
    expect(code).toBe(0);
    const names = [...logFiles('both').keys()];
    expect(names.map((name) => name.replace(/\d+$/, 'PID'))).toEqual(['both.fresh.PID', 'both.pooled.PID']);
    for (const lines of logFiles('both').values()) expect(lines).toHaveLength(4);
  });
});
