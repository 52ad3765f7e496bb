// The export fast path: plain queries in csv/tsv/json/ndjson go out through `COPY … TO STDOUT`,
// with type output moved into a parallel-safe `::text` projection and the socket chunks compacted
// in place. Everything here is checked against what COPY or row_to_json print themselves.
import { beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { copyPlanFor } from '../src/copy-plan.js';
import { createResultWriter } from '../src/output/writer.js';
import { databaseUrl, runCli, sql, useTestSchema } from './helpers.js';
import { startProxy } from './support/net.js';

const SCHEMA = 'export_copy';
const TYPES = `${SCHEMA}.types`;
const BIG = `${SCHEMA}.big`;

useTestSchema(SCHEMA);
beforeAll(async () => {
  await sql(`CREATE TABLE ${TYPES} (
    id int PRIMARY KEY, i2 int2, i8 int8, o oid, f4 float4, f8 float8, m money, d date, t time,
    ts timestamp, tstz timestamptz, iv interval, ttz timetz, n numeric, u uuid, jb jsonb,
    a2 int2[], a4 int4[], a8 int8[], af4 float4[], af8 float8[], ad date[], ats timestamp[],
    atstz timestamptz[], an numeric[], atx text[], avc varchar[], au uuid[], ajb jsonb[],
    b bool, c char(5), ip inet, nm name, ch "char", tx text, js json, "Odd ""name""" int, "dup" int, "DUP" int)`);
  await sql(`INSERT INTO ${TYPES} VALUES
    (1, -32768, 9223372036854775807, 4294967295, 'NaN', '-Infinity', 12.34, '0044-03-15 BC', '23:59:59.999999',
     'infinity', '2024-02-29 12:34:56.789+05:30', '1 year -2 mons 3 days 04:05:06.7', '10:11:12+03', 1.2300,
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": [1, "x\\\\y"], "a": null}',
     '{1,NULL}', '{}', '{9223372036854775807}', '{1.5,NaN}', '{0.1,-0}', '{2024-01-01,infinity}', '{"2024-01-01 00:00:00"}',
     '{"2024-01-01 00:00:00+00"}', '{1.10,NULL}', '{"a,b","q\\"uote",NULL,"NULL",""}', '{x}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '{"{\\"k\\": 1}"}',
     true, 'ab', '10.0.0.1/32', 'nm', 'z', E'comma, "quote"\\nnew line\\ttab \\\\ backslash', '{ "spaced" : 1 }', 1, 2, 3),
    (2, NULL, NULL, NULL, 1e-7, 0.1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'NaN', NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL, NULL)`);
  // Over min_parallel_table_scan_size (8 MB), so the server may read it with a parallel worker.
  await sql(`CREATE TABLE ${BIG} AS SELECT i AS id, md5(i::text) || repeat('x', 40) AS name, (i * 1.37)::numeric(12,2) AS amount,
    timestamptz '2024-01-01 00:00:00+00' + i * interval '1.007 seconds' AS at, CASE WHEN i % 7 = 0 THEN NULL ELSE i % 2 = 0 END AS ok
    FROM generate_series(1, 120000) i`);
  await sql(`ANALYZE ${BIG}`);
});

/** What the server's own COPY writes for `statement`, after `setup` statements on the same session. */
async function copyReference(statement: string, setup: string[] = []): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  await client.connect();
  try {
    for (const text of setup) await client.query(text);
    const chunks: Buffer[] = [];
    for await (const chunk of client.query(copyTo(statement))) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await client.end();
  }
}

const sortedLines = (text: string) => text.split('\n').sort().join('\n');

/** Exact equality, reported as the first difference (outputs here are too big to diff whole). */
function expectSameText(actual: string, expected: string): void {
  if (actual === expected) return;
  let at = 0;
  while (at < actual.length && actual[at] === expected[at]) at += 1;
  const around = (text: string) => JSON.stringify(text.slice(Math.max(0, at - 40), at + 40));
  expect.fail(`outputs differ at character ${at} (lengths ${actual.length} and ${expected.length}): got ${around(actual)}, expected ${around(expected)}`);
}

