// `pgfactory bench`: options -> runBench -> the report on stdout (progress and errors on stderr).
import { Command, InvalidArgumentError, Option } from 'commander';
import { addConnectionOptions, withContext, type ConnectionFlags } from '../context.js';
import { UsageError } from '../errors.js';
import { parseNonNegativeNumber, parsePositiveInt, parsePositiveNumber, readSqlFile, sqlSourceName, type CommandIo } from './shared.js';

interface BenchFlags extends ConnectionFlags {
  mode: 'fresh' | 'pooled' | 'both';
  clients: number;
  jobs?: number;
  time?: number;
  transactions?: number;
  query?: string;
  file?: string;
  warmup: number;
  poolSize?: number;
  format: 'table' | 'json';
  progress?: number;
  maxErrorRate?: number;
}

const DEFAULT_SECONDS = 10;
const DEFAULT_SQL = 'SELECT 1';

function parseRate(value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < 0 || number > 1) throw new InvalidArgumentError(`--max-error-rate takes a fraction from 0 to 1, got "${value}"`);
  return number;
}

export function benchCommand(io: CommandIo): Command {
  const command = new Command('bench')
    .description('measure what opening a connection costs compared with reusing one (like pgbench -C vs pgbench)')
    .addOption(new Option('--mode <mode>', 'fresh: a new connection per operation (pgbench -C); pooled: reuse pooled connections; both: one after the other').choices(['fresh', 'pooled', 'both']).default('both'))
    .option('-c, --clients <n>', 'concurrent clients', parsePositiveInt('-c/--clients'), 1)
    .option('-j, --jobs <n>', 'threads to spread the clients over (default: clients, at most the CPU count; 1 = no worker threads)', parsePositiveInt('-j/--jobs'))
    .option('-T, --time <seconds>', `measure for this many seconds (default ${DEFAULT_SECONDS})`, parsePositiveNumber('-T/--time'))
    .option('-t, --transactions <n>', 'run exactly this many operations per client instead of -T', parsePositiveInt('-t/--transactions'))
    .option('--query <sql>', `the SQL each operation runs (default '${DEFAULT_SQL}')`)
    .option('-f, --file <path>', "read the SQL from a file ('-' for stdin)")
    .option('--warmup <seconds>', 'run unmeasured for this long first, in each mode', parseNonNegativeNumber('--warmup'), 0)
    .option('--pool-size <n>', 'pooled mode: connections in the pool (default: the client count)', parsePositiveInt('--pool-size'))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('--progress <seconds>', 'print a progress line on stderr every N seconds (like pgbench -P)', parsePositiveNumber('--progress'))
    .option('--max-error-rate <rate>', 'exit 3 when the failed fraction of operations in a mode exceeds this (0..1)', parseRate);
  addConnectionOptions(command).helpOption('--help', 'show help for bench');
  command.addHelpText('after', `
Operations that fail (connection or query errors) are counted, not fatal. Exit status: 0 ok,
1 bad usage, 2 server unreachable or no operation succeeded in a mode, 3 --max-error-rate exceeded.
ops/s counts successful operations; latencies are those of successful operations; in fresh mode an
operation's latency includes opening and closing its connection.

Examples:
  $ pgfactory bench --embedded
  $ pgfactory bench --mode pooled -c 4 -T 30 --progress 5
  $ pgfactory bench --mode fresh -t 1000 --query 'SELECT now()' --format json`);
  command.action(async (flags: BenchFlags) => {
    if (flags.time !== undefined && flags.transactions !== undefined) throw new UsageError('give either -T/--time or -t/--transactions, not both');
    const { sql, sqlSource } = readSql(flags, io);
    const { runBench, checkOutcome } = await import('../bench.js');
    const { benchJson, benchText } = await import('../bench/report.js');
    const options = {
      modes: flags.mode === 'both' ? (['fresh', 'pooled'] as const).slice() : [flags.mode],
      clients: flags.clients,
      jobs: flags.jobs,
      durationS: flags.transactions === undefined ? (flags.time ?? DEFAULT_SECONDS) : undefined,
      opsPerClient: flags.transactions,
      sql,
      sqlSource,
      warmupS: flags.warmup,
      poolSize: flags.poolSize,
      progressS: flags.progress,
    };
    const result = await withContext(flags, { mode: 'fresh' }, io, (context) =>
      runBench(context.factory, context.resolved.values, options, {
        onProgress: (line) => io.stderr.write(`${line}\n`),
        interrupted: context.interrupted,
      }));
    io.stdout.write(flags.format === 'json' ? `${JSON.stringify(benchJson(result), null, 2)}\n` : benchText(result, io.paint?.header));
    for (const mode of Object.values(result.modes)) {
      for (const [message, count] of mode.errorMessages) io.stderr.write(`${mode.mode}: ${count} x ${message}\n`);
    }
    checkOutcome(result, flags.maxErrorRate);
  });
  return command;
}

function readSql(flags: BenchFlags, io: CommandIo): { sql: string; sqlSource: string } {
  if (flags.query !== undefined && flags.file !== undefined) throw new UsageError('give the SQL either with --query or with -f/--file, not both');
  if (flags.file === undefined) {
    const sql = flags.query ?? DEFAULT_SQL;
    if (sql.trim() === '') throw new UsageError('--query is empty');
    return { sql, sqlSource: flags.query === undefined ? 'default' : 'query' };
  }
  const sql = readSqlFile(flags.file, io);
  if (sql.trim() === '') throw new UsageError(`no SQL in ${sqlSourceName(flags.file)}`);
  return { sql, sqlSource: flags.file };
}
