// The interactive shell: `pgfactory query` with no SQL on a terminal. One connection from the
// factory (a pool of one, so a transaction spans prompts and a lost connection is replaced),
// node:readline for line editing, history and completion (built in: nothing to install), the
// same statement splitter as `-f`, and results printed as `query` prints them. Statements and
// psql's meta-commands run through src/psql's session (the code of `query -f`), which keeps
// variables, \if branches, \timing and \pset between inputs; the shell's own interactive
// commands (\d, \x, \e, \watch …) are in commands.ts.
// It is bundled apart (dist/shell.cjs, see scripts/build.mjs) and loaded only when it opens, so
// the start-up of every other command does not carry it. What it shares with the CLI comes in as
// ShellCore: the CLI's own instances, since the factory recognises its own error classes.
import readline from 'node:readline';
import type { CommandContext } from '../context.js';
import type { formatNotice } from '../db-errors.js';
import type { describeServer } from '../describe.js';
import type { createResultWriter, OutputFormat } from '../output/writer.js';
import type { ConnectionFactory } from '../factory.js';
import type { PsqlSession, SessionOptions } from '../psql/script.js';
import type { runQuery } from '../query.js';
import { splitStatements, SqlLexer, Token } from '../sql.js';
import { SUPPORTED_META_COMMANDS } from '../psql/meta.js';
import { parseBackslash, SHELL_COMMANDS, ShellCommandError, type ShellHost } from './commands.js';
import { changesCatalog, completeWord, readCatalogNames, wordAtEnd, type CatalogNames } from './completion.js';
import { HistoryFile, historyPath } from './history.js';
import { terminalOf } from './pager.js';
import { watch } from './watch.js';

export interface ShellIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

export interface ShellOptions {
  format: OutputFormat;
  nullString?: string;
  expanded: boolean | 'auto';
  rowRules?: boolean;
  maxValueWidth?: number;
  pager: boolean;
  timing: boolean;
  /** --statement-timeout: SET LOCAL around each statement (nothing stays on the session). */
  statementTimeoutMs?: number;
  paintHeader?: (text: string) => string;
}

export interface ShellCore {
  runQuery: typeof runQuery;
  createResultWriter: typeof createResultWriter;
  describeServer: typeof describeServer;
  formatNotice: typeof formatNotice;
  outputFormats: readonly OutputFormat[];
  /** psql's meta-commands and statements on the shell's factory (the CLI's own PsqlSession). */
  createSession(factory: ConnectionFactory, options: SessionOptions): PsqlSession;
}

/**
 * The first meta-command in what is typed (outside quotes and comments): its name and where its
 * backslash is; undefined when there is none.
 */
export function firstMetaCommand(text: string): { name: string; at: number } | undefined {
  const lexer = new SqlLexer(text, 0, true);
  while (lexer.next()) {
    if (lexer.kind === Token.Backslash) return { name: /^[^\s\\]*/.exec(text.slice(lexer.end))![0], at: lexer.start };
  }
  return undefined;
}

/** Runs the shell until \q, Ctrl-D or SIGTERM; says which of the last it was. */
export async function runShell(core: ShellCore, context: CommandContext, io: ShellIo, options: ShellOptions): Promise<'ended' | 'terminated'> {
  return new Shell(core, context, io, options).run();
}

/** One of pgfactory's own errors (by shape: the class is the CLI bundle's, not this one's). */
function ownError(error: unknown): error is Error & { code: string; exitCode: number } {
  return error instanceof Error && typeof (error as { exitCode?: unknown }).exitCode === 'number' && typeof (error as { code?: unknown }).code === 'string';
}

/**
 * The statements of `text` that are complete (ended by a top-level `;`), and what follows them.
 * Uses the `-f` splitter, so quotes, dollar quotes and comments hide their semicolons.
 */
export function takeCompleteStatements(text: string): { complete: string | undefined; rest: string } {
  let end = -1;
  for (const statement of splitStatements(text)) {
    const after = statement.offset + statement.text.length;
    const semicolon = /^\s*;/.exec(text.slice(after));
    if (semicolon !== null) end = after + semicolon[0].length;
  }
  return end === -1 ? { complete: undefined, rest: text } : { complete: text.slice(0, end), rest: text.slice(end) };
}

