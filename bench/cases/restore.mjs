// Case 6, restore: SQL files run the way psql runs them (issue 16), pgfactory `query -q -f` vs
// `psql -X -q -f` on the same file, same server, alternating (each target ≤ 1.1×, peak RSS ≤ 100 MiB):
// - 20,000 one-row INSERTs with --single-transaction vs `psql -1`;
// - `pg_dump --inserts` of `pgbench -i -s 1` (about 100k INSERTs), autocommit;
// - plain `pg_dump` (COPY blocks) of `pgbench -i -s 10`.
// Each run restores into a fresh database created untimed. Those databases have
// synchronous_commit off (for both tools): 100k autocommit INSERTs otherwise wait on one WAL
// flush each (minutes on these disks), which measures the disk, not the client.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { alternate, runTimed, summarise } from '../lib/measure.mjs';
import { makeRow, skippedRow } from '../lib/report.mjs';
import { setupSql, which } from '../lib/tools.mjs';

const TARGET = 'pgfactory_bench_restore';

function tool(ctx, argv, database) {
  const result = spawnSync(argv[0], argv.slice(1), { env: { ...ctx.env, PGDATABASE: database }, cwd: ctx.workDir, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (result.status !== 0) throw new Error(`${path.basename(argv[0])} failed: ${(result.stderr ?? '').trim().split('\n')[0]}`);
  return result.stdout;
}

function freshDatabase(ctx, name) {
  setupSql(ctx, [`DROP DATABASE IF EXISTS ${name}`, `CREATE DATABASE ${name}`, `ALTER DATABASE ${name} SET synchronous_commit = off`]);
}

/** A pgbench database of the given scale dumped to a file with pg_dump (extra flags as given). */
function pgbenchDump(ctx, scale, flags, file) {
  const source = `pgfactory_bench_pgbench_${scale}`;
  freshDatabase(ctx, source);
  tool(ctx, [ctx.tools.pgbench, '-i', '-q', '-s', String(scale), source], source);
  const dump = spawnSync(ctx.tools.pg_dump, ['--no-owner', ...flags, '-f', file, source], { env: { ...ctx.env, PGDATABASE: source }, encoding: 'utf8' });
  setupSql(ctx, `DROP DATABASE IF EXISTS ${source}`);
  if (dump.status !== 0) throw new Error(`pg_dump failed: ${(dump.stderr ?? '').trim().split('\n')[0]}`);
}

export async function run(ctx) {
  const names = ['restore 20k INSERTs, single transaction', 'restore pg_dump --inserts of pgbench -s 1', 'restore pg_dump (COPY) of pgbench -s 10'];
  ctx.tools.pg_dump ??= which('pg_dump');
  const missing = ['psql', 'pgbench', 'pg_dump'].filter((name) => ctx.tools[name] === undefined);
  if (missing.length > 0) return names.map((name) => skippedRow(name, `${missing.join(', ')} not on PATH`));

  const inserts = path.join(ctx.tmpDir, 'inserts-20k.sql');
  const lines = ['CREATE TABLE ins (id int PRIMARY KEY, name text, amount numeric);'];
  for (let i = 0; i < 20_000; i += 1) lines.push(`INSERT INTO ins VALUES (${i}, 'name ${i}', ${i * 1.5});`);
  fs.writeFileSync(inserts, `${lines.join('\n')}\n`);
  const insertsDump = path.join(ctx.tmpDir, 'pgbench-s1-inserts.sql');
  const copyDump = path.join(ctx.tmpDir, 'pgbench-s10.sql');
  pgbenchDump(ctx, 1, ['--inserts'], insertsDump);
  pgbenchDump(ctx, 10, [], copyDump);

  const env = { ...ctx.env, PGDATABASE: TARGET, PGOPTIONS: '-c client_min_messages=warning' };
  const options = { ...ctx.runOptions, env };
  const fresh = () => freshDatabase(ctx, TARGET);
  const rows = [];
  const cases = [
    { name: names[0], file: inserts, pgfactory: ['--single-transaction'], psql: ['-1'] },
    { name: names[1], file: insertsDump, pgfactory: [], psql: [] },
    { name: names[2], file: copyDump, pgfactory: [], psql: [] },
  ];
  for (const item of cases) {
    const sides = [
      { key: 'pgfactory', prepare: fresh, run: () => runTimed([ctx.pgfactory, 'query', '-q', ...item.pgfactory, '-f', item.file], options) },
      { key: 'psql', prepare: fresh, run: () => runTimed([ctx.tools.psql, '-X', '-q', '-v', 'ON_ERROR_STOP=1', ...item.psql, '-f', item.file], options) },
    ];
    const samples = await alternate(sides, { runs: ctx.runs, warmup: ctx.warmup, onProgress: ctx.progress('restore') });
    rows.push(makeRow({
      name: item.name, pgfactory: summarise(samples.pgfactory), reference: summarise(samples.psql), referenceName: 'psql -f',
      target: { ratioMax: 1.1, rssMaxMiB: 100 },
    }));
  }
  setupSql(ctx, `DROP DATABASE IF EXISTS ${TARGET}`);
  return rows;
}
