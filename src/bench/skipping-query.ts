// bench's operation as a pg Submittable that steps over its own result on the socket, the way
// pgbench never looks at its rows. pg still opens, authenticates and owns the connection, and
// still reads ReadyForQuery and any error (so its state, and error reporting, stay pg's); only the
// RowDescription/DataRow/CommandComplete messages in between are skipped unparsed. With several
// clients on 2 cores the client's CPU per operation competes with the server's, and pg's parser
// was the larger part of it (figures in bench/README.md). Where pg's socket cannot be shared the
// query goes through pg's own parser; `ResultPaths` counts which way each query went.
// A plain (unencrypted) bench connection reads into one reused buffer (`readingSocket`), not into a
// new Buffer and a stream 'data' event per read.
import { Socket, type SocketConstructorOpts } from 'node:net';
import type pg from 'pg';
import { connectionSocket, sendCopyFail, sendQuery, takeSocketData } from '../pg-internals.js';

const QUERY = 0x51; // Q
// Messages pg must read itself: the end of the query, an error, or a COPY pg has to answer.
const READY_FOR_QUERY = 0x5a; // Z
const ERROR_RESPONSE = 0x45; // E
const COPY_IN_RESPONSE = 0x47; // G
const COPY_BOTH_RESPONSE = 0x57; // W
const MESSAGE_HEADER = 5;
const READ_BUFFER_BYTES = 64 * 1024;

type DataHandler = (chunk: Buffer) => void;

/** How many queries stepped over their result (`skipping`) and how many pg parsed (`pg`). */
export interface ResultPaths {
  skipping: number;
  pg: number;
}

/** A simple-protocol Query message of fixed SQL. */
export function queryMessage(text: string): Buffer {
  const body = Buffer.from(text);
  const message = queryMessageBuffer(body.length);
  body.copy(message, MESSAGE_HEADER);
  return message;
}

/** An unfilled Query message for `textBytes` bytes of SQL: header and terminator written, the text from offset 5. */
export function queryMessageBuffer(textBytes: number): Buffer {
  // Every byte is written by the caller; small unsafe buffers come from Node's pool, without zero-filling.
  const message = Buffer.allocUnsafe(MESSAGE_HEADER + textBytes + 1);
  message[0] = QUERY;
  message.writeUInt32BE(4 + textBytes + 1, 1);
  message[MESSAGE_HEADER + textBytes] = 0;
  return message;
}

/** The SQL text of a Query message (for pg's own path, which takes text). */
function messageText(message: Buffer): string {
  return message.toString('utf8', MESSAGE_HEADER, message.length - 1);
}

/** Told once when the statement ends: no error at ReadyForQuery, else the server's (or the socket's) error. */
export type StatementDone = (error?: Error) => void;

/**
 * Sees a socket's bytes before pg does and gives pg every byte that no skipping query claims:
 * either in place of pg's 'data' listener (`onData`), or as the `onread` callback of a socket made
 * by `readingSocket` (`onRead`), whose buffer is read into again, so what pg gets is copied.
 */
class SocketRouter {
  active: SkippingQuery | undefined;
  // pg's own 'data' listener, set once this router has taken its place (or the socket's 'data' event).
  pgHandler: DataHandler = () => undefined;

  readonly onData = (chunk: Buffer): void => {
    const rest = this.claim(chunk);
    if (rest !== undefined) this.pgHandler(rest);
  };

  readonly onRead = (bytes: number, buffer: Buffer): void => {
    const rest = this.claim(buffer.subarray(0, bytes));
    if (rest !== undefined) this.pgHandler(Buffer.from(rest));
  };

  /** The bytes that are pg's, if any. */
  private claim(chunk: Buffer): Buffer | undefined {
    const query = this.active;
    if (query === undefined) return chunk;
    const rest = query.skip(chunk);
    if (rest !== undefined) this.active = undefined;
    return rest;
  }
}

const routers = new WeakMap<Socket, SocketRouter | null>();

/**
 * A socket for pg's `stream` option (plain TCP or unix socket only: TLS reads the socket's handle
 * itself) whose reads land in one buffer, given to its router; pg's 'data' listener gets its bytes
 * through the socket's 'data' event, which otherwise stays silent.
 */
export function readingSocket(): Socket {
  const router = new SocketRouter();
  // Node's Socket constructor takes `onread` as connect() does; @types/node lists it for connect() only.
  const options = { onread: { buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES), callback: router.onRead } } as SocketConstructorOpts;
  const socket = new Socket(options);
  router.pgHandler = (chunk) => socket.emit('data', chunk);
  routers.set(socket, router);
  return socket;
}

function routerFor(socket: Socket): SocketRouter | undefined {
  let router = routers.get(socket);
  if (router === undefined) {
    // A socket that cannot be shared (see takeSocketData) sends its queries through pg's parser.
    const candidate = new SocketRouter();
    const pgHandler = takeSocketData(socket, candidate.onData);
    if (pgHandler !== undefined) candidate.pgHandler = pgHandler;
    router = pgHandler !== undefined ? candidate : null;
    routers.set(socket, router);
  }
  return router ?? undefined;
}

/**
 * Ends like pg's own Query: with the error at the server's ErrorResponse, without one at
 * ReadyForQuery. No JS result object is built either way, and no promise: the caller's callback
 * can send the next statement at once, from inside pg's ReadyForQuery handler (pg has cleared
 * its active query by then and sends a query given to it there).
 */
export class SkippingQuery implements pg.Submittable {
  private settled = false;
  // Bytes of the message being skipped still to come, and a header cut off by the chunk's end.
  private remaining = 0;
  private partialHeader: Buffer | undefined;

  constructor(
    private readonly message: Buffer,
    private readonly done: StatementDone,
    private readonly paths?: ResultPaths,
  ) {}

  submit(connection: pg.Connection): void {
    const socket = connectionSocket(connection);
    const router = routerFor(socket);
    if (router === undefined) {
      if (this.paths !== undefined) this.paths.pg += 1;
      sendQuery(connection, messageText(this.message));
      return;
    }
    if (this.paths !== undefined) this.paths.skipping += 1;
    router.active = this;
    socket.write(this.message);
  }

  /** Steps over whole messages; returns the bytes from the first one pg must read, if it came. */
  skip(input: Buffer): Buffer | undefined {
    let chunk = input;
    if (this.partialHeader !== undefined) {
      chunk = Buffer.concat([this.partialHeader, input]);
      this.partialHeader = undefined;
    }
    let pos = 0;
    while (pos < chunk.length) {
      if (this.remaining > 0) {
        const skipped = Math.min(this.remaining, chunk.length - pos);
        pos += skipped;
        this.remaining -= skipped;
        continue;
      }
      const code = chunk[pos];
      if (code === READY_FOR_QUERY || code === ERROR_RESPONSE || code === COPY_IN_RESPONSE || code === COPY_BOTH_RESPONSE) {
        // pg's parser copes with a message cut short: it waits for the rest itself.
        return pos === 0 ? chunk : chunk.subarray(pos);
      }
      if (chunk.length - pos < MESSAGE_HEADER) {
        this.partialHeader = Buffer.from(chunk.subarray(pos));
        return undefined;
      }
      // The length counts itself but not the type byte.
      this.remaining = 1 + chunk.readUInt32BE(pos + 1);
    }
    return undefined;
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
  handleCopyInResponse(connection: pg.Connection): void {
    sendCopyFail(connection, 'bench does not send COPY data');
  }

  handleError(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.done(error);
  }

  handleReadyForQuery(): void {
    if (this.settled) return;
    this.settled = true;
    this.done();
  }
}
