// The server the suite measures against: PGFACTORY_BENCH_URL when set, else a throwaway cluster
// of the system PostgreSQL, else pgfactory's embedded server. Always password auth over TCP;
// the password reaches psql, pgbench and pgfactory through PGPASSWORD only, never argv.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Connection settings as libpq environment variables, over a copy of `base` without PG* noise. */
export function connectionEnv(connection, base = process.env) {
  const env = {};
  for (const [name, value] of Object.entries(base)) {
    // Nothing inherited may redirect a tool elsewhere (DATABASE_URL outranks PG* in pgfactory).
    if (name.startsWith('PG') || name === 'DATABASE_URL') continue;
    env[name] = value;
  }
  env.PGHOST = connection.host;
  env.PGPORT = String(connection.port);
  env.PGUSER = connection.user;
  env.PGDATABASE = connection.dbname;
  env.PGPASSWORD = connection.password;
  env.PGSSLMODE = connection.sslmode ?? 'disable';
  env.PGAPPNAME = 'pgfactory-bench';
  return env;
}

function fromUrl(url, kind) {
  const parsed = new URL(url);
  return {
    kind,
    host: parsed.hostname === '' ? '127.0.0.1' : decodeURIComponent(parsed.hostname).replace(/^\[|\]$/g, ''),
    port: parsed.port === '' ? 5432 : Number(parsed.port),
    user: decodeURIComponent(parsed.username || 'postgres'),
    password: decodeURIComponent(parsed.password),
    dbname: decodeURIComponent(parsed.pathname.replace(/^\//, '') || 'postgres'),
    sslmode: parsed.searchParams.get('sslmode') ?? undefined,
    stop: async () => {},
  };
}

function systemPgBin() {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs.readdirSync(root)
    .filter((name) => fs.existsSync(path.join(root, name, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? path.join(root, versions[0], 'bin') : undefined;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Runs a server tool, as the postgres OS user when we are root (PostgreSQL refuses root). */
function runAsServerUser(binary, args) {
  const [command, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
  const result = spawnSync(command, argv, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  if (result.status !== 0) {
    const output = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${path.basename(binary)} failed: ${output}`);
  }
}

/**
 * A quarter of the machine's memory, the starting value PostgreSQL's documentation gives for a
 * dedicated server, between its default 128 MB and 4 GB.
 */
export function sharedBuffersMiB(totalBytes = os.totalmem()) {
  return Math.max(128, Math.min(4096, Math.floor(totalBytes / 4 / 1024 / 1024)));
}

async function startSystemCluster(binDir, tmpDir) {
  const home = path.join(tmpDir, 'cluster');
  const dataDir = path.join(home, 'data');
  const pwFile = path.join(home, 'pwfile');
  const password = randomBytes(12).toString('hex');
  fs.mkdirSync(home, { mode: 0o755 });
  fs.chmodSync(tmpDir, 0o755);
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (isRoot()) execFileSync('chown', ['-R', 'postgres:', home]);
  const port = await freePort();
  runAsServerUser(path.join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwFile}`, '-E', 'UTF8', '--locale=C', '--no-sync']);
  fs.rmSync(pwFile);
  const serverOptions = [
    `-p ${port}`, "-c listen_addresses='127.0.0.1'", `-c unix_socket_directories='${home}'`,
    // Fewer forced checkpoints during the multi-million-row imports; the same for every tool.
    '-c max_wal_size=4GB',
    // Room for the 10M-row load's table and key index: past shared_buffers a COPY evicts dirty
    // pages itself, each once the WAL up to it is flushed, and a load costs more per row the
    // larger it grows, for psql as for pgfactory (bench/README.md, How it measures).
    `-c shared_buffers=${sharedBuffersMiB()}MB`,
    // `insert --jobs N` commits through two-phase commit (as the embedded server allows).
    '-c max_prepared_transactions=64',
    // More settings for both sides, e.g. '-c huge_pages=on' (bench/README.md, Knobs).
    process.env.BENCH_SERVER_OPTIONS ?? '',
  ].join(' ').trim();
  runAsServerUser(path.join(binDir, 'pg_ctl'), ['-D', dataDir, '-l', path.join(home, 'server.log'), '-o', serverOptions, '-w', '-t', '60', 'start']);
  return {
    kind: `system PostgreSQL (${binDir})`,
    host: '127.0.0.1', port, user: 'postgres', password, dbname: 'postgres',
    stop: async () => {
      try {
        runAsServerUser(path.join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      } finally {
        fs.rmSync(home, { recursive: true, force: true });
      }
    },
  };
}

async function startEmbedded(pgfactory, tmpDir) {
  const dir = path.join(tmpDir, 'embedded');
  // As root the server runs as the postgres OS user, which must reach into the temp dir.
  fs.chmodSync(tmpDir, 0o755);
  const env = { ...process.env, PGFACTORY_EMBEDDED_DIR: dir };
  delete env.DATABASE_URL;
  try {
    execFileSync(pgfactory, ['embedded', 'start'], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (error) {
    throw new Error(`pgfactory embedded start failed: ${(error.stderr ?? '').trim().split('\n')[0] || error.message}`);
  }
  const uri = execFileSync(pgfactory, ['embedded', 'status', '--uri'], { env, encoding: 'utf8' }).trim();
  return {
    ...fromUrl(uri, 'pgfactory embedded PostgreSQL'),
    stop: async () => {
      try {
        execFileSync(pgfactory, ['embedded', 'stop'], { env, stdio: 'ignore' });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Starts (or names) the server. BENCH_SERVER=system|embedded forces a local kind; with
 * PGFACTORY_BENCH_URL set nothing is started and nothing is stopped.
 */
export async function startServer({ pgfactory, tmpDir, env = process.env }) {
  const url = env.PGFACTORY_BENCH_URL;
  if (url !== undefined && url !== '') return fromUrl(url, 'PGFACTORY_BENCH_URL');
  const forced = env.BENCH_SERVER;
  const binDir = forced === 'embedded' ? undefined : systemPgBin();
  if (forced === 'system' && binDir === undefined) throw new Error('BENCH_SERVER=system but no /usr/lib/postgresql/*/bin/pg_ctl');
  return binDir !== undefined ? startSystemCluster(binDir, tmpDir) : startEmbedded(pgfactory, tmpDir);
}
