// `pgfactory query`: options -> runQuery -> a result writer on stdout.
import { Command, Option } from 'commander';
import { addConnectionOptions, withContext, type ConnectionFlags } from '../context.js';
import { UsageError } from '../errors.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../output/writer.js';
import { collect, parseNonNegativeInt, readSqlFile, type CommandIo } from './shared.js';

interface QueryFlags extends ConnectionFlags {
  file?: string;
  param?: string[];
  format: OutputFormat;
  null?: string;
  expanded?: boolean;
  singleTransaction?: boolean;
  timing?: boolean;
  statementTimeout?: number;
}

export function queryCommand(io: CommandIo): Command {
  const command = new Command('query')
    .description('run SQL and print the results (a table, or csv/tsv/json/ndjson for scripts)')
    .argument('[sql]', "SQL to run; several statements run in order; '-' reads stdin")
    .option('-f, --file <path>', "read the SQL from a file ('-' for stdin)")
    .option('--param <value>', 'a value bound to $1, $2 … (repeatable; sent as a parameter, never spliced)', collect)
    .addOption(new Option('--format <format>', 'output format').choices([...OUTPUT_FORMATS]).default('table'))
    .option('--null <string>', 'how NULL is shown in table/csv/tsv (default: empty; \\N in tsv)')
    .option('-x, --expanded', 'one record per block, like psql \\x')
    .option('--single-transaction', 'run all statements in one transaction')
    .option('--timing', 'print the time each statement took on stderr')
    .option('--statement-timeout <ms>', 'cancel statements running longer than this (SET LOCAL around each statement: nothing stays on the session)', parseNonNegativeInt('--statement-timeout'));
  addConnectionOptions(command).helpOption('--help', 'show help for query');
  command.addHelpText('after', `
Examples:
  $ pgfactory query --embedded 'SELECT version()'
  $ pgfactory query -d mydb --format csv 'SELECT * FROM users WHERE id = $1' --param 42
  $ pgfactory query -f migrate.sql --single-transaction`);
  command.action(async (sqlArgument: string | undefined, flags: QueryFlags) => {
    const { sql, sourceName } = readSql(sqlArgument, flags.file, io);
    const { createResultWriter } = await import('../output/writer.js');
    const { runQuery } = await import('../query.js');
    const { formatNotice } = await import('../db-errors.js');
    const writer = createResultWriter(flags.format, io.stdout, io.stderr, {
      nullString: flags.null,
      expanded: flags.expanded,
      paintHeader: io.paint?.header,
    });
    await withContext(flags, { mode: 'fresh' }, io, (context) =>
      runQuery(context.factory, {
        sql,
        statementTimeoutMs: flags.statementTimeout,
        sourceName,
        params: flags.param,
        singleTransaction: flags.singleTransaction,
        onTiming: flags.timing === true ? (ms) => io.stderr.write(`Time: ${ms.toFixed(3)} ms\n`) : undefined,
        onNotice: (notice) => io.stderr.write(`${formatNotice(notice)}\n`),
      }, writer));
  });
  return command;
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
