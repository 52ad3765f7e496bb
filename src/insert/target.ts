// The insert target: `table` or `schema.table` parsed as SQL does, looked up in pg_catalog, and
// the given column names checked against the table's columns (exact match, no case folding).
import type pg from 'pg';
import { InputError, UsageError } from '../errors.js';
import { quoteIdent } from '../sql.js';

export interface QualifiedName {
  /** Undefined when not given: the table is then found through search_path. */
  schema: string | undefined;
  name: string;
}

export interface TargetColumn {
  name: string;
  typeOid: number;
  /** format_type() text, e.g. `character varying(10)`. */
  typeName: string;
  /** An array type (typcategory 'A'). */
  isArray: boolean;
  /** `json` or `jsonb`. */
  isJson: boolean;
  /** A GENERATED … STORED column: it cannot be written. */
  generated: boolean;
}

export interface Target {
  schema: string;
  name: string;
  columns: TargetColumn[];
}

const UNQUOTED_PART = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/;

/**
 * Parses a table name written as in SQL: unquoted parts fold to lower case, double-quoted parts
 * keep case and may hold dots, spaces and doubled quotes.
 */
export function parseQualifiedName(text: string): QualifiedName {
  const parts: string[] = [];
  let i = 0;
  const fail = (why: string) => new UsageError(`invalid table name ${JSON.stringify(text)}: ${why}`);
  for (;;) {
    if (text[i] === '"') {
      let part = '';
      i += 1;
      for (;;) {
        if (i >= text.length) throw fail('unterminated quoted identifier');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        part += text[i];
        i += 1;
      }
      if (part === '') throw fail('zero-length quoted identifier');
      parts.push(part);
    } else {
      const match = UNQUOTED_PART.exec(text.slice(i));
      if (match === null) throw fail(i >= text.length ? 'a name part is missing' : `unexpected character ${JSON.stringify(text[i])}`);
      // PostgreSQL folds only ASCII letters.
      parts.push(match[0].replace(/[A-Z]+/g, (letters) => letters.toLowerCase()));
      i += match[0].length;
    }
    if (i === text.length) break;
    if (text[i] !== '.') throw fail(`unexpected character ${JSON.stringify(text[i])}`);
    i += 1;
  }
  if (parts.length > 2) throw fail('use table or schema.table');
  return parts.length === 2 ? { schema: parts[0], name: parts[1] } : { schema: undefined, name: parts[0] };
}

/** An identifier as a user would type it: bare when that reads back the same, quoted otherwise. */
export function displayIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name);
}

export function displayTable(target: { schema: string; name: string }): string {
  return `${displayIdent(target.schema)}.${displayIdent(target.name)}`;
}

export function sqlTable(target: { schema: string; name: string }): string {
  return `${quoteIdent(target.schema)}.${quoteIdent(target.name)}`;
}

// Tables, partitioned tables, foreign tables and views (which take rows through triggers or rules).
const INSERTABLE_KINDS = new Set(['r', 'p', 'f', 'v']);

/** Looks the table up (through search_path when no schema is given) and lists its columns. */
export async function resolveTarget(client: pg.Client, tableText: string): Promise<Target> {
  const wanted = parseQualifiedName(tableText);
  const regclassText = wanted.schema !== undefined ? `${quoteIdent(wanted.schema)}.${quoteIdent(wanted.name)}` : quoteIdent(wanted.name);
  const found = await client.query<{ oid: number; schema: string; name: string; kind: string }>(
    `SELECT c.oid::int8::float8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = to_regclass($1)`,
    [regclassText],
  );
  const shown = wanted.schema !== undefined ? `${displayIdent(wanted.schema)}.${displayIdent(wanted.name)}` : displayIdent(wanted.name);
  if (found.rows.length === 0) {
    throw new InputError(`table ${shown} does not exist${wanted.schema === undefined ? ' (looked up through search_path)' : ''}`);
  }
  const { oid, schema, name, kind } = found.rows[0];
  if (!INSERTABLE_KINDS.has(kind)) throw new InputError(`${shown} is not a table (relkind ${kind})`);
  const columns = await client.query<{ name: string; type_oid: number; type_name: string; category: string; base: string; generated: string }>(
    `SELECT a.attname AS name, a.atttypid::int8::float8 AS type_oid, format_type(a.atttypid, a.atttypmod) AS type_name,
            t.typcategory AS category, t.typname AS base, a.attgenerated AS generated
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [oid],
  );
  return {
    schema,
    name,
    columns: columns.rows.map((row) => ({
      name: row.name,
      typeOid: Number(row.type_oid),
      typeName: row.type_name,
      isArray: row.category === 'A',
      isJson: row.base === 'json' || row.base === 'jsonb',
      generated: row.generated !== '' && row.generated !== null,
    })),
  };
}

/** An unknown column, with the table's columns listed. */
export function noSuchColumn(target: Target, name: string): string {
  return `column ${quoteIdent(name)} does not exist in table ${displayTable(target)} (columns: ${target.columns.map((c) => displayIdent(c.name)).join(', ')})`;
}

/**
 * Checks column names (from a header, JSON keys, --set or --columns) against the table: exact
 * match, no duplicates, no generated columns. Returns the matching table columns in the given order.
 */
export function matchColumns(target: Target, names: string[], where: { file?: string; line?: number; what?: string } = {}): TargetColumn[] {
  const byName = new Map(target.columns.map((column) => [column.name, column]));
  const seen = new Set<string>();
  return names.map((name) => {
    const column = byName.get(name);
    if (column === undefined) throw new InputError(noSuchColumn(target, name), where);
    if (seen.has(name)) throw new InputError(`column ${quoteIdent(name)} is given twice${where.what !== undefined ? ` in ${where.what}` : ''}`, where);
    seen.add(name);
    if (column.generated) throw new InputError(`column ${quoteIdent(name)} of table ${displayTable(target)} is a generated column and cannot be written`, where);
    return column;
  });
}

/** The columns a load without a header or column list writes: every writable column, in table order. */
export function writableColumns(target: Target): TargetColumn[] {
  return target.columns.filter((column) => !column.generated);
}
