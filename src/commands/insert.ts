// `pgfactory insert`: options -> runInsert; --returning rows on stdout, the summary on stderr.
import fs from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { addConnectionOptions, withContext, type ConnectionFlags } from '../context.js';
import type { InsertEvent, InsertOptions } from '../insert.js';
import { createProgress, formatInsertSummary, type Progress } from '../output/insert.js';
import { UsageError } from '../errors.js';
import { createResultWriter, OUTPUT_FORMATS, type OutputFormat } from '../output/writer.js';
import { collect, parsePositiveInt, type CommandIo } from './shared.js';

/** The flags that pass to runInsert as they are. */
const PASSED_FLAGS = [
  'file', 'format', 'header', 'columns', 'onConflict', 'conflictKey', 'returning', 'commitEvery', 'onError', 'rejectFile',
  'delimiter', 'quote', 'escape', 'encoding', 'nullString', 'jobs', 'resume', 'loadId',
] as const;
type PassedFlags = (typeof PASSED_FLAGS)[number];

interface InsertFlags extends ConnectionFlags, Pick<InsertOptions, PassedFlags> {
  set?: string[];
  null?: string[];
  output?: OutputFormat;
  dryRun?: boolean;
}

/** One character; `\t` and `tab` spell a tab. */
const character = (value: string): string => (value === '\\t' || value === 'tab' ? '\t' : value);

/** A comma-separated list of column names, taken literally. */
function nameList(option: string) {
  return (value: string): string[] => {
    const names = value.split(',');
    if (names.some((name) => name === '')) throw new InvalidArgumentError(`${option} takes column names separated by commas, got "${value}"`);
    return names;
  };
}

