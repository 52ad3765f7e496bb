// Runs a psql script (`query -f`) or the interactive shell's input: statements in order on one
// connection, with psql's meta-commands and variables (see meta.ts), through one PsqlSession.
// Statements that are not plain queries go out with the simple protocol, as psql sends them
// (consecutive ones batched, see batchable()); plain queries take query.ts's path (COPY export
// or a cursor) so a large result never sits in memory.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { PgfactoryError, ServerError, UsageError } from '../errors.js';
import type { ConnectionFactory } from '../factory.js';
import { connectionLostError, RAW_TEXT_TYPES } from '../factory.js';
import { copyIn } from '../insert/load.js';
import type { OutputFormat, ResultWriter } from '../output/writer.js';
import { Output } from '../output/writer.js';
import type { Column } from '../output/values.js';
import { isConnectionLost, simpleQueryWithTags, type TaggedResult } from '../pg-internals.js';
import { formatNotice, formatServerError, isDatabaseError, type ServerNotice } from '../db-errors.js';
import { runStatement, withStatementTimeout } from '../query.js';
import { isPlainQuery, SqlLexer, Token, type Statement } from '../sql.js';
import { parseBoolean, parseMetaArgs, SUPPORTED_META_COMMANDS, wholeLine } from './meta.js';
import { capYoungGeneration } from '../memory.js';
import { ScriptReader, type ScriptItem } from './reader.js';

export type ScriptSource = { kind: 'file'; path: string; /** For messages, when not the path ('-' for stdin). */ name?: string } | { kind: 'text'; sql: string };

/** What a session of psql meta-commands and statements runs with: a script's, or the shell's. */
export interface SessionOptions {
  params?: string[];
  singleTransaction?: boolean;
  quiet?: boolean;
  timing?: boolean;
  /** --statement-timeout: SET LOCAL around each statement, so nothing stays on the session (PgBouncer). */
  statementTimeoutMs?: number;
  format: OutputFormat;
  nullString?: string;
  stdout: Writable;
  stderr: Writable;
  makeWriter(format: OutputFormat, nullString: string | undefined): ResultWriter;
  onTiming(ms: number): void;
  onNotice(text: string): void;
  /** A factory for `\connect`: the settings of `current` with these changed. */
  reconnect?(changes: { dbname?: string; user?: string; host?: string; port?: number }, current: ConnectionFactory): ConnectionFactory;
  /** What to read for `\copy … from pstdin`. */
  stdinFd: number;
  /** After `\connect`: the factory given up (the shell closes its pooled one). */
  onReconnect?(previous: ConnectionFactory, next: ConnectionFactory): Promise<void>;
}

export interface ScriptOptions extends SessionOptions {
  source: ScriptSource;
  /** Variables set with -v/--set. */
  variables?: Map<string, string>;
}

/** The reader name of SQL given as the command's argument. */
const COMMAND_LINE = '<command line>';
/** The reader name of what is typed in the interactive shell: its messages name no place. */
const SHELL_INPUT = '<shell>';

/** `file:line: ` before a message, or nothing for the shell. */
function placeOf(readerName: string, line: number): string {
  return readerName === SHELL_INPUT ? '' : `${readerName}:${line}: `;
}

// Statements that print no rows (without RETURNING) and leave the transaction open.
const BATCHABLE = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'CREATE', 'ALTER', 'DROP', 'COMMENT', 'GRANT', 'REVOKE', 'SET', 'TRUNCATE']);
// Their second word makes them refuse to run inside a transaction block (CREATE DATABASE, ALTER
// SYSTEM …), or SET LOCAL, which would last until the end of the batch.
const NOT_IN_TRANSACTION = new Set(['DATABASE', 'TABLESPACE', 'SYSTEM', 'SUBSCRIPTION', 'LOCAL']);
// One message of up to this many statements or characters: round trips are the cost, not bytes.
const BATCH_STATEMENTS = 500;
const BATCH_BYTES = 1 << 20;

interface Lease {
  client: pg.Client;
  release(): Promise<void>;
}

/** A connection held until release() (withConnection's callback shape turned inside out for \connect). */
function lease(factory: ConnectionFactory, onLost: (error: unknown) => void): Promise<Lease> {
  return new Promise((resolveLease, rejectLease) => {
    let acquired = false;
    const done = factory.withConnection(
      (client) =>
        new Promise<void>((release) => {
          acquired = true;
          resolveLease({ client, release: () => (release(), done) });
        }),
    );
    // After the hand-out, withConnection fails only when the connection died under the script.
    done.catch((error) => (acquired ? onLost(error) : rejectLease(error)));
  });
}