class Shell implements ShellHost {
  expanded: boolean | 'auto';
  readonly formats: readonly OutputFormat[];
  private readonly session: PsqlSession;

  private rl!: readline.Interface;
  private readonly history: HistoryFile;
  /** Lines of a statement still being typed. */
  private pending: string[] = [];
  private lastQuery: string | undefined;
  /** The server's transaction status after the last statement: I idle, T in a transaction, E failed. */
  private status = 'I';
  private names: CatalogNames | undefined;
  private running = false;
  private stopWatch: AbortController | undefined;
  /** connections_lost already told about. */
  private lostSeen = 0;
  private reconnectDue = false;
  private waiting: ((line: string | null) => void) | undefined;
  /** Reading a COPY's data lines at the `>>` prompt; Ctrl-C there cancels the COPY. */
  private copying = false;
  private copyCancelled = false;
  private queued: string[] = [];
  private closed = false;
  /** Ctrl-D closed the line editor at a `>>` prompt: open another for the next prompt. */
  private reopenPrompt = false;

  constructor(private readonly core: ShellCore, private readonly context: CommandContext, private readonly io: ShellIo, private readonly options: ShellOptions) {
    this.formats = core.outputFormats;
    this.expanded = options.expanded;
    this.history = new HistoryFile(historyPath(io.env));
    this.session = core.createSession(context.factory, {
      format: options.format,
      nullString: options.nullString,
      timing: options.timing,
      statementTimeoutMs: options.statementTimeoutMs,
      stdout: io.stdout,
      stderr: io.stderr,
      stdinFd: 0,
      makeWriter: (format, nullString) => this.writer(this.options.pager, format, nullString),
      onTiming: (ms) => this.io.stdout.write(`Time: ${ms.toFixed(3)} ms\n`),
      onNotice: (text) => this.io.stderr.write(`${text}\n`),
    });
  }

  /** The factory in use: the session's, another one after \connect. */
  private get factory(): ConnectionFactory {
    return this.session.factory;
  }

  /** The output format (\format, \pset format): the session's. */
  get format(): OutputFormat {
    return this.session.format;
  }

  set format(value: OutputFormat) {
    this.session.format = value;
  }

