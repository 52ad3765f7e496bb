// The tools under comparison and untimed helpers for setting up data.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The absolute path of a program on PATH, or undefined. */
export function which(program) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, program);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function versionOf(program) {
  try {
    return execFileSync(program, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

/**
 * Runs setup SQL (a statement or a list) untimed: through psql when present (-X: no ~/.psqlrc), else through pgfactory.
 * Returns stdout (unaligned, tuples only, for psql).
 */
export function setupSql(ctx, statements) {
  // Separate statements, each in its own transaction (VACUUM cannot run inside one).
  const list = Array.isArray(statements) ? statements : [statements];
  const sql = list.join(';\n');
  const [command, args] = ctx.tools.psql !== undefined
    ? [ctx.tools.psql, ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', ...list.flatMap((statement) => ['-c', statement])]]
    : [ctx.pgfactory, ['query', '--format', 'tsv', sql]];
  // No NOTICEs ("does not exist, skipping") in the way of the error line that matters.
  const env = { ...ctx.env, PGOPTIONS: '-c client_min_messages=warning' };
  const result = spawnSync(command, args, { env, cwd: ctx.workDir, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.status !== 0) {
    const lines = (result.stderr ?? '').trim().split('\n');
    const error = lines.find((line) => /ERROR|pgfactory:/.test(line)) ?? lines[0];
    throw new Error(`setup SQL failed: ${error} (SQL: ${sql.replace(/\s+/g, ' ').trim().slice(0, 80)})`);
  }
  if (command === ctx.pgfactory) {
    // tsv output carries a header line; psql -At does not.
    return result.stdout.split('\n').slice(1).join('\n').trim();
  }
  return result.stdout.trim();
}

/** Setup SQL whose failure is not fatal (CHECKPOINT needs privileges a given URL may lack). */
export function trySetupSql(ctx, sql) {
  try {
    setupSql(ctx, sql);
    return true;
  } catch {
    return false;
  }
}

/** Writes a query's output to a file, untimed (import inputs). */
export function exportToFile(ctx, query, format, file) {
  const fd = fs.openSync(file, 'w');
  try {
    const useCsvPsql = format === 'csv' && ctx.tools.psql !== undefined;
    const [command, args] = useCsvPsql
      ? [ctx.tools.psql, ['-X', '-v', 'ON_ERROR_STOP=1', '-c', `COPY (${query}) TO STDOUT (FORMAT csv, HEADER)`]]
      : [ctx.pgfactory, ['query', '--format', format, query]];
    const result = spawnSync(command, args, { env: ctx.env, cwd: ctx.workDir, stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`writing ${path.basename(file)} failed: ${(result.stderr ?? '').trim().split('\n')[0]}`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether the built CLI has a command (other engineers may still be finishing one). */
export function hasCommand(ctx, name) {
  const result = spawnSync(ctx.pgfactory, [name, '--help'], { env: ctx.env, cwd: ctx.workDir, encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes(`pgfactory ${name}`);
}