/** Validates a whole script before anything runs: every meta-command must be one pgfactory knows. */
export async function checkScript(reader: ScriptReader): Promise<{ statements: number; metaCommands: number }> {
  let statements = 0;
  let metaCommands = 0;
  reader.interpolate = false;
  reader.checking = true;
  try {
    for (let item = await reader.next(); item !== null; item = await reader.next()) {
      if ((statements & 255) === 0) capYoungGeneration();
      if (item.kind === 'meta') {
        metaCommands += 1;
        if (!SUPPORTED_META_COMMANDS.has(item.name)) throw new UsageError(`${placeOf(reader.name, await reader.lineOfOffset(item.offset))}unsupported meta-command \\${item.name}`);
        if (item.name === 'g' || item.name === 'gset' || item.name === 'gexec') {
          if (item.pending.trim() !== '') statements += 1;
          reader.clearPending();
        }
        // `\copy … from stdin` in a script takes the lines after it, up to `\.`, as its data.
        if (item.name === 'copy' && isCopyFromStdin(item.args)) for await (const _ of reader.copyData()) void _;
      } else {
        statements += 1;
        if (item.copyFromStdin) for await (const _ of reader.copyData()) void _;
      }
    }
  } finally {
    await reader.close();
  }
  return { statements, metaCommands };
}

function openReader(source: ScriptSource, variables: Map<string, string>): ScriptReader {
  return source.kind === 'file' ? ScriptReader.fromFile(source.path, variables, source.name ?? source.path) : new ScriptReader(COMMAND_LINE, Buffer.from(source.sql), variables);
}

/** Runs the script; returns how many statements failed (only when ON_ERROR_STOP is off). */
export async function runScript(factory: ConnectionFactory, options: ScriptOptions): Promise<void> {
  const variables = new Map(options.variables ?? []);
  // The connection opens while the script is checked; nothing is sent before the check passed.
  const checked = checkScript(openReader(options.source, variables)).then(({ statements: count, metaCommands }) => {
    if (count === 0 && metaCommands === 0) throw new UsageError('no SQL statement to run');
    const params = options.params ?? [];
    if (params.length > 0 && count > 1) throw new UsageError(`--param binds to a single statement, but the input holds ${count}`);
  });
  checked.catch(() => undefined); // awaited in run(); this keeps an early refusal from going unhandled
  const run = new PsqlSession(factory, options, variables);
  await run.run(openReader(options.source, variables), checked);
}

interface Branch {
  /** This branch's statements run. */
  active: boolean;
  /** Some branch of this \if already ran (or the enclosing one is inactive). */
  done: boolean;
  sawElse: boolean;
  line: number;
}

/**
 * psql's meta-commands, variables, \if state and statements on one connection at a time: the one
 * module behind `query -f` (run(): a whole script on one connection) and the interactive shell
 * (runText(): each input on the shell's pooled connection, the state kept between inputs).
 */
export class PsqlSession {
  private lease: Lease | undefined;
  private writer: ResultWriter;
  /** The output format, changed by `\pset format` (and the shell's \format). */
  format: OutputFormat;
  private nullString: string | undefined;
  timing: boolean;
  private restrictKey: string | undefined;
  private readonly branches: Branch[] = [];
  private failures = 0;
  private inSingleTransaction = false;
  private readonly out: Output;
  private readonly onNotice = (notice: ServerNotice) => this.options.onNotice(formatNotice(notice));

  constructor(private connections: ConnectionFactory, private readonly options: SessionOptions, private readonly variables: Map<string, string>) {
    this.format = options.format;
    this.nullString = options.nullString;
    this.writer = this.makeWriter();
    this.timing = options.timing === true;
    this.out = new Output(options.stdout);
  }

  /** The factory statements run on (another one after `\connect`). */
  get factory(): ConnectionFactory {
    return this.connections;
  }

  private get active(): boolean {
    return this.branches.length === 0 || this.branches[this.branches.length - 1].active;
  }

  /** Inside an \if branch not taken (the shell's prompt shows `@` then, as psql's does). */
  get inInactiveBranch(): boolean {
    return !this.active;
  }

  private stopOnError(): boolean {
    const value = this.variables.get('ON_ERROR_STOP');
    // pgfactory stops at the first error unless told otherwise.
    return value === undefined || parseBoolean(value) !== false;
  }

