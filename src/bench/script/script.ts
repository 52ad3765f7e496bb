// pgbench scripts: a file (or --query, or a built-in) parsed into SQL commands and the
// meta-commands bench runs (`\set`, `\sleep`). Anything else that pgbench knows (`\shell`,
// `\if`, `\gset`, …) is refused with the file and line before the run starts. SQL statements end
// at a top-level semicolon (the shared splitter in src/sql.ts); `:name` is a variable reference
// (`::` is a cast) — in simple mode replaced by the value's text when the variable exists, in
// extended and prepared modes each reference becomes a parameter $n, as pgbench does.
import { InputError, UsageError } from '../../errors.js';
import { splitStatements } from '../../sql.js';
import { ExpressionSyntaxError } from './lexer.js';
import { parseExpression, type Expr } from './parser.js';

export type QueryMode = 'simple' | 'extended' | 'prepared';

export interface SqlCommand {
  type: 'sql';
  line: number;
  text: string;
  /** Simple mode: literal pieces around the variable references: pieces.length = names.length + 1. */
  pieces: string[];
  names: string[];
  /** Extended/prepared mode: the text with $1… in place of the references (names in order). */
  parameterized: string;
}

export type ScriptCommand =
  | SqlCommand
  | { type: 'set'; line: number; variable: string; expr: Expr }
  | { type: 'sleep'; line: number; amount: bigint | { variable: string }; unitUs: number };

export interface ScriptSource {
  /** File name, `builtin: NAME` or `query`. */
  name: string;
  text: string;
  weight: number;
  /** A pgbench built-in (reads :scale from pgbench_branches). */
  builtin: boolean;
}

export interface ParsedScript {
  name: string;
  weight: number;
  commands: ScriptCommand[];
}

// pgbench's built-in scripts, word for word; tpcb-like and simple-update share their start and end.
const TPCB_START = `\\set aid random(1, 100000 * :scale)
\\set bid random(1, 1 * :scale)
\\set tid random(1, 10 * :scale)
\\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
`;
const TPCB_END = `INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
`;
const BUILTIN_SCRIPTS: Record<string, string> = {
  'tpcb-like': `${TPCB_START}UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
${TPCB_END}`,
  'simple-update': `${TPCB_START}${TPCB_END}`,
  'select-only': `\\set aid random(1, 100000 * :scale)
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
`,
};

/** Splits `NAME@WEIGHT` (pgbench's -f/-b syntax); the weight defaults to 1. */
export function splitWeight(spec: string, option: string): { name: string; weight: number } {
  const at = spec.lastIndexOf('@');
  if (at === -1) return { name: spec, weight: 1 };
  const weightText = spec.slice(at + 1);
  if (!/^\d+$/.test(weightText) || Number(weightText) > 2 ** 31 - 1) throw new UsageError(`${option}: invalid weight "${weightText}" in "${spec}" (a whole number from 0)`);
  return { name: spec.slice(0, at), weight: Number(weightText) };
}

/** A built-in by name or unambiguous prefix, as pgbench's -b accepts. */
export function builtinScript(spec: string, option = '-b/--builtin'): ScriptSource {
  const { name, weight } = splitWeight(spec, option);
  const names = Object.keys(BUILTIN_SCRIPTS);
  const matches = names.includes(name) ? [name] : names.filter((candidate) => candidate.startsWith(name));
  if (matches.length !== 1) {
    const why = matches.length === 0 ? 'no built-in script named' : 'ambiguous built-in script name';
    throw new UsageError(`${option}: ${why} "${name}" (available: ${names.join(', ')})`);
  }
  return { name: `builtin: ${matches[0]}`, text: BUILTIN_SCRIPTS[matches[0]], weight, builtin: true };
}

const UNSUPPORTED = new Set(['shell', 'setshell', 'if', 'elif', 'else', 'endif', 'gset', 'aset', 'startpipeline', 'syncpipeline', 'endpipeline']);
const SLEEP_UNITS: Record<string, number> = { us: 1, ms: 1000, s: 1_000_000 };
const VARIABLE_NAME = /^[A-Za-z0-9_\u0080-\uffff]+$/;

