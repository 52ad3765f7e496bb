// `pgfactory query`: options -> runScript (psql's meta-commands and variables) -> a result writer
// on stdout; --watch re-runs through runQuery; no SQL on a terminal opens the interactive shell.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { addConnectionOptions, openContext, withContext, type ConnectionFlags } from '../context.js';
import { InterruptedError, UsageError } from '../errors.js';
import type { ConnectionFactory, FactoryOptions } from '../factory.js';
import { OUTPUT_FORMATS, type OutputFormat, type TerminalInfo, type WriterOptions } from '../output/writer.js';
import { collect, parseNonNegativeInt, parsePositiveNumber, readSqlFile, sqlSourceName, type CommandIo } from './shared.js';

interface QueryFlags extends ConnectionFlags {
  file?: string;
  param?: string[];
  format: OutputFormat;
  null?: string;
  expanded?: boolean | string;
  pager: boolean;
  maxWidth?: number;
  rowRules?: boolean;
  singleTransaction?: boolean;
  timing?: boolean;
  statementTimeout?: number;
  watch?: number;
  set?: Map<string, string>;
  quiet?: boolean;
}

/** -v NAME=VALUE, as psql: NAME alone sets the empty string. */
function collectVariable(text: string, previous: Map<string, string> | undefined): Map<string, string> {
  const at = text.indexOf('=');
  const name = at === -1 ? text : text.slice(0, at);
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new InvalidArgumentError(`invalid variable name "${name}" (letters, digits and _)`);
  const variables = new Map(previous ?? []);
  variables.set(name, at === -1 ? '' : text.slice(at + 1));
  return variables;
}

export function queryCommand(io: CommandIo): Command {
  const command = new Command('query')
    .description('run SQL and print the results (a table, or csv/tsv/json/ndjson for scripts)')
    .argument('[sql]', "SQL to run; several statements run in order; '-' reads stdin; none on a terminal: an interactive shell")
    .option('-f, --file <path>', "read the SQL from a file ('-' for stdin)")
    .option('--param <value>', 'a value bound to $1, $2 … (repeatable; sent as a parameter, never spliced)', collect)
    .addOption(new Option('--format <format>', 'output format').choices([...OUTPUT_FORMATS]).default('table'))
    .option('--null <string>', 'how NULL is shown in table/csv/tsv (default: empty; \\N in tsv)')
    .option('-x, --expanded [mode]', "one record per block, like psql \\x; 'auto': only when the table is wider than the terminal")
    .option('--row-rules', 'table: a rule between every two rows (by default only under the header)')
    .option('--max-width <columns>', 'table: cut longer values to this width with … (0 = never; default on a terminal: its width)', parseNonNegativeInt('--max-width'))
    .option('--no-pager', 'never page long output (default on a terminal: PGFACTORY_PAGER, PSQL_PAGER, PAGER or less -SRFX)')
    .option('-1, --single-transaction', 'run all statements in one transaction')
    .option('--timing', 'print the time each statement took on stderr')
    .option('-v, --set <name=value>', 'set a psql variable, used as :name, :\'name\' or :"name" (repeatable)', collectVariable)
    .option('-q, --quiet', 'print no command tags (CREATE TABLE, INSERT 0 1 …)')
    .option('--watch <seconds>', 'run the SQL again every so many seconds until Ctrl-C, like psql \\watch', parsePositiveNumber('--watch'))
    .option('--statement-timeout <ms>', 'cancel statements running longer than this (SET LOCAL around each statement: nothing stays on the session)', parseNonNegativeInt('--statement-timeout'));
  addConnectionOptions(command).helpOption('--help', 'show help for query');
  command.addHelpText('after', `
Examples:
  $ pgfactory query --embedded 'SELECT version()'
  $ pgfactory query -d mydb --format csv 'SELECT * FROM users WHERE id = $1' --param 42
  $ pgfactory query -f migrate.sql --single-transaction`);
  command.action(async (argument: string | undefined, flags: QueryFlags) => {
    const { expanded, sqlArgument } = expandedMode(flags.expanded, argument);
    if (sqlArgument === undefined && flags.file === undefined && stdinIsTerminal(io)) {
      if (flags.watch !== undefined) throw new UsageError('--watch needs SQL to run (an argument or -f FILE); in the shell, use \\watch');
      return openShell(io, flags, expanded);
    }
    if (flags.watch !== undefined) return watchQuery(io, flags, expanded, sqlArgument);
    const input = await scriptInput(sqlArgument, flags.file, io);
    try {
      const { createResultWriter } = await import('../output/writer.js');
      const { runScript } = await import('../psql/script.js');
      const terminal = await terminalOf(io, flags.pager);
      // The script's connection ends as psql's does: the server's own exit is not waited for.
      await withContext(flags, { mode: 'fresh', endWithoutWaiting: true }, io, async (context) => {
        const { createConnectionFactory } = await import('../factory.js');
        const connects = reconnections(createConnectionFactory, { mode: 'fresh', endWithoutWaiting: true });
        try {
          return await runScript(context.factory, {
            statementTimeoutMs: flags.statementTimeout,
            source: input.source,
            variables: flags.set,
            params: flags.param,
            singleTransaction: flags.singleTransaction,
            quiet: flags.quiet,
            timing: flags.timing,
            format: flags.format,
            nullString: flags.null,
            stdout: io.stdout,
            stderr: io.stderr,
            stdinFd: io.stdinFd,
            makeWriter: (format, nullString) => createResultWriter(format, io.stdout, io.stderr, { ...writerOptions(io, flags, expanded, terminal), nullString }),
            onTiming: (ms) => io.stderr.write(`Time: ${ms.toFixed(3)} ms\n`),
            onNotice: (text) => io.stderr.write(`${text}\n`),
            reconnect: connects.reconnect,
            onReconnect: connects.onReconnect,
          });
        } finally {
          await connects.closeAll();
        }
      });
    } finally {
      input.cleanUp();
    }
  });
  return command;
}

