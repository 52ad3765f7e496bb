import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeServer } from '../src/describe.js';
import { SettingsError } from '../src/errors.js';
import {
  DEFAULT_CONNECT_TIMEOUT_S,
  SETTING_NAMES,
  loadSettings,
  redactedSettings,
  resolveSettings,
  type ResolvedSettings,
  type SettingsInput,
} from '../src/settings.js';

const HOME = '/home/u';

interface FakeMachine {
  files?: Record<string, string>;
  modes?: Record<string, number>;
  dirs?: string[];
}

/** A SettingsInput backed by in-memory files; no socket directory exists unless listed. */
function input(overrides: Partial<SettingsInput> = {}, machine: FakeMachine = {}): SettingsInput {
  const files = machine.files ?? {};
  const modes = machine.modes ?? {};
  const dirs = machine.dirs ?? [];
  return {
    flags: {},
    env: {},
    dotenv: {},
    homedir: HOME,
    osUser: 'alice',
    readFile: (file) => files[file],
    fileMode: (file) => (files[file] === undefined ? undefined : (modes[file] ?? 0o100600)),
    existsDir: (dir) => dirs.includes(dir),
    ...overrides,
  };
}

function resolve(overrides: Partial<SettingsInput> = {}, machine: FakeMachine = {}): ResolvedSettings {
  return resolveSettings(input(overrides, machine));
}

function errorOf(run: () => unknown): SettingsError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SettingsError);
    return error as SettingsError;
  }
  throw new Error('expected a SettingsError');
}

describe('defaults', () => {
  it('uses libpq defaults with our timeout and application name', () => {
    const { values, sources, warnings } = resolve();
    expect({ ...values, password: values.password }).toEqual({
      host: 'localhost',
      port: 5432,
      hosts: [{ host: 'localhost', hostaddr: undefined, port: 5432 }],
      user: 'alice',
      password: undefined,
      dbname: 'alice',
      sslmode: 'prefer',
      sslrootcert: undefined,
      sslcert: undefined,
      sslkey: undefined,
      application_name: 'pgfactory',
      connect_timeout: DEFAULT_CONNECT_TIMEOUT_S,
      sslcrl: undefined,
      sslnegotiation: 'postgres',
      sslcertmode: 'allow',
      ssl_min_protocol_version: undefined,
      ssl_max_protocol_version: undefined,
      options: undefined,
      keepalives: true,
      keepalives_idle: undefined,
      target_session_attrs: 'any',
      load_balance_hosts: 'disable',
      require_auth: undefined,
      channel_binding: 'prefer',
    });
    expect(Object.values(sources)).toEqual(SETTING_NAMES.map(() => 'default'));
    expect(warnings).toEqual([]);
  });

  it('prefers the first existing socket directory over localhost', () => {
    expect(resolve({}, { dirs: ['/tmp', '/var/run/postgresql'] }).values.host).toBe('/var/run/postgresql');
    expect(resolve({}, { dirs: ['/tmp'] }).values.host).toBe('/tmp');
  });

  it('defaults dbname to the resolved user, not the OS user', () => {
    const { values, sources } = resolve({ env: { PGUSER: 'bob' } });
    expect(values.user).toBe('bob');
    expect(values.dbname).toBe('bob');
    expect(sources.dbname).toBe('default');
  });
});

