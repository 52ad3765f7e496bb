// Certificates for the TLS tests, made with the openssl CLI in a temp directory: a CA, a server
// certificate for localhost/127.0.0.1, one for another name, a second (unknown) CA, and a client
// certificate whose CN is the login role.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCerts {
  dir: string;
  caCert: string;
  /** A CA that signed nothing the server uses. */
  otherCaCert: string;
  /** SAN DNS:localhost, IP:127.0.0.1. */
  serverCert: string;
  serverKey: string;
  /** SAN DNS:db.example only: a host-name mismatch for 127.0.0.1/localhost. */
  mismatchCert: string;
  mismatchKey: string;
  clientCert: string;
  clientKey: string;
}

export function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
    '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function makeLeaf(dir: string, ca: string, name: string, cn: string, extensions: string): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  fs.writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
  fs.chmodSync(path.join(dir, `${name}.key`), 0o600);
}

export function generateCerts(clientCn: string): TestCerts {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-certs-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'ca', 'server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  makeLeaf(dir, 'ca', 'mismatch', 'db.example', 'subjectAltName=DNS:db.example\nextendedKeyUsage=serverAuth\n');
  makeLeaf(dir, 'ca', 'client', clientCn, 'extendedKeyUsage=clientAuth\n');
  const file = (name: string) => path.join(dir, name);
  return {
    dir,
    caCert: file('ca.crt'),
    otherCaCert: file('other-ca.crt'),
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
    mismatchCert: file('mismatch.crt'),
    mismatchKey: file('mismatch.key'),
    clientCert: file('client.crt'),
    clientKey: file('client.key'),
  };
}
