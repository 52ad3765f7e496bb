// libpq's connection-string grammar (src/settings/conninfo.ts), the parameter table and the
// multi-host rules: pure functions, checked against what libpq (psql 15+) does with the same text.
import { describe, expect, it } from 'vitest';
import { SettingsError } from '../src/errors.js';
import { resolveSettings, type SettingsInput } from '../src/settings.js';
import { ConninfoSyntaxError, isConnectionString, parseKeywordValue, parseUri, percentDecode } from '../src/settings/conninfo.js';
import { hostOrder, hostTargets, targetMismatch } from '../src/settings/hosts.js';
import { PARAMETER_NAMES, refusal } from '../src/settings/parameters.js';

const pairs = (uri: string) => Object.fromEntries(parseUri(uri).map(({ key, value }) => [key, value]));
/** The message of the error `run` throws, which must be a `kind`. */
function messageOf(kind: new (...args: never[]) => Error, run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(kind);
    return (error as Error).message;
  }
  throw new Error(`expected a ${kind.name}`);
}
const syntaxError = (run: () => unknown) => messageOf(ConninfoSyntaxError, run);
const settingsError = (run: () => unknown) => messageOf(SettingsError, run);

describe('URIs', () => {
  it('takes empty hosts, a query host and the bare prefix, as psql does', () => {
    expect(pairs('postgres://:5433/db?host=/var/run/postgresql')).toEqual({ port: '5433', dbname: 'db', host: '/var/run/postgresql' });
    expect(pairs('postgres://app@:5433/db?host=/socket/dir')).toEqual({ user: 'app', port: '5433', dbname: 'db', host: '/socket/dir' });
    expect(pairs('postgresql://app@')).toEqual({ user: 'app' });
    expect(pairs('postgres://:5433/')).toEqual({ port: '5433' });
    expect(pairs('postgresql://')).toEqual({});
    expect(pairs('postgresql:///mydb')).toEqual({ dbname: 'mydb' });
  });

  it('passes a bracketed host through unvalidated and splits host lists', () => {
    expect(pairs('postgresql://[200z:db8::1234]/')).toEqual({ host: '200z:db8::1234' });
    expect(pairs('postgresql://[::1]:5433,host2/db')).toEqual({ host: '::1,host2', port: '5433,', dbname: 'db' });
    expect(pairs('postgres://a:5432,b:5433/db')).toEqual({ host: 'a,b', port: '5432,5433', dbname: 'db' });
    expect(pairs('postgres://u:p%40ss@a,b/db')).toEqual({ user: 'u', password: 'p@ss', host: 'a,b', dbname: 'db' });
  });

  it('percent-decodes every part and refuses bad encodings and %00', () => {
    expect(pairs('postgres://%2Ftmp/d%C3%A9b?application_name=a%20b')).toEqual({ host: '/tmp', dbname: 'déb', application_name: 'a b' });
    expect(syntaxError(() => parseUri('postgres://h/%zz'))).toBe('invalid percent-encoded token: "%zz"');
    expect(syntaxError(() => parseUri('postgres://h/%1'))).toBe('invalid percent-encoded token: "%1"');
    expect(syntaxError(() => parseUri('postgres://h/%'))).toBe('invalid percent-encoded token: "%"');
    expect(syntaxError(() => parseUri('postgres://h/%XXfoo'))).toBe('invalid percent-encoded token: "%XXfoo"');
    expect(syntaxError(() => parseUri('postgres://h/a%00b'))).toBe('forbidden value %00 in percent-encoded value: "a%00b"');
    expect(syntaxError(() => parseUri('postgres://u:se%zzcret@h/db'))).toBe('invalid percent-encoding in the password part of the URI');
  });

  it('refuses malformed query strings', () => {
    expect(syntaxError(() => parseUri('postgres://h/db?zzz'))).toBe('missing key/value separator "=" in URI query parameter: "zzz"');
    expect(syntaxError(() => parseUri('postgres://h/db?a&b'))).toBe('missing key/value separator "=" in URI query parameter: "a"');
    expect(syntaxError(() => parseUri('postgres://h/db?key=key=value'))).toBe('extra key/value separator "=" in URI query parameter: "key"');
    expect(pairs('postgres://h/db?ssl=true')).toEqual({ host: 'h', dbname: 'db', sslmode: 'require' });
  });

  it('refuses broken IPv6 brackets', () => {
    expect(syntaxError(() => parseUri('postgres://[]/db'))).toBe('IPv6 host address may not be empty in URI: "postgres://[]/db"');
    expect(syntaxError(() => parseUri('postgres://[::1]x/db'))).toBe(
      'unexpected character "x" at position 17 in URI (expected ":" or "/"): "postgres://[::1]x/db"',
    );
  });
});

