// Output into a pipe: a reader that stops early (`| head -1`) ends pgfactory quietly with status 0,
// in every format; and nothing is coloured when the output is not a terminal.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, databaseUrl, runCli, scratchDir } from './helpers.js';

/** Runs `script` in bash with the same clean environment as runCli (and colours allowed). */
function bash(script: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('PG') && key !== 'DATABASE_URL' && key !== 'NO_COLOR') env[key] = value;
  }
  const home = scratchDir();
  Object.assign(env, { HOME: home, DATABASE_URL: databaseUrl(), PGFACTORY: BIN, TERM: 'xterm-256color' });
  return new Promise((resolve) => {
    execFile('bash', ['--norc', '--noprofile', '-c', script], { cwd: home, env, timeout: 120_000, maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, code: error === null ? 0 : typeof error.code === 'number' ? error.code : null });
    });
  });
}

/** `pgfactory query <sql> <args> | head -1`, then the exit status of both sides of the pipe. */
const headOne = (sql: string, args: string) => bash(`"$PGFACTORY" query '${sql}' ${args} | head -1; echo "pipestatus \${PIPESTATUS[*]}"`);

describe('a reader that stops early', () => {
  it('csv: head -1 gets the header, pgfactory exits 0 with nothing on stderr', async () => {
    const result = await headOne('select generate_series(1,200000)', '--format csv');
    expect(result.stdout).toBe('generate_series\npipestatus 0 0\n');
    expect(result.stderr).toBe('');
  });

  it('tsv, ndjson and json the same', async () => {
    expect(await headOne('select generate_series(1,200000) as n', '--format tsv')).toEqual({ stdout: 'n\npipestatus 0 0\n', stderr: '', code: 0 });
    expect(await headOne('select generate_series(1,200000) as n', '--format ndjson')).toEqual({ stdout: '{"n":1}\npipestatus 0 0\n', stderr: '', code: 0 });
    expect(await headOne('select generate_series(1,200000) as n', '--format json')).toEqual({ stdout: '[\npipestatus 0 0\n', stderr: '', code: 0 });
  });

  it('table and expanded table', async () => {
    // A table is measured before it is printed; cli-table3's layout is quadratic in the row count,
    // so this stays at 20k rows (200k takes minutes to lay out, then ends the same way).
    const table = await headOne('select generate_series(1,20000) as n', '');
    expect(table).toEqual({ stdout: '┌───────┐\npipestatus 0 0\n', stderr: '', code: 0 });
    const expanded = await headOne('select generate_series(1,200000) as n', '-x');
    expect(expanded).toEqual({ stdout: '-[ RECORD 1 ]-\npipestatus 0 0\n', stderr: '', code: 0 });
  });

  it('a reader that reads nothing at all (closed before the first write)', async () => {
    const result = await bash(`"$PGFACTORY" query 'select generate_series(1,200000)' --format csv | true; echo "pipestatus \${PIPESTATUS[*]}"`);
    expect(result.stdout).toBe('pipestatus 0 0\n');
    expect(result.stderr).toBe('');
  });
});

describe('no colour unless on a terminal', () => {
  const ESC = '\u001b[';

  it('table headers and error labels are plain when stdout/stderr are pipes, even without NO_COLOR', async () => {
    const table = await runCli(['query', 'select 1 as one'], { env: { NO_COLOR: undefined, TERM: 'xterm-256color' } });
    expect(table.stdout).toBe('┌─────┐\n│ one │\n├─────┤\n│   1 │\n└─────┘\n(1 row)\n');
    const error = await runCli(['query', 'select nonsense_column'], { env: { NO_COLOR: undefined, TERM: 'xterm-256color' } });
    expect(error.code).toBe(3);
    expect(error.stderr.startsWith('pgfactory: ERROR:')).toBe(true);
    expect(error.stderr).not.toContain(ESC);
    const usage = await runCli(['query', '--format', 'xml', 'select 1'], { env: { NO_COLOR: undefined, TERM: 'xterm-256color' } });
    expect(usage.stderr).toBe("pgfactory: error: option '--format <format>' argument 'xml' is invalid. Allowed choices are table, csv, tsv, json, ndjson.\n");
  });
});
