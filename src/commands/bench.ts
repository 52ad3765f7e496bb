// `pgfactory bench`: options -> runBench -> the report on stdout (progress and errors on stderr);
// `pgfactory bench merge FILE…`: JSON results of several client machines -> one report;
// `pgfactory bench init`: pgbench -i's tables (step lines on stderr, pgbench's summary on stdout).
import fs from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { addConnectionOptions, resolveCommandSettings, withContext, type ConnectionFlags } from '../context.js';
import { UsageError } from '../errors.js';
import { collect, parseNonNegativeInt, parseNonNegativeNumber, parsePositiveInt, parsePositiveNumber, readSqlFile, sqlSourceName, type CommandIo } from './shared.js';
import type { BenchOptions, BenchTarget } from '../bench.js';
import type { ScriptSource } from '../bench/script/script.js';

interface BenchFlags extends ConnectionFlags {
  mode: 'fresh' | 'pooled' | 'both';
  connect?: boolean;
  vacuum: boolean;
  clients: number;
  jobs?: number;
  time?: number;
  transactions?: number;
  query?: string;
  file?: string[];
  builtin?: string[];
  selectOnly?: boolean;
  skipSomeUpdates?: boolean;
  showScript?: string;
  define?: string[];
  protocol: 'simple' | 'extended' | 'prepared';
  scale?: number;
  randomSeed?: string;
  warmup: number;
  poolSize?: number;
  format: 'table' | 'json';
  progress?: number;
  log?: string;
  rate?: number;
  latencyLimit?: number;
  reportPerCommand?: boolean;
  maxTries?: number;
  failuresDetailed?: boolean;
  transactionLog?: boolean;
  logPrefix?: string;
  samplingRate?: number;
  aggregateInterval?: number;
  target?: string[];
  maxErrorRate?: number;
  baseline?: string;
  maxRegression?: number;
}

const DEFAULT_SECONDS = 10;
const DEFAULT_SQL = 'SELECT 1';

/** A fraction option: from 0 (or above 0) to 1. */
function parseFraction(option: string, aboveZero: boolean): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number) || number < 0 || (aboveZero && number === 0) || number > 1) {
      throw new InvalidArgumentError(`${option} takes a fraction ${aboveZero ? 'above 0, at most 1' : 'from 0 to 1'}, got "${value}"`);
    }
    return number;
  };
}

function parseSeed(value: string): string {
  if (!/^-?\d+$/.test(value) || BigInt(value) < -(2n ** 63n) || BigInt(value) >= 2n ** 64n) throw new InvalidArgumentError(`--random-seed takes a 64-bit integer, got "${value}"`);
  return BigInt.asIntN(64, BigInt(value)).toString();
}