  // Rejects when the connection in use dies (the factory's watcher names the server): a statement
  // waiting for an answer that never comes must not hang the script. Made again for each run.
  private failLost: (error: unknown) => void = () => undefined;
  private lost: Promise<never> = new Promise<never>(() => undefined);

  private async hold(factory: ConnectionFactory): Promise<Lease> {
    const held = await lease(factory, (error) => this.failLost(error));
    held.client.on('notice', this.onNotice);
    return held;
  }

  private async letGo(held: Lease | undefined): Promise<void> {
    held?.client.removeListener('notice', this.onNotice);
    await held?.release().catch(() => undefined);
  }

  /** Holds a connection while `work` runs; a dead socket becomes one line naming the server. */
  private async withLease(work: () => Promise<void>, before?: Promise<void>): Promise<void> {
    this.lost = new Promise<never>((_, reject) => {
      this.failLost = reject;
    });
    this.lost.catch(() => undefined);
    const holding = this.hold(this.connections);
    holding.catch(() => undefined);
    if (before !== undefined) {
      try {
        await before;
      } catch (error) {
        // A refused script: the connection is given back when it comes; nothing ran on it.
        void holding.then((held) => this.letGo(held), () => undefined);
        throw error;
      }
    }
    this.lease = await holding;
    try {
      await Promise.race([work(), this.lost]);
    } catch (error) {
      if (this.inSingleTransaction) await this.lease?.client.query('ROLLBACK').catch(() => undefined);
      // pg's own words for a dead socket become one line naming the server (exit 2), as in withConnection.
      if (error instanceof Error && !(error instanceof PgfactoryError) && !isDatabaseError(error) && isConnectionLost(error.message)) {
        throw connectionLostError(this.connections.settings, error);
      }
      throw error;
    } finally {
      await this.letGo(this.lease);
      this.lease = undefined;
    }
  }

  /** Runs a whole script (once `checked` has passed, when given); with ON_ERROR_STOP off, fails at the end when a statement failed. */
  async run(reader: ScriptReader, checked?: Promise<void>): Promise<void> {
    try {
      await this.withLease(async () => {
        if (this.options.singleTransaction === true) {
          await this.lease!.client.query('BEGIN');
          this.inSingleTransaction = true;
        }
        await this.runReader(reader);
        if (this.branches.length > 0) throw new UsageError(`${reader.name}:${this.branches[this.branches.length - 1].line}: \\if without \\endif`);
        if (this.inSingleTransaction) {
          this.inSingleTransaction = false;
          await this.lease!.client.query('COMMIT');
        }
      }, checked);
    } finally {
      await reader.close().catch(() => undefined);
    }
    if (this.failures > 0) {
      throw new ServerError(`${this.failures} ${this.failures === 1 ? 'statement' : 'statements'} failed (ON_ERROR_STOP is off, so the rest ran)`, undefined);
    }
  }

  /**
   * Whether `text`, typed at the shell, ends in a `COPY … FROM STDIN` or `\copy … from stdin`
   * with no data lines after it: the shell then reads them at its `>>` prompt, as psql does.
   */
  async awaitsCopyData(text: string): Promise<boolean> {
    if (!this.active) return false;
    const reader = new ScriptReader(SHELL_INPUT, Buffer.from(text), this.variables);
    reader.interpolate = false;
    reader.checking = true;
    let awaits = false;
    try {
      for (let item = await reader.next(); item !== null; item = await reader.next()) {
        if (!(item.kind === 'meta' ? item.name === 'copy' && isCopyFromStdin(item.args) : item.copyFromStdin)) continue;
        let data = false;
        for await (const chunk of reader.copyData()) data ||= chunk.length > 0;
        awaits = !data;
      }
    } finally {
      await reader.close();
    }
    return awaits;
  }

  /**
   * Runs what was typed in the shell (complete statements, meta-commands) as a script's lines are
   * run; variables, \if branches, \timing and \pset stay for the next input. The writer is made
   * again each time: the shell's settings (\x, \format, the terminal's width) may have changed.
   */
  async runText(text: string): Promise<void> {
    await checkScript(new ScriptReader(SHELL_INPUT, Buffer.from(text), this.variables));
    this.writer = this.makeWriter();
    this.failures = 0;
    await this.withLease(() => this.runReader(new ScriptReader(SHELL_INPUT, Buffer.from(text), this.variables)));
  }

