// `pgfactory query`: options -> runQuery -> a result writer on stdout.
import { createRequire } from 'node:module';
import { Command, Option } from 'commander';
import { addConnectionOptions, openContext, withContext, type ConnectionFlags } from '../context.js';
import { UsageError } from '../errors.js';
import { OUTPUT_FORMATS, type OutputFormat, type TerminalInfo } from '../output/writer.js';
import { collect, parseNonNegativeInt, parsePositiveNumber, readSqlFile, type CommandIo } from './shared.js';

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
    .option('--single-transaction', 'run all statements in one transaction')
    .option('--timing', 'print the time each statement took on stderr')
    .option('--watch <seconds>', 'run the SQL again every so many seconds until Ctrl-C, like psql \\watch', parsePositiveNumber('--watch'))
    .option('--statement-timeout <ms>', 'cancel statements running longer than this (SET after connecting)', parseNonNegativeInt('--statement-timeout'));
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
    const { sql, sourceName } = readSql(sqlArgument, flags.file, io);
    const { createResultWriter } = await import('../output/writer.js');
    const { runQuery } = await import('../query.js');
    const { formatNotice } = await import('../db-errors.js');
    // psql does not page \watch either: every run would wait for the pager to be quit.
    const terminal = await terminalOf(io, flags.pager && flags.watch === undefined);
    const writer = (header = true) => createResultWriter(flags.format, io.stdout, io.stderr, {
      nullString: flags.null,
      expanded,
      paintHeader: io.paint?.header,
      rowRules: flags.rowRules,
      maxValueWidth: flags.maxWidth,
      terminal,
      header,
    });
    const options = {
      sql,
      sourceName,
      params: flags.param,
      singleTransaction: flags.singleTransaction,
      onTiming: flags.timing === true ? (ms: number) => io.stderr.write(`Time: ${ms.toFixed(3)} ms\n`) : undefined,
      onNotice: (notice: Parameters<typeof formatNotice>[0]) => io.stderr.write(`${formatNotice(notice)}\n`),
    };
    const watching = flags.watch;
    // --watch reuses one connection for every run.
    const factoryOptions = { mode: watching === undefined ? 'fresh' : 'pooled', poolSize: 1, statementTimeoutMs: flags.statementTimeout } as const;
    await withContext(flags, factoryOptions, io, async (context) => {
      if (watching === undefined) return void (await runQuery(context.factory, options, writer()));
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
  });
  return command;
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
  const context = await openContext(flags, { mode: 'pooled', poolSize: 1, statementTimeoutMs: flags.statementTimeout }, io, { handleSignals: false });
  try {
    await runShell({ runQuery, createResultWriter, describeServer, formatNotice, outputFormats: OUTPUT_FORMATS }, context, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: io.env }, {
      format: flags.format,
      nullString: flags.null,
      expanded,
      rowRules: flags.rowRules,
      maxValueWidth: flags.maxWidth,
      pager: flags.pager,
      timing: flags.timing === true,
      paintHeader: io.paint?.header,
    });
  } finally {
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
