// Running a parsed script on a connection, as one bench operation: `\set` evaluates, `\sleep`
// waits, SQL goes out in the chosen protocol. Simple mode sends a Query message through the
// skipping query (rows stepped over unparsed, as pgbench never reads them); extended and prepared
// modes go through pg with $n parameters (prepared statements named per script command, prepared
// once per connection by pg). A failure leaves no open transaction on a pooled connection.
//
// An operation is one promise, not one per command: each statement's end runs the commands up to
// the next statement and sends it from inside pg's ReadyForQuery handler, so the gap between two
// statements is the script's own work, with no promise jobs or async frames in it.
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { CommandTotal } from '../runner.js';
import { queryMessage, queryMessageBuffer, SkippingQuery, type ResultPaths, type StatementDone } from '../skipping-query.js';
import { evaluate, lookupVariable, ScriptRuntimeError, valueToText, type EvalContext, type VariableValue } from './evaluate.js';
import { PgPrng, randomUniform } from './random.js';
import type { ParsedScript, QueryMode, SqlCommand } from './script.js';

/** Variables every client starts with, besides its own :client_id. */
export interface ScriptVariables {
  /** -D name=value, as given (strings, read as numbers when an expression uses them). */
  defines: Array<[string, string]>;
  scale: number;
  /** The run's seed (decimal int64). */
  seed: string;
}

/**
 * A simple-mode statement as a Query message: built once when it has no variables, else its
 * literal pieces kept as bytes and each variable's text written between them per use.
 */
class QueryTemplate {
  private readonly fixed: Buffer | undefined;
  private readonly pieces: Buffer[];
  private readonly pieceBytes: number;
  // Scratch for one build (the values' texts), reused: a build runs start to end without yielding.
  private readonly texts: string[];

  constructor(private readonly command: SqlCommand) {
    this.fixed = command.names.length === 0 ? queryMessage(command.text) : undefined;
    this.pieces = command.pieces.map((piece) => Buffer.from(piece));
    this.pieceBytes = this.pieces.reduce((sum, piece) => sum + piece.length, 0);
    this.texts = command.names.map(() => '');
  }

  message(variables: Map<string, VariableValue>): Buffer {
    if (this.fixed !== undefined) return this.fixed;
    const { names } = this.command;
    const { pieces, texts } = this;
    let bytes = this.pieceBytes;
    for (let index = 0; index < names.length; index += 1) {
      const value = variables.get(names[index]);
      // An unknown :name stays as written, as in pgbench.
      const text = value === undefined ? `:${names[index]}` : valueToText(value);
      texts[index] = text;
      // Numbers, booleans and NULL print as ASCII; a -D string or a name may not.
      bytes += value === undefined || typeof value === 'string' ? Buffer.byteLength(text) : text.length;
    }
    const message = queryMessageBuffer(bytes);
    let offset = 5;
    for (let index = 0; index < names.length; index += 1) {
      message.set(pieces[index], offset);
      offset += pieces[index].length;
      offset += message.write(texts[index], offset, 'utf8');
    }
    message.set(pieces[names.length], offset);
    return message;
  }
}

/** The failures pgbench tries again (--max-tries) and counts apart (--failures-detailed): SQLSTATE 40001 and 40P01. */
export function retryableFailure(error: unknown): 'serialization' | 'deadlock' | undefined {
  const sqlstate = (error as { code?: unknown }).code;
  return sqlstate === '40001' ? 'serialization' : sqlstate === '40P01' ? 'deadlock' : undefined;
}

/** One client's state: its variables and random sequence, kept across its operations. */
export class ScriptClient {
  readonly context: EvalContext;
  /** Set once the measured phase starts, with --report-per-command: where each command's time goes. */
  commandTotals: CommandTotal[][] | undefined;
  /** The command the last failed operation failed at (index in its script; -1: none), for its totals. */
  failedCommand = -1;
  // Per script (by index), per command: the simple-mode Query template of each SQL command.
  private readonly templates: Array<Array<QueryTemplate | undefined>> = [];
  // --max-tries: the random state at the start of the operation being tried.
  private savedRandom: Float64Array | undefined;