export function benchCommand(io: CommandIo): Command {
  const command = new Command('bench')
    .description('measure what opening a connection costs compared with reusing one, under a pgbench workload (like pgbench -C vs pgbench)')
    .addOption(new Option('--mode <mode>', 'fresh: a new connection per operation (pgbench -C); pooled: reuse pooled connections; both: one after the other').choices(['fresh', 'pooled', 'both']).default('both'))
    .option('-C, --connect', 'a new connection per operation, as pgbench -C: --mode fresh')
    .option('-n, --no-vacuum', "as pgbench's -n: bench never vacuums the tables before a run; bench init skips its vacuum step")
    .option('-c, --clients <n>', 'concurrent clients', parsePositiveInt('-c/--clients'), 1)
    .option('-j, --jobs <n>', 'threads to spread the clients over (default: clients, at most the CPU count; 1 = no worker threads)', parsePositiveInt('-j/--jobs'))
    .option('-T, --time <seconds>', `measure for this many seconds (default ${DEFAULT_SECONDS})`, parsePositiveNumber('-T/--time'))
    .option('-t, --transactions <n>', 'run exactly this many operations per client instead of -T', parsePositiveInt('-t/--transactions'))
    .option('--query <sql>', `the script each operation runs, given inline (default '${DEFAULT_SQL}')`)
    .option('-f, --file <path[@weight]>', "a pgbench script file ('-' for stdin); repeatable, each operation picks one by weight", collect)
    .option('-b, --builtin <name[@weight]>', "pgbench's built-in script: tpcb-like, simple-update or select-only (a unique prefix will do); repeatable", collect)
    .option('-S, --select-only', 'the select-only built-in (as pgbench -S: -b select-only)')
    .option('-N, --skip-some-updates', 'the simple-update built-in (as pgbench -N: -b simple-update)')
    .option('--show-script <name>', "print a built-in script's text and exit")
    .option('-D, --define <name=value>', 'set a script variable; repeatable', collect)
    .addOption(new Option('-M, --protocol <mode>', 'how SQL is sent: simple, extended (with $n parameters) or prepared').choices(['simple', 'extended', 'prepared']).default('simple'))
    .option('-s, --scale <n>', ':scale for custom scripts (built-ins count pgbench_branches, as pgbench); for bench init, the scale factor', parsePositiveInt('-s/--scale'))
    .option('--random-seed <n>', "seed of the scripts' random functions and :default_seed (default: random)", parseSeed)
    .option('--warmup <seconds>', 'run unmeasured for this long first, in each mode', parseNonNegativeNumber('--warmup'), 0)
    .option('--pool-size <n>', 'pooled mode: connections in the pool (default: the client count)', parsePositiveInt('--pool-size'))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('-P, --progress <seconds>', 'report every N seconds: a line on stderr (like pgbench -P) and the intervals in the JSON', parsePositiveNumber('--progress'))
    .option('--log <file>', 'with --progress: write each interval to FILE as a JSON line while the run goes')
    .option('-R, --rate <ops/s>', 'schedule operations as a Poisson process at this total rate (pgbench -R); latency counts from the scheduled start', parsePositiveNumber('-R/--rate'))
    .option('-r, --report-per-command', "report each script command's average latency and failures after the run (pgbench -r)")
    .option('--max-tries <n>', 'try an operation that hit a serialization failure or deadlock again, with the same random values, up to N tries in all (0: no limit, with -T or -L; default 1)', parseNonNegativeInt('--max-tries'))
    .option('--failures-detailed', 'count serialization failures and deadlocks apart, in the report and the transaction log')
    .option('-l, --transaction-log', "write pgbench's per-transaction log: a line per operation in pgbench_log.PID (one file per thread: .PID.N)")
    .option('--log-prefix <prefix>', 'with -l: the log files\' name before .PID (default pgbench_log)')
    .option('--sampling-rate <rate>', 'with -l: log this fraction of the operations, drawn at random (0..1)', parseFraction('--sampling-rate', true))
    .option('--aggregate-interval <seconds>', 'with -l: a line per interval of this many seconds instead of one per operation (pgbench\'s aggregate format)', parsePositiveInt('--aggregate-interval'))
    .option('-L, --latency-limit <ms>', 'count operations slower than this; with --rate, skip those that would start later than this', parsePositiveNumber('-L/--latency-limit'))
    .option('--target <name=dsn>', 'run against this server instead of the connection options; repeatable: the targets side by side, keyed by name', collect)
    .option('--max-error-rate <rate>', 'exit 3 when the failed fraction of operations in a mode exceeds this (0..1)', parseFraction('--max-error-rate', false))
    .option('--baseline <file>', 'compare with an earlier --format json result (see --max-regression)')
    .option('--max-regression <pct>', 'with --baseline: exit 3 when ops/s fell or p99 latency rose by more than PCT percent', parseNonNegativeNumber('--max-regression'));
  addConnectionOptions(command).helpOption('--help', 'show help for bench');
  command.addHelpText('after', `
Operations that fail (connection, query or script errors) are counted, not fatal. Exit status: 0 ok,
1 bad usage or a bad script, 2 server unreachable or no operation succeeded in a mode, 3
--max-error-rate exceeded or --baseline regression. ops/s counts successful operations; latencies
are those of successful operations; in fresh mode an operation's latency includes opening and
closing its connection. An operation is one run of a script (all its statements).

Examples:
  $ pgfactory bench --embedded
  $ pgfactory bench --mode pooled -c 4 -T 30 --progress 5
  $ pgfactory bench -b tpcb-like --mode pooled -c 4 -M prepared
  $ pgfactory bench -f write.sql@1 -f read.sql@9 -D accounts=100000 --rate 500 -L 50
  $ pgfactory bench --target direct=postgres://db:5432/app --target bouncer=postgres://db:6432/app
  $ pgfactory bench init -s 10 && pgfactory bench -b tpcb-like -c 4 -r
  $ pgfactory bench merge host1.json host2.json`);
  command.addCommand(mergeCommand(io));
  command.addCommand(initCommand(io));
  command.action(async (flags: BenchFlags) => {
    if (flags.showScript !== undefined) {
      const { builtinScript } = await import('../bench/script/script.js');
      io.stdout.write(builtinScript(flags.showScript, '--show-script').text);
      return;
    }
    if (flags.time !== undefined && flags.transactions !== undefined) throw new UsageError('give either -T/--time or -t/--transactions, not both');
    if (flags.connect === true && command.getOptionValueSource('mode') === 'cli' && flags.mode !== 'fresh') throw new UsageError(`-C/--connect is --mode fresh: it cannot go with --mode ${flags.mode}`);
    checkTransactionLog(flags);
    if (flags.log !== undefined && flags.progress === undefined) throw new UsageError('--log writes the --progress intervals: give --progress too');
    if ((flags.baseline === undefined) !== (flags.maxRegression === undefined)) throw new UsageError('--baseline and --max-regression go together');
    // As pgbench: unlimited tries only where something else ends the operation or the run.
    if (flags.maxTries === 0 && flags.latencyLimit === undefined && flags.transactions !== undefined) throw new UsageError('--max-tries 0 (no limit) needs -T/--time or -L/--latency-limit');
    const scripts = await readScripts(flags, io);
    const { parseScript } = await import('../bench/script/script.js');
    // Every script is checked before anything connects or runs.
    for (const script of scripts) parseScript(script);
    const baseline = flags.baseline !== undefined ? readJsonFile(flags.baseline) : undefined;
    // A baseline that is not a result fails now, not after the run.
    if (baseline !== undefined) (await import('../bench/merge.js')).readRunDoc(baseline, flags.baseline!);
    const { runBench, checkOutcome, progressLine } = await import('../bench.js');
    const { benchJson, benchText, intervalJson } = await import('../bench/report.js');
    const options: BenchOptions = {
      modes: flags.connect === true ? ['fresh'] : flags.mode === 'both' ? ['fresh', 'pooled'] : [flags.mode],
      clients: flags.clients,
      jobs: flags.jobs,
      durationS: flags.transactions === undefined ? (flags.time ?? DEFAULT_SECONDS) : undefined,
      opsPerClient: flags.transactions,
      scripts,
      queryMode: flags.protocol,
      defines: (flags.define ?? []).map(parseDefine),
      scale: flags.scale,
      randomSeed: flags.randomSeed,
      warmupS: flags.warmup,
      poolSize: flags.poolSize,
      progressS: flags.progress,
      rate: flags.rate,
      latencyLimitMs: flags.latencyLimit,
      reportPerCommand: flags.reportPerCommand === true,
      maxTries: flags.maxTries,
      failuresDetailed: flags.failuresDetailed === true,
      ...(flags.transactionLog === true ? { transactionLog: { prefix: flags.logPrefix ?? 'pgbench_log', samplingRate: flags.samplingRate ?? 1, aggregateS: flags.aggregateInterval ?? 0 } } : {}),
    };
    const log = flags.log !== undefined ? openLog(flags.log) : undefined;
    const result = await withContext(flags, { mode: 'fresh' }, io, async (context) => {
      const targets = flags.target === undefined
        ? [{ name: '', settings: context.resolved.values, probe: context.factory }]
        : await resolveTargets(flags, io);
      try {
        return await runBench(targets, options, {
          onInterval: (target, mode, interval) => {
            io.stderr.write(`${progressLine(target === '' ? mode : `${target} ${mode}`, interval, options.rate !== undefined)}\n`);
            if (log !== undefined) fs.writeSync(log, `${JSON.stringify({ ...(target === '' ? {} : { target }), mode, ...intervalJson(interval) })}\n`);
          },
          interrupted: context.interrupted,
        });
      } finally {
        if (flags.target !== undefined) await Promise.all(targets.map((target) => target.probe.close()));
        if (log !== undefined) fs.closeSync(log);
      }
    });
    const json = benchJson(result);
    io.stdout.write(flags.format === 'json' ? `${JSON.stringify(json, null, 2)}\n` : benchText(result, io.paint?.header));
    for (const target of result.targets) {
      for (const mode of Object.values(target.modes)) {
        for (const [message, count] of mode.errorMessages) io.stderr.write(`${target.name === '' ? '' : `${target.name} `}${mode.mode}: ${count} x ${message}\n`);
      }
    }
    checkOutcome(result, flags.maxErrorRate);
    if (baseline !== undefined) {
      const { checkRegression } = await import('../bench/merge.js');
      checkRegression(baseline, json, flags.maxRegression!, flags.baseline!);
    }
  });
  return command;
}

