// Faults: the backend terminated, the server stopped or the network cut while a command runs.
// Every command must end non-zero with one line naming the server, never hang, never exit 0, and
// never leave half-written data.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, sql, useTestSchema } from './helpers.js';
import pg from 'pg';
import { feedCsvRows, pollUntil, spawnCli, type LiveCli } from './support/cli.js';
import { startProxy } from './support/net.js';
import { startTestServer, type TestServer } from './support/server.js';

const SCHEMA = 'faults';
const uniqueAppName = (what: string) => `pgf-fault-${what}-${randomBytes(4).toString('hex')}`;

type Run = (text: string, values: unknown[]) => Promise<unknown[]>;

/** Waits until the command has a backend on the server (found by application_name), by default one running a statement. */
async function waitUntilActive(appName: string, run: Run = sql, state: 'active' | 'idle' | 'any' = 'active'): Promise<void> {
  const condition = state === 'any' ? '' : state === 'active' ? "AND state = 'active'" : "AND state IS NOT NULL";
  const found = await pollUntil(async () => (await run(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 ${condition}`, [appName])).length > 0, 20_000);
  expect(found, `no backend for ${appName}`).toBe(true);
}

/** Waits until the command's COPY is running. */
async function waitUntilCopying(appName: string, run: Run = sql): Promise<void> {
  const found = await pollUntil(async () => (await run("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'COPY%'", [appName])).length > 0, 20_000);
  expect(found, `no COPY running for ${appName}`).toBe(true);
  // Let some rows flow first.
  await new Promise((resolve) => setTimeout(resolve, 300));
}

const terminate = (appName: string) => sql('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);

/** One line on stderr (nothing else), and a non-zero exit. */
function expectOneLineFailure(result: { stderr: string; code: number | null; signal: NodeJS.Signals | null }, line: string | RegExp, code?: number): void {
  expect(result.signal).toBe(null);
  expect(result.code).not.toBe(0);
  if (code !== undefined) expect(result.code).toBe(code);
  expect(result.stderr.endsWith('\n')).toBe(true);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  if (typeof line === 'string') expect(result.stderr).toBe(`${line}\n`);
  else expect(result.stderr).toMatch(line);
}

const port = () => Number(new URL(databaseUrl()).port);
const lost = (p: number) => `pgfactory: lost the connection to host "127.0.0.1", port ${p}: server closed the connection unexpectedly`;

/**
 * The pooled report of a bench that lost connections on the way: some operations failed, others
 * succeeded, and the pool opened new connections for the lost ones (4 to begin with).
 */
function recoveredPool(result: { code: number | null; stdout: string }) {
  expect(result.code).toBe(0);
  const pooled = JSON.parse(result.stdout).modes.pooled;
  expect(pooled.errors).toBeGreaterThan(0);
  expect(pooled.successes).toBeGreaterThan(0);
  expect(pooled.connections.opened).toBeGreaterThan(4);
  return pooled;
}

useTestSchema(SCHEMA);

describe('query: backend terminated (pg_terminate_backend)', () => {
  it('while a statement runs (table output): exit 2, one line naming the server', async () => {
    const appName = uniqueAppName('table');
    const cli = spawnCli(['query', 'SELECT pg_sleep(30)'], { env: { PGAPPNAME: appName } });
    await waitUntilActive(appName);
    await terminate(appName);
    const result = await cli.done;
    expect(result.stdout).toBe('');
    expectOneLineFailure(result, lost(port()), 2);
    expect(result.code).toBe(2);
  });

  it('while rows stream out (csv through COPY): non-zero, one line', async () => {
    const appName = uniqueAppName('copy');
    const cli = spawnCli(['query', '--format', 'csv', 'SELECT g, pg_sleep(0.002) FROM generate_series(1, 20000) g'], { env: { PGAPPNAME: appName } });
    await waitUntilActive(appName);
    await terminate(appName);
    const result = await cli.done;
    expectOneLineFailure(result, /^pgfactory: (FATAL: {2}57P01: terminating connection due to administrator command|lost the connection to host "127\.0\.0\.1", port \d+: server closed the connection unexpectedly)\n$/, 2);
  });

  it('inside --single-transaction: nothing of the transaction is kept', async () => {
    await sql(`CREATE TABLE ${SCHEMA}.tx (id int)`);
    const appName = uniqueAppName('tx');
    const cli = spawnCli(['query', '--single-transaction', `INSERT INTO ${SCHEMA}.tx SELECT generate_series(1, 1000); SELECT pg_sleep(30); INSERT INTO ${SCHEMA}.tx VALUES (0)`], { env: { PGAPPNAME: appName } });
    await waitUntilActive(appName);
    await terminate(appName);
    const result = await cli.done;
    expectOneLineFailure(result, lost(port()), 2);
    expect(await sql(`SELECT count(*)::int AS n FROM ${SCHEMA}.tx`)).toEqual([{ n: 0 }]);
  });
});

describe('query: network cut (a proxy drops every socket)', () => {
  it('exit 2, one line, no hang', async () => {
    const proxy = await startProxy(port());
    const url = new URL(databaseUrl());
    url.port = String(proxy.port);
    const appName = uniqueAppName('cut');
    try {
      const cli = spawnCli(['query', 'SELECT pg_sleep(30)'], { env: { DATABASE_URL: url.toString(), PGAPPNAME: appName } });
      await waitUntilActive(appName);
      proxy.cutAll();
      const result = await cli.done;
      expectOneLineFailure(result, lost(proxy.port), 2);
      expect(result.code).toBe(2);
    } finally {
      await terminate(appName);
      await proxy.close();
    }
  });
});

describe('a server of our own, stopped and started again', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('query while the server stops: non-zero, one line; while it is down: connection refused; back: works', async () => {
    const appName = uniqueAppName('stop');
    const cli: LiveCli = spawnCli(['query', 'SELECT pg_sleep(30)'], { env: { DATABASE_URL: server.url, PGAPPNAME: appName } });
    await waitUntilActive(appName, (text, values) => server.sql(text, values));
    await server.stop();
    const during = await cli.done;
    expectOneLineFailure(during, /^pgfactory: (lost the connection to host "127\.0\.0\.1", port \d+: server closed the connection unexpectedly|FATAL: {2}57P01: terminating connection due to administrator command)\n$/, 2);

    const down = await spawnCli(['query', 'SELECT 1'], { env: { DATABASE_URL: server.url } }).done;
    expectOneLineFailure(down, `pgfactory: cannot connect to host "127.0.0.1", port ${server.port}: connection refused (is the server running and accepting TCP connections?)`, 2);
    expect(down.code).toBe(2);

    await server.start();
    const back = await spawnCli(['query', '--format', 'csv', 'SELECT 1 AS one'], { env: { DATABASE_URL: server.url } }).done;
    expect(back).toMatchObject({ stdout: 'one\n1\n', stderr: '', code: 0 });
  });

  it('insert while the server stops: non-zero, one line, no partial rows', async () => {
    await server.sql('CREATE TABLE IF NOT EXISTS loaded (id int PRIMARY KEY, name text); TRUNCATE loaded; INSERT INTO loaded VALUES (1, \'before\')');
    const appName = uniqueAppName('insert-stop');
    const cli = spawnCli(['insert', 'loaded', '--file', '-', '--format', 'csv'], { input: null, env: { DATABASE_URL: server.url, PGAPPNAME: appName } });
    const stopFeeding = feedCsvRows(cli);
    try {
      await waitUntilCopying(appName, (text, values) => server.sql(text, values));
      await server.stop();
      const result = await cli.done;
      expectOneLineFailure(result, /^pgfactory: .*(terminating connection due to administrator command|server closed the connection unexpectedly)\n$/, 2);
    } finally {
      stopFeeding();
      await server.start();
    }
    expect(await server.sql('SELECT id, name FROM loaded ORDER BY id')).toEqual([{ id: 1, name: 'before' }]);
  });

  it('bench while the server stops and comes back: errors counted, dead connections replaced, work goes on after the restart', async () => {
    // Every successful operation leaves a row saying which start of the server it ran on.
    await server.sql('CREATE TABLE IF NOT EXISTS ticks (started timestamptz); TRUNCATE ticks');
    const ticks = async (where = 'true') => (await server.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ticks WHERE ${where}`))[0]!.n;
    const appName = uniqueAppName('bench-stop');
    const cli = spawnCli(['bench', '--mode', 'pooled', '-c', '4', '-T', '12', '--format', 'json', '--query', 'INSERT INTO ticks SELECT pg_postmaster_start_time()'], { env: { DATABASE_URL: server.url, PGAPPNAME: appName } });
    expect(await pollUntil(async () => (await ticks()) > 0, 30_000), 'no operation before the stop').toBe(true);
    // As text: a JS Date would drop the microseconds.
    const [{ first }] = await server.sql<{ first: string }>('SELECT pg_postmaster_start_time()::text AS first');
    await server.stop();
    await server.start();
    // The run outlives the restart (-T 12 against a restart of a second or two): operations
    // succeed on the new server. Polled, not timed.
    expect(await pollUntil(async () => (await ticks(`started > '${first}'`)) > 0, 30_000), 'no operation after the restart').toBe(true);
    const result = await cli.done;
    const pooled = recoveredPool(result);
    // The report counts what the server has: every success is a row, and at most one operation
    // per client committed without hearing back when the server went down.
    const rows = await ticks();
    expect(rows).toBeGreaterThanOrEqual(pooled.successes);
    expect(rows - pooled.successes).toBeLessThanOrEqual(4);
    expect(await ticks(`started = '${first}'`)).toBeGreaterThan(0);
    const after = await server.sql("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1", [appName]);
    expect(after).toEqual([{ n: 0 }]);
  });
});