/** How query prints results, from its flags (scripts may change the format and null string as they go). */
function writerOptions(io: CommandIo, flags: QueryFlags, expanded: boolean | 'auto', terminal: TerminalInfo | undefined): WriterOptions {
  return { nullString: flags.null, expanded, paintHeader: io.paint?.header, rowRules: flags.rowRules, maxValueWidth: flags.maxWidth, terminal };
}

/** The factories `\connect` opens for a session: the one given up is closed, the last one at the end. */
function reconnections(create: (settings: ConnectionFactory['settings'], options: FactoryOptions) => ConnectionFactory, options: FactoryOptions) {
  const opened = new Set<ConnectionFactory>();
  return {
    reconnect: (changes: Record<string, string | number | undefined>, current: ConnectionFactory): ConnectionFactory => {
      const next = create(changedSettings(current.settings, changes), options);
      opened.add(next);
      return next;
    },
    onReconnect: async (previous: ConnectionFactory): Promise<void> => {
      if (opened.delete(previous)) await previous.close();
    },
    closeAll: async (): Promise<void> => {
      for (const factory of opened) await factory.close().catch(() => undefined);
      opened.clear();
    },
  };
}

/** `\connect`: the settings in use with some changed. */
function changedSettings<T extends { password?: string }>(base: T, changes: Record<string, string | number | undefined>): T {
  const settings = { ...base };
  // The password is kept non-enumerable (never printed), so a spread leaves it behind.
  Object.defineProperty(settings, 'password', { value: base.password, enumerable: false, writable: true, configurable: true });
  for (const [key, value] of Object.entries(changes)) if (value !== undefined) Object.assign(settings, { [key]: value });
  return settings;
}

