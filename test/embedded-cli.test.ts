import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { destroyEmbedded } from '../src/embedded.js';
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
    expect(create.stdout).toBe('CREATE TABLE\n\nINSERT 0 1\n');
    expect(create.code).toBe(0);

    const status = await runCli(['embedded', 'status'], { env, noDatabaseUrl: true });
    expect(status.stdout).toBe(`status: stopped\ndata:   ${env.PGFACTORY_EMBEDDED_DIR}\n`);

    const read = await runCli(['query', '--embedded', '--format', 'csv', 'SELECT a FROM kept'], { env, noDatabaseUrl: true });
    expect(read.stdout).toBe('a\npersisted\n');
  });

  it('start leaves it running, status prints a URI, stop stops it', async () => {
    const start = await runCli(['embedded', 'start'], { env, noDatabaseUrl: true });
    expect(start.code).toBe(0);
    expect(start.stdout).toMatch(/^started: postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres\n$/);

    const uri = (await runCli(['embedded', 'status', '--uri'], { env, noDatabaseUrl: true })).stdout.trim();
    expect(start.stdout).toBe(`started: ${uri}\n`);
    // The URI works for any client: here through -d, without --embedded.
    const viaUri = await runCli(['query', '--format', 'csv', 'SELECT count(*) AS n FROM kept'], { noDatabaseUrl: true, env: { DATABASE_URL: uri } });
    expect(viaUri.stdout).toBe('n\n1\n');
    // --embedded uses the running server and leaves it running.
    await runCli(['query', '--embedded', 'SELECT 1'], { env, noDatabaseUrl: true });
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
});
