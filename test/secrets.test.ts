// The password never appears in any output: every command and failure path runs with a distinctive
// password from each place a password can come from, and every byte of stdout and stderr is searched.
// Also: the command-line password warning, and .pgpass permission handling as in libpq.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, runCli, scratchDir, sql, type CliResult, useTestSchema } from './helpers.js';
import { feedCsvRows, pollUntil, spawnCli } from './support/cli.js';
import { startSilentListener, type SilentListener } from './support/net.js';
import { freePort } from '../src/embedded.js';

const SCHEMA = 'secrets';
const ROLE = 'secrets_user';
// Distinctive, with characters that URIs must encode; searched for raw, encoded and in part.
const PASSWORD = 'Zq7#Sekr1t@pw-4711';
const NEEDLES = [PASSWORD, encodeURIComponent(PASSWORD), 'Sekr1t', 'pw-4711'];

const COMMAND_LINE_WARNING =
  'WARNING: a password on the command line is visible to other users in the process list; use PGPASSWORD, a .env file or ~/.pgpass instead';

const serverPort = () => Number(new URL(databaseUrl()).port);

/** Every output of every run, searched once more at the end. */
const everything: Array<{ what: string; output: string }> = [];

function expectNoPassword(what: string, result: Pick<CliResult, 'stdout' | 'stderr'>): void {
  const output = `${result.stdout}\n${result.stderr}`;
  everything.push({ what, output });
  for (const needle of NEEDLES) {
    expect(output.includes(needle), `${what}: output contains "${needle}":\n${output}`).toBe(false);
  }
}

interface Target {
  host: string;
  port: number;
  user: string;
  dbname: string;
}

/** A way to hand the password to pgfactory; `prepare` writes files into the scratch HOME/cwd. */
interface PasswordSource {
  name: string;
  /** Whether this source is on the command line (and so warns). */
  onCommandLine: boolean;
  setup(target: Target, home: string): { args: string[]; env: Record<string, string> };
}

const SOURCES: PasswordSource[] = [
  {
    name: 'URI in -d',
    onCommandLine: true,
    setup: (t) => ({ args: ['-d', `postgres://${t.user}:${encodeURIComponent(PASSWORD)}@${t.host}:${t.port}/${t.dbname}`], env: {} }),
  },
  {
    name: 'conninfo in -d',
    onCommandLine: true,
    setup: (t) => ({ args: ['-d', `host=${t.host} port=${t.port} user=${t.user} dbname=${t.dbname} password='${PASSWORD}'`], env: {} }),
  },
  {
    name: 'DATABASE_URL',
    onCommandLine: false,
    setup: (t) => ({ args: [], env: { DATABASE_URL: `postgres://${t.user}:${encodeURIComponent(PASSWORD)}@${t.host}:${t.port}/${t.dbname}` } }),
  },
  {
    name: 'PGPASSWORD',
    onCommandLine: false,
    setup: (t) => ({ args: [], env: { PGHOST: t.host, PGPORT: String(t.port), PGUSER: t.user, PGDATABASE: t.dbname, PGPASSWORD: PASSWORD, DATABASE_URL: '' } }),
  },
  {
    name: '.env',
    onCommandLine: false,
    setup: (t, home) => {
      fs.writeFileSync(path.join(home, '.env'), `PGHOST=${t.host}\nPGPORT=${t.port}\nPGUSER=${t.user}\nPGDATABASE=${t.dbname}\nPGPASSWORD="${PASSWORD}"\n`);
      return { args: [], env: { DATABASE_URL: '' } };
    },
  },
  {
    name: '.pgpass',
    onCommandLine: false,
    setup: (t, home) => {
      const file = path.join(home, '.pgpass');
      fs.writeFileSync(file, `${t.host}:${t.port}:*:${t.user}:${PASSWORD}\n`, { mode: 0o600 });
      return { args: [], env: { PGHOST: t.host, PGPORT: String(t.port), PGUSER: t.user, PGDATABASE: t.dbname, DATABASE_URL: '' } };
    },
  },
];

// The slow fault paths run with one source of each kind (command line, environment, file); the
// others share their code paths.
const SLOW_SOURCES = SOURCES.filter((source) => ['URI in -d', 'PGPASSWORD', '.pgpass'].includes(source.name));