/** --watch: the SQL again and again on one pooled connection, through the query core. */
async function watchQuery(io: CommandIo, flags: QueryFlags, expanded: boolean | 'auto', sqlArgument: string | undefined): Promise<void> {
  const watching = flags.watch!;
  const { sql, sourceName } = readSql(sqlArgument, flags.file, io);
  const { createResultWriter } = await import('../output/writer.js');
  const { runQuery } = await import('../query.js');
  const { formatNotice } = await import('../db-errors.js');
  // psql does not page \watch either: every run would wait for the pager to be quit.
  const terminal = await terminalOf(io, false);
  const writer = (header: boolean) => createResultWriter(flags.format, io.stdout, io.stderr, { ...writerOptions(io, flags, expanded, terminal), header });
  const options = {
    sql,
    statementTimeoutMs: flags.statementTimeout,
    sourceName,
    params: flags.param,
    singleTransaction: flags.singleTransaction,
    onTiming: flags.timing === true ? (ms: number) => io.stderr.write(`Time: ${ms.toFixed(3)} ms\n`) : undefined,
    onNotice: (notice: Parameters<typeof formatNotice>[0]) => io.stderr.write(`${formatNotice(notice)}\n`),
  };
  // --watch reuses one connection for every run.
  await withContext(flags, { mode: 'pooled', poolSize: 1 }, io, async (context) => {
    const { watch } = await import('../shell/watch.js');
    const stop = new AbortController();
    context.onInterrupt(() => stop.abort());
    // A table is read: the time heads it on stdout. csv/ndjson are appended to for a log: the
    // header line once, the time on stderr.
    const table = flags.format === 'table';
    await watch({
      intervalSeconds: watching,
      signal: stop.signal,
      writeHeader: (text) => void (table ? io.stdout : io.stderr).write(text),
      runOnce: async (run) => {
        await runQuery(context.factory, options, writer(run === 1));
        if (table) io.stdout.write('\n');
      },
    });
  });
}

/** Loaded here only (the launcher runs the bundle as a script, where import() of a built-in fails). */
function stdinIsTerminal(io: CommandIo): boolean {
  return (createRequire(import.meta.url)('node:tty') as typeof import('node:tty')).isatty(io.stdinFd);
}

/**
 * The interactive shell on one connection of the factory. It is a bundle of its own
 * (dist/shell.cjs next to the CLI's), required only here: the start-up of `query "SELECT 1"`
 * never reads it.
 */
async function openShell(io: CommandIo, flags: QueryFlags, expanded: boolean | 'auto'): Promise<void> {
  const { runShell } = createRequire(import.meta.url)('./shell.cjs') as typeof import('../shell/shell.js');
  const { runQuery } = await import('../query.js');
  const { createResultWriter } = await import('../output/writer.js');
  const { describeServer } = await import('../describe.js');
  const { formatNotice } = await import('../db-errors.js');
  const { PsqlSession } = await import('../psql/script.js');
  const { createConnectionFactory } = await import('../factory.js');
  // The statement timeout is SET LOCAL around each statement (the session's and runQuery's way),
  // never a session setting that a PgBouncer in transaction mode would hand to another client.
  const context = await openContext(flags, { mode: 'pooled', poolSize: 1 }, io, { handleSignals: false });
  // A pool of one each, as the first: a transaction spans prompts.
  const connects = reconnections(createConnectionFactory, { mode: 'pooled', poolSize: 1 });
  const createSession = (factory: ConnectionFactory, options: import('../psql/script.js').SessionOptions) =>
    new PsqlSession(factory, { ...options, reconnect: connects.reconnect, onReconnect: connects.onReconnect }, new Map(flags.set ?? []));
  try {
    const ended = await runShell({ runQuery, createResultWriter, describeServer, formatNotice, outputFormats: OUTPUT_FORMATS, createSession }, context, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: io.env }, {
      format: flags.format,
      nullString: flags.null,
      expanded,
      rowRules: flags.rowRules,
      maxValueWidth: flags.maxWidth,
      pager: flags.pager,
      timing: flags.timing === true,
      statementTimeoutMs: flags.statementTimeout,
      paintHeader: io.paint?.header,
    });
    if (ended === 'terminated') throw new InterruptedError('interrupted: the shell was terminated (SIGTERM)');
  } finally {
    await connects.closeAll();
    await context.close();
  }
}

