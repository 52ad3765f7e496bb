// Result rows, the printed table and bench/results.json. Pure functions of the rows.

/**
 * One line of the table. `pgfactory`/`reference` are summaries ({ median, peakRssMiB, runs });
 * the ratio is pgfactory / reference unless `ratio` is given. Targets: ratioMax, ratioMin,
 * rssMaxMiB (pgfactory's peak RSS). A row without targets is for information only.
 */
export function makeRow({ name, unit = 's', pgfactory, reference, referenceName, ratio, target = {}, note }) {
  const computedRatio = ratio ?? (pgfactory !== undefined && reference !== undefined ? pgfactory.median / reference.median : undefined);
  const failures = [];
  if (target.ratioMax !== undefined && !(computedRatio <= target.ratioMax)) failures.push(`ratio ${fmtRatio(computedRatio)} > ${target.ratioMax}`);
  if (target.ratioMin !== undefined && !(computedRatio >= target.ratioMin)) failures.push(`ratio ${fmtRatio(computedRatio)} < ${target.ratioMin}`);
  if (target.rssMaxMiB !== undefined && !(pgfactory?.peakRssMiB <= target.rssMaxMiB)) failures.push(`peak RSS ${fmtMiB(pgfactory?.peakRssMiB)} > ${target.rssMaxMiB} MiB`);
  const hasTarget = target.ratioMax !== undefined || target.ratioMin !== undefined || target.rssMaxMiB !== undefined;
  return {
    case: name,
    unit,
    pgfactory,
    reference: reference === undefined ? undefined : { name: referenceName, ...reference },
    ratio: computedRatio,
    target: { ...target, text: targetText(target) },
    pass: hasTarget ? failures.length === 0 : null,
    failures,
    note,
  };
}

export function skippedRow(name, reason) {
  return { case: name, skipped: reason, pass: null, failures: [], target: { text: '' } };
}

function targetText(target) {
  const parts = [];
  if (target.ratioMin !== undefined && target.ratioMax !== undefined) parts.push(`${target.ratioMin}–${target.ratioMax}`);
  else if (target.ratioMax !== undefined) parts.push(`≤ ${target.ratioMax}`);
  else if (target.ratioMin !== undefined) parts.push(`≥ ${target.ratioMin}`);
  if (target.rssMaxMiB !== undefined) parts.push(`RSS ≤ ${target.rssMaxMiB}M`);
  return parts.length > 0 ? parts.join(', ') : 'info';
}

const fmtRatio = (value) => (Number.isFinite(value) ? value.toFixed(2) : '–');
const fmtMiB = (value) => (Number.isFinite(value) ? `${Math.round(value)} MiB` : '–');

function fmtValue(value, unit) {
  if (!Number.isFinite(value)) return '–';
  if (unit === 's') return value < 1 ? `${(value * 1000).toFixed(0)} ms` : `${value.toFixed(2)} s`;
  if (unit === 'ms') return `${value.toFixed(2)} ms`;
  if (unit === 'ops/s') return `${value.toFixed(0)} ops/s`;
  return `${value}`;
}

export function tableLines(rows) {
  const header = ['case', 'pgfactory', 'reference', 'ratio', 'target', 'peak RSS', 'result'];
  const body = rows.map((row) => {
    if (row.skipped !== undefined) return [row.case, `skipped: ${row.skipped}`, '', '', '', '', ''];
    const reference = row.reference === undefined ? '' : `${fmtValue(row.reference.median, row.unit)} (${row.reference.name})`;
    const rssRef = row.reference?.peakRssMiB;
    const rss = `${fmtMiB(row.pgfactory?.peakRssMiB)}${Number.isFinite(rssRef) ? ` (ref ${Math.round(rssRef)})` : ''}`;
    const mark = row.pass === true ? 'ok' : row.pass === false ? 'MISS' : '';
    return [row.case, fmtValue(row.pgfactory?.median, row.unit), reference, fmtRatio(row.ratio), row.target.text, rss, mark];
  });
  // A skipped row's message spans the columns after the case, so it does not widen them.
  const widths = header.map((title, column) => Math.max(title.length, ...body.filter((cells, index) => rows[index].skipped === undefined || column === 0).map((cells) => cells[column].length)));
  const line = (cells) => cells.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)];
}

/** bench/results.json: every raw run, medians, ratios, targets, pass/fail, machine and date. */
export function resultsDocument({ rows, machine, settings, startedAt, finishedAt }) {
  const round = (value, digits = 4) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : null);
  const side = (summary) => summary === undefined ? null : {
    name: summary.name ?? 'pgfactory',
    median: round(summary.median),
    peak_rss_mib: round(summary.peakRssMiB, 1),
    runs: summary.runs.map((run) => Object.fromEntries(Object.entries(run).filter(([, value]) => typeof value !== 'string' && typeof value !== 'object').map(([key, value]) => [key, round(value)]))),
  };
  return {
    date: finishedAt.toISOString(),
    started_at: startedAt.toISOString(),
    machine,
    settings,
    passed: rows.filter((row) => row.pass === true).length,
    missed: rows.filter((row) => row.pass === false).length,
    cases: rows.map((row) => row.skipped !== undefined
      ? { case: row.case, skipped: row.skipped }
      : {
        case: row.case,
        unit: row.unit,
        pgfactory: side(row.pgfactory),
        reference: side(row.reference),
        ratio: round(row.ratio),
        target: row.target,
        pass: row.pass,
        failures: row.failures,
        note: row.note,
      }),
  };
}