describe('layer precedence', () => {
  it('env beats defaults, .env fills only what env lacks', () => {
    const { values, sources } = resolve({
      env: { PGHOST: 'envhost', PGPORT: '6000' },
      dotenv: { PGHOST: 'dotenvhost', PGUSER: 'dotuser', PGAPPNAME: 'app' },
    });
    expect(values.host).toBe('envhost');
    expect(sources.host).toBe('env PGHOST');
    expect(values.port).toBe(6000);
    expect(sources.port).toBe('env PGPORT');
    expect(values.user).toBe('dotuser');
    expect(sources.user).toBe('.env PGUSER');
    expect(values.application_name).toBe('app');
    expect(sources.application_name).toBe('.env PGAPPNAME');
  });

  it('labels .env values with the given dotenv path', () => {
    const { sources } = resolve({ dotenv: { PGHOST: 'h', DATABASE_URL: 'postgres://u@x/db' }, dotenvPath: 'conf/dev.env' });
    expect(sources.host).toBe('DATABASE_URL (conf/dev.env)');
    expect(sources.user).toBe('DATABASE_URL (conf/dev.env)');
  });

  it('reads every PG* variable, including the SSL files', () => {
    const { values, sources } = resolve({
      env: {
        PGSSLMODE: 'verify-full',
        PGSSLROOTCERT: '/ca.pem',
        PGSSLCERT: '/c.pem',
        PGSSLKEY: '/k.pem',
        PGCONNECT_TIMEOUT: '0',
        PGPASSWORD: 'pw',
        PGDATABASE: 'db',
      },
    });
    expect(values.sslmode).toBe('verify-full');
    expect(values.sslrootcert).toBe('/ca.pem');
    expect(values.sslcert).toBe('/c.pem');
    expect(values.sslkey).toBe('/k.pem');
    expect(values.connect_timeout).toBe(0);
    expect(values.password).toBe('pw');
    expect(values.dbname).toBe('db');
    expect(sources.sslkey).toBe('env PGSSLKEY');
    expect(sources.connect_timeout).toBe('env PGCONNECT_TIMEOUT');
  });

  it('treats empty PGHOST/PGPORT/PGUSER/PGDATABASE as unset, but keeps an empty PGPASSWORD and PGAPPNAME', () => {
    const { values, sources } = resolve({
      env: { PGHOST: '', PGPORT: '', PGUSER: '', PGDATABASE: '', PGPASSWORD: '', PGAPPNAME: '' },
      dotenv: { PGHOST: 'fromdotenv' },
    });
    // the real env defines PGHOST (as empty), so .env does not fill it
    expect(values.host).toBe('localhost');
    expect(sources.host).toBe('default');
    expect(values.port).toBe(5432);
    expect(values.user).toBe('alice');
    expect(values.dbname).toBe('alice');
    expect(values.password).toBe('');
    expect(sources.password).toBe('env PGPASSWORD');
    expect(values.application_name).toBe('');
  });

  it('DATABASE_URL beats PG* variables; env DATABASE_URL beats the .env one', () => {
    const fromEnv = resolve({
      env: { DATABASE_URL: 'postgres://urluser:pw@urlhost:6543/urldb?sslmode=require', PGHOST: 'pghost', PGAPPNAME: 'pgapp' },
      dotenv: { DATABASE_URL: 'postgres://other@otherhost/otherdb' },
    });
    expect(fromEnv.values.host).toBe('urlhost');
    expect(fromEnv.values.port).toBe(6543);
    expect(fromEnv.values.user).toBe('urluser');
    expect(fromEnv.values.password).toBe('pw');
    expect(fromEnv.values.dbname).toBe('urldb');
    expect(fromEnv.values.sslmode).toBe('require');
    expect(fromEnv.sources.host).toBe('DATABASE_URL');
    expect(fromEnv.sources.sslmode).toBe('DATABASE_URL');
    expect(fromEnv.values.application_name).toBe('pgapp');
    expect(fromEnv.sources.application_name).toBe('env PGAPPNAME');
    expect(fromEnv.warnings).toEqual([]);

    const fromDotenv = resolve({ dotenv: { DATABASE_URL: 'postgres://other@otherhost/otherdb' } });
    expect(fromDotenv.values.host).toBe('otherhost');
    expect(fromDotenv.sources.host).toBe('DATABASE_URL (.env)');
  });

  it('accepts a conninfo DATABASE_URL', () => {
    const { values, sources } = resolve({ env: { DATABASE_URL: "host=h1 port=7000 dbname='my db'" } });
    expect(values.host).toBe('h1');
    expect(values.port).toBe(7000);
    expect(values.dbname).toBe('my db');
    expect(sources.dbname).toBe('DATABASE_URL');
  });

  it('flags beat DATABASE_URL and env', () => {
    const { values, sources } = resolve({
      flags: { host: 'flaghost', port: '5555', user: 'flaguser', sslmode: 'disable', connectTimeout: '3', applicationName: 'fa' },
      env: { DATABASE_URL: 'postgres://urluser@urlhost:6543/urldb', PGSSLMODE: 'require', PGCONNECT_TIMEOUT: '9' },
    });
    expect(values).toMatchObject({ host: 'flaghost', port: 5555, user: 'flaguser', sslmode: 'disable', connect_timeout: 3, application_name: 'fa', dbname: 'urldb' });
    expect(sources).toEqual({
      host: 'flag --host',
      port: 'flag --port',
      user: 'flag --user',
      password: 'default',
      dbname: 'DATABASE_URL',
      sslmode: 'flag --sslmode',
      sslrootcert: 'default',
      sslcert: 'default',
      sslkey: 'default',
      application_name: 'flag --application-name',
      connect_timeout: 'flag --connect-timeout',
    });
  });

  it('the -W prompt password beats every password below it', () => {
    const { values, sources, warnings } = resolve({
      flags: { password: 'typed', dbname: 'postgres://u:inuri@h/db' },
      env: { PGPASSWORD: 'envpw' },
    });
    expect(values.password).toBe('typed');
    expect(sources.password).toBe('password prompt (-W)');
    expect(warnings).toEqual([
      'WARNING: a password on the command line is visible to other users in the process list; use PGPASSWORD, a .env file or ~/.pgpass instead',
    ]);
  });

  it('overrides beat everything except a plain -d database name', () => {
    const overrides = { values: { host: '127.0.0.1', port: 54321, user: 'postgres', password: 'secret', dbname: 'postgres' }, source: 'embedded server' };
    const withPlain = resolve({
      flags: { host: 'flaghost', dbname: 'mydb', password: 'typed' },
      env: { PGPORT: '1' },
      overrides,
    });
    expect(withPlain.values).toMatchObject({ host: '127.0.0.1', port: 54321, user: 'postgres', dbname: 'mydb' });
    expect(withPlain.values.password).toBe('secret');
    expect(withPlain.sources.host).toBe('embedded server');
    expect(withPlain.sources.password).toBe('embedded server');
    expect(withPlain.sources.dbname).toBe('flag -d');

    const withUri = resolve({ flags: { dbname: 'postgres://x@y/otherdb' }, overrides });
    expect(withUri.values.dbname).toBe('postgres');
    expect(withUri.sources.dbname).toBe('embedded server');
  });
});