  private async runReader(reader: ScriptReader): Promise<void> {
    for (let item = await reader.next(); item !== null; item = await reader.next()) {
      if (item.kind === 'sql' && this.active && this.batchable(item)) {
        this.batch.push({ text: item.text, line: item.line });
        this.batchBytes += item.text.length;
        this.batchSource = reader.name;
        if (this.batch.length >= BATCH_STATEMENTS || this.batchBytes >= BATCH_BYTES) await this.flush();
        continue;
      }
      await this.flush();
      if (item.kind === 'meta') await this.meta(item, reader);
      else if (this.active) await this.guarded(reader, item.line, item.text, () => this.statement(item, reader));
      else if (item.copyFromStdin) for await (const _ of reader.copyData()) void _;
      reader.interpolate = this.active;
    }
    await this.flush();
  }

  /** Runs one statement; a server error stops the script or, with ON_ERROR_STOP off, is printed. */
  private async guarded(reader: ScriptReader, line: number, text: string, work: () => Promise<void>): Promise<void> {
    const started = performance.now();
    try {
      await work();
    } catch (error) {
      const statement: Statement = { text, line, offset: 0 };
      const sourceName = reader.name === COMMAND_LINE || reader.name === SHELL_INPUT ? undefined : reader.name;
      const failure = isDatabaseError(error) ? new ServerError(formatServerError(error, statement, 0, sourceName), error.code) : error;
      if (!(failure instanceof ServerError) || failure.exitCode !== 3 || this.stopOnError()) throw failure;
      this.failures += 1;
      this.options.stderr.write(`${failure.message}\n`);
      return;
    }
    if (this.timing) this.options.onTiming(performance.now() - started);
  }

  private async statement(item: Extract<ScriptItem, { kind: 'sql' }>, reader: ScriptReader): Promise<void> {
    const client = this.lease!.client;
    if (item.copyFromStdin) {
      const rows = await withStatementTimeout(client, item.text, this.options.statementTimeoutMs, () => copyInData(client, item.text, reader.copyData()));
      await this.tag(`COPY ${rows}`);
      return;
    }
    await this.send(item.text, item.words, item.line, reader.name);
  }

  private async send(text: string, words: string[], line: number, sourceName: string): Promise<void> {
    await withStatementTimeout(this.lease!.client, text, this.options.statementTimeoutMs, (ownTransaction) => this.sendNow(text, words, line, sourceName, ownTransaction));
  }

  private async sendNow(text: string, words: string[], line: number, sourceName: string, ownTransaction: boolean): Promise<void> {
    const client = this.lease!.client;
    const first = words[0];
    if (first === 'COPY' && words.includes('TO') && words[words.indexOf('TO') + 1] === 'STDOUT') {
      const rows = await copyOutRaw(client, text, this.options.stdout);
      await this.tag(`COPY ${rows}`);
      return;
    }
    const params = this.options.params ?? [];
    if ((first === 'SELECT' || first === 'VALUES' || first === 'TABLE' || first === 'WITH' || params.length > 0) && (params.length > 0 || isPlainQuery(text))) {
      await runStatement(client, { text, line, offset: 0 }, params, this.writer, sourceName === COMMAND_LINE || sourceName === SHELL_INPUT ? undefined : sourceName, ownTransaction);
      return;
    }
    const { results, tags } = await simpleQueryWithTags(client, text, RAW_TEXT_TYPES);
    await this.printResult(results[0], tags[0] ?? '');
  }

  private async printResult(result: pg.QueryResult | undefined, tag: string): Promise<void> {
    if (result !== undefined && result.fields.length > 0) {
      const columns: Column[] = result.fields.map((field) => ({ name: field.name, typeOid: field.dataTypeID }));
      await this.writer.beginRows(columns);
      await this.writer.writeRows(result.rows);
      await this.writer.endRows(result.rows.length);
    } else await this.tag(tag);
  }