const EXPANDED_MODES: Record<string, boolean | 'auto'> = { on: true, off: false, auto: 'auto' };

/**
 * -x takes an optional mode, so commander hands it the next word: `query -x 'SELECT 1'` gives
 * -x the SQL. Anything but on/off/auto is the SQL argument given after -x.
 */
function expandedMode(value: boolean | string | undefined, argument: string | undefined): { expanded: boolean | 'auto'; sqlArgument: string | undefined } {
  if (typeof value !== 'string') return { expanded: value === true, sqlArgument: argument };
  const mode = EXPANDED_MODES[value];
  if (mode !== undefined) return { expanded: mode, sqlArgument: argument };
  if (argument !== undefined) throw new UsageError(`-x/--expanded takes on, off or auto, got "${value}"`);
  return { expanded: true, sqlArgument: value };
}

/** The terminal stdout writes to, or undefined; the pager module is loaded on a terminal only. */
async function terminalOf(io: CommandIo, pager: boolean): Promise<TerminalInfo | undefined> {
  if ((io.stdout as Partial<NodeJS.WriteStream>).isTTY !== true) return undefined;
  return (await import('../shell/pager.js')).terminalOf(io.stdout, io.env, pager);
}

function readSql(argument: string | undefined, file: string | undefined, io: CommandIo): { sql: string; sourceName?: string } {
  if (argument !== undefined && file !== undefined) throw new UsageError('give the SQL either as an argument or with -f/--file, not both');
  const path = file ?? (argument === '-' ? '-' : undefined);
  if (path === undefined) {
    if (argument === undefined) throw new UsageError("no SQL given: pass it as an argument, with -f FILE, or '-' to read stdin");
    return { sql: argument };
  }
  return { sql: readSqlFile(path, io), sourceName: path };
}

type ScriptInput = { source: import('../psql/script.js').ScriptSource; cleanUp(): void };

/**
 * Where the SQL comes from. Standard input is copied to a temporary file first, so the whole
 * script is checked (unsupported meta-commands) before anything runs, without holding it in memory.
 */
async function scriptInput(argument: string | undefined, file: string | undefined, io: CommandIo): Promise<ScriptInput> {
  if (argument !== undefined && file !== undefined) throw new UsageError('give the SQL either as an argument or with -f/--file, not both');
  const from = file ?? (argument === '-' ? '-' : undefined);
  if (from === undefined) {
    if (argument === undefined) throw new UsageError("no SQL given: pass it as an argument, with -f FILE, or '-' to read stdin");
    return { source: { kind: 'text', sql: argument }, cleanUp: () => undefined };
  }
  if (from !== '-') {
    try {
      fs.accessSync(from, fs.constants.R_OK);
      if (fs.statSync(from).isDirectory()) throw Object.assign(new Error(), { code: 'EISDIR' });
    } catch (error) {
      throw new UsageError(`cannot read SQL from ${sqlSourceName(from)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    // A pipe given as a file (`-f <(…)`, /dev/stdin) can be read once only: spooled as stdin is.
    if (fs.statSync(from).isFile()) return { source: { kind: 'file', path: from }, cleanUp: () => undefined };
    return spool(fs.createReadStream(from), from);
  }
  return spool(fs.createReadStream('', { fd: io.stdinFd, autoClose: false }), '-');
}

/** The input copied to a temporary file (read twice: checked, then run), named `name` in messages. */
async function spool(input: NodeJS.ReadableStream, name: string): Promise<ScriptInput> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-stdin-'));
  const spooled = path.join(dir, 'stdin.sql');
  const cleanUp = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    await pipeline(input, fs.createWriteStream(spooled));
  } catch (error) {
    cleanUp();
    throw new UsageError(`cannot read SQL from ${sqlSourceName(name)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return { source: { kind: 'file', path: spooled, name }, cleanUp };
}