describe('-d', () => {
  it('takes a plain database name', () => {
    const { values, sources } = resolve({ flags: { dbname: 'shop' }, env: { DATABASE_URL: 'postgres://h/urldb' } });
    expect(values.dbname).toBe('shop');
    expect(sources.dbname).toBe('flag -d');
    expect(values.host).toBe('h');
  });

  it('expands a URI whose fields count as flags and beat -h/-p/-U', () => {
    const { values, sources, warnings } = resolve({
      flags: {
        dbname: 'postgresql://ann@urihost:6000/uridb?application_name=x&sslcert=/c.pem&sslkey=/k.pem&sslrootcert=/ca.pem&connect_timeout=4',
        host: 'flaghost',
        port: '7000',
        user: 'flaguser',
        sslmode: 'require',
      },
    });
    expect(values).toMatchObject({
      host: 'urihost',
      port: 6000,
      user: 'ann',
      dbname: 'uridb',
      sslmode: 'require',
      sslcert: '/c.pem',
      sslkey: '/k.pem',
      sslrootcert: '/ca.pem',
      application_name: 'x',
      connect_timeout: 4,
    });
    expect(sources.host).toBe('flag -d');
    expect(sources.sslmode).toBe('flag --sslmode');
    expect(warnings).toEqual([]);
  });

  it('keeps libpq sslmode names from a URI and lets query params beat the authority', () => {
    const { values } = resolve({ flags: { dbname: 'postgres://h1/db?sslmode=verify-ca&host=/var/run/postgresql&port=6001' } });
    expect(values.sslmode).toBe('verify-ca');
    expect(values.host).toBe('/var/run/postgresql');
    expect(values.port).toBe(6001);
  });

  it('reads a percent-encoded socket directory and IPv6 hosts', () => {
    expect(resolve({ flags: { dbname: 'postgres://%2Ftmp/db' } }).values.host).toBe('/tmp');
    expect(resolve({ flags: { dbname: 'postgres://[::1]:5433/db' } }).values.host).toBe('::1');
  });

  it('expands a conninfo string with quoting and escapes, beating -h', () => {
    const { values, sources, warnings } = resolve({
      flags: { dbname: "host = cihost  dbname='it\\'s a \\\\db' user=bob\\ smith password='p w'", host: 'flaghost' },
    });
    expect(values.host).toBe('cihost');
    expect(values.dbname).toBe("it's a \\db");
    expect(values.user).toBe('bob smith');
    expect(values.password).toBe('p w');
    expect(sources.host).toBe('flag -d');
    expect(sources.password).toBe('flag -d');
    expect(warnings).toEqual([
      'WARNING: a password on the command line is visible to other users in the process list; use PGPASSWORD, a .env file or ~/.pgpass instead',
    ]);
  });

  it('takes options and refuses what pgfactory cannot honour, by name and source', () => {
    const { values, sources } = resolve({ flags: { dbname: "dbname=x options='-c work_mem=1MB'" } });
    expect(values.options).toBe('-c work_mem=1MB');
    expect(sources.options).toBe('flag -d');
    expect(errorOf(() => resolve({ flags: { dbname: 'dbname=x tcp_user_timeout=10' } })).message).toBe(
      'pgfactory does not support tcp_user_timeout (TCP_USER_TIMEOUT: Node.js sockets expose no way to set it), set in flag -d',
    );
  });

  it('refuses unknown URI parameters, as libpq does', () => {
    expect(errorOf(() => resolve({ env: { DATABASE_URL: 'postgres://h/db?schema=public' } })).message).toBe(
      'invalid URI query parameter: "schema" in DATABASE_URL',
    );
    expect(errorOf(() => resolve({ env: { DATABASE_URL: 'postgres://h/db?sslmdoe=verify-full' } })).message).toBe(
      'invalid URI query parameter: "sslmdoe" in DATABASE_URL',
    );
  });
});