function realTarget(): Target {
  return { host: '127.0.0.1', port: serverPort(), user: ROLE, dbname: 'postgres' };
}

async function runWith(source: PasswordSource, target: Target, commandArgs: string[], options: { timeoutMs?: number } = {}): Promise<CliResult> {
  const home = scratchDir();
  const { args, env } = source.setup(target, home);
  const [command, ...rest] = commandArgs;
  const result = await runCli([command!, ...args, ...rest], { cwd: home, env, timeoutMs: options.timeoutMs });
  expectNoPassword(`${source.name}: ${commandArgs.join(' ')}`, result);
  return result;
}

/** stderr without the expected command-line warning, which is checked separately. */
const withoutWarning = (stderr: string) => stderr.split('\n').filter((line) => line !== COMMAND_LINE_WARNING).join('\n');

useTestSchema(SCHEMA);
beforeAll(async () => {
  await sql(`DROP ROLE IF EXISTS ${ROLE}`).catch(() => undefined);
  await sql(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  await sql(`GRANT ALL ON SCHEMA ${SCHEMA} TO ${ROLE}`);
  await sql(`CREATE TABLE ${SCHEMA}.t (id int, name text); GRANT ALL ON ${SCHEMA}.t TO ${ROLE}`);
});
afterAll(async () => {
  await sql(`DROP OWNED BY ${ROLE}; DROP ROLE IF EXISTS ${ROLE}`).catch(() => undefined);
});

describe.each(SOURCES)('password from $name', (source) => {
  it('query succeeds (json), and the warning appears exactly when the password is on the command line', async () => {
    const result = await runWith(source, realTarget(), ['query', '--format', 'json', 'SELECT current_user AS u']);
    expect(result.stdout).toBe(`[\n{"u":"${ROLE}"}\n]\n`);
    expect(result.stderr).toBe(source.onCommandLine ? `${COMMAND_LINE_WARNING}\n` : '');
    expect(result.code).toBe(0);
  });

  it('query failures: syntax error, runtime error, missing table', async () => {
    for (const text of ['SELEC 1', 'SELECT 1/0', `SELECT * FROM ${SCHEMA}.missing`]) {
      const result = await runWith(source, realTarget(), ['query', text]);
      expect(result.code).toBe(3);
    }
  });

  it('config (table and json) shows the password masked', async () => {
    const table = await runWith(source, realTarget(), ['config']);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('********');
    const json = await runWith(source, realTarget(), ['config', '--format', 'json']);
    expect(json.code).toBe(0);
    expect(json.stdout).toContain('"********"');
  });

  it('login failures: wrong user, missing database', async () => {
    const wrongUser = await runWith(source, { ...realTarget(), user: 'no_such_user' }, ['query', 'SELECT 1']);
    expect(withoutWarning(wrongUser.stderr)).toMatch(/^pgfactory: cannot connect to host "127\.0\.0\.1", port \d+: password authentication failed for user "no_such_user"\n$/);
    expect(wrongUser.code).toBe(2);
    const noDb = await runWith(source, { ...realTarget(), dbname: 'no_such_db' }, ['query', 'SELECT 1']);
    expect(withoutWarning(noDb.stderr)).toMatch(/^pgfactory: cannot connect to host "127\.0\.0\.1", port \d+: database "no_such_db" does not exist\n$/);
    expect(noDb.code).toBe(2);
  });

  it('insert: one row, a file, --returning json, a bad value, a missing table, a missing column', async () => {
    expect((await runWith(source, realTarget(), ['insert', `${SCHEMA}.t`, '--set', 'id=1', '--set', 'name=x'])).code).toBe(0);
    const home = scratchDir();
    fs.writeFileSync(path.join(home, 'rows.csv'), 'id,name\n2,a\n3,b\n');
    expect((await runWith(source, realTarget(), ['insert', `${SCHEMA}.t`, '--file', path.join(home, 'rows.csv')])).code).toBe(0);
    const returning = await runWith(source, realTarget(), ['insert', `${SCHEMA}.t`, '--set', 'id=4', '--returning', '*', '--output', 'json']);
    expect(returning.stdout).toBe('[\n{"id":4,"name":null}\n]\n');
    expect((await runWith(source, realTarget(), ['insert', `${SCHEMA}.t`, '--set', 'id=oops'])).code).toBe(3);
    expect((await runWith(source, realTarget(), ['insert', `${SCHEMA}.missing`, '--set', 'id=1'])).code).toBe(1);
    expect((await runWith(source, realTarget(), ['insert', `${SCHEMA}.t`, '--set', 'nope=1'])).code).toBe(1);
  });

  it('bench: table and json reports, fresh and pooled', async () => {
    const table = await runWith(source, realTarget(), ['bench', '--mode', 'both', '-c', '1', '-t', '3']);
    expect(table.code).toBe(0);
    const json = await runWith(source, realTarget(), ['bench', '--mode', 'both', '-c', '1', '-t', '3', '--format', 'json']);
    expect(json.code).toBe(0);
    const failing = await runWith(source, realTarget(), ['bench', '--mode', 'pooled', '-c', '1', '-t', '3', '--query', 'SELECT 1/0', '--format', 'json']);
    expect(withoutWarning(failing.stderr)).toBe('pooled: 3 x ERROR:  22012: division by zero\npgfactory: pooled mode: no operation succeeded (3 of 3 failed)\n');
    expect(failing.code).toBe(2);
  });

  it('connection refused (query, insert, bench), and TLS required by a server without TLS', async () => {
    const closedPort = await freePort();
    for (const command of [['query', 'SELECT 1'], ['insert', `${SCHEMA}.t`, '--set', 'id=1'], ['bench', '-t', '1']]) {
      const closed = await runWith(source, { ...realTarget(), port: closedPort }, command);
      expect(closed.code).toBe(2);
    }
    const tls = await runWith(source, realTarget(), ['query', '--sslmode', 'require', 'SELECT 1']);
    expect(tls.code).toBe(2);
  });
});

describe('failure paths that take time, for every password source', () => {
  let silent: SilentListener;
  beforeAll(async () => {
    silent = await startSilentListener();
  });
  afterAll(async () => {
    await silent.close();
  });

  it.concurrent.each(SOURCES)('connect timeout ($name)', async (source) => {
    const result = await runWith(source, { ...realTarget(), port: silent.port }, ['query', '--connect-timeout', '2', 'SELECT 1']);
    expect(withoutWarning(result.stderr)).toBe(`pgfactory: cannot connect to host "127.0.0.1", port ${silent.port}: timeout expired after 2 s (connect_timeout)\n`);
    expect(result.code).toBe(2);
    for (const command of [['insert', `${SCHEMA}.t`, '--set', 'id=1'], ['bench', '-t', '1']]) {
      const other = await runWith(source, { ...realTarget(), port: silent.port }, [...command, '--connect-timeout', '2']);
      expect(other.code).toBe(2);
    }
  });

  it.each(SLOW_SOURCES)('SIGINT and a terminated backend during insert and bench ($name)', async (source) => {
    const commands = [
      ['insert', `${SCHEMA}.t`, '--file', '-', '--format', 'csv'],
      ['bench', '--mode', 'pooled', '-c', '2', '-T', '30', '--query', 'SELECT pg_sleep(0.01)'],
    ];
    for (const command of commands) {
      for (const fault of ['sigint', 'terminate'] as const) {
        const home = scratchDir();
        const { args, env } = source.setup(realTarget(), home);
        const appName = `pgf-secrets-${fault}-${Math.random().toString(36).slice(2, 8)}`;
        const [name, ...rest] = command;
        const cli = spawnCli([name!, ...args, ...rest], { cwd: home, input: name === 'insert' ? null : '', env: { ...env, PGAPPNAME: appName } });
        const stopFeeding = name === 'insert' ? feedCsvRows(cli) : () => undefined;
        try {
          // insert: rows are flowing through COPY; bench: an operation is running.
          const busy = name === 'insert' ? "AND query ILIKE 'COPY%'" : '';
          const running = await pollUntil(async () => (await sql(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' ${busy}`, [appName])).length > 0, 30_000);
          expect(running, `${name} never got busy on the server`).toBe(true);
          if (fault === 'sigint') {
            cli.child.kill('SIGINT');
          } else {
            let killed: number[] = [];
            await pollUntil(async () => {
              killed = (await sql<{ pid: number }>('SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName])).map((row) => row.pid);
              return killed.length > 0 || cli.child.exitCode !== null;
            }, 30_000);
            // CI once found no backend to terminate right after seeing it busy: say why if it happens again.
            if (killed.length === 0) expect.fail(`${name}: no backend to terminate; the command ${cli.child.exitCode !== null ? `had ended: ${JSON.stringify(cli.output())}` : 'still runs'}`);
            if (name === 'bench') {
              // bench outlives a terminated backend: once its pool has replaced one, end it with Ctrl-C.
              const replaced = await pollUntil(async () => (await sql<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [appName])).some((row) => !killed.includes(row.pid)), 30_000);
              expect(replaced, 'bench did not replace its terminated connections').toBe(true);
              cli.child.kill('SIGINT');
            }
          }
          const result = await cli.done;
          expectNoPassword(`${source.name}: ${name} ${fault}`, result);
          expect(result.stdout).toBe('');
          if (name === 'bench') {
            expect(withoutWarning(result.stderr)).toBe('pgfactory: interrupted: the benchmark was stopped\n');
            expect(result.code).toBe(130);
          } else if (fault === 'sigint') {
            expect(withoutWarning(result.stderr)).toBe('pgfactory: interrupted: the load was cancelled and rolled back; nothing was committed\n');
            expect(result.code).toBe(130);
          } else {
            expect(withoutWarning(result.stderr)).toMatch(/^pgfactory: (stdin, line \d+: terminating connection due to administrator command|lost the connection to host "127\.0\.0\.1", port \d+: server closed the connection unexpectedly)\n$/);
            expect(result.code).toBe(2);
          }
        } finally {
          stopFeeding();
        }
      }
    }
  }, 400_000);

  it.each(SLOW_SOURCES)('SIGINT during a query, and a terminated backend ($name)', async (source) => {
    for (const fault of ['sigint', 'terminate'] as const) {
      const home = scratchDir();
      const { args, env } = source.setup(realTarget(), home);
      const appName = `pgf-secrets-${fault}-${Math.random().toString(36).slice(2, 8)}`;
      const cli = spawnCli(['query', ...args, 'SELECT pg_sleep(30)'], { cwd: home, env: { ...env, PGAPPNAME: appName } });
      const active = await pollUntil(async () => (await sql("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'", [appName])).length > 0, 20_000);
      expect(active).toBe(true);
      if (fault === 'sigint') cli.child.kill('SIGINT');
      else await sql('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);
      const result = await cli.done;
      expectNoPassword(`${source.name}: ${fault}`, result);
      expect(result.code).toBe(fault === 'sigint' ? 130 : 2);
    }
  });
});

describe('bad input that contains the password', () => {
  const cases: Array<[string, string[], Record<string, string>]> = [
    ['a URI with a bad port', ['query', '-d', `postgres://${ROLE}:${encodeURIComponent(PASSWORD)}@127.0.0.1:99999/postgres`, 'SELECT 1'], {}],
    ['a URI with a non-numeric port', ['query', '-d', `postgres://${ROLE}:${encodeURIComponent(PASSWORD)}@127.0.0.1:port/postgres`, 'SELECT 1'], {}],
    ['a URI with a password query parameter and a typo', ['query', '-d', `postgres://${ROLE}@127.0.0.1:1/postgres?password=${encodeURIComponent(PASSWORD)}&sslmod=require`, 'SELECT 1'], {}],
    ['a conninfo with an unquoted password containing a space', ['query', '-d', `host=127.0.0.1 password=${PASSWORD} more`, 'SELECT 1'], {}],
    ['a conninfo with an unknown keyword', ['query', '-d', `password='${PASSWORD}' bogus=1`, 'SELECT 1'], {}],
    ['a DATABASE_URL that is not a URI', ['query', 'SELECT 1'], { DATABASE_URL: `mysql://${ROLE}:${PASSWORD}@host/db` }],
    ['an invalid sslmode next to the password', ['config', '-d', `postgres://${ROLE}:${encodeURIComponent(PASSWORD)}@127.0.0.1/postgres?sslmode=bogus`], {}],
    ['an unreadable sslrootcert', ['query', '-d', `postgres://${ROLE}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${1}/postgres?sslmode=verify-full&sslrootcert=/nonexistent`, 'SELECT 1'], {}],
  ];
  for (const [name, args, env] of cases) {
    it(`${name}: exit 1 or 2, one error line, no password`, async () => {
      const result = await runCli(args, { env: { DATABASE_URL: '', ...env } });
      expectNoPassword(name, result);
      expect([1, 2]).toContain(result.code);
      expect(result.stderr.split('\n').filter((line) => line.startsWith('pgfactory:'))).toHaveLength(1);
    });
  }
});

describe('warnings about where the password is kept', () => {
  it('a password in a -d URI or conninfo prints the one-line warning; PGPASSWORD does not', async () => {
    const uri = await runCli(['config', '-d', `postgres://${ROLE}:${encodeURIComponent(PASSWORD)}@127.0.0.1/postgres`]);
    expect(uri.stderr).toBe(`${COMMAND_LINE_WARNING}\n`);
    const conninfo = await runCli(['config', '-d', `host=127.0.0.1 password='${PASSWORD}'`]);
    expect(conninfo.stderr).toBe(`${COMMAND_LINE_WARNING}\n`);
    const env = await runCli(['config'], { env: { PGPASSWORD: PASSWORD } });
    expect(env.stderr).toBe('');
    for (const result of [uri, conninfo, env]) expectNoPassword('warning check', result);
  });

  it('a .pgpass readable by group or others is ignored with a warning, as libpq does', async () => {
    const home = scratchDir();
    const file = path.join(home, '.pgpass');
    fs.writeFileSync(file, `127.0.0.1:${serverPort()}:*:${ROLE}:${PASSWORD}\n`);
    fs.chmodSync(file, 0o644);
    const env = { PGHOST: '127.0.0.1', PGPORT: String(serverPort()), PGUSER: ROLE, PGDATABASE: 'postgres', DATABASE_URL: '' };
    const ignored = await runCli(['query', 'SELECT 1'], { cwd: home, env });
    expectNoPassword('.pgpass 0644', ignored);
    const warning = `WARNING: password file "${file}" has group or world access; permissions should be u=rw (0600) or less`;
    expect(ignored.stderr).toBe(`${warning}\npgfactory: cannot connect to host "127.0.0.1", port ${serverPort()}: the server asks for a password and none was given: set PGPASSWORD, put it in .env or ~/.pgpass, or use -W\n`);
    expect(ignored.code).toBe(2);

    const config = await runCli(['config', '--format', 'json'], { cwd: home, env });
    expect(config.stderr).toBe(`${warning}\n`);
    expect(config.code).toBe(0);
    // The ignored file gives no password: config says so.
    expect(JSON.parse(config.stdout)).toMatchObject({ user: { value: ROLE, source: 'env PGUSER' }, password: { value: '', source: 'default' } });

    fs.chmodSync(file, 0o600);
    const configUsed = await runCli(['config', '--format', 'json'], { cwd: home, env });
    expectNoPassword('config with .pgpass 0600', configUsed);
    expect({ stderr: configUsed.stderr, code: configUsed.code }).toEqual({ stderr: '', code: 0 });
    expect(JSON.parse(configUsed.stdout).password).toEqual({ value: '********', source: `pgpass ${file}:1` });
    const used = await runCli(['query', '--format', 'csv', 'SELECT current_user AS u'], { cwd: home, env });
    expectNoPassword('.pgpass 0600', used);
    expect(used).toMatchObject({ stdout: `u\n${ROLE}\n`, stderr: '', code: 0 });
  });
});

afterAll(() => {
  // A last sweep over everything collected, in case an assertion above was skipped.
  const leaks = everything.filter(({ output }) => NEEDLES.some((needle) => output.includes(needle)));
  expect(leaks.map(({ what }) => what)).toEqual([]);
});
