// Shared test helpers: the test server's URL, a direct pg client, and the CLI run as a user runs it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { loadSettings, type ConnectionSettings } from '../src/settings.js';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const BIN = path.join(ROOT, 'bin', 'pgfactory');

export function databaseUrl(): string {
  return inject('databaseUrl');
}

/** Runs SQL on the test server through a plain pg client (not through the code under test). */
export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Gives the test file its own schema: created fresh before its tests, dropped after them. */
export function useTestSchema(schema: string): void {
  beforeAll(async () => {
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  });
  afterAll(async () => {
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });
}

/** A clean scratch directory used as HOME and cwd, so no real ~/.pgpass or ./.env leaks in. */
export function scratchDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-cli-'));
  return dir;
}

/** Writes `text` to the file `name` in `dir` (a bench script, say); returns its path. */
export function writeFileIn(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

export interface CliResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  cwd?: string;
  /** Do not set DATABASE_URL to the test server. */
  noDatabaseUrl?: boolean;
  timeoutMs?: number;
}

/**
 * The environment a CLI test runs in: the machine's, minus its PG* variables and DATABASE_URL,
 * with HOME in `home`, no colours, DATABASE_URL pointing at the test server (unless
 * `noDatabaseUrl`), then `overrides` (undefined removes a variable).
 */
export function cliEnv(home: string, options: Pick<CliOptions, 'env' | 'noDatabaseUrl'> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('PG') && key !== 'DATABASE_URL') env[key] = value;
  }
  env.HOME = home;
  env.NO_COLOR = '1';
  if (options.noDatabaseUrl !== true) env.DATABASE_URL = databaseUrl();
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Spawns bin/pgfactory with a clean environment (no PG* variables of the machine). */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const home = options.cwd ?? scratchDir();
  const env = cliEnv(home, options);
  return new Promise((resolve, reject) => {
    // Run the launcher itself (its shebang passes `node --`), as a user's shell does.
    const child = spawn(BIN, args, { cwd: home, env, stdio: ['pipe', 'pipe', 'pipe'] });
    // Decoded once at the end: a chunk may end inside a multi-byte character.
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), code, signal });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Connection settings for the test server, resolved by the real settings module (no machine env). */
export function testSettings(env: Record<string, string> = {}): ConnectionSettings {
  const home = scratchDir();
  return loadSettings({}, { env: { HOME: home, DATABASE_URL: databaseUrl(), ...env }, cwd: home }).values;
}
