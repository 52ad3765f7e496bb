// `pgfactory query`: options -> runScript (psql's meta-commands and variables) -> a result writer on stdout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { addConnectionOptions, withContext, type ConnectionFlags } from '../context.js';
import { UsageError } from '../errors.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../output/writer.js';
import { collect, parseNonNegativeInt, sqlSourceName, type CommandIo } from './shared.js';

interface QueryFlags extends ConnectionFlags {
  file?: string;
  param?: string[];
  format: OutputFormat;
  null?: string;
  expanded?: boolean;
  singleTransaction?: boolean;
  timing?: boolean;
  statementTimeout?: number;
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
    .argument('[sql]', "SQL to run; several statements run in order; '-' reads stdin")
    .option('-f, --file <path>', "read the SQL from a file ('-' for stdin)")
    .option('--param <value>', 'a value bound to $1, $2 … (repeatable; sent as a parameter, never spliced)', collect)
    .addOption(new Option('--format <format>', 'output format').choices([...OUTPUT_FORMATS]).default('table'))
    .option('--null <string>', 'how NULL is shown in table/csv/tsv (default: empty; \\N in tsv)')
    .option('-x, --expanded', 'one record per block, like psql \\x')
    .option('-1, --single-transaction', 'run all statements in one transaction')
    .option('--timing', 'print the time each statement took on stderr')
    .option('-v, --set <name=value>', 'set a psql variable, used as :name, :\'name\' or :"name" (repeatable)', collectVariable)
    .option('-q, --quiet', 'print no command tags (CREATE TABLE, INSERT 0 1 …)')
    .option('--statement-timeout <ms>', 'cancel statements running longer than this (SET after connecting)', parseNonNegativeInt('--statement-timeout'));
  addConnectionOptions(command).helpOption('--help', 'show help for query');
  command.addHelpText('after', `
Examples:
  $ pgfactory query --embedded 'SELECT version()'
  $ pgfactory query -d mydb --format csv 'SELECT * FROM users WHERE id = $1' --param 42
  $ pgfactory query -f migrate.sql --single-transaction`);
  command.action(async (sqlArgument: string | undefined, flags: QueryFlags) => {
    const input = await scriptInput(sqlArgument, flags.file, io);
    try {
      const { createResultWriter } = await import('../output/writer.js');
      const { runScript } = await import('../psql/script.js');
      await withContext(flags, { mode: 'fresh', statementTimeoutMs: flags.statementTimeout }, io, async (context) => {
        const { createConnectionFactory } = await import('../factory.js');
        return runScript(context.factory, {
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
          makeWriter: (format, nullString) => createResultWriter(format, io.stdout, io.stderr, { nullString, expanded: flags.expanded, paintHeader: io.paint?.header }),
          onTiming: (ms) => io.stderr.write(`Time: ${ms.toFixed(3)} ms\n`),
          onNotice: (text) => io.stderr.write(`${text}\n`),
          reconnect: (changes) => {
            const base = context.factory.settings;
            const settings = { ...base };
            // The password is kept non-enumerable (never printed), so a spread leaves it behind.
            Object.defineProperty(settings, 'password', { value: base.password, enumerable: false, writable: true, configurable: true });
            for (const [key, value] of Object.entries(changes)) if (value !== undefined) Object.assign(settings, { [key]: value });
            return createConnectionFactory(settings, { mode: 'fresh', statementTimeoutMs: flags.statementTimeout });
          },
        });
      });
    } finally {
      input.cleanUp();
    }
  });
  return command;
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
    return { source: { kind: 'file', path: from }, cleanUp: () => undefined };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-stdin-'));
  const spooled = path.join(dir, 'stdin.sql');
  const cleanUp = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    await pipeline(fs.createReadStream('', { fd: io.stdinFd, autoClose: false }), fs.createWriteStream(spooled));
  } catch (error) {
    cleanUp();
    throw new UsageError(`cannot read SQL from stdin: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return { source: { kind: 'file', path: spooled, name: '-' }, cleanUp };
}
