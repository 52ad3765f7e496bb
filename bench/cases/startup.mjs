// Case 1, start-up: `pgfactory query "select 1"` against the least a Node script with `pg` needs
// for the same query (target ≤ 1.15), and against `psql -c` for information.
import { fileURLToPath } from 'node:url';
import { alternate, runTimed, summarise } from '../lib/measure.mjs';
import { makeRow, skippedRow } from '../lib/report.mjs';

const NODE_PG_SCRIPT = fileURLToPath(new URL('../lib/pg-select1.mjs', import.meta.url));

export async function run(ctx) {
  const timed = (argv, runOptions = ctx.runOptions) => () => runTimed(argv, runOptions);
  // pgfactory's launcher starts Node without NODE_EXTRA_CA_CERTS (Node would parse that bundle
  // first: ~30 ms where it names the system bundle); the reference script gets the same start.
  const { NODE_EXTRA_CA_CERTS: _unused, ...referenceEnv } = ctx.runOptions.env;
  const sides = [
    { key: 'pgfactory', run: timed([ctx.pgfactory, 'query', 'select 1']) },
    { key: 'node-pg', run: timed([process.execPath, NODE_PG_SCRIPT], { ...ctx.runOptions, env: referenceEnv }) },
  ];
  if (ctx.tools.psql !== undefined) sides.push({ key: 'psql', run: timed([ctx.tools.psql, '-X', '-c', 'select 1']) });
  // Start-up is short: twice the runs for a steadier median (still alternating).
  const samples = await alternate(sides, { runs: ctx.runs * 2, warmup: ctx.warmup, onProgress: ctx.progress('start-up') });
  const pgfactory = summarise(samples.pgfactory);
  const rows = [makeRow({ name: 'start-up: query "select 1"', pgfactory, reference: summarise(samples['node-pg']), referenceName: 'node + pg', target: { ratioMax: 1.15 } })];
  rows.push(ctx.tools.psql !== undefined
    ? makeRow({ name: 'start-up: vs psql -c (info)', pgfactory, reference: summarise(samples.psql), referenceName: 'psql' })
    : skippedRow('start-up: vs psql -c (info)', 'psql not on PATH'));
  return rows;
}
