// query, insert (with COPY) and bench through PgBouncer in transaction-pooling mode: nothing may rely
// on named prepared statements or session state, which transaction pooling breaks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, runCli, sql } from './helpers.js';
import { pollUntil } from './support/cli.js';
import { skipWithout } from './support/tools.js';
import { findPgbouncer, startPgbouncer, type Bouncer } from './support/pgbouncer.js';

const SCHEMA = 'via_pgbouncer';
const BENCH_DB = 'via_pgbouncer_bench';
const SKIP_PGBOUNCER = skipWithout('pgbouncer', findPgbouncer() !== undefined, 'pgbouncer', 'the PgBouncer tests');

describe.skipIf(SKIP_PGBOUNCER)('through PgBouncer (pool_mode = transaction)', () => {
  let bouncer: Bouncer;
  const viaBouncer = (args: string[], input?: string) => runCli(args, { env: { DATABASE_URL: bouncer.url }, input });

  beforeAll(async () => {
    bouncer = await startPgbouncer(databaseUrl(), { poolSize: 4 });
    await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE; CREATE SCHEMA ${SCHEMA}`);
    await sql(`CREATE TABLE ${SCHEMA}.people (id int PRIMARY KEY, name text, tags jsonb)`);
    await sql(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
    await sql(`CREATE DATABASE ${BENCH_DB}`);
  });
  afterAll(async () => {
    await bouncer?.stop();
    await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await sql(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
  });

  it('query: every output path (cursor, COPY, parameters, several statements, one transaction)', async () => {
    const table = await viaBouncer(['query', 'SELECT g FROM generate_series(1, 2) g']);
    expect(table).toMatchObject({ stdout: '┌───┐\n│ g │\n├───┤\n│ 1 │\n│ 2 │\n└───┘\n(2 rows)\n', stderr: '', code: 0 });
    const csv = await viaBouncer(['query', '--format', 'csv', 'SELECT g, g * 2 AS d FROM generate_series(1, 3) g']);
    expect(csv).toMatchObject({ stdout: 'g,d\n1,2\n2,4\n3,6\n', stderr: '', code: 0 });
    // The same parameterised statement twice in a row: an unnamed statement each time.
    for (const value of ['7', '8']) {
      const json = await viaBouncer(['query', '--format', 'json', 'SELECT $1::int AS v', '--param', value]);
      expect(json).toMatchObject({ stdout: `[\n{"v":${value}}\n]\n`, stderr: '', code: 0 });
    }
    const several = await viaBouncer(['query', '--format', 'csv', '--single-transaction', 'CREATE TEMP TABLE t AS SELECT 1 AS x; SELECT x FROM t']);
    expect(several).toMatchObject({ stdout: 'x\n1\n', code: 0 });
    const error = await viaBouncer(['query', 'SELECT 1/0']);
    expect(error.stderr).toBe('pgfactory: ERROR:  22012: division by zero\n');
    expect(error.code).toBe(3);
  });

  it('insert: one row, COPY from CSV and NDJSON, upsert, RETURNING, commit-every, on-error skip', async () => {
    const one = await viaBouncer(['insert', `${SCHEMA}.people`, '--set', 'id=1', '--set', 'name=Ann']);
    expect(one.code).toBe(0);
    const csv = await viaBouncer(['insert', `${SCHEMA}.people`, '--file', '-', '--format', 'csv'], 'id,name,tags\n2,Bo,"[1,2]"\n3,Cy,\n');
    expect(csv.code).toBe(0);
    const ndjson = await viaBouncer(['insert', `${SCHEMA}.people`, '--file', '-', '--format', 'ndjson'], '{"id":4,"name":"Di","tags":{"a":1}}\n');
    expect(ndjson.code).toBe(0);
    const upsert = await viaBouncer(['insert', `${SCHEMA}.people`, '--file', '-', '--format', 'csv', '--on-conflict', 'update', '--conflict-key', 'id'], 'id,name\n2,Bob\n5,Ed\n');
    expect(upsert.code).toBe(0);
    const returning = await viaBouncer(['insert', `${SCHEMA}.people`, '--set', 'id=6', '--set', 'name=Flo', '--returning', 'id,name', '--output', 'csv']);
    expect(returning).toMatchObject({ stdout: 'id,name\n6,Flo\n', code: 0 });
    const batches = await viaBouncer(['insert', `${SCHEMA}.people`, '--file', '-', '--format', 'csv', '--commit-every', '1'], 'id,name\n7,Gus\n8,Hal\n');
    expect(batches.code).toBe(0);
    const skip = await viaBouncer(['insert', `${SCHEMA}.people`, '--file', '-', '--format', 'csv', '--on-error', 'skip', '--reject-file', '/dev/null'], 'id,name\n9,Ida\nnot-a-number,Jo\n');
    expect(skip.code).toBe(0);
    expect(await sql(`SELECT id, name, tags FROM ${SCHEMA}.people ORDER BY id`)).toEqual([
      { id: 1, name: 'Ann', tags: null },
      { id: 2, name: 'Bob', tags: [1, 2] },
      { id: 3, name: 'Cy', tags: null },
      { id: 4, name: 'Di', tags: { a: 1 } },
      { id: 5, name: 'Ed', tags: null },
      { id: 6, name: 'Flo', tags: null },
      { id: 7, name: 'Gus', tags: null },
      { id: 8, name: 'Hal', tags: null },
      { id: 9, name: 'Ida', tags: null },
    ]);
    // A bad row aborts the whole COPY: nothing of that file is kept.
    const bad = await viaBouncer(['insert', `${SCHEMA}.people`, '--file', '-', '--format', 'csv'], 'id,name\n10,Kim\n1,Dup\n');
    expect(bad.code).toBe(3);
    expect(await sql(`SELECT count(*)::int AS n FROM ${SCHEMA}.people WHERE id = 10`)).toEqual([{ n: 0 }]);
  });

  it('bench: fresh and pooled modes run without errors; fresh connections through PgBouncer share its few server connections', async () => {
    // A database of its own, so the backends counted below are this test's only.
    const inBenchDb = (url: string) => {
      const copy = new URL(url);
      copy.pathname = `/${BENCH_DB}`;
      return copy.toString();
    };
    const benchBackends = async () => (await sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", [BENCH_DB]))[0]!.n;
    const args = ['bench', '--mode', 'both', '-c', '4', '-t', '10', '--format', 'json'];
    const direct = await runCli(args, { env: { DATABASE_URL: inBenchDb(databaseUrl()) } });
    // Direct: every connection the bench opened is gone again once it has exited.
    expect(await pollUntil(async () => (await benchBackends()) === 0, 30_000)).toBe(true);
    const pooled = await runCli(args, { env: { DATABASE_URL: inBenchDb(bouncer.url) } });
    for (const result of [direct, pooled]) expect({ stderr: result.stderr, code: result.code }).toEqual({ stderr: '', code: 0 });
    type Mode = { ops: number; errors: number; successes: number; connections: { opened: number } };
    const report = (text: string) => JSON.parse(text) as { modes: { fresh: Mode; pooled: Mode } };
    const d = report(direct.stdout);
    const b = report(pooled.stdout);
    for (const mode of [d.modes.fresh, d.modes.pooled, b.modes.fresh, b.modes.pooled]) {
      expect(mode).toMatchObject({ ops: 40, errors: 0, successes: 40 });
    }
    // 40 fresh client connections each time; through PgBouncer they landed on the server
    // connections it keeps open, never more than its pool size. (What each path costs in time is
    // a figure for bench/, not a test.)
    expect(d.modes.fresh.connections.opened).toBe(40);
    expect(b.modes.fresh.connections.opened).toBe(40);
    const kept = await benchBackends();
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(bouncer.poolSize);
  }, 180_000);

  it('bench --target: the same workload direct and through PgBouncer, side by side, keyed by name, no password', async () => {
    const withoutPassword = (url: string) => {
      const parsed = new URL(url);
      parsed.password = '';
      return parsed.toString();
    };
    const password = decodeURIComponent(new URL(databaseUrl()).password);
    const script = `SELECT count(*) FROM ${SCHEMA}.people WHERE id = :client_id;`;
    const base = ['bench', '--mode', 'both', '-c', '2', '-t', '10', '--query', script, '-M', 'extended', '--target', `direct=${withoutPassword(databaseUrl())}`, '--target', `bouncer=${withoutPassword(bouncer.url)}`];
    const env = { PGPASSWORD: password };
    const json = await runCli([...base, '--format', 'json'], { env, noDatabaseUrl: true, timeoutMs: 120_000 });
    expect({ stderr: json.stderr, code: json.code }).toEqual({ stderr: '', code: 0 });
    expect(json.stdout).not.toContain(password);
    const doc = JSON.parse(json.stdout);
    expect(Object.keys(doc).sort()).toEqual(['ended_at', 'settings', 'started_at', 'targets']);
    expect(Object.keys(doc.targets)).toEqual(['direct', 'bouncer']);
    expect(doc.targets.bouncer.connection.port).toBe(bouncer.port);
    for (const target of ['direct', 'bouncer']) {
      for (const mode of ['fresh', 'pooled']) expect(doc.targets[target].modes[mode]).toMatchObject({ ops: 20, errors: 0 });
    }
    const table = await runCli(base, { env, noDatabaseUrl: true, timeoutMs: 120_000 });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^target direct: PostgreSQL .*\ntarget bouncer: PostgreSQL .*, port \d+, /);
    expect(table.stdout).toMatch(/^│ +│ +direct fresh │ +direct pooled │ +bouncer fresh │ +bouncer pooled │$/m);
    expect(table.stdout).toMatch(/^│ operations +│ +20 │ +20 │ +20 │ +20 │$/m);
    expect(table.stdout).toMatch(/^bouncer: throughput: pooled runs /m);
  }, 240_000);

  // --statement-timeout is a SET LOCAL in a transaction around each statement: under transaction
  // pooling a session-level SET would stay on the server connection and reach the next client.
  it('query --statement-timeout applies to its own statements and leaves no session state behind for the next client', async () => {
    const first = await viaBouncer(['query', '--format', 'csv', '--statement-timeout', '12345', 'SHOW statement_timeout; SELECT 1 AS one']);
    expect(first).toMatchObject({ stdout: 'statement_timeout\n12345ms\none\n1\n', code: 0 });
    const slow = await viaBouncer(['query', '--statement-timeout', '100', 'SELECT pg_sleep(2)']);
    expect(slow.stderr).toContain('57014: canceling statement due to statement timeout');
    expect(slow.code).toBe(3);
    for (let attempt = 0; attempt < 8; attempt++) {
      // Every server connection of the pool (4): none kept the setting.
      const next = await viaBouncer(['query', '--format', 'csv', 'SHOW statement_timeout']);
      expect(next.stdout).toBe('statement_timeout\n0\n');
    }
  });
});
