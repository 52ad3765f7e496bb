// A second, throwaway embedded PostgreSQL for tests that must change or stop their server (TLS on,
// server stopped mid-command). The shared server from global-setup.ts is never touched.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { destroyEmbedded, embeddedUri, ensureEmbedded, freePort, stopEmbedded, type EmbeddedServer } from '../../src/embedded.js';

export interface TestServer {
  dir: string;
  port: number;
  user: string;
  password: string;
  /** postgres://user:password@127.0.0.1:port/postgres */
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
  /** Runs SQL through a plain pg client (no TLS). */
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
}

export interface TlsFiles {
  /** PEM files the server reads; copied into the data directory. */
  cert: string;
  key: string;
  /** CA for client certificates (ssl_ca_file). */
  ca: string;
}

export interface ServerOptions {
  tls?: TlsFiles;
  /** pg_hba.conf lines put before initdb's own (first match wins). */
  hbaFirst?: string[];
  /** postgresql.conf lines appended (they override the embedded defaults). */
  conf?: string[];
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** The uid/gid the server runs as (the `postgres` OS user when we are root). */
function serverOwner(): { uid: number; gid: number } | undefined {
  if (!isRoot()) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** Copies a file into the data directory readable by the server only (PostgreSQL insists on 0600 keys). */
export function installServerFile(dataDir: string, source: string, name: string): string {
  const target = path.join(dataDir, name);
  fs.copyFileSync(source, target);
  fs.chmodSync(target, 0o600);
  const owner = serverOwner();
  if (owner !== undefined) fs.chownSync(target, owner.uid, owner.gid);
  return name;
}

/** Edits postgresql.conf / pg_hba.conf of a stopped server for TLS and extra hba rules. */
export function configureServer(dir: string, options: ServerOptions): void {
  const data = path.join(dir, 'data');
  if (options.tls !== undefined) {
    const cert = installServerFile(data, options.tls.cert, 'server.crt');
    const key = installServerFile(data, options.tls.key, 'server.key');
    const ca = installServerFile(data, options.tls.ca, 'root.crt');
    fs.appendFileSync(path.join(data, 'postgresql.conf'), [
      '',
      '# test TLS',
      'ssl = on',
      `ssl_cert_file = '${cert}'`,
      `ssl_key_file = '${key}'`,
      `ssl_ca_file = '${ca}'`,
      '',
    ].join('\n'));
  }
  if (options.conf !== undefined) fs.appendFileSync(path.join(data, 'postgresql.conf'), ['', '# test settings', ...options.conf, ''].join('\n'));
  if (options.hbaFirst !== undefined && options.hbaFirst.length > 0) {
    const hba = path.join(data, 'pg_hba.conf');
    const original = fs.readFileSync(hba, 'utf8');
    fs.writeFileSync(hba, `${options.hbaFirst.join('\n')}\n${original}`);
  }
}

/** Initialises and starts a new server in its own temp directory, optionally with TLS. */
export async function startTestServer(options: ServerOptions = {}): Promise<TestServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-own-'));
  fs.chmodSync(dir, 0o755);
  let server: EmbeddedServer = await ensureEmbedded(dir);
  if (options.tls !== undefined || options.hbaFirst !== undefined || options.conf !== undefined) {
    await stopEmbedded(dir);
    configureServer(dir, options);
    server = await ensureEmbedded(dir);
  }
  return serverAt(dir, server);
}

/** The TestServer handle of the embedded server in `dir` (its port must stay the same across restarts). */
function serverAt(dir: string, server: EmbeddedServer): TestServer {
  const url = embeddedUri(server);
  return {
    dir,
    port: server.port,
    user: server.user,
    password: server.password,
    url,
    async start() {
      const again = await ensureEmbedded(dir);
      if (again.port !== server.port) throw new Error(`test server came back on port ${again.port}, not ${server.port}`);
    },
    async stop() {
      await stopEmbedded(dir);
    },
    async destroy() {
      await destroyEmbedded(dir);
    },
    async sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []) {
      const client = new pg.Client({ connectionString: url, ssl: false });
      await client.connect();
      try {
        return (await client.query<T>(text, values)).rows;
      } finally {
        await client.end();
      }
    },
  };
}

export interface ReplicaPair {
  primary: TestServer;
  standby: TestServer;
  destroy(): Promise<void>;
}

/**
 * A primary and a streaming hot standby of it. The embedded packages ship no pg_basebackup, so the
 * standby is a copy of the cleanly stopped primary's data directory with standby.signal and
 * primary_conninfo; initdb's pg_hba.conf already lets 127.0.0.1 replicate with the password.
 */
export async function startReplicaPair(): Promise<ReplicaPair> {
  const primary = await startTestServer();
  await primary.stop();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-standby-'));
  fs.chmodSync(dir, 0o755);
  // cp -a keeps the owner (the postgres OS user when we are root) and the 0700 mode.
  execFileSync('cp', ['-a', path.join(primary.dir, 'data'), path.join(dir, 'data')]);
  const state = JSON.parse(fs.readFileSync(path.join(primary.dir, 'embedded.json'), 'utf8')) as { port: number };
  state.port = await freePort();
  fs.writeFileSync(path.join(dir, 'embedded.json'), JSON.stringify(state), { mode: 0o600 });
  const data = path.join(dir, 'data');
  fs.rmSync(path.join(data, 'server.log'), { force: true });
  fs.writeFileSync(path.join(data, 'standby.signal'), '');
  const owner = serverOwner();
  if (owner !== undefined) fs.chownSync(path.join(data, 'standby.signal'), owner.uid, owner.gid);
  fs.appendFileSync(path.join(data, 'postgresql.conf'), [
    '',
    '# test standby',
    `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=${primary.user} password=${primary.password}'`,
    'hot_standby = on',
    '',
  ].join('\n'));
  await primary.start();
  const standby = serverAt(dir, await ensureEmbedded(dir));
  // Streaming before any test relies on it.
  for (let tries = 0; tries < 300; tries++) {
    const rows = await primary.sql<{ n: string }>("select count(*) as n from pg_stat_replication where state = 'streaming'");
    if (rows[0]!.n === '1') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    primary,
    standby,
    async destroy() {
      await Promise.all([primary.destroy(), standby.destroy()]);
    },
  };
}
