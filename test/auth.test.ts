// require_auth and channel_binding against real servers: a method the client does not allow is
// refused before any password goes out (checked on the wire by a proxy), and channel binding
// needs SCRAM-SHA-256-PLUS over TLS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';
import { generateCerts, opensslAvailable } from './support/certs.js';
import { startProxy, type Proxy } from './support/net.js';
import { startTestServer, type TestServer } from './support/server.js';

const hasOpenssl = opensslAvailable();
if (!hasOpenssl) console.warn('SKIPPED test/auth.test.ts: the openssl command is needed to generate test certificates (apt-get install openssl)');

describe.skipIf(!hasOpenssl)('require_auth and channel_binding', () => {
  let server: TestServer;
  let proxy: Proxy;

  beforeAll(async () => {
    const certs = generateCerts('unused');
    server = await startTestServer({
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert },
      hbaFirst: [
        'host all md5user 127.0.0.1/32 md5',
        'host all pwuser 127.0.0.1/32 password',
        'host all trustuser 127.0.0.1/32 trust',
      ],
    });
    // An md5 hash, so that the md5 line really asks for md5 (with a SCRAM verifier it would ask for SCRAM).
    await server.sql(
      "SET password_encryption = 'md5'; CREATE ROLE md5user LOGIN PASSWORD 'md5-pw'; " +
        "RESET password_encryption; CREATE ROLE pwuser LOGIN PASSWORD 'pw-pw'; CREATE ROLE trustuser LOGIN",
    );
    proxy = await startProxy(server.port, { recordClientMessages: true });
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await server?.destroy();
  });

  const run = (user: string, password: string, extra: string, port = proxy.port) =>
    runCli(['query', '--format', 'csv', '-d', `host=127.0.0.1 port=${port} user=${user} dbname=postgres ${extra}`, 'select current_user'], {
      noDatabaseUrl: true,
      env: { PGPASSWORD: password },
    });

  it.each([
    ['md5user', 'md5-pw', 'an md5 password'],
    ['pwuser', 'pw-pw', 'a cleartext password'],
    ['trustuser', '', 'no authentication (trust)'],
  ])('require_auth=scram-sha-256 refuses %s before any password is sent', async (user, password, asked) => {
    const before = proxy.clientMessageTypes().length;
    const result = await run(user, password, 'sslmode=disable require_auth=scram-sha-256');
    expect(result.stderr).toBe(
      `pgfactory: cannot connect to host "127.0.0.1", port ${proxy.port}: the server asked for ${asked}, which require_auth (scram-sha-256) does not allow; no password was sent\n`,
    );
    expect(result.code).toBe(2);
    // No PasswordMessage ('p') went out: at most a Terminate ('X').
    expect(proxy.clientMessageTypes().slice(before).filter((type) => type !== 'X')).toEqual([]);
  });

  it('the allowed methods still work, and a negated list refuses only what it names', async () => {
    expect(await run('md5user', 'md5-pw', 'sslmode=disable require_auth=md5,scram-sha-256')).toMatchObject({ stdout: 'current_user\nmd5user\n', code: 0 });
    expect(await run('trustuser', '', 'sslmode=disable require_auth=none')).toMatchObject({ stdout: 'current_user\ntrustuser\n', code: 0 });
    expect(await run(server.user, server.password, 'sslmode=disable require_auth=!password,!md5')).toMatchObject({ stdout: 'current_user\npostgres\n', code: 0 });
    const refused = await run('pwuser', 'pw-pw', 'sslmode=disable require_auth=!password');
    expect(refused.stderr).toContain('the server asked for a cleartext password, which require_auth (md5,gss,sspi,scram-sha-256,oauth,none) does not allow');
  });

  it('channel_binding=require works with SCRAM over TLS', async () => {
    const result = await run(server.user, server.password, 'sslmode=require channel_binding=require', server.port);
    expect(result).toMatchObject({ stdout: 'current_user\npostgres\n', stderr: '', code: 0 });
  });

  it('channel_binding=require fails against md5, cleartext, and a connection without TLS', async () => {
    const md5 = await run('md5user', 'md5-pw', 'sslmode=require channel_binding=require', server.port);
    expect(md5.stderr).toBe(
      `pgfactory: cannot connect to host "127.0.0.1", port ${server.port}: channel_binding=require, but the server asked for an md5 password (channel binding needs SCRAM-SHA-256-PLUS over TLS)\n`,
    );
    expect(md5.code).toBe(2);
    // The shared test server has no TLS.
    const noTls = await runCli(['query', '-d', 'sslmode=allow channel_binding=require', 'select 1'], {});
    expect(noTls.stderr).toMatch(/^pgfactory: cannot connect to host "127\.0\.0\.1", port \d+: channel_binding=require, but the server did not offer SCRAM-SHA-256-PLUS \(the connection is not encrypted\)\n$/);
    expect(noTls.code).toBe(2);
  });
});
