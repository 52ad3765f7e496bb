// Running a parsed script on a connection, as one bench operation: `\set` evaluates, `\sleep`
// waits, SQL goes out in the chosen protocol. Simple mode sends a Query message through the
// skipping query (rows stepped over unparsed, as pgbench never reads them); extended and prepared
// modes go through pg with $n parameters (prepared statements named per script command, prepared
// once per connection by pg). A failure leaves no open transaction on a pooled connection.
import type pg from 'pg';
import { queryMessage, SkippingQuery, type ResultPaths } from '../skipping-query.js';
import { evaluate, lookupVariable, ScriptRuntimeError, valueToText, type EvalContext, type VariableValue } from './evaluate.js';
import { PgPrng, randomUniform } from './random.js';
import type { ParsedScript, QueryMode, SqlCommand } from './script.js';

function runSkipping(client: pg.Client, text: string, message: Buffer, paths: ResultPaths): Promise<void> {
  return new Promise((resolve, reject) => {
    client.query(new SkippingQuery(text, message, resolve, reject, paths));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Variables every client starts with, besides its own :client_id. */
export interface ScriptVariables {
  /** -D name=value, as given (strings, read as numbers when an expression uses them). */
  defines: Array<[string, string]>;
  scale: number;
  /** The run's seed (decimal int64). */
  seed: string;
}

/** One client's state: its variables and random sequence, kept across its operations. */
export class ScriptClient {
  private readonly context: EvalContext;
  // Simple-mode Query messages of SQL without variables, built once.
  private readonly staticMessages = new Map<SqlCommand, Buffer>();

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

  /** Runs every command of `script`; throws the first error (server or script). */
  async run(client: pg.Client, script: ParsedScript, scriptIndex: number): Promise<void> {
    try {
      for (let index = 0; index < script.commands.length; index += 1) {
        const command = script.commands[index];
        if (command.type === 'sql') await this.sql(client, command, scriptIndex, index);
        else if (command.type === 'set') this.withLine(script, command.line, () => this.context.variables.set(command.variable, evaluate(command.expr, this.context)));
        else {
          const amount = typeof command.amount === 'bigint' ? command.amount : this.withLine(script, command.line, () => sleepAmount(this.context, (command.amount as { variable: string }).variable));
          await sleep((Number(amount) * command.unitUs) / 1000);
        }
      }
    } catch (error) {
      // A script that failed inside BEGIN … END must not hand an aborted transaction back to the pool.
      if (client.getTransactionStatus() !== 'I') await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private withLine<T>(script: ParsedScript, line: number, work: () => T): T {
    try {
      return work();
    } catch (error) {
      if (error instanceof ScriptRuntimeError) throw new ScriptRuntimeError(`${script.name}, line ${line}: ${error.message}`);
      throw error;
    }
  }

  private sql(client: pg.Client, command: SqlCommand, scriptIndex: number, commandIndex: number): Promise<unknown> {
    const variables = this.context.variables;
    if (this.queryMode === 'simple') {
      if (command.names.length === 0) {
        let message = this.staticMessages.get(command);
        if (message === undefined) this.staticMessages.set(command, (message = queryMessage(command.text)));
        return runSkipping(client, command.text, message, this.resultPaths);
      }
      let text = command.pieces[0];
      for (let index = 0; index < command.names.length; index += 1) {
        const value = variables.get(command.names[index]);
        // An unknown :name stays as written, as in pgbench.
        text += (value === undefined ? `:${command.names[index]}` : valueToText(value)) + command.pieces[index + 1];
      }
      return runSkipping(client, text, queryMessage(text), this.resultPaths);
    }
    // pgbench sends an undefined variable as a NULL parameter.
    const values = command.names.map((name) => {
      const value = variables.get(name);
      return value === undefined ? null : valueToText(value);
    });
    // queryMode 'extended': pg would use the simple protocol for a statement without parameters.
    const query = { text: command.parameterized, values, rowMode: 'array', queryMode: 'extended', name: this.queryMode === 'prepared' ? `P${scriptIndex}_${commandIndex}` : undefined };
    return client.query(query as pg.QueryConfig);
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