  /**
   * Whether a statement may wait in a batch sent as one multi-statement message (one round trip
   * for many statements). Only while the script stops at the first error, for statements that
   * print no rows, neither begin nor end a transaction and may run inside one. In autocommit the
   * batch is one implicit transaction: when a statement in it fails, the ones before it are rolled
   * back with it, so they are replayed one by one and the database ends as it would have (see
   * flush()).
   */
  private batchable(item: Extract<ScriptItem, { kind: 'sql' }>): boolean {
    // With a statement timeout each statement gets its own SET LOCAL (see send()).
    if (item.copyFromStdin || this.timing || (this.options.params ?? []).length > 0 || this.options.statementTimeoutMs !== undefined) return false;
    const [first, second] = item.words;
    if (first === undefined || !BATCHABLE.has(first)) return false;
    if (second !== undefined && NOT_IN_TRANSACTION.has(second)) return false;
    if (item.words.includes('CONCURRENTLY') || item.words.includes('RETURNING')) return false;
    if (this.batch.length > 0) return true;
    const status = this.lease!.client.getTransactionStatus();
    if ((status !== 'T' && status !== 'I') || !this.stopOnError()) return false;
    this.batchAutocommit = status === 'I';
    return true;
  }

  private batchAutocommit = false;
  private batch: Array<{ text: string; line: number }> = [];
  private batchBytes = 0;
  private batchSource = '';

  private async flush(): Promise<void> {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    this.batchBytes = 0;
    capYoungGeneration();
    // A newline before each semicolon: a statement may end in a -- comment.
    const text = batch.map((statement) => statement.text).join('\n;\n');
    let outcome: TaggedResult;
    try {
      outcome = await simpleQueryWithTags(this.lease!.client, text, RAW_TEXT_TYPES);
    } catch (error) {
      if (!isDatabaseError(error)) throw error;
      const sourceName = this.batchSource === COMMAND_LINE ? undefined : this.batchSource;
      if (this.batchAutocommit) {
        // The whole batch was rolled back (a syntax error fails it before any statement runs):
        // run it again one statement at a time, each in its own transaction as psql would, up to
        // the one that fails.
        for (const statement of batch) {
          try {
            const again = await simpleQueryWithTags(this.lease!.client, statement.text, RAW_TEXT_TYPES);
            await this.printResult(again.results[0], again.tags[0] ?? '');
          } catch (single) {
            if (!isDatabaseError(single)) throw single;
            throw new ServerError(formatServerError(single, { text: statement.text, line: statement.line, offset: 0 }, 0, sourceName), single.code);
          }
        }
        throw new ServerError(formatServerError(error), error.code);
      }
      // Inside a transaction block, which the error has aborted: the statements before the failing
      // one completed. A syntax error stops the batch before any ran; its position names the statement.
      const tags = (error as { completedTags?: string[] }).completedTags ?? [];
      let failed = Math.min(tags.length, batch.length - 1);
      let offset = batch.slice(0, failed).reduce((sum, statement) => sum + statement.text.length + 3, 0);
      const position = Number(error.position);
      if (tags.length === 0 && Number.isInteger(position)) {
        offset = 0;
        for (failed = 0; failed < batch.length - 1 && offset + batch[failed].text.length + 3 < position; failed += 1) offset += batch[failed].text.length + 3;
      }
      for (const tag of tags) await this.tag(tag);
      const statement = batch[failed];
      throw new ServerError(formatServerError(error, { text: statement.text, line: statement.line, offset: 0 }, offset, sourceName), error.code);
    }
    for (let i = 0; i < outcome.tags.length; i += 1) await this.printResult(outcome.results[i], outcome.tags[i]);
  }

  private async tag(tag: string): Promise<void> {
    await this.writer.commandTag(tag);
  }

  /** A query's single row as variables (\gset), or each of its values as a statement (\gexec). */
  private async queryRows(text: string): Promise<{ columns: string[]; rows: Array<Array<string | null>> }> {
    const client = this.lease!.client;
    const { results } = await withStatementTimeout(client, text, this.options.statementTimeoutMs, () => simpleQueryWithTags(client, text, RAW_TEXT_TYPES));
    const result = results[results.length - 1];
    return { columns: result.fields.map((field) => field.name), rows: result.rows as Array<Array<string | null>> };
  }

