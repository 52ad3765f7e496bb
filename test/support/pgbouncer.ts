// Starts Debian's pgbouncer in transaction-pooling mode on a free port in front of a test server.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/embedded.js';

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

/** The pgbouncer binary, or undefined when it is not installed. */
export function findPgbouncer(): string | undefined {
  try {
    const found = execFileSync('sh', ['-c', 'command -v pgbouncer'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (found !== '') return found;
  } catch {
    // not on PATH
  }
  return CANDIDATES.find((candidate) => fs.existsSync(candidate));
}

export interface Bouncer {
  port: number;
  /** The server's URL with the port swapped for pgbouncer's. */
  url: string;
  /** How many server connections pgbouncer may open per user/database pair. */
  poolSize: number;
  stop(): Promise<void>;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** `serverUrl` must carry user and password: pgbouncer logs in to the server with them (auth_file). */
export async function startPgbouncer(serverUrl: string, options: { poolSize?: number; authType?: 'scram-sha-256' | 'trust' } = {}): Promise<Bouncer> {
  const binary = findPgbouncer();
  if (binary === undefined) throw new Error('pgbouncer is not installed');
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  const poolSize = options.poolSize ?? 20;
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-bouncer-'));
  fs.chmodSync(dir, 0o755);
  const quote = (text: string) => `"${text.replace(/"/g, '""')}"`;
  fs.writeFileSync(path.join(dir, 'userlist.txt'), `${quote(user)} ${quote(password)}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `* = host=127.0.0.1 port=${server.port}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    `auth_type = ${options.authType ?? 'scram-sha-256'}`,
    `auth_file = ${path.join(dir, 'userlist.txt')}`,
    'pool_mode = transaction',
    `default_pool_size = ${poolSize}`,
    'max_client_conn = 500',
    `logfile = ${path.join(dir, 'pgbouncer.log')}`,
    `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
    '',
  ].join('\n'));
  // pgbouncer refuses to run as root; the server's own OS user will do.
  if (isRoot()) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    for (const file of ['userlist.txt', 'pgbouncer.ini']) fs.chownSync(path.join(dir, file), uid, gid);
    fs.chownSync(dir, uid, gid);
  }
  const args = isRoot() ? ['-u', 'postgres', path.join(dir, 'pgbouncer.ini')] : [path.join(dir, 'pgbouncer.ini')];
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitForPort(port, child, () => stderr, dir);
  const url = new URL(serverUrl);
  url.port = String(port);
  return {
    port,
    url: url.toString(),
    poolSize,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => {
        fs.rmSync(dir, { recursive: true, force: true });
        resolve();
      });
      child.kill('SIGTERM');
    }),
  };
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string, dir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      let log = '';
      try {
        log = fs.readFileSync(path.join(dir, 'pgbouncer.log'), 'utf8');
      } catch {
        // no log
      }
      throw new Error(`pgbouncer exited with ${child.exitCode}: ${stderr()}${log}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`pgbouncer did not listen on port ${port} within 10 s: ${stderr()}`);
}
