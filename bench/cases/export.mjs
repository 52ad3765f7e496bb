// Case 2, export: N rows × 5 columns to stdout (/dev/null for every side).
// `query --format csv` vs `psql --csv -c` (≤ 0.9), `--format ndjson` vs the same psql run (≤ 1.5);
// pgfactory's peak RSS ≤ 100 MiB (psql holds the whole result in memory before printing).
import { ensureRows } from '../lib/data.mjs';
import { alternate, runTimed, summarise } from '../lib/measure.mjs';
import { makeRow } from '../lib/report.mjs';

export async function run(ctx) {
  const table = ensureRows(ctx, ctx.rows);
  const query = `SELECT * FROM ${table}`;
  const timed = (argv) => () => runTimed(argv, ctx.runOptions);
  const sides = [
    { key: 'csv', run: timed([ctx.pgfactory, 'query', '--format', 'csv', query]) },
    { key: 'ndjson', run: timed([ctx.pgfactory, 'query', '--format', 'ndjson', query]) },
  ];
  const psql = ctx.tools.psql;
  if (psql !== undefined) sides.splice(1, 0, { key: 'psql', run: timed([psql, '-X', '--csv', '-c', query]) });
  const samples = await alternate(sides, { runs: ctx.runs, warmup: ctx.warmup, onProgress: ctx.progress('export') });
  const reference = psql !== undefined ? summarise(samples.psql) : undefined;
  const rowsLabel = ctx.rowsLabel(ctx.rows);
  const noPsql = psql === undefined ? ' (psql not on PATH: no ratio)' : '';
  return [
    makeRow({
      name: `export csv, ${rowsLabel} rows${noPsql}`, pgfactory: summarise(samples.csv), reference, referenceName: 'psql --csv',
      target: { ...(reference !== undefined ? { ratioMax: 0.9 } : {}), rssMaxMiB: 100 },
    }),
    makeRow({
      name: `export ndjson, ${rowsLabel} rows${noPsql}`, pgfactory: summarise(samples.ndjson), reference, referenceName: 'psql --csv',
      target: { ...(reference !== undefined ? { ratioMax: 1.5 } : {}), rssMaxMiB: 100 },
    }),
  ];
}
