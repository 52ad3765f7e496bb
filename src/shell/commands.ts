// The shell's own backslash commands, in psql's spelling, as one table: name → what it takes and
// does. These are the interactive ones (\d, \x, \e, \watch …); every other meta-command (\set,
// \if, \gset, \copy, \i, \connect, \timing, \pset …) is src/psql's, the same code as `query -f`.
// shell.ts dispatches: this table first, then the psql session.
import type { OutputFormat } from '../output/writer.js';
import { META_COMMAND_HELP } from '../psql/meta.js';

/** What a command may do to the session it runs in. */
export interface ShellHost {
  /** Runs SQL as if typed (printed as results are), with parameters for a single statement; false when it failed (reported). */
  execute(sql: string, params?: string[]): Promise<boolean>;
  /** Runs a catalog query without printing it: the rows, every value as text. */
  lookup(sql: string, params?: string[]): Promise<Array<Array<string | null>>>;
  /** The query buffer if it holds text, else the last statement run. */
  currentQuery(): string | undefined;
  /** Replaces the query buffer with edited text (run when it ends with `;`). */
  editQuery(text: string): Promise<void>;
  watch(sql: string, seconds: number): Promise<void>;
  print(text: string): void;
  expanded: boolean | 'auto';
  format: OutputFormat;
  readonly formats: readonly string[];
  conninfo(): string;
  editor(): string;
}

export interface ShellCommand {
  usage: string;
  help: string;
  /** Returns 'quit' to end the session. */
  run(host: ShellHost, args: string[]): Promise<void | 'quit'>;
}

export class ShellCommandError extends Error {}

// Relations psql's \d lists, and its words for them.
const RELATION_KINDS = `CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' END`;
const LISTED = `FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' AND pg_table_is_visible(c.oid)`;

function listRelations(kinds: string): string {
  return `SELECT n.nspname AS "Schema", c.relname AS "Name", ${RELATION_KINDS} AS "Type", pg_get_userbyid(c.relowner) AS "Owner"
  ${LISTED} AND c.relkind IN (${kinds}) ORDER BY 1, 2`;
}

const DESCRIBE_COLUMNS = `SELECT a.attname AS "Column", format_type(a.atttypid, a.atttypmod) AS "Type",
    CASE WHEN a.attnotnull THEN 'not null' ELSE '' END AS "Nullable", coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS "Default"
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`;

const DESCRIBE_INDEXES = `SELECT quote_ident(c.relname) || CASE WHEN i.indisprimary THEN ' PRIMARY KEY,' WHEN i.indisunique THEN ' UNIQUE,' ELSE '' END
    || ' ' || regexp_replace(pg_get_indexdef(i.indexrelid), '^.* USING ', '') AS "Indexes"
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass ORDER BY i.indisprimary DESC, c.relname`;

function onOff(value: string | undefined, current: boolean, name: string): boolean {
  if (value === undefined) return !current;
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new ShellCommandError(`\\${name}: expected on or off, got "${value}"`);
}

export const SHELL_COMMANDS: Record<string, ShellCommand> = {
  q: { usage: '\\q', help: 'quit', run: async () => 'quit' },
  '?': {
    usage: '\\?',
    help: 'this help',
    async run(host) {
      const all = [...Object.values(SHELL_COMMANDS), ...META_COMMAND_HELP];
      const width = Math.max(...all.map((command) => command.usage.length));
      host.print(`${all.map((command) => `  ${command.usage.padEnd(width)}  ${command.help}`).join('\n')}\n`);
    },
  },
  x: {
    usage: '\\x [on|off|auto]',
    help: 'expanded output (one record per block); auto: when the table is wider than the terminal',
    async run(host, [value]) {
      if (value === 'auto') host.expanded = 'auto';
      else host.expanded = onOff(value, host.expanded === true, 'x');
      host.print(`Expanded display is ${host.expanded === 'auto' ? 'used automatically' : host.expanded ? 'on' : 'off'}.\n`);
    },
  },
  format: {
    usage: '\\format FORMAT',
    help: 'output format: table, csv, tsv, json or ndjson',
    async run(host, [value]) {
      if (value === undefined) return host.print(`Output format is ${host.format}.\n`);
      if (!host.formats.includes(value)) throw new ShellCommandError(`\\format: expected one of ${host.formats.join(', ')}, got "${value}"`);
      host.format = value as OutputFormat;
      host.print(`Output format is ${value}.\n`);
    },
  },
  conninfo: { usage: '\\conninfo', help: 'the server, database and user of this session', run: async (host) => host.print(`${host.conninfo()}\n`) },
  d: {
    usage: '\\d [NAME]',
    help: 'list tables, views and sequences; with NAME: its columns and indexes',
    async run(host, [name]) {
      if (name === undefined) return void (await host.execute(listRelations(`'r', 'p', 'v', 'm', 'S', 'f'`)));
      const [found] = await host.lookup(`SELECT to_regclass($1)::text, (SELECT ${RELATION_KINDS} FROM pg_class c WHERE c.oid = to_regclass($1))`, [name]);
      if (found === undefined || found[0] === null) throw new ShellCommandError(`Did not find any relation named "${name}".`);
      host.print(`${found[1]} "${found[0]}"\n`);
      if (await host.execute(DESCRIBE_COLUMNS, [found[0]])) await host.execute(DESCRIBE_INDEXES, [found[0]]);
    },
  },
  dt: { usage: '\\dt', help: 'list tables', run: async (host) => void (await host.execute(listRelations(`'r', 'p'`))) },
  dn: {
    usage: '\\dn',
    help: 'list schemas',
    run: async (host) => void await host.execute(`SELECT nspname AS "Name", pg_get_userbyid(nspowner) AS "Owner" FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1`),
  },
  df: {
    usage: '\\df',
    help: 'list functions',
    run: async (host) => void await host.execute(`SELECT n.nspname AS "Schema", p.proname AS "Name", pg_get_function_result(p.oid) AS "Result data type",
  pg_get_function_arguments(p.oid) AS "Argument data types" FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND pg_function_is_visible(p.oid) ORDER BY 1, 2, 4`),
  },
  l: {
    usage: '\\l',
    help: 'list databases',
    run: async (host) => void await host.execute(`SELECT datname AS "Name", pg_get_userbyid(datdba) AS "Owner", pg_encoding_to_char(encoding) AS "Encoding" FROM pg_database ORDER BY 1`),
  },
  watch: {
    usage: '\\watch [SECONDS]',
    help: 'run the query buffer (or the last query) every SECONDS (default 2) until Ctrl-C',
    async run(host, [value]) {
      const seconds = value === undefined ? 2 : Number(value);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new ShellCommandError(`\\watch: expected a number of seconds > 0, got "${value}"`);
      const sql = host.currentQuery();
      if (sql === undefined) throw new ShellCommandError('\\watch: no query to watch (type one first)');
      await host.watch(sql, seconds);
    },
  },
  e: {
    usage: '\\e',
    help: 'edit the query buffer (or the last query) in $EDITOR; it runs when it ends with ;',
    async run(host) {
      const { editText } = await import('./editor.js');
      await host.editQuery(editText(host.editor(), host.currentQuery() ?? ''));
    },
  },
};

/** Splits `\name arg …` into the command's name and its arguments (quotes group words). */
export function parseBackslash(line: string): { name: string; args: string[] } {
  const words = [...line.trim().slice(1).matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((match) => match[1] ?? match[2] ?? match[3]);
  return { name: words[0] ?? '', args: words.slice(1) };
}
