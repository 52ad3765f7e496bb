import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseUrl, runCli, scratchDir } from './helpers.js';

describe('pgfactory config', () => {
  it('prints every setting with its source and redacts the password', async () => {
    const dir = scratchDir();
    fs.writeFileSync(path.join(dir, '.env'), 'PGPORT=6543\nPGPASSWORD=dotenv-secret-123\nPGHOST=from-dotenv\n');
    const result = await runCli(['config', '--format', 'json', '-U', 'alice'], {
      cwd: dir,
      noDatabaseUrl: true,
      env: { PGHOST: 'db.example', PGAPPNAME: 'myapp' },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('dotenv-secret-123');
    expect(JSON.parse(result.stdout)).toEqual({
      host: { value: 'db.example', source: 'env PGHOST' },
      port: { value: '6543', source: '.env PGPORT' },
      user: { value: 'alice', source: 'flag --user' },
      password: { value: '********', source: '.env PGPASSWORD' },
      dbname: { value: 'alice', source: 'default' },
      sslmode: { value: 'prefer', source: 'default' },
      sslrootcert: { value: '', source: 'default' },
      sslcert: { value: '', source: 'default' },
      sslkey: { value: '', source: 'default' },
      application_name: { value: 'myapp', source: 'env PGAPPNAME' },
      connect_timeout: { value: '10', source: 'default' },
    });
  });

  it('prints a table with a source column', async () => {
    const result = await runCli(['config', '-d', 'postgres://bob@h1:5433/app'], { noDatabaseUrl: true, env: { PGUSER: 'ignored' } });
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[1]).toMatch(/^│ setting +│ value +│ source +│$/);
    expect(result.stdout).toMatch(/│ host +│ h1 +│ flag -d +│/);
    expect(result.stdout).toMatch(/│ port +│ 5433 +│ flag -d +│/);
    expect(result.stdout).toMatch(/│ user +│ bob +│ flag -d +│/);
    expect(result.stdout).not.toContain('rows)');
  });

  it('DATABASE_URL beats PG* variables, flags beat DATABASE_URL', async () => {
    const result = await runCli(['config', '--format', 'json', '-p', '7000'], {
      noDatabaseUrl: true,
      env: { DATABASE_URL: 'postgres://carol:pw-in-url@h2:6000/db2', PGHOST: 'h3', PGDATABASE: 'db3' },
    });
    const parsed = JSON.parse(result.stdout);
    expect(parsed.host).toEqual({ value: 'h2', source: 'DATABASE_URL' });
    expect(parsed.dbname).toEqual({ value: 'db2', source: 'DATABASE_URL' });
    expect(parsed.port).toEqual({ value: '7000', source: 'flag --port' });
    expect(parsed.password).toEqual({ value: '********', source: 'DATABASE_URL' });
    expect(result.stdout + result.stderr).not.toContain('pw-in-url');
  });

  it('a missing --env-file is a one-line error', async () => {
    const result = await runCli(['config', '--env-file', 'nope.env'], { noDatabaseUrl: true });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('pgfactory: env file "nope.env" not found\n');
  });

  it('an unknown sslmode in the environment names its source', async () => {
    const result = await runCli(['config'], { noDatabaseUrl: true, env: { PGSSLMODE: 'sometimes' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('pgfactory: invalid sslmode "sometimes" from env PGSSLMODE: expected one of disable, allow, prefer, require, verify-ca, verify-full\n');
  });

  it('a malformed DATABASE_URL is a clear error', async () => {
    const result = await runCli(['config'], { noDatabaseUrl: true, env: { DATABASE_URL: 'postgres://u:pw@[bad/db' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'pgfactory: invalid connection URI in DATABASE_URL: end of string reached when looking for matching "]" in IPv6 host address in URI: "postgres://u:********@[bad/db"\n',
    );
  });
});

describe('passwords from files', () => {
  const url = () => new URL(databaseUrl());

  it('a .pgpass entry supplies the password when none is given', async () => {
    const dir = scratchDir();
    const { hostname, port, password } = url();
    fs.writeFileSync(path.join(dir, '.pgpass'), `# comment\nother:1:*:*:wrong\n${hostname}:${port}:*:postgres:${decodeURIComponent(password)}\n`, { mode: 0o600 });
    const result = await runCli(['query', '--format', 'csv', 'SELECT current_user AS u'], {
      cwd: dir,
      noDatabaseUrl: true,
      env: { PGHOST: hostname, PGPORT: port, PGUSER: 'postgres', PGDATABASE: 'postgres' },
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('u\npostgres\n');
    const config = await runCli(['config', '--format', 'json'], { cwd: dir, noDatabaseUrl: true, env: { PGHOST: hostname, PGPORT: port, PGUSER: 'postgres' } });
    expect(JSON.parse(config.stdout).password).toEqual({ value: '********', source: `pgpass ${path.join(dir, '.pgpass')}:3` });
  });

  it('a .pgpass readable by others is ignored with a warning', async () => {
    const dir = scratchDir();
    const { hostname, port, password } = url();
    fs.writeFileSync(path.join(dir, '.pgpass'), `*:*:*:*:${decodeURIComponent(password)}\n`);
    fs.chmodSync(path.join(dir, '.pgpass'), 0o644);
    const result = await runCli(['query', 'SELECT 1'], { cwd: dir, noDatabaseUrl: true, env: { PGHOST: hostname, PGPORT: port, PGUSER: 'postgres' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe([
      `WARNING: password file "${path.join(dir, '.pgpass')}" has group or world access; permissions should be u=rw (0600) or less`,
      `pgfactory: cannot connect to host "${hostname}", port ${port}: the server asks for a password and none was given: set PGPASSWORD, put it in .env or ~/.pgpass, or use -W`,
      '',
    ].join('\n'));
  });

  it('.env supplies PGPASSWORD only when the environment does not', async () => {
    const dir = scratchDir();
    const { hostname, port, password } = url();
    fs.writeFileSync(path.join(dir, '.env'), `PGPASSWORD=${decodeURIComponent(password)}\nPGUSER=postgres\n`);
    const ok = await runCli(['query', '--format', 'csv', 'SELECT 1 AS one'], { cwd: dir, noDatabaseUrl: true, env: { PGHOST: hostname, PGPORT: port } });
    expect(ok.stdout).toBe('one\n1\n');
    const overridden = await runCli(['query', 'SELECT 1'], { cwd: dir, noDatabaseUrl: true, env: { PGHOST: hostname, PGPORT: port, PGPASSWORD: 'env-wins' } });
    expect(overridden.code).toBe(2);
  });
});
