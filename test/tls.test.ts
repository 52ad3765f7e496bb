// TLS with libpq's sslmode semantics, against a server of our own with TLS on and certificates
// generated here: the whole matrix, what pg_stat_ssl says about the session, and the errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';
import { generateCerts, opensslAvailable, type TestCerts } from './support/certs.js';
import { installServerFile, startTestServer, type TestServer } from './support/server.js';
import { skipWithout } from './support/tools.js';

const SESSION = 'SELECT ssl, current_user FROM pg_stat_ssl WHERE pid = pg_backend_pid()';
const ENCRYPTED = 'ssl,current_user\nt,postgres\n';
const PLAIN = 'ssl,current_user\nf,postgres\n';

const SKIP_TLS = skipWithout('openssl', opensslAvailable(), 'openssl', 'the TLS tests (openssl generates their certificates)');

describe.skipIf(SKIP_TLS)('sslmode against a server with TLS on', () => {
  let server: TestServer;
  let certs: TestCerts;

  beforeAll(async () => {
    certs = generateCerts('certuser');
    server = await startTestServer({
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert },
      hbaFirst: [
        // certuser logs in with its client certificate only; tlsonly must come over TLS.
        'hostssl all certuser 127.0.0.1/32 cert',
        'hostnossl all tlsonly 127.0.0.1/32 reject',
      ],
    });
    await server.sql("CREATE ROLE certuser LOGIN; CREATE ROLE tlsonly LOGIN PASSWORD 'tlsonly-pw'");
  });
  afterAll(async () => {
    await server?.destroy();
  });

  /** `query` against the TLS server; the password travels in DATABASE_URL (the environment). */
  const session = (args: string[], env: Record<string, string | undefined> = {}) =>
    runCli(['query', '--format', 'csv', ...args, SESSION], { env: { DATABASE_URL: server.url, ...env } });
  const tlsonlyUrl = () => `postgres://tlsonly:tlsonly-pw@127.0.0.1:${server.port}/postgres`;
  const where = () => `cannot connect to host "127.0.0.1", port ${server.port}`;

  it('disable: the session is not encrypted', async () => {
    expect(await session(['--sslmode', 'disable'])).toEqual({ stdout: PLAIN, stderr: '', code: 0, signal: null });
  });

  it('allow: plain first, so not encrypted when the server accepts that', async () => {
    expect(await session(['--sslmode', 'allow'])).toEqual({ stdout: PLAIN, stderr: '', code: 0, signal: null });
  });

  it('allow: falls back to TLS when the server refuses a plain connection', async () => {
    const result = await session(['--sslmode', 'allow'], { DATABASE_URL: tlsonlyUrl() });
    expect(result).toEqual({ stdout: 'ssl,current_user\nt,tlsonly\n', stderr: '', code: 0, signal: null });
  });

  it('disable: a server that insists on TLS refuses the login, naming the server', async () => {
    const result = await session(['--sslmode', 'disable'], { DATABASE_URL: tlsonlyUrl() });
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`pgfactory: ${where()}: pg_hba.conf rejects connection for host "127.0.0.1", user "tlsonly", database "postgres", no encryption\n`);
    expect(result.code).toBe(2);
  });

  it('prefer is the default and encrypts when the server can', async () => {
    expect(await session([])).toEqual({ stdout: ENCRYPTED, stderr: '', code: 0, signal: null });
    expect(await session(['--sslmode', 'prefer'])).toEqual({ stdout: ENCRYPTED, stderr: '', code: 0, signal: null });
  });

  it('bench and the COPY export work over TLS (both read the TLS socket directly)', async () => {
    const env = { DATABASE_URL: server.url };
    const bench = await runCli(['bench', '--sslmode', 'require', '--mode', 'both', '-c', '2', '-t', '5', '--format', 'json', '--query', "SELECT repeat('x', 100000)"], { env });
    expect(bench.stderr).toBe('');
    const modes = JSON.parse(bench.stdout).modes;
    for (const mode of ['fresh', 'pooled']) expect(modes[mode]).toMatchObject({ ops: 10, errors: 0 });
    const query = 'SELECT g, repeat(\'y\', 50) AS pad FROM generate_series(1, 20000) g ORDER BY g';
    const csv = await runCli(['query', '--sslmode', 'require', '--format', 'csv', query], { env });
    expect(csv.stdout.split('\n').slice(0, 3)).toEqual(['g,pad', `1,${'y'.repeat(50)}`, `2,${'y'.repeat(50)}`]);
    expect(csv.stdout.length).toBe((await runCli(['query', '--sslmode', 'disable', '--format', 'csv', query], { env })).stdout.length);
    const ndjson = await runCli(['query', '--sslmode', 'require', '--format', 'ndjson', query], { env });
    const lines = ndjson.stdout.trimEnd().split('\n');
    expect(lines.length).toBe(20000);
    expect(JSON.parse(lines[19999])).toEqual({ g: 20000, pad: 'y'.repeat(50) });
  });

  it('require: encrypted, and no certificate check without a root certificate', async () => {
    // The server's CA is unknown to the client (no sslrootcert, no ~/.postgresql/root.crt).
    expect(await session(['--sslmode', 'require'])).toEqual({ stdout: ENCRYPTED, stderr: '', code: 0, signal: null });
    // Also when set through PGSSLMODE or the URI.
    expect(await session([], { PGSSLMODE: 'require' })).toEqual({ stdout: ENCRYPTED, stderr: '', code: 0, signal: null });
    expect(await session(['-d', `${server.url}?sslmode=require`])).toMatchObject({ stdout: ENCRYPTED, code: 0 });
  });

  it('require with a root certificate checks the chain, as libpq does', async () => {
    const result = await session(['--sslmode', 'require'], { PGSSLROOTCERT: certs.otherCaCert });
    expect(result.stderr).toBe(`pgfactory: ${where()}: server certificate not trusted: self-signed certificate in certificate chain (checked against sslrootcert "${certs.otherCaCert}", sslmode require)\n`);
    expect(result.code).toBe(2);
  });

  it('sslrootcert=system trusts what Node trusts, NODE_EXTRA_CA_CERTS included (the launcher passes it on)', async () => {
    const trusted = await session(['--sslmode', 'verify-ca'], { PGSSLROOTCERT: 'system', NODE_EXTRA_CA_CERTS: certs.caCert });
    expect(trusted).toEqual({ stdout: ENCRYPTED, stderr: '', code: 0, signal: null });
    const unknown = await session(['--sslmode', 'verify-ca'], { PGSSLROOTCERT: 'system', NODE_EXTRA_CA_CERTS: undefined });
    expect(unknown.stderr).toMatch(/^pgfactory: cannot connect to host "127\.0\.0\.1", port \d+: server certificate not trusted: /);
    expect(unknown.code).toBe(2);
  });

  it('verify-ca and verify-full accept the right CA; verify-full checks the IP and the name', async () => {
    expect(await session(['--sslmode', 'verify-ca'], { PGSSLROOTCERT: certs.caCert })).toEqual({ stdout: ENCRYPTED, stderr: '', code: 0, signal: null });
    expect(await session(['--sslmode', 'verify-full'], { PGSSLROOTCERT: certs.caCert })).toEqual({ stdout: ENCRYPTED, stderr: '', code: 0, signal: null });
    expect(await session(['--sslmode', 'verify-full', '-h', 'localhost'], { PGSSLROOTCERT: certs.caCert })).toEqual({ stdout: ENCRYPTED, stderr: '', code: 0, signal: null });
    // sslrootcert in the URI works like PGSSLROOTCERT
    const viaUri = await session(['-d', `${server.url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(certs.caCert)}`]);
    expect(viaUri).toMatchObject({ stdout: ENCRYPTED, code: 0 });
  });

  it('verify-full and verify-ca refuse a server certificate from an unknown CA', async () => {
    for (const mode of ['verify-full', 'verify-ca']) {
      const result = await session(['--sslmode', mode], { PGSSLROOTCERT: certs.otherCaCert });
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`pgfactory: ${where()}: server certificate not trusted: self-signed certificate in certificate chain (checked against sslrootcert "${certs.otherCaCert}", sslmode ${mode})\n`);
      expect(result.code).toBe(2);
    }
  });

  it('verify-ca without a root certificate is a settings error naming what to set', async () => {
    const result = await session(['--sslmode', 'verify-ca']);
    expect(result.stderr).toMatch(/^pgfactory: sslmode verify-ca needs a root certificate: set sslrootcert \(or PGSSLROOTCERT\), or create \/.*\/\.postgresql\/root\.crt\n$/);
    expect(result.code).toBe(1);
  });

  it('an unreadable sslrootcert is named', async () => {
    const result = await session(['--sslmode', 'verify-full'], { PGSSLROOTCERT: '/nonexistent/root.crt' });
    expect(result.stderr).toBe('pgfactory: cannot read sslrootcert "/nonexistent/root.crt": ENOENT\n');
    expect(result.code).toBe(1);
  });

  it('client certificates (sslcert/sslkey) log in with cert authentication', async () => {
    const base = `postgres://certuser@127.0.0.1:${server.port}/postgres`;
    const withCert = `${base}?sslcert=${encodeURIComponent(certs.clientCert)}&sslkey=${encodeURIComponent(certs.clientKey)}`;
    expect(await session(['-d', withCert])).toEqual({ stdout: 'ssl,current_user\nt,certuser\n', stderr: '', code: 0, signal: null });
    // PGSSLCERT/PGSSLKEY, with the chain verified as well
    const viaEnv = await session(['-U', 'certuser', '--sslmode', 'verify-full'], { PGSSLCERT: certs.clientCert, PGSSLKEY: certs.clientKey, PGSSLROOTCERT: certs.caCert });
    expect(viaEnv).toEqual({ stdout: 'ssl,current_user\nt,certuser\n', stderr: '', code: 0, signal: null });
    const without = await session(['-d', base]);
    expect(without.stderr).toBe(`pgfactory: ${where()}: connection requires a valid client certificate\n`);
    expect(without.code).toBe(2);
  });

  // Last in this block: it swaps the server's certificate for one issued to another name.
  it('host-name mismatch: verify-full refuses, verify-ca accepts', async () => {
    const data = `${server.dir}/data`;
    installServerFile(data, certs.mismatchCert, 'mismatch.crt');
    installServerFile(data, certs.mismatchKey, 'mismatch.key');
    await server.sql("ALTER SYSTEM SET ssl_cert_file = 'mismatch.crt'");
    await server.sql("ALTER SYSTEM SET ssl_key_file = 'mismatch.key'");
    await server.sql('SELECT pg_reload_conf()');
    // The reload is asynchronous: wait until a new session presents the other certificate.
    for (let attempt = 0; attempt < 50; attempt++) {
      const probe = await session(['--sslmode', 'verify-full'], { PGSSLROOTCERT: certs.caCert });
      if (probe.code !== 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const full = await session(['--sslmode', 'verify-full'], { PGSSLROOTCERT: certs.caCert });
    expect(full.stdout).toBe('');
    expect(full.stderr).toBe(`pgfactory: ${where()}: server certificate does not match host name "127.0.0.1" (sslmode verify-full; the certificate is for DNS:db.example)\n`);
    expect(full.code).toBe(2);
    expect(await session(['--sslmode', 'verify-ca'], { PGSSLROOTCERT: certs.caCert })).toEqual({ stdout: ENCRYPTED, stderr: '', code: 0, signal: null });
  });
});

describe('sslmode against a server without TLS (the shared test server)', () => {
  const session = (args: string[]) => runCli(['query', '--format', 'csv', ...args, SESSION]);

  it('require is a clear error naming the server and the sslmode', async () => {
    const result = await session(['--sslmode', 'require']);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^pgfactory: cannot connect to host "127\.0\.0\.1", port \d+: the server does not support TLS, and sslmode require requires it\n$/);
    expect(result.code).toBe(2);
  });

  it('prefer (the default) falls back to an unencrypted session; disable never tries', async () => {
    for (const args of [[], ['--sslmode', 'prefer'], ['--sslmode', 'disable'], ['--sslmode', 'allow']]) {
      const result = await session(args);
      expect(result).toEqual({ stdout: PLAIN, stderr: '', code: 0, signal: null });
    }
  });
});