export function insertCommand(io: CommandIo): Command {
  const command = new Command('insert')
    .description('insert rows into a table: one row from --set, or many from CSV/TSV/NDJSON/JSON (fast COPY), all or nothing')
    .argument('<table>', 'target table: table or schema.table, written as in SQL ("Quoted" parts keep case)')
    .option('-f, --file <path>', "read rows from this file ('-' for stdin)")
    .addOption(new Option('--format <format>', 'input format (default: from the file extension)').choices(['csv', 'tsv', 'ndjson', 'json']))
    .option('--no-header', 'CSV/TSV input has no header row (the columns are --columns, or all of the table\'s)')
    .option('--columns <a,b,c>', 'the input columns to insert, in order (names taken literally)', nameList('--columns'))
    .option('--set <col=value>', 'one row: set a column (repeatable; sent as a parameter; "col=" is the empty string)', collect)
    .option('--null <col>', 'one row: set a column to NULL (repeatable)', collect)
    .addOption(new Option('--on-conflict <action>', 'on a unique conflict: skip the row, or update it').choices(['nothing', 'update']))
    .option('--conflict-key <a,b>', 'the unique columns that identify a row for --on-conflict', nameList('--conflict-key'))
    .option('--returning <cols>', "print these columns of the inserted rows ('*' for all)", (value: string) => (value === '*' ? '*' : nameList('--returning')(value)))
    .addOption(new Option('--output <format>', 'format of the --returning rows').choices([...OUTPUT_FORMATS]))
    .option('--dry-run', 'check the target and parse every row, but write nothing')
    .option('--commit-every <rows>', 'commit every N rows (a failure reports what was committed and where to resume)', parsePositiveInt('--commit-every'))
    .addOption(new Option('--on-error <action>', 'abort: all or nothing; skip: load the good rows, write the rejected ones to --reject-file').choices(['abort', 'skip']).default('abort'))
    .option('--reject-file <path>', 'where --on-error skip writes rejected rows (input format, with line and reason)')
    .option('--delimiter <char>', "csv/tsv field delimiter (\\t or tab for a tab); 'auto' picks , ; tab or | from the first line", character)
    .option('--quote <char>', 'csv quote character (default ")', character)
    .option('--escape <char>', 'csv escape character inside quotes (default: the quote)', character)
    .option('--encoding <name>', "csv/tsv input encoding, any PostgreSQL knows (LATIN1, WIN1252, …); the server converts (COPY's ENCODING)")
    .option('--resume', 'load the rest of an earlier --commit-every load of this input that failed or was killed (same command again)')
    .option('--load-id <name>', 'names a --commit-every load for --resume (default: the file name; stdin: "stdin")')
    .option('-j, --jobs <n>', 'load over N connections in parallel (all or nothing through two-phase commit, or per --commit-every batch); row order in the table is not kept', parsePositiveInt('--jobs'))
    .option('--null-string <text>', 'csv/tsv: the text that means NULL (COPY NULL; default: unquoted empty in csv, \\N in tsv)');
  addConnectionOptions(command).helpOption('--help', 'show help for insert');
  command.addHelpText('after', `
Values: an unquoted empty CSV field is NULL and "" the empty string (as COPY); in TSV (COPY text
format) \\N is NULL; in JSON null is NULL, and objects and arrays go to json/jsonb (or array)
columns. JSON objects may name different keys: a missing key is NULL, except in objects read
before the key first appeared, which get the column's DEFAULT. The server converts types.
Rejected rows in --reject-file carry two leading fields, line and reason (CSV/TSV), or
{"line", "reason", "record"} (JSON), in input order.

Exit codes: 0 ok, 1 bad usage or input, 2 cannot connect or the connection was lost, 3 the server rejected a row, 130 interrupted.

Examples:
  $ pgfactory insert users --set name=Ann --set age=31
  $ pgfactory insert users --file users.csv
  $ cat events.ndjson | pgfactory insert app.events --file - --format ndjson
  $ pgfactory insert users --file users.csv --on-conflict update --conflict-key id
  $ pgfactory insert '"My Schema"."Odd ""name"""' --file data.tsv --returning id --output csv
  $ pgfactory insert big --file big.csv --on-error skip --reject-file rejects.csv`);
  command.action(async (table: string, flags: InsertFlags) => {
    const { runInsert } = await import('../insert.js');
    const set: InsertOptions['set'] = (flags.set ?? []).map((entry) => {
      const at = entry.indexOf('=');
      if (at <= 0) throw new UsageError(`--set takes col=value, got "${entry}"`);
      return { column: entry.slice(0, at), value: entry.slice(at + 1) };
    });
    for (const column of flags.null ?? []) set.push({ column, value: null });
    if (flags.output !== undefined && flags.returning === undefined) throw new UsageError('--output formats the --returning rows: add --returning');
    const passed = Object.fromEntries(PASSED_FLAGS.map((key) => [key, flags[key]])) as Pick<InsertOptions, PassedFlags>;
    const options: InsertOptions = { ...passed, table, set, dryRun: flags.dryRun === true };
    const { checkInsertOptions } = await import('../insert.js');
    checkInsertOptions(options);
    let writer: import('../output/writer.js').ResultWriter | undefined;
    if (flags.returning !== undefined) {
      writer = createResultWriter(flags.output ?? 'table', io.stdout, io.stderr, { paintHeader: io.paint?.header });
    }
    let progress: Progress | undefined;
    const onEvent = (event: InsertEvent) => {
      if (event.type === 'start') progress = createProgress(io.stderr, event.totalBytes);
      else if (event.type === 'progress') progress?.update(event.rows, event.bytesRead);
      else io.stderr.write(`${event.message}\n`);
    };
    const summary = await withContext(flags, { mode: 'fresh' }, io, (context) =>
      runInsert(context.factory, options, {
        stdin: () => fs.createReadStream('', { fd: io.stdinFd, highWaterMark: 1 << 18, autoClose: false }),
        onEvent,
        writer,
        interrupted: () => context.interrupted(),
        onInterrupt: (listener) => context.onInterrupt(listener),
      })).finally(() => progress?.stop());
    io.stderr.write(`${formatInsertSummary(summary)}\n`);
  });
  return command;
}