function mergeCommand(io: CommandIo): Command {
  return new Command('merge')
    .description('combine the --format json results of runs on several client machines into one report')
    .argument('<files...>', 'bench --format json results of the same workload')
    .helpOption('--help', 'show help for bench merge')
    .addHelpText('after', `
--format table|json chooses the output, as for bench. Operations are summed, ops/s added up
(the runs went side by side), percentiles come from the merged HDR histograms. Results of different workloads or settings are refused, naming the
difference (exit 1).`)
    // bench's own --format: commander hands an option given after "merge" to the parent command.
    .action(async (files: string[], _flags: unknown, merge: Command) => {
      const flags = merge.parent!.opts<{ format: 'table' | 'json' }>();
      const { mergeResults } = await import('../bench/merge.js');
      const { benchJson, benchText } = await import('../bench/report.js');
      const docs = files.map((file) => ({ file, json: readJsonFile(file) }));
      const merged = mergeResults(docs);
      io.stdout.write(flags.format === 'json' ? `${JSON.stringify(benchJson(merged), null, 2)}\n` : benchText(merged, io.paint?.header));
    });
}

interface InitFlags {
  fillfactor: number;
  initSteps?: string;
  foreignKeys?: boolean;
  unloggedTables?: boolean;
  partitions: number;
  partitionMethod?: 'range' | 'hash';
  quiet?: boolean;
}