  constructor(
    readonly clientId: number,
    variables: ScriptVariables,
    private readonly queryMode: QueryMode,
    private readonly resultPaths: ResultPaths,
  ) {
    const seed = BigInt(variables.seed);
    const map = new Map<string, VariableValue>();
    map.set('scale', BigInt(variables.scale));
    map.set('client_id', BigInt(clientId));
    map.set('random_seed', seed);
    map.set('default_seed', BigInt.asIntN(64, new PgPrng(seed).uint64()));
    // -D comes last: pgbench lets it override :scale and :default_seed.
    for (const [name, value] of variables.defines) map.set(name, value);
    this.context = {
      variables: map,
      prng: new PgPrng(seed ^ BigInt(clientId + 1) * 0x9e3779b97f4a7c15n),
      // pgbench's debug() writes to stderr, as here (from a worker thread too).
      debug: (line) => process.stderr.write(`debug(client=${clientId}): ${line}\n`),
    };
  }

  /**
   * Runs `script` on `client`, again after a serialization failure or deadlock (SQLSTATE 40001,
   * 40P01) with the same random numbers, as pgbench --max-tries does: up to `maxTries` tries in
   * all (0: no limit), while `withinLimit()` says the operation is not already too late.
   * Rejects with the last error; `onRetry` hears of every retry, with the command that failed.
   */
  runWithRetries(client: pg.Client, script: ParsedScript, scriptIndex: number, maxTries: number, withinLimit: () => boolean, onRetry: (failedCommand: number) => void): Promise<void> {
    // No async frame on the common path: bench runs this tens of thousands of times a second.
    if (maxTries === 1) return this.run(client, script, scriptIndex);
    return this.retrying(client, script, scriptIndex, maxTries, withinLimit, onRetry);
  }

  private async retrying(client: pg.Client, script: ParsedScript, scriptIndex: number, maxTries: number, withinLimit: () => boolean, onRetry: (failedCommand: number) => void): Promise<void> {
    const saved = (this.savedRandom ??= new Float64Array(4));
    this.context.prng.save(saved);
    for (let tries = 1; ; tries += 1) {
      try {
        await this.run(client, script, scriptIndex);
        return;
      } catch (error) {
        if (retryableFailure(error) === undefined || tries === maxTries || !withinLimit()) throw error;
        onRetry(this.failedCommand);
        this.context.prng.restore(saved);
      }
    }
  }

  /** Runs every command of `script`; rejects with the first error (server or script). */
  run(client: pg.Client, script: ParsedScript, scriptIndex: number): Promise<void> {
    const templates = (this.templates[scriptIndex] ??= script.commands.map((command) => (command.type === 'sql' && this.queryMode === 'simple' ? new QueryTemplate(command) : undefined)));
    return new Promise((resolve, reject) => new ScriptRun(this, client, script, scriptIndex, templates, resolve, reject).step());
  }

  /** Sends command `commandIndex` of script `scriptIndex`; `done` is called once when it ends. */
  send(client: pg.Client, command: SqlCommand, template: QueryTemplate | undefined, scriptIndex: number, commandIndex: number, done: StatementDone): void {
    const variables = this.context.variables;
    if (template !== undefined) {
      client.query(new SkippingQuery(template.message(variables), done, this.resultPaths));
      return;
    }
    // pgbench sends an undefined variable as a NULL parameter.
    const values = command.names.map((variable) => {
      const value = variables.get(variable);
      return value === undefined ? null : valueToText(value);
    });
    // queryMode 'extended': pg would use the simple protocol for a statement without parameters.
    const query = { text: command.parameterized, values, rowMode: 'array', queryMode: 'extended', name: this.queryMode === 'prepared' ? `P${scriptIndex}_${commandIndex}` : undefined };
    client.query(query as pg.QueryConfig).then(() => done(), done);
  }
}