  private async meta(item: Extract<ScriptItem, { kind: 'meta' }>, reader: ScriptReader): Promise<void> {
    const { name, line } = item;
    const fail = (message: string) => new UsageError(`${placeOf(reader.name, line)}\\${name}: ${message}`);
    if (name === 'if' || name === 'elif' || name === 'else' || name === 'endif') {
      this.conditional(item, reader, fail);
      return;
    }
    if (!this.active) return;
    if (this.restrictKey !== undefined && name !== 'unrestrict') throw fail('refused: the script is restricted (\\restrict); only \\unrestrict is allowed');
    const args = () => parseMetaArgs(item.args, this.variables, fail);
    switch (name) {
      case 'restrict': {
        const [key] = args();
        if (key === undefined || !/^[A-Za-z0-9]+$/.test(key)) throw fail('a key of letters and digits is required');
        this.restrictKey = key;
        return;
      }
      case 'unrestrict': {
        const [key] = args();
        if (this.restrictKey === undefined) throw fail('not in restricted mode');
        if (key !== this.restrictKey) throw fail('wrong key');
        this.restrictKey = undefined;
        return;
      }
      case 'echo':
      case 'qecho': {
        const values = args();
        const noNewline = values[0] === '-n';
        if (noNewline) values.shift();
        await this.out.write(values.join(' ') + (noNewline ? '' : '\n'));
        return;
      }
      case 'set': {
        const values = args();
        if (values.length === 0) {
          for (const [key, value] of [...this.variables].sort(([a], [b]) => (a < b ? -1 : 1))) await this.out.write(`${key} = '${value}'\n`);
          return;
        }
        const [key, ...rest] = values;
        if (!/^[A-Za-z0-9_]+$/.test(key)) throw fail(`invalid variable name "${key}"`);
        const value = rest.join('');
        if (key === 'ON_ERROR_STOP' && parseBoolean(value) === undefined) throw fail(`unrecognized value "${value}" for ON_ERROR_STOP: Boolean expected`);
        this.variables.set(key, value);
        return;
      }
      case 'unset': {
        const [key] = args();
        if (key === undefined) throw fail('missing required argument');
        this.variables.delete(key);
        return;
      }
      case 'timing': {
        const [value] = args();
        const parsed = value === undefined ? !this.timing : parseBoolean(value);
        if (parsed === undefined) throw fail(`unrecognized value "${value}": Boolean expected`);
        this.timing = parsed;
        if (this.options.quiet !== true) this.options.stderr.write(`Timing is ${parsed ? 'on' : 'off'}.\n`);
        return;
      }
      case 'pset':
        this.pset(args(), fail);
        return;
      case 'i':
      case 'include':
      case 'ir':
      case 'include_relative': {
        const [file] = args();
        if (file === undefined) throw fail('missing required argument');
        const relative = name === 'ir' || name === 'include_relative';
        const base = relative && reader.name !== COMMAND_LINE && reader.name !== SHELL_INPUT && reader.name !== '-' ? path.dirname(reader.name) : process.cwd();
        const target = path.resolve(base, file);
        if (!fs.existsSync(target)) throw fail(`${file}: No such file or directory`);
        const nested = ScriptReader.fromFile(target, this.variables, relative ? path.relative(process.cwd(), target) || target : file);
        await checkScript(ScriptReader.fromFile(target, this.variables, nested.name));
        try {
          await this.runReader(nested);
        } finally {
          await nested.close().catch(() => undefined);
        }
        return;
      }
      case 'g':
      case 'gset':
      case 'gexec':
        await this.sendBuffer(item, reader, name);
        return;
      case 'c':
      case 'connect':
        await this.connect(args(), fail);
        return;
      case 'copy':
        await this.guarded(reader, line, `\\copy${item.args}`, () => this.copy(wholeLine(item.args, this.variables), reader, fail));
        return;
      default:
        throw fail('unsupported meta-command');
    }
  }

  private conditional(item: Extract<ScriptItem, { kind: 'meta' }>, reader: ScriptReader, fail: (message: string) => UsageError): void {
    const top = this.branches[this.branches.length - 1];
    const enclosingActive = this.branches.length <= 1 || this.branches[this.branches.length - 2].active;
    const evaluate = () => {
      const [value] = parseMetaArgs(item.args, this.variables, fail);
      if (value === undefined) throw fail('missing expression');
      const parsed = parseBoolean(value);
      if (parsed === undefined) throw fail(`unrecognized value "${value}" for "\\${item.name} expression": Boolean expected`);
      return parsed;
    };
    switch (item.name) {
      case 'if': {
        if (!this.active) {
          this.branches.push({ active: false, done: true, sawElse: false, line: item.line });
          break;
        }
        const value = evaluate();
        this.branches.push({ active: value, done: value, sawElse: false, line: item.line });
        break;
      }
      case 'elif': {
        if (top === undefined) throw fail('no matching \\if');
        if (top.sawElse) throw fail('cannot occur after \\else');
        if (top.done || !enclosingActive) top.active = false;
        else {
          top.active = evaluate();
          top.done = top.active;
        }
        break;
      }
      case 'else': {
        if (top === undefined) throw fail('no matching \\if');
        if (top.sawElse) throw fail('cannot occur after \\else');
        top.sawElse = true;
        top.active = !top.done && enclosingActive;
        top.done = true;
        break;
      }
      case 'endif':
        if (top === undefined) throw fail('no matching \\if');
        this.branches.pop();
        break;
    }
    // SQL typed in a branch not taken is dropped, as psql does.
    if (!this.active) reader.clearPending();
    reader.interpolate = this.active;
  }

