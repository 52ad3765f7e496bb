// The measured data: N rows × 5 mixed-type columns, generated on the server, and the import
// files made from them once per run (cached by row count).
import path from 'node:path';
import { exportToFile, setupSql } from './tools.mjs';

export const SCHEMA = 'pgfactory_bench';

// id bigint, text (some with a comma and quotes, so CSV quoting is exercised), numeric with
// cents, timestamptz with milliseconds, boolean with NULLs.
const COLUMNS_SQL = `
  i::bigint AS id,
  CASE WHEN i % 10 = 0 THEN 'name, "' || i || '"' ELSE md5(i::text) END AS name,
  round((i * 1.37) % 100000, 2)::numeric(12,2) AS amount,
  timestamptz '2024-01-01 00:00:00+00' + i * interval '1.007 seconds' AS created_at,
  CASE WHEN i % 7 = 0 THEN NULL ELSE i % 2 = 0 END AS active`;

export function tableName(rows) {
  return `${SCHEMA}.rows_${rows}`;
}

const made = new Set();

/** Creates (once) the source table with `rows` rows and returns its qualified name. */
export function ensureRows(ctx, rows) {
  const name = tableName(rows);
  if (made.has(name)) return name;
  ctx.log(`generating ${rows.toLocaleString('en-US')} rows on the server …`);
  setupSql(ctx, [
    `CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`,
    `DROP TABLE IF EXISTS ${name}`,
    `CREATE TABLE ${name} AS SELECT ${COLUMNS_SQL} FROM generate_series(1, ${rows}) AS i`,
    `ALTER TABLE ${name} ADD PRIMARY KEY (id)`,
    `VACUUM ANALYZE ${name}`,
  ]);
  made.add(name);
  return name;
}

/** An empty table shaped like the source, primary key included (import target). */
export function emptyLike(ctx, source, name) {
  setupSql(ctx, [`DROP TABLE IF EXISTS ${SCHEMA}.${name}`, `CREATE TABLE ${SCHEMA}.${name} (LIKE ${source} INCLUDING ALL)`]);
  return `${SCHEMA}.${name}`;
}

const files = new Map();

/** The rows of the source table as an import file (csv with header, or ndjson), made once. */
export function importFile(ctx, rows, format) {
  const key = `${rows}.${format}`;
  const cached = files.get(key);
  if (cached !== undefined) return cached;
  const source = ensureRows(ctx, rows);
  const file = path.join(ctx.tmpDir, `rows_${rows}.${format}`);
  ctx.log(`writing ${path.basename(file)} …`);
  exportToFile(ctx, `SELECT * FROM ${source} ORDER BY id`, format, file);
  files.set(key, file);
  return file;
}

export function dropSchema(ctx) {
  setupSql(ctx, `DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
}
