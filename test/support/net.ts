// Network stand-ins for fault tests: a listener that accepts and never answers, and a TCP proxy in
// front of the test server that can swallow cancel requests or cut every connection.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

export interface SilentListener {
  port: number;
  /** Connections accepted so far. */
  accepted(): number;
  /** performance.now() of the first accepted connection, undefined before. */
  firstAcceptedAt(): number | undefined;
  close(): Promise<void>;
}

/** Accepts TCP connections on 127.0.0.1 and never sends a byte. */
export async function startSilentListener(): Promise<SilentListener> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  let firstAcceptedAt: number | undefined;
  const server = net.createServer((socket) => {
    accepted += 1;
    firstAcceptedAt ??= performance.now();
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    firstAcceptedAt: () => firstAcceptedAt,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

export interface Proxy {
  port: number;
  /** Cancel requests seen (and swallowed when dropCancel is on). */
  cancelRequests(): number;
  /** Destroys every open connection, as a network failure would. */
  cutAll(): void;
  /** With recordClientMessages: the type byte of every message clients sent after the startup packet. */
  clientMessageTypes(): string[];
  close(): Promise<void>;
}

// The first 8 bytes of a CancelRequest: length 16, code 80877102.
const CANCEL_REQUEST_CODE = 80877102;

export interface ProxyOptions {
  /** Cancel requests never reach the server. */
  dropCancel?: boolean;
  /** The server's replies reach the client in pieces of 1..N bytes, one socket write each. */
  splitRepliesMax?: number;
  /** Parse what clients send (plain connections only) and keep each message's type byte. */
  recordClientMessages?: boolean;
}

/** Forwards 127.0.0.1:<port> to the target. */
export async function startProxy(targetPort: number, options: ProxyOptions = {}): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  let cancelRequests = 0;
  const clientTypes: string[] = [];
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = net.createServer((client) => {
    track(client);
    client.once('data', (first: Buffer) => {
      if (first.length >= 8 && first.readInt32BE(0) === 16 && first.readInt32BE(4) === CANCEL_REQUEST_CODE) {
        cancelRequests += 1;
        if (options.dropCancel === true) {
          client.destroy();
          return;
        }
      }
      const upstream = net.connect(targetPort, '127.0.0.1');
      track(upstream);
      if (options.recordClientMessages === true) recordTypes(first, client, clientTypes);
      upstream.write(first);
      client.pipe(upstream);
      if (options.splitRepliesMax === undefined) upstream.pipe(client);
      else forwardInPieces(upstream, client, options.splitRepliesMax);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cancelRequests: () => cancelRequests,
    clientMessageTypes: () => [...clientTypes],
    cutAll: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Splits a client's byte stream into protocol messages: the untyped startup packet, then typed ones. */
function recordTypes(first: Buffer, client: net.Socket, types: string[]): void {
  let pending = first;
  let startupDone = false;
  const take = () => {
    for (;;) {
      if (!startupDone) {
        if (pending.length < 4) return;
        const length = pending.readInt32BE(0);
        if (pending.length < length) return;
        pending = pending.subarray(length);
        startupDone = true;
        continue;
      }
      if (pending.length < 5) return;
      const length = pending.readInt32BE(1);
      if (pending.length < 1 + length) return;
      types.push(String.fromCharCode(pending[0]!));
      pending = pending.subarray(1 + length);
    }
  };
  take();
  client.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    take();
  });
}

/** Forwards `from` to `to` in random small pieces, each its own write after a macrotask break. */
function forwardInPieces(from: net.Socket, to: net.Socket, maxPiece: number): void {
  to.setNoDelay(true);
  let queue = Promise.resolve();
  from.on('data', (chunk: Buffer) => {
    from.pause();
    queue = queue.then(async () => {
      for (let at = 0; at < chunk.length && !to.destroyed;) {
        const size = 1 + Math.floor(Math.random() * maxPiece);
        to.write(chunk.subarray(at, at + size));
        at += size;
        await new Promise((resolve) => setImmediate(resolve));
      }
      from.resume();
    });
  });
  from.on('end', () => void queue.then(() => to.end()));
}