describe('service file', () => {
  const serviceFile = `${HOME}/.pg_service.conf`;
  const services = [
    '# comment',
    '[other]',
    'host=otherhost',
    '',
    '[prod]',
    'host=svchost',
    'port = 6432',
    'dbname=svcdb',
    'sslmode=verify-full',
    'password=svcpw',
    '[later]',
    'host=laterhost',
  ].join('\n');

  it('beats PG* variables', () => {
    const { values, sources } = resolve(
      { env: { PGSERVICE: 'prod', PGHOST: 'pghost', PGUSER: 'pguser', PGPASSWORD: 'envpw' } },
      { files: { [serviceFile]: services } },
    );
    expect(values).toMatchObject({ host: 'svchost', port: 6432, dbname: 'svcdb', sslmode: 'verify-full', user: 'pguser' });
    expect(values.password).toBe('svcpw');
    expect(sources.host).toBe(`service "prod" (${serviceFile})`);
    expect(sources.user).toBe('env PGUSER');
  });

  it('loses to DATABASE_URL and flags', () => {
    const { values, sources } = resolve(
      { flags: { port: '7777' }, env: { PGSERVICE: 'prod', DATABASE_URL: 'postgres://urlhost' } },
      { files: { [serviceFile]: services } },
    );
    expect(values.host).toBe('urlhost');
    expect(sources.host).toBe('DATABASE_URL');
    expect(values.port).toBe(7777);
    expect(values.dbname).toBe('svcdb');
  });

  it('is named by -d before DATABASE_URL before PGSERVICE, and read from PGSERVICEFILE', () => {
    const file = '/etc/custom/services';
    const text = '[a]\nhost=ahost\n[b]\nhost=bhost\n[c]\nhost=chost\n';
    const pick = (env: Record<string, string>, dbname?: string) =>
      resolve({ flags: { dbname }, env: { PGSERVICEFILE: file, ...env } }, { files: { [file]: text } }).values.host;
    expect(pick({ PGSERVICE: 'c', DATABASE_URL: 'service=b' }, 'service=a')).toBe('ahost');
    expect(pick({ PGSERVICE: 'c', DATABASE_URL: 'postgres://?service=b' })).toBe('bhost');
    expect(pick({ PGSERVICE: 'c' })).toBe('chost');
  });

  it('falls back to PGSYSCONFDIR/pg_service.conf', () => {
    const { values, sources } = resolve(
      { env: { PGSERVICE: 'prod', PGSYSCONFDIR: '/etc/pg' } },
      { files: { [serviceFile]: '[dev]\nhost=devhost\n', '/etc/pg/pg_service.conf': '[prod]\nhost=syshost\n' } },
    );
    expect(values.host).toBe('syshost');
    expect(sources.host).toBe('service "prod" (/etc/pg/pg_service.conf)');
  });

  it('reports an unknown service with the files searched', () => {
    const error = errorOf(() => resolve({ env: { PGSERVICE: 'nope', PGSYSCONFDIR: '/etc/pg' } }, { files: { [serviceFile]: services } }));
    expect(error.message).toBe(`definition of service "nope" not found (searched ${serviceFile}, /etc/pg/pg_service.conf)`);
  });

  it('rejects unknown keywords and lines without "="', () => {
    expect(errorOf(() => resolve({ env: { PGSERVICE: 's' } }, { files: { [serviceFile]: '[s]\nhots=x\n' } })).message).toBe(
      `invalid connection option "hots" in service file "${serviceFile}", line 2`,
    );
    expect(errorOf(() => resolve({ env: { PGSERVICE: 's' } }, { files: { [serviceFile]: '[s]\nhost\n' } })).message).toBe(
      `syntax error in service file "${serviceFile}", line 2`,
    );
  });
});

