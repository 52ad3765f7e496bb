// bench's operation as a pg Submittable that steps over its own result on the socket, the way
// pgbench never looks at its rows. pg still opens, authenticates and owns the connection, and
// still reads ReadyForQuery and any error (so its state, and error reporting, stay pg's); only the
// RowDescription/DataRow/CommandComplete messages in between are skipped unparsed. With several
// clients on 2 cores the client's CPU per operation competes with the server's, and pg's parser
// was the larger part of it (figures in bench/README.md). Where pg's socket cannot be shared the
// query goes through pg's own parser; `ResultPaths` counts which way each query went.
import type { Socket } from 'node:net';
import type pg from 'pg';
import { connectionSocket, sendCopyFail, sendQuery, takeSocketData } from '../pg-internals.js';

const QUERY = 0x51; // Q
// Messages pg must read itself: the end of the query, an error, or a COPY pg has to answer.
const READY_FOR_QUERY = 0x5a; // Z
const ERROR_RESPONSE = 0x45; // E
const COPY_IN_RESPONSE = 0x47; // G
const COPY_BOTH_RESPONSE = 0x57; // W
const MESSAGE_HEADER = 5;

type DataHandler = (chunk: Buffer) => void;

/** How many queries stepped over their result (`skipping`) and how many pg parsed (`pg`). */
export interface ResultPaths {
  skipping: number;
  pg: number;
}

/** A simple-protocol Query message: built once for fixed SQL, per operation when variables are written into it. */
export function queryMessage(text: string): Buffer {
  const length = Buffer.byteLength(text);
  // Every byte is written below; small unsafe buffers come from Node's pool, without zero-filling.
  const message = Buffer.allocUnsafe(MESSAGE_HEADER + length + 1);
  message[0] = QUERY;
  message.writeUInt32BE(4 + length + 1, 1);
  message.write(text, MESSAGE_HEADER);
  message[MESSAGE_HEADER + length] = 0;
  return message;
}

/**
 * Takes the place of pg's 'data' listener on one socket (once, for the connection's life) and
 * gives pg every byte that no skipping query claims.
 */
class SocketRouter {
  active: SkippingQuery | undefined;
  // pg's own 'data' listener, set once this router has taken its place.
  pgHandler: DataHandler = () => undefined;

  readonly onData = (chunk: Buffer): void => {
    const query = this.active;
    if (query === undefined) {
      this.pgHandler(chunk);
      return;
    }
    const rest = query.skip(chunk);
    if (rest === undefined) return;
    this.active = undefined;
    this.pgHandler(rest);
  };
}

const routers = new WeakMap<Socket, SocketRouter | null>();

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
 * Settles like pg's own Query: rejected at the server's ErrorResponse, resolved at ReadyForQuery.
 * No JS result object is built either way.
 */
export class SkippingQuery implements pg.Submittable {
  private settled = false;
  // Bytes of the message being skipped still to come, and a header cut off by the chunk's end.
  private remaining = 0;
  private partialHeader: Buffer | undefined;

  constructor(
    private readonly text: string,
    private readonly message: Buffer,
    private readonly resolve: () => void,
    private readonly reject: (error: Error) => void,
    private readonly paths?: ResultPaths,
  ) {}

  submit(connection: pg.Connection): void {
    const socket = connectionSocket(connection);
    const router = routerFor(socket);
    if (router === undefined) {
      if (this.paths !== undefined) this.paths.pg += 1;
      sendQuery(connection, this.text);
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
    this.reject(error);
  }

  handleReadyForQuery(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve();
  }
}