describe('key=value strings', () => {
  it('quotes, escapes and spaces around =', () => {
    expect(parseKeywordValue("host = h  dbname='it\\'s a db' user=a\\ b password=''")).toEqual([
      { key: 'host', value: 'h' },
      { key: 'dbname', value: "it's a db" },
      { key: 'user', value: 'a b' },
      { key: 'password', value: '' },
    ]);
    expect(syntaxError(() => parseKeywordValue("host='x"))).toBe('unterminated quoted string after "host" in connection info string');
    expect(syntaxError(() => parseKeywordValue('host'))).toBe('missing "=" after "host" in connection info string');
  });

  it('-d is a connection string only with "=" or a URI prefix', () => {
    expect(isConnectionString('mydb')).toBe(false);
    expect(isConnectionString('postgres://')).toBe(true);
    expect(isConnectionString('postgresql://h')).toBe(true);
    expect(isConnectionString('dbname=x')).toBe(true);
    expect(isConnectionString('postgres:/h')).toBe(false);
  });

  it('percentDecode leaves text without % alone', () => {
    expect(percentDecode('a+b')).toBe('a+b');
  });
});

const input = (flags: SettingsInput['flags'], env: Record<string, string> = {}, files: Record<string, string> = {}): SettingsInput => ({
  flags,
  env,
  dotenv: {},
  homedir: '/home/u',
  osUser: 'alice',
  readFile: (file) => files[file],
  fileMode: () => 0o100600,
  existsDir: () => false,
});

describe('parameter table', () => {
  it('knows every libpq keyword; unknown keys are errors naming key and source', () => {
    expect(settingsError(() => resolveSettings(input({ dbname: 'sslmdoe=verify-full' })))).toBe('invalid connection option "sslmdoe" in flag -d');
    expect(settingsError(() => resolveSettings(input({}, { DATABASE_URL: 'host=h x=1' })))).toBe('invalid connection option "x" in DATABASE_URL');
    expect(
      settingsError(() =>
        resolveSettings(input({}, { PGSERVICE: 's' }, { '/home/u/.pg_service.conf': '[s]\nhost=h\nsslmdoe=require\n' })),
      ),
    ).toBe('invalid connection option "sslmdoe" in service file "/home/u/.pg_service.conf", line 3');
  });

  it.each([
    ['krbsrvname=postgres', 'krbsrvname (no Kerberos/GSSAPI support in Node.js)'],
    ['gssencmode=require', 'gssencmode (gssencmode=require: no Kerberos/GSSAPI support in Node.js)'],
    ['gsslib=gssapi', 'gsslib (no Kerberos/GSSAPI support in Node.js)'],
    ['gssdelegation=1', 'gssdelegation (no Kerberos/GSSAPI support in Node.js)'],
    ['keepalives_interval=5', 'keepalives_interval (keepalives_interval: Node.js sockets expose no way to set it)'],
    ['keepalives_count=5', 'keepalives_count (keepalives_count: Node.js sockets expose no way to set it)'],
    ['tcp_user_timeout=5', 'tcp_user_timeout (TCP_USER_TIMEOUT: Node.js sockets expose no way to set it)'],
    ['replication=database', 'replication (pgfactory is not a replication client)'],
    ['requirepeer=postgres', 'requirepeer (Node.js cannot read the peer credentials of a unix socket)'],
    ['sslcrldir=/d', 'sslcrldir (a CRL directory needs OpenSSL hashed-directory lookup; list the file in sslcrl instead)'],
    ['sslsni=0', 'sslsni (sslsni=0: node-postgres always sends the host name (SNI))'],
    ['sslcertmode=require', 'sslcertmode (sslcertmode=require: Node.js does not tell whether the server asked for a certificate)'],
    ['sslkeylogfile=/k', 'sslkeylogfile (TLS key logging is not implemented)'],
    ['client_encoding=LATIN1', 'client_encoding (node-postgres reads and writes UTF8 only; use UTF8 or auto)'],
    ['min_protocol_version=3.2', 'min_protocol_version (node-postgres speaks protocol 3.0 only)'],
    ['scram_client_key=x', 'scram_client_key (node-postgres cannot authenticate with SCRAM keys instead of a password)'],
    ['oauth_issuer=https://x', 'oauth_issuer (no OAuth support in node-postgres)'],
    ['oauth_client_id=x', 'oauth_client_id (no OAuth support in node-postgres)'],
  ])('refuses %s by name', (conninfo, message) => {
    expect(settingsError(() => resolveSettings(input({ dbname: conninfo })))).toBe(`pgfactory does not support ${message}, set in flag -d`);
  });

  it('refuses from the environment too, naming the variable', () => {
    expect(settingsError(() => resolveSettings(input({}, { PGGSSENCMODE: 'require' })))).toBe(
      'pgfactory does not support gssencmode (gssencmode=require: no Kerberos/GSSAPI support in Node.js), set in env PGGSSENCMODE',
    );
  });

  it('accepts what it honours, with sources', () => {
    const { values, sources } = resolveSettings(
      input(
        { dbname: "host=a,b port=5432,5433 target_session_attrs=read-write options='-c search_path=s' require_auth=!md5,!password" },
        { PGLOADBALANCEHOSTS: 'random', PGCHANNELBINDING: 'require', PGGSSENCMODE: 'disable' },
      ),
    );
    expect(values.hosts).toEqual([
      { host: 'a', hostaddr: undefined, port: 5432 },
      { host: 'b', hostaddr: undefined, port: 5433 },
    ]);
    expect(values.target_session_attrs).toBe('read-write');
    expect(values.load_balance_hosts).toBe('random');
    expect(values.channel_binding).toBe('require');
    expect(values.options).toBe('-c search_path=s');
    expect(values.require_auth).toEqual(['gss', 'sspi', 'scram-sha-256', 'oauth', 'none']);
    expect(sources.load_balance_hosts).toBe('env PGLOADBALANCEHOSTS');
    expect(sources.gssencmode).toBe('env PGGSSENCMODE');
  });

  it('every keyword without a refusal for its usual value is supported', () => {
    const supported = PARAMETER_NAMES.filter((name) => refusal(name, '') === undefined);
    expect(supported).toContain('hostaddr');
    expect(supported).toContain('target_session_attrs');
    expect(PARAMETER_NAMES.length).toBe(50);
  });

  it('checks values: target_session_attrs, require_auth mixes, channel_binding without TLS', () => {
    expect(settingsError(() => resolveSettings(input({ dbname: 'target_session_attrs=master' })))).toBe(
      'invalid target_session_attrs "master" from flag -d: expected one of any, read-write, read-only, primary, standby, prefer-standby',
    );
    expect(settingsError(() => resolveSettings(input({ dbname: 'require_auth=md5,!password' })))).toBe(
      'invalid require_auth value "md5,!password" from flag -d: negative and positive methods cannot be mixed',
    );
    expect(settingsError(() => resolveSettings(input({ dbname: 'channel_binding=require sslmode=disable' })))).toBe(
      'channel_binding=require (flag -d) needs TLS, but sslmode is disable (flag -d)',
    );
  });
});