describe('password file', () => {
  const passfile = `${HOME}/.pgpass`;

  it('matches on final host/port/dbname/user, with wildcards and the first match winning', () => {
    const text = [
      '# host:port:db:user:password',
      'otherhost:5432:*:*:wrong1',
      'dbhost:5433:*:*:wrong2',
      'dbhost:*:shop:carol:rightpw',
      '*:*:*:*:fallback',
    ].join('\n');
    const { values, sources } = resolve({ flags: { host: 'dbhost', dbname: 'shop', user: 'carol' } }, { files: { [passfile]: text } });
    expect(values.password).toBe('rightpw');
    expect(sources.password).toBe(`pgpass ${passfile}:4`);

    const other = resolve({ flags: { host: 'dbhost', dbname: 'shop', user: 'dave' } }, { files: { [passfile]: text } });
    expect(other.values.password).toBe('fallback');
    expect(other.sources.password).toBe(`pgpass ${passfile}:5`);

    const byPort = resolve({ flags: { host: 'dbhost', port: '5433' } }, { files: { [passfile]: text } });
    expect(byPort.values.password).toBe('wrong2');
  });

  it('matches socket connections against localhost and honours PGPASSFILE', () => {
    const file = '/secrets/pass';
    const { values, sources } = resolve(
      { env: { PGPASSFILE: file } },
      { files: { [file]: 'localhost:5432:alice:alice:sockpw\n' }, dirs: ['/tmp'] },
    );
    expect(values.host).toBe('/tmp');
    expect(values.password).toBe('sockpw');
    expect(sources.password).toBe('pgpass /secrets/pass:1');
  });

  it('is ignored when a password came from any layer above', () => {
    const { values, sources } = resolve({ env: { PGPASSWORD: 'envpw' } }, { files: { [passfile]: '*:*:*:*:filepw' } });
    expect(values.password).toBe('envpw');
    expect(sources.password).toBe('env PGPASSWORD');
  });

  it('is ignored with a warning when group or others can read it', () => {
    const { values, sources, warnings } = resolve({}, { files: { [passfile]: '*:*:*:*:filepw' }, modes: { [passfile]: 0o100644 } });
    expect(values.password).toBeUndefined();
    expect(sources.password).toBe('default');
    expect(warnings).toEqual([
      `WARNING: password file "${passfile}" has group or world access; permissions should be u=rw (0600) or less`,
    ]);
  });

  it('leaves the password unset when nothing matches', () => {
    expect(resolve({}, { files: { [passfile]: 'x:1:y:z:pw12345' } }).values.password).toBeUndefined();
  });
});

