import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { BIN, cliEnv, runCli, scratchDir, sql, useTestSchema } from './helpers.js';

const SCHEMA = 'query_cli';

useTestSchema(SCHEMA);
beforeAll(async () => {
  await sql(`CREATE TABLE ${SCHEMA}.t (id int, name text, note text)`);
  await sql(`INSERT INTO ${SCHEMA}.t VALUES (1, 'Ann', NULL), (2, '', 'a,b'), (3, 'quote"d', E'two\\nlines')`);
});

const MIXED = `SELECT 1 AS a, 2 AS a, NULL::text AS n, ''::text AS e, 1.50::numeric AS num,
  9007199254740993::int8 AS big, '2024-01-02 03:04:05.123456+00'::timestamptz AS ts,
  '{"x": [1, 2]}'::jsonb AS j, ARRAY[1,2] AS arr, true AS b`;

describe('query output formats', () => {
  it('prints a table with a row-count footer', async () => {
    const result = await runCli(['query', `SELECT id, name FROM ${SCHEMA}.t WHERE id < 3 ORDER BY id`]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe([
      '┌────┬──────┐',
      '│ id │ name │',
      '├────┼──────┤',
      '│  1 │ Ann  │',
      '│  2 │      │',
      '└────┴──────┘',
      '(2 rows)',
      '',
    ].join('\n'));
  });

  it('--row-rules draws a rule between every two rows', async () => {
    const result = await runCli(['query', '--row-rules', `SELECT id, name FROM ${SCHEMA}.t WHERE id < 3 ORDER BY id`]);
    expect(result).toMatchObject({ stderr: '', code: 0 });
    expect(result.stdout).toBe([
      '┌────┬──────┐',
      '│ id │ name │',
      '├────┼──────┤',
      '│  1 │ Ann  │',
      '├────┼──────┤',
      '│  2 │      │',
      '└────┴──────┘',
      '(2 rows)',
      '',
    ].join('\n'));
  });

  it('-x takes on/off/auto, and anything else after it is the SQL; auto off a terminal is a table', async () => {
    const on = await runCli(['query', '-x', 'SELECT 1 AS a, 2 AS b']);
    expect(on).toMatchObject({ stdout: '-[ RECORD 1 ]-\na | 1\nb | 2\n(1 row)\n', stderr: '', code: 0 });
    const auto = await runCli(['query', '--expanded', 'auto', 'SELECT 1 AS a']);
    expect(auto).toMatchObject({ stdout: '┌───┐\n│ a │\n├───┤\n│ 1 │\n└───┘\n(1 row)\n', stderr: '', code: 0 });
    const off = await runCli(['query', '-x', 'off', 'SELECT 1 AS a']);
    expect(off.stdout).toBe(auto.stdout);
    const bad = await runCli(['query', '-x', 'sometimes', 'SELECT 1 AS a']);
    expect(bad).toMatchObject({ stdout: '', stderr: 'pgfactory: -x/--expanded takes on, off or auto, got "sometimes"\n', code: 1 });
  });

  it('long values are cut only with --max-width off a terminal, and never in csv', async () => {
    const query = "SELECT repeat('x', 30) AS a, '表格表格表格' AS b";
    const whole = await runCli(['query', query]);
    expect(whole.stdout).toContain(`│ ${'x'.repeat(30)} │ 表格表格表格 │`);
    const cut = await runCli(['query', '--max-width', '5', query]);
    expect(cut.stdout).toBe('┌───────┬───────┐\n│ a     │ b     │\n├───────┼───────┤\n│ xxxx… │ 表格… │\n└───────┴───────┘\n(1 row)\n');
    const csv = await runCli(['query', '--max-width', '5', '--format', 'csv', query]);
    expect(csv.stdout).toBe(`a,b\n${'x'.repeat(30)},表格表格表格\n`);
  });

  it('csv is what COPY writes: NULL empty, empty string quoted, duplicate names kept', async () => {
    const result = await runCli(['query', '--format', 'csv', `SET TIME ZONE 'UTC'; ${MIXED}`]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('a,a,n,e,num,big,ts,j,arr,b\n1,2,,"",1.50,9007199254740993,2024-01-02 03:04:05.123456+00,"{""x"": [1, 2]}","{1,2}",t\n');
  });

  it('csv through parameters (client-side formatting) matches the COPY path', async () => {
    const viaCopy = await runCli(['query', '--format', 'csv', `SELECT * FROM ${SCHEMA}.t ORDER BY id`]);
    const viaParams = await runCli(['query', '--format', 'csv', `SELECT * FROM ${SCHEMA}.t WHERE id > $1 ORDER BY id`, '--param', '0']);
    expect(viaCopy.stdout).toBe('id,name,note\n1,Ann,\n2,"","a,b"\n3,"quote""d","two\nlines"\n');
    expect(viaParams.stdout).toBe(viaCopy.stdout);
  });

  it('tsv is COPY text format with \\N for NULL', async () => {
    const result = await runCli(['query', '--format', 'tsv', `SELECT * FROM ${SCHEMA}.t ORDER BY id`]);
    expect(result.stdout).toBe('id\tname\tnote\n1\tAnn\t\\N\n2\t\ta,b\n3\tquote"d\ttwo\\nlines\n');
    const viaParams = await runCli(['query', '--format', 'tsv', `SELECT * FROM ${SCHEMA}.t WHERE id > $1 ORDER BY id`, '--param', '0']);
    expect(viaParams.stdout).toBe(result.stdout);
  });

  it('json and ndjson keep exact numbers, nested json, arrays and duplicate names', async () => {
    const ndjson = await runCli(['query', '--format', 'ndjson', `SET TIME ZONE 'UTC'; ${MIXED}`]);
    const line = '{"a":1,"a":2,"n":null,"e":"","num":1.50,"big":9007199254740993,"ts":"2024-01-02T03:04:05.123456+00:00","j":{"x": [1, 2]},"arr":[1,2],"b":true}';
    expect(ndjson.stdout).toBe(`${line}\n`);
    const json = await runCli(['query', '--format', 'json', `SET TIME ZONE 'UTC'; ${MIXED}`]);
    expect(json.stdout).toBe(`[\n${line}\n]\n`);
    const withParam = await runCli(['query', '--format', 'ndjson', `SET TIME ZONE 'UTC'; ${MIXED}`.replace('1 AS a', '$1::int AS a'), '--param', '1'].filter(Boolean), {});
    // --param takes a single statement
    expect(withParam.code).toBe(1);
    const single = await runCli(['query', '--format', 'ndjson', MIXED.replace('1 AS a', '$1::int AS a'), '--param', '1'], { env: { PGTZ: 'UTC' } });
    expect(single.stdout).toBe(`${line}\n`);
  });

  it('a failing json query writes nothing on stdout, also inside the user\'s own transaction', async () => {
    const failed = await runCli(['query', '--format', 'json', 'SELECT nope FROM pg_class']);
    expect(failed.code).toBe(3);
    expect(failed.stdout).toBe('');
    const inTransaction = await runCli(['query', '--format', 'ndjson', 'BEGIN; SELECT 1 AS a; SHOW parallel_tuple_cost; COMMIT']);
    // The export's planner setting is not applied inside the user's transaction, nor left behind.
    expect(inTransaction.stdout).toBe('{"a":1}\n{"parallel_tuple_cost":"0.1"}\n');
    const after = await runCli(['query', '--format', 'ndjson', 'SELECT 1 AS a; SHOW parallel_tuple_cost']);
    expect(after.stdout).toBe('{"a":1}\n{"parallel_tuple_cost":"0.1"}\n');
  });

  it('json of an empty result is an empty array', async () => {
    const result = await runCli(['query', '--format', 'json', `SELECT * FROM ${SCHEMA}.t WHERE false`]);
    expect(result.stdout).toBe('[]\n');
  });

  it('json rows typed on the client match the server-built ones (timestamps included)', async () => {
    const values = `'2024-01-02 03:04:05.5+05:30'::timestamptz AS a, '2024-01-02 03:04:05'::timestamp AS b, 'infinity'::timestamptz AS c, 12.50::numeric AS d`;
    const serverBuilt = await runCli(['query', '--format', 'ndjson', `SET TIME ZONE 'UTC'; SELECT ${values}`]);
    const clientTyped = await runCli(['query', '--format', 'ndjson', `SET TIME ZONE 'UTC'; CREATE TEMP TABLE r AS SELECT ${values}; DELETE FROM r RETURNING *`]);
    expect(serverBuilt.stdout).toBe('{"a":"2024-01-01T21:34:05.5+00:00","b":"2024-01-02T03:04:05","c":"infinity","d":12.50}\n');
    expect(clientTyped.stdout).toBe(serverBuilt.stdout);
  });

  it('json of RETURNING rows is typed on the client', async () => {
    const result = await runCli(['query', '--format', 'json', `CREATE TEMP TABLE r (a int8, b text, c bool, d numeric[]); INSERT INTO r VALUES (12345678901234567, 'x', false, '{1.5,NULL}') RETURNING *`]);
    expect(result.stdout).toBe('[\n{"a":12345678901234567,"b":"x","c":false,"d":[1.5,null]}\n]\n');
    expect(result.stderr).toBe('CREATE TABLE\n');
  });

  it('--null and -x', async () => {
    const result = await runCli(['query', '-x', '--null', '(null)', `SELECT id, note FROM ${SCHEMA}.t WHERE id = 1`]);
    expect(result.stdout).toBe('-[ RECORD 1 ]-\nid   | 1\nnote | (null)\n(1 row)\n');
  });
});

describe('query statements', () => {
  it('prints tags and each result in order', async () => {
    const result = await runCli(['query', 'CREATE TEMP TABLE x (a int); INSERT INTO x VALUES (1),(2),(3); SELECT count(*) AS n FROM x']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('CREATE TABLE\nINSERT 0 3\n┌───┐\n│ n │\n├───┤\n│ 3 │\n└───┘\n(1 row)\n');
  });

  it('binds parameters without splicing them into SQL', async () => {
    const result = await runCli(['query', '--format', 'csv', 'SELECT $1::text AS v, $2::int + 1 AS w', '--param', "x'; DROP TABLE y; --", '--param', '41']);
    expect(result.stdout).toBe("v,w\nx'; DROP TABLE y; --,42\n");
  });

  it('reads SQL from stdin and from a file', async () => {
    const stdin = await runCli(['query', '--format', 'csv', '-'], { input: 'SELECT 7 AS seven;' });
    expect(stdin.stdout).toBe('seven\n7\n');
    const dir = scratchDir();
    fs.writeFileSync(path.join(dir, 'script.sql'), '-- setup\nSELECT 1 AS one;\n\nSELECT 2 AS two,\n  3 / 0 AS boom;\n');
    const file = await runCli(['query', '--format', 'csv', '-f', 'script.sql'], { cwd: dir });
    expect(file.code).toBe(3);
    expect(file.stdout).toBe('one\n1\n');
    // As psql -f does: the file and the statement's line lead the error.
    expect(file.stderr).toBe('pgfactory: script.sql:4: ERROR:  22012: division by zero\n');
    const missing = await runCli(['query', '-f', 'nope.sql'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('pgfactory: cannot read SQL from "nope.sql": ENOENT\n');
  });

  it('--timing prints each statement\'s time on stderr', async () => {
    const result = await runCli(['query', '--timing', '--format', 'csv', 'SELECT 1 AS a; SELECT 2 AS b']);
    expect(result.stdout).toBe('a\n1\nb\n2\n');
    expect(result.stderr).toMatch(/^Time: \d+\.\d{3} ms\nTime: \d+\.\d{3} ms\n$/);
  });

  it('stops at the first error, like ON_ERROR_STOP, and prints it like psql', async () => {
    const result = await runCli(['query', `CREATE TABLE ${SCHEMA}.e (a int);\nSELECT nope\n  FROM ${SCHEMA}.e;\nCREATE TABLE ${SCHEMA}.never (a int)`]);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('CREATE TABLE\n');
    expect(result.stderr).toBe([
      'pgfactory: ERROR:  42703: column "nope" does not exist',
      'LINE 2: SELECT nope',
      '               ^',
      '',
    ].join('\n'));
    const tables = await sql(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [SCHEMA]);
    expect(tables.map((row) => row.table_name)).toEqual(['e', 't']);
  });

  it('--single-transaction rolls everything back on error', async () => {
    const result = await runCli(['query', '--single-transaction', `CREATE TABLE ${SCHEMA}.st (a int); SELECT 1/0`]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('ERROR:  22012: division by zero');
    const tables = await sql(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'st'`, [SCHEMA]);
    expect(tables).toEqual([]);
  });

  it('--statement-timeout cancels long statements', async () => {
    const result = await runCli(['query', '--statement-timeout', '100', 'SELECT pg_sleep(5)']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('57014: canceling statement due to statement timeout');
  });
});

describe('query --watch', () => {
  it('csv appends each run to one log on one connection (header once, the time on stderr); Ctrl-C exits 0', async () => {
    const home = scratchDir();
    const child = spawn(BIN, ['query', '--watch', '0.2', '--format', 'csv', 'SELECT pg_backend_pid() AS pid, 7 AS n'], { cwd: home, env: cliEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    for (let waited = 0; stdout.split('\n').length < 5; waited += 50) {
      if (waited > 20_000) throw new Error(`--watch did not run 3 times: ${stdout} ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const [header, ...rows] = stdout.trimEnd().split('\n');
    expect(header).toBe('pid,n');
    expect(rows.length).toBeGreaterThanOrEqual(3);
    const pids = new Set(rows.map((row) => row.split(',')[0]));
    expect(pids.size).toBe(1);
    expect(rows.every((row) => /^\d+,7$/.test(row))).toBe(true);
    const stamps = stderr.split('\n').filter((line) => line !== '');
    expect(stamps.length).toBeGreaterThanOrEqual(3);
    expect(stamps.every((line) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(every 0\.2s\)$/.test(line))).toBe(true);
  });

  it('a failing run stops the watch with its exit code', async () => {
    const result = await runCli(['query', '--watch', '0.1', 'SELECT 1 / (3 - (SELECT count(*) FROM pg_stat_activity WHERE false) - 3)']);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('pgfactory: ERROR:  22012: division by zero\n');
    expect(result.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(every 0\.1s\)\n\n$/);
  });
});

describe('query usage errors and exit codes', () => {
  it('no SQL is a usage error', async () => {
    const result = await runCli(['query']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("pgfactory: no SQL given: pass it as an argument, with -f FILE, or '-' to read stdin\n");
  });

  it('an unknown format is a one-line usage error', async () => {
    const result = await runCli(['query', '--format', 'xml', 'select 1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('pgfactory: error: option \'--format <format>\' argument \'xml\' is invalid. Allowed choices are table, csv, tsv, json, ndjson.\n');
  });

  it('a refused connection exits 2 and names host and port', async () => {
    const result = await runCli(['query', '-d', 'postgres://u@127.0.0.1:1/db', 'select 1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('pgfactory: cannot connect to host "127.0.0.1", port 1: connection refused (is the server running and accepting TCP connections?)\n');
  });

  it('a bad port names its source', async () => {
    const result = await runCli(['query', 'select 1'], { env: { PGPORT: 'abc', DATABASE_URL: undefined }, noDatabaseUrl: true });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('pgfactory: invalid port "abc" from env PGPORT: must be an integer 1-65535\n');
  });
});