  private pset(values: string[], fail: (message: string) => UsageError): void {
    const [option, value] = values;
    if (option === 'null') {
      this.nullString = value ?? '';
    } else if (option === 'format') {
      const formats: Record<string, OutputFormat> = { aligned: 'table', csv: 'csv' };
      const format = value === undefined ? undefined : formats[value];
      if (format === undefined) throw fail(`format "${value ?? ''}" is not supported (aligned, csv)`);
      this.format = format;
    } else throw fail(`option "${option ?? ''}" is not supported (null, format)`);
    this.writer = this.makeWriter();
  }

  private makeWriter(): ResultWriter {
    const writer = this.options.makeWriter(this.format, this.nullString);
    return this.options.quiet === true ? withoutTags(writer) : writer;
  }

  private async sendBuffer(item: Extract<ScriptItem, { kind: 'meta' }>, reader: ScriptReader, name: string): Promise<void> {
    const text = item.pending.trim().replace(/;\s*$/, '');
    reader.clearPending();
    const place = placeOf(reader.name, item.line);
    if (text === '') throw new UsageError(`${place}\\${name}: no query to send`);
    const args = parseMetaArgs(item.args, this.variables, (message) => new UsageError(`${place}\\${name}: ${message}`));
    const words = text.length > 0 ? /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() : undefined;
    if (name === 'g') {
      await this.guarded(reader, item.line, text, () => this.send(text, words === undefined ? [] : [words], item.line, reader.name));
      return;
    }
    if (name === 'gset') {
      const prefix = args[0] ?? '';
      await this.guarded(reader, item.line, text, async () => {
        const { columns, rows } = await this.queryRows(text);
        if (rows.length === 0) throw new ServerError(`${place}no rows returned for \\gset`, undefined);
        if (rows.length > 1) throw new ServerError(`${place}more than one row returned for \\gset`, undefined);
        columns.forEach((column, i) => {
          const value = rows[0][i];
          if (value === null) this.variables.delete(prefix + column);
          else this.variables.set(prefix + column, value);
        });
      });
      return;
    }
    // \gexec: every non-null value of the result is run as a statement, row by row.
    await this.guarded(reader, item.line, text, async () => {
      const { rows } = await this.queryRows(text);
      for (const row of rows) {
        for (const value of row) {
          if (value === null) continue;
          const first = /^\s*(\w+)/.exec(value)?.[1]?.toUpperCase();
          await this.guarded(reader, item.line, value, () => this.send(value, first === undefined ? [] : [first], item.line, reader.name));
        }
      }
    });
  }