describe('csv and tsv through the cast projection print exactly what COPY prints', () => {
  const sessions: Record<string, string[]> = {
    'default settings': [],
    'other date, interval, float and time zone settings': [
      "SET datestyle = 'SQL, DMY'", "SET intervalstyle = 'sql_standard'", 'SET extra_float_digits = 0', "SET TIME ZONE 'America/New_York'",
    ],
  };
  for (const [name, setup] of Object.entries(sessions)) {
    it(`every type, NULLs and odd names — ${name}`, async () => {
      const query = `SELECT * FROM ${TYPES} ORDER BY id`;
      const prefix = setup.map((text) => `${text};\n`).join('');
      const csv = await runCli(['query', '--format', 'csv', `${prefix}${query}`]);
      expect(csv.stderr).toBe(setup.map(() => 'SET\n').join(''));
      expect(csv.code).toBe(0);
      expect(csv.stdout).toBe(await copyReference(`COPY (${query}) TO STDOUT (FORMAT csv, HEADER)`, setup));
      const tsv = await runCli(['query', '--format', 'tsv', '--null', 'NULL', `${prefix}${query}`]);
      expect(tsv.code).toBe(0);
      expect(tsv.stdout).toBe(await copyReference(`COPY (${query}) TO STDOUT (FORMAT text, HEADER, NULL 'NULL')`, setup));
    });
  }

  it('a large export (parallel-eligible) has every row; with ORDER BY, in order', async () => {
    const ordered = await runCli(['query', '--format', 'csv', `SELECT * FROM ${BIG} ORDER BY id`]);
    const reference = await copyReference(`COPY (SELECT * FROM ${BIG} ORDER BY id) TO STDOUT (FORMAT csv, HEADER)`);
    expect(ordered.code).toBe(0);
    expect(ordered.stdout).toBe(reference);
    const unordered = await runCli(['query', '--format', 'csv', `SELECT * FROM ${BIG}`]);
    expect(unordered.code).toBe(0);
    expect(sortedLines(unordered.stdout)).toBe(sortedLines(reference));
  });
});

describe('the COPY plan for what a csv writer takes', () => {
  const writer = createResultWriter('csv', process.stdout, process.stderr);
  it('casts the types whose text cast is their output function, renaming columns by position', () => {
    const plan = copyPlanFor('SELECT 1', writer.serverFormat!, [{ name: 'id', typeOid: 23 }, { name: 'ok', typeOid: 16 }, { name: 'a"b', typeOid: 1184 }]);
    expect(plan.sql).toBe(`COPY (SELECT q.c1::text AS "id", q.c2 AS "ok", q.c3::text AS "a""b" FROM (\nSELECT 1\n) q(c1, c2, c3)) TO STDOUT (FORMAT csv, HEADER, NULL '')`);
    expect(plan.settings).toEqual([
      'SET LOCAL parallel_tuple_cost = 0',
      "SELECT set_config('max_parallel_workers_per_gather', least(current_setting('max_parallel_workers_per_gather')::int, 1)::text, true)",
    ]);
  });
  it('leaves a query with nothing to cast (or no columns) as it is, with no planner settings', () => {
    for (const columns of [[{ name: 'name', typeOid: 25 }, { name: 'ok', typeOid: 16 }], []]) {
      const plan = copyPlanFor('SELECT 1', writer.serverFormat!, columns);
      expect(plan.sql).toBe(`COPY (\nSELECT 1\n) TO STDOUT (FORMAT csv, HEADER, NULL '')`);
      expect(plan.settings).toBeUndefined();
    }
  });
});

describe('COPY data split anywhere on the way still comes out whole', () => {
  // A 300 kB value makes one CopyData message far larger than a socket read.
  const query = `SELECT id, name, amount, at, ok FROM ${BIG} WHERE id <= 1500 UNION ALL SELECT 0, repeat('é', 150000), NULL, NULL, NULL ORDER BY id`;

  it('ndjson and csv, direct and through a proxy that delivers replies in 1–40 byte pieces', async () => {
    const expectedJson = (await sql<{ line: string }>(`SELECT row_to_json(q)::text AS line FROM (${query}) q`)).map((row) => `${row.line}\n`).join('');
    const expectedCsv = await copyReference(`COPY (${query}) TO STDOUT (FORMAT csv, HEADER)`);
    const proxy = await startProxy(Number(new URL(databaseUrl()).port), { splitRepliesMax: 40 });
    try {
      const viaProxy = new URL(databaseUrl());
      viaProxy.port = String(proxy.port);
      for (const url of [databaseUrl(), viaProxy.toString()]) {
        const env = { DATABASE_URL: url };
        const ndjson = await runCli(['query', '--format', 'ndjson', query], { env, timeoutMs: 60_000 });
        expect(ndjson.stderr).toBe('');
        expectSameText(ndjson.stdout, expectedJson);
        const json = await runCli(['query', '--format', 'json', query], { env, timeoutMs: 60_000 });
        expectSameText(json.stdout, `[\n${expectedJson.trimEnd().split('\n').join(',\n')}\n]\n`);
        const csv = await runCli(['query', '--format', 'csv', query], { env, timeoutMs: 60_000 });
        expectSameText(csv.stdout, expectedCsv);
      }
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it('an error in the middle of the rows: the server error, exit 3, and only whole rows before it', async () => {
    // generate_series yields in order and without a sort, so the server sends rows before the
    // error (a sort would compute every x first, and no row would arrive).
    const result = await runCli(['query', '--format', 'ndjson', 'SELECT g AS id, 1 / (g - 5000) AS x FROM generate_series(1, 10000) g']);
    expect(result.stderr).toBe('pgfactory: ERROR:  22012: division by zero\n');
    expect(result.code).toBe(3);
    const lines = result.stdout.split('\n');
    expect(lines.pop()).toBe('');
    // Rows 1..n in order (n > 0: the server flushes its send buffer every 8 kB), none after the error.
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThan(5000);
    expect(lines).toEqual(lines.map((_, i) => JSON.stringify({ id: i + 1, x: Math.trunc(1 / (i + 1 - 5000)) })));
  });
});