describe('insert: backend terminated mid-COPY', () => {
  it('all or nothing: non-zero, one line, the table is unchanged', async () => {
    await sql(`CREATE TABLE ${SCHEMA}.loaded (id int PRIMARY KEY, name text)`);
    await sql(`INSERT INTO ${SCHEMA}.loaded VALUES (1, 'before')`);
    const appName = uniqueAppName('insert');
    const cli = spawnCli(['insert', `${SCHEMA}.loaded`, '--file', '-', '--format', 'csv'], { input: null, env: { PGAPPNAME: appName } });
    const stopFeeding = feedCsvRows(cli);
    try {
      await waitUntilCopying(appName);
      await terminate(appName);
      const result = await cli.done;
      expectOneLineFailure(result, /^pgfactory: stdin, line \d+: terminating connection due to administrator command\n$|^pgfactory: lost the connection to host "127\.0\.0\.1", port \d+: .*\n$/, 2);
    } finally {
      stopFeeding();
    }
    expect(await sql(`SELECT id, name FROM ${SCHEMA}.loaded ORDER BY id`)).toEqual([{ id: 1, name: 'before' }]);
  });

  it('with --commit-every: the message says how many rows were committed and where to resume, and exactly those are in the table', async () => {
    await sql(`CREATE TABLE ${SCHEMA}.batches (id int PRIMARY KEY, name text)`);
    const appName = uniqueAppName('batches');
    const cli = spawnCli(['insert', `${SCHEMA}.batches`, '--file', '-', '--format', 'csv', '--commit-every', '1000'], { input: null, env: { PGAPPNAME: appName } });
    const stopFeeding = feedCsvRows(cli, 1);
    let stderr: string;
    try {
      await waitUntilCopying(appName);
      expect(await pollUntil(async () => (await sql(`SELECT count(*)::int AS n FROM ${SCHEMA}.batches`))[0]!.n >= 2000, 60_000)).toBe(true);
      await terminate(appName);
      const result = await cli.done;
      expect(result.stderr).toMatch(/rows committed in earlier batches/);
      expectOneLineFailure(result, /; \d+ rows committed in earlier batches; resume from input line \d+ \(the same command with --resume loads the rest\)\n$/, 2);
      stderr = result.stderr;
    } finally {
      stopFeeding();
    }
    const [, committed, resumeLine] = /; (\d+) rows committed in earlier batches; resume from input line (\d+)/.exec(stderr)!;
    const rows = await sql<{ n: number; max: number }>(`SELECT count(*)::int AS n, max(id) AS max FROM ${SCHEMA}.batches`);
    expect(rows).toEqual([{ n: Number(committed), max: Number(committed) }]);
    // Line 1 is the header; row id k is on line k + 1.
    expect(Number(resumeLine)).toBe(Number(committed) + 2);
  });
});

