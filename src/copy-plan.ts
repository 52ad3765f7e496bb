// How `query` exports a plain query so the server formats the rows: the `COPY … TO STDOUT`
// statement for an output format, the planner settings around it, and (for queries with
// parameters, which COPY cannot take) a query returning each row already formatted. The output
// writers only say which bytes they take (ServerFormat); choosing the SQL is the query core's job.
import type { CopyOutEncoding } from './copy-out.js';
import type { Column } from './output/values.js';
import type { ServerFormat } from './output/writer.js';
import { quoteIdent, quoteLiteral } from './sql.js';

/** A `COPY … TO STDOUT` statement, how its output reads, and planner settings for it. */
export interface CopyPlan {
  sql: string;
  encoding: CopyOutEncoding;
  /** Applied with SET LOCAL around the COPY when possible. */
  settings?: string[];
}

// Per-row work the planner prices as free (output functions, row_to_json), so it never spreads it
// over parallel workers; priced honestly, big exports use them. One worker at most (never more
// than the server allows): the leader's COPY output is the serial part, one worker keeps up with
// it, and more only compete for CPU (bench/README.md has the figures).
// Without ORDER BY, rows then arrive in the order the workers produce them.
const PARALLEL_PLAN = [
  'SET LOCAL parallel_tuple_cost = 0',
  "SELECT set_config('max_parallel_workers_per_gather', least(current_setting('max_parallel_workers_per_gather')::int, 1)::text, true)",
];

// Types whose cast to text is the type's output function (no cast function of its own), so
// `value::text` prints exactly what COPY would: their formatting can move into parallel workers.
// Not boolean, bpchar, inet, cidr, name or "char": their casts to text print differently.
const TEXT_CAST_IS_OUTPUT = new Set([
  20, 21, 23, 26, 700, 701, 790, 1082, 1083, 1114, 1184, 1186, 1266, 1700, 2950, 3802, // scalars
  1005, 1007, 1016, 1021, 1022, 1182, 1115, 1185, 1231, 1009, 1015, 2951, 3807, // their arrays, text[], varchar[]
]);

/** Whether copyPlanFor wants the query's result columns (one describe round trip first). */
export function copyNeedsColumns(format: ServerFormat): boolean {
  return format.kind !== 'json-lines';
}

/**
 * The COPY that writes exactly `format` for a plain query. `columns` (the result shape, when
 * copyNeedsColumns asks for it) lets csv/tsv format the values in parallel workers.
 */
export function copyPlanFor(query: string, format: ServerFormat, columns?: Column[]): CopyPlan {
  if (format.kind === 'json-lines') {
    // row_to_json in parallel workers, sent as a one-column binary COPY: the text arrives
    // unescaped and the server skips COPY's per-byte escaping.
    return { sql: `COPY (${jsonLinesQuery(query)}) TO STDOUT (FORMAT binary)`, encoding: 'binary-lines', settings: PARALLEL_PLAN };
  }
  const to = `TO STDOUT (FORMAT ${format.kind}${format.header ? ', HEADER' : ''}, NULL ${quoteLiteral(format.nullString)})`;
  if (columns === undefined || !columns.some((column) => TEXT_CAST_IS_OUTPUT.has(column.typeOid))) {
    return { sql: `COPY (\n${query}\n) ${to}`, encoding: 'text' };
  }
  // The output functions are most of COPY's work; cast to text in a projection they can run in
  // parallel workers. Columns are renamed by position so duplicate or odd names need no
  // qualification.
  const projection = columns.map((column, i) => `q.c${i + 1}${TEXT_CAST_IS_OUTPUT.has(column.typeOid) ? '::text' : ''} AS ${quoteIdent(column.name)}`);
  const aliases = columns.map((_, i) => `c${i + 1}`);
  return {
    sql: `COPY (SELECT ${projection.join(', ')} FROM (\n${query}\n) q(${aliases.join(', ')})) ${to}`,
    encoding: 'text',
    settings: PARALLEL_PLAN,
  };
}

/**
 * For a plain query with parameters (COPY takes none): a query returning one text column that
 * holds each row already formatted by the server, or undefined when the format has none.
 */
export function serverFormattedQueryFor(query: string, format: ServerFormat): string | undefined {
  return format.kind === 'json-lines' ? jsonLinesQuery(query) : undefined;
}

function jsonLinesQuery(query: string): string {
  return `SELECT row_to_json(q) FROM (\n${query}\n) q`;
}