describe('validation', () => {
  it('rejects bad ports with the value and its source', () => {
    expect(errorOf(() => resolve({ env: { PGPORT: 'abc' } })).message).toBe('invalid port "abc" from env PGPORT: must be an integer 1-65535');
    expect(errorOf(() => resolve({ flags: { port: '0' } })).message).toBe('invalid port "0" from flag --port: must be an integer 1-65535');
    expect(errorOf(() => resolve({ dotenv: { PGPORT: '70000' } })).message).toBe('invalid port "70000" from .env PGPORT: must be an integer 1-65535');
    expect(errorOf(() => resolve({ flags: { dbname: 'port=5x' } })).message).toBe('invalid port "5x" from flag -d: must be an integer 1-65535');
  });

  it('treats an empty port as unset', () => {
    const { values, sources } = resolve({ flags: { port: '' }, env: { PGPORT: '6000' } });
    expect(values.port).toBe(6000);
    expect(sources.port).toBe('env PGPORT');
  });

  it('does not validate values that lost to a higher layer', () => {
    expect(resolve({ flags: { port: '5433' }, env: { PGPORT: 'abc' } }).values.port).toBe(5433);
  });

  it('rejects an unknown sslmode', () => {
    expect(errorOf(() => resolve({ flags: { sslmode: 'sometimes' } })).message).toBe(
      'invalid sslmode "sometimes" from flag --sslmode: expected one of disable, allow, prefer, require, verify-ca, verify-full',
    );
  });

  it('rejects a bad connect_timeout', () => {
    expect(errorOf(() => resolve({ env: { PGCONNECT_TIMEOUT: '-1' } })).message).toBe(
      'invalid connect_timeout "-1" from env PGCONNECT_TIMEOUT: must be a whole number of seconds 0-2147483647 (0 = wait forever)',
    );
    expect(errorOf(() => resolve({ flags: { connectTimeout: '1.5' } })).message).toBe(
      'invalid connect_timeout "1.5" from flag --connect-timeout: must be a whole number of seconds 0-2147483647 (0 = wait forever)',
    );
  });

  it('rejects a malformed URI, redacting the password', () => {
    const error = errorOf(() => resolve({ env: { DATABASE_URL: 'postgres://user:secret@[host/db' } }));
    expect(error.message).toBe(
      'invalid connection URI in DATABASE_URL: end of string reached when looking for matching "]" in IPv6 host address in URI: "postgres://user:********@[host/db"',
    );
    expect(error.message).not.toContain('secret');
  });

  it('rejects a DATABASE_URL that is neither a URI nor a conninfo, redacting the password', () => {
    expect(errorOf(() => resolve({ dotenv: { DATABASE_URL: 'mysql://root:secret@h/db' } })).message).toBe(
      'invalid DATABASE_URL "mysql://root:********@h/db" from .env DATABASE_URL: expected a postgres:// URI or a key=value connection string',
    );
  });

  it('rejects malformed conninfo strings without echoing passwords', () => {
    expect(errorOf(() => resolve({ flags: { dbname: "host='unterminated" } })).message).toBe(
      'invalid connection string in flag -d: unterminated quoted string after "host" in connection info string',
    );
    expect(errorOf(() => resolve({ flags: { dbname: 'host=h dbname' } })).message).toBe(
      'invalid connection string in flag -d: missing "=" after "dbname" in connection info string',
    );
    expect(errorOf(() => resolve({ flags: { dbname: 'hots=h' } })).message).toBe('invalid connection option "hots" in flag -d');
    const leaked = errorOf(() => resolve({ flags: { dbname: 'password=my secret' } }));
    expect(leaked.message).toBe(
      'invalid connection string in flag -d: missing "=" after the value of password (quote values that contain spaces) in connection info string',
    );
    expect(leaked.message).not.toContain('secret');
  });
});