describe('bench: backends terminated during a pooled run', () => {
  it('errors are counted, the pool replaces the dead connections, and no connection is left behind', async () => {
    const appName = uniqueAppName('bench');
    const baseline = await sql("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1", [appName]);
    expect(baseline).toEqual([{ n: 0 }]);
    const cli = spawnCli(['bench', '--mode', 'pooled', '-c', '4', '-T', '4', '--query', 'SELECT pg_sleep(0.005)', '--format', 'json'], { env: { PGAPPNAME: appName } });
    await waitUntilActive(appName, sql, 'any');
    let kills = 0;
    while (cli.child.exitCode === null && kills < 3) {
      await new Promise((resolve) => setTimeout(resolve, 700));
      await terminate(appName);
      kills += 1;
    }
    const result = await cli.done;
    const pooled = recoveredPool(result);
    expect(pooled.error_messages.length).toBeGreaterThan(0);
    for (const message of pooled.error_messages as Array<string | { message: string }>) {
      expect(JSON.stringify(message)).not.toMatch(/\\n/);
    }
    // Back to the baseline once the run is over.
    expect(await pollUntil(async () => (await sql("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1", [appName]))[0]!.n === 0, 30_000)).toBe(true);
  });
});

describe('load', () => {
  it('bench --mode pooled -c 50 -T 20: zero errors, never more open connections than the pool size', async () => {
    const appName = uniqueAppName('load');
    // One watcher connection samples the server's view of our connections all through the run.
    const watcher = new pg.Client({ connectionString: databaseUrl() });
    await watcher.connect();
    let maxSeen = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await watcher.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [appName]);
        maxSeen = Math.max(maxSeen, rows[0]!.n);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      const result = await spawnCli(['bench', '--mode', 'pooled', '-c', '50', '-T', '20', '--format', 'json'], { env: { PGAPPNAME: appName }, timeoutMs: 120_000 }).done;
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      const report = JSON.parse(result.stdout);
      const pooled = report.modes.pooled;
      expect(pooled.errors).toBe(0);
      expect(pooled.successes).toBeGreaterThan(0);
      expect(report.settings.pool_size).toBe(50);
      expect(pooled.connections.opened).toBeLessThanOrEqual(50);
      expect(maxSeen).toBeGreaterThan(0);
      expect(maxSeen).toBeLessThanOrEqual(50);
      console.log(`load: ${pooled.ops_per_sec} ops/s, p99 ${pooled.latency_ms.p99} ms, at most ${maxSeen} server connections seen`);
    } finally {
      sampling = false;
      await sampler;
      await watcher.end();
    }
    expect(await pollUntil(async () => (await sql('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [appName]))[0]!.n === 0, 30_000)).toBe(true);
  }, 120_000);
});
