// Case 5, scaling: pgfactory export (csv) and import (csv) time at several sizes (default 100k,
// 1M, 4M rows). Time should grow linearly: each larger size's time over the base size's (1M, or
// the middle size) at most 1.125× the row ratio (4M ≤ 4.5× 1M); peak RSS flat: at most 1.25× the
// smallest size's, + 10 MiB.
import { emptyLike, ensureRows, importFile } from '../lib/data.mjs';
import { alternate, runTimed, summarise } from '../lib/measure.mjs';
import { makeRow, skippedRow } from '../lib/report.mjs';
import { hasCommand, setupSql, trySetupSql } from '../lib/tools.mjs';

export async function run(ctx) {
  const sizes = ctx.scaleRows;
  const base = sizes.includes(1_000_000) ? 1_000_000 : sizes[Math.floor(sizes.length / 2)];
  const rows = [];
  for (const kind of ['export', 'import']) {
    if (kind === 'import' && !hasCommand(ctx, 'insert')) {
      rows.push(skippedRow('scaling: import', 'pgfactory insert is not available in this build'));
      continue;
    }
    const sides = sizes.map((size) => {
      const source = ensureRows(ctx, size);
      if (kind === 'export') {
        return { key: String(size), run: () => runTimed([ctx.pgfactory, 'query', '--format', 'csv', `SELECT * FROM ${source}`], ctx.runOptions) };
      }
      const file = importFile(ctx, size, 'csv');
      const target = emptyLike(ctx, source, `scale_target_${size}`);
      return {
        key: String(size),
        prepare: () => {
          setupSql(ctx, `TRUNCATE ${target}`);
          trySetupSql(ctx, 'CHECKPOINT');
        },
        run: () => runTimed([ctx.pgfactory, 'insert', target, '--file', file], ctx.runOptions),
      };
    });
    const samples = await alternate(sides, { runs: ctx.runs, warmup: ctx.warmup, onProgress: ctx.progress(`scaling ${kind}`) });
    const baseSummary = summarise(samples[String(base)]);
    const smallestRss = summarise(samples[String(sizes[0])]).peakRssMiB;
    for (const size of sizes) {
      const summary = summarise(samples[String(size)]);
      const target = { rssMaxMiB: Math.round(smallestRss * 1.25 + 10) };
      // Below the base size fixed start-up cost dominates: that ratio is for information.
      if (size > base) target.ratioMax = Number(((size / base) * 1.125).toFixed(3));
      rows.push(makeRow({
        name: `scaling: ${kind} csv, ${ctx.rowsLabel(size)} rows`, pgfactory: summary,
        reference: size === base ? undefined : baseSummary, referenceName: `pgfactory ${ctx.rowsLabel(base)}`, target,
      }));
    }
  }
  return rows;
}
