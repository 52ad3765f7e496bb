// Ctrl-C and timeouts: Ctrl-C's cancel request reaches the server (its log says so) and the
// statement is gone, a second Ctrl-C leaves without waiting for the statement, connecting never
// waits forever, and no command is kept alive after its work. No wall-clock windows: what is
// checked is what happened (on the server, in the exit status); waits are polls with generous
// bounds, far below the statements' own run time, and nothing here runs concurrently.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, runCli, sql, useTestSchema } from './helpers.js';
import { feedCsvRows, pollUntil, spawnCli } from './support/cli.js';
import { startProxy, startSilentListener, type SilentListener } from './support/net.js';
import { cancelledLine, serverLogFromNow } from './support/server-log.js';

const SCHEMA = 'cancel_timeout';
const serverPort = () => Number(new URL(databaseUrl()).port);
const uniqueAppName = (what: string) => `pgf-${what}-${randomBytes(4).toString('hex')}`;

/** Backends of our test process, found by application_name. */
const backends = (appName: string) =>
  sql<{ pid: number; state: string; query: string }>('SELECT pid, state, query FROM pg_stat_activity WHERE application_name = $1', [appName]);

useTestSchema(SCHEMA);

describe('SIGINT during query', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} sends a cancel request: the server cancels the statement (57014), the backend is gone, exit 130`, async () => {
      const appName = uniqueAppName(signal.toLowerCase());
      const log = await serverLogFromNow();
      // Sleeps far longer than any wait below: only the cancel can end it in time.
      const cli = spawnCli(['query', 'SELECT pg_sleep(600)'], { env: { PGAPPNAME: appName } });
      expect(await pollUntil(async () => (await backends(appName)).some((row) => row.state === 'active'), 30_000)).toBe(true);
      const [{ pid }] = await backends(appName);

      cli.child.kill(signal);
      const result = await cli.done;
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe('pgfactory: interrupted: the running statement was cancelled\n');
      expect(result.code).toBe(130);
      // The cancel reached the server: the backend logged the cancelled statement, then went away
      // (a backend whose client merely left would sleep on for 600 s).
      expect(await log.waitFor(cancelledLine(pid!)), `no "${cancelledLine(pid!)}" in the server log`).toBe(true);
      expect(await pollUntil(async () => (await backends(appName)).length === 0, 30_000)).toBe(true);
    });
  }

  it('a second SIGINT exits at once, even when the cancel request goes unanswered', async () => {
    // A proxy that swallows cancel requests: the first Ctrl-C cannot stop the statement.
    const proxy = await startProxy(serverPort(), { dropCancel: true });
    const appName = uniqueAppName('twice');
    const url = new URL(databaseUrl());
    url.port = String(proxy.port);
    const cli = spawnCli(['query', 'SELECT pg_sleep(600)'], { env: { DATABASE_URL: url.toString(), PGAPPNAME: appName } });
    try {
      expect(await pollUntil(async () => (await backends(appName)).some((row) => row.state === 'active'), 30_000)).toBe(true);
      cli.child.kill('SIGINT');
      expect(await pollUntil(async () => proxy.cancelRequests() === 1, 30_000)).toBe(true);
      // The cancel never arrived: the statement still runs, and the command waits for it.
      expect((await backends(appName)).map((row) => row.state)).toEqual(['active']);
      expect(cli.child.exitCode).toBe(null);

      cli.child.kill('SIGINT');
      const result = await cli.done;
      expect(result.signal).toBe(null);
      expect(result.code).toBe(130);
      expect(result.stdout).toBe('');
      // It left without waiting for the statement, which is still sleeping on the server.
      expect((await backends(appName)).map((row) => row.state)).toEqual(['active']);
    } finally {
      await sql('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);
      await proxy.close();
    }
  });
});

describe('SIGINT or SIGTERM during insert', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} rolls back: the table is unchanged, exit 130`, async () => {
      const table = `${SCHEMA}.insert_${signal.toLowerCase()}`;
      await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, name text)`);
      await sql(`INSERT INTO ${table} VALUES (1, 'kept'), (2, 'also kept')`);
      const appName = uniqueAppName(`insert-${signal}`);
      const cli = spawnCli(['insert', table, '--file', '-', '--format', 'csv'], { input: null, env: { PGAPPNAME: appName } });
      const stopFeeding = feedCsvRows(cli);
      try {
        // Rows are flowing through COPY when the signal arrives.
        expect(await pollUntil(async () => (await sql("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'COPY%'", [appName])).length > 0, 20_000)).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 300));
        cli.child.kill(signal);
        const result = await cli.done;
        expect(result.stderr).toBe('pgfactory: interrupted: the load was cancelled and rolled back; nothing was committed\n');
        expect(result.code).toBe(130);
      } finally {
        stopFeeding();
      }
      expect(await sql(`SELECT id, name FROM ${table} ORDER BY id`)).toEqual([{ id: 1, name: 'kept' }, { id: 2, name: 'also kept' }]);
      // The session is gone too: no open transaction left holding locks.
      expect(await pollUntil(async () => (await backends(appName)).length === 0, 30_000)).toBe(true);
    });
  }
});

describe('connect timeout', () => {
  let silent: SilentListener;
  beforeAll(async () => {
    silent = await startSilentListener();
  });
  afterAll(async () => {
    await silent.close();
  });

  /**
   * Runs a command against a silent listener of its own. `waitedS` counts from the spawn, so it
   * can only be shorter than the timeout if the command gave up early, however loaded the machine.
   * (No upper window: the timeout is proven by the exit itself — the listener never answers, so
   * only the command's own timer can end it before the kill at 50 s.)
   */
  async function againstSilent(args: string[], env: Record<string, string> = {}) {
    const listener = await startSilentListener();
    try {
      const spawnedAt = performance.now();
      const cli = spawnCli(args, { noDatabaseUrl: true, env: { PGHOST: '127.0.0.1', PGPORT: String(listener.port), PGPASSWORD: 'unused-password', ...env }, timeoutMs: 50_000 });
      const result = await cli.done;
      expect(listener.firstAcceptedAt(), 'the command never connected').toBeDefined();
      expect(result.signal, 'killed after 50 s: the command waited forever').toBe(null);
      return { ...result, port: listener.port, waitedS: (result.exitedAt - spawnedAt) / 1000 };
    } finally {
      await listener.close();
    }
  }

  it('--connect-timeout: the error arrives after the timeout and names host and port', async () => {
    const result = await againstSilent(['query', '--connect-timeout', '2', 'SELECT 1']);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`pgfactory: cannot connect to host "127.0.0.1", port ${result.port}: timeout expired after 2 s (connect_timeout)\n`);
    expect(result.code).toBe(2);
    expect(result.waitedS).toBeGreaterThanOrEqual(2);
  });

  it('PGCONNECT_TIMEOUT works the same way; 1 s is raised to libpq\'s minimum of 2 s', async () => {
    const result = await againstSilent(['query', 'SELECT 1'], { PGCONNECT_TIMEOUT: '1' });
    expect(result.stderr).toBe(`pgfactory: cannot connect to host "127.0.0.1", port ${result.port}: timeout expired after 2 s (connect_timeout)\n`);
    expect(result.code).toBe(2);
    expect(result.waitedS).toBeGreaterThanOrEqual(2);
  });

  it('without a setting the documented default (10 s) applies: never waits forever', async () => {
    const result = await againstSilent(['query', 'SELECT 1']);
    expect(result.stderr).toBe(`pgfactory: cannot connect to host "127.0.0.1", port ${result.port}: timeout expired after 10 s (connect_timeout)\n`);
    expect(result.code).toBe(2);
    expect(result.waitedS).toBeGreaterThanOrEqual(10);
  });

  it('insert and bench give up after the timeout too', async () => {
    for (const args of [['insert', 'some_table', '--set', 'a=1'], ['bench', '-T', '1']]) {
      const result = await againstSilent([...args, '--connect-timeout', '2']);
      expect(result.stderr).toBe(`pgfactory: cannot connect to host "127.0.0.1", port ${result.port}: timeout expired after 2 s (connect_timeout)\n`);
      expect(result.code).toBe(2);
      expect(result.waitedS).toBeGreaterThanOrEqual(2);
    }
  });

  it('SIGINT while still connecting exits 130 without waiting for the connection', async () => {
    // --connect-timeout 0 waits forever: only the SIGINT can end the command.
    const cli = spawnCli(['query', '--connect-timeout', '0', 'SELECT 1'], { noDatabaseUrl: true, timeoutMs: 50_000, env: { PGHOST: '127.0.0.1', PGPORT: String(silent.port), PGPASSWORD: 'unused-password' } });
    const acceptedBefore = silent.accepted();
    expect(await pollUntil(async () => silent.accepted() > acceptedBefore, 30_000)).toBe(true);
    cli.child.kill('SIGINT');
    const result = await cli.done;
    expect(result.signal).toBe(null);
    expect(result.code).toBe(130);
    expect(result.stderr).toBe('pgfactory: interrupted: the running statement was cancelled\n');
  });

  it('the default is documented in --help', async () => {
    const help = await runCli(['query', '--help']);
    expect(help.stdout).toContain('(PGCONNECT_TIMEOUT; default 10)');
  });

});

describe('every command exits promptly when its work is done', () => {
  // A pool or socket left open would keep node alive until runCli's timeout kills it (signal set).
  const cases: Array<[string, string[]]> = [
    ['query', ['query', 'SELECT 1']],
    ['query with a server error', ['query', 'SELECT 1/0']],
    ['query with several statements', ['query', '--format', 'json', 'SELECT 1; SELECT 2']],
    ['query --single-transaction', ['query', '--single-transaction', 'SELECT 1; SELECT 2']],
    ['config', ['config']],
    ['insert one row', ['insert', `${SCHEMA}.prompt`, '--set', 'id=1']],
    ['insert from stdin', ['insert', `${SCHEMA}.prompt`, '--file', '-', '--format', 'csv']],
    ['insert with a server error', ['insert', `${SCHEMA}.prompt`, '--set', 'id=oops']],
    ['bench fresh', ['bench', '--mode', 'fresh', '-c', '2', '-t', '20']],
    ['bench pooled', ['bench', '--mode', 'pooled', '-c', '2', '-t', '20']],
  ];
  beforeAll(async () => {
    await sql(`CREATE TABLE ${SCHEMA}.prompt (id int)`);
  });
  for (const [name, args] of cases) {
    it(name, async () => {
      // Generous: only a command kept alive by an open handle waits that long.
      const result = await runCli(args, { timeoutMs: 50_000, input: 'id\n5\n' });
      expect(result.signal).toBe(null);
      expect(result.code).not.toBe(null);
    });
  }
});