function initCommand(io: CommandIo): Command {
  return new Command('init')
    .description("create and fill pgbench's tables for the built-in scripts (pgbench -i)")
    .option('-F, --fillfactor <n>', 'fillfactor of pgbench_accounts, _tellers and _branches (10-100)', parseFillfactor, 100)
    .option('-I, --init-steps <steps>', 'the steps, in order: d drop, t create tables, g generate data client-side, G server-side, v vacuum, p primary keys, f foreign keys (default dtgvp)')
    .option('--foreign-keys', 'also create foreign keys between the tables (step f)')
    .option('--unlogged-tables', 'create the tables as unlogged tables')
    .option('--partitions <n>', 'partition pgbench_accounts into N partitions', parseNonNegativeInt('--partitions'), 0)
    .addOption(new Option('--partition-method <method>', 'with --partitions: how the accounts are split (default range)').choices(['range', 'hash']))
    .option('-q, --quiet', 'report the data generation every 5 s instead of every 100,000 rows')
    .helpOption('--help', 'show help for bench init')
    .addHelpText('after', `
-s/--scale N (bench's option) sets the scale factor: N branches, 10 N tellers, 100,000 N accounts
(default 1). The tables are pgbench 15's, created in the first schema of the search_path. The
steps go to stderr; the last line (on stdout) is pgbench's "done in … s (…)". Exit 1 for a bad
option, 2 when the server cannot be reached, 3 when a step fails (what was done stays done).

Examples:
  $ pgfactory bench init -s 10 --embedded
  $ pgfactory bench init -s 100 -I dtGvp --foreign-keys`)
    .action(async (initFlags: InitFlags, init: Command) => {
      const flags = init.parent!.opts<BenchFlags>();
      if (initFlags.partitionMethod !== undefined && initFlags.partitions === 0) throw new UsageError('--partition-method needs --partitions N (N >= 1)');
      const { initSteps, initTables, initSummary } = await import('../bench/init.js');
      const options = {
        scale: flags.scale ?? 1,
        fillfactor: initFlags.fillfactor,
        steps: initSteps(initFlags.initSteps, initFlags.foreignKeys === true, flags.vacuum),
        unlogged: initFlags.unloggedTables === true,
        partitions: initFlags.partitions,
        partitionMethod: initFlags.partitionMethod ?? 'range',
        quiet: initFlags.quiet === true,
      };
      const result = await withContext(flags, { mode: 'fresh' }, io, (context) => context.factory.withConnection((client) => initTables(client, options, (line) => io.stderr.write(`${line}\n`))));
      io.stdout.write(`${initSummary(result)}\n`);
    });
}