/** One operation: steps through a script's commands on one connection, then settles once. */
class ScriptRun {
  private next = 0;
  private settled = false;
  // --report-per-command: this script's totals, and when the running command began.
  private readonly totals: CommandTotal[] | undefined;
  private commandStart = 0;
  // Bound once per operation: every statement of it reports here.
  private readonly statementDone: StatementDone = (error) => {
    if (this.settled) return;
    if (error !== undefined) {
      this.fail(error);
      return;
    }
    this.commandEnded();
    this.step();
  };

  constructor(
    private readonly owner: ScriptClient,
    private readonly client: pg.Client,
    private readonly script: ParsedScript,
    private readonly scriptIndex: number,
    private readonly templates: Array<QueryTemplate | undefined>,
    private readonly resolve: () => void,
    private readonly reject: (error: unknown) => void,
  ) {
    this.totals = owner.commandTotals?.[scriptIndex];
  }

  /** The command just run (the one before `next`) succeeded: its time goes to its total. */
  private commandEnded(): void {
    if (this.totals === undefined) return;
    const total = this.totals[this.next - 1];
    total.count += 1;
    total.sumMs += performance.now() - this.commandStart;
  }

  /** Runs commands up to the next statement (sent, to resume at its end) or a sleep, or to the end. */
  step(): void {
    const { commands } = this.script;
    const context = this.owner.context;
    try {
      while (this.next < commands.length) {
        const index = this.next;
        const command = commands[index];
        this.next += 1;
        if (this.totals !== undefined) this.commandStart = performance.now();
        if (command.type === 'set') {
          context.variables.set(command.variable, evaluate(command.expr, context));
          this.commandEnded();
        } else if (command.type === 'sleep') {
          const amount = typeof command.amount === 'bigint' ? command.amount : sleepAmount(context, command.amount.variable);
          setTimeout(() => {
            this.commandEnded();
            this.step();
          }, (Number(amount) * command.unitUs) / 1000);
          return;
        } else {
          this.owner.send(this.client, command, this.templates[index], this.scriptIndex, index, this.statementDone);
          return;
        }
      }
    } catch (error) {
      // Only \set and \sleep raise script errors: name the line of the command that ran last.
      const line = commands[this.next - 1].line;
      this.fail(error instanceof ScriptRuntimeError ? new ScriptRuntimeError(`${this.script.name}, line ${line}: ${error.message}`) : error);
      return;
    }
    this.settled = true;
    this.resolve();
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.owner.failedCommand = this.next - 1;
    // A script that failed inside BEGIN … END must not hand an aborted transaction back to the pool.
    if (this.client.getTransactionStatus() !== 'I') {
      this.client.query('ROLLBACK').then(() => this.reject(error), () => this.reject(error));
      return;
    }
    this.reject(error);
  }
}

function sleepAmount(context: EvalContext, variable: string): bigint {
  const value = lookupVariable(context, variable);
  if (typeof value !== 'bigint') throw new ScriptRuntimeError(`\\sleep: invalid sleep time, must be an integer (variable "${variable}")`);
  return value;
}

/** pgbench's chooseScript: a weighted draw over the scripts. */
export class ScriptChooser {
  private readonly total: bigint;
  constructor(private readonly scripts: ParsedScript[], private readonly prng: PgPrng) {
    this.total = BigInt(scripts.reduce((sum, script) => sum + script.weight, 0));
  }

  choose(): number {
    if (this.scripts.length === 1) return 0;
    let draw = randomUniform(this.prng, 0n, this.total - 1n);
    let index = 0;
    do draw -= BigInt(this.scripts[index++].weight);
    while (draw >= 0n);
    return index - 1;
  }
}
