// Tab completion for the shell: SQL keywords, backslash commands, and schema, table, column and
// function names read from the catalog on first use (and again after DDL).
import type pg from 'pg';

const KEYWORDS = [
  'SELECT', 'FROM', 'WHERE', 'GROUP BY', 'ORDER BY', 'HAVING', 'LIMIT', 'OFFSET', 'INSERT INTO', 'VALUES',
  'UPDATE', 'SET', 'DELETE FROM', 'RETURNING', 'CREATE', 'TABLE', 'INDEX', 'VIEW', 'SCHEMA', 'FUNCTION',
  'ALTER', 'DROP', 'TRUNCATE', 'BEGIN', 'COMMIT', 'ROLLBACK', 'WITH', 'JOIN', 'LEFT JOIN', 'INNER JOIN',
  'ON', 'USING', 'AS', 'AND', 'OR', 'NOT', 'NULL', 'IS', 'IN', 'EXISTS', 'BETWEEN', 'LIKE', 'ILIKE',
  'DISTINCT', 'UNION', 'EXCEPT', 'INTERSECT', 'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'EXPLAIN', 'ANALYZE',
  'VACUUM', 'GRANT', 'REVOKE', 'COPY', 'PRIMARY KEY', 'REFERENCES', 'DEFAULT', 'CONSTRAINT', 'SHOW',
];

export interface CatalogNames {
  schemas: string[];
  /** Tables, views, sequences … visible without a schema. */
  visible: string[];
  /** Every relation as schema.name. */
  qualified: string[];
  columns: string[];
  functions: string[];
}

const USER_RELATIONS = `FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_(toast|temp)'`;

/** Reads the names to complete from the catalog (one round trip). */
export async function readCatalogNames(client: pg.Client): Promise<CatalogNames> {
  const { rows } = await client.query<{ kind: string; name: string }>(`
    SELECT 's' AS kind, nspname AS name FROM pg_namespace WHERE nspname !~ '^pg_(toast|temp)'
    UNION ALL SELECT 'v', c.relname ${USER_RELATIONS} AND pg_table_is_visible(c.oid) AND n.nspname <> 'pg_catalog'
    UNION ALL SELECT 'q', n.nspname || '.' || c.relname ${USER_RELATIONS}
    UNION ALL SELECT DISTINCT 'c', a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
    UNION ALL SELECT DISTINCT 'f', p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname <> 'information_schema' AND p.prokind IN ('f', 'a', 'w')`);
  const names: CatalogNames = { schemas: [], visible: [], qualified: [], columns: [], functions: [] };
  const lists: Record<string, string[]> = { s: names.schemas, v: names.visible, q: names.qualified, c: names.columns, f: names.functions };
  for (const row of rows) lists[row.kind].push(row.name);
  return names;
}

/** The word being completed: what follows the last space, comma, parenthesis or operator. */
export function wordAtEnd(line: string): string {
  return /[A-Za-z0-9_$."\\]*$/.exec(line)![0];
}

/** Candidates for `word` (the caller gives the line's last word), sorted, without duplicates. */
export function completeWord(word: string, names: CatalogNames | undefined, commands: string[]): string[] {
  if (word.startsWith('\\')) return commands.filter((command) => command.startsWith(word));
  const lower = word.toLowerCase();
  const found = new Set<string>();
  if (word.includes('.')) {
    for (const name of names?.qualified ?? []) if (name.toLowerCase().startsWith(lower)) found.add(name);
    return [...found].sort();
  }
  // Keywords take the case the user types them in.
  const upper = word !== '' && word === word.toUpperCase() && /[A-Z]/.test(word);
  for (const keyword of KEYWORDS) if (keyword.toLowerCase().startsWith(lower)) found.add(upper ? keyword : keyword.toLowerCase());
  if (names !== undefined && word !== '') {
    for (const list of [names.schemas, names.visible, names.columns, names.functions]) {
      for (const name of list) if (name.toLowerCase().startsWith(lower)) found.add(name);
    }
  }
  return [...found].sort();
}

/** Whether a statement changes what completion offers (CREATE, ALTER, DROP …): read the catalog again. */
export function changesCatalog(sql: string): boolean {
  return /^\s*(create|alter|drop|comment|truncate|import)\b/i.test(sql) || /^\s*\\i\b/.test(sql);
}