function parseFillfactor(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 10 || Number(text) > 100) throw new InvalidArgumentError(`-F/--fillfactor takes a whole number from 10 to 100, got "${text}"`);
  return Number(text);
}

/** pgbench's own rules for -l and its companions. */
function checkTransactionLog(flags: BenchFlags): void {
  if (flags.transactionLog !== true) {
    for (const [given, name] of [[flags.logPrefix, '--log-prefix'], [flags.samplingRate, '--sampling-rate'], [flags.aggregateInterval, '--aggregate-interval']] as const) {
      if (given !== undefined) throw new UsageError(`${name} goes with -l/--transaction-log`);
    }
    return;
  }
  if (flags.samplingRate !== undefined && flags.aggregateInterval !== undefined) throw new UsageError('--sampling-rate and --aggregate-interval cannot be used together (as in pgbench)');
  const seconds = flags.transactions === undefined ? (flags.time ?? DEFAULT_SECONDS) : undefined;
  if (flags.aggregateInterval !== undefined && seconds !== undefined && (flags.aggregateInterval > seconds || seconds % flags.aggregateInterval !== 0)) {
    throw new UsageError(`--aggregate-interval ${flags.aggregateInterval} must divide the run's ${seconds} s (-T) evenly, as in pgbench`);
  }
  if (flags.logPrefix === '') throw new UsageError('--log-prefix is empty');
}

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read "${file}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`"${file}" is not a bench --format json result: ${(error as Error).message}`);
  }
}

function openLog(file: string): number {
  try {
    return fs.openSync(file, 'w');
  } catch (error) {
    throw new UsageError(`--log: cannot write "${file}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function parseDefine(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`-D/--define takes name=value, got "${text}"`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

async function resolveTargets(flags: BenchFlags, io: CommandIo): Promise<BenchTarget[]> {
  const { createConnectionFactory } = await import('../factory.js');
  const seen = new Set<string>();
  const targets: BenchTarget[] = [];
  for (const spec of flags.target!) {
    const eq = spec.indexOf('=');
    const name = eq === -1 ? '' : spec.slice(0, eq);
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new UsageError(`--target takes NAME=DSN with a name of letters, digits, "_", "." or "-", got "${spec.split('=')[0]}"`);
    if (seen.has(name)) throw new UsageError(`--target: the name "${name}" is given twice`);
    seen.add(name);
    const resolved = await resolveCommandSettings({ dbname: spec.slice(eq + 1), envFile: flags.envFile, sslmode: flags.sslmode, connectTimeout: flags.connectTimeout }, io);
    targets.push({ name, settings: resolved.values, probe: createConnectionFactory(resolved.values, { mode: 'fresh' }) });
  }
  return targets;
}

async function readScripts(flags: BenchFlags, io: CommandIo): Promise<ScriptSource[]> {
  const { builtinScript, splitWeight } = await import('../bench/script/script.js');
  const files = flags.file ?? [];
  const builtins = [...(flags.builtin ?? []), ...(flags.selectOnly === true ? ['select-only'] : []), ...(flags.skipSomeUpdates === true ? ['simple-update'] : [])];
  if (flags.query !== undefined && (files.length > 0 || builtins.length > 0)) throw new UsageError('give the workload either with --query or with -f/-b/-S/-N, not both');
  const scripts: ScriptSource[] = [];
  if (files.length === 0 && builtins.length === 0) {
    const text = flags.query ?? DEFAULT_SQL;
    if (text.trim() === '') throw new UsageError('--query is empty');
    return [{ name: flags.query === undefined ? 'default' : 'query', text, weight: 1, builtin: false }];
  }
  for (const spec of files) {
    const { name, weight } = splitWeight(spec, '-f/--file');
    const text = readSqlFile(name, io);
    if (text.trim() === '') throw new UsageError(`no SQL in ${sqlSourceName(name)}`);
    scripts.push({ name: name === '-' ? 'stdin' : name, text, weight, builtin: false });
  }
  for (const spec of builtins) scripts.push(builtinScript(spec));
  if (scripts.every((script) => script.weight === 0)) throw new UsageError('every script has weight 0: give one a weight above 0');
  return scripts;
}
