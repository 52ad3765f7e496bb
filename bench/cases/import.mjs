// Case 3, import: the same N rows loaded into an empty table with a primary key.
// `insert --file x.csv` vs `psql -c "\copy … csv header"` (≤ 1.15); NDJSON vs the same psql run
// (≤ 3); upsert of all rows into a full table vs the same psql run (≤ 4); peak RSS ≤ 150 MiB.
// The target table is emptied (and a CHECKPOINT taken) untimed before every run of every side.
import { emptyLike, ensureRows, importFile } from '../lib/data.mjs';
import { alternate, runTimed, summarise } from '../lib/measure.mjs';
import { makeRow, skippedRow } from '../lib/report.mjs';
import { hasCommand, setupSql, trySetupSql } from '../lib/tools.mjs';

export async function run(ctx) {
  const rowsLabel = ctx.rowsLabel(ctx.rows);
  const names = [`import csv, ${rowsLabel} rows`, `import ndjson, ${rowsLabel} rows`, `import upsert csv, ${rowsLabel} rows into full table`];
  if (!hasCommand(ctx, 'insert')) return names.map((name) => skippedRow(name, 'pgfactory insert is not available in this build'));

  const source = ensureRows(ctx, ctx.rows);
  const csvFile = importFile(ctx, ctx.rows, 'csv');
  const ndjsonFile = importFile(ctx, ctx.rows, 'ndjson');
  const target = emptyLike(ctx, source, 'import_target');
  const full = emptyLike(ctx, source, 'upsert_target');
  setupSql(ctx, [`INSERT INTO ${full} SELECT * FROM ${source}`, `VACUUM ANALYZE ${full}`]);

  const empty = () => {
    setupSql(ctx, `TRUNCATE ${target}`);
    trySetupSql(ctx, 'CHECKPOINT');
  };
  // The upsert finds every row up to date and writes none (see conflictAndReturning in
  // src/insert/load.ts); an older build rewrote them all. Vacuum so each run starts alike either way.
  const tidyFull = () => {
    setupSql(ctx, `VACUUM ${full}`);
    trySetupSql(ctx, 'CHECKPOINT');
  };
  const timed = (argv) => () => runTimed(argv, ctx.runOptions);
  const sides = [
    { key: 'csv', prepare: empty, run: timed([ctx.pgfactory, 'insert', target, '--file', csvFile]) },
    { key: 'ndjson', prepare: empty, run: timed([ctx.pgfactory, 'insert', target, '--file', ndjsonFile]) },
    { key: 'upsert', prepare: tidyFull, run: timed([ctx.pgfactory, 'insert', full, '--file', csvFile, '--on-conflict', 'update', '--conflict-key', 'id']) },
  ];
  const psql = ctx.tools.psql;
  if (psql !== undefined) {
    const copy = `\\copy ${target} FROM '${csvFile.replace(/'/g, "''")}' csv header`;
    sides.splice(1, 0, { key: 'psql', prepare: empty, run: timed([psql, '-X', '-v', 'ON_ERROR_STOP=1', '-c', copy]) });
  }
  const samples = await alternate(sides, { runs: ctx.runs, warmup: ctx.warmup, onProgress: ctx.progress('import') });

  const loaded = Number(setupSql(ctx, `SELECT count(*) FROM ${full}`));
  if (loaded !== ctx.rows) throw new Error(`upsert target holds ${loaded} rows, expected ${ctx.rows}`);

  const reference = psql !== undefined ? summarise(samples.psql) : undefined;
  const noPsql = psql === undefined ? ' (psql not on PATH: no ratio)' : '';
  const row = (name, key, ratioMax) => makeRow({
    name: name + noPsql, pgfactory: summarise(samples[key]), reference, referenceName: 'psql \\copy',
    target: { ...(reference !== undefined ? { ratioMax } : {}), rssMaxMiB: 150 },
  });
  return [row(names[0], 'csv', 1.15), row(names[1], 'ndjson', 3), row(names[2], 'upsert', 4)];
}