  private async connect(values: string[], fail: (message: string) => UsageError): Promise<void> {
    if (this.options.reconnect === undefined) throw fail('not available here');
    const positional = values.filter((value) => !value.startsWith('-reuse-previous'));
    const changes: { dbname?: string; user?: string; host?: string; port?: number } = {};
    const [db, user, host, port] = positional;
    if (db !== undefined && db.includes('=')) {
      // A conninfo string: pg_dump writes `\connect -reuse-previous=on "dbname='name'"`.
      const conninfo = db.replace(/^"|"$/g, '');
      for (const match of conninfo.matchAll(/(\w+)\s*=\s*('((?:[^'\\]|\\.)*)'|\S+)/g)) {
        const value = match[3] !== undefined ? match[3].replace(/\\(.)/g, '$1') : match[2];
        if (match[1] === 'dbname') changes.dbname = value;
        else if (match[1] === 'user') changes.user = value;
        else if (match[1] === 'host') changes.host = value;
        else if (match[1] === 'port') changes.port = Number(value);
        else throw fail(`connection option "${match[1]}" is not supported here (dbname, user, host, port)`);
      }
    } else {
      const keep = (value: string | undefined) => (value === undefined || value === '-' ? undefined : value.replace(/^"(.*)"$/, '$1'));
      changes.dbname = keep(db);
      changes.user = keep(user);
      changes.host = keep(host);
      const portText = keep(port);
      if (portText !== undefined) changes.port = Number(portText);
    }
    const factory = this.options.reconnect(changes, this.connections);
    const next = await this.hold(factory);
    if (this.inSingleTransaction) await this.lease!.client.query('COMMIT');
    await this.letGo(this.lease);
    this.lease = next;
    const previous = this.connections;
    this.connections = factory;
    await this.options.onReconnect?.(previous, factory);
    if (this.options.quiet !== true) {
      const settings = factory.settings;
      await this.out.write(`You are now connected to database "${settings.dbname}" as user "${settings.user}".\n`);
    }
    if (this.inSingleTransaction) await this.lease.client.query('BEGIN');
  }

  /** `\copy table [(columns)] from|to file|stdin|stdout|pstdin|pstdout [with] [options]`, client side. */
  private async copy(line: string, reader: ScriptReader, fail: (message: string) => UsageError): Promise<void> {
    const parsed = parseCopyCommand(line);
    if (parsed === undefined) throw fail('expected: \\copy table [(columns)] | (query) from|to file|stdin|stdout|pstdin|pstdout [with] [options]');
    const { what, direction, file, options } = parsed;
    const client = this.lease!.client;
    if (direction.toLowerCase() === 'from') {
      const sql = `COPY ${what} FROM STDIN ${options}`;
      const lower = file.toLowerCase();
      const source: AsyncIterable<Buffer> =
        lower === 'stdin' ? reader.copyData() : lower === 'pstdin' ? fs.createReadStream('', { fd: this.options.stdinFd, autoClose: false }) : fs.createReadStream(file);
      const rows = await copyInData(client, sql, source);
      await this.tag(`COPY ${rows}`);
      return;
    }
    const sql = `COPY ${what} TO STDOUT ${options}`;
    const lower = file.toLowerCase();
    const sink = lower === 'stdout' || lower === 'pstdout' ? this.options.stdout : fs.createWriteStream(file);
    const rows = await copyOutRaw(client, sql, sink);
    if (sink !== this.options.stdout) {
      sink.end();
      await finished(sink);
    }
    await this.tag(`COPY ${rows}`);
  }
}

/** COPY … FROM STDIN with the given data: insert's COPY code. */
async function copyInData(client: pg.Client, sql: string, data: AsyncIterable<Buffer>): Promise<number> {
  const chunks = data[Symbol.asyncIterator]();
  return copyIn(client, sql, async () => {
    const next = await chunks.next();
    return next.done === true ? undefined : next.value;
  });
}

/** COPY … TO STDOUT, its bytes written as they come. */
async function copyOutRaw(client: pg.Client, sql: string, sink: Writable): Promise<number> {
  const { copyOutStream } = await import('../copy-out.js');
  const stream = client.query(copyOutStream(sql, 'text'));
  const out = new Output(sink);
  for await (const chunk of stream) await out.write(chunk as Buffer);
  return stream.rowCount;
}

/** The same writer with command tags dropped (-q). */
function withoutTags(writer: ResultWriter): ResultWriter {
  return new Proxy(writer, {
    get(target, key, receiver) {
      if (key === 'commandTag') return async () => undefined;
      const value = Reflect.get(target, key, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function isCopyFromStdin(args: string): boolean {
  const parsed = parseCopyCommand(args);
  return parsed !== undefined && parsed.direction === 'from' && parsed.file.toLowerCase() === 'stdin';
}

/** `\copy`'s parts: the table or query, the direction at the top level, the file, the options. */
function parseCopyCommand(line: string): { what: string; direction: string; file: string; options: string } | undefined {
  const lexer = new SqlLexer(line);
  let depth = 0;
  while (lexer.next()) {
    if (lexer.kind === Token.Open) depth += 1;
    else if (lexer.kind === Token.Close) depth -= 1;
    else if (lexer.kind === Token.Word && depth === 0 && /^(from|to)$/i.test(lexer.value)) {
      const what = line.slice(0, lexer.start).trim();
      const rest = line.slice(lexer.end).trimStart();
      const target = /^('(?:[^']|'')*'|\S+)\s*(?:with\b\s*)?(.*)$/is.exec(rest);
      if (what === '' || target === null) return undefined;
      const file = target[1].startsWith("'") ? target[1].slice(1, -1).replace(/''/g, "'") : target[1];
      return { what, direction: lexer.value.toLowerCase(), file, options: target[2].trim().replace(/;$/, '') };
    }
  }
  return undefined;
}
