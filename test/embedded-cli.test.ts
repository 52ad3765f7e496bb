import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { destroyEmbedded, embeddedState, leaseEmbedded } from '../src/embedded.js';
import { runCli } from './helpers.js';

// Its own data directory: this file starts and stops a server of its own.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-embedded-cli-'));
fs.chmodSync(dir, 0o755);
const env = { PGFACTORY_EMBEDDED_DIR: path.join(dir, 'home') };
afterAll(async () => {
  await destroyEmbedded(env.PGFACTORY_EMBEDDED_DIR);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('--embedded and pgfactory embedded', () => {
  it('starts a server for one command, stops it afterwards, and keeps the data', async () => {
    const create = await runCli(['query', '--embedded', 'CREATE TABLE kept (a text); INSERT INTO kept VALUES ($$persisted$$)'], { env, noDatabaseUrl: true });
    expect(create.stderr).toBe('');
    expect(create.stdout).toBe('CREATE TABLE\nINSERT 0 1\n');
    expect(create.code).toBe(0);

    const status = await runCli(['embedded', 'status'], { env, noDatabaseUrl: true });
    expect(status.stdout).toBe(`status: stopped\ndata:   ${env.PGFACTORY_EMBEDDED_DIR}\n`);

    const read = await runCli(['query', '--embedded', '--format', 'csv', 'SELECT a FROM kept'], { env, noDatabaseUrl: true });
    expect(read.stdout).toBe('a\npersisted\n');
  });

  it('start leaves it running, status prints a URI (with the password only for --uri), stop stops it', async () => {
    const start = await runCli(['embedded', 'start'], { env, noDatabaseUrl: true });
    expect(start.code).toBe(0);
    const { port, password } = embeddedState(env.PGFACTORY_EMBEDDED_DIR)!;
    // Shown without the password, as psql's \conninfo: terminals and CI logs keep what is printed.
    expect(start.stdout).toBe(`started: postgres://postgres@127.0.0.1:${port}/postgres\n`);
    const shown = await runCli(['embedded', 'status'], { env, noDatabaseUrl: true });
    expect(shown.stdout.replace(/pid \d+/, 'pid N')).toBe(`status: running (pid N)\ndata:   ${env.PGFACTORY_EMBEDDED_DIR}\nuri:    postgres://postgres@127.0.0.1:${port}/postgres\n`);

    const uri = (await runCli(['embedded', 'status', '--uri'], { env, noDatabaseUrl: true })).stdout.trim();
    expect(uri).toBe(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`);
    // The URI works for any client: here through -d, without --embedded.
    const viaUri = await runCli(['query', '--format', 'csv', 'SELECT count(*) AS n FROM kept'], { noDatabaseUrl: true, env: { DATABASE_URL: uri } });
    expect(viaUri.stdout).toBe('n\n1\n');
    // --embedded uses the running server and leaves it running.
    const viaEmbedded = await runCli(['query', '--embedded', '--format', 'csv', 'SELECT count(*) AS n FROM kept'], { env, noDatabaseUrl: true });
    expect(viaEmbedded).toMatchObject({ stdout: 'n\n1\n', stderr: '', code: 0 });
    const status = await runCli(['embedded', 'status'], { env, noDatabaseUrl: true });
    expect(status.stdout).toMatch(/^status: running \(pid \d+\)\n/);

    const stop = await runCli(['embedded', 'stop'], { env, noDatabaseUrl: true });
    expect(stop.stdout).toBe('stopped\n');
    const again = await runCli(['embedded', 'stop'], { env, noDatabaseUrl: true });
    expect(again.stdout).toBe('not running\n');
    const noUri = await runCli(['embedded', 'status', '--uri'], { env, noDatabaseUrl: true });
    expect(noUri.code).toBe(2);
    expect(noUri.stderr).toBe('pgfactory: the embedded server is not running (pgfactory embedded start)\n');
  });

  it('config --embedded shows the settings --embedded uses', async () => {
    const config = await runCli(['config', '--embedded', '--format', 'json'], { env, noDatabaseUrl: true });
    expect(config.code).toBe(0);
    const { port } = embeddedState(env.PGFACTORY_EMBEDDED_DIR)!;
    const parsed = JSON.parse(config.stdout);
    expect(parsed.host).toEqual({ value: '127.0.0.1', source: 'embedded' });
    expect(parsed.port).toEqual({ value: String(port), source: 'embedded' });
    expect(parsed.user).toEqual({ value: 'postgres', source: 'embedded' });
    expect(parsed.password).toEqual({ value: '********', source: 'embedded' });
    expect(parsed.dbname).toEqual({ value: 'postgres', source: 'embedded' });
    expect(parsed.sslmode).toEqual({ value: 'disable', source: 'embedded' });
  });
});

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('commands sharing the embedded server', () => {
  const status = async () => (await runCli(['embedded', 'status'], { env, noDatabaseUrl: true })).stdout.split('\n')[0];
  const query = (sql: string) => runCli(['query', '--embedded', '--format', 'csv', sql], { env, noDatabaseUrl: true, timeoutMs: 120_000 });

  it('three commands started at once with no server running share one start; the last one stops it', async () => {
    expect(await status()).not.toMatch(/^status: running/);
    const results = await Promise.all([1, 2, 3].map((n) => query(`SELECT ${n} AS n`)));
    for (const [i, result] of results.entries()) {
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe(`n\n${i + 1}\n`);
      expect(result.code).toBe(0);
    }
    expect(await status()).toBe('status: stopped');
  });

  it('a server started for commands is not stopped while another command still uses it', async () => {
    // This test process is "another command": it holds a lease while a CLI command comes and goes.
    const lease = await leaseEmbedded(env.PGFACTORY_EMBEDDED_DIR);
    expect(lease.server.startedHere).toBe(true);
    try {
      const result = await query('SELECT 1 AS n');
      expect(result.stdout).toBe('n\n1\n');
      expect(result.code).toBe(0);
      expect(await status()).toMatch(/^status: running \(pid \d+\)$/);
      // A lease left by a process that died does not keep the server up.
      const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
      fs.writeFileSync(path.join(env.PGFACTORY_EMBEDDED_DIR, 'leases', `${dead}.left`), '');
    } finally {
      await lease.release();
    }
    expect(await status()).toBe('status: stopped');
  });

  it('a server started by `embedded start` stays running after concurrent commands, also when it was started for one', async () => {
    const lease = await leaseEmbedded(env.PGFACTORY_EMBEDDED_DIR);
    const start = await runCli(['embedded', 'start'], { env, noDatabaseUrl: true });
    expect(start.stdout).toMatch(/^already running: /);
    await lease.release();
    expect(await status()).toMatch(/^status: running /);

    const results = await Promise.all([1, 2, 3].map((n) => query(`SELECT ${n} AS n`)));
    expect(results.map((result) => [result.code, result.stdout])).toEqual([1, 2, 3].map((n) => [0, `n\n${n}\n`]));
    expect(await status()).toMatch(/^status: running /);
    expect((await runCli(['embedded', 'stop'], { env, noDatabaseUrl: true })).stdout).toBe('stopped\n');
  });

  it('a lock left by a process that died is taken over', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    fs.writeFileSync(path.join(env.PGFACTORY_EMBEDDED_DIR, 'lock'), `${dead}\n`);
    const result = await query('SELECT 1 AS n');
    expect(result.stdout).toBe('n\n1\n');
    expect(result.code).toBe(0);
    expect(fs.existsSync(path.join(env.PGFACTORY_EMBEDDED_DIR, 'lock'))).toBe(false);
    expect(await status()).toBe('status: stopped');
  });

  it('a server that cannot start says why (its FATAL line), and leaves nothing locked', async () => {
    const conf = path.join(env.PGFACTORY_EMBEDDED_DIR, 'data', 'postgresql.conf');
    const original = fs.readFileSync(conf, 'utf8');
    fs.appendFileSync(conf, 'no_such_setting = 1\n');
    try {
      const result = await query('SELECT 1');
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(new RegExp(`^pgfactory: the embedded PostgreSQL in ${escapeRegExp(path.join(env.PGFACTORY_EMBEDDED_DIR, 'data'))} did not start: .*FATAL:  configuration file "${escapeRegExp(conf)}" contains errors\n$`));
    } finally {
      fs.writeFileSync(conf, original);
    }
    const again = await query('SELECT 1 AS n');
    expect(again.stdout).toBe('n\n1\n');
    expect(again.code).toBe(0);
  });
});