/** Parses a script; every error names the script, line and (for expressions) column. */
export function parseScript(source: ScriptSource): ParsedScript {
  const fail = (line: number, message: string) => new InputError(message, { file: source.name, line });
  const commands: ScriptCommand[] = [];
  const lines = source.text.split('\n');
  let sqlBuffer = '';
  let sqlStartLine = 1;
  const flushSql = () => {
    for (const statement of splitStatements(sqlBuffer)) {
      const meta = /(?:^|\s)\\([A-Za-z]+)\s*$/m.exec(statement.text);
      if (meta !== null) throw fail(sqlStartLine + statement.line - 1 + countLines(statement.text.slice(0, meta.index + meta[0].indexOf("\\"))), `unsupported meta-command "\\${meta[1]}" after SQL (bench runs \\set and \\sleep)`);
      commands.push(sqlCommand(statement.text, sqlStartLine + statement.line - 1));
    }
    sqlBuffer = '';
  };
  for (let index = 0; index < lines.length; index += 1) {
    const lineNumber = index + 1;
    let line = lines[index].replace(/\r$/, '');
    if (!/^\s*\\/.test(line) || !bufferIsComplete(sqlBuffer)) {
      if (sqlBuffer === '') sqlStartLine = lineNumber;
      sqlBuffer += `${line}\n`;
      continue;
    }
    flushSql();
    // A backslash at the end of a meta-command's line continues it on the next line.
    while (line.endsWith('\\') && index + 1 < lines.length) {
      index += 1;
      line = `${line.slice(0, -1)} ${lines[index].replace(/\r$/, '')}`;
    }
    commands.push(metaCommand(line, lineNumber, fail));
  }
  flushSql();
  if (commands.length === 0) throw new UsageError(`${source.name}: the script contains no command`);
  return { name: source.name, weight: source.weight, commands };
}

const countLines = (text: string) => text.split('\n').length - 1;

/** True when the SQL gathered so far ends outside any statement (a meta-command may start). */
function bufferIsComplete(buffer: string): boolean {
  if (buffer.trim() === '') return true;
  // The sentinel stays a statement of its own unless the buffer ends inside a quote or comment.
  const last = splitStatements(`${buffer};\u0000`).at(-1);
  return last !== undefined && last.text === '\u0000';
}

function metaCommand(line: string, lineNumber: number, fail: (line: number, message: string) => InputError): ScriptCommand {
  const match = /^(\s*)\\(\S*)\s*(.*)$/.exec(line)!;
  const command = match[2].toLowerCase();
  const rest = match[3].trim();
  if (command === 'set') {
    const variableMatch = /^(\S+)\s*/.exec(rest);
    if (variableMatch === null) throw fail(lineNumber, '\\set: missing argument');
    const variable = variableMatch[1];
    if (!VARIABLE_NAME.test(variable)) throw fail(lineNumber, `\\set: invalid variable name "${variable}"`);
    const exprText = rest.slice(variableMatch[0].length);
    if (exprText === '') throw fail(lineNumber, '\\set: missing argument');
    try {
      return { type: 'set', line: lineNumber, variable, expr: parseExpression(exprText) };
    } catch (error) {
      if (!(error instanceof ExpressionSyntaxError)) throw error;
      // Column in the line as written (1-based), like pgbench's "at column N".
      const column = line.indexOf(exprText, line.indexOf(variable) + variable.length) + error.at + 1;
      throw fail(lineNumber, `\\set: ${error.message} at column ${column}`);
    }
  }
  if (command === 'sleep') {
    const args = rest.split(/\s+/).filter((arg) => arg !== '');
    if (args.length === 0) throw fail(lineNumber, '\\sleep: missing argument');
    if (args.length > 2) throw fail(lineNumber, '\\sleep: too many arguments');
    const unit = (args[1] ?? 's').toLowerCase();
    if (!Object.hasOwn(SLEEP_UNITS, unit)) throw fail(lineNumber, `\\sleep: unrecognized time unit "${args[1]}", must be us, ms or s`);
    let amount: bigint | { variable: string };
    if (args[0].startsWith(':')) amount = { variable: args[0].slice(1) };
    else if (/^\d+$/.test(args[0])) amount = BigInt(args[0]);
    else throw fail(lineNumber, `\\sleep: invalid sleep time "${args[0]}", must be an integer or a :variable`);
    return { type: 'sleep', line: lineNumber, amount, unitUs: SLEEP_UNITS[unit] };
  }
  if (UNSUPPORTED.has(command)) throw fail(lineNumber, `unsupported meta-command "\\${match[2]}" (bench runs \\set and \\sleep)`);
  throw fail(lineNumber, `invalid command "\\${match[2]}"`);
}

const REFERENCE = /:(:*)([A-Za-z0-9_\u0080-\uffff]*)/g;

function sqlCommand(text: string, line: number): SqlCommand {
  const pieces: string[] = [];
  const names: string[] = [];
  let parameterized = '';
  let last = 0;
  let lastParam = 0;
  for (const match of text.matchAll(REFERENCE)) {
    // `::type` casts and a lone colon are text.
    if (match[1] !== '' || match[2] === '') continue;
    pieces.push(text.slice(last, match.index));
    names.push(match[2]);
    last = match.index + match[0].length;
    parameterized += `${text.slice(lastParam, match.index)}$${names.length}`;
    lastParam = last;
  }
  pieces.push(text.slice(last));
  parameterized += text.slice(lastParam);
  return { type: 'sql', line, text, pieces, names, parameterized };
}