describe('password privacy and presentation', () => {
  it('keeps the password readable but non-enumerable', () => {
    const { values } = resolve({ env: { PGPASSWORD: 'hunter2' } });
    expect(values.password).toBe('hunter2');
    expect(Object.keys(values)).not.toContain('password');
    expect(JSON.stringify(values)).not.toContain('hunter2');
  });

  it('redactedSettings lists every setting in order with the password masked', () => {
    const resolved = resolve({ flags: { host: 'db', dbname: 'shop' }, env: { PGPASSWORD: 'hunter2', PGSSLCERT: '/c.pem' } });
    expect(redactedSettings(resolved)).toEqual([
      { setting: 'host', value: 'db', source: 'flag --host' },
      { setting: 'port', value: '5432', source: 'default' },
      { setting: 'user', value: 'alice', source: 'default' },
      { setting: 'password', value: '********', source: 'env PGPASSWORD' },
      { setting: 'dbname', value: 'shop', source: 'flag -d' },
      { setting: 'sslmode', value: 'prefer', source: 'default' },
      { setting: 'sslrootcert', value: '', source: 'default' },
      { setting: 'sslcert', value: '/c.pem', source: 'env PGSSLCERT' },
      { setting: 'sslkey', value: '', source: 'default' },
      { setting: 'application_name', value: 'pgfactory', source: 'default' },
      { setting: 'connect_timeout', value: '10', source: 'default' },
    ]);
    expect(redactedSettings(resolve())[3]).toEqual({ setting: 'password', value: '', source: 'default' });
  });

  it('describeServer names a TCP host or a socket file', () => {
    expect(describeServer(resolve({ flags: { host: '127.0.0.1' } }).values)).toBe('host "127.0.0.1", port 5432');
    expect(describeServer(resolve({ flags: { host: '/var/run/postgresql', port: '5433' } }).values)).toBe(
      'socket "/var/run/postgresql/.s.PGSQL.5433"',
    );
    expect(describeServer(resolve({ flags: { host: '/var/run/postgresql/', port: '5433' } }).values)).toBe(
      'socket "/var/run/postgresql/.s.PGSQL.5433"',
    );
  });
});

describe('loadSettings', () => {
  const tempDirs: string[] = [];
  afterEach(() => {
    for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = (): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-settings-'));
    tempDirs.push(dir);
    return dir;
  };

  it('reads ./.env from cwd, which fills only what the environment lacks', () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, '.env'), 'PGHOST=dotenvhost\nPGPORT=6100\nPGAPPNAME="from file"\n');
    const { values, sources } = loadSettings({}, { cwd, env: { PGPORT: '6200', HOME: cwd, PGPASSFILE: path.join(cwd, 'none') } });
    expect(values.host).toBe('dotenvhost');
    expect(sources.host).toBe('.env PGHOST');
    expect(values.port).toBe(6200);
    expect(sources.port).toBe('env PGPORT');
    expect(values.application_name).toBe('from file');
  });

  it('reads an explicit --env-file and labels sources with it', () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, 'dev.env'), 'DATABASE_URL=postgres://u@devhost/devdb\n');
    const { values, sources } = loadSettings({}, { cwd, envFile: 'dev.env', env: { HOME: cwd } });
    expect(values.host).toBe('devhost');
    expect(sources.host).toBe('DATABASE_URL (dev.env)');
  });

  it('is fine without a default .env, but a missing --env-file is an error', () => {
    const cwd = tempDir();
    expect(loadSettings({ host: 'h' }, { cwd, env: { HOME: cwd } }).values.host).toBe('h');
    const error = errorOf(() => loadSettings({}, { cwd, envFile: 'missing.env', env: { HOME: cwd } }));
    expect(error.message).toBe('env file "missing.env" not found');
  });
});