  async run(): Promise<'ended' | 'terminated'> {
    const factory = this.factory;
    // Connect now: a wrong password or an unreachable server ends the command before any prompt.
    this.status = await factory.withConnection(async (client) => client.getTransactionStatus() ?? 'I');
    this.io.stdout.write(`pgfactory: connected to ${this.conninfo().replace(/^You are connected to /, '')}\nType \\? for help, \\q or Ctrl-D to quit.\n`);
    this.openPrompt();
    // While a statement runs the terminal is in cooked mode: Ctrl-C is a signal, and cancels it.
    const onSignal = () => {
      this.stopWatch?.abort();
      if (this.running) void this.factory.cancelActive();
    };
    let terminated = false;
    const onTerminate = () => {
      onSignal();
      terminated = true;
      // Also when Ctrl-D at `>>` has closed the line editor already (the COPY it ended may run).
      this.closed = true;
      // At `>>` nothing typed is sent.
      if (this.copying) this.copyCancelled = true;
      this.rl.close();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onTerminate);
    try {
      for (;;) {
        const line = await this.nextLine();
        if (line === null) {
          // Ctrl-D: end the prompt's line, as psql does.
          this.io.stdout.write('\n');
          break;
        }
        if ((await this.acceptLine(line)) === 'quit') break;
      }
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onTerminate);
      this.rl.close();
    }
    return terminated ? 'terminated' : 'ended';
  }

  /** The line editor at the prompt, with its key handling. */
  private openPrompt(): void {
    this.rl = readline.createInterface({
      input: this.io.stdin,
      output: this.io.stdout,
      terminal: true,
      history: this.history.load(),
      historySize: 1000,
      removeHistoryDuplicates: true,
      completer: (line: string, callback: (error: Error | null, result: [string[], string]) => void) => this.complete(line, callback),
    });
    this.rl.on('line', (line) => {
      const waiting = this.waiting;
      if (waiting === undefined) return void this.queued.push(line);
      this.waiting = undefined;
      this.hold();
      waiting(line);
    });
    this.rl.on('close', () => {
      // Ctrl-D at a COPY's `>>` prompt ends its data, as `\.` does, and not the shell (psql
      // clears the end-of-file there too): the next prompt opens a line editor again.
      if (this.copying && !this.closed && this.io.stdin.isTTY === true) this.reopenPrompt = true;
      else this.closed = true;
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.(null);
    });
    // At the prompt (raw mode) Ctrl-C arrives as a key: it clears the line and the query buffer.
    this.rl.on('SIGINT', () => {
      this.io.stdout.write('^C\n');
      const rl = this.rl as unknown as { line: string; cursor: number };
      rl.line = '';
      rl.cursor = 0;
      if (this.copying) {
        this.copyCancelled = true;
        const waiting = this.waiting;
        this.waiting = undefined;
        this.hold();
        return waiting?.(null);
      }
      this.pending = [];
      this.rl.setPrompt(this.promptText());
      this.rl.prompt();
    });
  }

  private promptText(): string {
    const state = this.status === 'T' ? '*' : this.status === 'E' ? '!' : '';
    const mark = this.pending.length > 0 ? '-' : this.session.inInactiveBranch ? '@' : '=';
    return `${this.factory.settings.dbname}${mark}${state}> `;
  }

  private nextLine(prompt = this.promptText()): Promise<string | null> {
    const queued = this.queued.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(null);
    if (this.reopenPrompt) {
      this.reopenPrompt = false;
      this.openPrompt();
    }
    this.rl.setPrompt(prompt);
    this.setRaw(true);
    this.rl.resume();
    this.rl.prompt(true);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** Stops reading keys while a line is handled; Ctrl-C becomes a signal again. */
  private hold(): void {
    this.rl.pause();
    this.setRaw(false);
  }

  private setRaw(on: boolean): void {
    if (this.io.stdin.isTTY === true) this.io.stdin.setRawMode(on);
  }

  /**
   * The one dispatch of what is typed: a line with a meta-command goes to the shell's own table
   * when it is one of its commands, else (with the query buffer before it) to the psql session,
   * as a script's line would; SQL waits in the buffer until a statement is complete.
   */
  private async acceptLine(line: string): Promise<void | 'quit'> {
    if (this.pending.length === 0 && line.trim() === '') return;
    const meta = firstMetaCommand(line);
    // A quote or comment still open in the buffer hides a backslash: let the session's lexer decide.
    const command = meta === undefined ? undefined : firstMetaCommand([...this.pending, line].join('\n'));
    if (meta === undefined || command === undefined) return this.acceptSql([line]);
    if (Object.hasOwn(SHELL_COMMANDS, command.name) || !SUPPORTED_META_COMMANDS.has(command.name)) {
      // Text before the command on its line joins the query buffer (\watch and \e use it).
      const before = line.slice(0, meta.at);
      if (before.trim() !== '') this.pending.push(before);
      this.history.append([line]);
      return this.backslash(line.slice(meta.at));
    }
    const entered = [...this.pending, line];
    this.history.append(entered);
    this.pending = [];
    const text = entered.join('\n');
    const sql = text.slice(0, command.at).trim();
    if (sql !== '') this.lastQuery = sql;
    await this.runSession(text);
  }

  /** Adds lines to the query buffer and runs the statements they complete. */
  private async acceptSql(lines: string[]): Promise<void> {
    const entered = [...this.pending, ...lines];
    const { complete, rest } = takeCompleteStatements(entered.join('\n'));
    if (complete === undefined) {
      this.pending = entered;
      return;
    }
    this.history.append(entered);
    this.pending = rest.trim() === '' ? [] : [rest.replace(/^\s*\n/, '')];
    this.lastQuery = complete.trim();
    await this.runSession(complete);
  }

  /** Statements and psql meta-commands, through the session (the code of `query -f`). */
  private async runSession(text: string): Promise<void> {
    this.noticeLostConnection();
    if (await this.session.awaitsCopyData(text).catch(() => false)) {
      const data = await this.readCopyData();
      if (data === undefined) return void this.io.stderr.write('pgfactory: COPY cancelled; nothing was sent\n');
      text = `${text}\n${data}`;
    }
    this.running = true;
    try {
      await this.session.runText(text);
    } catch (error) {
      this.report(error);
    } finally {
      this.running = false;
    }
    await this.refreshStatus();
    if (changesCatalog(text)) this.names = undefined;
  }

  /**
   * The data lines of a COPY from stdin, typed at the `>>` prompt up to `\.` or Ctrl-D, followed
   * by the `\.` that ends them in a script; undefined after Ctrl-C.
   */
  private async readCopyData(): Promise<string | undefined> {
    this.io.stdout.write('Enter data to be copied followed by a newline.\nEnd with a backslash and a period on a line by itself.\n');
    const lines: string[] = [];
    this.copying = true;
    this.copyCancelled = false;
    try {
      let line = await this.nextLine('>> ');
      for (; line !== null && line !== '\\.'; line = await this.nextLine('>> ')) lines.push(line);
      // Ctrl-D: end the `>>` line, as at the prompt.
      if (line === null && !this.copyCancelled) this.io.stdout.write('\n');
    } finally {
      this.copying = false;
    }
    return this.copyCancelled ? undefined : [...lines, '\\.', ''].join('\n');
  }

  /** Says so when the connection was lost since the last statement: the next one opens another. */
  private noticeLostConnection(): void {
    const lost = this.factory.stats().connections_lost;
    if (this.reconnectDue || lost > this.lostSeen) {
      this.io.stderr.write(`pgfactory: the connection was lost; opening a new one to ${this.core.describeServer(this.factory.settings)}\n`);
      this.lostSeen = lost;
      this.reconnectDue = false;
      this.status = 'I';
    }
  }

  private async backslash(line: string): Promise<void | 'quit'> {
    const { name, args } = parseBackslash(line);
    const command = Object.hasOwn(SHELL_COMMANDS, name) ? SHELL_COMMANDS[name] : undefined;
    if (command === undefined) {
      this.io.stderr.write(`invalid command \\${name}: try \\? for help\n`);
      return;
    }
    try {
      return await command.run(this, args);
    } catch (error) {
      this.report(error);
    }
  }

  // ShellHost: what backslash commands use.

  /** A catalog query of a shell command (\d …), printed as results are. */
  async execute(sql: string, params?: string[]): Promise<boolean> {
    this.noticeLostConnection();
    const writer = this.writer(this.options.pager);
    this.running = true;
    let ok = true;
    try {
      await this.core.runQuery(this.factory, {
        sql,
        params,
        statementTimeoutMs: this.options.statementTimeoutMs,
        onTiming: this.session.timing ? (ms) => this.io.stdout.write(`Time: ${ms.toFixed(3)} ms\n`) : undefined,
        onNotice: (notice) => this.io.stderr.write(`${this.core.formatNotice(notice)}\n`),
      }, writer);
    } catch (error) {
      ok = false;
      this.report(error);
    } finally {
      this.running = false;
    }
    await this.refreshStatus();
    if (changesCatalog(sql)) this.names = undefined;
    return ok;
  }

  /** A result writer with the session's settings, fitted to the terminal as it is now. */
  private writer(pager: boolean, format = this.format, nullString = this.options.nullString): ReturnType<ShellCore['createResultWriter']> {
    return this.core.createResultWriter(format, this.io.stdout, this.io.stderr, {
      nullString,
      expanded: this.expanded,
      paintHeader: this.options.paintHeader,
      rowRules: this.options.rowRules,
      maxValueWidth: this.options.maxValueWidth,
      terminal: terminalOf(this.io.stdout, this.io.env, pager),
    });
  }

  async lookup(sql: string, params?: string[]): Promise<Array<Array<string | null>>> {
    const result = await this.factory.withConnection((client) => client.query({ text: sql, values: params, rowMode: 'array' }));
    return result.rows as Array<Array<string | null>>;
  }

  currentQuery(): string | undefined {
    const buffer = this.pending.join('\n');
    return buffer.trim() !== '' ? buffer : this.lastQuery;
  }

  async editQuery(text: string): Promise<void> {
    this.pending = [];
    const lines = text.replace(/\n+$/, '').split('\n');
    if (lines.length === 1 && lines[0].trim() === '') return;
    for (const line of lines) (this.rl as unknown as { history: string[] }).history.unshift(line);
    await this.acceptSql(lines);
  }

  async watch(sql: string, seconds: number): Promise<void> {
    const stop = new AbortController();
    this.stopWatch = stop;
    const statement = sql.trim().replace(/;\s*$/, '');
    try {
      await watch({
        intervalSeconds: seconds,
        signal: stop.signal,
        writeHeader: (text) => void this.io.stdout.write(text),
        runOnce: async () => {
          // psql does not page \watch either.
          const writer = this.writer(false);
          this.running = true;
          try {
            await this.core.runQuery(this.factory, { sql: statement, statementTimeoutMs: this.options.statementTimeoutMs, onNotice: (notice) => this.io.stderr.write(`${this.core.formatNotice(notice)}\n`) }, writer);
          } finally {
            this.running = false;
          }
          this.io.stdout.write('\n');
        },
      });
    } catch (error) {
      this.report(error);
    } finally {
      this.stopWatch = undefined;
      this.pending = [];
    }
    await this.refreshStatus();
  }

  print(text: string): void {
    this.io.stdout.write(text);
  }

  conninfo(): string {
    const { settings } = this.factory;
    return `You are connected to database "${settings.dbname}" as user "${settings.user}" on ${this.core.describeServer(settings)}.`;
  }

  editor(): string {
    const { env } = this.io;
    return env.PGFACTORY_EDITOR ?? env.PSQL_EDITOR ?? env.EDITOR ?? env.VISUAL ?? 'vi';
  }

  // The rest: errors, transaction status, completion.

  private report(error: unknown): void {
    // The socket died, or the server ended the session (SQLSTATE 57P…: terminated, shutting down).
    const lost = ownError(error) && (error.code === 'connection_lost' || /^57P/.test(String((error as { sqlstate?: unknown }).sqlstate)));
    if (lost) {
      this.io.stderr.write(`${error.code === 'server' ? '' : 'pgfactory: '}${error.message}\npgfactory: a new connection is opened for the next statement\n`);
      this.lostSeen = this.factory.stats().connections_lost;
      this.reconnectDue = true;
      this.status = 'I';
      return;
    }
    if (error instanceof ShellCommandError) this.io.stderr.write(`${error.message}\n`);
    // Server errors read as psql prints them; ours keep their label.
    else if (ownError(error)) this.io.stderr.write(`${error.code === 'server' ? '' : 'pgfactory: '}${error.message}\n`);
    else this.io.stderr.write(`pgfactory: internal error: ${(error as Error)?.message ?? String(error)}\n`);
  }

  private async refreshStatus(): Promise<void> {
    if (this.reconnectDue) return;
    try {
      // The pool's one idle connection: no round trip, the status came with ReadyForQuery.
      this.status = await this.factory.withConnection(async (client) => client.getTransactionStatus() ?? 'I');
    } catch (error) {
      this.report(error);
    }
  }

  private complete(line: string, callback: (error: Error | null, result: [string[], string]) => void): void {
    const word = wordAtEnd(line);
    const commands = [...Object.keys(SHELL_COMMANDS), ...SUPPORTED_META_COMMANDS].map((name) => `\\${name}`);
    const answer = () => callback(null, [completeWord(word, this.names, commands), word]);
    // Inside a failed transaction every query fails: complete keywords only.
    if (this.names !== undefined || word.startsWith('\\') || this.status === 'E' || this.reconnectDue) return answer();
    this.factory.withConnection(readCatalogNames).then(
      (names) => {
        this.names = names;
        answer();
      },
      () => answer(),
    );
  }
}