describe('multi-host rules', () => {
  const lists = (host?: string, hostaddr?: string, port?: string) => ({
    host,
    hostaddr,
    port,
    hostSource: 'h',
    hostaddrSource: 'a',
    portSource: 'p',
  });
  it('pairs hosts, hostaddrs and ports as libpq', () => {
    expect(hostTargets(lists('a,,c', undefined, '1'), () => '/tmp', 5432)).toEqual([
      { host: 'a', hostaddr: undefined, port: 1 },
      { host: '/tmp', hostaddr: undefined, port: 1 },
      { host: 'c', hostaddr: undefined, port: 1 },
    ]);
    expect(hostTargets(lists(undefined, '10.0.0.1,10.0.0.2', '1,'), () => '/tmp', 5432)).toEqual([
      { host: '10.0.0.1', hostaddr: '10.0.0.1', port: 1 },
      { host: '10.0.0.2', hostaddr: '10.0.0.2', port: 5432 },
    ]);
    expect(hostTargets(lists('db', '10.0.0.1'), () => '/tmp', 5432)).toEqual([{ host: 'db', hostaddr: '10.0.0.1', port: 5432 }]);
    expect(() => hostTargets(lists('a,b', undefined, '1,2,3'), () => '/tmp', 5432)).toThrow('could not match 3 port numbers (p) to 2 hosts');
    expect(() => hostTargets(lists('a,b', '1.1.1.1'), () => '/tmp', 5432)).toThrow(
      'could not match 2 host names (h) to 1 hostaddr values (a)',
    );
  });

  it('matches .pgpass per host, and an explicit password applies to every host', () => {
    const pgpass = { '/home/u/.pgpass': 'a:5432:*:alice:pw-a\nb:5433:*:alice:pw-b\n' };
    const { values, sources } = resolveSettings(input({ dbname: 'host=a,b,c port=5432,5433,5434' }, {}, pgpass));
    expect(values.hosts.map((target) => target.password)).toEqual(['pw-a', 'pw-b', undefined]);
    expect(values.password).toBe('pw-a');
    expect(sources.password).toBe('pgpass /home/u/.pgpass:1');
    expect(JSON.stringify(values.hosts)).not.toContain('pw-');
    const explicit = resolveSettings(input({ dbname: 'host=a,b port=5432,5433' }, { PGPASSWORD: 'given' }, pgpass));
    expect(explicit.values.hosts.map((target) => target.password)).toEqual(['given', 'given']);
  });

  it('shuffles only for load_balance_hosts=random', () => {
    expect(hostOrder(3, 'disable')).toEqual([0, 1, 2]);
    expect(hostOrder(3, 'random', () => 0)).toEqual([1, 2, 0]);
  });

  it('target_session_attrs decides like libpq', () => {
    const primary = { inHotStandby: false, readOnly: false };
    const standby = { inHotStandby: true, readOnly: true };
    expect(targetMismatch('read-write', standby, false)).toBe('session is read-only');
    expect(targetMismatch('read-only', primary, false)).toBe('session is not read-only');
    expect(targetMismatch('primary', standby, false)).toBe('server is in hot standby mode');
    expect(targetMismatch('standby', primary, false)).toBe('server is not in hot standby mode');
    expect(targetMismatch('prefer-standby', primary, false)).toBe('server is not in hot standby mode');
    expect(targetMismatch('prefer-standby', primary, true)).toBeUndefined();
    expect(targetMismatch('any', standby, false)).toBeUndefined();
  });
});
